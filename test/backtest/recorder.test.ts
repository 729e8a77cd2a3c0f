import { describe, expect, it } from 'vitest';
import { Price, Qty } from '../../src/api/decimal.js';
import { Liquidity, Side } from '../../src/api/enums.js';
import type { OrderExecution } from '../../src/api/events.js';
import { makeInstrument } from '../../src/api/instrument.js';
import { runBacktest } from '../../src/backtest/backtest.js';
import { InventoryMeter, Recorder, latencyStats, minuteReturns, percentile, sharpeRatio } from '../../src/backtest/recorder.js';
import { EQUITY_MINUTES_PER_YEAR, formatSummary, summarize } from '../../src/backtest/summary.js';
import { OrderTracker } from '../../src/core/order-tracker.js';
import { silentLogger } from '../../src/core/logger.js';
import type { VenueEvent, VenueRequest } from '../../src/core/venue.js';
import { openMarketData } from '../../src/data/open.js';
import { BaseStrategy, MDSub, OrderType, TimeInForce, type BestLevelUpdate, type IStratEnv, type Instrument } from '../../src/api/index.js';
import { AAPL } from '../helpers.js';

const T0 = 1_340_285_400_000_000; // 2012-06-21 13:30:00 UTC, µs
const MIN = 60_000_000;
const INST = makeInstrument({ instrumentId: 7, exchange: 'SIM', name: 'sim:equity:abc', tickSize: '0.01', lotSize: '1', baseCurrency: 'ABC', quoteCurrency: 'USD' });

const newOrder = (clientId: string) => ({ type: 'NewOrder', strategy: 's', clientId }) as unknown as VenueRequest;
const ev = (cb: VenueEvent['cb'], e: object): VenueEvent => ({ strategy: 's', cb, ev: e as never });
const fill = (side: Side, price: string, qty: string, fee: string, liquidity: Liquidity, ts: number): OrderExecution => ({
  exchange: 'SIM',
  clientId: 'x',
  side,
  price: Price.of(price),
  fillQty: Qty.of(qty),
  leavesQty: Qty.ZERO,
  execTs: ts,
  recvTs: ts,
  instrumentId: 7,
  fee: Price.of(fee),
  liquidity,
});

describe('sharpeRatio', () => {
  it('is mean / sample std of the returns, annualised by √(252 × 390) by default', () => {
    const s = sharpeRatio([1, 2, 3, 4]);
    const std = Math.sqrt(5 / 3); // Σ(r − 2.5)² = 5, over n − 1 = 3
    expect(s.meanPerMinute).toBe(2.5);
    expect(s.stdPerMinute).toBeCloseTo(std, 12);
    expect(s.perMinute).toBeCloseTo(2.5 / std, 12);
    expect(EQUITY_MINUTES_PER_YEAR).toBe(98_280);
    expect(s.annualized).toBeCloseTo((2.5 / std) * Math.sqrt(98_280), 9);
    expect(s.minutes).toBe(4);
    expect(s.periodsPerYear).toBe(98_280);
  });

  it('takes another annualisation, and is sign-correct for losses', () => {
    const s = sharpeRatio([-1, 1, -3], 525_600);
    // mean −1, deviations 0, 2, −2 → std = √(8 / 2) = 2
    expect(s.perMinute).toBeCloseTo(-0.5, 12);
    expect(s.annualized).toBeCloseTo(-0.5 * Math.sqrt(525_600), 9);
  });

  it('is null for a constant curve or fewer than two returns', () => {
    expect(sharpeRatio([0.1, 0.1, 0.1, 0.1]).perMinute).toBeNull();
    expect(sharpeRatio([0, 0, 0]).annualized).toBeNull();
    expect(sharpeRatio([5]).perMinute).toBeNull();
    expect(sharpeRatio([]).perMinute).toBeNull();
  });

  it('takes its returns from minute-end net PnL, starting at zero', () => {
    expect(minuteReturns([1, 3, 2, 2])).toEqual([1, 2, -1, 0]);
  });
});

describe('percentile and latencyStats', () => {
  it('use the nearest-rank method', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 90)).toBe(90);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    const ten = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    expect(percentile(ten, 50)).toBe(50);
    expect(percentile(ten, 90)).toBe(90);
    expect(percentile(ten, 99)).toBe(100); // rank ⌈9.9⌉ = 10
    expect(percentile([7], 1)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('sort the samples and report count, mean, p50/p90/p99 and max', () => {
    expect(latencyStats([400, 200, 300, 100, 1000])).toEqual({ count: 5, mean: 400, p50: 300, p90: 1000, p99: 1000, max: 1000 });
    expect(latencyStats([])).toEqual({ count: 0, mean: null, p50: null, p90: null, p99: null, max: null });
  });
});

describe('InventoryMeter', () => {
  it('time-weights |position| and the flat share over the period', () => {
    const m = new InventoryMeter(0);
    m.update(10, 100); // flat 0–10
    m.update(30, 0); // 100 for 20
    m.update(50, 50); // flat 30–50, then 50 for 50
    expect(m.stats(100)).toEqual({ maxAbsPosition: 100, avgAbsPosition: (100 * 20 + 50 * 50) / 100, flatPct: 30 });
  });

  it('is flat all along when nothing trades, and copes with an empty period', () => {
    expect(new InventoryMeter(5).stats(50)).toEqual({ maxAbsPosition: 0, avgAbsPosition: 0, flatPct: 100 });
    expect(new InventoryMeter(5).stats(5)).toEqual({ maxAbsPosition: 0, avgAbsPosition: 0, flatPct: 100 });
  });
});

describe('Recorder', () => {
  function recorded() {
    const rec = new Recorder();
    let mid = 100;
    rec.begin({ startTs: T0, instruments: [INST], mid: () => mid });
    // Mid: sampled once per simulated second.
    rec.onMarketEvent(7, T0 + 1);
    rec.onMarketEvent(7, T0 + 500_000);
    mid = 100.5;
    rec.onMarketEvent(7, T0 + 1_000_000);
    rec.onMarketEvent(7, T0 + 1_999_999);
    // Latency: sent at T0 + 1 s, acked 400 µs later; another rejected after 250 µs.
    rec.onRequest(T0 + 1e6, newOrder('a'));
    rec.onRequest(T0 + 1e6, newOrder('b'));
    rec.onVenueEvent(T0 + 1e6 + 250, ev('onNewOrderReject', { clientId: 'b' }));
    rec.onVenueEvent(T0 + 1e6 + 400, ev('onNewOrderAck', { clientId: 'a' }));
    rec.onVenueEvent(T0 + 1e6 + 500, ev('onNewOrderAck', { clientId: 'unknown' })); // not sent: ignored
    // Fills: buy 10 as maker at 1 min, sell 4 as taker at 2 min, sell 6 as taker at 3 min.
    rec.onVenueEvent(T0 + MIN, ev('onOrderExecution', fill(Side.Buy, '100', '10', '-0.2', Liquidity.Maker, T0 + MIN)));
    rec.onVenueEvent(T0 + 2 * MIN, ev('onOrderExecution', fill(Side.Sell, '101', '4', '0.12', Liquidity.Taker, T0 + 2 * MIN)));
    rec.onVenueEvent(T0 + 3 * MIN, ev('onOrderExecution', fill(Side.Sell, '99', '6', '0.18', Liquidity.Taker, T0 + 3 * MIN)));
    // Net PnL as the runner marks it.
    rec.onEquity(T0 + 30e6, 0);
    rec.onEquity(T0 + MIN, 0.2); // on the 1-min boundary: counts for minute 1
    rec.onEquity(T0 + 90e6, 2);
    rec.onEquity(T0 + 3 * MIN + 1, -1);
    rec.finish(T0 + 4 * MIN, -1.5); // ends on a boundary: 4 minutes, not 5
    return rec;
  }

  it('splits fills into maker and taker', () => {
    const { liquidity } = recorded().stats();
    expect(liquidity.maker).toEqual({ fills: 1, volume: 10, notional: 1000, fees: -0.2 });
    expect(liquidity.taker.fills).toBe(2);
    expect(liquidity.taker.volume).toBe(10);
    expect(liquidity.taker.notional).toBeCloseTo(404 + 594, 9);
    expect(liquidity.taker.fees).toBeCloseTo(0.3, 12);
  });

  it('measures order-to-ack and order-to-reject latency', () => {
    const { latency } = recorded().stats();
    expect(latency.ack).toEqual({ count: 1, mean: 400, p50: 400, p90: 400, p99: 400, max: 400 });
    expect(latency.reject).toMatchObject({ count: 1, p50: 250, max: 250 });
  });

  it('keeps inventory from the fills over the run period', () => {
    const s = recorded().stats();
    // 10 from 1 to 2 min, 6 from 2 to 3 min, flat otherwise; run of 4 min.
    const expected = { maxAbsPosition: 10, avgAbsPosition: (10 + 6) / 4, flatPct: 50 };
    expect(s.inventory).toEqual(expected);
    expect(s.instrumentInventory.get('SIM|7')).toEqual(expected);
  });

  it('takes the Sharpe ratio on minute-end net PnL', () => {
    const rec = recorded();
    expect(rec.data().minuteEquity).toEqual([0.2, 2, 2, -1.5]);
    const s = rec.stats().sharpe;
    const r = [0.2, 1.8, 0, -3.5];
    const mean = r.reduce((a, b) => a + b) / 4;
    const std = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / 3);
    expect(s.minutes).toBe(4);
    expect(s.perMinute).toBeCloseTo(mean / std, 12);
    expect(s.annualized).toBeCloseTo((mean / std) * Math.sqrt(98_280), 9);
  });

  it('records sampled series: mid once per second plus at fills, position after fills, equity', () => {
    const d = recorded().data();
    const i = d.instruments[0]!;
    expect(i.name).toBe('sim:equity:abc');
    expect(i.mid.t).toEqual([T0 + 1, T0 + 1_000_000, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
    expect(i.mid.v).toEqual([100, 100.5, 100.5, 100.5, 100.5]);
    expect(i.position.t).toEqual([T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN]);
    expect(i.position.v).toEqual([0, 10, 6, 0, 0]);
    expect(i.fills.side).toEqual([1, -1, -1]);
    expect(i.fills.maker).toEqual([1, 0, 0]);
    expect(i.fills.fee).toEqual([-0.2, 0.12, 0.18]);
    expect(d.equity.t[0]).toBe(T0);
    expect(d.equity.t.at(-1)).toBe(T0 + 4 * MIN);
    expect(d.equity.v.at(-1)).toBe(-1.5);
    expect(d.latency).toEqual({ ack: [400], reject: [250] });
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('feeds summarize and formatSummary', () => {
    const rec = recorded();
    const tracker = new OrderTracker();
    const s = summarize({ strategy: 's', tracker, names: new Map(), startTs: T0, endTs: T0 + 4 * MIN, events: 0, maxDrawdown: 0, callbackErrors: 0, stopAcked: true, stats: rec.stats() });
    expect(s.liquidity.maker.fills).toBe(1);
    expect(s.latency.ack.p99).toBe(400);
    expect(s.inventory.flatPct).toBe(50);
    const text = formatSummary(s);
    expect(text).toMatch(/^maker +1 fills · volume 10 · notional 1000\.00 · fees -0\.2000$/m);
    expect(text).toMatch(/^taker +2 fills/m);
    expect(text).toMatch(/^sharpe \(annualised\) +-?\d+\.\d\d \(per-minute -?\d\.\d{4} × √98280, 4 min\)$/m);
    expect(text).toMatch(/^time flat +50\.0 %$/m);
    expect(text).toMatch(/^order→ack latency +p50 400 · p90 400 · p99 400 · max 400 µs \(n=1\)$/m);
    expect(text).toMatch(/^order→reject latency +p50 250/m);
    // Without a recorder the fields are there, empty.
    const bare = summarize({ strategy: 's', tracker, names: new Map(), startTs: T0, endTs: T0, events: 0, maxDrawdown: 0, callbackErrors: 0, stopAcked: true });
    expect(bare.sharpe.annualized).toBeNull();
    expect(bare.latency.ack.count).toBe(0);
    expect(bare.inventory).toEqual({ maxAbsPosition: 0, avgAbsPosition: 0, flatPct: 100 });
  });

  it('refuses non-positive intervals', () => {
    expect(() => new Recorder({ midIntervalUs: 0 })).toThrow(RangeError);
    expect(() => new Recorder({ periodsPerYear: -1 })).toThrow(/periodsPerYear/);
  });
});

class TwoIocs extends BaseStrategy {
  inst!: Instrument;
  sent = 0;
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login('two-iocs');
    env.subscribeToMarketData('NASDAQ', ['nasdaq:equity:aapl'], [MDSub.BBO]);
  }
  override onInstruments(i: Instrument[]) {
    this.inst = i[0]!;
  }
  override onBestAskLevelUpdate(ev: BestLevelUpdate) {
    if (this.sent >= 2 || ev.qty.isZero()) return;
    this.sent++;
    this.env.sendNewOrder({ exchange: 'NASDAQ', instrumentId: this.inst.instrumentId, side: Side.Buy, price: ev.price, qty: '10', ordType: OrderType.Limit, timeInForce: TimeInForce.IOC });
  }
}

describe('the recorder in runBacktest', () => {
  it('agrees with the order tracker and sees the simulated latency', async () => {
    const r = await runBacktest({ strategy: new TwoIocs(), source: await openMarketData(AAPL), logger: silentLogger(), sim: { latency: { entryUs: () => 150, responseUs: () => 250 } } });
    const s = r.summary;
    expect(s.fills).toBeGreaterThanOrEqual(2);
    expect(s.liquidity.taker.fills + s.liquidity.maker.fills).toBe(s.fills);
    expect(s.liquidity.taker.volume + s.liquidity.maker.volume).toBe(s.volume);
    expect(s.liquidity.taker.fees + s.liquidity.maker.fees).toBeCloseTo(s.fees, 8);
    // Ack = entry + response latency.
    expect(s.latency.ack).toMatchObject({ count: 2, p50: 400, max: 400 });
    expect(s.inventory.maxAbsPosition).toBe(20);
    expect(s.instruments[0]!.inventory.maxAbsPosition).toBe(20);
    expect(r.recorder.data().equity.v.at(-1)).toBeCloseTo(s.netPnl, 6);
  });
});
