/**
 * One WebSocket connection of the gateway: the edge checks of every received frame (size,
 * flood, parsing, bad-frame count, sequence, login state), frame numbering of what it
 * sends, heartbeats and timeouts, and the market-data subscriptions of the connection.
 * What a valid message means is the server's business (`SessionHandler`).
 * @module
 */
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import type { StrategyEventMap } from '../api/events.js';
import type { Scheduler } from '../core/clock.js';
import type { Role } from '../control/commands.js';
import { MdStatus, MdType, type MdEvent } from '../data/events.js';
import { encodeMd, eventFrame } from './codec.js';
import { FrameGuard } from './frame-guard.js';
import {
  ProtocolErrorCode,
  errorBody,
  parseClientFrame,
  serializeFrame,
  type ClientMessage,
  type FrameBody,
  type GatewayMessage,
  type MdRow,
  type ProtocolLimits,
  type VenueCallbackName,
} from './protocol.js';

/** What the server does with a session's valid messages and its end. */
export interface SessionHandler {
  /** A valid message passed every edge check (for requests: the session is logged in). */
  onMessage(session: GatewaySession, msg: ClientMessage): void;
  /** The connection is gone (closed by either side). */
  onClose(session: GatewaySession, code: number, reason: string): void;
}

/** What a session needs from the server. */
export interface SessionDeps {
  clock: Scheduler;
  limits: Readonly<ProtocolLimits>;
  handler: SessionHandler;
  logger: Logger;
  /** Most rows per `md` frame. */
  mdRowsPerFrame: number;
  /** Unsent bytes above which `md` stops until the socket drains (then a fresh snapshot). */
  maxBufferedBytes: number;
}

/** Login state of a connection. */
export type SessionState = 'connected' | 'live' | 'closed';

/** Options of an error frame: what it refers to. */
export interface ErrorRef {
  reqId?: string;
  refSeq?: number;
}

const MESSAGES_BEFORE_LOGIN: ReadonlySet<string> = new Set(['login', 'control_login', 'heartbeat', 'logout']);
const MAX_CLOSE_REASON_BYTES = 123;

function rawBytes(data: RawData): number {
  if (Array.isArray(data)) {
    let n = 0;
    for (const b of data) n += b.byteLength;
    return n;
  }
  return (data as Buffer | ArrayBuffer).byteLength;
}

function closeReason(s: string): string {
  let r = s;
  while (Buffer.byteLength(r, 'utf8') > MAX_CLOSE_REASON_BYTES) r = r.slice(0, -1);
  return r;
}

/** A status row of the md wire form. */
function statusRow(instrumentId: number, ts: number, status: number): MdRow {
  return [MdType.Status, instrumentId, ts, ts, 0, 0, 0, 0, status];
}

/**
 * One connection. Created by the server on `connection`; it owns the socket's listeners and
 * its heartbeat timer.
 */
export class GatewaySession {
  /** Opaque id, for logs on both sides (sent in `login_ack`). */
  readonly id: string;
  /** Peer address, for logs. */
  readonly remote: string;
  /** Strategy name once the login was accepted. */
  strategy: string | undefined;
  /** True once `login_ack` went out: events may be sent from then on. */
  ready = false;
  /** Set once a `control_login` was accepted: a control client (`tradeloop ctl`), not a strategy. */
  control: { name: string; role: Role } | undefined;
  private state: SessionState = 'connected';
  private readonly ws: WebSocket;
  private readonly deps: SessionDeps;
  private readonly guard: FrameGuard;
  private seqOut = 0;
  private timer: number | undefined;
  /** Subscribed instrument ids by exchange. */
  private readonly subs = new Map<string, Set<number>>();
  /** Exchanges whose md is paused because the socket did not drain. */
  private readonly stalled = new Set<string>();

  constructor(id: string, ws: WebSocket, remote: string, deps: SessionDeps) {
    this.id = id;
    this.ws = ws;
    this.remote = remote;
    this.deps = deps;
    this.guard = new FrameGuard(deps.limits, this.nowMs());
    ws.on('message', (data: RawData) => this.receive(data));
    ws.on('close', (code: number, reason: Buffer) => this.closed(code, reason.toString('utf8')));
    ws.on('error', (err: Error) => deps.logger.warn({ session: this.id, err: err.message }, 'socket error'));
    this.schedule();
  }

  /** Login state. */
  get loginState(): SessionState {
    return this.state;
  }

  /** True until the connection is closed or closing. */
  get isOpen(): boolean {
    return this.state !== 'closed' && this.ws.readyState === WebSocket.OPEN;
  }

  /** Marks the session logged in as `strategy` (login timer stops). */
  login(strategy: string): void {
    this.strategy = strategy;
    this.state = 'live';
    this.guard.onLogin();
  }

  /** Marks the session logged in as a control client (login timer stops); it gets no events nor market data. */
  loginControl(control: { name: string; role: Role }): void {
    this.control = control;
    this.state = 'live';
    this.guard.onLogin();
  }

  private nowMs(): number {
    return this.deps.clock.now() / 1000;
  }

  // ---- sending -------------------------------------------------------------------------

  /** Sends one frame (numbered here). False when the connection is not open. */
  send(body: FrameBody<GatewayMessage>): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(serializeFrame(body, ++this.seqOut));
    this.guard.onSent(this.nowMs());
    return true;
  }

  /**
   * Sends a recorded event with its event sequence number.
   * @throws ProtocolError when the event has no valid wire form (nothing is sent, no number used).
   */
  sendEvent<K extends VenueCallbackName>(eventSeq: number, cb: K, ev: StrategyEventMap[K]): boolean {
    // Encoded straight to text (eventFrame), with the number it gets if it goes out: as
    // before, an event that cannot be encoded throws, even on a closed socket, and uses no number.
    const text = eventFrame(this.seqOut + 1, eventSeq, cb, ev);
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.seqOut++;
    this.ws.send(text);
    this.guard.onSent(this.nowMs());
    return true;
  }

  /** Sends a non-fatal `error` frame. */
  sendError(code: ProtocolErrorCode, reason: string, ref: ErrorRef = {}): void {
    this.send(errorBody({ code, reason, reqId: ref.reqId, refSeq: ref.refSeq, fatal: false }));
  }

  /** Sends a fatal `error` frame and closes with `closeCode` (default: the error code). */
  fail(code: ProtocolErrorCode, reason: string, ref: ErrorRef = {}, closeCode: number = code): void {
    if (this.state === 'closed') return;
    this.send(errorBody({ code, reason, reqId: ref.reqId, refSeq: ref.refSeq, fatal: true }));
    this.close(closeCode, reason);
  }

  /** Closes the connection (the close frame follows whatever is queued). */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.ready = false;
    this.stopTimer();
    try {
      this.ws.close(code, closeReason(reason));
    } catch {
      this.ws.terminate();
    }
  }

  /** Drops the connection without a close handshake (shutdown of an unresponsive peer). */
  terminate(): void {
    this.state = 'closed';
    this.stopTimer();
    this.ws.terminate();
  }

  /** Resolves when the socket is fully closed. */
  whenClosed(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.ws.once('close', () => resolve()));
  }

  // ---- market data ---------------------------------------------------------------------

  /** Adds subscriptions (after their snapshot was sent). */
  subscribe(exchange: string, instrumentIds: readonly number[]): void {
    let s = this.subs.get(exchange);
    if (!s) this.subs.set(exchange, (s = new Set()));
    for (const id of instrumentIds) s.add(id);
  }

  /** Subscribed instrument ids of an exchange. */
  subscribed(exchange: string): ReadonlySet<number> | undefined {
    return this.subs.get(exchange);
  }

  /** Sends rows as `md` frames of at most `mdRowsPerFrame` rows. */
  sendRows(exchange: string, rows: readonly MdRow[]): void {
    const n = this.deps.mdRowsPerFrame;
    for (let i = 0; i < rows.length; i += n) {
      const events = i === 0 && rows.length <= n ? (rows as MdRow[]) : rows.slice(i, i + n);
      if (!this.send({ type: 'md', exchange, events })) return;
    }
  }

  /**
   * Delivers a published batch (rows encoded once by the caller): the rows of this
   * session's instruments. When the socket is not draining (`maxBufferedBytes`), md of that
   * exchange pauses with a `Disconnected` row per instrument; once it drained below half,
   * `snapshot` of each instrument replaces the batch (the books already include it).
   */
  deliverMd(exchange: string, events: readonly MdEvent[], rows: readonly MdRow[], snapshot: (instrumentId: number) => MdEvent[]): void {
    const ids = this.subs.get(exchange);
    if (!ids || ids.size === 0 || !this.ready) return;
    const buffered = this.ws.bufferedAmount;
    if (this.stalled.has(exchange)) {
      if (buffered > this.deps.maxBufferedBytes / 2) return;
      this.stalled.delete(exchange);
      const fresh: MdEvent[] = [];
      for (const id of ids) fresh.push(...snapshot(id));
      this.deps.logger.info({ session: this.id, strategy: this.strategy, exchange }, 'market data resumed with a snapshot');
      this.sendRows(exchange, encodeMd(fresh));
      return;
    }
    const out: MdRow[] = [];
    for (let i = 0; i < events.length; i++) if (ids.has(events[i]!.instrumentId)) out.push(rows[i]!);
    if (out.length === 0) return;
    if (buffered > this.deps.maxBufferedBytes) {
      this.stalled.add(exchange);
      const ts = this.deps.clock.now();
      this.deps.logger.warn({ session: this.id, strategy: this.strategy, exchange, bufferedBytes: buffered }, 'slow consumer: market data paused');
      this.sendRows(
        exchange,
        [...ids].map((id) => statusRow(id, ts, MdStatus.Disconnected)),
      );
      return;
    }
    this.sendRows(exchange, out);
  }

  // ---- receiving -----------------------------------------------------------------------

  private receive(data: RawData): void {
    if (this.state === 'closed') return;
    const now = this.nowMs();
    const v = this.guard.onFrame(rawBytes(data), now);
    if (!v.ok) return this.fail(v.code, v.reason);
    const r = parseClientFrame(data as Buffer | ArrayBuffer | Buffer[], this.deps.limits);
    if (!r.ok) {
      const ref = { reqId: r.reqId, refSeq: r.refSeq };
      if (r.fatal) return this.fail(r.code, r.reason, ref);
      this.sendError(r.code, r.reason, ref);
      if (r.refSeq !== undefined) this.checkSeq(r.refSeq, ref.reqId);
      return this.bad(now);
    }
    const msg = r.msg;
    this.checkSeq(msg.seq, msg.reqId);
    if (this.state !== 'live' && !MESSAGES_BEFORE_LOGIN.has(msg.type)) {
      this.sendError(ProtocolErrorCode.NotLoggedIn, `${msg.type} before a successful login`, { reqId: msg.reqId, refSeq: msg.seq });
      return this.bad(now);
    }
    try {
      this.deps.handler.onMessage(this, msg);
    } catch (err) {
      this.deps.logger.error({ session: this.id, type: msg.type, err }, 'message handling failed');
      this.sendError(ProtocolErrorCode.InternalError, `the gateway failed to handle ${msg.type}; it had no effect`, { reqId: msg.reqId, refSeq: msg.seq });
    }
  }

  /** Counts a refused frame (the error frame is already sent); too many close the connection. */
  bad(nowMs: number = this.nowMs()): void {
    const v = this.guard.onBadFrame(nowMs);
    if (!v.ok) this.fail(v.code, v.reason);
  }

  private checkSeq(seq: number, reqId: string | undefined): void {
    const s = this.guard.onSeq(seq);
    if (!s.ok) this.sendError(ProtocolErrorCode.SequenceGap, s.reason, { reqId, refSeq: seq });
  }

  private closed(code: number, reason: string): void {
    const wasOpen = this.state !== 'closed';
    this.state = 'closed';
    this.ready = false;
    this.stopTimer();
    this.deps.handler.onClose(this, code, reason);
    if (wasOpen) this.deps.logger.debug({ session: this.id, code }, 'closed by the peer');
  }

  // ---- timers ---------------------------------------------------------------------------

  private schedule(): void {
    this.stopTimer();
    if (this.state === 'closed') return;
    const dueMs = this.guard.nextDeadlineMs();
    this.timer = this.deps.clock.at(Math.ceil(dueMs * 1000), () => {
      this.timer = undefined;
      this.poll();
    });
  }

  private poll(): void {
    if (this.state === 'closed') return;
    const a = this.guard.poll(this.nowMs());
    if (a.action === 'close') {
      // Heartbeat timeout: the peer is presumed gone, so no error frame (docs/protocol.md).
      if (a.code === ProtocolErrorCode.HeartbeatTimeout) {
        this.deps.logger.info({ session: this.id, strategy: this.strategy }, 'heartbeat timeout');
        this.close(a.closeCode, a.reason);
      } else {
        this.deps.logger.info({ session: this.id, code: a.code }, a.reason);
        this.fail(a.code, a.reason);
      }
      return;
    }
    if (a.action === 'heartbeat') this.send({ type: 'heartbeat', ts: this.deps.clock.now() });
    this.schedule();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) this.deps.clock.cancel(this.timer);
    this.timer = undefined;
  }
}
