import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InstrumentType } from '../../src/api/enums.js';
import { L3Book, ORDER_ADDED, ORDER_DELETED, ORDER_MODIFIED } from '../../src/book/l3-book.js';
import { ASK, BID, MdStatus, MdType, type MdEvent } from '../../src/data/events.js';
import { DEFAULT_SYNTHETIC_MODEL, SYNTHETIC_DEFAULT_START_US, generateMarket, type SyntheticOptions } from '../../src/data/synthetic.js';

const FIELDS = ['type', 'instrumentId', 'exchTs', 'localTs', 'side', 'orderId', 'priceTick', 'qty', 'status'] as const;

/** SHA-256 over every field of the first `n` events of a sync pass. */
function hashEvents(opts: SyntheticOptions, n = 100_000): string {
  const h = createHash('sha256');
  const row = new Float64Array(FIELDS.length);
  let i = 0;
  for (const ev of generateMarket(opts).eventsSync()) {
    for (let f = 0; f < FIELDS.length; f++) row[f] = ev[FIELDS[f]!];
    h.update(row);
    if (++i === n) break;
  }
  return h.digest('hex');
}

function take(it: Iterable<MdEvent>, n: number): MdEvent[] {
  const out: MdEvent[] = [];
  for (const ev of it) {
    out.push({ ...ev });
    if (out.length === n) break;
  }
  return out;
}

describe('generateMarket: determinism', () => {
  it('gives identical events for the same seed (hash of the first 100k events)', () => {
    const a = hashEvents({ events: 150_000, seed: 7 });
    const b = hashEvents({ events: 150_000, seed: 7 });
    expect(a).toBe(b);
    // A second pass of the same market object starts again from the seed.
    const m = generateMarket({ events: 1000, seed: 7 });
    expect(take(m.eventsSync(), 1000)).toEqual(take(m.eventsSync(), 1000));
  });

  it('gives different events for a different seed', () => {
    expect(hashEvents({ events: 100_000, seed: 7 })).not.toBe(hashEvents({ events: 100_000, seed: 8 }));
  });

  it('pins the stream of seed 1 (same on every platform; update on purpose when the model changes)', () => {
    expect(hashEvents({ events: 100_000, seed: 1 })).toBe('81382a8d264b4f72efb395c4d83a851188005bff5ea69740afa90a17a725f61e');
  });

  it('events() yields the same events as eventsSync()', async () => {
    const m = generateMarket({ events: 5000, seed: 3 });
    const viaAsync: MdEvent[] = [];
    for await (const ev of m.events()) viaAsync.push({ ...ev });
    expect(viaAsync).toEqual(take(m.eventsSync(), 5000));
  });

  it('async next() results stay valid when several are requested before awaiting', async () => {
    const it = generateMarket({ events: 100, seed: 3 }).events()[Symbol.asyncIterator]();
    const [a, b] = await Promise.all([it.next(), it.next()]);
    expect(a.value).not.toBe(b.value);
    expect((a.value as MdEvent).status).toBe(MdStatus.SnapshotStart);
    expect((b.value as MdEvent).type).toBe(MdType.OrderAdd);
  });
});

describe('generateMarket: the stream', () => {
  it('yields exactly `events` events, cutting a snapshot or a sweep if need be', () => {
    for (const n of [0, 1, 2, 17, 53, 1000, 12_345]) {
      const m = generateMarket({ events: n, seed: 5 });
      let count = 0;
      for (const _ of m.eventsSync()) count++;
      expect(count).toBe(n);
      expect(m.stats.events).toBe(n);
    }
  });

  it('opens with a snapshot of several levels a side framed by SnapshotStart / SnapshotEnd', () => {
    const evs = take(generateMarket({ events: 1000, seed: 2 }).eventsSync(), 1000);
    expect(evs[0]).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotStart });
    const end = evs.findIndex((e) => e.type === MdType.Status && e.status === MdStatus.SnapshotEnd);
    expect(end).toBeGreaterThan(20);
    const snap = evs.slice(1, end);
    expect(snap.every((e) => e.type === MdType.OrderAdd)).toBe(true);
    const levels = (side: number) => new Set(snap.filter((e) => e.side === side).map((e) => e.priceTick)).size;
    expect(levels(BID)).toBe(DEFAULT_SYNTHETIC_MODEL.initialLevels);
    expect(levels(ASK)).toBe(DEFAULT_SYNTHETIC_MODEL.initialLevels);
    // Mid 100.00 at tick 0.01: best bid 99.99, best ask 100.01.
    expect(Math.max(...snap.filter((e) => e.side === BID).map((e) => e.priceTick))).toBe(9999);
    expect(Math.min(...snap.filter((e) => e.side === ASK).map((e) => e.priceTick))).toBe(10001);
    // No other status afterwards, and only L3 order events.
    for (const e of evs.slice(end + 1)) expect([MdType.OrderAdd, MdType.OrderCancel, MdType.OrderDelete, MdType.OrderExec]).toContain(e.type);
    expect(evs[0]!.exchTs).toBe(SYNTHETIC_DEFAULT_START_US);
  });

  it('keeps the book consistent at every event for 200k events: known ids, FIFO execs at the best, never crossed, never an empty side', () => {
    const m = generateMarket({ events: 200_000, seed: 11, localLatencyUs: 250 });
    const book = new L3Book();
    const l2 = book.l2;
    let lastTs = -Infinity;
    let lastId = 0;
    let inSnapshot = false;
    let afterSnapshot = false;
    let problems = 0;
    const fail = (msg: string, ev: MdEvent) => {
      if (problems++ < 5) expect.fail(`${msg}: ${JSON.stringify(ev)}`);
    };
    for (const ev of m.eventsSync()) {
      if (!(ev.exchTs > lastTs)) fail('timestamp not increasing', ev);
      lastTs = ev.exchTs;
      if (ev.localTs !== ev.exchTs + 250) fail('localTs', ev);
      if (ev.instrumentId !== m.instrument.instrumentId) fail('instrument', ev);
      if (ev.type === MdType.Status) {
        if (ev.status === MdStatus.SnapshotStart) inSnapshot = true;
        if (ev.status === MdStatus.SnapshotEnd) {
          inSnapshot = false;
          afterSnapshot = true;
        }
        continue;
      }
      if (!(Number.isInteger(ev.qty) && ev.qty > 0)) fail('qty must be a positive integer', ev);
      if (!(Number.isInteger(ev.priceTick) && ev.priceTick >= 1)) fail('price must be a positive tick', ev);
      const o = book.order(ev.orderId);
      switch (ev.type) {
        case MdType.OrderAdd:
          if (ev.orderId !== lastId + 1) fail('ids must be 1, 2, 3, …', ev);
          lastId = ev.orderId;
          if (afterSnapshot && (ev.side === BID ? ev.priceTick >= l2.bestAskTick() : ev.priceTick <= l2.bestBidTick())) fail('add crosses', ev);
          if (book.apply(ev) !== ORDER_ADDED) fail('add refused', ev);
          break;
        case MdType.OrderCancel:
          if (o === undefined || o.side !== ev.side || o.priceTick !== ev.priceTick || !(ev.qty < o.qty)) fail('partial cancel does not match its order', ev);
          if (book.apply(ev) !== ORDER_MODIFIED) fail('cancel', ev);
          break;
        case MdType.OrderDelete:
          if (o === undefined || o.side !== ev.side || o.priceTick !== ev.priceTick || o.qty !== ev.qty) fail('delete does not match its order', ev);
          if (book.apply(ev) !== ORDER_DELETED) fail('delete', ev);
          break;
        case MdType.OrderExec: {
          const best = ev.side === BID ? l2.bestBidTick() : l2.bestAskTick();
          if (ev.priceTick !== best) fail('exec away from the best', ev);
          if (book.firstOrderIdAt(ev.side, ev.priceTick) !== ev.orderId) fail('exec out of FIFO order', ev);
          if (o === undefined || ev.qty > o.qty) fail('exec larger than the order', ev);
          const code = book.apply(ev);
          if (code !== ORDER_DELETED && code !== ORDER_MODIFIED) fail('exec', ev);
          break;
        }
        default:
          fail('unexpected type', ev);
      }
      if (afterSnapshot && !inSnapshot) {
        if (l2.depth(BID) === 0 || l2.depth(ASK) === 0) fail('empty side', ev);
        if (l2.isCrossed()) fail('crossed book', ev);
      }
    }
    expect(problems).toBe(0);
    expect(book.unknownIdCount).toBe(0);
    expect(book.duplicateIdCount).toBe(0);
    expect(book.invalidCount).toBe(0);
    expect(book.size).toBe(m.stats.liveOrders);
    // The live book stays bounded (cancels grow with it) and the price near the opening mid.
    expect(m.stats.maxLiveOrders).toBeLessThan(1500);
    const mid = (l2.bestBidTick() + l2.bestAskTick()) / 2;
    expect(Math.abs(mid - 10000)).toBeLessThan(500);
  });

  it('has a plausible event mix: adds, deletes, partial cancels and execs; some market orders sweep levels', () => {
    const m = generateMarket({ events: 200_000, seed: 21 });
    for (const _ of m.eventsSync());
    const s = m.stats;
    const share = (t: number) => s.byType[t]! / s.events;
    expect(share(MdType.OrderAdd)).toBeGreaterThan(0.4);
    expect(share(MdType.OrderAdd)).toBeLessThan(0.55);
    expect(share(MdType.OrderDelete)).toBeGreaterThan(0.3);
    expect(share(MdType.OrderDelete)).toBeLessThan(0.48);
    expect(share(MdType.OrderCancel)).toBeGreaterThan(0.01);
    expect(share(MdType.OrderCancel)).toBeLessThan(0.08);
    expect(share(MdType.OrderExec)).toBeGreaterThan(0.05);
    expect(share(MdType.OrderExec)).toBeLessThan(0.2);
    expect(s.byType[MdType.Trade]).toBe(0);
    expect(s.byType[MdType.Status]).toBe(2);
    expect(s.sweeps / s.marketOrders).toBeGreaterThan(0.01);
    expect(s.sweeps / s.marketOrders).toBeLessThan(0.3);
    expect(s.maxLevelsSwept).toBeGreaterThanOrEqual(2);
    expect(s.maxLevelsSwept).toBeLessThanOrEqual(DEFAULT_SYNTHETIC_MODEL.maxSweepLevels);
  });

  it('cancels orders far from the touch more readily than orders at it', () => {
    const book = new L3Book();
    const l2 = book.l2;
    // Per-order cancel hazard = cancels at a distance / order-events resting at that distance.
    let cancelsTouch = 0;
    let cancelsFar = 0;
    let exposureTouch = 0;
    let exposureFar = 0;
    let started = false;
    for (const ev of generateMarket({ events: 200_000, seed: 4 }).eventsSync()) {
      if (ev.type === MdType.Status && ev.status === MdStatus.SnapshotEnd) started = true;
      if (started && (ev.type === MdType.OrderDelete || ev.type === MdType.OrderCancel)) {
        const best = ev.side === BID ? l2.bestBidTick() : l2.bestAskTick();
        const d = Math.abs(best - ev.priceTick);
        if (d === 0) cancelsTouch++;
        else if (d >= 8) cancelsFar++;
        for (const side of [BID, ASK] as const) {
          for (let i = 0; i < l2.depth(side); i++) {
            const tick = l2.levelTick(side, i);
            const dist = Math.abs(tick - l2.levelTick(side, 0));
            const n = book.orderCountAt(side, tick);
            if (dist === 0) exposureTouch += n;
            else if (dist >= 8) exposureFar += n;
          }
        }
      }
      book.apply(ev);
    }
    const ratio = cancelsFar / exposureFar / (cancelsTouch / exposureTouch);
    expect(ratio).toBeGreaterThan(1.3);
  });

  it('clusters event times after market orders (Hawkes), and not without the jump', () => {
    /** Decisions in the 20 ms after each market order, relative to the average rate. */
    const rateAfterMarket = (hawkesJump: number) => {
      const ts: number[] = []; // decision times (a sweep's later execs excluded)
      const marketIdx: number[] = []; // indices in ts of market orders
      let prevExecTs = -Infinity;
      for (const ev of generateMarket({ events: 200_000, seed: 6, model: { hawkesJump } }).eventsSync()) {
        if (ev.type === MdType.Status) continue;
        if (ev.type === MdType.OrderExec) {
          const continuation = ev.exchTs === prevExecTs + 1;
          prevExecTs = ev.exchTs;
          if (continuation) continue;
          marketIdx.push(ts.length);
        }
        ts.push(ev.exchTs);
      }
      const window = 20_000;
      let after = 0;
      for (const i of marketIdx) {
        let j = i + 1;
        while (j < ts.length && ts[j]! - ts[i]! <= window) j++;
        after += j - i - 1;
      }
      const avgRate = ts.length / (ts[ts.length - 1]! - ts[0]!);
      return after / (marketIdx.length * window) / avgRate;
    };
    expect(rateAfterMarket(1)).toBeGreaterThan(1.2);
    const flat = rateAfterMarket(0);
    expect(flat).toBeGreaterThan(0.9);
    expect(flat).toBeLessThan(1.1);
  });
});

describe('generateMarket: options', () => {
  it('is a MarketSource with a default synthetic equity', () => {
    const m = generateMarket({ events: 10, seed: 1 });
    expect(m.exchange).toBe('SYNTH');
    expect(m.instruments).toEqual([m.instrument]);
    expect(m.instrument.name).toBe('synthetic:equity:syn');
    expect(m.instrument.type).toBe(InstrumentType.Equity);
    expect(m.instrument.tickSize.toString()).toBe('0.01');
    expect(m.instrument.lotSize.toString()).toBe('1');
    expect(m.data?.format).toBe('synthetic');
    expect(m.data?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(generateMarket({ events: 10, seed: 2 }).data?.sha256).not.toBe(m.data?.sha256);
    expect(m.options.model).toEqual(DEFAULT_SYNTHETIC_MODEL);
  });

  it('takes an instrument, a mid price, a start time and model overrides', () => {
    const m = generateMarket({
      events: 20_000,
      seed: 9,
      startTs: 1_000_000,
      midPrice: 50_000,
      instrument: { instrumentId: 7, exchange: 'X', name: 'x:perp:btc-usdt', tickSize: '0.5', lotSize: '0.001' },
      model: { marketRate: 0, partialCancelProb: 0 },
    });
    const evs = take(m.eventsSync(), 20_000);
    expect(m.instrument.instrumentId).toBe(7);
    expect(evs[0]!.exchTs).toBe(1_000_000);
    expect(evs.every((e) => e.instrumentId === 7)).toBe(true);
    const end = evs.findIndex((e) => e.status === MdStatus.SnapshotEnd);
    const snapBids = evs.slice(0, end).filter((e) => e.type === MdType.OrderAdd && e.side === BID);
    expect(Math.max(...snapBids.map((e) => e.priceTick))).toBe(99_999); // 50 000 / 0.5 − 1
    expect(evs.some((e) => e.type === MdType.OrderExec)).toBe(false);
    expect(evs.some((e) => e.type === MdType.OrderCancel)).toBe(false);
    expect(m.stats.maxLiveOrders).toBeLessThan(2000);
  });

  it('stops a pass early on break, and the next pass starts over', () => {
    const m = generateMarket({ events: 1_000_000, seed: 1 });
    let n = 0;
    for (const _ of m.eventsSync()) if (++n === 10) break;
    expect(m.stats.events).toBe(10);
    const it = m.eventsSync();
    expect(it.next().value).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotStart });
    expect(it.return?.().done).toBe(true);
    expect(it.next().done).toBe(true);
  });

  it('rejects invalid options', () => {
    const bad: SyntheticOptions[] = [
      { events: -1, seed: 1 },
      { events: 1.5, seed: 1 },
      { events: 10, seed: 0.5 },
      { events: 10, seed: 1, midPrice: 0.05 }, // 5 ticks: no room for 10 bid levels
      { events: 10, seed: 1, midPrice: -1 },
      { events: 10, seed: 1, startTs: -5 },
      { events: 10, seed: 1, model: { limitRate: 0 } },
      { events: 10, seed: 1, model: { cancelRate: 0 } },
      { events: 10, seed: 1, model: { marketRate: 20, hawkesJump: 1, hawkesDecay: 20 } }, // branching ratio 1
      { events: 10, seed: 1, model: { minLevels: 5, initialLevels: 4 } },
      { events: 10, seed: 1, model: { limitSizeMedian: 10, limitSizeP99: 5 } },
      { events: 10, seed: 1, model: { partialCancelProb: 2 } },
      { events: 10, seed: 1, model: { maxSweepLevels: 0 } },
      { events: 10, seed: 1, model: { addDistanceMean: Number.NaN } },
      { events: 10, seed: 1, model: { cancelrate: 1 } as never }, // a typo is not silently ignored
    ];
    for (const o of bad) expect(() => generateMarket(o), JSON.stringify(o)).toThrow(RangeError);
    expect(() => generateMarket({ events: 10, seed: 1, instrument: { tickSize: '0' } })).toThrow(RangeError);
  });
});
