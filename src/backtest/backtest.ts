/**
 * A backtest: recorded market events → books → simulated venue → the strategy, on a
 * simulated clock. The same kernel (`StratEnv`) as every other mode.
 * @module
 */
import type { Logger } from 'pino';
import type { MDSub } from '../api/enums.js';
import type { Instrument } from '../api/instrument.js';
import type { StratParams } from '../api/events.js';
import type { IStrategy } from '../api/strategy.js';
import { BookFeed } from '../book/feed.js';
import { L3Book } from '../book/l3-book.js';
import { SimClock, type Scheduler } from '../core/clock.js';
import { StratEnv, type MarketDataHub } from '../core/env.js';
import { Journal, type JournalMarketData, type JournalSink } from '../core/journal.js';
import type { KillSwitchConfig, TradingControls } from '../core/risk.js';
import type { MdEvent } from '../data/events.js';
import { RECORDED_FORMAT_NAME } from '../data/recorded.js';
import type { QueueModel } from '../sim/queue.js';
import { SimVenue, type SimVenueOptions } from '../sim/venue.js';
import { Recorder, observeVenue } from './recorder.js';
import { DrawdownTracker, netPnl, summarize, type RunSummary } from './summary.js';

/** A recorded market: instruments and their events in time order. */
export interface MarketSource {
  /** Venue id the instruments trade on. */
  exchange: string;
  instruments: Instrument[];
  events(): AsyncIterable<MdEvent>;
  /**
   * Optional faster path: events in batches read synchronously, so a replay awaits once per
   * batch instead of once per event. The event `read` fills may be reused.
   */
  batches?(): AsyncIterable<EventBatch>;
  /** Number of events when known in advance (recorded files), for progress display. */
  eventCount?: number;
  /** Provenance for the journal header. */
  data?: { path: string; sha256: string; format: string };
}

/** A run of events readable by index (e.g. a chunk of a recorded file). */
export interface EventBatch {
  readonly length: number;
  /** Decodes event `i` into `into` and returns it. */
  read(i: number, into: MdEvent): MdEvent;
}

/** Data formats `openMarketData` reopens by path, so a journal may refer to them. */
const REOPENABLE = new Set(['lobster', 'binance', 'coinbase', 'recorded', RECORDED_FORMAT_NAME]);

/** `'ref'` when the source's data file can be reopened by a replay, else `'value'`. */
export function defaultJournalMarketData(source: MarketSource): JournalMarketData {
  return source.data && REOPENABLE.has(source.data.format) ? 'ref' : 'value';
}

/**
 * The market-data hub of a run over books it replays itself: a subscription sets the feed's
 * callbacks and, when the book already holds orders, sends a snapshot. Shared by backtest and
 * replay so that both see the same callbacks.
 */
export function feedHub(feeds: ReadonlyMap<number, BookFeed>): MarketDataHub {
  return {
    subscribe: (_exchange, instrumentId, subs: ReadonlySet<MDSub>) => {
      const feed = feeds.get(instrumentId);
      if (!feed) return;
      const wasEmpty = feed.depth.depth(1) === 0 && feed.depth.depth(-1) === 0;
      feed.setSubscriptions(subs);
      if (!wasEmpty) feed.snapshot();
    },
  };
}

/**
 * Mid of an instrument from the books a feed maintains (the strategy's view), quote currency;
 * NaN while a side is empty. The env's controls read it; backtest and replay share it so that
 * both price them alike.
 */
export function feedMid(feeds: ReadonlyMap<number, BookFeed>): (exchange: string, instrumentId: number) => number {
  return (_exchange, instrumentId) => {
    const feed = feeds.get(instrumentId);
    if (!feed) return Number.NaN;
    const b = feed.book.l2.bestBidTick();
    const a = feed.book.l2.bestAskTick();
    return Number.isFinite(b) && Number.isFinite(a) ? ((a + b) / 2) * feed.instrument.tickSize.toNumber() : Number.NaN;
  };
}

/** Pulls events one at a time: from batches without an await per event when the source has them. */
export class EventCursor {
  private readonly batchIt: AsyncIterator<EventBatch> | undefined;
  private readonly eventIt: AsyncIterator<MdEvent> | undefined;
  private batch: EventBatch | undefined;
  private i = 0;
  private readonly scratch: MdEvent = { type: 0 as MdEvent['type'], instrumentId: 0, exchTs: 0, localTs: 0, side: 0, orderId: 0, priceTick: 0, qty: 0, status: 0 };

  constructor(source: MarketSource) {
    if (source.batches) this.batchIt = source.batches()[Symbol.asyncIterator]();
    else this.eventIt = source.events()[Symbol.asyncIterator]();
  }
  /** The next event of the current batch, or undefined when `refill` is needed. */
  nextSync(): MdEvent | undefined {
    const b = this.batch;
    return b !== undefined && this.i < b.length ? b.read(this.i++, this.scratch) : undefined;
  }
  /** The next event after an await; undefined at the end of the data. */
  async refill(): Promise<MdEvent | undefined> {
    if (this.eventIt) {
      const r = await this.eventIt.next();
      return r.done ? undefined : r.value;
    }
    for (;;) {
      const r = await this.batchIt!.next();
      if (r.done) return undefined;
      this.batch = r.value;
      this.i = 0;
      const ev = this.nextSync();
      if (ev) return ev;
    }
  }
}

/**
 * Market events on their way to the strategy: a FIFO of copies, each with its arrival time
 * in `localTs` (so the strategy's callbacks carry the time it received them). Arrival times
 * never decrease, as a feed delivers in order.
 */
class DelayedFeed {
  private buf: MdEvent[] = [];
  private head = 0;
  private lastTs = Number.NEGATIVE_INFINITY;

  push(ev: MdEvent, arrivalTs: number): void {
    this.lastTs = Math.max(this.lastTs, arrivalTs);
    this.buf.push({ ...ev, localTs: this.lastTs });
  }
  peek(): MdEvent | undefined {
    return this.head < this.buf.length ? this.buf[this.head] : undefined;
  }
  shift(): void {
    this.head++;
    // Drop delivered events now and then so that memory follows the delay, not the run.
    if (this.head > 4096 && this.head * 2 > this.buf.length) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
  }
}

/** A command to run at a simulated time, as if typed on the console. */
export interface ScheduledCommand {
  /** Simulated time, µs since the epoch. */
  atUs: number;
  name: string;
  params: string[];
  /** Receives the hook's reply. */
  reply?: (text: string) => void;
}

/** `BacktestOptions.sim`: the simulated venue's options, plus queue models that read the replayed book. */
export type BacktestSimOptions = Omit<SimVenueOptions, 'exchange' | 'instruments' | 'scheduler' | 'depth'> & {
  /**
   * Builds the queue model of an instrument from its replayed L3 book (e.g.
   * `(_, book) => new L3FifoQueueModel(book)`); called once per instrument. Takes precedence
   * over `queueModel`.
   */
  bookQueueModel?: (inst: Instrument, book: L3Book) => QueueModel;
};

/** The options a backtest and a paper run share to build their venue and env (see `BacktestOptions`). */
export interface SimRunOptions {
  strategy: IStrategy;
  params?: StratParams;
  sim?: BacktestSimOptions;
  timeZone?: string;
  raiseErrors?: boolean;
  controls?: TradingControls;
  killSwitch?: KillSwitchConfig;
  notify?: (msg: string) => void;
  telegram?: (strategy: string, msg: string) => void;
}

/** The simulated venue of a run on `source`, on `clock`; `bookOf` gives the L3 book its queue models and depth read. */
export function createSimVenue(source: MarketSource, sim: BacktestSimOptions | undefined, clock: Scheduler, bookOf: (instrumentId: number) => L3Book): SimVenue {
  const { bookQueueModel, ...simOpts } = sim ?? {};
  return new SimVenue({
    ...simOpts,
    ...(bookQueueModel ? { queueModel: (inst: Instrument) => bookQueueModel(inst, bookOf(inst.instrumentId)) } : {}),
    exchange: source.exchange,
    instruments: source.instruments,
    scheduler: clock,
    depth: (id) => bookOf(id).l2,
  });
}

/** The strategy's env of a simulated run: its venue observed by the recorder, market data from the feeds. */
export function createSimEnv(
  opts: SimRunOptions,
  parts: { clock: Scheduler; venue: SimVenue; recorder: Recorder; journal: Journal | undefined; logger: Logger; feeds: ReadonlyMap<number, BookFeed> },
): StratEnv {
  const { clock, feeds } = parts;
  return new StratEnv({
    strategy: opts.strategy,
    clock,
    venues: [observeVenue(parts.venue, () => clock.now(), parts.recorder)],
    journal: parts.journal,
    logger: parts.logger,
    params: opts.params,
    timeZone: opts.timeZone,
    raiseErrors: opts.raiseErrors,
    marketData: feedHub(feeds),
    controls: opts.controls,
    killSwitch: opts.killSwitch,
    mid: feedMid(feeds),
    notify: opts.notify,
    telegram: opts.telegram,
  });
}

/** The journal's header line of a simulated run. */
export function writeSimRunHeader(journal: Journal | undefined, mode: 'backtest' | 'paper', env: StratEnv, opts: SimRunOptions, source: MarketSource, startTs: number): void {
  journal?.header({
    mode,
    venues: env.journalVenues(),
    params: opts.params ?? {},
    timeZone: opts.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
    data: source.data,
    startTs,
    ...(opts.controls ? { controls: opts.controls } : {}),
    ...(opts.killSwitch ? { killSwitch: opts.killSwitch } : {}),
  });
}

/** Ends a simulated run (the env, the journal, the recorder's series) and returns its summary. */
export function endSimRun(p: {
  env: StratEnv;
  journal: Journal | undefined;
  recorder: Recorder;
  nowUs: number;
  names: Map<string, string>;
  startTs: number;
  events: number;
  maxDrawdown: number;
  stopAcked: boolean;
}): RunSummary {
  const { env, recorder } = p;
  env.end();
  p.journal?.close();
  recorder.finish(p.nowUs, netPnl(env.tracker));
  return summarize({
    strategy: env.strategyName ?? '?',
    tracker: env.tracker,
    names: p.names,
    startTs: p.startTs,
    endTs: p.nowUs,
    events: p.events,
    maxDrawdown: p.maxDrawdown,
    callbackErrors: env.errorCount,
    stopAcked: p.stopAcked,
    stats: recorder.stats(),
  });
}

/** Options of `runBacktest`. */
export interface BacktestOptions {
  strategy: IStrategy;
  source: MarketSource;
  logger: Logger;
  /** Strategy parameters (the config's `params`). */
  params?: StratParams;
  /** Simulated venue settings (latency, fees, balances). */
  sim?: BacktestSimOptions;
  /** Where the journal goes (omit for none). */
  journal?: JournalSink;
  /**
   * How market-data callbacks are journaled (see `JournalHeader.md`): `'ref'` writes none
   * and lets a replay re-read the data file, `'value'` writes each one. Default `'ref'` when
   * the source names a data file that `openMarketData` can reopen (`source.data` with format
   * lobster, binance, coinbase or recorded), else `'value'`.
   */
  journalMarketData?: JournalMarketData;
  /** IANA timezone of daily callbacks (default the system's). */
  timeZone?: string;
  raiseErrors?: boolean;
  /** Simulated time the runner waits for `sendStopAck` after onStop (default 10 s). */
  stopTimeoutMs?: number;
  /** Commands injected at simulated times. */
  commands?: ScheduledCommand[];
  /**
   * Parameter changes at simulated times (µs), as from `/set` or an edited params file: each
   * calls `env.updateParams(params)` (journaled; refused when the strategy's `paramsSchema`
   * refuses it).
   */
  paramChanges?: Array<{ atUs: number; params: StratParams }>;
  /** Called every `yieldEvery` events so that a console can be served; also yields to the event loop. */
  onYield?: (env: StratEnv) => void;
  /** Called at every yield with the events replayed so far (progress display). */
  onProgress?: (events: number) => void;
  /** Events between yields to the event loop (default 4096). */
  yieldEvery?: number;
  /** Receives the env once created (console channels, tests), and the simulated venue (its account's balances). */
  onEnv?: (env: StratEnv, venue: SimVenue) => void;
  /** Collects the series and figures of the run (default: a new `Recorder()`); see `BacktestResult.recorder`. */
  recorder?: Recorder;
  /** Trading controls (the config's `controls`; docs/controls.md). Default none. */
  controls?: TradingControls;
  /** Kill switch (the config's `killSwitch`), fed the equity after every mark. Default: no automatic trigger. */
  killSwitch?: KillSwitchConfig;
  /** Where kill-switch trips and pauses are reported (default: the `telegram` channel, else a warn log line). */
  notify?: (msg: string) => void;
  /** Channel of `env.publishTelegram` (and of the owner's notices without `notify`), e.g. `(s, m) => tg.publish(s, m)`. Default: logged. */
  telegram?: (strategy: string, msg: string) => void;
}

/** Outcome of a backtest. */
export interface BacktestResult {
  summary: RunSummary;
  env: StratEnv;
  venue: SimVenue;
  /** What the run recorded: `recorder.data()` feeds `writeReport`. */
  recorder: Recorder;
  /** False when the strategy never started (no login) or failed with raiseErrors. */
  ok: boolean;
  error?: string;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs a strategy over a recorded market to the end of the data. */
export async function runBacktest(opts: BacktestOptions): Promise<BacktestResult> {
  const { source, logger } = opts;
  const cursor = new EventCursor(source);
  let ev: MdEvent | undefined = await cursor.refill();
  const startTs = ev ? ev.localTs : 0;
  const clock = new SimClock(startTs);
  const feeds = new Map<number, BookFeed>();
  const names = new Map<string, string>();

  // eslint-disable-next-line prefer-const
  let env: StratEnv;
  for (const inst of source.instruments) {
    names.set(`${inst.exchange}|${inst.instrumentId}`, inst.name);
    feeds.set(inst.instrumentId, new BookFeed(inst, (cb, ev) => env.onMarketData(cb, ev)));
  }
  // With a feed latency the engine keeps its own books, ahead of the strategy's by the feed
  // delay; without one both read the feed's book (no copy, the fast path).
  const latency = opts.sim?.latency;
  const feedUs = latency?.feedUs?.bind(latency);
  const engineBooks = new Map<number, L3Book>();
  for (const inst of source.instruments) engineBooks.set(inst.instrumentId, feedUs ? new L3Book() : feeds.get(inst.instrumentId)!.book);
  const venue = createSimVenue(source, opts.sim, clock, (id) => engineBooks.get(id)!);
  // Delayed market data arrives at drawn times that the data file alone does not give: by value.
  const journal = opts.journal ? new Journal(opts.journal, { marketData: feedUs ? 'value' : (opts.journalMarketData ?? defaultJournalMarketData(source)) }) : undefined;
  /** Mid price of an instrument in quote currency, NaN while a side is empty. */
  const tickValue = new Map(source.instruments.map((i) => [i.instrumentId, i.tickSize.toNumber()]));
  const midOf = (instrumentId: number): number => {
    const book = engineBooks.get(instrumentId);
    if (!book) return Number.NaN;
    const b = book.l2.bestBidTick();
    const a = book.l2.bestAskTick();
    return Number.isFinite(b) && Number.isFinite(a) ? ((a + b) / 2) * tickValue.get(instrumentId)! : Number.NaN;
  };
  /** Mid each instrument was last marked at: equity changes only with a fill or a new mid. */
  const markedMid = new Map<number, number>();
  /** Best ticks last checked per instrument, so an unchanged touch costs no mid computation. */
  const marks = new Map<number, { bid: number; ask: number }>();
  const recorder = opts.recorder ?? new Recorder();
  recorder.begin({ startTs, instruments: source.instruments, mid: midOf });
  env = createSimEnv(opts, { clock, venue, recorder, journal, logger, feeds });
  opts.onEnv?.(env, venue);
  writeSimRunHeader(journal, 'backtest', env, opts, source, startTs);

  const dd = new DrawdownTracker();
  const commands = [...(opts.commands ?? [])].sort((a, b) => a.atUs - b.atUs);
  for (const c of commands) {
    clock.at(c.atUs, () => {
      void env.runCommand(c.name, c.params).then((r) => c.reply?.(r));
    });
  }
  for (const p of [...(opts.paramChanges ?? [])].sort((a, b) => a.atUs - b.atUs)) clock.at(p.atUs, () => void env.updateParams(p.params));

  /** Runs due scheduled actions one by one, letting async callbacks settle in between. */
  const runUntil = async (ts: number) => {
    while (clock.runNext(ts)) if (env.busy) await env.idle();
    clock.setTime(ts);
  };
  const markAll = () => {
    for (const p of env.tracker.positions()) {
      if (p.position.isZero()) continue;
      const mid = midOf(p.instrumentId);
      if (!Number.isNaN(mid)) {
        env.tracker.mark(p.exchange, p.instrumentId, mid);
        markedMid.set(p.instrumentId, mid);
      }
    }
    const equity = netPnl(env.tracker);
    dd.update(equity);
    recorder.onEquity(clock.now(), equity);
    env.equityCheck(equity);
  };

  const started = await env.connect();
  if (!started) {
    env.end();
    journal?.close();
    recorder.finish(clock.now(), 0);
    const summary = summarize({ strategy: env.strategyName ?? '?', tracker: env.tracker, names, startTs, endTs: clock.now(), events: 0, maxDrawdown: 0, callbackErrors: env.errorCount, stopAcked: false, stats: recorder.stats() });
    return { summary, env, venue, recorder, ok: false, error: env.failed ? String(env.failure) : (env.startError ?? 'strategy did not log in') };
  }

  // Serve console lines that arrived before the strategy was running.
  opts.onYield?.(env);
  await yieldToLoop();
  if (env.busy) await env.idle();

  let events = 0;
  let fillsSeen = 0;
  const yieldEvery = opts.yieldEvery ?? 4096;
  /** Marks equity after a fill, or when the touch of an instrument with a position moved. */
  const markAfter = (instrumentId: number) => {
    const f = env.tracker.fillCount;
    if (f !== fillsSeen) {
      fillsSeen = f;
      markAll();
      return;
    }
    if (!env.tracker.hasOpenPosition) return;
    const book = engineBooks.get(instrumentId);
    if (!book) return;
    // Equity moves only with the mid: compare the best ticks before computing it.
    const b = book.l2.bestBidTick();
    const a = book.l2.bestAskTick();
    const m = marks.get(instrumentId);
    if (m !== undefined && m.bid === b && m.ask === a) return;
    const mid = midOf(instrumentId);
    if (!Number.isNaN(mid) && mid !== markedMid.get(instrumentId)) markAll();
    if (m === undefined) marks.set(instrumentId, { bid: b, ask: a });
    else {
      m.bid = b;
      m.ask = a;
    }
  };
  /**
   * Advances the clock to `ts`, running what is due on the way. Returns a promise only when
   * something was due: most events have nothing scheduled before them and skip the await.
   */
  const advance = (ts: number): Promise<void> | undefined => {
    if (ts <= clock.now()) return undefined;
    if (clock.nextDueTs() <= ts) return runUntil(ts);
    clock.setTime(ts);
    return undefined;
  };
  const delayed = feedUs ? new DelayedFeed() : undefined;
  /** Delivers delayed events due at or before `ts` to the strategy's books, each at its time. */
  const deliverDelayed = async (ts: number) => {
    for (let p = delayed!.peek(); p !== undefined && p.localTs <= ts; p = delayed!.peek()) {
      const due = advance(p.localTs);
      if (due) await due;
      feeds.get(p.instrumentId)?.apply(p);
      delayed!.shift();
      if (env.busy) await env.idle();
    }
  };
  while (ev !== undefined && !env.failed) {
    if (journal) journal.dataPos = events;
    if (delayed) {
      // The engine sees the event at its exchange time, the strategy at local time + feed
      // latency (FIFO: a feed never reorders). Whatever reached the strategy by then first.
      const engineTs = Math.max(clock.now(), ev.exchTs);
      await deliverDelayed(engineTs);
      const due = advance(engineTs);
      if (due) await due;
      const book = engineBooks.get(ev.instrumentId);
      if (book) {
        book.apply(ev);
        venue.onMarketEvent(ev);
        recorder.onMarketEvent(ev.instrumentId, clock.now());
        delayed.push(ev, Math.max(ev.localTs, engineTs) + feedUs!());
      }
    } else {
      const due = advance(ev.localTs);
      if (due) await due;
      const feed = feeds.get(ev.instrumentId);
      if (feed) {
        feed.apply(ev);
        venue.onMarketEvent(ev);
        recorder.onMarketEvent(ev.instrumentId, clock.now());
      }
    }
    if (env.busy) await env.idle();
    events++;
    // What marking sets off (a kill-switch trip) comes after this event: a replay must apply it first.
    if (journal) journal.dataPos = events;
    markAfter(ev.instrumentId);
    if (events % yieldEvery === 0) {
      opts.onYield?.(env);
      opts.onProgress?.(events);
      await yieldToLoop();
    }
    ev = cursor.nextSync() ?? (await cursor.refill());
  }
  // What is still on its way reaches the strategy before the session ends.
  if (delayed && !env.failed) await deliverDelayed(Number.POSITIVE_INFINITY);

  if (journal) journal.dataPos = events;
  // End of data: onStop, bounded wait for the ack in simulated time, then close the session.
  let stopAcked = false;
  if (!env.failed) {
    void env.stop();
    const deadline = clock.now() + (opts.stopTimeoutMs ?? 10_000) * 1000;
    for (;;) {
      if (env.busy) await env.idle();
      if (env.state !== 'stopping') break;
      const next = clock.nextDueTs();
      if (next > deadline) break;
      await runUntil(next);
    }
    stopAcked = env.state === 'stopped';
    if (!stopAcked) {
      logger.warn(`strategy did not call sendStopAck() within ${opts.stopTimeoutMs ?? 10_000} ms of simulated time after onStop`);
      env.forceStopped();
    }
    venue.endSession();
    await runUntil(Math.max(clock.now(), Math.min(clock.nextDueTs(), deadline)));
    while (Number.isFinite(clock.nextDueTs()) && clock.nextDueTs() <= deadline) await runUntil(clock.nextDueTs());
    if (env.busy) await env.idle();
  }
  markAll();
  const summary = endSimRun({ env, journal, recorder, nowUs: clock.now(), names, startTs, events, maxDrawdown: dd.max, stopAcked });
  return { summary, env, venue, recorder, ok: !env.failed, error: env.failed ? String(env.failure) : undefined };
}
