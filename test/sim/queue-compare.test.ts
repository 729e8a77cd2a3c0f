import { describe, expect, it } from 'vitest';
import type { MarketSource } from '../../src/backtest/backtest.js';
import { MdStatus, MdType, type MdEvent, type MdType as MdTypeT } from '../../src/data/events.js';
import { openMarketData } from '../../src/data/open.js';
import { L3DataRequiredError, compareQueueModels, summarizeComparison, type QueueComparisonOrder } from '../../src/sim/index.js';
import { AMZN } from '../helpers.js';
import { EQ, T0 } from './harness.js';

const BID = 1;
const ASK = -1;

/** A hand-made order-by-order day of EQ: builds events at explicit times. */
class Tape {
  readonly evs: MdEvent[] = [];
  ev(t: number, type: MdTypeT, side: -1 | 0 | 1, orderId: number, priceTick: number, qty: number, status = 0): this {
    this.evs.push({ type, instrumentId: EQ.instrumentId, exchTs: T0 + t, localTs: T0 + t, side, orderId, priceTick, qty, status });
    return this;
  }
  status(t: number, status: number): this {
    return this.ev(t, MdType.Status, 0, 0, 0, 0, status);
  }
  add(t: number, side: -1 | 1, id: number, tick: number, qty: number): this {
    return this.ev(t, MdType.OrderAdd, side, id, tick, qty);
  }
  del(t: number, side: -1 | 1, id: number, tick: number): this {
    return this.ev(t, MdType.OrderDelete, side, id, tick, 0);
  }
  exec(t: number, side: -1 | 1, id: number, tick: number, qty: number): this {
    return this.ev(t, MdType.OrderExec, side, id, tick, qty);
  }
  /** A snapshot at t = 0: bid 50 @ 10000 (id 1), 30 @ 9999 (id 4); ask 50 @ 10002 (id 2). */
  static opening(): Tape {
    return new Tape()
      .status(0, MdStatus.SnapshotStart)
      .add(0, BID, 1, 10000, 50)
      .add(0, BID, 4, 9999, 30)
      .add(0, ASK, 2, 10002, 50)
      .status(0, MdStatus.SnapshotEnd);
  }
  source(): MarketSource {
    const evs = this.evs;
    return {
      exchange: 'SIM',
      instruments: [EQ],
      async *events() {
        for (const e of evs) yield { ...e };
      },
    };
  }
}

/** One 10-lot bid joining 10000 right after the snapshot (the SnapshotEnd is the first counted event). */
const ONE_BID = { everyEvents: 1, maxOrders: 1, sides: 'bid' as const, lots: 10 };

/**
 * After the bid joins behind order 1 (50 lots): order 3 (20) joins behind it, order 1 is
 * deleted (FIFO: nothing ahead any more), order 3 executes whole at our price, then order 4
 * executes at 9999, through our price.
 */
function queueThenThrough(): Tape {
  return Tape.opening()
    .add(1000, BID, 3, 10000, 20)
    .del(2000, BID, 1, 10000)
    .exec(3000, BID, 3, 10000, 20)
    .exec(4000, BID, 4, 9999, 10);
}

describe('compareQueueModels: fill causes on a hand-made L3 day', () => {
  it('tells a queue fill from a trade-through, per model', async () => {
    const r = await compareQueueModels(queueThenThrough().source(), { ...ONE_BID, powers: [1, 3] });
    expect(r.models).toEqual(['prob1', 'prob3', 'l3', 'riskAverse']);
    expect(r.orders).toHaveLength(1);
    const o = r.orders[0]!;
    expect(o).toMatchObject({ id: 'q1', side: 1, priceTick: 10000, lots: 10, placedTs: T0 });
    const f = o.fills[0]!;
    // FIFO: the delete left nothing ahead; order 3 arrived after us, so its execution reached us first.
    expect(f.l3).toEqual({ ts: T0 + 3000, cause: 'queue' });
    // n = 3: front 50, back 20, d = 50 → p(behind) = 20³/(20³+50³) ≈ 0.06, ≈ 3 lots left ahead; the 20 traded fill us.
    expect(f.prob3).toEqual({ ts: T0 + 3000, cause: 'queue' });
    // n = 1: p ≈ 0.29, ≈ 14.3 ahead: the 20 fill only 5 of 10; the sweep through 9999 fills the rest.
    expect(f.prob1).toEqual({ ts: T0 + 4000, cause: 'tradeThrough' });
    // RiskAverse: the delete was behind us (clamped to the level, 20); the execution only moves us up.
    expect(f.riskAverse).toEqual({ ts: T0 + 4000, cause: 'tradeThrough' });

    const [h] = r.horizons;
    expect(h!.orders).toBe(1);
    expect(h!.models['l3']).toMatchObject({ filled: 1, queue: 1, tradeThrough: 0, cross: 0, queueFrac: 1 });
    expect(h!.models['prob1']).toMatchObject({ filled: 1, queue: 0, tradeThrough: 1, queueFrac: 0 });
    // Both filled; one of the two fills is a queue fill, so the order is in the queue set.
    expect(h!.vsL3['riskAverse']!.queue).toMatchObject({ n: 1, medianAbsDeltaUs: 1000, laterFrac: 1, earlierFrac: 0 });
    expect(h!.vsL3['prob3']!.queue).toMatchObject({ n: 1, medianAbsDeltaUs: 0, laterFrac: 0, earlierFrac: 0 });
  });

  it('calls it a cross when the opposite best reaches the price, and a trade-through when a trade prints at an emptied level', async () => {
    const crossed = Tape.opening()
      .del(1000, BID, 1, 10000) // our level empties: best bid 9999, our virtual bid alone at 10000
      .add(2000, ASK, 5, 10000, 5); // an ask at our price
    const a = (await compareQueueModels(crossed.source(), { ...ONE_BID, powers: [3] })).orders[0]!.fills[0]!;
    for (const m of ['prob3', 'l3', 'riskAverse']) expect(a[m]).toEqual({ ts: T0 + 2000, cause: 'cross' });

    const hidden = Tape.opening()
      .del(1000, BID, 1, 10000)
      .ev(2000, MdType.Trade, ASK, 0, 10000, 10); // a hidden sell at our price, nothing visible there
    const b = (await compareQueueModels(hidden.source(), { ...ONE_BID, powers: [3] })).orders[0]!.fills[0]!;
    for (const m of ['prob3', 'l3', 'riskAverse']) expect(b[m]).toEqual({ ts: T0 + 2000, cause: 'tradeThrough' });
  });

  it('cancels at the horizon: a fill at or after placedTs + H never counts, shorter horizons fill fewer orders', async () => {
    const r = await compareQueueModels(queueThenThrough().source(), { ...ONE_BID, powers: [3], horizonsUs: [0, 3000, 3001, 4000, 4001, Number.POSITIVE_INFINITY] });
    const f = r.orders[0]!.fills;
    const filledBy = (h: number) => Object.keys(f[h]!).sort();
    expect(filledBy(0)).toEqual([]); // cancelled before any market event
    expect(filledBy(1)).toEqual([]); // the queue fill at +3000 comes after the cancel at +3000
    expect(filledBy(2)).toEqual(['l3', 'prob3']);
    expect(filledBy(3)).toEqual(['l3', 'prob3']);
    expect(filledBy(4)).toEqual(['l3', 'prob3', 'riskAverse']);
    expect(filledBy(5)).toEqual(['l3', 'prob3', 'riskAverse']);
    const h = r.horizons;
    expect(h.map((s) => s.models['l3']!.filled)).toEqual([0, 0, 1, 1, 0, 1]); // horizon 4001: censored, not counted
    // Horizon 3001: RiskAverse is left behind, a disagreement that matters to a market maker.
    expect(h[2]!.vsL3['riskAverse']).toMatchObject({ onlyModel: 0, onlyL3: 1, disagreeFrac: 1 });
    expect(h[2]!.vsL3['prob3']).toMatchObject({ onlyModel: 0, onlyL3: 0, disagreeFrac: 0 });
    // 4001 runs past the end of the data (+4000): censored.
    expect(h[4]).toMatchObject({ orders: 0, censored: 1 });
    expect(h[5]).toMatchObject({ orders: 1, censored: 0 });
  });

  it('refuses bad plans and L2 data', async () => {
    await expect(compareQueueModels(queueThenThrough().source(), { ...ONE_BID, horizonsUs: [-1] })).rejects.toThrow(RangeError);
    await expect(compareQueueModels(queueThenThrough().source(), { ...ONE_BID, powers: [0] })).rejects.toThrow(RangeError);
    await expect(compareQueueModels(queueThenThrough().source(), { ...ONE_BID, powers: [2, 2] })).rejects.toThrow(RangeError);
    const l2 = new Tape()
      .status(0, MdStatus.SnapshotStart)
      .ev(0, MdType.LevelSet, BID, 0, 10000, 50)
      .ev(0, MdType.LevelSet, ASK, 0, 10002, 50)
      .status(0, MdStatus.SnapshotEnd);
    await expect(compareQueueModels(l2.source(), ONE_BID)).rejects.toThrow(L3DataRequiredError);
  });
});

describe('summarizeComparison', () => {
  const order = (id: number, placedTs: number, fills: QueueComparisonOrder['fills']): QueueComparisonOrder => ({ id: `q${id}`, side: 1, priceTick: 100, lots: 1, placedTs, fills });
  it('counts disagreements, keeps the queue set apart and leaves censored orders out', () => {
    const orders = [
      order(1, 0, [{ l3: { ts: 10, cause: 'queue' }, m: { ts: 30, cause: 'tradeThrough' } }]), // m later by 20, queue set
      order(2, 0, [{ l3: { ts: 50, cause: 'tradeThrough' }, m: { ts: 50, cause: 'tradeThrough' } }]), // same sweep, not in the queue set
      order(3, 0, [{ m: { ts: 40, cause: 'queue' } }]), // only m
      order(4, 0, [{ l3: { ts: 5, cause: 'cross' } }]), // only l3
      order(5, 0, [{ l3: { ts: 60, cause: 'queue' }, m: { ts: 20, cause: 'queue' } }]), // m earlier by 40
      order(6, 95, [{ l3: { ts: 96, cause: 'queue' } }]), // horizon ends after the data: censored
      order(7, 0, [{}]), // neither
    ];
    const [s] = summarizeComparison(orders, ['m', 'l3'], [100], 150);
    expect(s).toMatchObject({ horizonUs: 100, orders: 6, censored: 1 });
    expect(s!.models['l3']).toEqual({ filled: 4, filledFrac: 4 / 6, queue: 2, tradeThrough: 1, cross: 1, queueFrac: 2 / 6 });
    expect(s!.models['m']).toMatchObject({ filled: 4, queue: 2, tradeThrough: 2, cross: 0 });
    const v = s!.vsL3['m']!;
    expect(v).toMatchObject({ onlyModel: 1, onlyL3: 1, disagreeFrac: 2 / 6 });
    expect(v.both).toEqual({ n: 3, medianAbsDeltaUs: 20, p90AbsDeltaUs: 40, earlierFrac: 1 / 3, laterFrac: 1 / 3 });
    expect(v.queue).toEqual({ n: 2, medianAbsDeltaUs: 20, p90AbsDeltaUs: 40, earlierFrac: 0.5, laterFrac: 0.5 });
    expect(s!.vsL3['l3']).toBeUndefined();
    const [none] = summarizeComparison([], ['m', 'l3'], [Number.POSITIVE_INFINITY], 0);
    expect(none!.vsL3['m']!.both.medianAbsDeltaUs).toBeNaN();
  });
});

describe('compareQueueModels on the AMZN day', () => {
  const plan = { everyEvents: 200, lots: 100, powers: [1, 2, 3], horizonsUs: [1e6, 10e6, 60e6, Number.POSITIVE_INFINITY] };
  it('places the same orders under each model and horizon; fills only inside the horizon; deterministic', async () => {
    const r = await compareQueueModels(await openMarketData(AMZN), plan);
    expect(r.models).toEqual(['prob1', 'prob2', 'prob3', 'l3', 'riskAverse']);
    expect(r.orders.length).toBeGreaterThan(500);
    for (const o of r.orders) {
      r.horizonsUs.forEach((hUs, h) => {
        for (const f of Object.values(o.fills[h]!)) {
          expect(f!.ts).toBeGreaterThanOrEqual(o.placedTs);
          expect(f!.ts).toBeLessThan(o.placedTs + hUs); // cancelled at the horizon: never filled at or after it
        }
      });
    }
    const pc = (x: number) => (x * 100).toFixed(1);
    const lines = r.horizons.map((h) => {
      const m = Object.entries(h.models).map(([k, s]) => `${k} ${pc(s.filledFrac)}/${pc(s.queueFrac)}%`);
      const v = Object.entries(h.vsL3).map(([k, s]) => `${k} ${s.onlyModel}/${s.onlyL3} q${s.queue.n} p90 ${(s.queue.p90AbsDeltaUs / 1e3).toFixed(1)}ms ${pc(s.queue.earlierFrac)}/${pc(s.queue.laterFrac)}%`);
      return `  ${h.horizonUs / 1e6} s, ${h.orders} orders; filled/queue: ${m.join(', ')}; vs L3 only/onlyL3, queue set: ${v.join(', ')}`;
    });
    console.log(`AMZN queue comparison, ${r.orders.length} orders\n${lines.join('\n')}`);
    // Longer horizons fill more, under every model.
    for (const m of r.models) {
      const fr = r.horizons.map((h) => h.models[m]!.filledFrac);
      for (let i = 1; i < fr.length; i++) expect(fr[i]!).toBeGreaterThan(fr[i - 1]!);
      const s = r.horizons.at(-1)!.models[m]!;
      expect(s.filledFrac).toBeGreaterThan(0.5);
      expect(s.queue).toBeGreaterThan(0); // the queue models are exercised, not only sweeps
      expect(s.queue + s.tradeThrough + s.cross).toBe(s.filled);
    }
    for (const h of r.horizons) {
      for (const v of Object.values(h.vsL3)) {
        expect(v.both.earlierFrac + v.both.laterFrac).toBeLessThanOrEqual(1);
        expect(v.queue.n).toBeLessThanOrEqual(v.both.n);
        if (v.queue.n > 0) expect(v.queue.p90AbsDeltaUs).toBeGreaterThanOrEqual(v.queue.medianAbsDeltaUs);
      }
      // A trade-through or a cross fills every model alike: only queue fills can disagree, and they are few.
      expect(h.vsL3['riskAverse']!.disagreeFrac).toBeLessThan(0.05);
    }
    const again = await compareQueueModels(await openMarketData(AMZN), plan);
    expect(JSON.stringify(again)).toBe(JSON.stringify(r));
  }, 120_000);
});
