import { describe, expect, it } from 'vitest';
import { CancelCode, ExecInstr, GatewayStatus, Liquidity, OrderStatus, OrderType, RejectCode, RequestType, Side, TimeInForce } from '../../src/api/index.js';
import { MdStatus, MdType } from '../../src/data/events.js';
import { ConstantLatencyModel, MakerTakerFeeModel } from '../../src/sim/index.js';
import { ASK, BID, ENTRY_US, EQ, PERP, RESP_US, T0, World } from './harness.js';

const { Buy, Sell } = Side;

describe('SimVenue: resting orders and queue position', () => {
  it('fills a resting bid only after the queue ahead traded, in partial fills', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.settle();
    expect(w.trail('b1')).toEqual(['onNewOrderAck']);
    w.level(BID, 10000, 15); // 5 lots join behind us: the queue ahead stays 10
    w.exec(BID, 10000, 6);
    w.exec(BID, 10000, 4);
    w.settle();
    expect(w.fills('b1')).toEqual([]);
    w.exec(BID, 10000, 3);
    w.settle();
    expect(w.fills('b1')).toEqual([['100', '3', '2']]);
    w.exec(BID, 10000, 2);
    w.settle();
    expect(w.fills('b1')).toEqual([
      ['100', '3', '2'],
      ['100', '2', '0'],
    ]);
    expect(w.of('onOrderExecution', 'b1').every((g) => g.ev.liquidity === Liquidity.Maker && g.ev.side === Buy)).toBe(true);
    expect(w.openOrders()).toEqual([]);
  });

  it('moves the queue up when the level shrinks below it, but not for cancels behind', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.settle();
    w.level(BID, 10000, 20); // ahead 10, 10 behind
    w.level(BID, 10000, 12); // 8 cancelled: assumed behind us, ahead stays 10
    w.exec(BID, 10000, 9);
    w.settle();
    expect(w.fills('b1')).toEqual([]); // 1 still ahead, level now 3
    w.level(BID, 10000, 0); // everyone left: nobody can be ahead of us any more
    w.trade(ASK, 10000, 2); // a sell aggressor prints 2 at our price
    w.settle();
    expect(w.fills('b1')).toEqual([['100', '2', '3']]); // 1 if the queue had not shrunk
  });

  it('fills a resting order whole when a trade prints through its price', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.send({ clientId: 'a1', side: Sell, tick: 10001, lots: 4 });
    w.settle();
    w.exec(BID, 9999, 1); // bids at 9999 executed: our 10000 level must have been swept
    w.trade(BID, 10001.5, 1); // a hidden print between ticks above our ask
    w.settle();
    expect(w.fills('b1')).toEqual([['100', '5', '0']]);
    expect(w.fills('a1')).toEqual([['100.01', '4', '0']]);
  });

  it('fills a resting bid whole at its own price when the best ask crosses it', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.settle();
    w.level(ASK, 10001, 0);
    w.settle();
    expect(w.fills('b1')).toEqual([]);
    w.level(ASK, 9999, 2);
    w.settle();
    expect(w.fills('b1')).toEqual([['100', '5', '0']]);
    expect(w.last('onOrderExecution').liquidity).toBe(Liquidity.Maker);
  });

  it('lets trade volume fill own orders at one level only once, in time priority', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 2 });
    w.send({ clientId: 'b2', side: Buy, tick: 10000, lots: 2 });
    w.settle();
    w.exec(BID, 10000, 10);
    w.trade(ASK, 10000, 3);
    w.settle();
    expect(w.fills('b1')).toEqual([['100', '2', '0']]);
    expect(w.fills('b2')).toEqual([['100', '1', '1']]);
  });

  it('keeps queues frozen while a snapshot rebuilds the book, then applies the min rule', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.settle();
    w.status(MdStatus.SnapshotStart);
    w.md(MdType.Clear, 0, 0, 0);
    w.level(BID, 10000, 2); // partial rebuild: must not pull our queue down to 2
    w.level(BID, 10000, 8);
    w.level(ASK, 10001, 3);
    w.status(MdStatus.SnapshotEnd);
    w.exec(BID, 10000, 8);
    w.settle();
    expect(w.fills('b1')).toEqual([]);
    w.trade(ASK, 10000, 1);
    w.settle();
    expect(w.fills('b1')).toEqual([['100', '1', '4']]);
  });
});

describe('SimVenue: taking liquidity', () => {
  it('walks several levels with an aggressive limit and rests the remainder', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10002, lots: 10 });
    w.settle();
    expect(w.trail('b1')).toEqual(['onNewOrderAck', 'onOrderExecution', 'onOrderExecution']);
    expect(w.fills('b1')).toEqual([
      ['100.01', '3', '7'],
      ['100.02', '4', '3'],
    ]);
    const ex = w.of('onOrderExecution', 'b1').map((g) => g.ev);
    expect(ex.every((e) => e.liquidity === Liquidity.Taker)).toBe(true);
    const filled = ex.reduce((s, e) => s + e.fillQty.toNumber(), 0);
    const avg = ex.reduce((s, e) => s + e.price.toNumber() * e.fillQty.toNumber(), 0) / filled;
    expect(avg).toBeCloseTo(700.11 / 7, 9);
    expect(w.openOrders()).toEqual([['b1', '100.02', '3']]);

    // The replayed book still shows the asks we took; they must not fill us again.
    w.level(BID, 9999, 11);
    w.settle();
    expect(w.of('onOrderExecution', 'b1')).toHaveLength(2);
    // Fresh asks at our price would have traded with us.
    w.level(ASK, 10002, 6);
    w.settle();
    expect(w.fills('b1')[2]).toEqual(['100.02', '3', '0']);
    expect(w.last('onOrderExecution').liquidity).toBe(Liquidity.Maker);
  });

  it('fills a market order across levels; cancels the rest, or all of it when the side is empty', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'm1', side: Buy, orderType: OrderType.Market, lots: 5 });
    w.settle();
    expect(w.trail('m1')).toEqual(['onNewOrderAck', 'onOrderExecution', 'onOrderExecution']);
    expect(w.fills('m1')).toEqual([
      ['100.01', '3', '2'],
      ['100.02', '2', '0'],
    ]);
    w.send({ clientId: 'm2', side: Buy, orderType: OrderType.Market, lots: 20 });
    w.settle();
    expect(w.fills('m2')).toEqual([
      ['100.02', '2', '18'],
      ['100.03', '5', '13'],
    ]);
    const c = w.last('onOrderCancelled');
    expect([c.clientId, c.cancelCode, c.unsolicited]).toEqual(['m2', CancelCode.IocRemainder, true]);

    w.level(ASK, 10001, 0);
    w.level(ASK, 10002, 0);
    w.level(ASK, 10003, 0);
    w.send({ clientId: 'm3', side: Buy, orderType: OrderType.Market, lots: 1 });
    w.settle();
    expect(w.trail('m3')).toEqual(['onNewOrderAck', 'onOrderCancelled']);
    expect(w.last('onOrderCancelled').cancelCode).toBe(CancelCode.NoLiquidity);
  });

  it('cancels the unfilled rest of an IOC order', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'i1', side: Buy, tick: 10001, lots: 5, tif: TimeInForce.IOC });
    w.settle();
    expect(w.trail('i1')).toEqual(['onNewOrderAck', 'onOrderExecution', 'onOrderCancelled']);
    expect(w.fills('i1')).toEqual([['100.01', '3', '2']]);
    expect(w.last('onOrderCancelled')).toMatchObject({ cancelCode: CancelCode.IocRemainder, unsolicited: true });
    expect(w.openOrders()).toEqual([]);
  });

  it('fills a FOK order whole or not at all', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'f1', side: Buy, tick: 10002, lots: 8, tif: TimeInForce.FOK });
    w.settle();
    expect(w.trail('f1')).toEqual(['onNewOrderAck', 'onOrderCancelled']);
    expect(w.last('onOrderCancelled')).toMatchObject({ cancelCode: CancelCode.FokNotFilled, unsolicited: true });
    // The failed FOK consumed nothing: all 7 lots within the limit are still there.
    w.send({ clientId: 'f2', side: Buy, tick: 10002, lots: 7, tif: TimeInForce.FOK });
    w.settle();
    expect(w.trail('f2')).toEqual(['onNewOrderAck', 'onOrderExecution', 'onOrderExecution']);
    expect(w.fills('f2')).toEqual([
      ['100.01', '3', '4'],
      ['100.02', '4', '0'],
    ]);
  });

  it('never takes the same lots twice; own takes fade as the market shrinks the level', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'i1', side: Buy, tick: 10001, lots: 2, tif: TimeInForce.IOC });
    w.send({ clientId: 'i2', side: Buy, tick: 10001, lots: 2, tif: TimeInForce.IOC });
    w.settle();
    expect(w.fills('i1')).toEqual([['100.01', '2', '0']]);
    expect(w.fills('i2')).toEqual([['100.01', '1', '1']]); // 3 visible, 2 already ours
    w.level(ASK, 10001, 2); // someone took 1: our 3 consumed lots are down to 2 of 2
    w.send({ clientId: 'i3', side: Buy, tick: 10001, lots: 1, tif: TimeInForce.IOC });
    w.settle();
    expect(w.fills('i3')).toEqual([]);
    w.level(ASK, 10001, 5); // 3 fresh lots
    w.send({ clientId: 'i4', side: Buy, tick: 10001, lots: 5, tif: TimeInForce.IOC });
    w.settle();
    expect(w.fills('i4')).toEqual([['100.01', '3', '2']]);
    w.level(ASK, 10001, 0); // level gone: the record goes with it
    w.level(ASK, 10001, 2);
    w.send({ clientId: 'i5', side: Buy, tick: 10001, lots: 2, tif: TimeInForce.IOC });
    w.settle();
    expect(w.fills('i5')).toEqual([['100.01', '2', '0']]);
  });
});

describe('SimVenue: order checks', () => {
  it('rejects a PostOnly order that would take, and rests one that would not', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'p1', side: Buy, tick: 10001, lots: 1, execInstr: [ExecInstr.PostOnly] });
    w.send({ clientId: 'p2', side: Sell, tick: 10000, lots: 1, execInstr: [ExecInstr.PostOnly] });
    w.send({ clientId: 'p3', side: Buy, tick: 10000, lots: 1, execInstr: [ExecInstr.PostOnly] });
    w.settle();
    expect(w.trail('p1')).toEqual(['onNewOrderReject']);
    expect(w.of('onNewOrderReject', 'p1')[0]!.ev.rejectCode).toBe(RejectCode.PostOnlyWouldTake);
    expect(w.of('onNewOrderReject', 'p2')[0]!.ev.rejectCode).toBe(RejectCode.PostOnlyWouldTake);
    expect(w.trail('p3')).toEqual(['onNewOrderAck']);
    expect(w.openOrders()).toEqual([['p3', '100', '1']]);
  });

  it('accepts ReduceOnly only when it reduces the position', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'r1', side: Sell, tick: 10005, lots: 1, execInstr: [ExecInstr.ReduceOnly] });
    w.settle();
    expect(w.of('onNewOrderReject', 'r1')[0]!.ev.rejectCode).toBe(RejectCode.ReduceOnlyWouldIncrease);
    w.send({ clientId: 'm1', side: Buy, orderType: OrderType.Market, lots: 5 });
    w.settle();
    w.send({ clientId: 'r2', side: Sell, tick: 10005, lots: 6, execInstr: [ExecInstr.ReduceOnly] });
    w.send({ clientId: 'r3', side: Buy, tick: 9990, lots: 1, execInstr: [ExecInstr.ReduceOnly] });
    w.send({ clientId: 'r4', side: Sell, tick: 10005, lots: 3, execInstr: [ExecInstr.ReduceOnly] });
    w.settle();
    expect(w.of('onNewOrderReject', 'r2')[0]!.ev.rejectCode).toBe(RejectCode.ReduceOnlyWouldIncrease);
    expect(w.of('onNewOrderReject', 'r3')[0]!.ev.rejectCode).toBe(RejectCode.ReduceOnlyWouldIncrease);
    expect(w.trail('r4')).toEqual(['onNewOrderAck']);
  });

  it('refuses buys beyond the cash and sells beyond holdings when so configured', () => {
    const w = new World({ initialBalances: { USD: '1000' }, checkCash: true, allowShort: false });
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 10 }); // exactly 1000.00
    w.send({ clientId: 'b2', side: Buy, tick: 9000, lots: 1 }); // nothing left
    w.send({ clientId: 's1', side: Sell, tick: 10010, lots: 1 }); // holds no ABC
    w.settle();
    expect(w.trail('b1')).toEqual(['onNewOrderAck']);
    expect(w.of('onNewOrderReject', 'b2')[0]!.ev.rejectCode).toBe(RejectCode.InsufficientBalance);
    expect(w.of('onNewOrderReject', 's1')[0]!.ev.rejectCode).toBe(RejectCode.InsufficientBalance);
    w.cancel('b1');
    w.settle();
    // A market buy is checked at what its walk would cost: 3 × 100.01 + 4 × 100.02 = 700.11.
    w.send({ clientId: 'm1', side: Buy, orderType: OrderType.Market, lots: 7 });
    w.send({ clientId: 'm2', side: Buy, orderType: OrderType.Market, lots: 3 }); // 3 × 100.03 > 299.89
    w.settle();
    expect(w.fills('m1')).toHaveLength(2);
    expect(w.of('onNewOrderReject', 'm2')[0]!.ev.rejectCode).toBe(RejectCode.InsufficientBalance);
  });

  it('refuses new orders and modifies that arrive during a trading halt', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b0', side: Buy, tick: 9990, lots: 1 });
    w.settle();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 1 });
    w.modify('b0', 9991, 1);
    w.halt(); // both still in flight
    w.settle();
    expect(w.of('onNewOrderReject', 'b1')[0]!.ev.rejectCode).toBe(RejectCode.GtwNotReady);
    expect(w.of('onModifyOrderReject', 'b0')[0]!.ev.rejectCode).toBe(RejectCode.GtwNotReady);
    w.cancel('b0'); // cancels still work
    w.settle();
    expect(w.last('onOrderCancelled').clientId).toBe('b0');
  });
});

describe('SimVenue: modify', () => {
  it('keeps queue priority on a qty decrease', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.settle();
    w.level(BID, 10000, 20);
    w.modify('b1', 10000, 3);
    w.settle();
    expect(w.last('onModifyOrderAck')).toMatchObject({ clientId: 'b1' });
    expect(w.last('onModifyOrderAck').newQty.toString()).toBe('3');
    expect(w.last('onModifyOrderAck').leavesQty.toString()).toBe('3');
    w.exec(BID, 10000, 11); // 10 ahead, then us
    w.settle();
    expect(w.fills('b1')).toEqual([['100', '1', '2']]);
  });

  it('loses queue priority on a qty increase', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.settle();
    w.level(BID, 10000, 20);
    w.modify('b1', 10000, 8);
    w.settle();
    expect(w.last('onModifyOrderAck').leavesQty.toString()).toBe('8');
    w.exec(BID, 10000, 11); // now 20 ahead
    w.settle();
    expect(w.fills('b1')).toEqual([]);
    w.exec(BID, 10000, 10);
    w.settle();
    expect(w.fills('b1')).toEqual([['100', '1', '7']]);
  });

  it('joins the back of the new level on a price change', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.settle();
    w.exec(BID, 10000, 8); // 2 ahead at 10000
    w.modify('b1', 9999, 5);
    w.settle();
    expect(w.last('onModifyOrderAck').newPrice.toString()).toBe('99.99');
    w.exec(BID, 9999, 5);
    w.settle();
    expect(w.fills('b1')).toEqual([]); // 10 ahead at 9999
    w.exec(BID, 9999, 6);
    w.settle();
    expect(w.fills('b1')).toEqual([['99.99', '1', '4']]);
  });

  it('takes liquidity when the new price crosses, then rests the rest', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.settle();
    w.modify('b1', 10001, 5);
    w.settle();
    expect(w.trail('b1')).toEqual(['onNewOrderAck', 'onModifyOrderAck', 'onOrderExecution']);
    expect(w.fills('b1')).toEqual([['100.01', '3', '2']]);
    expect(w.last('onOrderExecution').liquidity).toBe(Liquidity.Taker);
    expect(w.openOrders()).toEqual([['b1', '100.01', '2']]);
  });

  it('rejects modifies of unknown or closed orders and of qty not above the filled qty', () => {
    const w = new World();
    w.seed();
    w.modify('nope', 10000, 1);
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.send({ clientId: 'b2', side: Buy, tick: 9990, lots: 1 });
    w.settle();
    w.exec(BID, 10000, 12); // 2 of ours filled
    w.cancel('b2');
    w.settle();
    w.modify('b1', 10000, 2);
    w.modify('b2', 9990, 2);
    w.settle();
    expect(w.of('onModifyOrderReject', 'nope')[0]!.ev.rejectCode).toBe(RejectCode.VenueUnknownOrder);
    expect(w.of('onModifyOrderReject', 'b1')[0]!.ev.rejectCode).toBe(RejectCode.InvalidQty);
    expect(w.of('onModifyOrderReject', 'b2')[0]!.ev.rejectCode).toBe(RejectCode.VenueOrderClosed);
    w.modify('b1', 10000, 4); // 2 filled + 2 working
    w.settle();
    expect(w.last('onModifyOrderAck').leavesQty.toString()).toBe('2');
  });
});

describe('SimVenue: cancel', () => {
  it('acks a cancel then reports the order cancelled; rejects unknown and closed orders', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
    w.settle();
    w.cancel('b1');
    w.settle();
    expect(w.trail('b1')).toEqual(['onNewOrderAck', 'onCancelOrderAck', 'onOrderCancelled']);
    expect(w.last('onOrderCancelled')).toMatchObject({ cancelCode: CancelCode.Requested, unsolicited: false });
    w.cancel('b1');
    w.cancel('zzz');
    w.settle();
    expect(w.of('onCancelOrderReject', 'b1')[0]!.ev.rejectCode).toBe(RejectCode.VenueOrderClosed);
    expect(w.of('onCancelOrderReject', 'zzz')[0]!.ev.rejectCode).toBe(RejectCode.VenueUnknownOrder);
    // A cancelled order no longer fills.
    w.exec(BID, 10000, 10);
    w.trade(ASK, 10000, 10);
    w.settle();
    expect(w.fills('b1')).toEqual([]);
  });

  it('cancel-all cancels only the strategy’s open orders of that instrument', () => {
    const w = new World();
    w.seed();
    w.seed(PERP);
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 1 });
    w.send({ clientId: 'b2', side: Sell, tick: 10005, lots: 1 });
    w.send({ clientId: 'b3', side: Buy, tick: 10000, lots: 1, inst: PERP });
    w.send({ clientId: 'c1', side: Buy, tick: 10000, lots: 1, strategy: 's2' });
    w.settle();
    w.cancelAll(EQ);
    w.settle();
    expect(w.last('onCancelAllAck')).toEqual({ exchange: 'SIM', instrumentId: EQ.instrumentId });
    const cancelled = w.of('onOrderCancelled').map((g) => [g.strategy, g.ev.clientId, g.ev.cancelCode, g.ev.unsolicited]);
    expect(cancelled).toEqual([
      ['s1', 'b1', CancelCode.CancelAll, false],
      ['s1', 'b2', CancelCode.CancelAll, false],
    ]);
    expect(w.openOrders().map((o) => o[0])).toEqual(['b3']);
    expect(w.openOrders('s2').map((o) => o[0])).toEqual(['c1']);
  });

  it('endSession cancels every open order as SessionEnd', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 1 });
    w.send({ clientId: 'c1', side: Sell, tick: 10005, lots: 1, strategy: 's2' });
    w.settle();
    w.venue.endSession();
    w.settle();
    const cancelled = w.of('onOrderCancelled').map((g) => [g.strategy, g.ev.clientId, g.ev.cancelCode, g.ev.unsolicited]);
    expect(cancelled).toEqual([
      ['s1', 'b1', CancelCode.SessionEnd, true],
      ['s2', 'c1', CancelCode.SessionEnd, true],
    ]);
    expect(w.openOrders()).toEqual([]);
  });
});

describe('SimVenue: fetch', () => {
  it('answers account, wallet, position, funding, order status and orders queries', () => {
    const w = new World({ initialBalances: { USD: '10000' }, userId: 'u-42' });
    w.seed();
    w.seed(PERP);
    w.send({ clientId: 'm1', side: Buy, orderType: OrderType.Market, lots: 5 }); // 300.03 + 200.04
    w.send({ clientId: 'b1', side: Buy, tick: 9990, lots: 2 }); // holds 199.80 USD
    w.send({ clientId: 'a1', side: Sell, tick: 10010, lots: 1 }); // holds 1 ABC
    w.settle();

    w.fetch(RequestType.AccountInfo);
    w.fetch(RequestType.WalletInfo, { coin: 'USD' });
    w.fetch(RequestType.WalletInfo, { coin: 'ABC' });
    w.fetch(RequestType.PositionInfo, { instrumentId: EQ.instrumentId });
    w.fetch(RequestType.FundingInfo, { instrumentId: EQ.instrumentId });
    w.fetch(RequestType.FundingInfo, { instrumentId: PERP.instrumentId });
    w.fetch(RequestType.OrderStatus, { instrumentId: EQ.instrumentId, clientId: 'b1' });
    w.fetch(RequestType.OrderStatus, { instrumentId: EQ.instrumentId, clientId: 'm1' });
    w.fetch(RequestType.OrderStatus, { instrumentId: EQ.instrumentId, clientId: 'zzz' });
    w.fetch(RequestType.OrdersInfo, { instrumentId: PERP.instrumentId });
    w.settle();

    expect(w.last('onAccountInfo')).toEqual({ exchange: 'SIM', userId: 'u-42' });
    const wallets = w.of('onWalletInfo').map((g) => [g.ev.coin, g.ev.totalBalance.toString(), g.ev.availableBalance.toString()]);
    expect(wallets).toEqual([
      ['USD', '9499.93', '9300.13'],
      ['ABC', '5', '4'],
    ]);
    expect(w.last('onPositionInfo').position.toString()).toBe('5');
    expect(w.last('onUnsupportedOp')).toEqual({ exchange: 'SIM', unsupportedMsgType: RequestType.FundingInfo });
    const funding = w.last('onFundingInfo');
    expect(funding.fundingRate).toBe('0');
    expect(funding.nextFundingTs).toBeGreaterThan(T0);
    expect(funding.nextFundingTs % (8 * 3600 * 1e6)).toBe(0);
    const st = w.of('onOrderStatus').map((g) => [g.ev.clientOrdId, g.ev.status, g.ev.price.toString(), g.ev.leavesQty.toString(), g.ev.exchOrdId]);
    expect(st).toEqual([
      ['b1', OrderStatus.Open, '99.9', '2', 'SIM-2'],
      ['m1', OrderStatus.Filled, '0', '0', 'SIM-1'],
    ]);
    expect(w.last('onRequestReject')).toMatchObject({ rejectCode: RejectCode.VenueUnknownOrder, rejectedRqstType: RequestType.OrderStatus });
    expect(w.last('onOrdersInfo').orders).toEqual([]);
    expect(w.openOrders().map((o) => o[0])).toEqual(['b1', 'a1']);
  });

  it('reports the requesting strategy as userId by default, and answers only it', () => {
    const w = new World();
    w.fetch(RequestType.AccountInfo, {}, 'alpha');
    w.settle();
    expect(w.got).toEqual([{ t: T0 + ENTRY_US + RESP_US, strategy: 'alpha', cb: 'onAccountInfo', ev: { exchange: 'SIM', userId: 'alpha' } }]);
  });
});

describe('SimVenue: fees', () => {
  it('charges taker fees and pays maker rebates from the quote balance', () => {
    const w = new World({ initialBalances: { USD: '10000' }, fees: new MakerTakerFeeModel({ makerRate: -0.0001, takerRate: 0.0003 }) });
    w.seed();
    w.send({ clientId: 't1', side: Buy, tick: 10001, lots: 3, tif: TimeInForce.IOC }); // 300.03
    w.send({ clientId: 'a1', side: Sell, tick: 10005, lots: 2 }); // 200.10
    w.settle();
    w.exec(ASK, 10006, 1); // sweeps through our ask
    w.settle();
    expect(w.of('onOrderExecution', 't1')[0]!.ev.fee.toString()).toBe('0.090009');
    expect(w.of('onOrderExecution', 'a1')[0]!.ev.fee.toString()).toBe('-0.02001');
    w.fetch(RequestType.WalletInfo, { coin: 'USD' });
    w.settle();
    // 10000 − 300.03 − 0.090009 + 200.10 + 0.02001
    expect(w.last('onWalletInfo').totalBalance.toString()).toBe('9900.000001');
  });
});

describe('SimVenue: latency', () => {
  it('delivers acks, fills and cancels at entry + response latency, seeing the book at arrival', () => {
    const w = new World({ latency: new ConstantLatencyModel({ entryUs: 1000, responseUs: 250 }) });
    w.seed();
    w.send({ clientId: 'i1', side: Buy, tick: 10002, lots: 5, tif: TimeInForce.IOC });
    w.wait(500);
    w.level(ASK, 10001, 0); // gone before our order arrives at T0 + 1000
    w.wait(749);
    expect(w.got).toEqual([]);
    w.wait(1);
    expect(w.trail('i1')).toEqual(['onNewOrderAck', 'onOrderExecution', 'onOrderCancelled']);
    expect(w.got.every((g) => g.t === T0 + 1250)).toBe(true);
    const ex = w.last('onOrderExecution');
    expect([ex.price.toString(), ex.fillQty.toString(), ex.execTs, ex.recvTs]).toEqual(['100.02', '4', T0 + 1000, T0 + 1250]);
    expect(w.last('onOrderCancelled')).toMatchObject({ engineTs: T0 + 1000, recvTs: T0 + 1250 });

    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 1 });
    w.wait(5000);
    const m = w.now();
    w.trade(ASK, 10000, 11); // through the 10 ahead of us
    w.wait(249);
    expect(w.fills('b1')).toEqual([]);
    w.wait(1);
    const fill = w.of('onOrderExecution', 'b1')[0]!;
    expect([fill.t, fill.ev.execTs, fill.ev.recvTs]).toEqual([m + 250, m, m + 250]);

    w.send({ clientId: 'b2', side: Buy, tick: 9990, lots: 1 });
    w.wait(5000);
    const c = w.now();
    w.cancel('b2');
    w.wait(5000);
    const ack = w.of('onCancelOrderAck', 'b2')[0]!;
    const done = w.of('onOrderCancelled', 'b2')[0]!;
    expect([ack.t, done.t, done.ev.engineTs, done.ev.recvTs]).toEqual([c + 1250, c + 1250, c + 1000, c + 1250]);
  });
});

describe('SimVenue: trading status', () => {
  it('goes to Maintenance on a halt (Quoting included), matches nothing, and back on resume', () => {
    const w = new World();
    w.seed();
    w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 1 });
    w.settle();
    expect(w.venue.status()).toBe(GatewayStatus.ReadyToTrade);
    w.halt();
    expect(w.venue.status()).toBe(GatewayStatus.Maintenance);
    w.status(MdStatus.Quoting);
    expect(w.venue.status()).toBe(GatewayStatus.Maintenance);
    w.level(ASK, 9998, 5); // a crossed book while quoting: no matching during the halt
    w.settle();
    expect(w.fills('b1')).toEqual([]);
    w.status(MdStatus.Resumed);
    expect(w.venue.status()).toBe(GatewayStatus.ReadyToTrade);
    w.settle();
    const st = w.of('onGatewayStatus').map((g) => [g.strategy, g.ev.status, g.ev.detail]);
    expect(st).toEqual([
      ['*', GatewayStatus.Maintenance, 'trading halt'],
      ['*', GatewayStatus.ReadyToTrade, 'trading resumed'],
    ]);
    expect(w.fills('b1')).toEqual([['100', '1', '0']]); // the book still crosses us after the resume
  });
});

describe('SimVenue: determinism', () => {
  it('produces the same events for the same inputs', () => {
    const run = (): string => {
      const w = new World({ fees: new MakerTakerFeeModel() });
      w.seed();
      w.send({ clientId: 'b1', side: Buy, tick: 10000, lots: 5 });
      w.send({ clientId: 'b2', side: Buy, tick: 10002, lots: 9 });
      w.send({ clientId: 's1', side: Sell, tick: 10004, lots: 3 });
      w.settle();
      w.exec(BID, 10000, 12);
      w.trade(BID, 10004, 4);
      w.modify('b1', 9999, 2);
      w.settle();
      w.venue.endSession();
      w.settle();
      return JSON.stringify(w.got);
    };
    const a = run();
    expect(a).toBe(run());
    expect(JSON.parse(a).length).toBeGreaterThan(8);
  });
});
