/**
 * A synthetic market: a seeded, endless-if-you-like stream of realistic L3 events for one
 * instrument, for tests, demos and benchmarks that should not depend on a data file.
 *
 * The model is zero-intelligence order flow (Smith–Farmer / Cont–Stoikov–Talreja style) on a
 * maintained `L3Book`, with Hawkes-flavoured clustering of event times:
 *
 * - **Decisions.** Each step is one decision: a limit add (rate `limitRate`), a cancel
 *   (rate `cancelRate` × resting orders) or a market order (rate `marketRate`), chosen in
 *   proportion to those rates. Cancels growing with the book keep it bounded: the live book
 *   settles around `(limitRate − marketRate × orders-per-market) / cancelRate` orders.
 * - **Times.** Decisions arrive with intensity `Λ × (1 + x(t))`, where Λ is the sum of the
 *   three rates above and the excitation x jumps by `hawkesJump` after each market order and
 *   decays at `hawkesDecay` per second. Inter-arrival times are drawn exactly for this
 *   intensity (Dassios–Zhao), in continuous time, then floored to µs; every event gets a
 *   strictly greater µs timestamp than the last (events of one decision, e.g. the execs of
 *   a sweep, 1 µs apart).
 * - **Limit adds** (bid or ask 50/50) go at a geometric distance d ≥ 0 (mean
 *   `addDistanceMean`, capped at `maxAddDistance`) from the opposite best: a bid at
 *   `bestAsk − 1 − d`, an ask at `bestBid + 1 + d`. So an add never crosses, and adds with a
 *   wide spread often improve it. Sizes are log-normal (median and 99th percentile in lots)
 *   rounded to whole lots, at least 1; they are drawn through a 4096-bin quantile table
 *   (linear inside a bin, exact in the top bin), the distance through an alias table: one
 *   32-bit draw each.
 * - **Cancels** pick a resting order uniformly, then keep it with probability
 *   `1 − (1 − cancelTouchWeight) × e^(−distance / cancelDepthScale)` (distance in ticks from
 *   its side's best; else draw again, up to 8 times): orders far from the touch are more
 *   likely to go. A fraction `partialCancelProb` of the cancels of orders of 2+ lots are
 *   partial (OrderCancel of 1..qty−1 lots); the rest delete the order (OrderDelete).
 * - **Market orders** buy or sell (50/50, nudged toward the opening mid by
 *   `meanReversion` so that the price cannot wander off over long runs), size log-normal,
 *   and execute FIFO against the best levels: one OrderExec per resting order hit (side =
 *   the resting side, so the taker is the other one), sweeping up to `maxSweepLevels`.
 * - **Invariants.** The book opens with a snapshot (Status SnapshotStart, `initialLevels`
 *   levels a side of 1..`initialOrdersPerLevel` orders, SnapshotEnd; spread 2 ticks around
 *   `midPrice`). After it a side never empties (a market order never takes the last level
 *   whole nor more than `maxSweepLevels` levels, a cancel never removes a side's last
 *   order), a side thinner than `minLevels` levels is replenished by the next decision (an
 *   add behind its worst level), the book never crosses, prices stay ≥ 1 tick, order ids are
 *   1, 2, 3, … in order of their adds.
 *
 * - **Fallback.** A cancel or market order that could only empty a side becomes a limit add.
 *
 * With the defaults the stream is ≈ 46% OrderAdd, 39% OrderDelete, 3.4% OrderCancel and
 * 12% OrderExec; ≈ 8% of market orders sweep 2+ levels; the spread is 1 tick ≈ 92% of the
 * time; ≈ 300–450 orders rest on ≈ 24 levels a side; ≈ 430 events per simulated second.
 *
 * Memory is flat in the number of events: a pass keeps the live book and an index of the
 * live orders, never the events. Every event is a fresh object (safe to keep). Randomness
 * comes only from `SeededRng` and the platform-independent `detLog`/`detExp`, so a seed
 * gives the same stream on every platform.
 * @module
 */
import { createHash } from 'node:crypto';
import { InstrumentType } from '../api/enums.js';
import { makeInstrument, type Instrument, type InstrumentSpec } from '../api/instrument.js';
import type { MarketSource } from '../backtest/backtest.js';
import { L3Book } from '../book/l3-book.js';
import { SeededRng, detExp, detLog, normalQuantile } from '../core/rng.js';
import { ASK, BID, MdStatus, MdType, type MdEvent, type SideCode } from './events.js';

/** Rates and shapes of the synthetic order flow. Rates are per second of simulated time. */
export interface SyntheticModel {
  /** Limit orders added per second at baseline activity. Default 100. Must be > 0. */
  limitRate: number;
  /** Cancel rate per resting order, per second (the book's size sets the total). Default 0.3. Must be > 0. */
  cancelRate: number;
  /** Market orders per second at baseline activity. Default 10. */
  marketRate: number;
  /**
   * Jump of the activity excitation x after each market order (intensity is Λ × (1 + x)).
   * Default 1 (activity doubles right after a market order). `marketRate × hawkesJump /
   * hawkesDecay` (the branching ratio) must stay below 1.
   */
  hawkesJump: number;
  /** Decay rate of the excitation, per second (1/e time = 1/hawkesDecay s). Default 20 (50 ms). */
  hawkesDecay: number;
  /** Ceiling of the excitation x. Default 50. */
  maxExcitation: number;
  /** Mean distance in ticks of a limit add from the opposite best minus one tick (geometric). Default 6. */
  addDistanceMean: number;
  /** Largest such distance in ticks. Default 100. */
  maxAddDistance: number;
  /** How likely a cancel takes an order at its side's best relative to one far away, in [0, 1]. Default 0.5. */
  cancelTouchWeight: number;
  /** Distance in ticks over which the cancel propensity rises from `cancelTouchWeight` to 1 (e-folding). Default 4. */
  cancelDepthScale: number;
  /** Probability that a cancel of an order of 2+ lots is partial. Default 0.08. */
  partialCancelProb: number;
  /** Median size of a limit order, lots. Default 100. */
  limitSizeMedian: number;
  /** 99th percentile of a limit order's size, lots. Default 2000. */
  limitSizeP99: number;
  /** Median size of a market order, lots. Default 100. */
  marketSizeMedian: number;
  /** 99th percentile of a market order's size, lots. Default 4000. */
  marketSizeP99: number;
  /** Most price levels one market order executes against. Default 5. */
  maxSweepLevels: number;
  /** A side with fewer price levels is replenished by the next decision. Default 3. */
  minLevels: number;
  /** Price levels a side in the opening snapshot. Default 10. */
  initialLevels: number;
  /** Most orders a level in the opening snapshot (each level gets 1..this). Default 4. */
  initialOrdersPerLevel: number;
  /**
   * Pull of the market-order side toward the opening mid: P(buy) = 0.5 + meanReversion ×
   * (openMid − mid) / openMid, clamped to [0.25, 0.75]. Default 5 (1% below → 55% buys).
   */
  meanReversion: number;
}

/** The defaults of `SyntheticModel`. */
export const DEFAULT_SYNTHETIC_MODEL: Readonly<SyntheticModel> = Object.freeze({
  limitRate: 100,
  cancelRate: 0.3,
  marketRate: 10,
  hawkesJump: 1,
  hawkesDecay: 20,
  maxExcitation: 50,
  addDistanceMean: 6,
  maxAddDistance: 100,
  cancelTouchWeight: 0.5,
  cancelDepthScale: 4,
  partialCancelProb: 0.08,
  limitSizeMedian: 100,
  limitSizeP99: 2000,
  marketSizeMedian: 100,
  marketSizeP99: 4000,
  maxSweepLevels: 5,
  minLevels: 3,
  initialLevels: 10,
  initialOrdersPerLevel: 4,
  meanReversion: 5,
});

/** 2024-01-02T14:30:00Z (a US equity open) in µs since the epoch: the default start. */
export const SYNTHETIC_DEFAULT_START_US = 1_704_205_800_000_000;

/** The default instrument: `synthetic:equity:syn` on `SYNTH`, id 1, tick 0.01 USD, lot 1. */
export const SYNTHETIC_DEFAULT_INSTRUMENT: Readonly<InstrumentSpec> = Object.freeze({
  instrumentId: 1,
  exchange: 'SYNTH',
  name: 'synthetic:equity:syn',
  type: InstrumentType.Equity,
  tickSize: '0.01',
  lotSize: '1',
  baseCurrency: 'SYN',
  quoteCurrency: 'USD',
});

/** Options of `generateMarket`. */
export interface SyntheticOptions {
  /** Total number of events of a pass, snapshot included (exact; a sweep may be cut at the end). Safe integer ≥ 0. */
  events: number;
  /** Seed of the pass's `SeededRng` (safe integer). Same seed and options → same events. */
  seed: number;
  /** Timestamp of the first event, µs since the epoch. Default 2024-01-02T14:30:00Z (`SYNTHETIC_DEFAULT_START_US`). */
  startTs?: number;
  /** Fields overriding `SYNTHETIC_DEFAULT_INSTRUMENT`. */
  instrument?: Partial<InstrumentSpec>;
  /** Opening mid price in price units (rounded to the tick grid). Default 100. */
  midPrice?: number;
  /** `localTs − exchTs` of every event, µs (a constant feed latency). Default 0. */
  localLatencyUs?: number;
  /** Fields overriding `DEFAULT_SYNTHETIC_MODEL`. */
  model?: Partial<SyntheticModel>;
}

/** Counters of a pass; reset when a pass starts and updated as it runs. */
export interface SyntheticStats {
  /** Events yielded. */
  events: number;
  /** Events yielded per `MdType` (index = type). */
  byType: number[];
  /** Orders of the opening snapshot. */
  snapshotOrders: number;
  /** Limit-add decisions (replenishments excluded). */
  limitOrders: number;
  /** Adds forced by a side thinner than `minLevels`. */
  replenishments: number;
  /** Cancel decisions (partial or whole). */
  cancels: number;
  /** Market-order decisions. */
  marketOrders: number;
  /** Market orders that executed at two or more price levels. */
  sweeps: number;
  /** Most price levels one market order executed at. */
  maxLevelsSwept: number;
  /** Resting orders now. */
  liveOrders: number;
  /** Most resting orders at any time of the pass. */
  maxLiveOrders: number;
  /** Timestamp (`exchTs`, µs) of the last event yielded; 0 before the first. */
  lastTs: number;
}

/** A generated market: usable directly as a backtest's `MarketSource`. */
export interface SyntheticMarket extends MarketSource {
  /** The instrument of every event. */
  readonly instrument: Instrument;
  /** The fully resolved options (defaults filled in). */
  readonly options: Readonly<ResolvedSyntheticOptions>;
  /** The stream as an async iterable; each call is a fresh pass from the seed. */
  events(): AsyncIterable<MdEvent>;
  /** The stream as a sync iterator (several times faster); each call is a fresh pass from the seed. */
  eventsSync(): IterableIterator<MdEvent>;
  /** Counters of the current or last pass (run one pass at a time to read them). */
  readonly stats: SyntheticStats;
}

/** `SyntheticOptions` with every default filled in. */
export interface ResolvedSyntheticOptions {
  /** Total events a pass. */
  events: number;
  /** The seed. */
  seed: number;
  /** First event's timestamp, µs since the epoch. */
  startTs: number;
  /** The instrument spec used. */
  instrument: InstrumentSpec;
  /** Opening mid in price units. */
  midPrice: number;
  /** `localTs − exchTs`, µs. */
  localLatencyUs: number;
  /** The model used. */
  model: SyntheticModel;
}

function check(ok: boolean, msg: string): void {
  if (!ok) throw new RangeError(`generateMarket: ${msg}`);
}

function isNonNegInt(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

function validateModel(m: SyntheticModel): void {
  for (const [k, v] of Object.entries(m)) check(typeof v === 'number' && Number.isFinite(v), `model.${k} must be a finite number, got ${String(v)}`);
  check(m.limitRate > 0, 'model.limitRate must be > 0');
  check(m.cancelRate > 0, 'model.cancelRate must be > 0 (it keeps the book bounded)');
  check(m.marketRate >= 0, 'model.marketRate must be >= 0');
  check(m.hawkesJump >= 0, 'model.hawkesJump must be >= 0');
  check(m.hawkesDecay > 0, 'model.hawkesDecay must be > 0');
  check(m.maxExcitation >= 0, 'model.maxExcitation must be >= 0');
  check(
    (m.marketRate * m.hawkesJump) / m.hawkesDecay < 1,
    `model branching ratio marketRate × hawkesJump / hawkesDecay must be < 1 (got ${(m.marketRate * m.hawkesJump) / m.hawkesDecay}): activity would explode`,
  );
  check(m.addDistanceMean >= 0, 'model.addDistanceMean must be >= 0');
  check(isNonNegInt(m.maxAddDistance), 'model.maxAddDistance must be an integer >= 0');
  check(m.cancelTouchWeight >= 0 && m.cancelTouchWeight <= 1, 'model.cancelTouchWeight must be in [0, 1]');
  check(m.cancelDepthScale >= 0, 'model.cancelDepthScale must be >= 0');
  check(m.partialCancelProb >= 0 && m.partialCancelProb <= 1, 'model.partialCancelProb must be in [0, 1]');
  check(m.limitSizeMedian > 0 && m.limitSizeP99 >= m.limitSizeMedian, 'model needs 0 < limitSizeMedian <= limitSizeP99');
  check(m.marketSizeMedian > 0 && m.marketSizeP99 >= m.marketSizeMedian, 'model needs 0 < marketSizeMedian <= marketSizeP99');
  check(isNonNegInt(m.maxSweepLevels) && m.maxSweepLevels >= 1, 'model.maxSweepLevels must be an integer >= 1');
  check(isNonNegInt(m.minLevels) && m.minLevels >= 1, 'model.minLevels must be an integer >= 1');
  check(isNonNegInt(m.initialLevels) && m.initialLevels >= m.minLevels, 'model.initialLevels must be an integer >= minLevels');
  check(isNonNegInt(m.initialOrdersPerLevel) && m.initialOrdersPerLevel >= 1, 'model.initialOrdersPerLevel must be an integer >= 1');
  check(m.meanReversion >= 0, 'model.meanReversion must be >= 0');
}

/**
 * Builds a synthetic market (see the module doc for the model). Nothing is generated until
 * `events()`/`eventsSync()` is iterated; each call starts a fresh pass from the seed, so
 * passes give identical events.
 *
 * @throws RangeError for invalid options (non-integer counts or seed, rates out of range, an
 *   unknown model option, a mid price too low for `initialLevels` levels under it, an
 *   unstable Hawkes setting).
 */
export function generateMarket(opts: SyntheticOptions): SyntheticMarket {
  check(isNonNegInt(opts.events), `events must be a safe integer >= 0, got ${opts.events}`);
  check(Number.isSafeInteger(opts.seed), `seed must be a safe integer, got ${opts.seed}`);
  const startTs = opts.startTs ?? SYNTHETIC_DEFAULT_START_US;
  check(isNonNegInt(startTs), `startTs must be a safe integer >= 0 (µs), got ${startTs}`);
  const localLatencyUs = opts.localLatencyUs ?? 0;
  check(isNonNegInt(localLatencyUs), `localLatencyUs must be an integer >= 0, got ${localLatencyUs}`);
  const midPrice = opts.midPrice ?? 100;
  check(Number.isFinite(midPrice) && midPrice > 0, `midPrice must be > 0, got ${midPrice}`);
  for (const k of Object.keys(opts.model ?? {})) check(k in DEFAULT_SYNTHETIC_MODEL, `unknown model option '${k}'`);
  const model: SyntheticModel = { ...DEFAULT_SYNTHETIC_MODEL, ...(opts.model ?? {}) };
  validateModel(model);
  const spec: InstrumentSpec = { ...SYNTHETIC_DEFAULT_INSTRUMENT, ...(opts.instrument ?? {}) };
  const instrument = makeInstrument(spec);
  const midTick = Math.round(midPrice / instrument.tickSize.toNumber());
  check(midTick - 1 - model.initialLevels >= 1, `midPrice ${midPrice} is too low: ${model.initialLevels} bid levels under it need positive prices`);
  check(Number.isSafeInteger(startTs + opts.events * 1e6), 'startTs is too large');

  const resolved: ResolvedSyntheticOptions = { events: opts.events, seed: opts.seed, startTs, instrument: spec, midPrice, localLatencyUs, model };
  const stats = emptyStats();
  const cfg: PassConfig = { ...resolved, instrumentId: instrument.instrumentId, midTick, stats };
  const sha256 = createHash('sha256').update(JSON.stringify(resolved)).digest('hex');
  const eventsSync = (): IterableIterator<MdEvent> => new SyntheticIterator(cfg);

  return {
    exchange: instrument.exchange,
    instruments: [instrument],
    instrument,
    options: resolved,
    stats,
    data: { path: `synthetic:seed=${opts.seed}:events=${opts.events}`, sha256, format: 'synthetic' },
    eventsSync,
    events: () => ({
      [Symbol.asyncIterator](): AsyncIterator<MdEvent> {
        const it = eventsSync();
        return {
          // Copy the result: the sync iterator reuses its result object, and an async caller
          // may call next() again before reading the previous one.
          next: () => {
            const r = it.next();
            return Promise.resolve(r.done === true ? DONE : { done: false, value: r.value });
          },
          return: (value?: unknown) => {
            it.return?.();
            return Promise.resolve({ done: true as const, value });
          },
        };
      },
    }),
  };
}

function emptyStats(): SyntheticStats {
  return {
    events: 0,
    byType: [0, 0, 0, 0, 0, 0, 0, 0, 0],
    snapshotOrders: 0,
    limitOrders: 0,
    replenishments: 0,
    cancels: 0,
    marketOrders: 0,
    sweeps: 0,
    maxLevelsSwept: 0,
    liveOrders: 0,
    maxLiveOrders: 0,
    lastTs: 0,
  };
}

interface PassConfig extends ResolvedSyntheticOptions {
  instrumentId: number;
  midTick: number;
  stats: SyntheticStats;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** One pass: steps the simulator and hands out the events of each step, up to the total. */
class SyntheticIterator implements IterableIterator<MdEvent> {
  private readonly sim: Simulator;
  private readonly total: number;
  private readonly stats: SyntheticStats;
  private readonly res: IteratorYieldResult<MdEvent> = { done: false, value: undefined as unknown as MdEvent };
  private i = 0;
  private n = 0;

  constructor(cfg: PassConfig) {
    this.total = cfg.events;
    this.stats = cfg.stats;
    Object.assign(this.stats, emptyStats());
    this.sim = new Simulator(cfg);
  }

  next(): IteratorResult<MdEvent, undefined> {
    if (this.n >= this.total) return DONE;
    const sim = this.sim;
    if (this.i >= sim.bufN) {
      sim.step();
      this.i = 0;
    }
    const ev = sim.buf[this.i++]!;
    const stats = this.stats;
    stats.byType[ev.type]!++;
    stats.events = ++this.n;
    stats.lastTs = ev.exchTs;
    // One result object for the whole pass: a for-of loop reads it before the next call.
    this.res.value = ev;
    return this.res;
  }

  /** Ends the pass early (a `break` out of a loop). */
  return(): IteratorResult<MdEvent, undefined> {
    this.n = this.total;
    return DONE;
  }

  [Symbol.iterator](): IterableIterator<MdEvent> {
    return this;
  }
}

/** 2^-32: turns a uint32 into [0, 1). */
const INV_2_32 = 1 / 4294967296;

/**
 * Walker's alias method (Vose's construction) over the outcomes 0..n−1: one 32-bit draw per
 * sample, whatever n. Built with `+ − × ÷` only, so the same on every platform.
 */
class AliasTable {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;
  private readonly n: number;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.n = n;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += weights[i]!;
    const scaled = new Float64Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i]! * n) / sum;
      (scaled[i]! < 1 ? small : large).push(i);
    }
    while (small.length > 0 && large.length > 0) {
      const l = small.pop()!;
      const g = large.pop()!;
      this.prob[l] = scaled[l]!;
      this.alias[l] = g;
      scaled[g] = scaled[g]! + scaled[l]! - 1;
      (scaled[g]! < 1 ? small : large).push(g);
    }
    for (const i of large) this.prob[i] = 1;
    for (const i of small) this.prob[i] = 1;
  }

  sample(rng: SeededRng): number {
    // The integer part picks the column, the fraction (≥ 25 bits for n ≤ 128) the coin.
    const x = rng.uint32() * this.n * INV_2_32;
    const i = Math.floor(x);
    return x - i < this.prob[i]! ? i : this.alias[i]!;
  }
}

/** Bins of a `LogNormalTable` (2^12). */
const LN_BITS = 12;
const LN_BINS = 1 << LN_BITS;
const LN_FRAC_BITS = 32 - LN_BITS;
const LN_FRAC_SCALE = 1 / (1 << LN_FRAC_BITS);

/**
 * A log-normal law (by median and 99th percentile) sampled through its quantile function:
 * 4096 equal-probability bins with linear interpolation inside each, the top bin (p ≥
 * 4095/4096, the far tail) computed exactly. One 32-bit draw per sample, no logarithm.
 */
class LogNormalTable {
  private readonly q = new Float64Array(LN_BINS);
  private readonly mu: number;
  private readonly sigma: number;

  constructor(median: number, p99: number) {
    this.mu = detLog(median);
    this.sigma = detLog(p99 / median) / normalQuantile(0.99);
    this.q[0] = 0;
    for (let i = 1; i < LN_BINS; i++) this.q[i] = detExp(this.mu + this.sigma * normalQuantile(i / LN_BINS));
  }

  sample(rng: SeededRng): number {
    const u = rng.uint32();
    const i = u >>> LN_FRAC_BITS;
    const f = (u & ((1 << LN_FRAC_BITS) - 1)) * LN_FRAC_SCALE;
    if (i < LN_BINS - 1) {
      const a = this.q[i]!;
      return a + f * (this.q[i + 1]! - a);
    }
    return detExp(this.mu + this.sigma * normalQuantile((LN_BINS - 1 + f) / LN_BINS));
  }
}

/** Distances whose cancel acceptance is tabulated; farther ones are always accepted. */
const ACCEPT_TABLE = 64;
const INITIAL_CAPACITY = 1024;

/**
 * The state of one pass: the live book (`L3Book`), the resting orders as parallel arrays by
 * slot (swap-removed, so a uniform slot is a uniform order) with an open-addressing
 * id → slot hash, the clock and the Hawkes excitation.
 */
class Simulator {
  /** Events of the current step, in order: `buf[0..bufN)` (a snapshot's or a sweep's worth at most). */
  readonly buf: MdEvent[] = [];
  bufN = 0;
  private readonly rng: SeededRng;
  private readonly book = new L3Book();
  private readonly m: SyntheticModel;
  private readonly stats: SyntheticStats;
  private readonly instrumentId: number;
  private readonly startTs: number;
  private readonly latency: number;
  private readonly midTick: number;
  // Resting orders by slot.
  private oid = new Float64Array(INITIAL_CAPACITY);
  private otick = new Float64Array(INITIAL_CAPACITY);
  private oqty = new Float64Array(INITIAL_CAPACITY);
  private oside = new Int8Array(INITIAL_CAPACITY);
  private liveN = 0;
  // id → slot: linear probing, load ≤ 1/2, backward-shift deletion; key 0 = empty (ids ≥ 1).
  private hkeys = new Float64Array(2 * INITIAL_CAPACITY);
  private hvals = new Int32Array(2 * INITIAL_CAPACITY);
  private hmask = 2 * INITIAL_CAPACITY - 1;
  private hshift = 1 + Math.clz32(2 * INITIAL_CAPACITY);
  private bidCount = 0;
  private askCount = 0;
  private nextId = 1;
  private started = false;
  /** Continuous time since `startTs`, µs. */
  private tUs = 0;
  /** Earliest timestamp of the current step's first event. */
  private stepTs: number;
  private lastTs = Number.NEGATIVE_INFINITY;
  /** Hawkes excitation x: intensity is Λ × (1 + x). */
  private x = 0;
  private readonly addDistance: AliasTable;
  private readonly limitSize: LogNormalTable;
  private readonly marketSize: LogNormalTable;
  /** 1 / ln(1/2): geometric gaps of mean 1 for replenishment. */
  private readonly gapGeo = 1 / detLog(0.5);
  private readonly accept = new Float64Array(ACCEPT_TABLE);

  constructor(cfg: PassConfig) {
    const m = cfg.model;
    this.rng = new SeededRng(cfg.seed);
    this.m = m;
    this.stats = cfg.stats;
    this.instrumentId = cfg.instrumentId;
    this.startTs = cfg.startTs;
    this.stepTs = cfg.startTs;
    this.latency = cfg.localLatencyUs;
    this.midTick = cfg.midTick;
    // Geometric distance of mean addDistanceMean (P(d) = (1 − q) q^d), the tail beyond
    // maxAddDistance folded onto it.
    const q = m.addDistanceMean / (m.addDistanceMean + 1);
    const w = new Float64Array(m.maxAddDistance + 1);
    let qk = 1;
    for (let d = 0; d < m.maxAddDistance; d++) {
      w[d] = (1 - q) * qk;
      qk *= q;
    }
    w[m.maxAddDistance] = qk;
    this.addDistance = new AliasTable(w);
    this.limitSize = new LogNormalTable(m.limitSizeMedian, m.limitSizeP99);
    this.marketSize = new LogNormalTable(m.marketSizeMedian, m.marketSizeP99);
    const tw = m.cancelTouchWeight;
    const scale = m.cancelDepthScale;
    for (let d = 0; d < ACCEPT_TABLE; d++) {
      this.accept[d] = scale > 0 ? 1 - (1 - tw) * detExp(-d / scale) : d === 0 ? tw : 1;
    }
  }

  /** Runs one decision (the first is the snapshot), leaving its events in `buf[0..bufN)`. */
  step(): void {
    this.bufN = 0;
    if (!this.started) {
      this.started = true;
      this.snapshot();
      return;
    }
    const m = this.m;
    this.advanceTime();
    const l2 = this.book.l2;
    if (l2.depth(BID) < m.minLevels) return this.replenish(BID);
    if (l2.depth(ASK) < m.minLevels) return this.replenish(ASK);
    const wCancel = m.cancelRate * this.liveN;
    const u = this.rng.next() * (m.limitRate + wCancel + m.marketRate);
    if (u < m.limitRate) return this.limit(u < m.limitRate * 0.5 ? BID : ASK);
    if (u < m.limitRate + wCancel) {
      if (this.cancel()) return;
    } else if (this.market()) return;
    // Nothing could be cancelled or taken without emptying a side: add instead.
    this.limit(this.rng.next() < 0.5 ? BID : ASK);
  }

  /**
   * Draws the time to the next decision for intensity Λ(1 + x e^(−δs)), exactly (Dassios &
   * Zhao 2013): the earlier of a baseline arrival (rate Λ) and an excitation arrival.
   */
  private advanceTime(): void {
    const m = this.m;
    const delta = m.hawkesDecay;
    const base = m.limitRate + m.cancelRate * this.liveN + m.marketRate;
    const rng = this.rng;
    // Baseline arrival: Exp(Λ).
    let dt = rng.expStd() / base;
    if (this.x > 0) {
      // Excitation arrival: s1 = −ln(D)/δ with D = 1 − δ·Exp(1)/(Λx), none when D ≤ 0.
      // s1 < dt ⇔ D > e^(−δ·dt), and then the decay over s1 is D itself: one log, only
      // when the excitation arrival comes first.
      const d = 1 - (delta * rng.expStd()) / (base * this.x);
      const decay = detExp(-delta * dt);
      if (d > decay) {
        dt = -detLog(d) / delta;
        this.x *= d;
      } else this.x *= decay;
      if (this.x < 1e-9) this.x = 0;
    }
    this.tUs += dt * 1e6;
    this.stepTs = this.startTs + Math.floor(this.tUs);
  }

  private emit(type: MdType, side: SideCode, orderId: number, priceTick: number, qty: number, status: number): void {
    const ts = this.stepTs > this.lastTs ? this.stepTs : this.lastTs + 1;
    this.lastTs = ts;
    this.buf[this.bufN++] = { type, instrumentId: this.instrumentId, exchTs: ts, localTs: ts + this.latency, side, orderId, priceTick, qty, status };
  }

  private static size(table: LogNormalTable, rng: SeededRng): number {
    const q = Math.round(table.sample(rng));
    return q >= 1 ? q : 1;
  }

  private snapshot(): void {
    const m = this.m;
    const rng = this.rng;
    this.emit(MdType.Status, 0, 0, 0, 0, MdStatus.SnapshotStart);
    for (const side of [BID, ASK] as const) {
      const touch = this.midTick - side;
      for (let lvl = 0; lvl < m.initialLevels; lvl++) {
        const tick = touch - side * lvl;
        const k = 1 + rng.int(m.initialOrdersPerLevel);
        for (let j = 0; j < k; j++) this.add(side, tick, Simulator.size(this.limitSize, rng));
        this.stats.snapshotOrders += k;
      }
    }
    this.emit(MdType.Status, 0, 0, 0, 0, MdStatus.SnapshotEnd);
  }

  // --- the id → slot hash -------------------------------------------------------------

  private home(id: number): number {
    return Math.imul(id, 0x9e3779b1) >>> this.hshift;
  }

  private hashSet(id: number, slot: number): void {
    const keys = this.hkeys;
    const mask = this.hmask;
    let i = this.home(id);
    for (;;) {
      const k = keys[i]!;
      if (k === 0 || k === id) break;
      i = (i + 1) & mask;
    }
    keys[i] = id;
    this.hvals[i] = slot;
  }

  private hashGet(id: number): number {
    const keys = this.hkeys;
    const mask = this.hmask;
    for (let i = this.home(id); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === id) return this.hvals[i]!;
      if (k === 0) return -1;
    }
  }

  private hashDelete(id: number): void {
    const keys = this.hkeys;
    const vals = this.hvals;
    const mask = this.hmask;
    let i = this.home(id);
    while (keys[i] !== id) i = (i + 1) & mask;
    // Backward shift: pull later entries of the probe run into the hole when their home
    // position allows it, so lookups never need tombstones.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const k = keys[j]!;
      if (k === 0) break;
      const h = this.home(k);
      const stays = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!stays) {
        keys[i] = k;
        vals[i] = vals[j]!;
        i = j;
      }
    }
    keys[i] = 0;
  }

  private grow(): void {
    const cap = this.oid.length * 2;
    const grown = <T extends Float64Array | Int8Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.oid = grown(this.oid, new Float64Array(cap));
    this.otick = grown(this.otick, new Float64Array(cap));
    this.oqty = grown(this.oqty, new Float64Array(cap));
    this.oside = grown(this.oside, new Int8Array(cap));
    this.hkeys = new Float64Array(2 * cap);
    this.hvals = new Int32Array(2 * cap);
    this.hmask = 2 * cap - 1;
    this.hshift = 1 + Math.clz32(2 * cap);
    for (let s = 0; s < this.liveN; s++) this.hashSet(this.oid[s]!, s);
  }

  // --- resting orders -----------------------------------------------------------------

  private add(side: SideCode, priceTick: number, qty: number): void {
    const id = this.nextId++;
    this.book.add(id, side, priceTick, qty);
    if (this.liveN === this.oid.length) this.grow();
    const s = this.liveN++;
    this.oid[s] = id;
    this.otick[s] = priceTick;
    this.oqty[s] = qty;
    this.oside[s] = side;
    this.hashSet(id, s);
    if (side === BID) this.bidCount++;
    else this.askCount++;
    const stats = this.stats;
    stats.liveOrders = this.liveN;
    if (this.liveN > stats.maxLiveOrders) stats.maxLiveOrders = this.liveN;
    this.emit(MdType.OrderAdd, side, id, priceTick, qty, 0);
  }

  /** Drops the order in slot `s` from the records (the book is updated by the caller). */
  private removeSlot(s: number): void {
    const id = this.oid[s]!;
    if (this.oside[s] === BID) this.bidCount--;
    else this.askCount--;
    this.hashDelete(id);
    const last = --this.liveN;
    if (s !== last) {
      const moved = this.oid[last]!;
      this.oid[s] = moved;
      this.otick[s] = this.otick[last]!;
      this.oqty[s] = this.oqty[last]!;
      this.oside[s] = this.oside[last]!;
      this.hashSet(moved, s);
    }
    this.stats.liveOrders = this.liveN;
  }

  // --- decisions ----------------------------------------------------------------------

  private limit(side: SideCode): void {
    const l2 = this.book.l2;
    const d = this.addDistance.sample(this.rng);
    const price = side === BID ? Math.max(1, l2.bestAskTick() - 1 - d) : l2.bestBidTick() + 1 + d;
    this.stats.limitOrders++;
    this.add(side, price, Simulator.size(this.limitSize, this.rng));
  }

  /** An add behind the side's worst level, so that the side gains a level. */
  private replenish(side: SideCode): void {
    const l2 = this.book.l2;
    const worst = l2.levelTick(side, l2.depth(side) - 1);
    const g = Math.floor(detLog(1 - this.rng.next()) * this.gapGeo);
    const gap = 1 + (g < 10 ? g : 10);
    const price = side === BID ? Math.max(1, worst - gap) : worst + gap;
    this.stats.replenishments++;
    this.add(side, price, Simulator.size(this.limitSize, this.rng));
  }

  /** Cancels (whole or part of) a resting order; false when no order can go without emptying a side. */
  private cancel(): boolean {
    const rng = this.rng;
    const l2 = this.book.l2;
    let slot = -1;
    for (let tries = 0; tries < 8; tries++) {
      const s = rng.int(this.liveN);
      const side = this.oside[s]!;
      if ((side === BID ? this.bidCount : this.askCount) <= 1) continue;
      slot = s;
      const tick = this.otick[s]!;
      const dist = side === BID ? l2.bestBidTick() - tick : tick - l2.bestAskTick();
      if (dist >= ACCEPT_TABLE || rng.next() < this.accept[dist]!) break;
    }
    if (slot < 0) return false;
    this.stats.cancels++;
    const id = this.oid[slot]!;
    const side = this.oside[slot]! as SideCode;
    const tick = this.otick[slot]!;
    const qty = this.oqty[slot]!;
    if (qty >= 2 && rng.next() < this.m.partialCancelProb) {
      const removed = 1 + rng.int(qty - 1);
      this.book.cancel(id, removed);
      this.oqty[slot] = qty - removed;
      this.emit(MdType.OrderCancel, side, id, tick, removed, 0);
    } else {
      this.book.delete(id);
      this.removeSlot(slot);
      this.emit(MdType.OrderDelete, side, id, tick, qty, 0);
    }
    return true;
  }

  /** A market order executed FIFO against the best levels; false when the side is too thin to take from. */
  private market(): boolean {
    const m = this.m;
    const rng = this.rng;
    const book = this.book;
    const l2 = book.l2;
    const mid = (l2.bestBidTick() + l2.bestAskTick()) * 0.5;
    let pBuy = 0.5 + (m.meanReversion * (this.midTick - mid)) / this.midTick;
    if (pBuy < 0.25) pBuy = 0.25;
    else if (pBuy > 0.75) pBuy = 0.75;
    const resting: SideCode = rng.next() < pBuy ? ASK : BID;
    let want = Simulator.size(this.marketSize, rng);
    // Never take a side's last level whole: at most depth − 1 whole levels, else part of the only one.
    const depth = l2.depth(resting);
    const levels = Math.min(m.maxSweepLevels, depth - 1);
    let cap = 0;
    if (levels <= 0) cap = l2.levelQty(resting, 0) - 1;
    else for (let i = 0; i < levels; i++) cap += l2.levelQty(resting, i);
    if (cap <= 0) return false;
    if (want > cap) want = cap;
    let levelsHit = 0;
    let lastTick = Number.NaN;
    while (want > 0) {
      const tick = resting === BID ? l2.bestBidTick() : l2.bestAskTick();
      const id = book.firstOrderIdAt(resting, tick)!;
      const slot = this.hashGet(id);
      const q = this.oqty[slot]!;
      const take = q < want ? q : want;
      book.execute(id, take);
      if (take === q) this.removeSlot(slot);
      else this.oqty[slot] = q - take;
      this.emit(MdType.OrderExec, resting, id, tick, take, 0);
      if (tick !== lastTick) {
        levelsHit++;
        lastTick = tick;
      }
      want -= take;
    }
    const stats = this.stats;
    stats.marketOrders++;
    if (levelsHit > 1) stats.sweeps++;
    if (levelsHit > stats.maxLevelsSwept) stats.maxLevelsSwept = levelsHit;
    this.x += m.hawkesJump;
    if (this.x > m.maxExcitation) this.x = m.maxExcitation;
    return true;
  }
}
