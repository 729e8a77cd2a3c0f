/**
 * Order-entry latency of the simulated venue: how long a request takes to reach the
 * matching engine and how long the engine's answer takes to reach the strategy.
 * @module
 */

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
}

/** Options of {@link ConstantLatencyModel}. */
export interface ConstantLatencyOptions {
  /** Request → engine latency in µs. Default 100. */
  entryUs?: number;
  /** Engine → strategy latency in µs. Default 100. */
  responseUs?: number;
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
  }
  /** The configured entry latency, whatever the action. */
  entryUs(_action: LatencyAction): number {
    return this.entryLatencyUs;
  }
  /** The configured response latency, whatever the action. */
  responseUs(_action: LatencyAction): number {
    return this.responseLatencyUs;
  }
}

function checkUs(name: string, v: number): number {
  // A negative latency would deliver answers before their cause and break causality.
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number ≥ 0, got ${v}`);
  return v;
}
