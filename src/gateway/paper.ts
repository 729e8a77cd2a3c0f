/**
 * Paper trading without a gateway: a recorded market (LOBSTER, Binance, Coinbase capture or
 * `.tlrec`) played at the wall clock's pace — or N× faster — into the same books, simulated
 * venue (`SimVenue`) and kernel (`StratEnv`) as a backtest, with the same journal format.
 *
 * The difference from a backtest is time. A backtest jumps from event to event; here a
 * `PacedClock` holds each event and each scheduled action (venue answers, timers) until the
 * wall clock — read through `LiveClock`, the only reader of wall time — has reached its
 * data time divided by `speed`. So at speed 1 the strategy lives the recorded session in
 * real time, and console commands typed meanwhile land at the current data time.
 * `env.now()` is data time (the recorded day), so daily callbacks and exchange-time logic
 * behave as in a backtest of the same file.
 *
 * Order is never left to the event loop: events and actions run in time order exactly as
 * in a backtest; the wall only decides *when*. A run that cannot keep up with `speed` runs
 * as fast as it can, as a backtest would. So a paper journal (`"mode":"paper"`, market data
 * by value) replays with `tradeloop replay` like a backtest's; what the wall adds — when a
 * console command arrived — is journaled with the command.
 * @module
 */
import type { Logger } from 'pino';
import type { StratParams } from '../api/events.js';
import type { IStrategy } from '../api/strategy.js';
import { EventCursor, createSimEnv, createSimVenue, endSimRun, writeSimRunHeader, type BacktestSimOptions, type MarketSource } from '../backtest/backtest.js';
import { Recorder } from '../backtest/recorder.js';
import { DrawdownTracker, netPnl, type RunSummary } from '../backtest/summary.js';
import { BookFeed } from '../book/feed.js';
import { NO_ASK, NO_BID } from '../book/types.js';
import { LiveClock, SimClock, type Scheduler } from '../core/clock.js';
import { StratEnv } from '../core/env.js';
import { Journal, type JournalSink } from '../core/journal.js';
import type { KillSwitchConfig, TradingControls } from '../core/risk.js';
import type { MdEvent } from '../data/events.js';
import { SimVenue } from '../sim/venue.js';

/** Shortest wait worth a timer, wall µs: closer than this the runner goes on at once. */
const MIN_SLEEP_US = 1_000;

/**
 * Data time paced by the wall clock. Scheduling is a `SimClock`'s (actions run in time
 * order, equal times in scheduling order), driven by the runner; the runner waits on the
 * `LiveClock` (the only reader of wall time) until the wall has reached the data time of the
 * next event or action, divided by `speed`. So at speed 1 the session unfolds in real time,
 * and when the runner falls behind (a high speed) nothing is skipped or reordered: it runs
 * as a backtest would, as fast as it can.
 *
 * While the runner sleeps, `now()` follows the wall (up to the time it sleeps until), so a
 * console command or anything else that happens meanwhile is stamped with the current data
 * time; an action scheduled meanwhile earlier than that wakes the runner. `simulated` is
 * true: daily callbacks are computed on this clock, not handed to cron.
 */
export class PacedClock implements Scheduler {
  readonly simulated = true;
  /** Data time at creation, µs since the epoch. */
  readonly originUs: number;
  /** Data µs per wall µs (1 = real time). */
  readonly speed: number;
  private readonly live: LiveClock;
  private readonly liveStartUs: number;
  private readonly sim: SimClock;
  private sleeping: { targetTs: number; wake: () => void } | undefined;
  private paced = true;

  /**
   * @param live the wall clock.
   * @param originUs data time that corresponds to now, µs since the epoch.
   * @param speed data µs per wall µs; > 0. Default 1.
   */
  constructor(live: LiveClock, originUs: number, speed = 1) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be a positive number, got ${speed}`);
    this.live = live;
    this.originUs = originUs;
    this.speed = speed;
    this.liveStartUs = live.now();
    this.sim = new SimClock(originUs);
  }
  /** Data time: the runner's, or (while it sleeps) the wall's up to what it sleeps until. */
  now(): number {
    const t = this.sim.now();
    const s = this.sleeping;
    return s === undefined ? t : Math.max(t, Math.min(this.wallDataTs(), s.targetTs));
  }
  /** The data time the wall clock has reached, µs (ahead of `now()` when the runner is behind). */
  wallDataTs(): number {
    return this.originUs + Math.floor((this.live.now() - this.liveStartUs) * this.speed);
  }
  at(ts: number, fn: () => void): number {
    const h = this.sim.at(Math.max(ts, this.now()), fn);
    if (this.sleeping !== undefined && ts < this.sleeping.targetTs) this.sleeping.wake();
    return h;
  }
  cancel(handle: number): void {
    this.sim.cancel(handle);
  }
  /** Time of the next scheduled action, `Infinity` when none. */
  nextDueTs(): number {
    return this.sim.nextDueTs();
  }
  /** Runs the next action if due at or before `limitTs` (see `SimClock.runNext`). */
  runNext(limitTs: number): boolean {
    return this.sim.runNext(limitTs);
  }
  /** Moves data time forward to `ts` without running actions. */
  setTime(ts: number): void {
    this.sim.setTime(ts);
  }
  /** Stops pacing: from now on `waitUntil` returns at once (a graceful stop runs at full speed). */
  unpace(): void {
    this.paced = false;
    this.sleeping?.wake();
  }
  /**
   * Waits on the wall clock until it reaches data time `ts`. Resolves true when it did (or
   * pacing is off), false when woken early because an earlier action was scheduled or
   * `unpace` was called. Data time follows the wall while waiting.
   */
  waitUntil(ts: number): Promise<boolean> {
    if (!this.paced) return Promise.resolve(true);
    const wallTargetUs = this.liveStartUs + (ts - this.originUs) / this.speed;
    // Node timers have 1 ms granularity: a shorter wait would cost a whole millisecond.
    if (wallTargetUs - this.live.now() < MIN_SLEEP_US) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (reached: boolean) => {
        if (this.sleeping !== sleep) return;
        this.live.cancel(h);
        this.sleeping = undefined;
        this.sim.setTime(Math.min(this.wallDataTs(), ts));
        resolve(reached);
      };
      const sleep = { targetTs: ts, wake: () => done(false) };
      this.sleeping = sleep;
      const h = this.live.at(wallTargetUs, () => done(true));
    });
  }
}

/** Options of `runPaper`. */
export interface PaperOptions {
  strategy: IStrategy;
  /** The recorded market, played from its first event. */
  source: MarketSource;
  logger: Logger;
  /** Strategy parameters (config `params`). */
  params?: StratParams;
  /** Simulated venue settings, as in a backtest (feed latency is not simulated here). */
  sim?: BacktestSimOptions;
  /** Where the journal goes (omit for none). Market data is journaled by value. */
  journal?: JournalSink;
  /** IANA timezone of daily callbacks (default the system's). */
  timeZone?: string;
  raiseErrors?: boolean;
  /** Trading controls (the config's `controls`; docs/controls.md), as in a backtest. Default none. */
  controls?: TradingControls;
  /** Kill switch (the config's `killSwitch`), fed the equity after every mark. Default: no automatic trigger. */
  killSwitch?: KillSwitchConfig;
  /** Data seconds per wall second. Default 1 (the recorded pace). */
  speed?: number;
  /** The wall clock (default a new `LiveClock` with `spinBelowUs`; its timers are cancelled at the end). */
  clock?: LiveClock;
  /** For the default clock: waits under this many µs check the wall each turn of the event loop instead of a ≥ 1 ms timer (`LiveClockOptions.spinBelowUs`). Default 0. */
  spinBelowUs?: number;
  /** Aborting stops the run gracefully (onStop, bounded wait for the ack, session end). */
  signal?: AbortSignal;
  /** Wall ms the runner waits for `sendStopAck` after onStop. Default 10 000. */
  stopTimeoutMs?: number;
  /** Receives the env, the paced clock and the simulated venue once created (console and Telegram channels, log stamps). */
  onEnv?: (env: StratEnv, clock: PacedClock, venue: SimVenue) => void;
  /** Channel of `env.publishTelegram` (and of the owner's notices without `notify`). Default: logged. */
  telegram?: (strategy: string, msg: string) => void;
  /** Where kill-switch trips, pauses and resumes are reported (default: `telegram`, else a warn log line). */
  notify?: (msg: string) => void;
  /** Called every `yieldEvery` events (console lines). */
  onYield?: (env: StratEnv) => void;
  /** Events between yields to the event loop when the data runs behind the clock. Default 256. */
  yieldEvery?: number;
}

/** Outcome of a paper run. */
export interface PaperResult {
  summary: RunSummary;
  env: StratEnv;
  venue: SimVenue;
  /** False when the strategy never started or failed with raiseErrors. */
  ok: boolean;
  error?: string;
  /** True when stopped by the signal before the end of the data. */
  aborted: boolean;
}

/**
 * Plays a recorded market into a strategy at the wall clock's pace (× `speed`) on a
 * simulated venue, to the end of the data or until `signal` aborts. Then, like a backtest:
 * onStop, a bounded wait for `sendStopAck`, the venue's session end (what rests is
 * cancelled, `SessionEnd`), and the summary.
 */
export async function runPaper(opts: PaperOptions): Promise<PaperResult> {
  const { source, logger } = opts;
  const live = opts.clock ?? new LiveClock({ spinBelowUs: opts.spinBelowUs });
  const speed = opts.speed ?? 1;
  const cursor = new EventCursor(source);
  let ev: MdEvent | undefined = await cursor.refill();
  const startTs = ev ? ev.localTs : 0;
  const clock = new PacedClock(live, startTs, speed);
  const feeds = new Map<number, BookFeed>();
  const names = new Map<string, string>();
  // eslint-disable-next-line prefer-const
  let env: StratEnv;
  for (const inst of source.instruments) {
    names.set(`${inst.exchange}|${inst.instrumentId}`, inst.name);
    feeds.set(inst.instrumentId, new BookFeed(inst, (cb, e) => env.onMarketData(cb, e)));
  }
  if (opts.sim?.latency?.feedUs) logger.warn('sim.latencyUs.feed is not simulated in paper mode: the strategy and the venue read the same book');
  const venue = createSimVenue(source, opts.sim, clock, (id) => feeds.get(id)!.book);
  const journal = opts.journal ? new Journal(opts.journal, { marketData: 'value' }) : undefined;
  const tickValue = new Map(source.instruments.map((i) => [i.instrumentId, i.tickSize.toNumber()]));
  const midOf = (id: number): number => {
    const d = feeds.get(id)?.depth;
    if (!d) return Number.NaN;
    const b = d.bestBidTick();
    const a = d.bestAskTick();
    return b !== NO_BID && a !== NO_ASK ? ((a + b) / 2) * tickValue.get(id)! : Number.NaN;
  };
  const recorder = new Recorder();
  recorder.begin({ startTs, instruments: source.instruments, mid: midOf });
  env = createSimEnv(opts, { clock, venue, recorder, journal, logger, feeds });
  opts.onEnv?.(env, clock, venue);
  writeSimRunHeader(journal, 'paper', env, opts, source, startTs);

  let aborted = opts.signal?.aborted === true;
  const onAbort = () => {
    aborted = true;
    clock.unpace();
  };
  if (aborted) clock.unpace();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let sinceYield = 0;
  /** Lets I/O (console lines, signals) in when the runner never sleeps: through the clock, no raw timer. */
  const maybeYield = async () => {
    if (++sinceYield < yieldEvery) return;
    sinceYield = 0;
    opts.onYield?.(env);
    await new Promise<void>((resolve) => live.at(0, resolve));
    if (env.busy) await env.idle();
  };
  /** Runs every action due up to `ts`, each once the wall has reached its time; then time is `ts`. */
  const advanceTo = async (ts: number) => {
    for (;;) {
      const next = Math.min(clock.nextDueTs(), ts);
      if (!(await clock.waitUntil(next))) continue; // woken: something earlier was scheduled
      if (clock.nextDueTs() <= next) {
        clock.runNext(next);
        if (env.busy) await env.idle();
        await maybeYield();
        continue;
      }
      clock.setTime(ts);
      return;
    }
  };

  const dd = new DrawdownTracker();
  const markAll = () => {
    for (const p of env.tracker.positions()) {
      if (p.position.isZero()) continue;
      const mid = midOf(p.instrumentId);
      if (!Number.isNaN(mid)) env.tracker.mark(p.exchange, p.instrumentId, mid);
    }
    const equity = netPnl(env.tracker);
    dd.update(equity);
    recorder.onEquity(clock.now(), equity);
    env.equityCheck(equity);
  };

  const yieldEvery = opts.yieldEvery ?? 256;
  const finish = (events: number, stopAcked: boolean, ok: boolean, error?: string): PaperResult => {
    opts.signal?.removeEventListener('abort', onAbort);
    const summary = endSimRun({ env, journal, recorder, nowUs: clock.now(), names, startTs, events, maxDrawdown: dd.max, stopAcked });
    if (!opts.clock) live.cancelAll();
    return { summary, env, venue, ok, error, aborted };
  };

  const started = await env.connect();
  if (!started) return finish(0, false, false, env.failed ? String(env.failure) : 'strategy did not log in');

  let events = 0;
  let fills = 0;
  while (ev !== undefined && !aborted && !env.failed) {
    if (ev.localTs > clock.now() || clock.nextDueTs() <= ev.localTs) await advanceTo(ev.localTs);
    if (aborted) break;
    const feed = feeds.get(ev.instrumentId);
    if (feed) {
      feed.apply(ev);
      venue.onMarketEvent(ev);
      recorder.onMarketEvent(ev.instrumentId, clock.now());
    }
    if (env.busy) await env.idle();
    events++;
    if (env.tracker.fillCount !== fills || env.tracker.hasOpenPosition) {
      fills = env.tracker.fillCount;
      markAll();
    }
    await maybeYield();
    ev = cursor.nextSync() ?? (await cursor.refill());
  }

  // End of data or abort: onStop, a bounded wait for the ack (data time, paced unless
  // aborted), then the venue's session end and its last answers.
  let stopAcked = false;
  if (!env.failed) {
    void env.stop();
    const timeoutMs = opts.stopTimeoutMs ?? 10_000;
    const deadline = clock.now() + timeoutMs * 1000;
    for (;;) {
      if (env.busy) await env.idle();
      if (env.state !== 'stopping') break;
      const next = clock.nextDueTs();
      if (next > deadline) break;
      await advanceTo(next);
    }
    stopAcked = env.state === 'stopped';
    if (!stopAcked) {
      logger.warn(`strategy did not call sendStopAck() within ${timeoutMs} ms after onStop`);
      env.forceStopped();
    }
    venue.endSession();
    while (clock.nextDueTs() <= deadline) await advanceTo(clock.nextDueTs());
    if (env.busy) await env.idle();
  }
  markAll();
  return finish(events, stopAcked, !env.failed, env.failed ? String(env.failure) : undefined);
}
