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
  serializeMdFrame,
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
  /** Runs before every frame leaves (the server commits its open group of writes); when it throws, the frame is not sent. */
  beforeSend?: () => void;
  /**
   * The connection's raw socket (the upgrade request's `req.socket`). Given, the frames a
   * session sends within one run of JavaScript (up to the end of the current microtasks) are
   * held, then committed with one `beforeSend` and written with one system call: a
   * `cancel_all` of 250 orders costs one commit and one write instead of 250 of each.
   * `md` frames are not held (a stream gains nothing from it): they first send what is.
   * Without it, each frame is committed and written as it is sent.
   */
  socket?: { cork(): void; uncork(): void };
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
 * @internal What one session takes of an `MdBatch`: some of its rows, with the `events`
 * JSON of each of their frames, shared by every session that takes the same rows.
 */
export interface MdSelection {
  /** Rows taken (at least 1). */
  readonly size: number;
  /** `JSON.stringify` of frame `k`'s rows, frames holding `rowsPerFrame` rows. */
  eventsJson(k: number, rowsPerFrame: number): string;
}

class Selection implements MdSelection {
  private readonly texts: string[] = [];
  private rowsPerFrame = 0;

  /**
   * `index` lists the batch rows taken (undefined: all). `joinRows`: build the text from the
   * batch's per-row texts, worth it when other sessions take other, overlapping rows.
   */
  constructor(
    private readonly batch: MdBatch,
    private readonly rows: readonly MdRow[],
    private readonly index: readonly number[] | undefined,
    private readonly joinRows: boolean,
  ) {}

  get size(): number {
    return this.rows.length;
  }

  eventsJson(k: number, rowsPerFrame: number): string {
    if (this.rowsPerFrame !== rowsPerFrame) {
      // The cache holds one frame size; sessions of one server all use the same.
      if (this.texts.length > 0) return this.serialize(k, rowsPerFrame);
      this.rowsPerFrame = rowsPerFrame;
    }
    return (this.texts[k] ??= this.serialize(k, rowsPerFrame));
  }

  private serialize(k: number, n: number): string {
    const start = k * n;
    const end = Math.min(start + n, this.rows.length);
    if (this.joinRows && this.index !== undefined) {
      const parts = new Array<string>(end - start);
      for (let i = start; i < end; i++) parts[i - start] = this.batch.rowJson(this.index[i]!);
      return `[${parts.join(',')}]`;
    }
    return JSON.stringify(start === 0 && end === this.rows.length ? this.rows : this.rows.slice(start, end));
  }
}

/**
 * @internal One published batch of market events of an exchange, shared by every session
 * it is delivered to: the rows are encoded and JSON-serialized once per batch rather than once
 * per session, since their frames differ only by the connection's `seq`. Sessions taking the
 * same instruments of the batch (usually all of them) share their frames' `events` text.
 */
export class MdBatch {
  /** Exchange of the events. */
  readonly exchange: string;
  /** `JSON.stringify(exchange)`, for the frames' envelope. */
  readonly exchangeJson: string;
  /** The events, in publishing order. */
  readonly events: readonly MdEvent[];
  private encoded: readonly MdRow[] | undefined;
  private instruments: number[] | undefined;
  private readonly selections = new Map<string, Selection>();
  private rowTexts: string[] | undefined;
  /** 1 for the rows an earlier partial selection took. */
  private takenRows: Uint8Array | undefined;

  /** `rows`: the events' `encodeMd` rows when the caller has them (else encoded on first use). */
  constructor(exchange: string, events: readonly MdEvent[], rows?: readonly MdRow[]) {
    this.exchange = exchange;
    this.exchangeJson = JSON.stringify(exchange);
    this.events = events;
    this.encoded = rows;
  }

  /** The events' wire rows. */
  get rows(): readonly MdRow[] {
    return (this.encoded ??= encodeMd(this.events));
  }

  /** Distinct instrument ids of the events, in order of first appearance. */
  instrumentIds(): readonly number[] {
    if (this.instruments === undefined) {
      const seen = new Set<number>();
      const ids: number[] = [];
      let last = NaN;
      for (let i = 0; i < this.events.length; i++) {
        const id = this.events[i]!.instrumentId;
        // Runs of one instrument are the usual shape of a batch: skip the set for them.
        if (id === last) continue;
        last = id;
        if (!seen.has(id)) {
          seen.add(id);
          ids.push(id);
        }
      }
      this.instruments = ids;
    }
    return this.instruments;
  }

  /** What a session subscribed to `ids` takes of the batch; undefined when no row. */
  select(ids: ReadonlySet<number>): MdSelection | undefined {
    const all = this.instrumentIds();
    let wanted = 0;
    for (let i = 0; i < all.length; i++) if (ids.has(all[i]!)) wanted++;
    if (wanted === 0) return undefined;
    // The key names the instruments taken; the order of `all` makes it the same for every session.
    let key = '*';
    if (wanted < all.length) {
      key = '';
      for (let i = 0; i < all.length; i++) if (ids.has(all[i]!)) key += `${all[i]},`;
    }
    let sel = this.selections.get(key);
    if (sel === undefined) {
      if (key === '*') sel = new Selection(this, this.rows, undefined, false);
      else {
        const rows = this.rows;
        const index: number[] = [];
        const out: MdRow[] = [];
        const before = (this.takenRows ??= new Uint8Array(this.events.length));
        let shared = 0;
        for (let i = 0; i < this.events.length; i++) {
          if (!ids.has(this.events[i]!.instrumentId)) continue;
          index.push(i);
          out.push(rows[i]!);
          shared += before[i]!;
          before[i] = 1;
        }
        // Serializing rows one by one costs ≈ 1.4× one JSON.stringify of them all, so it only
        // pays for rows that other selections take too: sessions on overlapping instrument sets.
        sel = new Selection(this, out, index, 2 * shared > out.length);
      }
      this.selections.set(key, sel);
    }
    return sel;
  }

  /** `JSON.stringify` of row `i`, cached for the partial selections of other sessions. */
  rowJson(i: number): string {
    const texts = (this.rowTexts ??= new Array<string>(this.events.length));
    return (texts[i] ??= JSON.stringify(this.rows[i]));
  }
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
  /** Frames numbered and waiting for the flush (`SessionDeps.socket`), and their length in UTF-16 units. */
  private held: string[] = [];
  private heldBytes = 0;

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

  /**
   * Without a socket to hold frames on: what the frame depends on is committed
   * (`beforeSend`); false when that failed: the frame must not leave (the server is
   * stopping). With one, always true: the frame is held, and the commit runs at the flush.
   */
  private clearToSend(): boolean {
    if (this.deps.socket !== undefined) return true;
    return this.commitNow();
  }

  /**
   * Before frames written at once (md, a stream that gains nothing from holding): what is
   * held leaves first, then the commit. False when the commit failed.
   */
  private clearToSendNow(): boolean {
    if (this.held.length > 0) return this.flushHeld();
    return this.commitNow();
  }

  private commitNow(): boolean {
    if (this.deps.beforeSend === undefined) return true;
    try {
      this.deps.beforeSend();
      return true;
    } catch {
      return false;
    }
  }

  /** Hands a numbered frame to the socket, or holds it until the flush. */
  private write(text: string): void {
    if (this.deps.socket === undefined) {
      this.ws.send(text);
      return;
    }
    if (this.held.length === 0) process.nextTick(this.flushHeld);
    this.held.push(text);
    this.heldBytes += text.length;
  }

  /**
   * Sends the held frames: first the commit they depend on, then all of them in one write
   * (the socket corked meanwhile). A failed commit drops them: they must not leave; the
   * server stops and closes the connection.
   */
  private readonly flushHeld = (): boolean => {
    const held = this.held;
    if (held.length === 0) return true;
    this.held = [];
    this.heldBytes = 0;
    if (!this.commitNow()) return false;
    if (this.ws.readyState !== WebSocket.OPEN) return true;
    const sock = this.deps.socket!;
    sock.cork();
    try {
      for (const text of held) this.ws.send(text);
    } finally {
      sock.uncork();
    }
    return true;
  };

  /** Frames held for the flush (tests). */
  get heldFrames(): number {
    return this.held.length;
  }

  /** Sends one frame (numbered here). False when the connection is not open. */
  send(body: FrameBody<GatewayMessage>): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    if (!this.clearToSend()) return false;
    this.write(serializeFrame(body, ++this.seqOut));
    this.guard.onSent(this.nowMs());
    return true;
  }

  /**
   * Sends a recorded event with its event sequence number.
   * @param evJson the event's wire JSON when the caller already has it (`eventJson`).
   * @throws ProtocolError when the event has no valid wire form (nothing is sent, no number used).
   */
  sendEvent<K extends VenueCallbackName>(eventSeq: number, cb: K, ev: StrategyEventMap[K], evJson?: string): boolean {
    // Encoded straight to text (eventFrame), with the number it gets if it goes out: as
    // before, an event that cannot be encoded throws, even on a closed socket, and uses no number.
    const text = eventFrame(this.seqOut + 1, eventSeq, cb, ev, evJson);
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    if (!this.clearToSend()) return false;
    this.seqOut++;
    this.write(text);
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
    // What is held goes first (committed), as the close frame follows whatever is queued.
    this.flushHeld();
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
    this.held = [];
    this.heldBytes = 0;
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
    this.deliverBatch(new MdBatch(exchange, events, rows), snapshot);
  }

  /**
   * @internal `deliverMd` of a batch shared with the other sessions, so that its rows are
   * serialized once for all of them (the server's fan-out).
   */
  deliverBatch(batch: MdBatch, snapshot: (instrumentId: number) => MdEvent[]): void {
    const exchange = batch.exchange;
    const ids = this.subs.get(exchange);
    if (!ids || ids.size === 0 || !this.ready) return;
    const buffered = this.ws.bufferedAmount + this.heldBytes;
    if (this.stalled.has(exchange)) {
      if (buffered > this.deps.maxBufferedBytes / 2) return;
      this.stalled.delete(exchange);
      const fresh: MdEvent[] = [];
      for (const id of ids) fresh.push(...snapshot(id));
      this.deps.logger.info({ session: this.id, strategy: this.strategy, exchange }, 'market data resumed with a snapshot');
      this.sendRows(exchange, encodeMd(fresh));
      return;
    }
    const sel = batch.select(ids);
    if (sel === undefined) return;
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
    const n = this.deps.mdRowsPerFrame;
    const frames = Math.ceil(sel.size / n);
    if (!this.clearToSendNow()) return;
    for (let k = 0; k < frames; k++) {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      const events = sel.eventsJson(k, n);
      this.ws.send(serializeMdFrame(++this.seqOut, batch.exchangeJson, events));
      this.guard.onSent(this.nowMs());
    }
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
