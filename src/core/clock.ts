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

/** Pending actions by (time, scheduling order), with lazy cancellation. */
class ActionQueue {
  private heap: Action[] = [];
  private cancelled = new Set<number>();

  add(a: Action): void {
    const h = this.heap;
    h.push(a);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  cancel(seq: number): void {
    this.cancelled.add(seq);
  }
  /** The next action that is not cancelled, left in the queue. */
  peek(): Action | undefined {
    while (this.heap.length && this.cancelled.has(this.heap[0]!.seq)) {
      this.cancelled.delete(this.heap[0]!.seq);
      this.pop();
    }
    return this.heap[0];
  }
  pop(): Action | undefined {
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
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
  clear(): void {
    this.heap = [];
    this.cancelled.clear();
  }
}

function less(a: Action, b: Action): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);
}

/**
 * Simulated time. It moves only when told (`advanceTo`/`runNext`); actions due at the same
 * time run in the order they were scheduled, so a run is deterministic.
 */
export class SimClock implements Scheduler {
  readonly simulated = true;
  private t: number;
  private seq = 0;
  private readonly queue = new ActionQueue();

  /** @param startUs initial time, µs since the epoch (default 0). */
  constructor(startUs = 0) {
    this.t = startUs;
  }
  now(): number {
    return this.t;
  }
  at(ts: number, fn: () => void): number {
    const a: Action = { ts: Math.max(ts, this.t), seq: ++this.seq, fn };
    this.queue.add(a);
    return a.seq;
  }
  cancel(handle: number): void {
    this.queue.cancel(handle);
  }
  /** Time of the next pending action, `Infinity` when none. */
  nextDueTs(): number {
    return this.queue.peek()?.ts ?? Number.POSITIVE_INFINITY;
  }
  /** Runs the next pending action if it is due at or before `limitTs`; the clock reads its time while it runs. Returns false when none was due. */
  runNext(limitTs: number): boolean {
    const top = this.queue.peek();
    if (!top || top.ts > limitTs) return false;
    this.queue.pop();
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
}

/** Wake-ups in a row that {@link LiveClock} runs as microtasks before it lets the event loop turn: enough for an order's hop to an in-process venue and back. */
export const LIVE_CLOCK_MICROTASK_WAKES = 4;

/** Options of {@link LiveClock}. */
export interface LiveClockOptions {
  /**
   * Waits shorter than this, µs, are not left to a timer (Node never fires one in under
   * 1 ms, and often later): the clock checks the time at every turn of the event loop
   * instead (`setImmediate`, so sockets and timers still run). A simulated 100 µs latency
   * then stays ≈ 100 µs instead of ≥ 1 ms, at the price of a busy core while such waits
   * last: a replay whose events come less than this apart keeps a core at 100 %. Default 0
   * (every wait on a timer); 1 000 makes every sub-millisecond wait precise.
   */
  spinBelowUs?: number;
}

/**
 * Wall-clock time; actions run on Node timers. The only place live time is read.
 *
 * Actions run in (time, scheduling order), as on `SimClock`: one timer wakes the clock for the
 * earliest action and every action then due runs in order. An action already due runs as
 * soon as the code that scheduled it returns (a microtask), so that a zero-latency hop —
 * the gateway handing an order to an in-process venue and the venue's ack coming back —
 * costs no turn of the event loop. After {@link LIVE_CLOCK_MICROTASK_WAKES} such wake-ups in
 * a row the clock waits for the next turn (`setImmediate`; `setTimeout` never waits less than
 * 1 ms), and actions scheduled while a batch runs wait for the next wake-up, so a chain of
 * zero-delay actions never starves sockets or timers. Later actions wait on a timer (late by
 * up to about a millisecond, as Node's timers are), or, when due within
 * {@link LiveClockOptions.spinBelowUs}, run at the first turn of the loop at or after their time.
 */
export class LiveClock implements Scheduler {
  readonly simulated = false;
  private seq = 0;
  private readonly queue = new ActionQueue();
  // Two kinds of wake-up, kept apart so that a hop due now never tears down the timer of a
  // later action (a deadline, the next market-data event): re-arming a Node timer for every
  // order cost more than the hop itself.
  /** The wake-up for the earliest future action: a timer, or when it is close, a spin. */
  private timer: NodeJS.Timeout | undefined;
  private spinning: NodeJS.Immediate | undefined;
  /** Time the timer (or spin) is armed for, µs (Infinity: none). Cancelled actions leave it armed: it fires, finds nothing, re-arms for what is left. */
  private timerTs = Number.POSITIVE_INFINITY;
  /** The wake-up for actions already due, after the microtask budget: the next turn of the loop. */
  private dueImmediate: NodeJS.Immediate | undefined;
  /** Token of the armed microtask wake-up (a microtask cannot be cancelled: a stale one sees another token); 0: none. */
  private micro = 0;
  private microTokens = 0;
  /** Microtask wake-ups since the event loop last turned. */
  private microStreak = 0;
  private streakReset: NodeJS.Immediate | undefined;
  /** Waits shorter than this, µs, poll the wall at each turn of the event loop ({@link LiveClockOptions.spinBelowUs}). */
  readonly spinBelowUs: number;

  /** @throws RangeError when `spinBelowUs` is not an integer ≥ 0. */
  constructor(opts: LiveClockOptions = {}) {
    this.spinBelowUs = opts.spinBelowUs ?? 0;
    if (!Number.isSafeInteger(this.spinBelowUs) || this.spinBelowUs < 0) throw new RangeError(`spinBelowUs must be an integer ≥ 0, got ${String(opts.spinBelowUs)}`);
  }

  now(): number {
    return Math.round(performance.timeOrigin * 1000 + performance.now() * 1000);
  }
  at(ts: number, fn: () => void): number {
    const a: Action = { ts, seq: ++this.seq, fn };
    this.queue.add(a);
    if (ts < this.timerTs) {
      // Due now (or behind a timer Node has not fired yet: it fires ≥ 1 ms after it is set,
      // and a venue's answer must not wait for it): soon. Else the timer moves earlier.
      if (ts <= this.now()) this.wakeSoon();
      else this.armTimer(ts);
    } else if (this.micro === 0 && this.dueImmediate === undefined && ts <= this.now()) this.wakeSoon();
    return a.seq;
  }
  cancel(handle: number): void {
    this.queue.cancel(handle);
  }
  /** Cancels every pending action (at shutdown). */
  cancelAll(): void {
    this.queue.clear();
    this.disarmTimer();
    if (this.dueImmediate) clearImmediate(this.dueImmediate);
    this.dueImmediate = undefined;
    this.micro = 0;
    if (this.streakReset) clearImmediate(this.streakReset);
    this.streakReset = undefined;
    this.microStreak = 0;
  }

  /** A wake-up for what is due now: a microtask (a few in a row), else the next turn of the loop. */
  private wakeSoon(): void {
    if (this.micro !== 0 || this.dueImmediate !== undefined) return;
    if (this.microStreak < LIVE_CLOCK_MICROTASK_WAKES) {
      // The streak ends when the loop turns (this immediate runs in its check phase).
      if (this.microStreak++ === 0) this.streakReset = setImmediate(this.endStreak);
      const token = ++this.microTokens;
      this.micro = token;
      queueMicrotask(() => {
        if (this.micro === token) this.wake();
      });
    } else this.dueImmediate = setImmediate(this.wake);
  }
  private armTimer(ts: number): void {
    this.disarmTimer();
    const delayUs = ts - this.now();
    if (delayUs <= 0) return this.wakeSoon();
    this.timerTs = ts;
    if (delayUs >= this.spinBelowUs) this.timer = setTimeout(this.onTimer, delayUs / 1000);
    else this.spinning = setImmediate(this.spin);
  }
  private disarmTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.spinning) clearImmediate(this.spinning);
    this.timer = undefined;
    this.spinning = undefined;
    this.timerTs = Number.POSITIVE_INFINITY;
  }
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerTs = Number.POSITIVE_INFINITY;
    this.wake();
  };
  /** A short wait: one check of the time per turn of the loop. */
  private readonly spin = (): void => {
    this.spinning = undefined;
    if (this.now() >= this.timerTs) {
      this.timerTs = Number.POSITIVE_INFINITY;
      this.wake();
    } else this.spinning = setImmediate(this.spin);
  };
  private readonly endStreak = (): void => {
    this.streakReset = undefined;
    this.microStreak = 0;
  };
  private readonly wake = (): void => {
    if (this.dueImmediate) clearImmediate(this.dueImmediate);
    this.dueImmediate = undefined;
    this.micro = 0;
    const now = this.now();
    const lastSeq = this.seq;
    for (let a = this.queue.peek(); a !== undefined && a.ts <= now && a.seq <= lastSeq; a = this.queue.peek()) {
      this.queue.pop();
      try {
        a.fn();
      } catch (err) {
        // One failing action must not stop the others; surface it as Node would a timer's.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    const next = this.queue.peek();
    if (next === undefined) return;
    if (next.ts <= this.now()) this.wakeSoon();
    else if (next.ts < this.timerTs) this.armTimer(next.ts);
  };
}
