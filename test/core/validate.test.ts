import { describe, expect, it } from 'vitest';
import {
  ExecInstr,
  GatewayStatus,
  Liquidity,
  OrderType,
  Price,
  Qty,
  RejectCode,
  RequestType,
  Side,
  TimeInForce,
  makeInstrument,
} from '../../src/api/index.js';
import type { Instrument, NewOrderRequest } from '../../src/api/index.js';
import { OrderTracker } from '../../src/core/order-tracker.js';
import { validateCancel, validateCancelAll, validateFetch, validateModify, validateNewOrder } from '../../src/core/validate.js';
import type { ValidationContext, ValidationResult } from '../../src/core/validate.js';

const AMZN = makeInstrument({ instrumentId: 1, exchange: 'SIM', name: 'nasdaq:equity:amzn', tickSize: '0.01', lotSize: '1', baseCurrency: 'AMZN', quoteCurrency: 'USD' });
const BTC = makeInstrument({ instrumentId: 2, exchange: 'SIM', name: 'byt:perp:btc-usdt', tickSize: '0.5', lotSize: '0.001', minQty: '0.01', baseCurrency: 'BTC', quoteCurrency: 'USDT' });

interface World {
  ctx: ValidationContext;
  tracker: OrderTracker;
  gw: Map<string, GatewayStatus>;
  pos: Map<number, Qty>;
  set(over: { strategy?: string | undefined; running?: boolean }): void;
}

function world(): World {
  const tracker = new OrderTracker();
  const gw = new Map<string, GatewayStatus>([
    ['SIM', GatewayStatus.ReadyToTrade],
    ['BYBIT', GatewayStatus.Maintenance],
  ]);
  const pos = new Map<number, Qty>();
  const instruments: Instrument[] = [AMZN, BTC];
  const state = { strategy: 'strat' as string | undefined, running: true };
  const ctx: ValidationContext = {
    get strategy() {
      return state.strategy;
    },
    get running() {
      return state.running;
    },
    gatewayStatus: (ex) => gw.get(ex),
    instrument: (ex, id) => instruments.find((i) => i.exchange === ex && i.instrumentId === id),
    tracker,
    position: (_ex, id) => pos.get(id) ?? Qty.ZERO,
  };
  return { ctx, tracker, gw, pos, set: (o) => Object.assign(state, o) };
}

const base = (over: Partial<Record<keyof NewOrderRequest, unknown>> = {}): NewOrderRequest =>
  ({ clientId: 'c1', exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100.01', qty: '5', ...over }) as NewOrderRequest;

function expectReject<T>(r: ValidationResult<T>, code: RejectCode, ...inReason: string[]): void {
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.code).toBe(code);
  for (const s of inReason) expect(r.reason).toContain(s);
}

function ok<T>(r: ValidationResult<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.code}: ${r.reason}`);
  return r.request;
}

/** Sends and tracks an order the way the env does; returns its id. */
function place(w: World, over: Partial<Record<keyof NewOrderRequest, unknown>> = {}, acked = true): string {
  const req = ok(validateNewOrder(base(over), w.ctx));
  expect(w.tracker.submit(req, 0, 'SIM').ok).toBe(true);
  if (acked) {
    const a = w.tracker.onAck({ exchange: 'SIM', clientId: req.clientId, exchangeId: 'X', instrumentId: req.instrumentId, side: req.side, price: req.price, qty: req.qty, leavesQty: req.qty, orderType: req.orderType, tif: req.tif, execInstr: req.execInstr });
    expect(a.ok).toBe(true);
  }
  return req.clientId;
}

describe('validateNewOrder', () => {
  it('returns the venue request with ticks, lots and defaults', () => {
    const w = world();
    const r = ok(validateNewOrder(base(), w.ctx));
    expect(r).toMatchObject({ type: 'NewOrder', strategy: 'strat', clientId: 'c1', instrumentId: 1, side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [], priceTick: 10001, qtyLots: 5 });
    expect(r.price.toString()).toBe('100.01');
    expect(r.qty.toString()).toBe('5');
    const b = ok(validateNewOrder(base({ instrumentId: 2, price: Price.of('9226.5'), qty: 0.015, execInstr: ExecInstr.PostOnly }), w.ctx));
    expect(b).toMatchObject({ priceTick: 18453, qtyLots: 15, execInstr: [ExecInstr.PostOnly] });
    expect(ok(validateNewOrder(base({ price: 100.01 }), w.ctx)).priceTick).toBe(10001);
    expect(ok(validateNewOrder(base({ execInstr: [ExecInstr.ReduceOnly, ExecInstr.ReduceOnly] }), w.ctx)).execInstr).toEqual([ExecInstr.ReduceOnly]);
  });

  it('ignores the price of a market order', () => {
    const w = world();
    const r = ok(validateNewOrder(base({ ordType: OrderType.Market, price: 'junk', timeInForce: TimeInForce.IOC }), w.ctx));
    expect(r.price.isZero()).toBe(true);
    expect(r.priceTick).toBeNaN();
    expect(ok(validateNewOrder(base({ clientId: 'm2', ordType: OrderType.Market, price: undefined }), w.ctx)).orderType).toBe(OrderType.Market);
  });

  it('NotLoggedIn (1001) before login', () => {
    const w = world();
    w.set({ strategy: undefined });
    expectReject(validateNewOrder(base(), w.ctx), RejectCode.NotLoggedIn, 'login');
  });

  it('StrategyNotRunning (1002) outside onStart..onStop', () => {
    const w = world();
    w.set({ running: false });
    expectReject(validateNewOrder(base(), w.ctx), RejectCode.StrategyNotRunning, 'not running');
  });

  it('UnknownExchange (1003)', () => {
    const w = world();
    expectReject(validateNewOrder(base({ exchange: 'NYSE' }), w.ctx), RejectCode.UnknownExchange, "'NYSE'");
    expectReject(validateNewOrder(null as never, w.ctx), RejectCode.UnknownExchange);
  });

  it('GtwNotReady (1000) when the gateway is not ReadyToTrade', () => {
    const w = world();
    expectReject(validateNewOrder(base({ exchange: 'BYBIT' }), w.ctx), RejectCode.GtwNotReady, 'BYBIT', 'Maintenance');
    expect(RejectCode.GtwNotReady).toBe(1000);
  });

  it('UnknownInstrument (1010)', () => {
    const w = world();
    expectReject(validateNewOrder(base({ instrumentId: 42 }), w.ctx), RejectCode.UnknownInstrument, '42', 'SIM');
    expectReject(validateNewOrder(base({ instrumentId: '1' }), w.ctx), RejectCode.UnknownInstrument, "'1'");
  });

  it('InvalidField (1016) for values outside the enums', () => {
    const w = world();
    expectReject(validateNewOrder(base({ side: 'Long' }), w.ctx), RejectCode.InvalidField, "side 'Long'");
    expectReject(validateNewOrder(base({ ordType: 'Stop' }), w.ctx), RejectCode.InvalidField, "ordType 'Stop'");
    expectReject(validateNewOrder(base({ timeInForce: 'GTD' }), w.ctx), RejectCode.InvalidField, "timeInForce 'GTD'");
    expectReject(validateNewOrder(base({ execInstr: ['PostOnly', 'Iceberg'] }), w.ctx), RejectCode.InvalidField, "execInstr 'Iceberg'");
    expectReject(validateNewOrder(base({ closePosition: 'yes' }), w.ctx), RejectCode.InvalidField, "closePosition 'yes'");
  });

  it('InvalidField (1016) for a malformed client id', () => {
    const w = world();
    expectReject(validateNewOrder(base({ clientId: '' }), w.ctx), RejectCode.InvalidField, "clientId ''");
    expectReject(validateNewOrder(base({ clientId: 'x'.repeat(65) }), w.ctx), RejectCode.InvalidField, 'x'.repeat(65));
    expectReject(validateNewOrder(base({ clientId: 'has space' }), w.ctx), RejectCode.InvalidField, "'has space'");
    expectReject(validateNewOrder(base({ clientId: 'tab\t' }), w.ctx), RejectCode.InvalidField, 'clientId');
    expectReject(validateNewOrder(base({ clientId: 17 }), w.ctx), RejectCode.InvalidField, 'clientId 17');
    expectReject(validateNewOrder(base({ clientId: undefined }), w.ctx), RejectCode.InvalidField, 'clientId is missing');
    expect(ok(validateNewOrder(base({ clientId: 'y'.repeat(64) }), w.ctx)).clientId).toHaveLength(64);
  });

  it('DuplicateClientId (1022)', () => {
    const w = world();
    place(w, { clientId: 'dup' });
    expectReject(validateNewOrder(base({ clientId: 'dup' }), w.ctx), RejectCode.DuplicateClientId, "'dup'");
  });

  it('InvalidPrice (1014)', () => {
    const w = world();
    expectReject(validateNewOrder(base({ price: undefined }), w.ctx), RejectCode.InvalidPrice, 'needs a price', 'nasdaq:equity:amzn');
    expectReject(validateNewOrder(base({ price: 'abc' }), w.ctx), RejectCode.InvalidPrice, "price 'abc'");
    expectReject(validateNewOrder(base({ price: '0x10' }), w.ctx), RejectCode.InvalidPrice, "'0x10'");
    expectReject(validateNewOrder(base({ price: Number.NaN }), w.ctx), RejectCode.InvalidPrice, 'NaN');
    expectReject(validateNewOrder(base({ price: Number.POSITIVE_INFINITY }), w.ctx), RejectCode.InvalidPrice, 'Infinity');
    expectReject(validateNewOrder(base({ price: '-1' }), w.ctx), RejectCode.InvalidPrice, 'price -1 is not positive');
    expectReject(validateNewOrder(base({ price: 0 }), w.ctx), RejectCode.InvalidPrice, 'price 0 is not positive');
    expectReject(validateNewOrder(base({ price: '1e300' }), w.ctx), RejectCode.InvalidPrice, 'too large');
  });

  it('PriceOffTick (1011)', () => {
    const w = world();
    expectReject(validateNewOrder(base({ price: '100.005' }), w.ctx), RejectCode.PriceOffTick, 'price 100.005 is not on the tick grid 0.01 of nasdaq:equity:amzn');
    expectReject(validateNewOrder(base({ instrumentId: 2, qty: '0.01', price: 9226.7 }), w.ctx), RejectCode.PriceOffTick, '9226.7', '0.5', 'byt:perp:btc-usdt');
  });

  it('InvalidQty (1015)', () => {
    const w = world();
    expectReject(validateNewOrder(base({ qty: undefined }), w.ctx), RejectCode.InvalidQty, 'qty is missing');
    expectReject(validateNewOrder(base({ qty: 'five' }), w.ctx), RejectCode.InvalidQty, "qty 'five'");
    expectReject(validateNewOrder(base({ qty: 0 }), w.ctx), RejectCode.InvalidQty, 'qty 0 is not positive');
    expectReject(validateNewOrder(base({ qty: '-3' }), w.ctx), RejectCode.InvalidQty, 'qty -3 is not positive');
    expectReject(validateNewOrder(base({ qty: Number.NaN }), w.ctx), RejectCode.InvalidQty, 'NaN');
  });

  it('QtyBelowMin (1012) and QtyOffLot (1013)', () => {
    const w = world();
    expectReject(validateNewOrder(base({ instrumentId: 2, price: '100', qty: '0.005' }), w.ctx), RejectCode.QtyBelowMin, 'qty 0.005 is below the minimum qty 0.01 of byt:perp:btc-usdt');
    expectReject(validateNewOrder(base({ instrumentId: 2, price: '100', qty: '0.0105' }), w.ctx), RejectCode.QtyOffLot, 'qty 0.0105 is not a multiple of the lot size 0.001 of byt:perp:btc-usdt');
    expectReject(validateNewOrder(base({ qty: '1.5' }), w.ctx), RejectCode.QtyOffLot, '1.5', 'nasdaq:equity:amzn');
  });

  it('InvalidCombination (1017) for PostOnly with Market, IOC or FOK', () => {
    const w = world();
    expectReject(validateNewOrder(base({ ordType: OrderType.Market, execInstr: ExecInstr.PostOnly }), w.ctx), RejectCode.InvalidCombination, 'PostOnly', 'Market');
    expectReject(validateNewOrder(base({ timeInForce: TimeInForce.IOC, execInstr: [ExecInstr.PostOnly] }), w.ctx), RejectCode.InvalidCombination, 'PostOnly', 'IOC');
    expectReject(validateNewOrder(base({ timeInForce: TimeInForce.FOK, execInstr: [ExecInstr.PostOnly] }), w.ctx), RejectCode.InvalidCombination, 'FOK');
  });

  it('closePosition takes the whole position as ReduceOnly on the reducing side', () => {
    const w = world();
    w.pos.set(1, Qty.of('-7'));
    const r = ok(validateNewOrder(base({ closePosition: true, qty: '999' }), w.ctx));
    expect(r.qty.toString()).toBe('7');
    expect(r.qtyLots).toBe(7);
    expect(r.side).toBe(Side.Buy);
    expect(r.execInstr).toEqual([ExecInstr.ReduceOnly]);
    expectReject(validateNewOrder(base({ clientId: 'c2', closePosition: true, side: Side.Sell }), w.ctx), RejectCode.InvalidCombination, 'Sell', 'short position -7', 'nasdaq:equity:amzn');
  });

  it('closePosition when flat is InvalidQty: no position to close', () => {
    const w = world();
    expectReject(validateNewOrder(base({ closePosition: true }), w.ctx), RejectCode.InvalidQty, 'no position to close', 'nasdaq:equity:amzn');
  });

  it('checks in the documented order: login before running before exchange before gateway before instrument before fields', () => {
    const w = world();
    const worst = base({ exchange: 'BYBIT', instrumentId: 99, side: 'X', price: 'bad', qty: 'bad' });
    w.set({ strategy: undefined, running: false });
    expectReject(validateNewOrder(worst, w.ctx), RejectCode.NotLoggedIn);
    w.set({ strategy: 's' });
    expectReject(validateNewOrder(worst, w.ctx), RejectCode.StrategyNotRunning);
    w.set({ running: true });
    expectReject(validateNewOrder(worst, w.ctx), RejectCode.GtwNotReady);
    w.gw.set('BYBIT', GatewayStatus.ReadyToTrade);
    expectReject(validateNewOrder(worst, w.ctx), RejectCode.UnknownInstrument);
    expectReject(validateNewOrder(base({ side: 'X', price: 'bad', qty: 'bad' }), w.ctx), RejectCode.InvalidField);
    expectReject(validateNewOrder(base({ price: 'bad', qty: 'bad' }), w.ctx), RejectCode.InvalidPrice);
  });
});

describe('validateModify', () => {
  it('returns both values, changed or kept, with ticks and lots', () => {
    const w = world();
    const id = place(w);
    const r = ok(validateModify('SIM', id, '100.02', undefined, w.ctx));
    expect(r).toMatchObject({ type: 'ModifyOrder', strategy: 'strat', clientId: id, instrumentId: 1, newPriceTick: 10002, newQtyLots: 5 });
    expect(r.newPrice.toString()).toBe('100.02');
    expect(r.newQty.toString()).toBe('5');
    const q = ok(validateModify('SIM', id, undefined, 8, w.ctx));
    expect(q.newPrice.toString()).toBe('100.01');
    expect(q.newQtyLots).toBe(8);
  });

  it('UnknownOrder (1020), also for an order of another exchange', () => {
    const w = world();
    expectReject(validateModify('SIM', 'ghost', '1', undefined, w.ctx), RejectCode.UnknownOrder, "'ghost'");
    const id = place(w);
    w.gw.set('BYBIT', GatewayStatus.ReadyToTrade);
    expectReject(validateModify('BYBIT', id, '1', undefined, w.ctx), RejectCode.UnknownOrder, 'SIM', 'BYBIT');
  });

  it('OrderClosed (1021)', () => {
    const w = world();
    const id = place(w);
    w.tracker.onCancelled({ exchange: 'SIM', clientId: id, unsolicited: true, engineTs: 0, recvTs: 0, cancelCode: 3004, cancelReason: 'end' });
    expectReject(validateModify('SIM', id, '100.02', undefined, w.ctx), RejectCode.OrderClosed, `'${id}'`, 'Cancelled');
  });

  it('OrderPendingCancel (1023)', () => {
    const w = world();
    const id = place(w);
    w.tracker.onCancelRequest(id);
    expectReject(validateModify('SIM', id, '100.02', undefined, w.ctx), RejectCode.OrderPendingCancel, `'${id}'`);
  });

  it('OrderPendingModify (1025) while a modify is in flight, OrderPendingNew (1026) before the ack', () => {
    const w = world();
    const id = place(w);
    w.tracker.onModifyRequest(id, Price.of('100.02'), Qty.of('5'));
    expectReject(validateModify('SIM', id, '100.03', undefined, w.ctx), RejectCode.OrderPendingModify, `'${id}'`, '100.02');
    const id2 = place(w, { clientId: 'c2' }, false);
    expectReject(validateModify('SIM', id2, '100.03', undefined, w.ctx), RejectCode.OrderPendingNew, "'c2'", 'not yet acknowledged');
  });

  it('NothingToModify (1024) when nothing is given or nothing changes', () => {
    const w = world();
    const id = place(w);
    expectReject(validateModify('SIM', id, undefined, undefined, w.ctx), RejectCode.NothingToModify, 'neither');
    expectReject(validateModify('SIM', id, '100.010', 5, w.ctx), RejectCode.NothingToModify, 'price 100.01', 'qty 5');
    expectReject(validateModify('SIM', id, Price.of('100.01'), undefined, w.ctx), RejectCode.NothingToModify, 'changes nothing');
  });

  it('checks new values like a new order: InvalidPrice, PriceOffTick, InvalidQty, QtyBelowMin, QtyOffLot', () => {
    const w = world();
    const id = place(w);
    expectReject(validateModify('SIM', id, 'x', undefined, w.ctx), RejectCode.InvalidPrice, "new price 'x'");
    expectReject(validateModify('SIM', id, '-2', undefined, w.ctx), RejectCode.InvalidPrice, 'new price -2');
    expectReject(validateModify('SIM', id, '100.015', undefined, w.ctx), RejectCode.PriceOffTick, 'new price 100.015 is not on the tick grid 0.01 of nasdaq:equity:amzn');
    expectReject(validateModify('SIM', id, undefined, '0', w.ctx), RejectCode.InvalidQty, 'new qty 0');
    expectReject(validateModify('SIM', id, undefined, 'lots', w.ctx), RejectCode.InvalidQty, "new qty 'lots'");
    expectReject(validateModify('SIM', id, undefined, '2.5', w.ctx), RejectCode.QtyOffLot, 'new qty 2.5');
    const b = place(w, { clientId: 'b', instrumentId: 2, price: '100', qty: '0.02' });
    expectReject(validateModify('SIM', b, undefined, '0.001', w.ctx), RejectCode.QtyBelowMin, 'new qty 0.001', '0.01');
  });

  it('InvalidQty (1015) when the new qty is not above the filled qty', () => {
    const w = world();
    const id = place(w);
    const r = w.tracker.onExecution({ exchange: 'SIM', clientId: id, side: Side.Buy, price: Price.of('100.01'), fillQty: Qty.of('3'), leavesQty: Qty.of('2'), execTs: 0, recvTs: 0, instrumentId: 1, fee: Price.ZERO, liquidity: Liquidity.Maker });
    expect(r.ok).toBe(true);
    expectReject(validateModify('SIM', id, undefined, '3', w.ctx), RejectCode.InvalidQty, 'new qty 3 is not above the filled qty 3');
    expect(ok(validateModify('SIM', id, undefined, '4', w.ctx)).newQtyLots).toBe(4);
  });

  it('InvalidCombination (1017) for a market order', () => {
    const w = world();
    const id = place(w, { ordType: OrderType.Market, timeInForce: TimeInForce.IOC });
    expectReject(validateModify('SIM', id, '100', undefined, w.ctx), RejectCode.InvalidCombination, 'Market');
  });

  it('starts with the session checks', () => {
    const w = world();
    const id = place(w);
    expectReject(validateModify('NYSE', id, '100.02', undefined, w.ctx), RejectCode.UnknownExchange, "'NYSE'");
    w.gw.set('SIM', GatewayStatus.Connecting);
    expectReject(validateModify('SIM', id, '100.02', undefined, w.ctx), RejectCode.GtwNotReady, 'Connecting');
    w.set({ running: false });
    expectReject(validateModify('SIM', id, '100.02', undefined, w.ctx), RejectCode.StrategyNotRunning);
  });
});

describe('validateCancel', () => {
  it('accepts an open order, also before its ack', () => {
    const w = world();
    const id = place(w);
    expect(ok(validateCancel('SIM', 1, id, w.ctx))).toEqual({ type: 'CancelOrder', strategy: 'strat', clientId: id, instrumentId: 1 });
    const pending = place(w, { clientId: 'p' }, false);
    expect(validateCancel('SIM', 1, pending, w.ctx).ok).toBe(true);
  });

  it('UnknownOrder (1020) for an unknown order or another instrument', () => {
    const w = world();
    expectReject(validateCancel('SIM', 1, 'ghost', w.ctx), RejectCode.UnknownOrder, "'ghost'");
    const id = place(w);
    expectReject(validateCancel('SIM', 2, id, w.ctx), RejectCode.UnknownOrder, 'instrument 1', 'nasdaq:equity:amzn', 'not 2');
  });

  it('OrderClosed (1021) and OrderPendingCancel (1023)', () => {
    const w = world();
    const id = place(w);
    w.tracker.onCancelRequest(id);
    expectReject(validateCancel('SIM', 1, id, w.ctx), RejectCode.OrderPendingCancel, `'${id}'`);
    w.tracker.onCancelAck({ exchange: 'SIM', clientId: id });
    w.tracker.onCancelled({ exchange: 'SIM', clientId: id, unsolicited: false, engineTs: 0, recvTs: 0, cancelCode: 3000, cancelReason: 'requested' });
    expectReject(validateCancel('SIM', 1, id, w.ctx), RejectCode.OrderClosed, 'Cancelled');
    const r = place(w, { clientId: 'r' }, false);
    w.tracker.onReject({ exchange: 'SIM', clientId: r, rejectCode: RejectCode.PostOnlyWouldTake, rejectReason: '' });
    expectReject(validateCancel('SIM', 1, r, w.ctx), RejectCode.OrderClosed, 'Rejected');
  });

  it('NotLoggedIn (1001) before login', () => {
    const w = world();
    w.set({ strategy: undefined });
    expectReject(validateCancel('SIM', 1, 'x', w.ctx), RejectCode.NotLoggedIn);
  });
});

describe('validateCancelAll and validateFetch', () => {
  it('cancel-all checks login, running, exchange and instrument only', () => {
    const w = world();
    expect(ok(validateCancelAll('SIM', 2, w.ctx))).toEqual({ type: 'CancelAll', strategy: 'strat', instrumentId: 2 });
    w.gw.set('SIM', GatewayStatus.Maintenance);
    expect(validateCancelAll('SIM', 2, w.ctx).ok).toBe(true);
    expectReject(validateCancelAll('SIM', 9, w.ctx), RejectCode.UnknownInstrument, '9');
    expectReject(validateCancelAll('NYSE', 1, w.ctx), RejectCode.UnknownExchange, "'NYSE'");
    w.set({ running: false });
    expectReject(validateCancelAll('SIM', 1, w.ctx), RejectCode.StrategyNotRunning);
    w.set({ strategy: undefined });
    expectReject(validateCancelAll('SIM', 1, w.ctx), RejectCode.NotLoggedIn);
  });

  it('fetches carry what they ask about', () => {
    const w = world();
    expect(ok(validateFetch(RequestType.AccountInfo, 'SIM', {}, w.ctx))).toEqual({ type: 'Fetch', strategy: 'strat', what: RequestType.AccountInfo });
    expect(ok(validateFetch(RequestType.WalletInfo, 'SIM', { coin: 'USD' }, w.ctx)).coin).toBe('USD');
    expect(ok(validateFetch(RequestType.PositionInfo, 'SIM', { instrumentId: 1 }, w.ctx)).instrumentId).toBe(1);
    expect(ok(validateFetch(RequestType.OrdersInfo, 'SIM', {}, w.ctx)).instrumentId).toBeUndefined();
    const id = place(w);
    expect(ok(validateFetch(RequestType.OrderStatus, 'SIM', { instrumentId: 1, clientId: id }, w.ctx)).clientId).toBe(id);
    w.gw.set('BYBIT', GatewayStatus.Connecting);
    expect(validateFetch(RequestType.AccountInfo, 'BYBIT', {}, w.ctx).ok).toBe(true);
  });

  it('fetch refusals name the offending value', () => {
    const w = world();
    expectReject(validateFetch(RequestType.OrderStatus, 'SIM', { instrumentId: 1, clientId: 'ghost' }, w.ctx), RejectCode.UnknownOrder, "'ghost'");
    const id = place(w);
    expectReject(validateFetch(RequestType.OrderStatus, 'SIM', { instrumentId: 2, clientId: id }, w.ctx), RejectCode.UnknownOrder, 'not 2');
    expectReject(validateFetch(RequestType.FundingInfo, 'SIM', { instrumentId: 77 }, w.ctx), RejectCode.UnknownInstrument, '77');
    expectReject(validateFetch(RequestType.PositionInfo, 'SIM', {}, w.ctx), RejectCode.UnknownInstrument, 'undefined');
    expectReject(validateFetch(RequestType.WalletInfo, 'SIM', { coin: ' ' }, w.ctx), RejectCode.InvalidField, "coin ' '");
    expectReject(validateFetch('Login' as never, 'SIM', {}, w.ctx), RejectCode.InvalidField, "'Login'");
    expectReject(validateFetch(RequestType.AccountInfo, 'NYSE', {}, w.ctx), RejectCode.UnknownExchange, "'NYSE'");
    w.set({ running: false });
    expectReject(validateFetch(RequestType.AccountInfo, 'SIM', {}, w.ctx), RejectCode.StrategyNotRunning);
  });
});
