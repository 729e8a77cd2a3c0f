import { describe, expect, it } from 'vitest';
import { OrderStatus, OrderType, Price, Qty, RejectCode, Side, TimeInForce, makeInstrument } from '../../src/api/index.js';
import type { OrderView } from '../../src/api/strategy.js';
import {
  KillSwitch,
  KillSwitchConfigSchema,
  NEW_ORDER_CHECKS,
  RequestWindow,
  TradingControlsSchema,
  checkMaxOpenOrders,
  checkMaxOrderNotional,
  checkMaxOrderQty,
  checkMaxPosition,
  checkModify,
  checkNewOrder,
  checkOrderRate,
  checkPriceBand,
  checkSelfTrade,
  hasLimits,
  isRiskReducing,
  projectedPosition,
  requestsInWindow,
  resolveLimits,
  type ControlState,
  type ControlledOrder,
  type TradingControls,
} from '../../src/core/risk.js';
import { parseRunnerConfig } from '../../src/backtest/config.js';

const AMZN = makeInstrument({ instrumentId: 1, exchange: 'SIM', name: 'nasdaq:equity:amzn', tickSize: '0.01', lotSize: '1', baseCurrency: 'AMZN', quoteCurrency: 'USD' });
const FUT = makeInstrument({ instrumentId: 3, exchange: 'SIM', name: 'cme:fut:es', tickSize: '0.25', lotSize: '1', baseCurrency: 'ES', quoteCurrency: 'USD', multiplier: 50 });
const T0 = 1_340_285_400_000_000; // 2012-06-21 13:30:00Z
const SEC = 1_000_000;

function ord(side: Side, price: string, qty: string, over: Partial<ControlledOrder> = {}): ControlledOrder {
  return { side, orderType: OrderType.Limit, price: Price.of(price), qty: Qty.of(qty), leavesQty: Qty.of(qty), ...over };
}
const mkt = (side: Side, qty: string): ControlledOrder => ({ side, orderType: OrderType.Market, price: Price.ZERO, qty: Qty.of(qty), leavesQty: Qty.of(qty) });

let nextId = 0;
function open(side: Side, price: string, leaves: string, over: Partial<OrderView> = {}): OrderView {
  return {
    clientId: `o${++nextId}`,
    exchangeId: undefined,
    exchange: 'SIM',
    instrumentId: 1,
    side,
    orderType: OrderType.Limit,
    tif: TimeInForce.GTC,
    execInstr: [],
    price: Price.of(price),
    qty: Qty.of(leaves),
    filledQty: Qty.ZERO,
    leavesQty: Qty.of(leaves),
    avgFillPrice: Price.ZERO,
    status: OrderStatus.Open,
    createdTs: T0,
    ...over,
  };
}

function state(controls: TradingControls, over: Partial<ControlState> = {}): ControlState {
  return {
    instrument: AMZN,
    limits: resolveLimits(controls, AMZN.name),
    position: Qty.ZERO,
    openOrders: [],
    mid: 100,
    nowUs: T0,
    recentRequests: [],
    ...over,
  };
}

describe('resolveLimits', () => {
  it('takes the strategy values as defaults and the instrument override field by field', () => {
    const c: TradingControls = { maxOrderQty: 100, maxOpenOrders: 4, selfTradePrevention: 'reject', instruments: { 'nasdaq:equity:amzn': { maxOrderQty: '250', priceBandBps: 50 } } };
    const amzn = resolveLimits(c, 'nasdaq:equity:amzn');
    expect(amzn.maxOrderQty!.toString()).toBe('250');
    expect(amzn.maxOpenOrders).toBe(4);
    expect(amzn.priceBandBps).toBe(50);
    expect(amzn.selfTradePrevention).toBe('reject');
    const other = resolveLimits(c, 'other');
    expect(other.maxOrderQty!.toString()).toBe('100');
    expect(other.priceBandBps).toBeUndefined();
  });

  it('enforces nothing by default', () => {
    const l = resolveLimits(undefined, 'x');
    expect(l).toEqual({ selfTradePrevention: 'off', maxOrderQty: undefined, maxOrderNotional: undefined, maxOpenOrders: undefined, maxPosition: undefined, maxOrdersPerSec: undefined, priceBandBps: undefined });
    expect(hasLimits(l)).toBe(false);
    expect(hasLimits(resolveLimits({ selfTradePrevention: 'reject' }, 'x'))).toBe(true);
    expect(checkNewOrder(ord(Side.Buy, '1000', '1000000'), state({}))).toBeUndefined();
  });
});

describe('maxOrderQty', () => {
  it('refuses a qty above the limit, naming both and the instrument', () => {
    const s = state({ maxOrderQty: 200 });
    expect(checkMaxOrderQty(ord(Side.Buy, '100', '200'), s)).toBeUndefined();
    const r = checkMaxOrderQty(ord(Side.Buy, '100', '500'), s)!;
    expect(r.code).toBe(RejectCode.MaxOrderQty);
    expect(r.reason).toBe('qty 500 exceeds maxOrderQty 200 for nasdaq:equity:amzn');
  });
  it('compares decimals exactly', () => {
    const s = state({ maxOrderQty: '0.3' });
    expect(checkMaxOrderQty(ord(Side.Sell, '100', '0.3'), s)).toBeUndefined();
    expect(checkMaxOrderQty(ord(Side.Sell, '100', '0.30000001'), s)?.code).toBe(RejectCode.MaxOrderQty);
  });
});

describe('maxOrderNotional', () => {
  it('is price × qty × multiplier in the quote currency', () => {
    expect(checkMaxOrderNotional(ord(Side.Buy, '100', '100'), state({ maxOrderNotional: 10_000 }))).toBeUndefined();
    const r = checkMaxOrderNotional(ord(Side.Buy, '100.01', '100'), state({ maxOrderNotional: 10_000 }))!;
    expect(r.code).toBe(RejectCode.MaxOrderNotional);
    expect(r.reason).toBe('notional 10001 (qty 100 at price 100.01) exceeds maxOrderNotional 10000 for nasdaq:equity:amzn');
    const fut = { ...state({ maxOrderNotional: 100_000 }), instrument: FUT };
    expect(checkMaxOrderNotional(ord(Side.Buy, '2000', '1'), fut)).toBeUndefined(); // 2000 × 1 × 50 = 100 000
    expect(checkMaxOrderNotional(ord(Side.Buy, '4000', '1'), fut)?.reason).toMatch(/^notional 200000 /);
  });
  it('values a market order at the mid, and lets it pass without a mid', () => {
    expect(checkMaxOrderNotional(mkt(Side.Buy, '150'), state({ maxOrderNotional: 10_000 }))?.reason).toMatch(/^notional 15000 \(qty 150 at the mid 100\) exceeds/);
    expect(checkMaxOrderNotional(mkt(Side.Buy, '150'), state({ maxOrderNotional: 10_000 }, { mid: Number.NaN }))).toBeUndefined();
  });
});

describe('maxOpenOrders', () => {
  it('counts the open orders of the instrument, and not for a modify', () => {
    const orders = [open(Side.Buy, '99', '1'), open(Side.Sell, '101', '1')];
    expect(checkMaxOpenOrders(ord(Side.Buy, '99', '1'), state({ maxOpenOrders: 3 }, { openOrders: orders }))).toBeUndefined();
    const r = checkMaxOpenOrders(ord(Side.Buy, '99', '1'), state({ maxOpenOrders: 2 }, { openOrders: orders }))!;
    expect(r.code).toBe(RejectCode.MaxOpenOrders);
    expect(r.reason).toBe('2 open orders on nasdaq:equity:amzn reach maxOpenOrders 2');
    expect(checkMaxOpenOrders(ord(Side.Buy, '99', '1'), state({ maxOpenOrders: 2 }, { openOrders: orders, replacing: orders[0] }))).toBeUndefined();
    expect(checkMaxOpenOrders(ord(Side.Buy, '99', '1'), state({ maxOpenOrders: 0 }))?.code).toBe(RejectCode.MaxOpenOrders);
  });
});

describe('maxPosition', () => {
  it('counts the order and the open orders on its side as filled', () => {
    const s = state({ maxPosition: 300 }, { position: Qty.of('200'), openOrders: [open(Side.Buy, '99', '50'), open(Side.Sell, '101', '400')] });
    expect(projectedPosition(ord(Side.Buy, '99', '50'), s).toString()).toBe('300');
    expect(checkMaxPosition(ord(Side.Buy, '99', '50'), s)).toBeUndefined();
    const r = checkMaxPosition(ord(Side.Buy, '99', '100'), s)!;
    expect(r.code).toBe(RejectCode.MaxPosition);
    expect(r.reason).toBe('buy 100 would take the position in nasdaq:equity:amzn to 350 (position 200, open buys 50), beyond maxPosition 300');
  });
  it('applies to shorts in absolute value, and to flips', () => {
    const s = state({ maxPosition: 100 }, { position: Qty.of('-80') });
    expect(checkMaxPosition(ord(Side.Sell, '100', '20'), s)).toBeUndefined();
    expect(checkMaxPosition(ord(Side.Sell, '100', '21'), s)?.code).toBe(RejectCode.MaxPosition);
    // Buying 190 flips to +110: beyond the limit even though it starts by reducing.
    expect(checkMaxPosition(ord(Side.Buy, '100', '190'), s)?.code).toBe(RejectCode.MaxPosition);
    expect(checkMaxPosition(ord(Side.Buy, '100', '180'), s)).toBeUndefined();
  });
  it('always lets a risk-reducing order through, even above a tightened limit', () => {
    const s = state({ maxPosition: 50 }, { position: Qty.of('100') });
    expect(isRiskReducing(ord(Side.Sell, '100', '30'), s)).toBe(true);
    expect(checkMaxPosition(ord(Side.Sell, '100', '30'), s)).toBeUndefined();
    expect(checkMaxPosition(ord(Side.Buy, '100', '1'), s)?.code).toBe(RejectCode.MaxPosition);
  });
});

describe('isRiskReducing', () => {
  it('is an order on the other side that cannot flip the position, counting open orders on its side', () => {
    const long = state({}, { position: Qty.of('100'), openOrders: [open(Side.Sell, '101', '60')] });
    expect(isRiskReducing(ord(Side.Sell, '100', '40'), long)).toBe(true);
    expect(isRiskReducing(ord(Side.Sell, '100', '41'), long)).toBe(false);
    expect(isRiskReducing(ord(Side.Buy, '100', '1'), long)).toBe(false);
    expect(isRiskReducing(ord(Side.Buy, '100', '1'), state({}))).toBe(false);
    expect(isRiskReducing(ord(Side.Buy, '100', '5'), state({}, { position: Qty.of('-5') }))).toBe(true);
  });
});

describe('priceBandBps', () => {
  it('refuses a limit price farther from the mid than the band', () => {
    const s = state({ priceBandBps: 100 }, { mid: 100 });
    expect(checkPriceBand(ord(Side.Buy, '101', '1'), s)).toBeUndefined();
    expect(checkPriceBand(ord(Side.Sell, '99', '1'), s)).toBeUndefined();
    const r = checkPriceBand(ord(Side.Buy, '101.01', '1'), s)!;
    expect(r.code).toBe(RejectCode.PriceBand);
    expect(r.reason).toBe('price 101.01 is 101.0 bps from the mid 100, outside priceBandBps 100 for nasdaq:equity:amzn');
    expect(checkPriceBand(ord(Side.Sell, '98.99', '1'), s)?.code).toBe(RejectCode.PriceBand);
  });
  it('accepts without a mid, and does not apply to market orders', () => {
    expect(checkPriceBand(ord(Side.Buy, '500', '1'), state({ priceBandBps: 10 }, { mid: Number.NaN }))).toBeUndefined();
    expect(checkPriceBand(mkt(Side.Buy, '1'), state({ priceBandBps: 10 }))).toBeUndefined();
  });
});

describe('selfTradePrevention', () => {
  const orders = [open(Side.Sell, '100.05', '10'), open(Side.Buy, '99.95', '10')];
  it('refuses an order that reaches the strategy\'s own order on the other side', () => {
    const s = state({ selfTradePrevention: 'reject' }, { openOrders: orders });
    expect(checkSelfTrade(ord(Side.Buy, '100.04', '1'), s)).toBeUndefined();
    const r = checkSelfTrade(ord(Side.Buy, '100.05', '1'), s)!;
    expect(r.code).toBe(RejectCode.SelfTrade);
    expect(r.reason).toBe(`buy at 100.05 would cross the strategy's own sell '${orders[0]!.clientId}' at 100.05 on nasdaq:equity:amzn (selfTradePrevention)`);
    expect(checkSelfTrade(ord(Side.Sell, '99.95', '1'), s)?.code).toBe(RejectCode.SelfTrade);
    expect(checkSelfTrade(ord(Side.Sell, '99.96', '1'), s)).toBeUndefined();
    expect(checkSelfTrade(mkt(Side.Sell, '1'), s)?.reason).toMatch(/^sell at market would cross/);
  });
  it('counts orders with a cancel in flight, and is off by default', () => {
    const pending = [open(Side.Sell, '100', '1', { status: OrderStatus.PendingCancel })];
    expect(checkSelfTrade(ord(Side.Buy, '100', '1'), state({ selfTradePrevention: 'reject' }, { openOrders: pending }))?.code).toBe(RejectCode.SelfTrade);
    expect(checkSelfTrade(ord(Side.Buy, '100', '1'), state({}, { openOrders: pending }))).toBeUndefined();
    expect(checkSelfTrade(ord(Side.Buy, '100', '1'), state({ selfTradePrevention: 'off' }, { openOrders: pending }))).toBeUndefined();
  });
});

describe('maxOrdersPerSec', () => {
  it('counts the requests in the rolling second ending now', () => {
    const times = [T0, T0 + 100, T0 + 200];
    expect(requestsInWindow(times, T0 + 200)).toBe(3);
    expect(requestsInWindow(times, T0 + SEC)).toBe(2); // T0 left the window (now − 1 s < t)
    expect(checkOrderRate(ord(Side.Buy, '100', '1'), state({ maxOrdersPerSec: 4 }, { recentRequests: times, nowUs: T0 + 300 }))).toBeUndefined();
    const r = checkOrderRate(ord(Side.Buy, '100', '1'), state({ maxOrdersPerSec: 3 }, { recentRequests: times, nowUs: T0 + 300 }))!;
    expect(r.code).toBe(RejectCode.MaxOrderRate);
    expect(r.reason).toBe('3 new orders and modifies in the last second on nasdaq:equity:amzn reach maxOrdersPerSec 3');
    expect(checkOrderRate(ord(Side.Buy, '100', '1'), state({ maxOrdersPerSec: 3 }, { recentRequests: times, nowUs: T0 + SEC }))).toBeUndefined();
  });
  it('RequestWindow keeps only the last second', () => {
    const w = new RequestWindow();
    for (let i = 0; i < 5; i++) w.record(T0 + i * 300_000);
    expect(w.times(T0 + 1_200_000)).toEqual([T0 + 300_000, T0 + 600_000, T0 + 900_000, T0 + 1_200_000]);
    expect(w.times(T0 + 5 * SEC)).toEqual([]);
  });
});

describe('checkNewOrder / checkModify', () => {
  it('runs the checks in the documented order: the first failing one decides', () => {
    expect(NEW_ORDER_CHECKS.map((f) => f.name)).toEqual(['checkMaxOrderQty', 'checkMaxOrderNotional', 'checkMaxOpenOrders', 'checkMaxPosition', 'checkPriceBand', 'checkSelfTrade', 'checkOrderRate']);
    const s = state({ maxOrderQty: 10, maxOrderNotional: 100, priceBandBps: 1 });
    expect(checkNewOrder(ord(Side.Buy, '200', '20'), s)?.code).toBe(RejectCode.MaxOrderQty);
    expect(checkNewOrder(ord(Side.Buy, '200', '5'), s)?.code).toBe(RejectCode.MaxOrderNotional);
    expect(checkNewOrder(ord(Side.Buy, '19', '5'), s)?.code).toBe(RejectCode.PriceBand);
    expect(checkNewOrder(ord(Side.Buy, '100', '1'), s)).toBeUndefined();
  });
  it('holds a modify only to the limits it could breach', () => {
    const before = open(Side.Buy, '100', '300');
    const tight = state({ maxOrderQty: 200, maxPosition: 100, priceBandBps: 10 }, { openOrders: [before], replacing: before, mid: 130 });
    // Smaller qty, same price: no riskier, so it passes though qty, position and band are all beyond.
    expect(checkModify(ord(Side.Buy, '100', '250'), tight)).toBeUndefined();
    expect(checkModify(ord(Side.Buy, '100', '350'), tight)?.code).toBe(RejectCode.MaxOrderQty);
    expect(checkModify(ord(Side.Buy, '100.01', '250'), tight)?.code).toBe(RejectCode.PriceBand);
    const loose = state({ maxPosition: 400 }, { openOrders: [before, open(Side.Buy, '99', '50')], replacing: before });
    // Its own 300 is replaced by the new 350, plus 50 on the same side: 400.
    expect(checkModify(ord(Side.Buy, '100', '350'), loose)).toBeUndefined();
    expect(checkModify(ord(Side.Buy, '100', '351'), loose)?.code).toBe(RejectCode.MaxPosition);
    const stp = state({ selfTradePrevention: 'reject' }, { openOrders: [before, open(Side.Sell, '101', '1')], replacing: before });
    expect(checkModify(ord(Side.Buy, '101', '300'), stp)?.code).toBe(RejectCode.SelfTrade);
    expect(() => checkModify(ord(Side.Buy, '1', '1'), state({}))).toThrow(/replacing/);
  });
});

describe('config schemas', () => {
  it('accept the documented shape and refuse unknown keys and bad values with their path', () => {
    expect(TradingControlsSchema.parse({ maxOrderQty: '100', instruments: { a: { maxPosition: 5 } } })).toEqual({ maxOrderQty: '100', instruments: { a: { maxPosition: 5 } } });
    expect(() => parseRunnerConfig({ controls: { maxOrderQty: -1 } })).toThrow(/^config: controls\.maxOrderQty: /);
    expect(() => parseRunnerConfig({ controls: { instruments: { a: { priceBand: 5 } } } })).toThrow(/controls\.instruments\.a.*priceBand/);
    expect(() => parseRunnerConfig({ controls: { selfTradePrevention: 'cancel' } })).toThrow(/controls\.selfTradePrevention/);
    expect(() => parseRunnerConfig({ killSwitch: { dailyLossLimit: 0 } })).toThrow(/killSwitch\.dailyLossLimit/);
    expect(() => parseRunnerConfig({ killSwitch: { dayStart: '25:00:00' } })).toThrow(/killSwitch\.dayStart: a time of day/);
    expect(() => parseRunnerConfig({ killSwitch: { action: 'stop' } })).toThrow(/killSwitch\.action/);
    const rc = parseRunnerConfig({ controls: { maxOrdersPerSec: 5 }, killSwitch: { maxDrawdown: 500, action: 'flatten' } });
    expect(rc.controls).toEqual({ maxOrdersPerSec: 5 });
    expect(KillSwitchConfigSchema.parse(rc.killSwitch)).toEqual({ maxDrawdown: 500, action: 'flatten' });
  });
});

describe('KillSwitch', () => {
  const NY = 'America/New_York';
  it('trips on the loss since the start of the trading day', () => {
    const k = new KillSwitch({ dailyLossLimit: 1000 }, { timeZone: NY, startUs: T0 });
    expect(k.observe(500, T0 + SEC)).toBeUndefined();
    expect(k.observe(-499, T0 + 2 * SEC)).toBeUndefined(); // 999 below the day's start (0)
    expect(k.observe(-1000, T0 + 3 * SEC)).toBe('daily loss 1000 reached dailyLossLimit 1000');
    expect(k.state).toBe('tripped');
    expect(k.observe(-5000, T0 + 4 * SEC)).toBeUndefined(); // tripped: reports once
    expect(k.equity).toBe(-5000);
  });

  it('starts a new trading day at dayStart in the time zone, from the equity then', () => {
    // 15:00 New York on 2012-06-21 is 19:00Z; the next day starts at 04:00Z (midnight EDT).
    const start = Date.parse('2012-06-21T19:00:00Z') * 1000;
    const k = new KillSwitch({ dailyLossLimit: 1000 }, { timeZone: NY, startUs: start });
    expect(k.observe(-900, start + SEC)).toBeUndefined();
    const nextDay = Date.parse('2012-06-22T04:00:00Z') * 1000;
    // The loss of the previous day does not count against the new one.
    expect(k.observe(-1800, nextDay + SEC)).toBeUndefined();
    expect(k.dayStartEquityValue).toBe(-900);
    expect(k.observe(-1900, nextDay + 2 * SEC)).toBe('daily loss 1000 reached dailyLossLimit 1000');
    // A custom day start: 09:30 local.
    const k2 = new KillSwitch({ dailyLossLimit: 100, dayStart: '09:30:00' }, { timeZone: NY, startUs: start });
    expect(k2.observe(-90, start + SEC)).toBeUndefined();
    expect(k2.observe(-150, nextDay + SEC)).toBe('daily loss 150 reached dailyLossLimit 100'); // 00:00 is not a day start here
  });

  it('trips on a drawdown from peak equity', () => {
    const k = new KillSwitch({ maxDrawdown: 300 }, { timeZone: 'UTC', startUs: T0 });
    expect(k.observe(1000, T0 + 1)).toBeUndefined();
    expect(k.observe(750, T0 + 2)).toBeUndefined();
    expect(k.peakEquity).toBe(1000);
    expect(k.observe(700, T0 + 3)).toBe('drawdown 300 from peak equity 1000 reached maxDrawdown 300');
  });

  it('trips by hand, and reset re-arms it from the equity now', () => {
    const k = new KillSwitch({ maxDrawdown: 100, action: 'flatten' }, { timeZone: 'UTC', startUs: T0 });
    expect(k.action).toBe('flatten');
    k.observe(-50, T0 + 1);
    k.trip('manual');
    expect([k.state, k.reason]).toEqual(['tripped', 'manual']);
    k.reset();
    expect([k.state, k.reason, k.peakEquity]).toEqual(['armed', undefined, -50]);
    expect(k.observe(-149, T0 + 2)).toBeUndefined();
    expect(k.observe(-150, T0 + 3)).toMatch(/^drawdown 100 from peak equity -50/);
    expect(new KillSwitch({}, { timeZone: 'UTC', startUs: T0 }).action).toBe('pause');
  });
});
