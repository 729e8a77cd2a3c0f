import { describe, expect, it } from 'vitest';
import {
  BaseStrategy,
  CancelCode,
  ExecInstr,
  FeedHandlerStatus,
  GatewayStatus,
  Liquidity,
  MDSub,
  OrderStatus,
  OrderType,
  Price,
  Qty,
  RejectCode,
  RequestType,
  Side,
  TimeInForce,
} from '../../src/api/index.js';
import type { EventCallbackName, StrategyEventMap } from '../../src/api/index.js';
import { SimClock } from '../../src/core/clock.js';
import type { StratEnv } from '../../src/core/env.js';
import type { VenueNewOrder } from '../../src/core/venue.js';
import {
  ALL_EVENT_CALLBACKS,
  AMZN,
  BTC,
  FakeVenue,
  type Harness,
  Recorder,
  START_US,
  ackOf,
  arrayLogger,
  deferred,
  fillOf,
  flush,
  harness,
  order,
  runUntil,
  running,
} from './env-fixtures.js';

const SEC = 1_000_000;

/** Sends a new order and acknowledges it from the venue; returns its client id. */
async function placeAcked(h: Harness, over: Parameters<typeof order>[0] = {}): Promise<string> {
  const id = h.env.sendNewOrder(order(over));
  const req = h.venue.requests.at(-1)!;
  expect(req.type).toBe('NewOrder');
  h.venue.emit('onNewOrderAck', ackOf(req));
  await h.env.idle();
  return id;
}

const trade = (over: Partial<StrategyEventMap['onPublicTrade']> = {}): StrategyEventMap['onPublicTrade'] => ({
  exchange: 'SIM',
  instrumentId: 1,
  side: Side.Buy,
  price: Price.of('100.01'),
  qty: Qty.of('3'),
  execTs: START_US,
  recvTs: START_US,
  ...over,
});

const gw = (status: GatewayStatus): StrategyEventMap['onGatewayStatus'] => ({ exchange: 'SIM', status, detail: `now ${status}` });

// ------------------------------------------------------------------------------------------
describe('StratEnv lifecycle', () => {
  it('runs constructor → onFrameworkConnected → onStart → onInstruments → onStratParamsUpdate → data, with the params', async () => {
    const trace: string[] = [];
    const strat = new Recorder({}, trace);
    const h = harness({ strat, params: { spread: 2, name: 'x' } });
    expect(trace).toEqual(['constructor']);
    expect(h.env.state).toBe('created');

    expect(await h.env.connect()).toBe(true);
    expect(h.env.state).toBe('running');
    expect(h.env.strategyName).toBe('rec');
    h.env.onMarketData('onPublicTrade', trade());
    h.venue.emit('onAccountInfo', { exchange: 'SIM', userId: 'u1' });
    await h.env.idle();

    expect(trace).toEqual(['constructor', 'onFrameworkConnected', 'onStart', 'onInstruments', 'onStratParamsUpdate', 'onPublicTrade', 'onAccountInfo']);
    expect(strat.events('onStart')).toEqual([{ params: { spread: 2, name: 'x' } }]);
    expect(strat.events('onStratParamsUpdate')).toEqual([{ spread: 2, name: 'x' }]);
    expect(strat.events('onInstruments')).toEqual([[AMZN, BTC]]);
    expect(strat.calls[0]!.ev).toBe(h.env);
  });

  it('awaits an async onFrameworkConnected before onStart', async () => {
    const gate = deferred();
    const strat = new Recorder({ behaviour: { onFrameworkConnected: () => gate.promise } });
    const h = harness({ strat });
    const connected = h.env.connect();
    await flush();
    expect(strat.names()).toEqual(['onFrameworkConnected']);
    expect(h.env.state).toBe('connecting');
    gate.resolve();
    expect(await connected).toBe(true);
    expect(strat.names()).toEqual(['onFrameworkConnected', 'onStart', 'onInstruments', 'onStratParamsUpdate']);
  });

  it('holds market data and venue events that arrive while connecting until after onStratParamsUpdate', async () => {
    // A feed answers a subscription with a snapshot at once (as the backtest hub does for a non-empty book).
    const strat = new Recorder({
      behaviour: {
        onFrameworkConnected: (env) => env.subscribeToMarketData('SIM', ['nasdaq:equity:amzn'], [MDSub.PriceLevelBook]),
      },
    });
    const h = harness({ strat });
    h.hub.onSubscribe = () => {
      h.env.onMarketData('onFeedHandlerStatus', { exchange: 'SIM', status: FeedHandlerStatus.SnapshotStart, detail: '' });
      h.env.onMarketData('onAddPriceLevel', { exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: Price.of('100'), qty: Qty.of('7'), recvTs: START_US });
      h.venue.emit('onAccountInfo', { exchange: 'SIM', userId: 'u1' });
      h.env.onMarketData('onFeedHandlerStatus', { exchange: 'SIM', status: FeedHandlerStatus.SnapshotEnd, detail: '' });
    };
    expect(await h.env.connect()).toBe(true);
    await h.env.idle();
    expect(h.hub.calls).toEqual([{ exchange: 'SIM', instrumentId: 1, subs: [MDSub.PriceLevelBook] }]);
    expect(strat.names()).toEqual([
      'onFrameworkConnected',
      'onStart',
      'onInstruments',
      'onStratParamsUpdate',
      'onFeedHandlerStatus',
      'onAddPriceLevel',
      'onAccountInfo',
      'onFeedHandlerStatus',
    ]);
  });

  it('without env.login(): connect() resolves false, onStart never runs, state failed, orders get NotLoggedIn and nothing is submitted', async () => {
    const { logger, lines } = arrayLogger();
    const strat = new Recorder({ login: false });
    const h = harness({ strat, logger });
    expect(await h.env.connect()).toBe(false);
    expect(h.env.state).toBe('failed');
    expect(lines.some((l) => l.level === 50 && /login/.test(String(l.msg)))).toBe(true);

    const id = h.env.sendNewOrder(order({ clientId: 'o1' }));
    h.env.onMarketData('onPublicTrade', trade()); // dropped: the strategy never started
    await h.env.idle();
    expect(id).toBe('o1');
    expect(strat.names()).toEqual(['onFrameworkConnected', 'onNewOrderReject']);
    const rej = strat.events('onNewOrderReject')[0]!;
    expect(rej).toMatchObject({ exchange: 'SIM', clientId: 'o1', rejectCode: RejectCode.NotLoggedIn });
    expect(rej.rejectCode).toBe(1001);
    expect(h.venue.requests).toEqual([]);
  });

  it('refuses an invalid login name (connect false) and a login() outside onFrameworkConnected', async () => {
    const bad = new Recorder({ name: 'has space' });
    const h1 = harness({ strat: bad });
    expect(await h1.env.connect()).toBe(false);
    await h1.env.idle();
    expect(bad.events('onRequestReject')).toEqual([expect.objectContaining({ rejectCode: RejectCode.NotLoggedIn, rejectedRqstType: RequestType.Login })]);

    const h2 = await running();
    h2.env.login('other');
    await h2.env.idle();
    expect(h2.strat.events('onRequestReject')).toEqual([expect.objectContaining({ rejectCode: RejectCode.InvalidField, rejectedRqstType: RequestType.Login })]);
    expect(h2.env.strategyName).toBe('rec');
  });

  it('onStop: requests pass until sendStopAck(), afterwards every request is refused with StrategyNotRunning and nothing reaches the venue', async () => {
    const gate = deferred();
    const strat = new Recorder({
      behaviour: {
        onStop: async (_ev, env) => {
          env.sendNewOrder(order({ clientId: 'during-stop' }));
          await gate.promise;
          env.sendStopAck();
          env.sendNewOrder(order({ clientId: 'after-ack' }));
        },
      },
    });
    const h = await running({ strat, params: { p: 1 } });
    const acked = await placeAcked(h, { clientId: 'resting' });
    const stopped = h.env.stop();
    await flush();
    expect(h.env.state).toBe('stopping');
    expect(strat.events('onStop')).toEqual([{ params: { p: 1 } }]);
    expect(h.venue.requests.map((r) => (r as VenueNewOrder).clientId)).toEqual(['resting', 'during-stop']);

    gate.resolve();
    expect(await stopped).toBe(true);
    await h.env.idle();
    expect(h.env.state).toBe('stopped');
    expect(h.venue.requests).toHaveLength(2);
    expect(strat.events('onNewOrderReject')).toEqual([expect.objectContaining({ clientId: 'after-ack', rejectCode: RejectCode.StrategyNotRunning })]);

    // Every kind of request, from outside a callback too.
    const before = strat.calls.length;
    h.env.sendNewOrder(order({ clientId: 'late' }));
    h.env.sendModifyOrder('SIM', acked, '100.02');
    h.env.sendCancelOrder('SIM', 1, acked);
    h.env.sendCancelAll('SIM', 1);
    h.env.fetchAccountInfo('SIM');
    h.env.fetchWalletInfo('SIM', 'USD');
    h.env.fetchPositionInfo('SIM', 1);
    h.env.fetchFundingInfo('SIM', 1);
    h.env.fetchOrderStatus('SIM', 1, acked);
    h.env.fetchOrdersInfo('SIM');
    await h.env.idle();
    const after = strat.calls.slice(before);
    expect(after.map((c) => c.cb)).toEqual([
      'onNewOrderReject',
      'onModifyOrderReject',
      'onCancelOrderReject',
      'onCancelAllReject',
      'onRequestReject',
      'onRequestReject',
      'onRequestReject',
      'onRequestReject',
      'onRequestReject',
      'onRequestReject',
    ]);
    for (const c of after) expect((c.ev as { rejectCode: number }).rejectCode).toBe(1002);
    expect(h.venue.requests).toHaveLength(2);
  });

  it('stop() without sendStopAck stays stopping; forceStopped() resolves it false', async () => {
    const strat = new Recorder({ behaviour: { onStop: () => undefined } });
    const h = await running({ strat });
    const stopped = h.env.stop();
    await h.env.idle();
    expect(h.env.state).toBe('stopping');
    h.env.forceStopped();
    expect(await stopped).toBe(false);
    expect(h.env.state).toBe('stopped');
  });

  it('sets strategy.env before onFrameworkConnected, so BaseStrategy.onStop can acknowledge', async () => {
    class Minimal extends BaseStrategy {}
    const strat = new Minimal();
    const h = harness({ strat: strat as unknown as Recorder });
    expect(await h.env.connect()).toBe(true);
    expect(strat.env).toBe(h.env);
    expect(h.env.strategyName).toBe('Minimal');
    expect(await h.env.stop()).toBe(true);
    expect(h.env.state).toBe('stopped');
    expect(h.env.errorCount).toBe(0);
  });

  it('connects again after a stop: onFrameworkConnected and onStart run again and requests pass again', async () => {
    const h = await running();
    expect(await h.env.stop()).toBe(true);
    expect(await h.env.connect()).toBe(true);
    h.env.sendNewOrder(order({ clientId: 'again' }));
    await h.env.idle();
    expect(h.strat.names()).toEqual([
      'onFrameworkConnected',
      'onStart',
      'onInstruments',
      'onStratParamsUpdate',
      'onStop',
      'onFrameworkConnected',
      'onStart',
      'onInstruments',
      'onStratParamsUpdate',
    ]);
    expect(h.venue.requests).toHaveLength(1);
  });

  it('updateParams calls onStratParamsUpdate again with the new params', async () => {
    const h = await running({ params: { a: 1 } });
    h.env.updateParams({ a: 2, b: 'x' });
    await h.env.idle();
    expect(h.strat.events('onStratParamsUpdate')).toEqual([{ a: 1 }, { a: 2, b: 'x' }]);
    expect(h.env.currentParams).toEqual({ a: 2, b: 'x' });
    await h.env.stop();
    expect(h.strat.events('onStop')).toEqual([{ params: { a: 2, b: 'x' } }]);
  });

  it('disconnected() calls onFrameworkDisconnected', async () => {
    const h = await running();
    h.env.disconnected();
    await h.env.idle();
    expect(h.strat.names().at(-1)).toBe('onFrameworkDisconnected');
  });
});

// ------------------------------------------------------------------------------------------
type LifecycleCb = 'onStart' | 'onInstruments' | 'onStratParamsUpdate' | 'onStop' | 'onFrameworkDisconnected';
type MdCb =
  | 'onPublicTrade'
  | 'onAddPriceLevel'
  | 'onModifyPriceLevel'
  | 'onDeletePriceLevel'
  | 'onAddLevel'
  | 'onModifyLevel'
  | 'onDeleteLevel'
  | 'onBestBidLevelUpdate'
  | 'onBestAskLevelUpdate'
  | 'onFeedHandlerStatus';
type VenueCb = Exclude<EventCallbackName, LifecycleCb | MdCb>;

const p = Price.of;
const q = Qty.of;
const orderStatusInfo: StrategyEventMap['onOrderStatus'] = {
  exchange: 'SIM',
  instrumentId: 1,
  clientOrdId: 'c9',
  exchOrdId: 'x9',
  side: Side.Sell,
  price: p('101'),
  leavesQty: q('2'),
  status: OrderStatus.Open,
  orderType: OrderType.Limit,
  tif: TimeInForce.GTC,
  execInstr: [ExecInstr.PostOnly],
};
/** One event of every callback a venue sends. */
const VENUE_EVENTS: { [K in VenueCb]: StrategyEventMap[K] } = {
  onNewOrderAck: { exchange: 'SIM', clientId: 'v1', exchangeId: 'x1', instrumentId: 1, side: Side.Buy, price: p('100'), qty: q('1'), leavesQty: q('1'), orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [] },
  onNewOrderReject: { exchange: 'SIM', clientId: 'v2', rejectCode: RejectCode.InsufficientBalance, rejectReason: 'no money' },
  onModifyOrderAck: { exchange: 'SIM', clientId: 'v3', newPrice: p('100.5'), newQty: q('2'), leavesQty: q('2') },
  onModifyOrderReject: { exchange: 'SIM', clientId: 'v4', rejectCode: RejectCode.VenueOrderClosed, rejectReason: 'closed' },
  onCancelOrderAck: { exchange: 'SIM', clientId: 'v5' },
  onCancelOrderReject: { exchange: 'SIM', clientId: undefined, rejectCode: RejectCode.VenueUnknownOrder, rejectReason: 'gone' },
  onCancelAllAck: { exchange: 'SIM', instrumentId: 1 },
  onCancelAllReject: { exchange: 'SIM', instrumentId: 2, rejectCode: RejectCode.VenueUnknownOrder, rejectReason: 'nothing' },
  onOrderExecution: { exchange: 'SIM', clientId: 'v6', side: Side.Buy, price: p('100'), fillQty: q('1'), leavesQty: q('0'), execTs: START_US, recvTs: START_US + 5, instrumentId: 1, fee: p('0.01'), liquidity: Liquidity.Taker },
  onOrderCancelled: { exchange: 'SIM', clientId: 'v7', unsolicited: true, engineTs: START_US, recvTs: START_US, cancelCode: CancelCode.SessionEnd, cancelReason: 'session end' },
  onOrderStatus: orderStatusInfo,
  onOrdersInfo: { exchange: 'SIM', orders: [orderStatusInfo] },
  onAccountInfo: { exchange: 'SIM', userId: 'user-1' },
  onWalletInfo: { exchange: 'SIM', coin: 'USD', totalBalance: q('1000'), availableBalance: q('900') },
  onPositionInfo: { exchange: 'SIM', instrumentId: 1, position: q('-3') },
  onFundingInfo: { exchange: 'SIM', instrumentId: 2, fundingRate: '0.0001', nextFundingTs: START_US + 8 * 3600 * SEC },
  onRequestReject: { exchange: 'SIM', rejectCode: RejectCode.RateLimited, detail: 'slow down', rejectedRqstType: RequestType.AccountInfo },
  onUnsupportedOp: { exchange: 'SIM', unsupportedMsgType: RequestType.FundingInfo },
  onRateLimitInfo: { exchange: 'SIM', rateLimit: 100, rateRemaining: 50, resetTs: START_US + SEC },
  onGatewayStatus: gw(GatewayStatus.Maintenance),
};
/** One event of every market-data callback. */
const MD_EVENTS: { [K in MdCb]: StrategyEventMap[K] } = {
  onPublicTrade: trade(),
  onAddPriceLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: p('100'), qty: q('5'), recvTs: START_US },
  onModifyPriceLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: p('100'), newQty: q('4'), recvTs: START_US },
  onDeletePriceLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: p('100'), recvTs: START_US },
  onAddLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Sell, levelId: 'L1', price: p('100.02'), qty: q('5'), recvTs: START_US },
  onModifyLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Sell, levelId: 'L1', price: p('100.02'), newQty: q('1'), recvTs: START_US },
  onDeleteLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Sell, levelId: 'L1', price: p('100.02'), recvTs: START_US },
  onBestBidLevelUpdate: { exchange: 'SIM', instrumentId: 1, price: p('100'), qty: q('5'), recvTs: START_US },
  onBestAskLevelUpdate: { exchange: 'SIM', instrumentId: 1, price: p('100.02'), qty: q('5'), recvTs: START_US },
  onFeedHandlerStatus: { exchange: 'SIM', status: FeedHandlerStatus.SnapshotEnd, detail: 'done' },
};
const LIFECYCLE: LifecycleCb[] = ['onStart', 'onInstruments', 'onStratParamsUpdate', 'onStop', 'onFrameworkDisconnected'];

describe('StratEnv delivers every callback', () => {
  it('the test tables cover every callback of StrategyEventMap', () => {
    const covered = [...Object.keys(VENUE_EVENTS), ...Object.keys(MD_EVENTS), ...LIFECYCLE].sort();
    expect(covered).toEqual([...ALL_EVENT_CALLBACKS].sort());
  });

  it('delivers each venue event, in order, with its event object', async () => {
    const h = await running();
    const entries = Object.entries(VENUE_EVENTS) as Array<[VenueCb, StrategyEventMap[VenueCb]]>;
    const before = h.strat.calls.length;
    for (const [cb, ev] of entries) h.venue.emit(cb, ev);
    await h.env.idle();
    const got = h.strat.calls.slice(before);
    expect(got.map((c) => c.cb)).toEqual(entries.map(([cb]) => cb));
    got.forEach((c, i) => expect(c.ev).toBe(entries[i]![1]));
  });

  it('delivers each market-data event through env.onMarketData, in order, with its event object', async () => {
    const h = await running();
    const entries = Object.entries(MD_EVENTS) as Array<[MdCb, StrategyEventMap[MdCb]]>;
    const before = h.strat.calls.length;
    for (const [cb, ev] of entries) h.env.onMarketData(cb, ev as never);
    await h.env.idle();
    const got = h.strat.calls.slice(before);
    expect(got.map((c) => c.cb)).toEqual(entries.map(([cb]) => cb));
    got.forEach((c, i) => expect(c.ev).toBe(entries[i]![1]));
  });

  it('delivers venue events addressed to this strategy or to all, not those of another strategy', async () => {
    const h = await running();
    const mine = { exchange: 'SIM', userId: 'mine' };
    const all = { exchange: 'SIM', userId: 'all' };
    h.venue.emit('onAccountInfo', { exchange: 'SIM', userId: 'theirs' }, 'other');
    h.venue.emit('onAccountInfo', mine, 'rec');
    h.venue.emit('onAccountInfo', all, '*');
    await h.env.idle();
    expect(h.strat.events('onAccountInfo')).toEqual([mine, all]);
  });

  it('delivers onGatewayStatus only on transitions', async () => {
    const h = await running();
    const seq = [GatewayStatus.Maintenance, GatewayStatus.Maintenance, GatewayStatus.Connecting, GatewayStatus.ReadyToTrade, GatewayStatus.ReadyToTrade];
    for (const s of seq) h.venue.emit('onGatewayStatus', gw(s));
    await h.env.idle();
    expect(h.strat.events('onGatewayStatus').map((e) => e.status)).toEqual([GatewayStatus.Maintenance, GatewayStatus.Connecting, GatewayStatus.ReadyToTrade]);
  });

  it('a non-ReadyToTrade gateway makes new orders reject with GtwNotReady (1000); they pass again once ReadyToTrade', async () => {
    const h = await running();
    h.venue.emit('onGatewayStatus', gw(GatewayStatus.Maintenance));
    await h.env.idle();
    h.env.sendNewOrder(order({ clientId: 'm1' }));
    await h.env.idle();
    expect(h.strat.events('onNewOrderReject')).toEqual([expect.objectContaining({ clientId: 'm1', rejectCode: 1000 })]);
    expect(h.strat.events('onNewOrderReject')[0]!.rejectReason).toMatch(/Maintenance/);
    expect(h.venue.requests).toEqual([]);

    h.venue.emit('onGatewayStatus', gw(GatewayStatus.ReadyToTrade));
    await h.env.idle();
    h.env.sendNewOrder(order({ clientId: 'm2' }));
    expect(h.venue.requests.map((r) => (r as VenueNewOrder).clientId)).toEqual(['m2']);
  });

  it('a venue that starts Connecting: orders reject GtwNotReady, and its move to ReadyToTrade is delivered', async () => {
    const venue = new FakeVenue('SIM', [AMZN, BTC], GatewayStatus.Connecting);
    const h = await running({ venue });
    h.env.sendNewOrder(order({ clientId: 'early' }));
    await h.env.idle();
    expect(h.strat.events('onNewOrderReject')[0]?.rejectCode).toBe(RejectCode.GtwNotReady);
    venue.emit('onGatewayStatus', gw(GatewayStatus.ReadyToTrade));
    await h.env.idle();
    expect(h.strat.events('onGatewayStatus').map((e) => e.status)).toEqual([GatewayStatus.ReadyToTrade]);
    h.env.sendNewOrder(order({ clientId: 'ready' }));
    expect(venue.requests).toHaveLength(1);
  });
});

// ------------------------------------------------------------------------------------------
describe('StratEnv serialized dispatch', () => {
  it('an async callback holds the next events until it settles; order is preserved; idle() waits for the drain', async () => {
    const gate = deferred();
    const seen: string[] = [];
    const strat = new Recorder({
      behaviour: {
        onPublicTrade: async (ev) => {
          seen.push(`start ${ev.qty}`);
          if (ev.qty.eq('1')) await gate.promise;
          seen.push(`end ${ev.qty}`);
        },
      },
    });
    const h = await running({ strat });
    h.env.onMarketData('onPublicTrade', trade({ qty: q('1') }));
    h.env.onMarketData('onPublicTrade', trade({ qty: q('2') }));
    h.venue.emit('onAccountInfo', { exchange: 'SIM', userId: 'u' });
    h.env.onMarketData('onPublicTrade', trade({ qty: q('3') }));
    let idle = false;
    void h.env.idle().then(() => (idle = true));
    await flush();
    await flush();
    expect(seen).toEqual(['start 1']);
    expect(h.env.busy).toBe(true);
    expect(idle).toBe(false);

    gate.resolve();
    await h.env.idle();
    expect(idle).toBe(true);
    expect(h.env.busy).toBe(false);
    expect(seen).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect(strat.names().slice(4)).toEqual(['onPublicTrade', 'onPublicTrade', 'onAccountInfo', 'onPublicTrade']);
  });

  it('events caused inside a callback (env rejects, synchronous venue answers) run after it, not nested', async () => {
    const trace: string[] = [];
    const strat = new Recorder(
      {
        behaviour: {
          onPublicTrade: (_ev, env) => {
            env.sendNewOrder(order({ clientId: 'bad', price: '100.005' }));
            env.sendNewOrder(order({ clientId: 'good' }));
            trace.push('onPublicTrade:end');
          },
          onNewOrderReject: () => void trace.push('onNewOrderReject:end'),
        },
      },
      trace,
    );
    const h = await running({ strat });
    // This venue answers synchronously from inside submit().
    h.venue.submit = (req) => {
      h.venue.requests.push(req);
      h.venue.emit('onNewOrderAck', ackOf(req));
    };
    // An event already queued before the callback ran keeps its place ahead of what the callback caused.
    const gate = deferred();
    strat.behaviour.onAccountInfo = () => gate.promise;
    h.venue.emit('onAccountInfo', { exchange: 'SIM', userId: 'u' });
    h.env.onMarketData('onPublicTrade', trade());
    h.env.onMarketData('onBestBidLevelUpdate', MD_EVENTS.onBestBidLevelUpdate);
    gate.resolve();
    await h.env.idle();
    expect(trace.slice(5)).toEqual(['onAccountInfo', 'onPublicTrade', 'onPublicTrade:end', 'onBestBidLevelUpdate', 'onNewOrderReject', 'onNewOrderReject:end', 'onNewOrderAck']);
    expect(h.env.getOrder('good')?.status).toBe(OrderStatus.Open);
  });
});

// ------------------------------------------------------------------------------------------
describe('StratEnv callback errors', () => {
  it('logs a throwing or rejecting callback with its name and event, and dispatches the next event', async () => {
    const { logger, lines } = arrayLogger();
    const strat = new Recorder({
      behaviour: {
        onPublicTrade: () => {
          throw new Error('boom sync');
        },
        onAccountInfo: async () => {
          await Promise.resolve();
          throw new Error('boom async');
        },
      },
    });
    const h = await running({ strat, logger });
    h.env.onMarketData('onPublicTrade', trade());
    h.venue.emit('onAccountInfo', { exchange: 'SIM', userId: 'u' });
    h.env.onMarketData('onBestAskLevelUpdate', MD_EVENTS.onBestAskLevelUpdate);
    await h.env.idle();
    expect(strat.names().slice(4)).toEqual(['onPublicTrade', 'onAccountInfo', 'onBestAskLevelUpdate']);
    expect(h.env.errorCount).toBe(2);
    expect(h.env.failed).toBe(false);
    expect(h.env.state).toBe('running');
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ callback: 'onPublicTrade', err: { message: 'boom sync' } });
    expect(String(errors[0]!.msg)).toContain('onPublicTrade');
    expect((errors[0]!.ev as { price: string }).price).toBe('100.01');
    expect(errors[1]).toMatchObject({ callback: 'onAccountInfo', err: { message: 'boom async' }, ev: { userId: 'u' } });
    expect(String(errors[1]!.msg)).toContain('onAccountInfo');
  });

  it('with raiseErrors: dispatch stops after the first error and env.failed is true', async () => {
    const { logger, lines } = arrayLogger();
    const err = new Error('fatal');
    const strat = new Recorder({
      behaviour: {
        onPublicTrade: async () => {
          await Promise.resolve();
          throw err;
        },
      },
    });
    const h = await running({ strat, logger, raiseErrors: true });
    h.env.onMarketData('onPublicTrade', trade());
    h.venue.emit('onAccountInfo', { exchange: 'SIM', userId: 'queued' });
    await h.env.idle();
    h.venue.emit('onAccountInfo', { exchange: 'SIM', userId: 'later' });
    h.env.sendNewOrder(order());
    await h.env.idle();
    expect(h.env.failed).toBe(true);
    expect(h.env.failure).toBe(err);
    expect(h.env.state).toBe('failed');
    expect(strat.names().slice(4)).toEqual(['onPublicTrade']);
    expect(lines.filter((l) => l.level === 50).map((l) => l.callback)).toEqual(['onPublicTrade']);
  });

  it('a throwing onFrameworkConnected before login: logged, connect() resolves false', async () => {
    const { logger, lines } = arrayLogger();
    const strat = new Recorder({
      login: false,
      behaviour: {
        onFrameworkConnected: () => {
          throw new Error('no connect');
        },
      },
    });
    const h = harness({ strat, logger });
    expect(await h.env.connect()).toBe(false);
    const err = lines.find((l) => l.callback === 'onFrameworkConnected');
    expect(err).toMatchObject({ level: 50, err: { message: 'no connect' } });
    expect(strat.names()).toEqual(['onFrameworkConnected']);
  });
});

// ------------------------------------------------------------------------------------------
type RejectCb = 'onNewOrderReject' | 'onModifyOrderReject' | 'onCancelOrderReject' | 'onCancelAllReject' | 'onRequestReject';
interface RejectCase {
  name: string;
  code: RejectCode;
  cb: RejectCb;
  /** The environment before the request: running (default), never logged in, stopped, or its gateway in Maintenance. */
  world?: 'running' | 'noLogin' | 'stopped' | 'maintenance' | 'controls';
  setup?: (h: Harness) => Promise<unknown>;
  act: (env: StratEnv) => void;
  /** Fields the reject event must carry. */
  fields?: Record<string, unknown>;
}

async function world(kind: RejectCase['world'] = 'running'): Promise<Harness> {
  switch (kind) {
    case 'noLogin': {
      const h = harness({ strat: new Recorder({ login: false }) });
      expect(await h.env.connect()).toBe(false);
      return h;
    }
    case 'stopped': {
      const h = await running();
      expect(await h.env.stop()).toBe(true);
      return h;
    }
    case 'maintenance':
      return running({ venue: new FakeVenue('SIM', [AMZN, BTC], GatewayStatus.Maintenance) });
    case 'controls':
      return running({
        controls: { maxOrderQty: 200, maxOrderNotional: 50_000, maxOpenOrders: 3, maxPosition: 300, maxOrdersPerSec: 3, priceBandBps: 100, selfTradePrevention: 'reject' },
        mid: () => 100,
      });
    default:
      return running();
  }
}

const acked = (clientId = 'c1', over: Parameters<typeof order>[0] = {}) => (h: Harness) => placeAcked(h, { clientId, ...over });
const goMaintenance = async (h: Harness) => {
  await placeAcked(h, { clientId: 'c1' });
  h.venue.emit('onGatewayStatus', gw(GatewayStatus.Maintenance));
  await h.env.idle();
};

const REJECTS: RejectCase[] = [
  // sendNewOrder → onNewOrderReject
  { name: 'new order before login', code: RejectCode.NotLoggedIn, cb: 'onNewOrderReject', world: 'noLogin', act: (e) => e.sendNewOrder(order({ clientId: 'n1' })), fields: { clientId: 'n1' } },
  { name: 'new order after stop', code: RejectCode.StrategyNotRunning, cb: 'onNewOrderReject', world: 'stopped', act: (e) => e.sendNewOrder(order({ clientId: 'n1' })), fields: { clientId: 'n1' } },
  { name: 'new order to an unknown exchange', code: RejectCode.UnknownExchange, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'n1', exchange: 'NOPE' })), fields: { clientId: 'n1', exchange: 'NOPE' } },
  { name: 'new order while the gateway is in maintenance', code: RejectCode.GtwNotReady, cb: 'onNewOrderReject', world: 'maintenance', act: (e) => e.sendNewOrder(order({ clientId: 'n1' })) },
  { name: 'new order on an unknown instrument', code: RejectCode.UnknownInstrument, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'n1', instrumentId: 99 })) },
  { name: 'new order with a bad side', code: RejectCode.InvalidField, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'n1', side: 'Up' as Side })) },
  { name: 'new order with a client id containing a space', code: RejectCode.InvalidField, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'a b' })), fields: { clientId: 'a b' } },
  { name: 'new order reusing a client id', code: RejectCode.DuplicateClientId, cb: 'onNewOrderReject', setup: acked('n1'), act: (e) => e.sendNewOrder(order({ clientId: 'n1' })), fields: { clientId: 'n1' } },
  { name: 'limit order without a price', code: RejectCode.InvalidPrice, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'n1', price: undefined })) },
  { name: 'new order with a non-numeric price', code: RejectCode.InvalidPrice, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'n1', price: 'abc' })) },
  { name: 'new order off the tick grid', code: RejectCode.PriceOffTick, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'n1', price: '100.005' })) },
  { name: 'new order with qty 0', code: RejectCode.InvalidQty, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'n1', qty: '0' })) },
  { name: 'new order below min qty', code: RejectCode.QtyBelowMin, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'n1', instrumentId: 2, price: '9226.5', qty: '0.005' })) },
  { name: 'new order off the lot grid', code: RejectCode.QtyOffLot, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'n1', instrumentId: 2, price: '9226.5', qty: '0.0105' })) },
  { name: 'PostOnly market order', code: RejectCode.InvalidCombination, cb: 'onNewOrderReject', act: (e) => e.sendNewOrder(order({ clientId: 'n1', ordType: OrderType.Market, execInstr: ExecInstr.PostOnly })) },

  // trading controls (docs/controls.md) → onNewOrderReject / onModifyOrderReject
  { name: 'new order above maxOrderQty', code: RejectCode.MaxOrderQty, cb: 'onNewOrderReject', world: 'controls', act: (e) => e.sendNewOrder(order({ clientId: 'n1', qty: '500', price: '100' })), fields: { clientId: 'n1' } },
  { name: 'new order above maxOrderNotional', code: RejectCode.MaxOrderNotional, cb: 'onNewOrderReject', world: 'controls', act: (e) => e.sendNewOrder(order({ clientId: 'n1', qty: '200', price: '300' })) },
  {
    name: 'new order beyond maxOpenOrders',
    code: RejectCode.MaxOpenOrders,
    cb: 'onNewOrderReject',
    world: 'controls',
    setup: async (h) => {
      for (const id of ['a', 'b', 'c']) await placeAcked(h, { clientId: id, qty: '1', price: '99' });
    },
    act: (e) => e.sendNewOrder(order({ clientId: 'n1', qty: '1', price: '99' })),
  },
  { name: 'new order beyond maxPosition', code: RejectCode.MaxPosition, cb: 'onNewOrderReject', world: 'controls', setup: acked('c1', { qty: '200', price: '99' }), act: (e) => e.sendNewOrder(order({ clientId: 'n1', qty: '101', price: '99' })) },
  {
    name: 'new order beyond maxOrdersPerSec',
    code: RejectCode.MaxOrderRate,
    cb: 'onNewOrderReject',
    world: 'controls',
    setup: async (h) => {
      for (const id of ['a', 'b', 'c']) await placeAcked(h, { clientId: id, qty: '1', price: '99' });
      h.venue.emit('onOrderExecution', fillOf('c', Side.Buy, '99', '1', '0'));
    },
    act: (e) => e.sendNewOrder(order({ clientId: 'n1', qty: '1', price: '99' })),
  },
  { name: 'new order outside priceBandBps', code: RejectCode.PriceBand, cb: 'onNewOrderReject', world: 'controls', act: (e) => e.sendNewOrder(order({ clientId: 'n1', price: '101.5' })) },
  { name: 'new order crossing its own order', code: RejectCode.SelfTrade, cb: 'onNewOrderReject', world: 'controls', setup: acked('s1', { side: Side.Sell, price: '100.5' }), act: (e) => e.sendNewOrder(order({ clientId: 'n1', price: '100.5' })) },
  { name: 'risk-increasing order while paused', code: RejectCode.TradingPaused, cb: 'onNewOrderReject', setup: async (h) => h.env.pause('test'), act: (e) => e.sendNewOrder(order({ clientId: 'n1' })), fields: { clientId: 'n1' } },
  { name: 'modify above maxOrderQty', code: RejectCode.MaxOrderQty, cb: 'onModifyOrderReject', world: 'controls', setup: acked('c1', { price: '100' }), act: (e) => e.sendModifyOrder('SIM', 'c1', undefined, '201'), fields: { clientId: 'c1' } },
  { name: 'modify outside priceBandBps', code: RejectCode.PriceBand, cb: 'onModifyOrderReject', world: 'controls', setup: acked('c1', { price: '100' }), act: (e) => e.sendModifyOrder('SIM', 'c1', '98.9'), fields: { clientId: 'c1' } },

  // sendModifyOrder → onModifyOrderReject
  { name: 'modify before login', code: RejectCode.NotLoggedIn, cb: 'onModifyOrderReject', world: 'noLogin', act: (e) => e.sendModifyOrder('SIM', 'c1', '100.02'), fields: { clientId: 'c1' } },
  { name: 'modify after stop', code: RejectCode.StrategyNotRunning, cb: 'onModifyOrderReject', world: 'stopped', act: (e) => e.sendModifyOrder('SIM', 'c1', '100.02') },
  { name: 'modify while the gateway is in maintenance', code: RejectCode.GtwNotReady, cb: 'onModifyOrderReject', setup: goMaintenance, act: (e) => e.sendModifyOrder('SIM', 'c1', '100.02'), fields: { clientId: 'c1' } },
  { name: 'modify of an unknown order', code: RejectCode.UnknownOrder, cb: 'onModifyOrderReject', act: (e) => e.sendModifyOrder('SIM', 'nope', '100.02'), fields: { clientId: 'nope', exchange: 'SIM' } },
  {
    name: 'modify of an order the venue rejected',
    code: RejectCode.OrderClosed,
    cb: 'onModifyOrderReject',
    setup: async (h) => {
      h.env.sendNewOrder(order({ clientId: 'c1' }));
      h.venue.emit('onNewOrderReject', { exchange: 'SIM', clientId: 'c1', rejectCode: RejectCode.InsufficientBalance, rejectReason: 'poor' });
      await h.env.idle();
    },
    act: (e) => e.sendModifyOrder('SIM', 'c1', '100.02'),
  },
  {
    name: 'modify while a cancel is pending',
    code: RejectCode.OrderPendingCancel,
    cb: 'onModifyOrderReject',
    setup: async (h) => {
      await placeAcked(h, { clientId: 'c1' });
      h.env.sendCancelOrder('SIM', 1, 'c1');
    },
    act: (e) => e.sendModifyOrder('SIM', 'c1', '100.02'),
  },
  { name: 'modify before the ack', code: RejectCode.OrderPendingNew, cb: 'onModifyOrderReject', setup: async (h) => h.env.sendNewOrder(order({ clientId: 'c1' })), act: (e) => e.sendModifyOrder('SIM', 'c1', '100.02') },
  {
    name: 'modify while a modify is pending',
    code: RejectCode.OrderPendingModify,
    cb: 'onModifyOrderReject',
    setup: async (h) => {
      await placeAcked(h, { clientId: 'c1' });
      h.env.sendModifyOrder('SIM', 'c1', '100.02');
    },
    act: (e) => e.sendModifyOrder('SIM', 'c1', '100.03'),
  },
  { name: 'modify to the current price', code: RejectCode.NothingToModify, cb: 'onModifyOrderReject', setup: acked(), act: (e) => e.sendModifyOrder('SIM', 'c1', '100.01') },
  { name: 'modify off the tick grid', code: RejectCode.PriceOffTick, cb: 'onModifyOrderReject', setup: acked(), act: (e) => e.sendModifyOrder('SIM', 'c1', '100.015') },
  {
    name: 'modify the qty down to what has filled',
    code: RejectCode.InvalidQty,
    cb: 'onModifyOrderReject',
    setup: async (h) => {
      await placeAcked(h, { clientId: 'c1' });
      h.venue.emit('onOrderExecution', fillOf('c1', Side.Buy, '100.01', '3', '2'));
      await h.env.idle();
    },
    act: (e) => e.sendModifyOrder('SIM', 'c1', undefined, '3'),
  },

  // sendCancelOrder → onCancelOrderReject
  { name: 'cancel before login', code: RejectCode.NotLoggedIn, cb: 'onCancelOrderReject', world: 'noLogin', act: (e) => e.sendCancelOrder('SIM', 1, 'c1'), fields: { clientId: 'c1' } },
  { name: 'cancel after stop', code: RejectCode.StrategyNotRunning, cb: 'onCancelOrderReject', world: 'stopped', act: (e) => e.sendCancelOrder('SIM', 1, 'c1') },
  { name: 'cancel while the gateway is in maintenance', code: RejectCode.GtwNotReady, cb: 'onCancelOrderReject', setup: goMaintenance, act: (e) => e.sendCancelOrder('SIM', 1, 'c1') },
  { name: 'cancel of an unknown order', code: RejectCode.UnknownOrder, cb: 'onCancelOrderReject', act: (e) => e.sendCancelOrder('SIM', 1, 'nope'), fields: { clientId: 'nope' } },
  { name: 'cancel naming the wrong instrument', code: RejectCode.UnknownOrder, cb: 'onCancelOrderReject', setup: acked(), act: (e) => e.sendCancelOrder('SIM', 2, 'c1'), fields: { clientId: 'c1' } },
  {
    name: 'cancel of a filled order',
    code: RejectCode.OrderClosed,
    cb: 'onCancelOrderReject',
    setup: async (h) => {
      await placeAcked(h, { clientId: 'c1' });
      h.venue.emit('onOrderExecution', fillOf('c1', Side.Buy, '100.01', '5', '0'));
      await h.env.idle();
    },
    act: (e) => e.sendCancelOrder('SIM', 1, 'c1'),
  },
  {
    name: 'cancel while a cancel is pending',
    code: RejectCode.OrderPendingCancel,
    cb: 'onCancelOrderReject',
    setup: async (h) => {
      await placeAcked(h, { clientId: 'c1' });
      h.env.sendCancelOrder('SIM', 1, 'c1');
    },
    act: (e) => e.sendCancelOrder('SIM', 1, 'c1'),
  },

  // sendCancelAll → onCancelAllReject
  { name: 'cancel-all before login', code: RejectCode.NotLoggedIn, cb: 'onCancelAllReject', world: 'noLogin', act: (e) => e.sendCancelAll('SIM', 1), fields: { instrumentId: 1 } },
  { name: 'cancel-all after stop', code: RejectCode.StrategyNotRunning, cb: 'onCancelAllReject', world: 'stopped', act: (e) => e.sendCancelAll('SIM', 1) },
  { name: 'cancel-all on an unknown exchange', code: RejectCode.UnknownExchange, cb: 'onCancelAllReject', act: (e) => e.sendCancelAll('NOPE', 1), fields: { exchange: 'NOPE', instrumentId: 1 } },
  { name: 'cancel-all of an unknown instrument', code: RejectCode.UnknownInstrument, cb: 'onCancelAllReject', act: (e) => e.sendCancelAll('SIM', 99), fields: { instrumentId: 99 } },

  // fetch* → onRequestReject
  { name: 'fetchAccountInfo before login', code: RejectCode.NotLoggedIn, cb: 'onRequestReject', world: 'noLogin', act: (e) => e.fetchAccountInfo('SIM'), fields: { rejectedRqstType: RequestType.AccountInfo } },
  { name: 'fetchAccountInfo after stop', code: RejectCode.StrategyNotRunning, cb: 'onRequestReject', world: 'stopped', act: (e) => e.fetchAccountInfo('SIM'), fields: { rejectedRqstType: RequestType.AccountInfo } },
  { name: 'fetchAccountInfo of an unknown exchange', code: RejectCode.UnknownExchange, cb: 'onRequestReject', act: (e) => e.fetchAccountInfo('NOPE'), fields: { exchange: 'NOPE', rejectedRqstType: RequestType.AccountInfo } },
  { name: 'fetchWalletInfo without a coin', code: RejectCode.InvalidField, cb: 'onRequestReject', act: (e) => e.fetchWalletInfo('SIM', ' '), fields: { rejectedRqstType: RequestType.WalletInfo } },
  { name: 'fetchPositionInfo of an unknown instrument', code: RejectCode.UnknownInstrument, cb: 'onRequestReject', act: (e) => e.fetchPositionInfo('SIM', 99), fields: { rejectedRqstType: RequestType.PositionInfo } },
  { name: 'fetchFundingInfo of an unknown instrument', code: RejectCode.UnknownInstrument, cb: 'onRequestReject', act: (e) => e.fetchFundingInfo('SIM', 99), fields: { rejectedRqstType: RequestType.FundingInfo } },
  { name: 'fetchOrderStatus of an unknown order', code: RejectCode.UnknownOrder, cb: 'onRequestReject', act: (e) => e.fetchOrderStatus('SIM', 1, 'nope'), fields: { rejectedRqstType: RequestType.OrderStatus } },
  { name: 'fetchOrdersInfo of an unknown instrument', code: RejectCode.UnknownInstrument, cb: 'onRequestReject', act: (e) => e.fetchOrdersInfo('SIM', 99), fields: { rejectedRqstType: RequestType.OrdersInfo } },

  // subscribeToMarketData → onRequestReject
  { name: 'subscribe before login', code: RejectCode.NotLoggedIn, cb: 'onRequestReject', world: 'noLogin', act: (e) => e.subscribeToMarketData('SIM', [1], [MDSub.BBO]), fields: { rejectedRqstType: RequestType.Subscribe } },
  { name: 'subscribe on an unknown exchange', code: RejectCode.UnknownExchange, cb: 'onRequestReject', act: (e) => e.subscribeToMarketData('NOPE', [1], [MDSub.BBO]), fields: { exchange: 'NOPE', rejectedRqstType: RequestType.Subscribe } },
  { name: 'subscribe with a bad subscription', code: RejectCode.InvalidField, cb: 'onRequestReject', act: (e) => e.subscribeToMarketData('SIM', [1], ['Everything' as MDSub]), fields: { rejectedRqstType: RequestType.Subscribe } },
  { name: 'subscribe to an unknown instrument', code: RejectCode.UnknownInstrument, cb: 'onRequestReject', act: (e) => e.subscribeToMarketData('SIM', ['nasdaq:equity:nope'], [MDSub.BBO]), fields: { rejectedRqstType: RequestType.Subscribe } },
];

/** Codes the environment's own validation never produces: they come from venues/gateways only. */
const NOT_FROM_ENV = new Set<RejectCode>([RejectCode.RateLimited, RejectCode.Unsupported]);

describe('StratEnv routes every env-side reject to its callback, and never to the venue', () => {
  it('the table reaches every env-side reject code (1000–1099)', () => {
    const envCodes = Object.values(RejectCode).filter((c): c is RejectCode => typeof c === 'number' && c < 2000 && !NOT_FROM_ENV.has(c));
    expect([...new Set(REJECTS.map((r) => r.code))].sort()).toEqual(envCodes.sort());
  });

  it.each(REJECTS)('$name → $cb $code', async (c) => {
    const h = await world(c.world);
    await c.setup?.(h);
    await h.env.idle();
    const sent = h.venue.requests.length;
    const subscribed = h.hub.calls.length;
    const before = h.strat.calls.length;
    c.act(h.env);
    await h.env.idle();
    const got = h.strat.calls.slice(before);
    expect(got.map((x) => x.cb)).toEqual([c.cb]);
    const ev = got[0]!.ev as { rejectCode: number; rejectReason?: string; detail?: string };
    expect(ev.rejectCode).toBe(c.code);
    expect(ev.rejectReason ?? ev.detail).toMatch(/\w/);
    if (c.fields) expect(ev).toMatchObject(c.fields);
    expect(h.venue.requests).toHaveLength(sent);
    expect(h.hub.calls).toHaveLength(subscribed);
  });

  it('an env-side reject does not touch the order it names', async () => {
    const h = await running();
    // Duplicate id of a pending order: the original stays PendingNew and is acked later.
    h.env.sendNewOrder(order({ clientId: 'dup' }));
    h.env.sendNewOrder(order({ clientId: 'dup', price: '99' }));
    await h.env.idle();
    expect(h.env.getOrder('dup')?.status).toBe(OrderStatus.PendingNew);
    h.venue.emit('onNewOrderAck', ackOf(h.venue.requests[0]!));
    await h.env.idle();
    expect(h.env.getOrder('dup')?.status).toBe(OrderStatus.Open);
    expect(h.env.getOrder('dup')?.price.toString()).toBe('100.01');

    // A second modify while one is in flight: the first stays in flight and its ack applies.
    h.env.sendModifyOrder('SIM', 'dup', '100.02');
    h.env.sendModifyOrder('SIM', 'dup', '100.03');
    await h.env.idle();
    expect(h.strat.events('onModifyOrderReject').map((e) => e.rejectCode)).toEqual([RejectCode.OrderPendingModify]);
    expect(h.env.getOrder('dup')?.status).toBe(OrderStatus.PendingModify);
    h.venue.emit('onModifyOrderAck', { exchange: 'SIM', clientId: 'dup', newPrice: p('100.02'), newQty: q('5'), leavesQty: q('5') });
    await h.env.idle();
    expect(h.env.getOrder('dup')?.status).toBe(OrderStatus.Open);
    expect(h.env.getOrder('dup')?.price.toString()).toBe('100.02');

    // A second cancel while one is pending: the order stays PendingCancel.
    h.env.sendCancelOrder('SIM', 1, 'dup');
    h.env.sendCancelOrder('SIM', 1, 'dup');
    await h.env.idle();
    expect(h.strat.events('onCancelOrderReject').map((e) => e.rejectCode)).toEqual([RejectCode.OrderPendingCancel]);
    expect(h.env.getOrder('dup')?.status).toBe(OrderStatus.PendingCancel);
    expect(h.venue.requests.map((r) => r.type)).toEqual(['NewOrder', 'ModifyOrder', 'CancelOrder']);
  });
});

// ------------------------------------------------------------------------------------------
describe('StratEnv valid requests', () => {
  it('reach the venue with integer ticks and lots, the login name and defaults', async () => {
    const h = await running();
    h.env.sendNewOrder(order({ clientId: 'a' }));
    h.env.sendNewOrder({ clientId: 'b', exchange: 'SIM', instrumentId: 2, side: Side.Sell, price: Price.of('9226.5'), qty: Qty.of('0.015'), execInstr: [ExecInstr.PostOnly] });
    h.env.sendNewOrder({ clientId: 'c', exchange: 'SIM', instrumentId: 1, side: Side.Buy, qty: '2', ordType: OrderType.Market, timeInForce: TimeInForce.IOC });
    const [a, b, c] = h.venue.requests as VenueNewOrder[];
    expect(a).toMatchObject({ type: 'NewOrder', strategy: 'rec', clientId: 'a', instrumentId: 1, side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [], priceTick: 10001, qtyLots: 5 });
    expect(a!.price.toString()).toBe('100.01');
    expect(a!.qty.toString()).toBe('5');
    expect(b).toMatchObject({ clientId: 'b', instrumentId: 2, side: Side.Sell, priceTick: 18453, qtyLots: 15, execInstr: [ExecInstr.PostOnly] });
    expect(b!.price.toString()).toBe('9226.5');
    expect(c).toMatchObject({ clientId: 'c', orderType: OrderType.Market, tif: TimeInForce.IOC, qtyLots: 2 });
    expect(c!.priceTick).toBeNaN();
    for (const r of [a!, b!]) {
      expect(Number.isInteger(r.priceTick)).toBe(true);
      expect(Number.isInteger(r.qtyLots)).toBe(true);
    }
    await h.env.idle();
    expect(h.strat.events('onNewOrderReject')).toEqual([]);
  });

  it('generates unique client ids when none is given, skipping ids the strategy chose', async () => {
    const h = await running();
    const ids = [h.env.sendNewOrder(order()), h.env.sendNewOrder(order({ clientId: 'rec-2' })), h.env.sendNewOrder(order()), h.env.sendNewOrder(order()), h.env.sendNewOrder(order({ price: '1.005' }))];
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(0, 4)).toEqual((h.venue.requests as VenueNewOrder[]).map((r) => r.clientId));
    for (const id of ids) expect(id).toMatch(/^rec-\d+$/);
    await h.env.idle();
    // The rejected order's id is the one its reject names.
    expect(h.strat.events('onNewOrderReject').map((e) => e.clientId)).toEqual([ids[4]]);
  });

  it('tracks PendingNew → Open on ack → PartiallyFilled → Filled on executions; getPosition reflects fills', async () => {
    const h = await running();
    const id = h.env.sendNewOrder(order({ clientId: 'o1', qty: '5' }));
    expect(h.env.getOrder(id)?.status).toBe(OrderStatus.PendingNew);
    expect(h.env.openOrders('SIM', 1).map((o) => o.clientId)).toEqual(['o1']);
    h.venue.emit('onNewOrderAck', ackOf(h.venue.requests[0]!, 'EX-1'));
    await h.env.idle();
    expect(h.env.getOrder(id)).toMatchObject({ status: OrderStatus.Open, exchangeId: 'EX-1' });

    h.venue.emit('onOrderExecution', fillOf(id, Side.Buy, '100.01', '2', '3'));
    await h.env.idle();
    expect(h.env.getOrder(id)?.status).toBe(OrderStatus.PartiallyFilled);
    expect(h.env.getPosition('SIM', 1).position.toString()).toBe('2');

    h.venue.emit('onOrderExecution', fillOf(id, Side.Buy, '100.00', '3', '0'));
    await h.env.idle();
    const o = h.env.getOrder(id)!;
    expect(o.status).toBe(OrderStatus.Filled);
    expect(o.filledQty.toString()).toBe('5');
    expect(h.env.openOrders()).toEqual([]);
    const pos = h.env.getPosition('SIM', 1);
    expect(pos.position.toString()).toBe('5');
    expect(pos.avgEntryPrice.toString()).toBe('100.004');
    expect(pos.fills).toBe(2);

    // A sell fill reduces the position.
    await placeAcked(h, { clientId: 's1', side: Side.Sell, qty: '2', price: '101' });
    h.venue.emit('onOrderExecution', fillOf('s1', Side.Sell, '101', '2', '0'));
    await h.env.idle();
    expect(h.env.getPosition('SIM', 1).position.toString()).toBe('3');
    expect(h.env.getPosition('SIM', 1).realizedPnl).toBeCloseTo(2 * (101 - 100.004), 9);
  });

  it('modify, cancel and cancel-all reach the venue with ticks and lots and move the tracker', async () => {
    const h = await running();
    await placeAcked(h, { clientId: 'm' });
    h.env.sendModifyOrder('SIM', 'm', '100.02', '7');
    expect(h.venue.requests.at(-1)).toMatchObject({ type: 'ModifyOrder', strategy: 'rec', clientId: 'm', instrumentId: 1, newPriceTick: 10002, newQtyLots: 7 });
    expect(h.env.getOrder('m')?.status).toBe(OrderStatus.PendingModify);
    h.venue.emit('onModifyOrderAck', { exchange: 'SIM', clientId: 'm', newPrice: p('100.02'), newQty: q('7'), leavesQty: q('7') });
    await h.env.idle();
    expect(h.env.getOrder('m')).toMatchObject({ status: OrderStatus.Open });
    expect(h.env.getOrder('m')?.qty.toString()).toBe('7');

    h.env.sendCancelOrder('SIM', 1, 'm');
    expect(h.venue.requests.at(-1)).toEqual({ type: 'CancelOrder', strategy: 'rec', clientId: 'm', instrumentId: 1 });
    expect(h.env.getOrder('m')?.status).toBe(OrderStatus.PendingCancel);
    h.venue.emit('onCancelOrderAck', { exchange: 'SIM', clientId: 'm' });
    h.venue.emit('onOrderCancelled', { exchange: 'SIM', clientId: 'm', unsolicited: false, engineTs: START_US, recvTs: START_US, cancelCode: CancelCode.Requested, cancelReason: 'asked' });
    await h.env.idle();
    expect(h.env.getOrder('m')?.status).toBe(OrderStatus.Cancelled);

    await placeAcked(h, { clientId: 'x1' });
    h.env.sendNewOrder(order({ clientId: 'x2' }));
    h.env.sendCancelAll('SIM', 1);
    expect(h.venue.requests.at(-1)).toEqual({ type: 'CancelAll', strategy: 'rec', instrumentId: 1 });
    // Cancel-all does not mark orders: a refused cancel-all must leave them usable.
    expect(h.env.openOrders('SIM', 1).map((o) => o.status)).toEqual([OrderStatus.Open, OrderStatus.PendingNew]);
    h.venue.emit('onCancelAllReject', { exchange: 'SIM', instrumentId: 1, rejectCode: RejectCode.GtwNotReady, rejectReason: 'halt' });
    await h.env.idle();
    h.env.sendCancelOrder('SIM', 1, 'x1');
    expect(h.env.getOrder('x1')?.status).toBe(OrderStatus.PendingCancel);
    // Accepted: each order leaves through its own onOrderCancelled.
    h.venue.emit('onOrderCancelled', { exchange: 'SIM', clientId: 'x1', unsolicited: false, engineTs: START_US, recvTs: START_US, cancelCode: CancelCode.CancelAll, cancelReason: 'cancel all' });
    await h.env.idle();
    expect(h.env.getOrder('x1')?.status).toBe(OrderStatus.Cancelled);
  });

  it('cancel-all and fetches pass while the gateway is not ReadyToTrade', async () => {
    const h = await running({ venue: new FakeVenue('SIM', [AMZN, BTC], GatewayStatus.Maintenance) });
    h.env.sendCancelAll('SIM', 1);
    h.env.fetchAccountInfo('SIM');
    await h.env.idle();
    expect(h.venue.requests.map((r) => r.type)).toEqual(['CancelAll', 'Fetch']);
  });

  it('fetches reach the venue with their fields', async () => {
    const h = await running();
    await placeAcked(h, { clientId: 'f' });
    h.env.fetchAccountInfo('SIM');
    h.env.fetchWalletInfo('SIM', 'USD');
    h.env.fetchPositionInfo('SIM', 1);
    h.env.fetchFundingInfo('SIM', 2);
    h.env.fetchOrderStatus('SIM', 1, 'f');
    h.env.fetchOrdersInfo('SIM');
    h.env.fetchOrdersInfo('SIM', 1);
    expect(h.venue.requests.slice(1)).toEqual([
      { type: 'Fetch', strategy: 'rec', what: RequestType.AccountInfo },
      { type: 'Fetch', strategy: 'rec', what: RequestType.WalletInfo, coin: 'USD' },
      { type: 'Fetch', strategy: 'rec', what: RequestType.PositionInfo, instrumentId: 1 },
      { type: 'Fetch', strategy: 'rec', what: RequestType.FundingInfo, instrumentId: 2 },
      { type: 'Fetch', strategy: 'rec', what: RequestType.OrderStatus, instrumentId: 1, clientId: 'f' },
      { type: 'Fetch', strategy: 'rec', what: RequestType.OrdersInfo },
      { type: 'Fetch', strategy: 'rec', what: RequestType.OrdersInfo, instrumentId: 1 },
    ]);
    await h.env.idle();
    expect(h.strat.events('onRequestReject')).toEqual([]);
  });

  it('subscriptions by name or id reach the hub as the union of what was asked', async () => {
    const strat = new Recorder({ behaviour: { onFrameworkConnected: (env) => env.subscribeToMarketData('SIM', ['nasdaq:equity:amzn'], [MDSub.BBO]) } });
    const h = await running({ strat });
    h.env.subscribeToMarketData('SIM', [1, 2], [MDSub.PublicTrades]);
    await h.env.idle();
    expect(h.hub.calls).toEqual([
      { exchange: 'SIM', instrumentId: 1, subs: [MDSub.BBO] },
      { exchange: 'SIM', instrumentId: 1, subs: [MDSub.BBO, MDSub.PublicTrades] },
      { exchange: 'SIM', instrumentId: 2, subs: [MDSub.PublicTrades] },
    ]);
    expect(strat.events('onRequestReject')).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------
describe('StratEnv timers on simulated time', () => {
  it('setupTimer(1000) fires at exactly start+1s, +2s, +3s while the callback returns true, and stops on false', async () => {
    const fired: number[] = [];
    let env!: StratEnv;
    const strat = new Recorder({
      behaviour: {
        onStart: (_ev, e) => {
          env = e as StratEnv;
          e.setupTimer(1000, () => {
            fired.push(e.now());
            return fired.length < 3;
          });
        },
      },
    });
    const h = await running({ strat });
    expect(env).toBe(h.env);
    await runUntil(h, START_US + 10 * SEC);
    expect(fired).toEqual([START_US + SEC, START_US + 2 * SEC, START_US + 3 * SEC]);
    expect(h.clock.nextDueTs()).toBe(Number.POSITIVE_INFINITY);
  });

  it('stops after a callback that returns undefined; an async callback returning true stays on the grid', async () => {
    const once: number[] = [];
    const async: number[] = [];
    const strat = new Recorder({
      behaviour: {
        onStart: (_ev, e) => {
          e.setupTimer(250, () => void once.push(e.now()));
          e.setupTimer(1500, async () => {
            async.push(e.now());
            await new Promise((r) => setImmediate(r));
            return async.length < 4;
          });
        },
      },
    });
    const h = await running({ strat });
    await runUntil(h, START_US + 20 * SEC);
    expect(once).toEqual([START_US + 250_000]);
    expect(async).toEqual([1, 2, 3, 4].map((k) => START_US + k * 1_500_000));
  });

  it('cancelTimer stops a timer, also from inside its own callback that returns true', async () => {
    const a: number[] = [];
    const b: number[] = [];
    let idA = 0;
    let idB = 0;
    const strat = new Recorder({
      behaviour: {
        onStart: (_ev, e) => {
          idA = e.setupTimer(1000, () => {
            a.push(e.now());
            return true;
          });
          idB = e.setupTimer(1000, () => {
            b.push(e.now());
            e.cancelTimer(idB);
            return true;
          });
          expect(idA).not.toBe(idB);
        },
      },
    });
    const h = await running({ strat });
    await runUntil(h, START_US + 2 * SEC);
    h.env.cancelTimer(idA);
    await runUntil(h, START_US + 5 * SEC);
    expect(a).toEqual([START_US + SEC, START_US + 2 * SEC]);
    expect(b).toEqual([START_US + SEC]);
  });

  it('setupDailyCallback(16:00:00) in America/New_York from 2012-06-21 09:30 EDT fires at 20:00Z, and the next day while it returns true', async () => {
    const fired: string[] = [];
    const strat = new Recorder({
      behaviour: {
        onStart: (_ev, e) => {
          e.setupDailyCallback('16:00:00', () => {
            fired.push(new Date(e.now() / 1000).toISOString());
            return fired.length < 2;
          });
        },
      },
    });
    const h = await running({ strat, timeZone: 'America/New_York' });
    expect(new Date(h.env.now() / 1000).toISOString()).toBe('2012-06-21T13:30:00.000Z');
    await runUntil(h, Date.parse('2012-06-25T00:00:00Z') * 1000);
    expect(fired).toEqual(['2012-06-21T20:00:00.000Z', '2012-06-22T20:00:00.000Z']);
  });

  it.each([
    ['setupTimer(0)', (e: StratEnv) => e.setupTimer(0, () => true), RequestType.Timer],
    ['setupTimer(-5)', (e: StratEnv) => e.setupTimer(-5, () => true), RequestType.Timer],
    ['setupTimer(NaN)', (e: StratEnv) => e.setupTimer(Number.NaN, () => true), RequestType.Timer],
    ['setupTimer(Infinity)', (e: StratEnv) => e.setupTimer(Number.POSITIVE_INFINITY, () => true), RequestType.Timer],
    ["setupTimer('1000')", (e: StratEnv) => e.setupTimer('1000' as unknown as number, () => true), RequestType.Timer],
    ["setupDailyCallback('25:00:00')", (e: StratEnv) => e.setupDailyCallback('25:00:00', () => true), RequestType.DailyCallback],
    ["setupDailyCallback('9:30')", (e: StratEnv) => e.setupDailyCallback('9:30', () => true), RequestType.DailyCallback],
    ["setupDailyCallback('')", (e: StratEnv) => e.setupDailyCallback('', () => true), RequestType.DailyCallback],
  ])('%s → onRequestReject InvalidField, nothing scheduled', async (_name, act, type) => {
    const h = await running();
    act(h.env);
    await h.env.idle();
    expect(h.strat.events('onRequestReject')).toEqual([expect.objectContaining({ rejectCode: RejectCode.InvalidField, rejectedRqstType: type })]);
    expect(h.clock.nextDueTs()).toBe(Number.POSITIVE_INFINITY);
  });

  it('timers run on the clock given, not the wall: nothing fires before its simulated time', async () => {
    const fired: number[] = [];
    const clock = new SimClock(START_US);
    const strat = new Recorder({ behaviour: { onStart: (_ev, e) => void e.setupTimer(60_000, () => void fired.push(e.now())) } });
    const h = await running({ strat, clock });
    await runUntil(h, START_US + 59 * SEC);
    expect(fired).toEqual([]);
    await runUntil(h, START_US + 60 * SEC);
    expect(fired).toEqual([START_US + 60 * SEC]);
  });
});

// ------------------------------------------------------------------------------------------
describe('StratEnv command hooks', () => {
  it('runCommand resolves with the hook reply; the hook gets the params', async () => {
    const got: string[][] = [];
    const strat = new Recorder({
      behaviour: {
        onStart: (_ev, e) => {
          e.addCmdHook('get_x', (params) => {
            got.push(params);
            return `x=${params.join(',')}`;
          });
          e.addCmdHook('noop', () => undefined);
          e.addCmdHook('slow', async (params) => {
            await new Promise((r) => setImmediate(r));
            return `slow ${params.length}`;
          });
        },
      },
    });
    const h = await running({ strat });
    expect(await h.env.runCommand('get_x', ['a'])).toBe('x=a');
    expect(got).toEqual([['a']]);
    expect(await h.env.runCommand('slow', ['1', '2'])).toBe('slow 2');
    expect(await h.env.runCommand('noop', [])).toBe('ok');
    expect(h.env.commandNames()).toEqual(['get_x', 'noop', 'slow']);
  });

  it('an unknown command resolves with a message that lists the hooks', async () => {
    const strat = new Recorder({
      behaviour: {
        onStart: (_ev, e) => {
          e.addCmdHook('get_x', () => 'x');
          e.addCmdHook('set_y', () => 'y');
        },
      },
    });
    const h = await running({ strat });
    const reply = await h.env.runCommand('nope', []);
    expect(reply).toContain('nope');
    expect(reply).toContain('get_x');
    expect(reply).toContain('set_y');
  });

  it('a hook runs serialized with the callbacks', async () => {
    const gate = deferred();
    const trace: string[] = [];
    const strat = new Recorder(
      {
        behaviour: {
          onStart: (_ev, e) => e.addCmdHook('get_x', () => void trace.push('hook')),
          onPublicTrade: async () => {
            await gate.promise;
            trace.push('onPublicTrade:end');
          },
        },
      },
      trace,
    );
    const h = await running({ strat });
    h.env.onMarketData('onPublicTrade', trade());
    const reply = h.env.runCommand('get_x', []);
    h.venue.emit('onAccountInfo', { exchange: 'SIM', userId: 'u' });
    await flush();
    expect(trace.slice(5)).toEqual(['onPublicTrade']);
    gate.resolve();
    expect(await reply).toBe('ok');
    await h.env.idle();
    expect(trace.slice(5)).toEqual(['onPublicTrade', 'onPublicTrade:end', 'hook', 'onAccountInfo']);
  });

  it('a failing hook is logged and its command still gets a reply', async () => {
    const { logger, lines } = arrayLogger();
    const strat = new Recorder({
      behaviour: {
        onStart: (_ev, e) => {
          e.addCmdHook('bad', () => {
            throw new Error('hook broke');
          });
          e.addCmdHook('bad_async', async () => {
            await Promise.resolve();
            throw new Error('hook broke later');
          });
        },
      },
    });
    const h = await running({ strat, logger });
    const reply = await Promise.race([h.env.runCommand('bad', []), new Promise((r) => setTimeout(() => r('no reply'), 200))]);
    expect(reply).toMatch(/bad.*failed.*hook broke/);
    const reply2 = await Promise.race([h.env.runCommand('bad_async', []), new Promise((r) => setTimeout(() => r('no reply'), 200))]);
    expect(reply2).toMatch(/bad_async.*failed.*hook broke later/);
    expect(lines.filter((l) => l.level === 50).map((l) => l.callback)).toEqual(['cmd:bad', 'cmd:bad_async']);
    // Dispatch goes on.
    h.venue.emit('onAccountInfo', { exchange: 'SIM', userId: 'u' });
    await h.env.idle();
    expect(h.strat.names().at(-1)).toBe('onAccountInfo');
  });

  it('an invalid hook name is refused with InvalidField', async () => {
    const strat = new Recorder({ behaviour: { onStart: (_ev, e) => e.addCmdHook('has space', () => 'x') } });
    const h = await running({ strat });
    expect(h.strat.events('onRequestReject')).toEqual([expect.objectContaining({ rejectCode: RejectCode.InvalidField, rejectedRqstType: RequestType.CmdHook })]);
    expect(h.env.commandNames()).toEqual([]);
  });
});
