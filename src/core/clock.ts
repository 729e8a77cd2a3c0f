/**
 * Time for the kernel: a `Clock` tells the time, a `Scheduler` runs actions at a time.
 * `SimClock` is driven by event timestamps (backtest, replay); `LiveClock` by the wall.
 * All times are µs since the Unix epoch.
 * @module
 */

/** Tells the time in µs since the epoch. */
export interface Clock {
  now(): number;
}

/** Runs actions at a time of its clock. */
export interface Scheduler extends Clock {
  /** Runs `fn` at `ts` (µs); an action in the past runs at the next opportunity. Returns a handle. */
  at(ts: number, fn: () => void): number;
  /** Cancels a scheduled action; unknown handles are ignored. */
  cancel(handle: number): void;
  /** True for a simulated clock. */
  readonly simulated: boolean;
}

interface Action {
  ts: number;
  seq: number;
  fn: () => void;
}

/**
 * Simulated time. It moves only when told (`advanceTo`/`runNext`); actions due at the same
 * time run in the order they were scheduled, so a run is deterministic.
 */
export class SimClock implements Scheduler {
  readonly simulated = true;
  private t: number;
  private seq = 0;
  private heap: Action[] = [];
  private cancelled = new Set<number>();

  /** @param startUs initial time, µs since the epoch (default 0). */
  constructor(startUs = 0) {
    this.t = startUs;
  }
  now(): number {
    return this.t;
  }
  at(ts: number, fn: () => void): number {
    const a: Action = { ts: Math.max(ts, this.t), seq: ++this.seq, fn };
    this.push(a);
    return a.seq;
  }
  cancel(handle: number): void {
    this.cancelled.add(handle);
  }
  /** Time of the next pending action, `Infinity` when none. */
  nextDueTs(): number {
    this.dropCancelled();
    return this.heap.length ? this.heap[0]!.ts : Number.POSITIVE_INFINITY;
  }
  /** Runs the next pending action if it is due at or before `limitTs`; the clock reads its time while it runs. Returns false when none was due. */
  runNext(limitTs: number): boolean {
    this.dropCancelled();
    const top = this.heap[0];
    if (!top || top.ts > limitTs) return false;
    this.pop();
    if (top.ts > this.t) this.t = top.ts;
    top.fn();
    return true;
  }
  /** Runs every action due at or before `ts`, then sets the time to `ts` (never backwards). */
  advanceTo(ts: number): void {
    while (this.runNext(ts)) {
      /* keep running */
    }
    if (ts > this.t) this.t = ts;
  }
  /** Sets the time without running actions (never backwards). */
  setTime(ts: number): void {
    if (ts > this.t) this.t = ts;
  }

  private dropCancelled(): void {
    while (this.heap.length && this.cancelled.has(this.heap[0]!.seq)) {
      this.cancelled.delete(this.heap[0]!.seq);
      this.pop();
    }
  }
  private less(a: Action, b: Action): boolean {
    return a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);
  }
  private push(a: Action): void {
    const h = this.heap;
    h.push(a);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  private pop(): Action | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Wall-clock time; actions run on Node timers. The only place live time is read. */
export class LiveClock implements Scheduler {
  readonly simulated = false;
  private seq = 0;
  private timers = new Map<number, NodeJS.Timeout>();
  private immediates = new Map<number, NodeJS.Immediate>();
  now(): number {
    return Math.round(performance.timeOrigin * 1000 + performance.now() * 1000);
  }
  at(ts: number, fn: () => void): number {
    const h = ++this.seq;
    const delayUs = ts - this.now();
    // setTimeout never waits less than 1 ms: an action already due (a zero-latency venue
    // answer, a backlog yield) runs on the next turn of the loop instead.
    if (delayUs <= 0) {
      const i = setImmediate(() => {
        this.immediates.delete(h);
        fn();
      });
      this.immediates.set(h, i);
      return h;
    }
    const t = setTimeout(() => {
      this.timers.delete(h);
      fn();
    }, delayUs / 1000);
    this.timers.set(h, t);
    return h;
  }
  cancel(handle: number): void {
    const t = this.timers.get(handle);
    if (t) clearTimeout(t);
    this.timers.delete(handle);
    const i = this.immediates.get(handle);
    if (i) clearImmediate(i);
    this.immediates.delete(handle);
  }
  /** Cancels every pending action (at shutdown). */
  cancelAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const i of this.immediates.values()) clearImmediate(i);
    this.immediates.clear();
  }
}
