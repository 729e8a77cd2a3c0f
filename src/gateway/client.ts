/**
 * The strategy side's WebSocket transport to a gateway (`docs/protocol.md`): it connects,
 * logs in, numbers outbound frames, checks inbound ones, keeps the connection alive with
 * heartbeats, notices a silent gateway, and reconnects with exponential backoff. It knows
 * nothing about strategies: `RemoteEnv` (`remote-env.ts`) turns its events into the kernel's.
 *
 * Every inbound frame goes through `parseGatewayFrame`; a frame that fails is logged with
 * the gateway's URL, the session and the frame's `seq`, and dropped — it never throws out
 * of a socket handler. The login token is sent in the `login` frame and nowhere else: it is
 * never logged, never put in an error message, never emitted.
 *
 * Time and timers come from the `Scheduler` it is given (a `LiveClock` in a live run); it
 * reads no wall clock and sets no timer of its own.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { Scheduler } from '../core/clock.js';
import { SeededRng } from '../core/rng.js';
import {
  CloseCode,
  DEFAULT_CLIENT_LIMITS,
  DEFAULT_LIMITS,
  ProtocolErrorCode,
  parseGatewayFrame,
  resolveLimits,
  serializeFrame,
  type ClientMessage,
  type FrameBody,
  type GatewayMessage,
  type LoginAckMsg,
  type ParseFailure,
  type ProtocolLimits,
  type RawFrame,
} from './protocol.js';

/** Exponential backoff between connection attempts. */
export interface BackoffOptions {
  /** Delay before the first reconnection attempt, ms. Default 500. */
  initialMs?: number;
  /** Largest delay, ms. Default 30 000. */
  maxMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /**
   * Fraction of the delay drawn at random, in [0, 1]: the delay is
   * `base × (1 − jitter × u)` with `u` uniform in [0, 1). Default 0.5 (between half and
   * all of the base delay), so that many clients cut at once do not come back at once.
   */
  jitter?: number;
}

/** Resolved backoff settings. */
export type ResolvedBackoff = Required<BackoffOptions>;

/** The defaults of `BackoffOptions`: 0.5 s doubling to 30 s, half of it jittered (docs/protocol.md). */
export const DEFAULT_BACKOFF: Readonly<ResolvedBackoff> = Object.freeze({ initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 });

/**
 * Delay before reconnection attempt `attempt` (0 for the first after a drop), ms:
 * `min(maxMs, initialMs × factor^attempt) × (1 − jitter × u)`.
 * @param u a uniform draw in [0, 1) (the client draws it from its seeded generator).
 */
export function backoffDelayMs(attempt: number, opts: Readonly<ResolvedBackoff>, u: number): number {
  const base = Math.min(opts.maxMs, opts.initialMs * Math.pow(opts.factor, Math.max(0, attempt)));
  return Math.max(0, Math.round(base * (1 - opts.jitter * u)));
}

/** 32-bit FNV-1a of a string: the default jitter seed, so each strategy name gets its own spread. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** What `login` asks to be replayed (see docs/protocol.md, "Resume after a reconnect"). */
export interface ResumeSpec {
  /** The last `eventSeq` the client has processed. */
  lastEventSeq: number;
}

/** Options of a `GatewayClient`. */
export interface GatewayClientOptions {
  /** Gateway URL, e.g. `ws://127.0.0.1:7070/v1`. */
  url: string;
  /** Login name of the strategy at the gateway. */
  strategy: string;
  /** Shared secret of the strategy. Sent in `login` only; never logged. */
  token: string;
  /** Time and timers (a `LiveClock` in a live run). */
  clock: Scheduler;
  logger: Logger;
  /** Reconnection backoff; see `DEFAULT_BACKOFF`. */
  backoff?: BackoffOptions;
  /**
   * Seed of the jitter generator. Default: FNV-1a of `strategy@url`, so that a run is
   * reproducible and two strategies cut at the same moment still spread their retries.
   */
  seed?: number;
  /** Called at each login: what to ask to be replayed, or undefined for no `resume`. */
  resume?: () => ResumeSpec | undefined;
  /** Limits on gateway frames (size, depth); default `DEFAULT_CLIENT_LIMITS`. */
  limits?: Partial<ProtocolLimits>;
  /**
   * Time from the start of a connection attempt to `login_ack`, ms; then the attempt is
   * abandoned and retried with backoff. Default 10 000.
   */
  loginTimeoutMs?: number;
  /**
   * Certificates to trust for a `wss://` gateway, PEM: a gateway with its own (self-signed)
   * certificate. They replace the system's list for this connection. Default: the system's
   * (and `NODE_EXTRA_CA_CERTS`).
   */
  ca?: string | Buffer;
  /** This client's certificate and key, PEM, for a gateway that asks for one (`listen.tls.clientCaFile`). Default none. */
  identity?: { cert: string | Buffer; key: string | Buffer };
}

/** Why a connection ended, and what follows. */
export interface DisconnectInfo {
  /** WebSocket close code (or the protocol code of the cause when the client dropped the connection itself, e.g. 4023). */
  code: number;
  /** Readable cause. */
  reason: string;
  /** True when the connection had logged in. */
  wasLoggedIn: boolean;
  /** Delay before the next attempt, ms; undefined when no reconnection follows. */
  reconnectInMs: number | undefined;
}

/** Events of a `GatewayClient` (eventemitter3, synchronous). */
export interface GatewayClientEvents {
  /** A connection attempt starts; `attempt` counts attempts since the last successful login (1 = first). */
  connecting: (info: { attempt: number; url: string }) => void;
  /** Logged in: requests may be sent. */
  login: (ack: LoginAckMsg) => void;
  /** A valid gateway frame after login (`heartbeat` frames excluded). */
  message: (msg: GatewayMessage) => void;
  /** The connection ended (see `reconnectInMs`). */
  disconnect: (info: DisconnectInfo) => void;
  /** A gateway frame failed validation; it was logged and dropped. */
  malformed: (failure: ParseFailure) => void;
  /** The gateway ended the session for good (bad credentials, unsupported version, normal close): no reconnection. */
  fatal: (info: { code: number; reason: string }) => void;
  /** `close()` finished: no connection, no timers. */
  closed: () => void;
}

/** Close codes (or fatal error codes) after which a client must not reconnect (docs/protocol.md, "Close codes"). */
export const NO_RECONNECT_CODES: ReadonlySet<number> = new Set([CloseCode.Normal, ProtocolErrorCode.UnsupportedVersion, ProtocolErrorCode.BadCredentials]);

type ConnState = 'idle' | 'connecting' | 'open' | 'loggedIn' | 'waiting' | 'closed';

/** Frames a client may send before `login_ack`. */
const BEFORE_LOGIN: ReadonlySet<string> = new Set(['login', 'heartbeat', 'logout']);

/** Longest excerpt of a refused frame put in the log, characters. */
const PREVIEW_CHARS = 200;

function preview(raw: RawFrame): string {
  try {
    const text = typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString('utf8') : raw instanceof ArrayBuffer ? Buffer.from(raw).toString('utf8') : Array.isArray(raw) ? Buffer.concat(raw as Uint8Array[]).toString('utf8') : String(raw);
    return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  } catch {
    return '(unreadable)';
  }
}

/**
 * One strategy's connection to a gateway, kept up until `close()`.
 *
 * Lifecycle: `start()` → `connecting` → (socket open) `login` frame with the token and
 * `resume()` → `login_ack` → `login` event; then every frame is a `message` event. When
 * the connection drops (close, error, no `login_ack` within `loginTimeoutMs`, nothing
 * received within the gateway's `heartbeatTimeoutMs`), a `disconnect` event says when the
 * next attempt is: after `backoffDelayMs(attempt)` — at least `heartbeatTimeoutMs` after
 * `AlreadyLoggedIn` (the gateway drops the old session by then) — or never after close
 * codes 1000, 4003, 4011 (`fatal` event). The attempt counter restarts at each login.
 *
 * Outbound frames are numbered 1, 2, 3, … per connection (`seq`); inbound `seq` gaps are
 * logged (over TCP they mean a bug, not a loss). A `heartbeat` goes out whenever nothing
 * was sent for `heartbeatMs`.
 */
export class GatewayClient extends EventEmitter<GatewayClientEvents> {
  /** Gateway URL. */
  readonly url: string;
  /** Login name. */
  readonly strategy: string;
  private readonly token: string;
  private readonly clock: Scheduler;
  private readonly logger: Logger;
  private readonly backoff: ResolvedBackoff;
  private readonly rng: SeededRng;
  private readonly limits: ProtocolLimits;
  private readonly loginTimeoutMs: number;
  private readonly ca: string | Buffer | undefined;
  private readonly identity: { cert: string | Buffer; key: string | Buffer } | undefined;
  private resume: () => ResumeSpec | undefined;

  private ws: WebSocket | undefined;
  private state: ConnState = 'idle';
  private outSeq = 0;
  private expectedInSeq = 1;
  private attempt = 0;
  private heartbeatMs = DEFAULT_LIMITS.heartbeatMs;
  private heartbeatTimeoutMs = DEFAULT_LIMITS.heartbeatTimeoutMs;
  private attemptStartMs = 0;
  private lastSentMs = 0;
  private lastRecvMs = 0;
  private pollHandle: number | undefined;
  private retryHandle: number | undefined;
  private loginReqId = '';
  private nextLoginNo = 0;
  private session: string | undefined;
  /** Cause recorded before the client drops a socket itself, reported instead of the 1006 the socket gives. */
  private localCause: { code: number; reason: string } | undefined;
  /** Last fatal `error` frame from the gateway on this connection. */
  private fatalError: { code: number; reason: string } | undefined;
  private closing = false;
  /** Last socket error of the current attempt (ECONNREFUSED…), for the disconnect reason. */
  private socketError: string | undefined;
  private closedResolve: (() => void) | undefined;
  private readonly closedPromise: Promise<void>;

  constructor(opts: GatewayClientOptions) {
    super();
    if (typeof opts.token !== 'string' || opts.token.length === 0) throw new RangeError('gateway token is empty');
    this.url = opts.url;
    this.strategy = opts.strategy;
    this.token = opts.token;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.backoff = { ...DEFAULT_BACKOFF, ...(opts.backoff ?? {}) };
    if (!(this.backoff.initialMs >= 0) || !(this.backoff.maxMs >= this.backoff.initialMs) || !(this.backoff.factor >= 1) || !(this.backoff.jitter >= 0 && this.backoff.jitter <= 1)) {
      throw new RangeError(`invalid backoff ${JSON.stringify(this.backoff)}: need 0 ≤ initialMs ≤ maxMs, factor ≥ 1, 0 ≤ jitter ≤ 1`);
    }
    this.rng = new SeededRng(opts.seed ?? fnv1a32(`${opts.strategy}@${opts.url}`));
    this.limits = resolveLimits(opts.limits ?? {}, DEFAULT_CLIENT_LIMITS);
    this.loginTimeoutMs = opts.loginTimeoutMs ?? DEFAULT_LIMITS.loginTimeoutMs;
    this.ca = opts.ca;
    this.identity = opts.identity;
    this.resume = opts.resume ?? (() => undefined);
    this.closedPromise = new Promise((resolve) => (this.closedResolve = resolve));
  }

  /** True between `login_ack` and the end of the connection: requests may be sent. */
  get loggedIn(): boolean {
    return this.state === 'loggedIn';
  }

  /** The gateway's session id of the current connection (undefined before its `login_ack`). */
  get sessionId(): string | undefined {
    return this.state === 'loggedIn' ? this.session : undefined;
  }

  /** The heartbeat interval in force, ms (from `login_ack`; 5 000 before). */
  get heartbeatIntervalMs(): number {
    return this.heartbeatMs;
  }

  /** Replaces the `resume` provider (called at each login). */
  setResumeProvider(resume: () => ResumeSpec | undefined): void {
    this.resume = resume;
  }

  /** Starts connecting (once). */
  start(): void {
    if (this.state !== 'idle') return;
    this.connect();
  }

  private nowMs(): number {
    return this.clock.now() / 1000;
  }

  private connect(): void {
    if (this.closing) return;
    this.retryHandle = undefined;
    this.state = 'connecting';
    this.outSeq = 0;
    this.expectedInSeq = 1;
    this.localCause = undefined;
    this.fatalError = undefined;
    this.socketError = undefined;
    this.session = undefined;
    this.heartbeatMs = DEFAULT_LIMITS.heartbeatMs;
    this.attemptStartMs = this.lastRecvMs = this.lastSentMs = this.nowMs();
    this.safeEmit('connecting', { attempt: this.attempt + 1, url: this.url });
    let ws: WebSocket;
    try {
      // maxPayload a little above our frame limit, so that an oversized frame is refused by our own check with a clear log line.
      ws = new WebSocket(this.url, {
        maxPayload: this.limits.maxFrameBytes + 1024,
        handshakeTimeout: this.loginTimeoutMs,
        perMessageDeflate: false,
        ...(this.ca !== undefined ? { ca: this.ca } : {}),
        ...(this.identity !== undefined ? { cert: this.identity.cert, key: this.identity.key } : {}),
      });
    } catch (err) {
      // A malformed URL: no connection will ever work.
      this.state = 'closed';
      this.logger.error({ gateway: this.url, err: (err as Error).message }, 'cannot connect to the gateway');
      this.safeEmit('fatal', { code: 0, reason: `cannot connect to ${this.url}: ${(err as Error).message}` });
      this.finishClose();
      return;
    }
    this.ws = ws;
    ws.on('open', () => {
      if (ws !== this.ws) return;
      this.state = 'open';
      this.sendLogin();
    });
    ws.on('message', (data: WebSocket.RawData) => {
      if (ws !== this.ws) return;
      try {
        this.onFrame(data as RawFrame);
      } catch (err) {
        // A listener bug must not take the socket down with an uncaught exception.
        this.logger.error({ gateway: this.url, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'error while handling a gateway frame');
      }
    });
    ws.on('error', (err: Error) => {
      if (ws !== this.ws) return;
      this.socketError = err.message;
      this.logger.debug({ gateway: this.url, err: err.message }, 'gateway socket error');
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (ws !== this.ws) return;
      this.onSocketClosed(code, reason.toString('utf8'));
    });
    this.schedulePoll();
  }

  private sendLogin(): void {
    this.loginReqId = `login-${++this.nextLoginNo}`;
    const resume = this.resume();
    const body: FrameBody<ClientMessage> = { type: 'login', reqId: this.loginReqId, strategy: this.strategy, token: this.token };
    if (resume !== undefined) body.resume = { lastEventSeq: resume.lastEventSeq };
    this.logger.debug({ gateway: this.url, strategy: this.strategy, resume: resume?.lastEventSeq }, 'logging in to the gateway');
    this.sendRaw(body);
  }

  /**
   * Sends one frame (numbered here). Returns false — and sends nothing — when there is no
   * open connection, or before `login_ack` for anything but `login`, `heartbeat`, `logout`.
   */
  send(body: FrameBody<ClientMessage>): boolean {
    if (this.state !== 'loggedIn' && !(this.state === 'open' && BEFORE_LOGIN.has(body.type))) return false;
    return this.sendRaw(body);
  }

  private sendRaw(body: FrameBody<ClientMessage>): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    const seq = ++this.outSeq;
    try {
      ws.send(serializeFrame(body, seq));
    } catch (err) {
      this.logger.warn({ gateway: this.url, type: body.type, err: (err as Error).message }, 'could not send a frame to the gateway');
      return false;
    }
    this.lastSentMs = this.nowMs();
    // Never the body: a login frame holds the token.
    if (this.logger.isLevelEnabled('trace')) this.logger.trace({ gateway: this.url, type: body.type, seq, reqId: (body as { reqId?: string }).reqId }, 'frame sent');
    return true;
  }

  private onFrame(raw: RawFrame): void {
    this.lastRecvMs = this.nowMs();
    const r = parseGatewayFrame(raw, this.limits);
    if (!r.ok) {
      if (r.refSeq !== undefined) this.checkSeq(r.refSeq);
      this.logger.warn(
        { gateway: this.url, session: this.session, code: r.code, reason: r.reason, refSeq: r.refSeq, reqId: r.reqId, frame: preview(raw) },
        `malformed frame from the gateway ignored (${ProtocolErrorCode[r.code] ?? r.code})`,
      );
      this.safeEmit('malformed', r);
      return;
    }
    const msg = r.msg;
    this.checkSeq(msg.seq);
    if (this.logger.isLevelEnabled('trace')) this.logger.trace({ gateway: this.url, type: msg.type, seq: msg.seq }, 'frame received');
    if (msg.type === 'heartbeat') return;
    if (msg.type === 'error' && msg.fatal) this.fatalError = { code: msg.code, reason: msg.reason };
    if (this.state !== 'loggedIn') {
      if (msg.type === 'login_ack' && msg.reqId === this.loginReqId) {
        this.onLoginAck(msg);
        return;
      }
      if (msg.type === 'error') {
        this.logger.warn({ gateway: this.url, code: msg.code, reason: msg.reason, fatal: msg.fatal === true }, 'gateway refused the login');
        return;
      }
      this.logger.warn({ gateway: this.url, type: msg.type }, 'unexpected frame before login_ack ignored');
      return;
    }
    this.safeEmit('message', msg);
  }

  private checkSeq(seq: number): void {
    if (seq !== this.expectedInSeq) {
      this.logger.warn({ gateway: this.url, session: this.session, expected: this.expectedInSeq, got: seq }, `gateway frame seq ${seq} where ${this.expectedInSeq} was expected`);
    }
    this.expectedInSeq = seq + 1;
  }

  private onLoginAck(ack: LoginAckMsg): void {
    this.state = 'loggedIn';
    this.session = ack.sessionId;
    this.attempt = 0;
    this.heartbeatMs = ack.heartbeatMs;
    this.heartbeatTimeoutMs = ack.heartbeatTimeoutMs;
    this.logger.info({ gateway: this.url, session: ack.sessionId, lastEventSeq: ack.lastEventSeq, venues: ack.venues.map((v) => v.exchange) }, 'logged in to the gateway');
    this.schedulePoll();
    this.safeEmit('login', ack);
  }

  /** Timers: login deadline, gateway silence, heartbeat to send. One pending poll at a time. */
  private schedulePoll(): void {
    if (this.pollHandle !== undefined) this.clock.cancel(this.pollHandle);
    this.pollHandle = undefined;
    if (this.state !== 'connecting' && this.state !== 'open' && this.state !== 'loggedIn') return;
    let dueMs = this.lastRecvMs + this.heartbeatTimeoutMs;
    if (this.state !== 'loggedIn') dueMs = Math.min(dueMs, this.attemptStartMs + this.loginTimeoutMs);
    if (this.state !== 'connecting') dueMs = Math.min(dueMs, this.lastSentMs + this.heartbeatMs);
    this.pollHandle = this.clock.at(Math.ceil(dueMs * 1000), () => {
      this.pollHandle = undefined;
      this.poll();
    });
  }

  private poll(): void {
    const now = this.nowMs();
    if (this.state === 'connecting' || this.state === 'open') {
      if (now - this.attemptStartMs >= this.loginTimeoutMs) {
        this.drop(ProtocolErrorCode.LoginTimeout, `no login_ack within ${this.loginTimeoutMs} ms`);
        return;
      }
    }
    if (this.state === 'open' || this.state === 'loggedIn') {
      if (now - this.lastRecvMs >= this.heartbeatTimeoutMs) {
        this.drop(ProtocolErrorCode.HeartbeatTimeout, `nothing received from the gateway for ${Math.round(now - this.lastRecvMs)} ms (timeout ${this.heartbeatTimeoutMs} ms)`);
        return;
      }
      if (now - this.lastSentMs >= this.heartbeatMs) this.sendRaw({ type: 'heartbeat', ts: this.clock.now() });
    }
    this.schedulePoll();
  }

  /**
   * Drops the connection and reconnects with backoff (and `resume`): for a client that
   * finds itself out of step, e.g. an `eventSeq` gap. The disconnect reports `code`
   * (default `SequenceGap`) and `reason`. No-op when not connected.
   */
  reconnect(reason: string, code: number = ProtocolErrorCode.SequenceGap): void {
    if (this.state === 'loggedIn' || this.state === 'open' || this.state === 'connecting') this.drop(code, reason);
  }

  /** Ends the socket from this side; the close handler reports `code`/`reason`. */
  private drop(code: number, reason: string): void {
    const ws = this.ws;
    this.localCause = { code, reason };
    if (!ws) return;
    // The peer is presumed gone or confused: no closing handshake to wait for.
    ws.terminate();
  }

  private onSocketClosed(code: number, reason: string): void {
    const wasLoggedIn = this.state === 'loggedIn';
    const neverOpened = this.state === 'connecting';
    if (this.pollHandle !== undefined) this.clock.cancel(this.pollHandle);
    this.pollHandle = undefined;
    this.ws?.removeAllListeners();
    // A late socket error must not become an uncaught 'error' event.
    this.ws?.on('error', () => {});
    this.ws = undefined;
    const cause = this.localCause ?? this.fatalError ?? { code, reason: neverOpened ? `cannot connect: ${this.socketError ?? closeReason(code)}` : reason || closeReason(code) };
    const effective = this.localCause ? this.localCause.code : code;
    this.localCause = undefined;
    if (this.closing) {
      this.state = 'closed';
      this.safeEmit('disconnect', { code: cause.code, reason: cause.reason, wasLoggedIn, reconnectInMs: undefined });
      this.finishClose();
      return;
    }
    const fatal = NO_RECONNECT_CODES.has(effective) || (this.fatalError !== undefined && NO_RECONNECT_CODES.has(this.fatalError.code));
    if (fatal) {
      this.state = 'closed';
      this.logger.error({ gateway: this.url, code: cause.code, reason: cause.reason }, 'the gateway ended the session; not reconnecting');
      this.safeEmit('disconnect', { code: cause.code, reason: cause.reason, wasLoggedIn, reconnectInMs: undefined });
      this.safeEmit('fatal', { code: cause.code, reason: cause.reason });
      this.finishClose();
      return;
    }
    let delayMs = backoffDelayMs(this.attempt, this.backoff, this.rng.next());
    // Another session of this strategy is still registered: it is dropped within heartbeatTimeoutMs.
    if (cause.code === ProtocolErrorCode.AlreadyLoggedIn) delayMs = Math.max(delayMs, this.heartbeatTimeoutMs);
    this.attempt++;
    this.state = 'waiting';
    this.logger.warn({ gateway: this.url, code: cause.code, reason: cause.reason, retryInMs: delayMs, attempt: this.attempt }, neverOpened ? 'cannot reach the gateway; retrying' : 'gateway connection lost; reconnecting');
    this.safeEmit('disconnect', { code: cause.code, reason: cause.reason, wasLoggedIn, reconnectInMs: delayMs });
    if (this.closing) return;
    this.retryHandle = this.clock.at(this.clock.now() + delayMs * 1000, () => this.connect());
  }

  /**
   * Ends the session: sends `logout` when logged in (the gateway then closes with 1000),
   * waits for the close up to `graceMs` (default 1 000), then drops the socket. No
   * reconnection follows. Resolves when the connection and every timer are gone.
   */
  close(opts: { logout?: boolean; graceMs?: number } = {}): Promise<void> {
    if (this.closing) return this.closedPromise;
    this.closing = true;
    if (this.retryHandle !== undefined) this.clock.cancel(this.retryHandle);
    this.retryHandle = undefined;
    const ws = this.ws;
    if (!ws) {
      this.state = 'closed';
      this.finishClose();
      return this.closedPromise;
    }
    if ((opts.logout ?? true) && this.state === 'loggedIn') this.sendRaw({ type: 'logout' });
    const graceMs = opts.graceMs ?? 1_000;
    if (ws.readyState === WebSocket.OPEN) ws.close(CloseCode.Normal, 'client closing');
    else ws.terminate(); // still connecting: nothing to say goodbye to
    const h = this.clock.at(this.clock.now() + graceMs * 1000, () => {
      if (this.ws === ws) ws.terminate();
    });
    void this.closedPromise.then(() => this.clock.cancel(h));
    return this.closedPromise;
  }

  private finishClose(): void {
    if (this.pollHandle !== undefined) this.clock.cancel(this.pollHandle);
    if (this.retryHandle !== undefined) this.clock.cancel(this.retryHandle);
    this.pollHandle = this.retryHandle = undefined;
    this.closing = true;
    const resolve = this.closedResolve;
    this.closedResolve = undefined;
    if (resolve) {
      resolve();
      this.safeEmit('closed');
    }
  }

  /** eventemitter3 calls listeners synchronously: a throwing listener is logged, never propagated into a socket handler. */
  private safeEmit<K extends keyof GatewayClientEvents>(event: K, ...args: Parameters<GatewayClientEvents[K]>): void {
    try {
      (this.emit as (e: K, ...a: Parameters<GatewayClientEvents[K]>) => boolean)(event, ...args);
    } catch (err) {
      this.logger.error({ gateway: this.url, event, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, `a '${event}' listener of the gateway client failed`);
    }
  }
}

function closeReason(code: number): string {
  if (code === 1006) return 'connection dropped without a close frame';
  if (code === 1000) return 'normal close';
  if (code === 1001) return 'going away';
  const name = ProtocolErrorCode[code as ProtocolErrorCode];
  return name ? `closed with ${code} ${name}` : `closed with ${code}`;
}
