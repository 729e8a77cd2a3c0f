/**
 * Venue rate limits: a fixed window per strategy, as most exchanges count order entry
 * (Binance: orders per 10 s; Bybit: requests per second).
 * @module
 */

/** A rate limit: at most `limit` order-entry requests per `windowMs` of the venue's clock. */
export interface RateLimitOptions {
  /** Requests allowed per window (≥ 1). */
  limit: number;
  /** Window length in ms (> 0). Windows are aligned to multiples of it since the epoch. */
  windowMs: number;
}

/** What counting one request found. */
export interface RateTake {
  /** False when the request is over the limit (it is not counted). */
  allowed: boolean;
  /** Requests left in the window after this one. */
  remaining: number;
  /** When the window ends and the count resets, µs since the epoch. */
  resetTs: number;
  /** 50, 90 or 100 when this request made usage reach that percentage first in the window; else 0. */
  crossedPct: 0 | 50 | 90 | 100;
}

/** Usage thresholds reported through `onRateLimitInfo`, in percent. */
export const RATE_LIMIT_THRESHOLDS_PCT = [50, 90, 100] as const;

/** Counts requests in fixed windows and tells when 50 %, 90 % and 100 % are reached. */
export class FixedWindowRateLimiter {
  readonly limit: number;
  readonly windowUs: number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private used = 0;

  /** @throws RangeError for a limit below 1 or a non-positive window. */
  constructor(opts: RateLimitOptions) {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new RangeError(`rate limit must be an integer ≥ 1, got ${opts.limit}`);
    if (!Number.isFinite(opts.windowMs) || opts.windowMs <= 0) throw new RangeError(`rate limit window must be > 0 ms, got ${opts.windowMs}`);
    this.limit = opts.limit;
    this.windowUs = Math.round(opts.windowMs * 1000);
  }

  /**
   * Would a request at `ts` (µs) be allowed? Counts nothing: for a caller that must do
   * something else (store the order) between the check and {@link take}.
   */
  peek(ts: number): { allowed: boolean; resetTs: number } {
    const start = Math.floor(ts / this.windowUs) * this.windowUs;
    return { allowed: start !== this.windowStart || this.used < this.limit, resetTs: start + this.windowUs };
  }

  /** Counts one request at `ts` (µs). */
  take(ts: number): RateTake {
    const start = Math.floor(ts / this.windowUs) * this.windowUs;
    if (start !== this.windowStart) {
      this.windowStart = start;
      this.used = 0;
    }
    const resetTs = start + this.windowUs;
    if (this.used >= this.limit) return { allowed: false, remaining: 0, resetTs, crossedPct: 0 };
    const before = this.used;
    this.used++;
    let crossedPct: RateTake['crossedPct'] = 0;
    for (const pct of RATE_LIMIT_THRESHOLDS_PCT) {
      const at = Math.ceil((this.limit * pct) / 100);
      if (before < at && this.used >= at) crossedPct = pct;
    }
    return { allowed: true, remaining: this.limit - this.used, resetTs, crossedPct };
  }
}
