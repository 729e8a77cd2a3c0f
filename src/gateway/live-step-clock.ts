/**
 * Wall time for a live strategy that stands still while the strategy is in a callback, so
 * that a live journal replays byte for byte like a backtest's.
 *
 * A plain `LiveClock` moves under the strategy's feet: a request made inside a callback is
 * stamped a few µs after the event that caused it, and a timer fires (and is journaled)
 * whenever Node gets to it, later than it was due. A replay, on a `SimClock`, stamps both
 * with the event's time and fires timers exactly when due, so the journals differ.
 * `LiveStepClock` behaves like the replay's clock:
 *
 * - time moves to the wall clock only in `step()` (the runner calls it when a frame
 *   arrives) or when read while the strategy is idle — never while `frozen()` (the env is
 *   dispatching);
 * - time never moves past a scheduled action that has not run: actions (timers, daily
 *   callbacks, venue latencies) run on a `LiveClock` timer, each at exactly its due time.
 *
 * It reads the wall only through `LiveClock`. `simulated` is true so that daily callbacks
 * are computed on it (exact due times) rather than handed to cron.
 * @module
 */
import { LiveClock, SimClock, type Scheduler } from '../core/clock.js';

/** See the module documentation. */
export class LiveStepClock implements Scheduler {
  readonly simulated = true;
  private readonly live: LiveClock;
  private readonly sim: SimClock;
  private frozen: () => boolean;
  private timer: number | undefined;
  private timerTs = Number.POSITIVE_INFINITY;
  private running = false;

  /**
   * @param live the wall clock.
   * @param frozen true while time must stand still (the env's `busy`); default never.
   */
  constructor(live: LiveClock, frozen: () => boolean = () => false) {
    this.live = live;
    this.sim = new SimClock(live.now());
    this.frozen = frozen;
  }

  /** Sets what freezes time (the env, once built: `() => env.busy`). */
  setFrozen(frozen: () => boolean): void {
    this.frozen = frozen;
  }

  /** Current time, µs since the epoch; steps to the wall first when nothing freezes it. */
  now(): number {
    if (!this.running && !this.frozen()) this.advance();
    return this.sim.now();
  }

  /** Moves time to the wall clock unless frozen (an event arrived). */
  step(): void {
    if (!this.running && !this.frozen()) this.advance();
  }

  /** To the wall, but never past an action that has not run yet. */
  private advance(): void {
    this.sim.setTime(Math.min(this.live.now(), this.sim.nextDueTs() - 1));
  }

  at(ts: number, fn: () => void): number {
    const h = this.sim.at(ts, fn);
    this.arm();
    return h;
  }

  cancel(handle: number): void {
    this.sim.cancel(handle);
  }

  /** Cancels the pending wall-clock timer (at shutdown); scheduled actions stay but will not run. */
  close(): void {
    if (this.timer !== undefined) this.live.cancel(this.timer);
    this.timer = undefined;
    this.timerTs = Number.POSITIVE_INFINITY;
  }

  /** One wall timer for the earliest action. */
  private arm(): void {
    const next = this.sim.nextDueTs();
    if (!Number.isFinite(next) || next >= this.timerTs) return;
    if (this.timer !== undefined) this.live.cancel(this.timer);
    this.timerTs = next;
    this.timer = this.live.at(next, () => {
      this.timer = undefined;
      this.timerTs = Number.POSITIVE_INFINITY;
      this.runDue();
      this.arm();
    });
  }

  /** Runs every action due by the wall clock, each at its own time. */
  private runDue(): void {
    this.running = true;
    try {
      const wall = this.live.now();
      while (this.sim.runNext(wall)) {
        /* each action runs with the clock at its due time */
      }
    } finally {
      this.running = false;
    }
  }
}
