/**
 * Order-entry latency of the simulated venue: how long a request takes to reach the
 * matching engine and how long the engine's answer takes to reach the strategy.
 * @module
 */
import { SeededRng } from '../core/rng.js';

/** The request kinds a latency model distinguishes. Cancel-all counts as `cancel`. */
export type LatencyAction = 'place' | 'modify' | 'cancel' | 'fetch';

/**
 * Latency between the strategy and the simulated matching engine, in µs.
 *
 * A request submitted at `t` reaches the engine at `t + entryUs(action)`; the engine's
 * answer reaches the strategy at engine time `+ responseUs(action)`. Fills of resting
 * orders caused by market data travel `responseUs('place')` after the market event.
 * Models may vary the values per call (e.g. drawn from recorded latencies), but must
 * stay deterministic: a run is replayed from its inputs alone.
 */
export interface LatencyModel {
  /** µs from submission to arrival at the matching engine (≥ 0). */
  entryUs(action: LatencyAction): number;
  /** µs from the engine's answer to its arrival at the strategy (≥ 0). */
  responseUs(action: LatencyAction): number;
  /**
   * µs a market-data event takes from the data's local receive time to the strategy (≥ 0),
   * drawn once per event. Absent (the default): no feed latency, and the strategy and the
   * matching engine read the same book. Present: the backtest keeps the engine's book
   * (events at their exchange time) apart from the strategy's (events at local time + this),
   * so orders are placed against a book that is already stale, as live.
   */
  feedUs?(): number;
}

/** Options of {@link ConstantLatencyModel}. */
export interface ConstantLatencyOptions {
  /** Request → engine latency in µs. Default 100. */
  entryUs?: number;
  /** Engine → strategy latency in µs. Default 100. */
  responseUs?: number;
  /** Market-data feed latency in µs (see `LatencyModel.feedUs`). Default: none (one shared book). */
  feedUs?: number;
}

/** The same latency for every request and answer. Defaults: 100 µs each way. */
export class ConstantLatencyModel implements LatencyModel {
  /** Request → engine latency in µs. */
  readonly entryLatencyUs: number;
  /** Engine → strategy latency in µs. */
  readonly responseLatencyUs: number;

  /** @throws RangeError for a negative or non-finite latency. */
  constructor(opts: ConstantLatencyOptions = {}) {
    this.entryLatencyUs = checkUs('entryUs', opts.entryUs ?? 100);
    this.responseLatencyUs = checkUs('responseUs', opts.responseUs ?? 100);
    if (opts.feedUs !== undefined) {
      const f = checkUs('feedUs', opts.feedUs);
      this.feedUs = () => f;
    }
  }
  /** The configured feed latency; absent when none was given. */
  readonly feedUs?: () => number;
  /** The configured entry latency, whatever the action. */
  entryUs(_action: LatencyAction): number {
    return this.entryLatencyUs;
  }
  /** The configured response latency, whatever the action. */
  responseUs(_action: LatencyAction): number {
    return this.responseLatencyUs;
  }
}

/**
 * A latency distribution, in µs: exactly one of
 * - `{ constantUs }`: always that value (≥ 0); consumes no random draw;
 * - `{ logNormal: { medianUs, p99Us } }`: log-normal with that median and 99th percentile
 *   (0 < medianUs ≤ p99Us < ∞), via `SeededRng.logNormal`; consumes one normal deviate;
 * - `{ uniform: { minUs, maxUs } }`: uniform on [minUs, maxUs] (0 ≤ minUs ≤ maxUs < ∞);
 *   consumes one 32-bit word.
 */
export type LatencyDistribution =
  | { readonly constantUs: number }
  | { readonly logNormal: { readonly medianUs: number; readonly p99Us: number } }
  | { readonly uniform: { readonly minUs: number; readonly maxUs: number } };

/** Entry and response latency distributions of one action; a missing side falls back to `default`. */
export interface LatencyPair {
  /** Request → engine latency, µs. */
  entry?: LatencyDistribution;
  /** Engine → strategy latency, µs. */
  response?: LatencyDistribution;
}

/** Options of {@link PerActionLatencyModel}. */
export interface PerActionLatencyOptions {
  /** Seed of the model's `SeededRng` (safe integer). Default 1. */
  seed?: number;
  /** Fallback for every action and side not given below. Default `{ constantUs: 100 }` each way. */
  default?: LatencyPair;
  /** New orders (and fills of resting orders, which use `responseUs('place')`). */
  place?: LatencyPair;
  /** Order modifications. */
  modify?: LatencyPair;
  /** Cancels and cancel-alls (and end-of-session cancels, `responseUs('cancel')`). */
  cancel?: LatencyPair;
  /** Order, position and balance queries. */
  fetch?: LatencyPair;
  /** Market-data feed latency, drawn per event (see `LatencyModel.feedUs`). Default: none. */
  feed?: LatencyDistribution;
  /**
   * Round every random draw to the nearest whole µs (default true), so that simulated
   * times stay integers. Constant latencies are returned as given.
   */
  wholeUs?: boolean;
}

/** The actions a {@link PerActionLatencyModel} distinguishes, in a fixed order. */
const ACTIONS: readonly LatencyAction[] = ['place', 'modify', 'cancel', 'fetch'];

/** A checked distribution: a sampler and whether it is random. */
type Sampler = (rng: SeededRng) => number;

/**
 * Latency drawn per action (`place`, `modify`, `cancel`, `fetch`) and per direction (entry,
 * response) from a {@link LatencyDistribution}, in µs, with a seeded generator
 * (`SeededRng`, same sequence on every platform).
 *
 * **Determinism.** All random distributions share one generator, and each call to
 * `entryUs`/`responseUs` with a random distribution makes exactly one draw, so the n-th
 * draw is that of the n-th call: a run is reproducible given the same seed, the same
 * configuration and the same sequence of requests (which a backtest guarantees, since the
 * venue calls the model in simulated-time order). Calls answered by a constant consume no
 * draw. Changing the seed changes every random latency.
 *
 * Draws are never negative (log-normal draws are > 0; uniform and constant bounds are
 * checked ≥ 0) and, by default, rounded to whole µs.
 */
export class PerActionLatencyModel implements LatencyModel {
  /** The seed the generator started from. */
  readonly seed: number;
  private readonly rng: SeededRng;
  private readonly entry = new Map<LatencyAction, Sampler>();
  private readonly response = new Map<LatencyAction, Sampler>();

  /**
   * @throws RangeError naming the bad field (e.g. `place.entry.logNormal.p99Us`) for a
   *   negative, non-finite or inconsistent parameter, a distribution that is not exactly
   *   one of the three forms, or a seed that is not a safe integer.
   */
  constructor(opts: PerActionLatencyOptions = {}) {
    this.seed = opts.seed ?? 1;
    if (!Number.isSafeInteger(this.seed)) throw new RangeError(`seed must be a safe integer, got ${this.seed}`);
    this.rng = new SeededRng(this.seed);
    const whole = opts.wholeUs ?? true;
    const fallback: LatencyDistribution = { constantUs: 100 };
    const def = {
      entry: opts.default?.entry === undefined ? sampler('default.entry', fallback, whole) : sampler('default.entry', opts.default.entry, whole),
      response: opts.default?.response === undefined ? sampler('default.response', fallback, whole) : sampler('default.response', opts.default.response, whole),
    };
    for (const a of ACTIONS) {
      const p = opts[a];
      this.entry.set(a, p?.entry === undefined ? def.entry : sampler(`${a}.entry`, p.entry, whole));
      this.response.set(a, p?.response === undefined ? def.response : sampler(`${a}.response`, p.response, whole));
    }
    if (opts.feed !== undefined) {
      const feed = sampler('feed', opts.feed, whole);
      // Feed draws come from a generator of their own (seed + 1): a draw per market event
      // must not shift the latencies of orders, or adding a feed would change every fill.
      const feedRng = new SeededRng(this.seed + 1);
      this.feedUs = () => feed(feedRng);
    }
  }
  /** µs of market-data feed latency for the next event; absent when `feed` was not given. */
  readonly feedUs?: () => number;

  /** µs from submission to the engine for `action`: the next draw of its entry distribution. */
  entryUs(action: LatencyAction): number {
    return this.entry.get(action)!(this.rng);
  }
  /** µs from the engine's answer to the strategy for `action`: the next draw of its response distribution. */
  responseUs(action: LatencyAction): number {
    return this.response.get(action)!(this.rng);
  }
}

/** Checks a distribution and returns its sampler; errors name `path`. */
function sampler(path: string, d: LatencyDistribution, whole: boolean): Sampler {
  const keys = d === null || typeof d !== 'object' ? [] : Object.keys(d).filter((k) => (d as Record<string, unknown>)[k] !== undefined);
  if (keys.length !== 1 || !['constantUs', 'logNormal', 'uniform'].includes(keys[0]!)) {
    throw new RangeError(`${path} must have exactly one of constantUs, logNormal, uniform; got ${keys.length ? keys.join(', ') : 'none'}`);
  }
  const round = whole ? Math.round : (x: number) => x;
  const kind = keys[0] as 'constantUs' | 'logNormal' | 'uniform';
  if (kind === 'constantUs' && 'constantUs' in d) {
    const v = checkUs(`${path}.constantUs`, d.constantUs);
    return () => v;
  }
  if (kind === 'logNormal' && 'logNormal' in d) {
    const m = d.logNormal.medianUs;
    const p = d.logNormal.p99Us;
    if (!(Number.isFinite(m) && m > 0)) throw new RangeError(`${path}.logNormal.medianUs must be a finite number > 0, got ${m}`);
    if (!(Number.isFinite(p) && p >= m)) throw new RangeError(`${path}.logNormal.p99Us must be a finite number ≥ medianUs (${m}), got ${p}`);
    return (rng) => Math.max(0, round(rng.logNormal(m, p)));
  }
  if (!('uniform' in d)) throw new RangeError(`${path}: unknown latency distribution`);
  const lo = checkUs(`${path}.uniform.minUs`, d.uniform.minUs);
  const hi = d.uniform.maxUs;
  if (!(Number.isFinite(hi) && hi >= lo)) throw new RangeError(`${path}.uniform.maxUs must be a finite number ≥ minUs (${lo}), got ${hi}`);
  // next() is in [0, 1): with rounding, both bounds are reachable.
  return (rng) => Math.max(0, round(lo + (hi - lo) * rng.next()));
}

function checkUs(name: string, v: number): number {
  // A negative latency would deliver answers before their cause and break causality.
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number ≥ 0, got ${v}`);
  return v;
}
