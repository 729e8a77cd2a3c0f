/**
 * A hosted venue of the gateway: a simulated venue (`SimVenue`) and one `L3Book` per
 * instrument, fed by a market source paced on the gateway's clock (a recorded file at its
 * own pace or N× faster, or the synthetic generator the same way). It publishes every
 * market event it applies (`MdEvent` batches) to its listeners, keeps the venue's gateway
 * status, answers book snapshots for new subscribers, and can simulate a feed disconnect.
 *
 * Time: event timestamps are mapped onto the gateway clock — a pass starts "now", and an
 * event `d` µs of data time after the pass's first event is due `d / speed` µs later — so
 * strategies see current times, and fills are stamped with them. Pacing waits through the
 * scheduler (`LiveClock.at`), never a raw timer; events that are due together (one timer
 * wake, or a backlog) go out as one batch.
 *
 * Each pass of the data (the first, and each restart when looping) begins with a silent
 * book build: the leading run of book-building events (the data's own snapshot) is applied
 * without being published, then the host publishes its own snapshot of every instrument
 * (`SnapshotStart`, `Clear`, the book, `SnapshotEnd`), so subscribers see exactly one
 * consistent snapshot per pass whatever the data's format.
 * @module
 */
import type { Logger } from 'pino';
import { GatewayStatus } from '../api/enums.js';
import { makeInstrument, type Instrument } from '../api/instrument.js';
import { EventCursor, type BacktestSimOptions, type MarketSource } from '../backtest/backtest.js';
import { L3Book } from '../book/l3-book.js';
import type { Scheduler } from '../core/clock.js';
import type { Venue, VenueEvent } from '../core/venue.js';
import { ASK, BID, MdStatus, MdType, type MdEvent, type SideCode } from '../data/events.js';
import { SimVenue } from '../sim/venue.js';
import { instrumentToSpec } from './codec.js';

/** What a hosted venue tells the gateway. Every member is optional. */
export interface VenueHostListener {
  /** Market events of the venue in arrival order, already applied to its books (a batch mixes instruments). Do not keep the array. */
  onMd?(exchange: string, events: readonly MdEvent[]): void;
  /** The venue's gateway status changed. */
  onStatus?(exchange: string, status: GatewayStatus, detail: string): void;
  /** An event the venue addresses to one strategy (never `'*'`: broadcasts become status changes). */
  onVenueEvent?(e: VenueEvent): void;
}

/**
 * A venue as the gateway server sees it; `SimVenueHost` is the simulated one, live venues
 * later implement the same interface.
 */
export interface HostedVenue {
  /** Venue id. */
  readonly exchange: string;
  /** Instruments the venue lists. */
  readonly instruments: readonly Instrument[];
  /** Where validated requests go (`submit`). */
  readonly venue: Venue;
  /**
   * False when the venue's orders do not outlive the gateway process (a simulated venue):
   * at start the gateway closes such orders left open in the store by a previous run.
   */
  readonly keepsOrders: boolean;
  /**
   * True when the venue runs inside the gateway process (a simulated venue): what it does is
   * seen outside only through the gateway's frames, and it dies with the process. The
   * gateway may then commit an order together with the venue's answer (group commit);
   * otherwise (default) every write is committed before a request is submitted.
   */
  readonly inProcess?: boolean;
  /** An instrument by id; undefined when not listed. */
  instrument(instrumentId: number): Instrument | undefined;
  /** Current gateway status of the venue, with the reason. */
  gatewayStatus(): { status: GatewayStatus; detail: string };
  /**
   * The book of an instrument for a new subscriber: `Status SnapshotStart`, `Clear`, the book
   * (`OrderAdd` per order, FIFO, best level first; `LevelSet` for levels known only by
   * price), `Status SnapshotEnd`, stamped now. While the feed is down, only
   * `Status Disconnected` (the fresh snapshot follows when it is back). Empty for an unknown
   * instrument.
   */
  snapshot(instrumentId: number): MdEvent[];
  /** Adds a listener; returns a function that removes it. */
  addListener(l: VenueHostListener): () => void;
  /** Starts the feed; resolves once the first book is built and published. */
  start(): Promise<void>;
  /** Stops the feed and ends the venue's session (resting orders are cancelled, `SessionEnd`). */
  stop(): void;
  /** Stops and releases timers. */
  close(): Promise<void>;
}

/** Options of {@link SimVenueHost}. */
export interface SimVenueHostOptions {
  /** Venue id; the source's instruments are listed under it. */
  exchange: string;
  /** The market; `events()`/`batches()` is called once per pass (every pass must give the same instruments). */
  source: MarketSource;
  /** The gateway's clock (`LiveClock`; a `SimClock` in tests that drive time themselves). */
  clock: Scheduler;
  /** Speed multiplier: 1 = the data's own pace, N = N× faster. Default 1. */
  speed?: number;
  /** Start over at the end of the data. Default false: the session ends (`Maintenance`, resting orders cancelled). */
  loop?: boolean;
  /** The simulated venue's models (latency, fees, balances, venue rate limit, queue model). */
  sim?: BacktestSimOptions;
  /** Most events in one published batch; a larger backlog is split, yielding between batches. Default 4 096. */
  maxBatchEvents?: number;
  logger?: Logger;
}

/** Events that build a book (a snapshot's content), for the silent build at the start of a pass. */
function isBookBuilding(ev: MdEvent): boolean {
  switch (ev.type) {
    case MdType.OrderAdd:
    case MdType.LevelSet:
    case MdType.Clear:
      return true;
    case MdType.Status:
      return ev.status === MdStatus.SnapshotStart || ev.status === MdStatus.SnapshotEnd;
    default:
      return false;
  }
}

function statusEvent(instrumentId: number, ts: number, status: MdStatus): MdEvent {
  return { type: MdType.Status, instrumentId, exchTs: ts, localTs: ts, side: 0, orderId: 0, priceTick: 0, qty: 0, status };
}

/**
 * The simulated venue of a gateway, on a paced market source. See the module doc for
 * timing, batching and passes.
 */
export class SimVenueHost implements HostedVenue {
  readonly exchange: string;
  readonly instruments: readonly Instrument[];
  readonly venue: SimVenue;
  readonly keepsOrders = false;
  readonly inProcess = true;
  /** Books by instrument id (read-only for callers: tests compare them with what subscribers built). */
  readonly books = new Map<number, L3Book>();

  private readonly byId = new Map<number, Instrument>();
  private readonly source: MarketSource;
  private readonly clock: Scheduler;
  private readonly speed: number;
  private readonly loop: boolean;
  private readonly maxBatch: number;
  private readonly logger: Logger | undefined;
  private readonly listeners = new Set<VenueHostListener>();
  private cursor: EventCursor | undefined;
  /** The next event (already mapped to gateway time), read but not yet due. */
  private pending: MdEvent | undefined;
  private batch: MdEvent[] = [];
  /** Data time → gateway time of the current pass. */
  private anchorData = 0;
  private anchorWall = 0;
  private lastTs = 0;
  private started = false;
  private stopped = false;
  private building = true;
  private ended = false;
  private feedDown = false;
  private failed: string | undefined;
  private passes = 0;
  private sleepHandle: number | undefined;
  private wake: (() => void) | undefined;
  private reconnectHandle: number | undefined;
  private lastStatus: { status: GatewayStatus; detail: string } | undefined;
  private loopDone: Promise<void> = Promise.resolve();

  /** @throws RangeError for a non-positive speed or batch size. */
  constructor(opts: SimVenueHostOptions) {
    const speed = opts.speed ?? 1;
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be a positive number, got ${speed}`);
    const maxBatch = opts.maxBatchEvents ?? 4096;
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatchEvents must be an integer ≥ 1, got ${maxBatch}`);
    this.exchange = opts.exchange;
    this.source = opts.source;
    this.clock = opts.clock;
    this.speed = speed;
    this.loop = opts.loop ?? false;
    this.maxBatch = maxBatch;
    this.logger = opts.logger;
    // The venue id is the configuration's: a recorded file's instruments are listed under it.
    this.instruments = opts.source.instruments.map((i) => (i.exchange === opts.exchange ? i : makeInstrument({ ...instrumentToSpec(i), exchange: opts.exchange })));
    for (const inst of this.instruments) {
      this.byId.set(inst.instrumentId, inst);
      this.books.set(inst.instrumentId, new L3Book());
    }
    const { bookQueueModel, ...sim } = opts.sim ?? {};
    this.venue = new SimVenue({
      ...sim,
      ...(bookQueueModel ? { queueModel: (inst: Instrument) => bookQueueModel(inst, this.books.get(inst.instrumentId)!) } : {}),
      exchange: opts.exchange,
      instruments: this.instruments,
      scheduler: opts.clock,
      depth: (id) => this.books.get(id)!.l2,
    });
    this.venue.setSink((e) => {
      // The venue's broadcasts are its trading status (halts): they become the host's
      // gateway status, which every connected strategy gets as `gateway_status`.
      if (e.strategy === '*') {
        if (e.cb !== 'onGatewayStatus') this.logger?.warn({ exchange: this.exchange, cb: e.cb }, 'venue broadcast dropped');
        this.updateStatus();
        return;
      }
      for (const l of this.listeners) l.onVenueEvent?.(e);
    });
  }

  instrument(instrumentId: number): Instrument | undefined {
    return this.byId.get(instrumentId);
  }

  addListener(l: VenueHostListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Passes of the data started so far (1 after `start`; +1 per loop). */
  get passCount(): number {
    return this.passes;
  }

  /** True while `disconnectFeed` keeps the feed down. */
  get feedIsDown(): boolean {
    return this.feedDown;
  }

  gatewayStatus(): { status: GatewayStatus; detail: string } {
    if (this.failed !== undefined) return { status: GatewayStatus.Maintenance, detail: `market data failed: ${this.failed}` };
    if (this.ended) return { status: GatewayStatus.Maintenance, detail: 'end of the market data; the session is closed' };
    if (this.stopped) return { status: GatewayStatus.Maintenance, detail: 'gateway shutting down' };
    if (this.building) return { status: GatewayStatus.Connecting, detail: this.passes <= 1 ? 'building the book' : 'restarting the market data from its beginning' };
    if (this.feedDown) return { status: GatewayStatus.Connecting, detail: 'market data feed disconnected' };
    if (this.venue.status() !== GatewayStatus.ReadyToTrade) return { status: this.venue.status(), detail: 'trading halt' };
    return { status: GatewayStatus.ReadyToTrade, detail: 'ready' };
  }

  snapshot(instrumentId: number): MdEvent[] {
    const book = this.books.get(instrumentId);
    if (!book) return [];
    const ts = this.stamp();
    if (this.feedDown || this.building) return [statusEvent(instrumentId, ts, MdStatus.Disconnected)];
    const out: MdEvent[] = [statusEvent(instrumentId, ts, MdStatus.SnapshotStart)];
    out.push({ ...statusEvent(instrumentId, ts, 0 as MdStatus), type: MdType.Clear });
    const l2 = book.l2;
    for (const side of [BID, ASK] as SideCode[]) {
      const n = l2.depth(side);
      for (let i = 0; i < n; i++) {
        const tick = l2.levelTick(side, i);
        if (book.orderCountAt(side, tick) > 0) {
          book.forEachOrderAt(side, tick, (o) => {
            out.push({ type: MdType.OrderAdd, instrumentId, exchTs: ts, localTs: ts, side, orderId: o.id, priceTick: tick, qty: o.qty, status: 0 });
          });
        } else {
          // L2 data (LevelSet): the level has no orders, only a size.
          out.push({ type: MdType.LevelSet, instrumentId, exchTs: ts, localTs: ts, side, orderId: 0, priceTick: tick, qty: l2.levelQty(side, i), status: 0 });
        }
      }
    }
    out.push(statusEvent(instrumentId, ts, MdStatus.SnapshotEnd));
    return out;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error(`venue ${this.exchange} already started`);
    this.started = true;
    this.updateStatus();
    const ok = await this.beginPass();
    if (!ok) {
      this.endOfData();
      return;
    }
    this.loopDone = this.run().catch((err: unknown) => {
      this.failed = err instanceof Error ? err.message : String(err);
      this.logger?.error({ exchange: this.exchange, err }, 'market data failed; the venue is in Maintenance');
      this.updateStatus();
    });
  }

  /**
   * Simulates a market-data disconnect: every subscriber gets `Status Disconnected` for each
   * instrument and the venue goes `Connecting`; the venue's books keep following the market
   * (nothing is published meanwhile). After `downMs` (default 0: at once), every subscriber
   * gets a fresh snapshot (`SnapshotStart`, `Clear`, the book, `SnapshotEnd`) so that its
   * books equal the venue's again, and the venue is `ReadyToTrade`.
   * @param downMs how long the feed stays down, ms of the gateway clock.
   * @returns resolves once the feed is back.
   */
  disconnectFeed(downMs = 0): Promise<void> {
    if (!(downMs >= 0) || !Number.isFinite(downMs)) throw new RangeError(`downMs must be ≥ 0, got ${downMs}`);
    if (this.feedDown) throw new Error(`the feed of ${this.exchange} is already down`);
    this.flush();
    this.feedDown = true;
    const ts = this.stamp();
    const rows = this.instruments.map((i) => statusEvent(i.instrumentId, ts, MdStatus.Disconnected));
    for (const r of rows) this.venue.onMarketEvent(r);
    this.publish(rows);
    this.updateStatus();
    this.logger?.warn({ exchange: this.exchange, downMs }, 'market data feed disconnected (simulated)');
    return new Promise<void>((resolve) => {
      const back = () => {
        this.reconnectHandle = undefined;
        this.reconnect();
        resolve();
      };
      if (downMs === 0) back();
      else this.reconnectHandle = this.clock.at(this.clock.now() + Math.round(downMs * 1000), back);
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.reconnectHandle !== undefined) this.clock.cancel(this.reconnectHandle);
    this.reconnectHandle = undefined;
    this.interruptSleep();
    // Orders still resting are cancelled (SessionEnd) after the venue's response latency, so
    // the gateway can record them before it closes the store.
    if (this.started && !this.ended) this.venue.endSession();
    this.updateStatus();
  }

  async close(): Promise<void> {
    this.stop();
    await this.loopDone;
  }

  // ---- the feed ------------------------------------------------------------------------

  /** A timestamp for rows the host makes itself: now, and never before an event already published. */
  private stamp(): number {
    const t = Math.max(this.clock.now(), this.lastTs);
    this.lastTs = t;
    return t;
  }

  private mapTs(ts: number): number {
    return Math.max(0, this.anchorWall + Math.round((ts - this.anchorData) / this.speed));
  }

  /** A copy of a source event (sources may reuse their objects) on the gateway clock. */
  private mapped(ev: MdEvent): MdEvent {
    return { ...ev, exchTs: this.mapTs(ev.exchTs), localTs: this.mapTs(ev.localTs) };
  }

  private async next(): Promise<MdEvent | undefined> {
    const ev = this.cursor!.nextSync();
    if (ev) return ev;
    // Publish before awaiting: a subscriber's snapshot taken meanwhile must not already hold
    // events it would then receive again.
    this.flush();
    return this.cursor!.refill();
  }

  /**
   * Starts a pass: clears the books, applies the data's leading snapshot silently, then
   * publishes a snapshot of every instrument. False when the data is empty.
   */
  private async beginPass(): Promise<boolean> {
    this.building = true;
    this.updateStatus();
    this.cursor = new EventCursor(this.source);
    const first = await this.next();
    if (!first || this.stopped) return false;
    this.passes++;
    this.anchorData = first.localTs;
    // Batch sources reuse one event object: keep the first timestamp, not the object.
    const firstTs = first.localTs;
    this.anchorWall = Math.max(this.clock.now(), this.lastTs + 1);
    const startTs = this.anchorWall;
    for (const inst of this.instruments) {
      const id = inst.instrumentId;
      this.venue.onMarketEvent(statusEvent(id, startTs, MdStatus.SnapshotStart));
      this.books.get(id)!.clear();
      this.venue.onMarketEvent({ ...statusEvent(id, startTs, 0 as MdStatus), type: MdType.Clear });
    }
    // The leading snapshot: book-building events until every SnapshotStart of the data is
    // closed (or, for data without markers, those at the first timestamp). L2 streams are
    // all LevelSet, so the markers, not the event type, must end the build.
    let open = 0;
    let sawStart = false;
    let ev: MdEvent | undefined = first;
    while (ev) {
      if (!isBookBuilding(ev)) break;
      if (sawStart ? open === 0 : ev.localTs !== firstTs && ev.type !== MdType.Status) break;
      if (ev.type === MdType.Status) {
        if (ev.status === MdStatus.SnapshotStart) {
          open++;
          sawStart = true;
        } else if (open > 0) open--;
      }
      this.apply(this.mapped(ev), false);
      ev = this.cursor.nextSync() ?? (await this.cursor.refill());
      if (this.stopped) return false;
    }
    this.pending = ev ? this.mapped(ev) : undefined;
    const ts = this.stamp();
    for (const inst of this.instruments) this.venue.onMarketEvent(statusEvent(inst.instrumentId, ts, MdStatus.SnapshotEnd));
    this.building = false;
    if (!this.feedDown) this.publishSnapshots();
    this.updateStatus();
    this.logger?.info({ exchange: this.exchange, pass: this.passes }, 'market data pass started');
    return true;
  }

  private async run(): Promise<void> {
    let sinceYield = 0;
    while (!this.stopped) {
      let ev = this.pending;
      this.pending = undefined;
      if (!ev) {
        const raw = await this.next();
        if (this.stopped) return;
        if (!raw) {
          this.flush();
          if (!this.loop) return this.endOfData();
          if (!(await this.beginPass())) return this.stopped ? undefined : this.endOfData();
          continue;
        }
        ev = this.mapped(raw);
      }
      if (ev.localTs > this.clock.now()) {
        this.flush();
        await this.sleepUntil(ev.localTs);
        sinceYield = 0;
        if (this.stopped) return;
      }
      this.apply(ev, true);
      // A backlog (high speed, or a slow turn): publish and give way (the clock lets the event
      // loop turn at least every few of these, see LiveClock), so sockets and timers run. Counted
      // in events, not batch size: a source read with an await per event only ever runs
      // microtasks, which would starve the sockets however small the batches.
      if (++sinceYield >= this.maxBatch || this.batch.length >= this.maxBatch) {
        this.flush();
        await this.sleepUntil(this.clock.now());
        sinceYield = 0;
      }
    }
  }

  /** Applies one event (already on the gateway clock) to its book, then to the venue, as a backtest does. */
  private apply(ev: MdEvent, publish: boolean): void {
    const book = this.books.get(ev.instrumentId);
    if (!book) return;
    // Receive times never go back, not even behind a snapshot stamped "now" (events are
    // processed when due, so their mapped time may trail the clock slightly).
    if (ev.localTs < this.lastTs) ev.localTs = this.lastTs;
    else this.lastTs = ev.localTs;
    book.apply(ev);
    this.venue.onMarketEvent(ev);
    if (ev.type === MdType.Status) this.updateStatus();
    if (publish && !this.feedDown) this.batch.push(ev);
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const b = this.batch;
    this.batch = [];
    this.publish(b);
  }

  private publish(events: readonly MdEvent[]): void {
    if (events.length === 0) return;
    for (const l of this.listeners) l.onMd?.(this.exchange, events);
  }

  private publishSnapshots(): void {
    const rows: MdEvent[] = [];
    for (const inst of this.instruments) rows.push(...this.snapshot(inst.instrumentId));
    this.publish(rows);
  }

  private reconnect(): void {
    if (!this.feedDown) return;
    this.feedDown = false;
    if (this.stopped) return;
    const ts = this.stamp();
    for (const inst of this.instruments) this.venue.onMarketEvent(statusEvent(inst.instrumentId, ts, MdStatus.SnapshotStart));
    if (!this.building) this.publishSnapshots();
    for (const inst of this.instruments) this.venue.onMarketEvent(statusEvent(inst.instrumentId, ts, MdStatus.SnapshotEnd));
    this.updateStatus();
    this.logger?.info({ exchange: this.exchange }, 'market data feed reconnected; snapshot sent');
  }

  private endOfData(): void {
    if (this.ended) return;
    this.ended = true;
    this.flush();
    this.venue.endSession();
    this.updateStatus();
    this.logger?.info({ exchange: this.exchange }, 'end of the market data: session closed');
  }

  private sleepUntil(ts: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.sleepHandle = this.clock.at(ts, () => {
        this.sleepHandle = undefined;
        this.wake = undefined;
        resolve();
      });
    });
  }

  private interruptSleep(): void {
    if (this.sleepHandle !== undefined) this.clock.cancel(this.sleepHandle);
    this.sleepHandle = undefined;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private updateStatus(): void {
    const s = this.gatewayStatus();
    if (this.lastStatus && this.lastStatus.status === s.status && this.lastStatus.detail === s.detail) return;
    this.lastStatus = s;
    for (const l of this.listeners) l.onStatus?.(this.exchange, s.status, s.detail);
  }
}
