/**
 * The remote environment: the kernel (`StratEnv`: dispatcher, order tracker, validation,
 * journal) wired to a gateway through a `GatewayClient`, so that the strategy class of a
 * backtest runs unchanged against the protocol of `docs/protocol.md`.
 *
 * - `RemoteVenue` is the kernel's `Venue` for one venue of the gateway: a validated request
 *   becomes a request frame; the venue's events come back from `event` frames.
 * - Market data: each subscribed instrument has a `BookFeed`, fed by `md` frames, that
 *   derives the subscribed callbacks exactly as in a backtest.
 * - `RemoteEnv` runs the session: login, reconciliation, readiness, reconnection, commands.
 *
 * Reconnection and reconciliation (docs/runner.md has the full rules):
 * 1. On a lost connection the strategy gets `onFrameworkDisconnected`, `onGatewayStatus`
 *    `Connecting` for every venue and `onFeedHandlerStatus` `Disconnected` for every
 *    subscribed instrument. From then until reconciliation ends, every request is refused
 *    with `GtwNotReady` (1000): by the kernel's validation once the strategy has seen the
 *    status, by `RemoteVenue` before that. Nothing is queued.
 * 2. The client reconnects with backoff and logs in with `resume: {lastEventSeq}` (the last
 *    `eventSeq` processed, kept in memory), resubscribes (a fresh snapshot per instrument),
 *    and applies the replayed events (those at or below `lastEventSeq` are ignored).
 * 3. Once the replay is complete it sends `sync` and reconciles: requests still without an
 *    outcome are resent with the same client id when the gateway's order record shows they
 *    never reached it, else their outcome is awaited; the tracker is aligned with the
 *    gateway's open orders and positions (`OrderTracker.restore`), and every change is told
 *    to the strategy as `onOrderStatus` / `onPositionInfo`.
 * 4. Then `onGatewayStatus` with each venue's status, and trading resumes.
 *
 * A new process has no `lastEventSeq`: it logs in without `resume`, and `sync` seeds the
 * tracker with the gateway's open orders and positions before the strategy starts.
 *
 * Time: the strategy's clock is a `LiveStepClock` over the given `LiveClock` — wall time
 * that stands still while a callback runs, with timers fired exactly when due — so that the
 * journal of a live run replays like a backtest's.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { Logger } from 'pino';
import { RejectCode } from '../api/codes.js';
import { Qty } from '../api/decimal.js';
import { GatewayStatus, OrderStatus, RequestType, type MDSub } from '../api/enums.js';
import type { EventCallbackName, OrderStatusInfo, StratParams, StrategyEventMap } from '../api/events.js';
import { makeInstrument, type Instrument } from '../api/instrument.js';
import type { IStrategy } from '../api/strategy.js';
import { BookFeed } from '../book/feed.js';
import { NO_ASK, NO_BID } from '../book/types.js';
import { LiveClock, type Scheduler } from '../core/clock.js';
import { StratEnv, type MarketDataHub } from '../core/env.js';
import type { Journal } from '../core/journal.js';
import type { KillSwitchConfig, TradingControls } from '../core/risk.js';
import { netPnl } from '../backtest/summary.js';
import { CONTROL_HOOK, envControlTarget, serveControlOp } from '../control/target.js';
import { isTerminal, type RestoreResult, type RestoredOrder, type RestoredPosition, type TrackedOrder } from '../core/order-tracker.js';
import type { Venue, VenueEvent, VenueRequest, VenueSink } from '../core/venue.js';
import { MdStatus, MdType, type MdEvent } from '../data/events.js';
import type { DisconnectInfo, GatewayClient } from './client.js';
import { LiveStepClock } from './live-step-clock.js';
import { decodeEvent, decodeMd, encodeRequest, rejectEvent, type RequestBody } from './codec.js';
import { ProtocolErrorCode, type CmdMsg, type ErrorMsg, type EventMsg, type GatewayMessage, type LoginAckMsg, type MdMsg, type SyncResultMsg } from './protocol.js';

// ------------------------------------------------------------------ RemoteVenue

/** What a `RemoteVenue` needs from its session. */
export interface RemoteLink {
  /** True when requests may go out: logged in and reconciled. */
  readonly ready: boolean;
  /** Sends a request frame with `reqId`; false when the connection is down. */
  sendRequest(body: RequestBody, reqId: string): boolean;
  /** A fresh request id. */
  nextReqId(): string;
}

/** A request sent to the gateway whose outcome has not arrived. */
export interface InFlightRequest {
  /** Request id of the last send. */
  reqId: string;
  /** The frame body (without envelope); resent as is, same client id. */
  body: RequestBody;
  /** What answers it: `N:`, `M:`, `C:` + client id (new, modify, cancel), `A:` + instrument id (cancel-all), `F:` + `RequestType` (fetch). */
  key: string;
  /** Order of first sending over the session (for "a later request reached, so this one did"). */
  order: number;
  /** Times sent (1 + resends). */
  sends: number;
  /** The session's last processed `eventSeq` at the first send: no answer to it can be numbered at or below. */
  sentAtEventSeq: number;
}

/** The reject code the kernel reports for a request the gateway refused with an `error` frame (docs/protocol.md, "Mapping"). */
export function rejectCodeOfProtocolError(code: number): RejectCode {
  switch (code) {
    case ProtocolErrorCode.NotLoggedIn:
      return RejectCode.NotLoggedIn;
    case ProtocolErrorCode.UnknownExchange:
      return RejectCode.UnknownExchange;
    case ProtocolErrorCode.UnknownInstrument:
      return RejectCode.UnknownInstrument;
    case ProtocolErrorCode.RateLimited:
      return RejectCode.RateLimited;
    default:
      return RejectCode.InvalidField;
  }
}

/** Reason of requests refused while the connection is down or not yet reconciled. */
export const NOT_READY_REASON = 'not connected to the gateway (reconnecting or reconciling): request not sent';

function keyOf(body: RequestBody): string {
  switch (body.type) {
    case 'new_order':
      return `N:${body.clientId}`;
    case 'modify_order':
      return `M:${body.clientId}`;
    case 'cancel_order':
      return `C:${body.clientId}`;
    case 'cancel_all':
      return `A:${body.instrumentId}`;
    case 'fetch':
      return `F:${body.what}`;
  }
}

/** Attempts of a request the gateway failed to handle (`InternalError`, "resend it") before it is rejected. */
const MAX_SENDS = 3;

/**
 * One venue of the gateway as the kernel sees it. `status()` is the gateway's view of the
 * venue (from `login_ack` and `gateway_status`); whether the connection is usable is the
 * session's (`RemoteLink.ready`), checked on every request.
 */
export class RemoteVenue implements Venue {
  /** Venue id. */
  readonly exchange: string;
  /** Instruments from `login_ack`. */
  readonly instruments: readonly Instrument[];
  private sink: VenueSink | undefined;
  private gw: GatewayStatus;
  private readonly link: RemoteLink;
  private readonly logger: Logger;
  /** In-flight requests by request id, in sending order. */
  private readonly pending = new Map<string, InFlightRequest>();
  private readonly sendOrder: () => number;
  private readonly eventSeq: () => number;

  /**
   * @param status the venue's gateway status from `login_ack`.
   * @param session `sendOrder`: a session-wide counter (shared by the venues) ordering first
   *   sends; `eventSeq`: the session's last processed `eventSeq`.
   */
  constructor(exchange: string, instruments: readonly Instrument[], status: GatewayStatus, link: RemoteLink, logger: Logger, session: { sendOrder: () => number; eventSeq: () => number }) {
    this.exchange = exchange;
    this.instruments = instruments;
    this.gw = status;
    this.link = link;
    this.logger = logger;
    this.sendOrder = session.sendOrder;
    this.eventSeq = session.eventSeq;
  }

  /** The gateway's status of this venue. */
  status(): GatewayStatus {
    return this.gw;
  }

  /** Records a new status of the venue (from `gateway_status` or the venue's own `onGatewayStatus`). */
  setGatewayStatus(status: GatewayStatus): void {
    this.gw = status;
  }

  setSink(sink: VenueSink): void {
    this.sink = sink;
  }

  /**
   * Sends a validated request. While the session is not ready it is refused at once with
   * `GtwNotReady` through the sink (never queued): the tracker sees a venue reject.
   */
  submit(req: VenueRequest): void {
    const body = encodeRequest(this.exchange, req);
    if (!this.link.ready) {
      this.emit(rejectEvent('*', body, { code: RejectCode.GtwNotReady, reason: NOT_READY_REASON }));
      return;
    }
    const reqId = this.link.nextReqId();
    this.pending.set(reqId, { reqId, body, key: keyOf(body), order: this.sendOrder(), sends: 1, sentAtEventSeq: this.eventSeq() });
    // A failed send while "ready" is a connection dying under us: the request stays in
    // flight and reconciliation decides (resend or await), exactly like one lost on the wire.
    if (!this.link.sendRequest(body, reqId)) this.logger.debug({ exchange: this.exchange, reqId, type: body.type }, 'request not written: connection closing; reconciled after reconnect');
  }

  /** An event of this venue from the gateway: settles what it answers, then goes to the kernel. */
  deliver(e: VenueEvent): void {
    this.observe(e.cb, e.ev as never);
    if (e.cb === 'onGatewayStatus') this.gw = (e.ev as StrategyEventMap['onGatewayStatus']).status;
    this.emit(e);
  }

  private emit(e: VenueEvent): void {
    if (this.sink) this.sink(e);
    else this.logger.warn({ exchange: this.exchange, cb: e.cb }, 'venue event dropped: no sink');
  }

  /** Removes the in-flight entries an event answers. */
  private observe(cb: EventCallbackName, ev: Record<string, unknown>): void {
    const cid = ev.clientId as string | undefined;
    switch (cb) {
      case 'onNewOrderAck':
        this.pop(`N:${cid}`);
        return;
      case 'onNewOrderReject':
        this.popOrder(cid);
        return;
      case 'onModifyOrderAck':
      case 'onModifyOrderReject':
        this.pop(`M:${cid}`);
        return;
      case 'onCancelOrderAck':
        this.pop(`C:${cid}`);
        return;
      case 'onCancelOrderReject':
        // Without a client id it answers a cancel-all (docs/protocol.md, Events).
        if (cid === undefined) this.popWhere((p) => p.key.startsWith('A:'));
        else this.pop(`C:${cid}`);
        return;
      case 'onCancelAllAck':
      case 'onCancelAllReject':
        this.pop(`A:${String(ev.instrumentId)}`);
        return;
      case 'onOrderExecution':
        // A fill proves the venue has the order; one that leaves nothing closes it.
        this.pop(`N:${cid}`);
        if ((ev.leavesQty as Qty | undefined)?.isZero?.()) this.popOrder(cid);
        return;
      case 'onOrderCancelled':
        this.popOrder(cid);
        return;
      case 'onAccountInfo':
        this.pop(`F:${RequestType.AccountInfo}`);
        return;
      case 'onWalletInfo':
        this.pop(`F:${RequestType.WalletInfo}`);
        return;
      case 'onPositionInfo':
        this.pop(`F:${RequestType.PositionInfo}`);
        return;
      case 'onFundingInfo':
        this.pop(`F:${RequestType.FundingInfo}`);
        return;
      case 'onOrderStatus':
        this.pop(`F:${RequestType.OrderStatus}`);
        return;
      case 'onOrdersInfo':
        this.pop(`F:${RequestType.OrdersInfo}`);
        return;
      case 'onRequestReject':
        this.pop(`F:${String(ev.rejectedRqstType)}`);
        return;
      case 'onUnsupportedOp':
        this.pop(`F:${String(ev.unsupportedMsgType)}`);
        return;
      default:
        return;
    }
  }

  private pop(key: string): void {
    this.popWhere((p) => p.key === key);
  }

  /** Removes the oldest entry that matches. */
  private popWhere(match: (p: InFlightRequest) => boolean): void {
    for (const [id, p] of this.pending) {
      if (match(p)) {
        this.pending.delete(id);
        return;
      }
    }
  }

  /** The order closed: nothing it has in flight will be answered any more. */
  private popOrder(cid: string | undefined): void {
    if (cid === undefined) return;
    for (const [id, p] of [...this.pending]) if (p.key.length > 2 && p.key.slice(2) === cid && 'NMC'.includes(p.key[0]!)) this.pending.delete(id);
  }

  /** Requests sent and not yet answered, oldest first. */
  inFlight(): InFlightRequest[] {
    return [...this.pending.values()];
  }

  /** True when `reqId` is one of this venue's requests in flight. */
  owns(reqId: string): boolean {
    return this.pending.has(reqId);
  }

  /** Sends an in-flight request again, same body (same client id), new request id. */
  resend(p: InFlightRequest): void {
    this.pending.delete(p.reqId);
    const reqId = this.link.nextReqId();
    const again: InFlightRequest = { ...p, reqId, sends: p.sends + 1 };
    this.pending.set(reqId, again);
    this.link.sendRequest(p.body, reqId);
  }

  /** Forgets an in-flight request (its order closed: no answer will come). */
  forget(reqId: string): void {
    this.pending.delete(reqId);
  }

  /** The new order of client id `cid` in flight, if any. */
  pendingNew(cid: string): InFlightRequest | undefined {
    for (const p of this.pending.values()) if (p.key === `N:${cid}`) return p;
    return undefined;
  }

  /** Ends an in-flight request with its reject event (code and reason given here), as if the gateway had refused it. */
  rejectInFlight(p: InFlightRequest, code: RejectCode, reason: string): void {
    if (!this.pending.delete(p.reqId)) return;
    this.emit(rejectEvent('*', p.body, { code, reason }));
  }

  /**
   * The gateway refused request `reqId` with an `error` frame: `InternalError` is resent
   * (it "had no effect") up to 3 sends; anything else becomes the request's reject event.
   * Returns false when `reqId` is not in flight here.
   */
  fail(reqId: string, code: number, reason: string): boolean {
    const p = this.pending.get(reqId);
    if (p === undefined) return false;
    if (code === ProtocolErrorCode.InternalError && p.sends < MAX_SENDS && this.link.ready) {
      this.logger.warn({ exchange: this.exchange, reqId, type: p.body.type, sends: p.sends }, 'gateway failed to handle a request; resending it');
      this.resend(p);
      return true;
    }
    this.pending.delete(reqId);
    this.emit(rejectEvent('*', p.body, { code: rejectCodeOfProtocolError(code), reason: `gateway refused the request: ${reason} (protocol error ${code})` }));
    return true;
  }
}

// ------------------------------------------------------------------ RemoteEnv

/** Where a `RemoteEnv` is. */
export type RemotePhase = 'idle' | 'connecting' | 'syncing' | 'ready' | 'disconnected' | 'stopping' | 'stopped' | 'failed';

/** Options of a `RemoteEnv`. */
export interface RemoteEnvOptions {
  strategy: IStrategy;
  /**
   * Tag of generated client ids (`<login>.<tag>-<n>`). Default the process start in seconds
   * since the epoch then the process id, base 36: a restarted process never reuses the ids
   * of its previous life, which the gateway's store would refuse (1022) as duplicates — not
   * even when it restarts within the same second (the seconds alone did not tell them apart).
   */
  clientIdSession?: string;
  /** The transport, not started (`RemoteEnv.start` starts it and sets its `resume`). */
  client: GatewayClient;
  /**
   * Time and timers: the client's `LiveClock`. The strategy sees it through a
   * `LiveStepClock` (time stands still while a callback runs, timers fire exactly when due),
   * so that the journal replays like a backtest's. Another `Scheduler` (a `SimClock` in
   * tests) is used as is.
   */
  clock: Scheduler;
  logger: Logger;
  /** Journal (market data must be by value: there is no data file). */
  journal?: Journal;
  /** Strategy parameters (config `params`). */
  params?: StratParams;
  /** IANA timezone of daily callbacks (default the system's). */
  timeZone?: string;
  /** Stop the strategy on the first callback error. */
  raiseErrors?: boolean;
  /** Trading controls (the config's `controls`; docs/controls.md), checked in the kernel as in a backtest. Default none. */
  controls?: TradingControls;
  /** Kill switch (the config's `killSwitch`), fed the equity whenever a position is marked. Default: no automatic trigger. */
  killSwitch?: KillSwitchConfig;
  /**
   * Time from `login_ack` to the end of reconciliation, ms; beyond it the connection is
   * dropped and tried again (a gateway that never finishes a replay). Default 15 000.
   */
  syncTimeoutMs?: number;
  /** Receives the env once built (console channels, tests), before the strategy connects. */
  onEnv?: (env: StratEnv) => void;
  /** Channel of `publishTelegram` and, without `notify`, of the owner's notices (kill switch trips, pauses). Default: logged. */
  telegram?: (strategy: string, msg: string) => void;
  /** Where kill-switch trips, pauses and resumes are reported (default: `telegram`, else a warn log line). */
  notify?: (msg: string) => void;
}

/** What reconciliation did. */
export interface ReadyInfo {
  /** True after a reconnection, false at the first start. */
  reconnect: boolean;
  /** Gateway session id. */
  sessionId: string | undefined;
  /** The last event processed. */
  lastEventSeq: number;
  /** How the tracker changed. */
  restored: RestoreResult;
  /** Requests resent with their original client id. */
  resent: number;
}

/** Events of a `RemoteEnv` (eventemitter3). */
export interface RemoteEnvEvents {
  /** The phase changed. */
  phase: (phase: RemotePhase, previous: RemotePhase) => void;
  /** Reconciled: trading is possible. */
  ready: (info: ReadyInfo) => void;
  /** The connection was lost; the client retries (`info.reconnectInMs`). */
  disconnected: (info: DisconnectInfo) => void;
  /** The gateway ended the session for good. */
  fatal: (info: { code: number; reason: string }) => void;
}

type SyncMode = 'resume' | 'sync';

function statusRow(instrumentId: number, ts: number, status: number): MdEvent {
  return { type: MdType.Status, instrumentId, exchTs: ts, localTs: ts, side: 0, orderId: 0, priceTick: 0, qty: 0, status };
}

/**
 * A strategy connected to a gateway. `start()` connects, reconciles, then starts the
 * strategy (`onFrameworkConnected` → `onStart` → …); the session then lives on through
 * reconnections until `stop()` (graceful: `onStop`, bounded wait for `sendStopAck`,
 * logout). See the module documentation for the reconnection rules.
 */
export class RemoteEnv extends EventEmitter<RemoteEnvEvents> {
  private readonly opts: RemoteEnvOptions;
  private readonly clientIdSession: string;
  private readonly client: GatewayClient;
  /** The runner's clock: session timers (sync timeout, stop bounds). */
  private readonly clock: Scheduler;
  /** The strategy's clock: a `LiveStepClock` over a `LiveClock` (time stands still in callbacks), else the given one. */
  private readonly envClock: Scheduler;
  private readonly logger: Logger;
  private _env: StratEnv | undefined;
  private _phase: RemotePhase = 'idle';
  private readonly venues = new Map<string, RemoteVenue>();
  private readonly feeds = new Map<string, BookFeed>();
  private readonly instByKey = new Map<string, Instrument>();
  /** Pending subscribe requests by request id (to report a refusal). */
  private readonly subReqs = new Map<string, { exchange: string; instrumentIds: number[] }>();
  private reqNo = 0;
  private sendNo = 0;
  private _lastEventSeq = 0;
  private _mdEvents = 0;
  /** A reconciliation finished in this process: later logins resume. */
  private hadSession = false;
  /** The strategy was told of the current outage. */
  private outage = false;
  /** Connection generation: async steps of an older connection stop when it changes. */
  private gen = 0;
  private mode: SyncMode = 'sync';
  private replayTarget = 0;
  private syncReqId: string | undefined;
  /** Events held while a `sync` is pending or being applied. */
  private buffer: EventMsg[] = [];
  private holding = false;
  /** Out of step (event gap): ignore events until the next login. */
  private resyncing = false;
  private syncTimer: number | undefined;
  private firstReadyResolve: ((ok: boolean) => void) | undefined;
  private readonly firstReady: Promise<boolean>;
  private stopPromise: Promise<{ stopAcked: boolean }> | undefined;
  private readonly link: RemoteLink;

  constructor(opts: RemoteEnvOptions) {
    super();
    this.opts = opts;
    this.client = opts.client;
    this.clock = opts.clock;
    this.envClock = opts.clock instanceof LiveClock ? new LiveStepClock(opts.clock) : opts.clock;
    this.logger = opts.logger;
    this.clientIdSession = opts.clientIdSession ?? `${Math.floor(opts.clock.now() / 1e6).toString(36)}${process.pid.toString(36)}`;
    this.firstReady = new Promise((resolve) => (this.firstReadyResolve = resolve));
    const self = this;
    this.link = {
      get ready() {
        return self._phase === 'ready' || self._phase === 'stopping';
      },
      sendRequest: (body, reqId) => this.client.send({ ...body, reqId }),
      nextReqId: () => this.nextReqId(),
    };
  }

  /** The kernel, once the first `login_ack` has given the venues. */
  get env(): StratEnv | undefined {
    return this._env;
  }
  /** Where the session is. */
  get phase(): RemotePhase {
    return this._phase;
  }
  /** The last `eventSeq` processed (0 before any). */
  get lastEventSeq(): number {
    return this._lastEventSeq;
  }
  /** Market events received in `md` frames so far (snapshots included). */
  get mdEvents(): number {
    return this._mdEvents;
  }
  /** The venues from `login_ack`. */
  get remoteVenues(): readonly RemoteVenue[] {
    return [...this.venues.values()];
  }
  /** The book feed of a subscribed instrument (its `book` is the client's copy of the gateway's book). */
  feed(exchange: string, instrumentId: number): BookFeed | undefined {
    return this.feeds.get(`${exchange}|${instrumentId}`);
  }
  /** Every request in flight, oldest first. */
  inFlight(): InFlightRequest[] {
    return [...this.venues.values()].flatMap((v) => v.inFlight()).sort((a, b) => a.order - b.order);
  }

  private nextReqId(): string {
    return `c${++this.reqNo}`;
  }

  private setPhase(p: RemotePhase): void {
    const prev = this._phase;
    if (prev === p) return;
    this._phase = p;
    this.safeEmit('phase', p, prev);
  }

  /** Resolves when the session is next `ready` (at once if it is). Rejects never; a fatal end resolves false. */
  whenReady(): Promise<boolean> {
    if (this._phase === 'ready') return Promise.resolve(true);
    if (this._phase === 'failed' || this._phase === 'stopped') return Promise.resolve(false);
    return new Promise((resolve) => {
      const onReady = () => {
        this.off('fatal', onFatal);
        resolve(true);
      };
      const onFatal = () => {
        this.off('ready', onReady);
        resolve(false);
      };
      this.once('ready', onReady);
      this.once('fatal', onFatal);
    });
  }

  /**
   * Connects, logs in, reconciles, then starts the strategy. Resolves true when the
   * strategy is running; false when the gateway refused the session for good or the
   * strategy did not log in (both are logged). Connection failures are retried, so this
   * waits as long as the gateway is unreachable.
   */
  async start(): Promise<boolean> {
    if (this._phase !== 'idle') throw new Error(`RemoteEnv.start() in phase ${this._phase}`);
    this.setPhase('connecting');
    this.client.on('login', (ack) => this.onLogin(ack));
    this.client.on('message', (msg) => this.onMessage(msg));
    this.client.on('disconnect', (info) => this.onDisconnect(info));
    this.client.on('fatal', (info) => this.onFatal(info));
    // The resume point is this session's memory; a new process starts without one.
    this.client.setResumeProvider(() => (this.hadSession ? { lastEventSeq: this._lastEventSeq } : undefined));
    this.client.start();
    const ok = await this.firstReady;
    if (!ok || !this._env) return false;
    const started = await this._env.connect();
    if (!started) this.logger.error('the strategy did not start; nothing will trade');
    return started;
  }

  // ---------------------------------------------------------------- session events

  /** An event from the gateway: the strategy's time moves to now (unless a callback runs). */
  private step(): void {
    if (this.envClock instanceof LiveStepClock) this.envClock.step();
  }

  private onLogin(ack: LoginAckMsg): void {
    this.step();
    this.gen++;
    this.resyncing = false;
    if (this._phase === 'stopping' || this._phase === 'stopped' || this._phase === 'failed') return;
    if (!this._env) this.buildEnv(ack);
    else this.checkVenues(ack);
    this.setPhase('syncing');
    this.buffer = [];
    this.holding = false;
    this.syncReqId = undefined;
    this.mode = this.hadSession ? 'resume' : 'sync';
    this.replayTarget = ack.lastEventSeq;
    this.armSyncTimer();
    this.resubscribeAll();
    if (this.mode === 'sync') this.sendSync();
    else this.maybeReplayDone();
  }

  private armSyncTimer(): void {
    if (this.syncTimer !== undefined) this.clock.cancel(this.syncTimer);
    const gen = this.gen;
    const ms = this.opts.syncTimeoutMs ?? 15_000;
    this.syncTimer = this.clock.at(this.clock.now() + ms * 1000, () => {
      this.syncTimer = undefined;
      if (gen !== this.gen || this._phase !== 'syncing') return;
      this.logger.warn({ replayTarget: this.replayTarget, lastEventSeq: this._lastEventSeq, timeoutMs: ms }, 'reconciliation with the gateway did not finish in time; reconnecting');
      this.client.reconnect('reconciliation timeout', ProtocolErrorCode.InternalError);
    });
  }

  private buildEnv(ack: LoginAckMsg): void {
    const venues: RemoteVenue[] = [];
    for (const v of ack.venues) {
      const instruments: Instrument[] = [];
      for (const spec of v.instruments) {
        try {
          const inst = makeInstrument(spec);
          instruments.push(inst);
          this.instByKey.set(`${v.exchange}|${inst.instrumentId}`, inst);
        } catch (err) {
          this.logger.warn({ exchange: v.exchange, instrument: spec.name, err: (err as Error).message }, 'instrument from the gateway skipped');
        }
      }
      const venue = new RemoteVenue(v.exchange, instruments, v.status, this.link, this.logger, { sendOrder: () => ++this.sendNo, eventSeq: () => this._lastEventSeq });
      this.venues.set(v.exchange, venue);
      venues.push(venue);
    }
    const hub: MarketDataHub = { subscribe: (exchange, instrumentId, subs) => this.subscribe(exchange, instrumentId, subs) };
    const env = new StratEnv({
      strategy: this.opts.strategy,
      clock: this.envClock,
      venues,
      marketData: hub,
      journal: this.opts.journal,
      logger: this.logger,
      params: this.opts.params,
      timeZone: this.opts.timeZone,
      raiseErrors: this.opts.raiseErrors,
      controls: this.opts.controls,
      killSwitch: this.opts.killSwitch,
      mid: (exchange, instrumentId) => this.midOf(exchange, instrumentId),
      clientIdSession: this.clientIdSession,
      telegram: this.opts.telegram,
      notify: this.opts.notify,
    });
    this._env = env;
    if (this.envClock instanceof LiveStepClock) this.envClock.setFrozen(() => env.busy);
    this.opts.onEnv?.(env);
    this.opts.journal?.header({
      mode: 'live',
      venues: env.journalVenues(),
      params: this.opts.params ?? {},
      timeZone: this.opts.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
      startTs: this.envClock.now(),
      clientIdSession: this.clientIdSession,
      ...(this.opts.controls ? { controls: this.opts.controls } : {}),
      ...(this.opts.killSwitch ? { killSwitch: this.opts.killSwitch } : {}),
    });
  }

  /** The venue list is fixed by the first login (the kernel's instruments are immutable); later differences are logged. */
  private checkVenues(ack: LoginAckMsg): void {
    for (const v of ack.venues) {
      const venue = this.venues.get(v.exchange);
      if (!venue) {
        this.logger.warn({ exchange: v.exchange }, 'the gateway lists a venue it did not list at the first login; ignored until restart');
        continue;
      }
      venue.setGatewayStatus(v.status);
      if (v.instruments.length !== venue.instruments.length) {
        this.logger.warn({ exchange: v.exchange, before: venue.instruments.length, now: v.instruments.length }, 'the gateway lists other instruments than at the first login; keeping the first list');
      }
    }
  }

  private onMessage(msg: GatewayMessage): void {
    this.step();
    switch (msg.type) {
      case 'event':
        this.onEventFrame(msg);
        return;
      case 'md':
        this.onMd(msg);
        return;
      case 'sync_result':
        void this.onSyncResult(msg);
        return;
      case 'gateway_status':
        this.onGatewayStatus(msg.exchange, msg.status, msg.detail ?? '');
        return;
      case 'cmd':
        this.onCmd(msg);
        return;
      case 'error':
        this.onError(msg);
        return;
      case 'subscribe_ack':
        this.subReqs.delete(msg.reqId);
        return;
      default:
        this.logger.debug({ type: msg.type }, 'gateway frame ignored');
    }
  }

  // ---------------------------------------------------------------- events and replay

  private onEventFrame(msg: EventMsg): void {
    if (this.resyncing || !this._env) return;
    if (this._phase === 'syncing' && (this.mode === 'sync' || this.syncReqId !== undefined || this.holding)) {
      this.buffer.push(msg);
      return;
    }
    if (this._phase !== 'syncing' && this._phase !== 'ready' && this._phase !== 'stopping') return;
    this.applyEvent(msg);
    if (this._phase === 'syncing') this.maybeReplayDone();
  }

  /** Applies one event in `eventSeq` order: duplicates are dropped, a gap forces a reconnect with resume. */
  private applyEvent(msg: EventMsg): void {
    if (this.resyncing) return;
    if (msg.eventSeq <= this._lastEventSeq) {
      if (!this.staleAnswer(msg)) this.logger.debug({ eventSeq: msg.eventSeq, lastEventSeq: this._lastEventSeq, cb: msg.cb }, 'event already processed: ignored');
      return;
    }
    if (msg.eventSeq > this._lastEventSeq + 1) {
      this.logger.warn({ expected: this._lastEventSeq + 1, got: msg.eventSeq }, 'events missing from the gateway stream; reconnecting with resume');
      this.resyncing = true;
      this.client.reconnect(`event gap: ${this._lastEventSeq + 1}..${msg.eventSeq - 1} missing`);
      return;
    }
    this._lastEventSeq = msg.eventSeq;
    this.deliverWire(msg.cb, msg.ev);
  }

  /**
   * An already-numbered event about a new order still in flight: the gateway answered a
   * `new_order` with the recorded events of an order that already had this client id.
   * - Recorded before the request was first sent: the id belongs to an *earlier* order (the
   *   env's numbering restarted with the process). No order was created; the request ends
   *   with `DuplicateClientId` (1022) — never with the old order's fills.
   * - Recorded after: the request had reached the gateway and the order closed before the
   *   sync this session applied (its effects are in the restored position): the order is
   *   closed here, outcome unknown, and the strategy gets `onOrderStatus`.
   * Returns false when the event is an ordinary duplicate.
   */
  private staleAnswer(msg: EventMsg): boolean {
    if (!STALE_ANSWER_CBS.has(msg.cb)) return false;
    const ev = msg.ev as { exchange?: string; clientId?: string };
    const venue = this.venues.get(ev.exchange ?? '');
    const p = ev.clientId !== undefined ? venue?.pendingNew(ev.clientId) : undefined;
    if (!venue || !p || ev.clientId === undefined) return false;
    const cid = ev.clientId;
    if (msg.eventSeq <= p.sentAtEventSeq) {
      this.logger.error(
        { clientId: cid, eventSeq: msg.eventSeq },
        `client id '${cid}' was used by an earlier order of this strategy: the gateway did not create a new order (see docs/runner.md, client ids after a restart)`,
      );
      venue.rejectInFlight(p, RejectCode.DuplicateClientId, `client id '${cid}' belongs to an earlier order of this strategy (gateway event ${msg.eventSeq}); no order was created`);
      return true;
    }
    venue.forget(p.reqId);
    const env = this._env!;
    const o = env.tracker.get(cid);
    if (!o || isTerminal(o.status)) return true;
    this.logger.warn({ clientId: cid, eventSeq: msg.eventSeq }, 'an order in flight at the cut reached the gateway and closed before the sync: closed here, its fills are in the restored position');
    const others = new Set(env.tracker.openOrders().map((x) => x.clientId).filter((id) => id !== cid));
    const positions = env.tracker.positions().map((x) => ({ exchange: x.exchange, instrumentId: x.instrumentId, position: x.position }));
    env.tracker.restore({ orders: [], positions }, this.envClock.now(), { skip: others });
    env.onVenueEvent({ strategy: '*', cb: 'onOrderStatus', ev: closedStatus(o) });
    return true;
  }

  private deliverWire(cb: EventCallbackName, wire: unknown): void {
    let ev: unknown;
    try {
      ev = decodeEvent(cb as never, wire);
    } catch (err) {
      this.logger.error({ cb, err: (err as Error).message }, 'event from the gateway could not be decoded; dropped');
      return;
    }
    const e = { strategy: '*', cb, ev } as VenueEvent;
    const exchange = (ev as { exchange?: string }).exchange ?? '';
    const venue = this.venues.get(exchange);
    if (venue) venue.deliver(e);
    else {
      if (exchange !== '') this.logger.warn({ exchange, cb }, 'event for a venue the gateway did not list at login');
      this._env!.onVenueEvent(e);
    }
  }

  private maybeReplayDone(): void {
    if (this.mode === 'resume' && this.syncReqId === undefined && !this.holding && this._lastEventSeq >= this.replayTarget) this.sendSync();
  }

  private sendSync(): void {
    const reqId = this.nextReqId();
    if (this.client.send({ type: 'sync', reqId })) this.syncReqId = reqId;
  }

  private async onSyncResult(msg: SyncResultMsg): Promise<void> {
    if (msg.reqId !== this.syncReqId || this._phase !== 'syncing') {
      this.logger.warn({ reqId: msg.reqId }, 'unexpected sync_result ignored');
      return;
    }
    const gen = this.gen;
    const env = this._env!;
    this.syncReqId = undefined;
    this.holding = true;
    const S = msg.lastEventSeq;
    const pre = this.buffer.sort((a, b) => a.eventSeq - b.eventSeq);
    this.buffer = [];
    const post: EventMsg[] = [];
    if (this.mode === 'resume') {
      // Events up to S are not yet in the tracker: apply them before comparing.
      for (const m of pre) (m.eventSeq <= S ? this.applyEvent(m) : post.push(m));
      if (this.resyncing || gen !== this.gen) return;
      if (this._lastEventSeq < S) {
        this.logger.warn({ lastEventSeq: this._lastEventSeq, syncLastEventSeq: S }, 'the sync reflects events this session never received; its lists win');
        this._lastEventSeq = S;
      }
    } else {
      // The snapshot reflects every event up to S; only later ones apply on top.
      if (this.hadSession && S < this._lastEventSeq) this.logger.warn({ lastEventSeq: this._lastEventSeq, syncLastEventSeq: S }, 'the gateway event history was reset');
      this._lastEventSeq = S;
      for (const m of pre) if (m.eventSeq > S) post.push(m);
    }
    this.buffer = post.concat(this.buffer);
    // The tracker moves when callbacks run: let every queued one run first.
    await env.idle();
    if (gen !== this.gen || this._phase !== 'syncing') return;
    const { restored, resent } = this.reconcile(msg);
    this.becomeReady(restored, resent);
    const held = this.buffer.sort((a, b) => a.eventSeq - b.eventSeq);
    this.buffer = [];
    this.holding = false;
    for (const m of held) this.applyEvent(m);
  }

  /** Decides what was in flight, aligns the tracker, tells the strategy, resends. */
  private reconcile(msg: SyncResultMsg): { restored: RestoreResult; resent: number } {
    const env = this._env!;
    const orders: OrderStatusInfo[] = [];
    for (const w of msg.orders) {
      if (!this.venues.has(w.exchange)) {
        this.logger.warn({ exchange: w.exchange, clientId: w.clientOrdId }, 'sync lists an order on a venue not listed at login; ignored');
        continue;
      }
      orders.push(decodeEvent('onOrderStatus', w));
    }
    const positions: RestoredPosition[] = [];
    for (const w of msg.positions) {
      if (!this.venues.has(w.exchange)) continue;
      const p = decodeEvent('onPositionInfo', w);
      positions.push({ exchange: p.exchange, instrumentId: p.instrumentId, position: p.position });
    }
    const byId = new Map(orders.map((o) => [o.clientOrdId, o]));

    // In flight at the cut: did it reach the gateway? Frames arrive in order, so a later
    // request that reached proves every earlier one did.
    const inflight = this.inFlight();
    let lastReached = -1;
    inflight.forEach((p, i) => {
      if (reachedEvidence(p, byId)) lastReached = i;
    });
    const resend: InFlightRequest[] = [];
    const forget: InFlightRequest[] = [];
    const newPending = new Set(inflight.filter((p) => p.key.startsWith('N:')).map((p) => p.key.slice(2)));
    inflight.forEach((p, i) => {
      if (i <= lastReached) return; // reached: its outcome comes as an event
      const kind = p.key[0];
      const cid = p.key.slice(2);
      if ((kind === 'M' || kind === 'C') && !byId.has(cid) && !newPending.has(cid)) forget.push(p);
      else resend.push(p);
    });
    const skip = new Set(resend.filter((p) => 'NMC'.includes(p.key[0]!)).map((p) => p.key.slice(2)));
    const restoredOrders: RestoredOrder[] = orders.map((o) => ({
      exchange: o.exchange,
      instrumentId: o.instrumentId,
      clientId: o.clientOrdId,
      exchangeId: o.exchOrdId,
      side: o.side,
      orderType: o.orderType,
      tif: o.tif,
      execInstr: o.execInstr,
      price: o.price,
      leavesQty: o.leavesQty,
      status: o.status,
    }));
    const restored = env.tracker.restore({ orders: restoredOrders, positions }, this.envClock.now(), { skip, strategy: this.client.strategy });
    const changes = restored.added.length + restored.updated.length + restored.closed.length + restored.positions.length;
    if (changes > 0 || resend.length > 0) {
      this.logger.info(
        {
          added: restored.added,
          updated: restored.updated,
          closed: restored.closed,
          positions: restored.positions.map((p) => ({ exchange: p.exchange, instrumentId: p.instrumentId, from: p.from.toString(), to: p.to.toString() })),
          resent: resend.map((p) => ({ type: p.body.type, key: p.key })),
        },
        'reconciled with the gateway',
      );
    }
    // The strategy learns each change through the callbacks it already knows.
    for (const id of [...restored.added, ...restored.updated]) {
      const o = byId.get(id);
      if (o) env.onVenueEvent({ strategy: '*', cb: 'onOrderStatus', ev: o });
    }
    for (const id of restored.closed) {
      const o = env.tracker.get(id);
      if (o) env.onVenueEvent({ strategy: '*', cb: 'onOrderStatus', ev: closedStatus(o) });
    }
    for (const p of restored.positions) env.onVenueEvent({ strategy: '*', cb: 'onPositionInfo', ev: { exchange: p.exchange, instrumentId: p.instrumentId, position: p.to } });
    for (const p of forget) this.venues.get(p.body.exchange)?.forget(p.reqId);
    for (const p of resend) this.venues.get(p.body.exchange)?.resend(p);
    return { restored, resent: resend.length };
  }

  private becomeReady(restored: RestoreResult, resent: number): void {
    if (this.syncTimer !== undefined) this.clock.cancel(this.syncTimer);
    this.syncTimer = undefined;
    const reconnect = this.hadSession;
    this.setPhase('ready');
    const env = this._env!;
    if (reconnect) {
      for (const v of this.venues.values()) {
        env.onVenueEvent({ strategy: '*', cb: 'onGatewayStatus', ev: { exchange: v.exchange, status: v.status(), detail: `reconnected to the gateway (session ${this.client.sessionId ?? '?'})` } });
      }
    }
    this.hadSession = true;
    this.outage = false;
    const resolve = this.firstReadyResolve;
    this.firstReadyResolve = undefined;
    resolve?.(true);
    this.logger.info({ session: this.client.sessionId, lastEventSeq: this._lastEventSeq, reconnect }, 'ready to trade through the gateway');
    this.safeEmit('ready', { reconnect, sessionId: this.client.sessionId, lastEventSeq: this._lastEventSeq, restored, resent });
  }

  private onDisconnect(info: DisconnectInfo): void {
    this.step();
    this.gen++;
    if (this.syncTimer !== undefined) this.clock.cancel(this.syncTimer);
    this.syncTimer = undefined;
    this.buffer = [];
    this.holding = false;
    this.syncReqId = undefined;
    this.subReqs.clear();
    if (this._phase === 'stopped' || this._phase === 'failed') return;
    if (this._phase !== 'stopping') this.setPhase(info.reconnectInMs === undefined ? this._phase : 'disconnected');
    this.notifyOutage(`connection to the gateway lost (${info.code}: ${info.reason})`);
    this.safeEmit('disconnected', info);
  }

  /** Tells the strategy once per outage: onFrameworkDisconnected, Connecting, feeds Disconnected. */
  private notifyOutage(detail: string): void {
    const env = this._env;
    if (!env || !this.hadSession || this.outage) return;
    this.outage = true;
    if (env.state === 'running' || env.state === 'stopping') env.disconnected();
    for (const v of this.venues.values()) env.onVenueEvent({ strategy: '*', cb: 'onGatewayStatus', ev: { exchange: v.exchange, status: GatewayStatus.Connecting, detail } });
    const ts = this.envClock.now();
    for (const f of this.feeds.values()) if (f.subscriptions.size > 0) f.apply(statusRow(f.instrument.instrumentId, ts, MdStatus.Disconnected));
  }

  private onFatal(info: { code: number; reason: string }): void {
    this.step();
    if (this._phase === 'stopped') return;
    this.setPhase('failed');
    this.notifyOutage(`the gateway ended the session (${info.code}: ${info.reason})`);
    const resolve = this.firstReadyResolve;
    this.firstReadyResolve = undefined;
    resolve?.(false);
    this.safeEmit('fatal', info);
  }

  // ---------------------------------------------------------------- market data

  private subscribe(exchange: string, instrumentId: number, subs: ReadonlySet<MDSub>): void {
    const key = `${exchange}|${instrumentId}`;
    const inst = this.instByKey.get(key);
    if (!inst) return;
    let feed = this.feeds.get(key);
    if (!feed) {
      feed = new BookFeed(inst, (cb, ev) => this._env?.onMarketData(cb, ev));
      this.feeds.set(key, feed);
    }
    feed.setSubscriptions(subs);
    // Each subscribe restarts the instrument's stream with a snapshot: the feed's Clear
    // replaces what it holds. While not logged in, the next login resubscribes.
    if (this.client.loggedIn) this.sendSubscribe(exchange, [instrumentId], [...subs]);
  }

  private sendSubscribe(exchange: string, instrumentIds: number[], subs: MDSub[]): void {
    const reqId = this.nextReqId();
    if (this.client.send({ type: 'subscribe', reqId, exchange, instrumentIds, subs })) this.subReqs.set(reqId, { exchange, instrumentIds });
  }

  /** Subscriptions belong to a connection: after a login, all of them again (grouped by venue and subscription set). */
  private resubscribeAll(): void {
    const groups = new Map<string, { exchange: string; ids: number[]; subs: MDSub[] }>();
    for (const f of this.feeds.values()) {
      const subs = [...f.subscriptions].sort();
      if (subs.length === 0) continue;
      const k = `${f.instrument.exchange}|${subs.join(',')}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { exchange: f.instrument.exchange, ids: [], subs }));
      g.ids.push(f.instrument.instrumentId);
    }
    for (const g of groups.values()) this.sendSubscribe(g.exchange, g.ids, g.subs);
  }

  private onMd(msg: MdMsg): void {
    const events = decodeMd(msg.events);
    this._mdEvents += events.length;
    const env = this._env;
    let touched: Set<number> | undefined;
    for (const ev of events) {
      const feed = this.feeds.get(`${msg.exchange}|${ev.instrumentId}`);
      if (!feed) continue;
      feed.apply(ev);
      if (env?.tracker.hasOpenPosition) (touched ??= new Set()).add(ev.instrumentId);
    }
    if (touched && env) {
      // Unrealised PnL of open positions at the mid (env.getPosition), and the kill switch's equity.
      for (const id of touched) {
        const mid = this.midOf(msg.exchange, id);
        if (!Number.isNaN(mid)) env.tracker.mark(msg.exchange, id, mid);
      }
      env.equityCheck(netPnl(env.tracker));
    }
  }

  /**
   * Marks every open position at the mid of the client's book and feeds the kill switch the
   * equity (`env.equityCheck`), as `md` frames do for the instruments they touch. A live
   * runner calls it on a timer, so that a fill, a fee or a mark is checked even while the
   * market is quiet. Does nothing before the strategy runs, nor while the connection is
   * down or reconciling (the books are stale until the next snapshot).
   */
  markToMarket(): void {
    const env = this._env;
    if (!env || env.state !== 'running' || this._phase !== 'ready') return;
    this.step();
    for (const p of env.tracker.positions()) {
      if (p.position.isZero()) continue;
      const mid = this.midOf(p.exchange, p.instrumentId);
      if (!Number.isNaN(mid)) env.tracker.mark(p.exchange, p.instrumentId, mid);
    }
    env.equityCheck(netPnl(env.tracker));
  }

  /** Mid of the client's book of an instrument, quote currency; NaN when unknown or a side is empty. */
  private midOf(exchange: string, instrumentId: number): number {
    const feed = this.feeds.get(`${exchange}|${instrumentId}`);
    if (!feed) return Number.NaN;
    const b = feed.depth.bestBidTick();
    const a = feed.depth.bestAskTick();
    return b !== NO_BID && a !== NO_ASK ? ((a + b) / 2) * feed.instrument.tickSize.toNumber() : Number.NaN;
  }

  private onGatewayStatus(exchange: string, status: GatewayStatus, detail: string): void {
    const venue = this.venues.get(exchange);
    if (!venue) return;
    venue.setGatewayStatus(status);
    // While not ready the strategy sees Connecting; it learns the real status when ready.
    if (this._phase === 'ready' || this._phase === 'stopping') this._env?.onVenueEvent({ strategy: '*', cb: 'onGatewayStatus', ev: { exchange, status, detail } });
  }

  // ---------------------------------------------------------------- commands and errors

  private onCmd(msg: CmdMsg): void {
    const env = this._env;
    const reply = (ok: boolean, text: string) => {
      this.client.send({ type: 'cmd_result', reqId: msg.reqId, ok, text: text.length > 16_384 ? `${text.slice(0, 16_383)}…` : text });
    };
    if (!env || (env.state !== 'running' && env.state !== 'stopping')) {
      reply(false, 'the strategy is not running');
      return;
    }
    // The gateway's control channels (Telegram, `tradeloop ctl`) reach the env through one reserved hook.
    if (msg.name === CONTROL_HOOK) {
      void serveControlOp(envControlTarget(env), msg.params[0] ?? '', msg.params.slice(1)).then((r) => reply(r.ok, r.text));
      return;
    }
    const known = env.commandNames().includes(msg.name);
    void env.runCommand(msg.name, msg.params).then((text) => reply(known && !text.startsWith(`command '${msg.name}' failed:`), text));
  }

  private onError(msg: ErrorMsg): void {
    if (msg.code === ProtocolErrorCode.ResumeUnavailable) {
      this.logger.warn({ lastEventSeq: this._lastEventSeq, reason: msg.reason }, 'the gateway cannot replay from our last event; reconciling with sync');
      if (this.mode === 'resume') {
        this.mode = 'sync';
        if (this.syncReqId === undefined && !this.holding) this.sendSync();
      }
      return;
    }
    const reqId = msg.reqId;
    if (reqId !== undefined) {
      if (reqId === this.syncReqId) {
        this.logger.warn({ code: msg.code, reason: msg.reason }, 'the gateway refused sync; reconnecting');
        this.client.reconnect(`sync refused: ${msg.reason}`, ProtocolErrorCode.InternalError);
        return;
      }
      const sub = this.subReqs.get(reqId);
      if (sub) {
        this.subReqs.delete(reqId);
        this._env?.onVenueEvent({
          strategy: '*',
          cb: 'onRequestReject',
          ev: { exchange: sub.exchange, rejectCode: rejectCodeOfProtocolError(msg.code), detail: `subscribe refused by the gateway: ${msg.reason}`, rejectedRqstType: RequestType.Subscribe },
        });
        return;
      }
      for (const v of this.venues.values()) if (v.owns(reqId)) {
        v.fail(reqId, msg.code, msg.reason);
        return;
      }
    }
    this.logger.warn({ code: msg.code, reason: msg.reason, reqId, refSeq: msg.refSeq, fatal: msg.fatal === true }, `gateway error ${ProtocolErrorCode[msg.code] ?? msg.code}`);
  }

  // ---------------------------------------------------------------- stop

  /**
   * Graceful stop: `onStop`, a wait of at most `timeoutMs` (default 10 000) for
   * `sendStopAck()`, then up to `drainMs` (default 2 000) for the answers of requests still
   * in flight (the cancels `onStop` sent), then logout and close. Safe to call more than
   * once; resolves with whether the strategy acknowledged.
   */
  stop(opts: { timeoutMs?: number; drainMs?: number } = {}): Promise<{ stopAcked: boolean }> {
    this.stopPromise ??= this.doStop(opts.timeoutMs ?? 10_000, opts.drainMs ?? 2_000);
    return this.stopPromise;
  }

  private async doStop(timeoutMs: number, drainMs: number): Promise<{ stopAcked: boolean }> {
    const env = this._env;
    const wasFailed = this._phase === 'failed';
    if (!wasFailed) this.setPhase('stopping');
    let stopAcked = env?.state === 'stopped';
    if (env && env.state === 'running') {
      stopAcked = await this.within(env.stop(), timeoutMs, false);
      if (!stopAcked) {
        this.logger.warn(`strategy did not call sendStopAck() within ${timeoutMs} ms after onStop`);
        env.forceStopped();
      }
    }
    if (env) await this.within(env.idle().then(() => true), timeoutMs, false);
    const deadline = this.clock.now() + drainMs * 1000;
    while (this.inFlight().length > 0 && this.client.loggedIn && this.clock.now() < deadline) await this.sleep(10);
    if (this.inFlight().length > 0) this.logger.warn({ inFlight: this.inFlight().map((p) => ({ type: p.body.type, key: p.key })) }, 'stopping with requests still unanswered');
    if (env) await this.within(env.idle().then(() => true), 1_000, false);
    env?.end();
    if (this.envClock instanceof LiveStepClock) this.envClock.close();
    if (this.syncTimer !== undefined) this.clock.cancel(this.syncTimer);
    this.syncTimer = undefined;
    await this.client.close({ logout: true });
    this.setPhase('stopped');
    const resolve = this.firstReadyResolve;
    this.firstReadyResolve = undefined;
    resolve?.(false);
    return { stopAcked };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.at(this.clock.now() + ms * 1000, resolve));
  }

  /** `p`, or `fallback` after `ms` on the clock. */
  private within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
    return new Promise((resolve) => {
      const h = this.clock.at(this.clock.now() + ms * 1000, () => resolve(fallback));
      void p.then((v) => {
        this.clock.cancel(h);
        resolve(v);
      });
    });
  }

  private safeEmit<K extends keyof RemoteEnvEvents>(event: K, ...args: Parameters<RemoteEnvEvents[K]>): void {
    try {
      (this.emit as (e: K, ...a: Parameters<RemoteEnvEvents[K]>) => boolean)(event, ...args);
    } catch (err) {
      this.logger.error({ event, err: err instanceof Error ? err.message : String(err) }, `a '${event}' listener of the remote env failed`);
    }
  }
}

/** Events that answer a new order (by client id). */
const STALE_ANSWER_CBS: ReadonlySet<string> = new Set(['onNewOrderAck', 'onNewOrderReject', 'onOrderExecution', 'onOrderCancelled']);

/** `onOrderStatus` of an order reconciliation closed: `Cancelled`, nothing left (outcome unknown here). */
function closedStatus(o: TrackedOrder): OrderStatusInfo {
  return {
    exchange: o.exchange,
    instrumentId: o.instrumentId,
    clientOrdId: o.clientId,
    exchOrdId: o.exchangeId ?? '',
    side: o.side,
    price: o.price,
    leavesQty: Qty.ZERO,
    status: OrderStatus.Cancelled,
    orderType: o.orderType,
    tif: o.tif,
    execInstr: [...o.execInstr],
  };
}

/** True when the gateway's order record proves an in-flight request reached it. */
function reachedEvidence(p: InFlightRequest, byId: ReadonlyMap<string, OrderStatusInfo>): boolean {
  const cid = p.key.slice(2);
  switch (p.key[0]) {
    case 'N':
      return byId.has(cid);
    case 'C':
      return byId.get(cid)?.status === OrderStatus.PendingCancel;
    case 'M': {
      // A modify cannot follow a cancel (the kernel refuses it), so a pending cancel proves it too.
      const s = byId.get(cid)?.status;
      return s === OrderStatus.PendingModify || s === OrderStatus.PendingCancel;
    }
    default:
      return false;
  }
}
