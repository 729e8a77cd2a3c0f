/**
 * The trading gateway server: a WebSocket endpoint (`ws`) to which strategy processes
 * connect, log in, subscribe to market data and trade on the hosted venues. Protocol:
 * `docs/protocol.md` (`protocol.ts`); running it: `docs/gateway.md`.
 *
 * Ordering guarantees, per strategy: everything that writes the strategy's records —
 * requests, venue events, login replay, `sync`, `subscribe`, `logout` — runs through one
 * serial queue, so
 * - a new order is inserted in the store before it reaches the venue, and a modify or
 *   cancel is recorded (`recordRequest`) before it does;
 * - every event is recorded (`recordEvent`: event log, order, fill, position in one
 *   transaction) before its `event` frame goes out, with the store's sequence number as
 *   `eventSeq`;
 * - after a login with `resume`, the missed events go out before anything new;
 * - a `sync_result` reflects exactly the events up to its `lastEventSeq`.
 * @module
 */
import type { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { TLSSocket, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { CancelCode, RejectCode } from '../api/codes.js';
import { Decimal, Price, Qty } from '../api/decimal.js';
import { GatewayStatus, OrderStatus, OrderType } from '../api/enums.js';
import type { EventCallbackName, StrategyEventMap } from '../api/events.js';
import type { Scheduler } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { ROLES, roleAllows, type Role } from '../control/commands.js';
import { CONTROL_HOOK, CONTROL_OP_ROLES } from '../control/target.js';
import { isTerminal } from '../core/order-tracker.js';
import type { VenueEvent, VenueRequest } from '../core/venue.js';
import type { MdEvent } from '../data/events.js';
import { FixedWindowRateLimiter } from '../sim/rate-limit.js';
import { newOrderRecord, type OrderStore, type StoredOrder } from '../store/order-store.js';
import { chainTrusted, peerCertificateChain, peerCertificateNames, pemCertificates } from './tls.js';
import { certificateRevocationKey, revokedKeys } from './revocation.js';
import { decodeRequest, encodeMd, eventJson, instrumentToSpec, isVenueCallback, rejectEvent, type RequestBody } from './codec.js';
import { rateLimitOf, type GatewayRateLimit } from './config.js';
import { TokenVerifier } from './constant-time.js';
import {
  CloseCode,
  CmdName,
  DEFAULT_LIMITS,
  ProtocolErrorCode,
  errorBody,
  resolveLimits,
  serializeFrame,
  type CancelAllMsg,
  type CancelOrderMsg,
  type ClientMessage,
  type CmdResultMsg,
  type ControlLoginMsg,
  type ControlMsg,
  type FetchMsg,
  type LoginMsg,
  type ModifyOrderMsg,
  type NewOrderMsg,
  type ProtocolLimits,
  type SubscribeMsg,
  type SyncMsg,
  type WireOrderStatus,
  type WirePosition,
} from './protocol.js';
import { GatewaySession, MdBatch, type SessionHandler } from './session.js';
import type { HostedVenue } from './venue-host.js';

/** Options of {@link GatewayServer}. */
export interface GatewayServerOptions {
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** TCP port; 0 (default) picks a free one (see `address()`). */
  port?: number;
  /** WebSocket path. Default `/v1`. */
  path?: string;
  /**
   * TLS: the server speaks `wss://` with this certificate (chain) and private key, PEM, and
   * refuses TLS before 1.2. Default none: plain `ws://`, for loopback or behind a TLS proxy.
   * The token travels in the login frame, so a gateway reachable from other hosts needs one
   * or the other. `clientCa`: certificates (PEM) a client's certificate must be signed by
   * (or be one of): the handshake then fails for a client without such a certificate, before
   * any frame (mutual TLS). Default none: any client may connect, and logs in with its token.
   * `crl` (with `clientCa`): revocation lists (PEM) of those issuers; a revoked certificate
   * fails the handshake. OpenSSL then wants a list from every issuer in `clientCa`: a client
   * whose issuer has none is refused too. {@link GatewayServer.reloadTls} replaces them all
   * while running.
   */
  tls?: { cert: string | Buffer; key: string | Buffer; clientCa?: string | Buffer; crl?: string | Buffer };
  /** Strategy name → token. Tokens are compared in constant time and never logged. */
  tokens: Readonly<Record<string, string>>;
  /**
   * Strategy name → the names its client certificate must carry (its subject CN, or a DNS
   * name of its subjectAltName; see `peerCertificateNames`): a login over a connection whose
   * certificate carries none of them is refused like a wrong token (4011), and logged with
   * the certificate's names. Needs `tls.clientCa`. A strategy not listed logs in with any
   * certificate the handshake accepted. Default none.
   */
  clientCertNames?: Readonly<Record<string, readonly string[]>>;
  /**
   * Control clients (`tradeloop ctl`): name → token, or `{ token, role, clientCertNames }`
   * (default role `admin`). Distinct from strategy tokens; compared in constant time, never
   * logged. `clientCertNames` binds the control client to its certificate as
   * {@link clientCertNames} binds a strategy (needs `tls.clientCa`): a `control_login` over
   * a connection whose certificate carries none of the names is refused (4011) and logged.
   * Default none: every `control_login` is refused.
   */
  controlTokens?: Readonly<Record<string, string | { token: string; role?: Role; clientCertNames?: readonly string[] }>>;
  /** The order store; the server does not close it. */
  store: OrderStore;
  /** The venues; the server starts them in `start` and stops them in `close`. */
  venues: readonly HostedVenue[];
  /** The gateway clock (`LiveClock`): timestamps, heartbeats, timeouts. */
  clock: Scheduler;
  logger?: Logger;
  /** Limits on client frames; missing ones from `DEFAULT_LIMITS`. */
  limits?: Partial<ProtocolLimits>;
  /** Gateway-wide order-entry rate limit per strategy. Default none. */
  rateLimit?: GatewayRateLimit;
  /** A second login of a logged-in strategy: `'replace'` (default) or `'refuse'`. See `docs/gateway.md`. */
  sessionTakeover?: 'replace' | 'refuse';
  /** Default wait of `sendCommand`, ms. Default 10 000. */
  cmdTimeoutMs?: number;
  /** At `close`, how long venue answers in flight are waited for and recorded, ms. Default 200. */
  shutdownGraceMs?: number;
  /** Most rows per `md` frame. Default 2 000. */
  mdRowsPerFrame?: number;
  /** Unsent bytes per connection above which `md` pauses. Default 16 MiB. */
  maxBufferedBytes?: number;
  /**
   * Group commit, when the store has it (`SqliteOrderStore`): writes join one transaction
   * that commits right before the next frame leaves the gateway or a request goes to a venue
   * outside the process (and at the latest {@link GROUP_COMMIT_MAX_HOLD_US} after the first
   * write). An order sent to an in-process venue then commits together with the venue's ack:
   * one commit per order instead of two. Nothing a client sees is ever uncommitted. Default true.
   */
  groupCommit?: boolean;
  /** Longest a group stays uncommitted when nothing is sent, µs. Default {@link GROUP_COMMIT_MAX_HOLD_US}. */
  groupCommitMaxHoldUs?: number;
}

/** Default longest time a group of writes stays uncommitted when nothing is sent, µs (1 ms). */
export const GROUP_COMMIT_MAX_HOLD_US = 1_000;

/** A `cmd` sent to a strategy, waiting for its `cmd_result`. */
interface PendingCmd {
  session: GatewaySession;
  resolve: (text: string) => void;
  reject: (err: Error) => void;
  timer: number;
}

/** A `cmd_result` with `ok: false`: the strategy's hook failed or does not exist. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

/** A commit of the order store failed: what depended on it was not sent, and the gateway stops. */
export class StoreCommitError extends Error {
  constructor(override readonly cause: unknown) {
    super(`order store commit failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StoreCommitError';
  }
}

/** Runs tasks one after another; a failing task is logged and does not stop the next. */
class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  constructor(private readonly onError: (err: unknown) => void) {}
  push(task: () => Promise<void> | void): Promise<void> {
    this.pending++;
    const p = this.tail.then(task).catch(this.onError).finally(() => this.pending--);
    this.tail = p;
    return p;
  }
  /** Resolves when every task queued so far is done. */
  idle(): Promise<void> {
    return this.tail;
  }
  get size(): number {
    return this.pending;
  }
}

const WS_PAYLOAD_FLOOR = 1 << 20;

/** The secure-context part of the gateway's TLS options (at start and on reload). */
function secureContextOptions(tls: NonNullable<GatewayServerOptions['tls']>): SecureContextOptions {
  return { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ...(tls.clientCa !== undefined ? { ca: tls.clientCa } : {}), ...(tls.crl !== undefined ? { crl: tls.crl } : {}) };
}

/** True when a new_order repeats the stored order exactly (the idempotent retry case). */
function sameOrder(msg: NewOrderMsg, o: StoredOrder): boolean {
  if (msg.exchange !== o.exchange || msg.instrumentId !== o.instrumentId || msg.side !== o.side || msg.orderType !== o.orderType || msg.tif !== o.tif) return false;
  const a = [...new Set(msg.execInstr)].sort().join(',');
  const b = [...new Set(o.execInstr)].sort().join(',');
  if (a !== b) return false;
  if (!new Decimal(msg.qty).eq(new Decimal(o.qty))) return false;
  if (msg.orderType === OrderType.Market) return true;
  return msg.price !== undefined && new Decimal(msg.price).eq(new Decimal(o.price));
}

/** The reject code for a modify or cancel the stored order's state does not allow. */
function stateRejectCode(o: StoredOrder | undefined): RejectCode {
  if (o === undefined) return RejectCode.UnknownOrder;
  if (isTerminal(o.status)) return RejectCode.OrderClosed;
  if (!o.acked) return RejectCode.OrderPendingNew;
  switch (o.status) {
    case OrderStatus.PendingCancel:
      return RejectCode.OrderPendingCancel;
    case OrderStatus.PendingModify:
      return RejectCode.OrderPendingModify;
    case OrderStatus.PendingNew:
      return RejectCode.OrderPendingNew;
    default:
      return RejectCode.InvalidCombination;
  }
}

function wireOrder(o: StoredOrder): WireOrderStatus {
  return {
    exchange: o.exchange,
    instrumentId: o.instrumentId,
    clientOrdId: o.clientId,
    exchOrdId: o.exchangeId ?? '',
    side: o.side,
    price: o.price,
    leavesQty: o.leavesQty,
    status: o.status,
    orderType: o.orderType,
    tif: o.tif,
    execInstr: [...o.execInstr],
  };
}

/** A TLS session's client certificate, as a reload checks it. */
interface PeerCert {
  /** `peerCertificateNames`, for `clientCertNames`. */
  readonly names: readonly string[];
  /** `certificateRevocationKey`, for a reload's revocation lists. */
  readonly revocationKey: string | undefined;
  /** The chain it presented, leaf first, for a reload's client CAs. */
  readonly chain: readonly X509Certificate[] | undefined;
}

/**
 * The gateway server. `start()` starts the venues, closes orders a previous run left open on
 * venues that do not keep orders, and listens; `close()` shuts down cleanly. One session
 * per connection (`GatewaySession`), at most one live session per strategy.
 */
export class GatewayServer implements SessionHandler {
  private readonly opts: GatewayServerOptions;
  private readonly clock: Scheduler;
  private readonly logger: Logger;
  private readonly store: OrderStore;
  private readonly limits: ProtocolLimits;
  private readonly verifier: TokenVerifier;
  /**
   * Each TLS session's client certificate: its names (`peerCertificateNames`, for
   * `clientCertNames`), its revocation key (`certificateRevocationKey`, for a reload's lists)
   * and the chain it presented (for a reload's CAs).
   */
  private readonly peerCerts = new WeakMap<GatewaySession, PeerCert>();
  private readonly strategies: readonly string[];
  private readonly controlVerifier: TokenVerifier;
  private readonly controlRoles = new Map<string, Role>();
  /** Control client name → the names its client certificate must carry (`controlTokens.<name>.clientCertNames`). */
  private readonly controlCertNames = new Map<string, readonly string[]>();
  private readonly venues = new Map<string, HostedVenue>();
  private readonly queues = new Map<string, SerialQueue>();
  private readonly active = new Map<string, GatewaySession>();
  private readonly sessions = new Set<GatewaySession>();
  private readonly limiters = new Map<string, FixedWindowRateLimiter | null>();
  private readonly pendingCmds = new Map<string, PendingCmd>();
  private readonly unlisten: Array<() => void> = [];
  private readonly idPrefix: string;
  private wss: WebSocketServer | undefined;
  /** The TLS server under `wss` (ws does not close a server it was given). */
  private https: HttpsServer | undefined;
  private sessionCount = 0;
  private cmdCount = 0;
  private state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  private closing: Promise<void> | undefined;
  private readonly groupCommit: boolean;
  private readonly groupMaxHoldUs: number;
  /** The clock action that commits an open group at the latest. */
  private groupDeadline: number | undefined;

  /** @throws RangeError for invalid limits, TypeError for empty tokens, Error for two venues with one exchange. */
  constructor(opts: GatewayServerOptions) {
    this.opts = opts;
    this.clock = opts.clock;
    this.logger = opts.logger ?? silentLogger();
    this.store = opts.store;
    this.groupCommit = opts.groupCommit !== false && typeof opts.store.beginGroup === 'function' && typeof opts.store.commitGroup === 'function';
    this.groupMaxHoldUs = opts.groupCommitMaxHoldUs ?? GROUP_COMMIT_MAX_HOLD_US;
    if (!Number.isSafeInteger(this.groupMaxHoldUs) || this.groupMaxHoldUs < 0) throw new RangeError(`groupCommitMaxHoldUs must be an integer ≥ 0, got ${String(opts.groupCommitMaxHoldUs)}`);
    this.limits = resolveLimits(opts.limits ?? {}, DEFAULT_LIMITS);
    this.verifier = new TokenVerifier(opts.tokens);
    this.strategies = Object.keys(opts.tokens);
    for (const [name, names] of Object.entries(opts.clientCertNames ?? {})) {
      if (opts.tls?.clientCa === undefined) throw new TypeError(`clientCertNames needs tls.clientCa (client certificates), given for '${name}'`);
      if (!Object.hasOwn(opts.tokens, name)) throw new TypeError(`clientCertNames: strategy '${name}' has no token`);
      if (!Array.isArray(names) || names.length === 0) throw new TypeError(`clientCertNames.${name}: give at least one name`);
    }
    const controlTokens: Record<string, string> = {};
    for (const [name, t] of Object.entries(opts.controlTokens ?? {})) {
      const c = typeof t === 'string' ? { token: t, role: 'admin' as Role } : { token: t.token, role: t.role ?? 'admin' };
      if (!ROLES.includes(c.role)) throw new TypeError(`control token '${name}': unknown role '${String(c.role)}' (viewer, trader, admin)`);
      const bound = typeof t === 'string' ? undefined : t.clientCertNames;
      if (bound !== undefined) {
        if (opts.tls?.clientCa === undefined) throw new TypeError(`control token '${name}': clientCertNames needs tls.clientCa (client certificates)`);
        if (!Array.isArray(bound) || bound.length === 0) throw new TypeError(`control token '${name}': clientCertNames: give at least one name`);
        this.controlCertNames.set(name, bound);
      }
      controlTokens[name] = c.token;
      this.controlRoles.set(name, c.role);
    }
    this.controlVerifier = new TokenVerifier(controlTokens);
    for (const v of opts.venues) {
      if (this.venues.has(v.exchange)) throw new Error(`two venues with exchange ${v.exchange}`);
      this.venues.set(v.exchange, v);
    }
    this.idPrefix = `gw${Math.floor(this.clock.now() / 1000).toString(36)}`;
  }

  // ---- lifecycle ------------------------------------------------------------------------

  /**
   * Starts the venues (each resolves once its book is built), closes orphaned orders, and
   * listens. Resolves with the bound address.
   */
  async start(): Promise<{ host: string; port: number; url: string }> {
    if (this.state !== 'new') throw new Error('the gateway server was already started');
    this.state = 'starting';
    for (const v of this.venues.values()) {
      this.unlisten.push(
        v.addListener({
          onMd: (exchange, events) => this.onMd(exchange, events),
          onStatus: (exchange, status, detail) => this.onVenueStatus(exchange, status, detail),
          onVenueEvent: (e) => this.onVenueEvent(e),
        }),
      );
    }
    await this.closeOrphans();
    for (const v of this.venues.values()) await v.start();
    const limits = this.limits;
    const host = this.opts.host ?? '127.0.0.1';
    const port = this.opts.port ?? 0;
    const tls = this.opts.tls;
    // Throws here (a key that does not match the certificate, PEM that is not PEM), before listening.
    const https = tls
      ? createHttpsServer({ ...secureContextOptions(tls), ...(tls.clientCa !== undefined ? { requestCert: true, rejectUnauthorized: true } : {}) })
      : undefined;
    if (https) {
      this.https = https;
      // A client that fails the handshake (plain ws:// on this port, an untrusted certificate) is
      // only a log line: its socket is gone, nothing else is.
      https.on('tlsClientError', (err, socket) => this.logger.warn({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed'));
    }
    const wss = new WebSocketServer({
      ...(https ? { server: https } : { host, port }),
      path: this.opts.path ?? '/v1',
      // The transport cap sits above maxFrameBytes so that an oversized frame is read and
      // answered with FrameTooLarge (4020); only far larger ones hit ws's own 1009.
      maxPayload: Math.max(4 * limits.maxFrameBytes, WS_PAYLOAD_FLOOR),
      perMessageDeflate: false,
    });
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', () => resolve());
      wss.once('error', reject);
      https?.listen(port, host);
    });
    wss.on('error', (err) => this.logger.error({ err }, 'server error'));
    wss.on('connection', (ws, req) => this.onConnection(ws, req));
    this.state = 'running';
    const a = this.address();
    this.logger.info({ url: a.url, venues: [...this.venues.keys()], strategies: this.strategies.length }, 'gateway listening');
    return a;
  }

  /** The bound address (after `start`). */
  address(): { host: string; port: number; url: string } {
    const a = this.wss?.address() as AddressInfo | undefined;
    if (!a || typeof a !== 'object') throw new Error('the gateway server is not listening');
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return { host: a.address, port: a.port, url: `${this.https ? 'wss' : 'ws'}://${host}:${a.port}${this.opts.path ?? '/v1'}` };
  }

  /**
   * Shuts down: refuses new connections, tells every session `GatewayShutdown` (4040) and
   * closes it, stops the venues (resting orders are cancelled with `SessionEnd`), waits
   * `shutdownGraceMs` for venue answers in flight, records them, and stops listening. The
   * store stays open (the caller closes it afterwards). Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.state = 'closing';
    for (const s of this.sessions) s.fail(ProtocolErrorCode.GatewayShutdown, 'the gateway is shutting down');
    for (const p of this.pendingCmds.values()) {
      this.clock.cancel(p.timer);
      p.reject(new Error('the gateway is shutting down'));
    }
    this.pendingCmds.clear();
    for (const v of this.venues.values()) v.stop();
    const grace = this.opts.shutdownGraceMs ?? 200;
    if (grace > 0) await new Promise<void>((resolve) => this.clock.at(this.clock.now() + Math.round(grace * 1000), resolve));
    for (const v of this.venues.values()) await v.close();
    for (const u of this.unlisten) u();
    await Promise.all([...this.queues.values()].map((q) => q.idle()));
    try {
      this.commitWrites();
    } catch {
      // Logged in commitWrites.
    }
    // Sessions that do not answer the close handshake quickly are dropped.
    let handshake: number | undefined;
    await Promise.race([
      Promise.all([...this.sessions].map((s) => s.whenClosed())),
      new Promise<void>((resolve) => (handshake = this.clock.at(this.clock.now() + 1_000_000, resolve))),
    ]);
    if (handshake !== undefined) this.clock.cancel(handshake);
    for (const s of this.sessions) s.terminate();
    const wss = this.wss;
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
    const https = this.https;
    if (https) {
      const closed = new Promise<void>((resolve) => https.close(() => resolve()));
      https.closeAllConnections(); // plain HTTP requests and failed handshakes left open
      await closed;
    }
    this.state = 'closed';
    this.logger.info('gateway closed');
  }

  /**
   * Replaces the TLS certificate, key, client CAs and revocation lists for the connections
   * that come next (`tradeloop gateway` calls it on SIGHUP): a renewed certificate, a newly
   * revoked client. Sessions already open keep theirs, except those whose client certificate
   * the new lists revoke, or that no CA of the new `clientCa` vouches for any more: they get
   * error 4011 (fatal) and close with 4011, so that a revoked or no longer trusted client
   * does not stay connected until it disconnects.
   * @throws Error when the gateway does not serve TLS, when client certificates would be
   *   switched on or off (a restart does that), or when the new material is unusable (the old
   *   stays in force).
   */
  reloadTls(tls: NonNullable<GatewayServerOptions['tls']>): void {
    const https = this.https;
    if (https === undefined) throw new Error('the gateway does not serve TLS (listen.tls): nothing to reload');
    if ((tls.clientCa !== undefined) !== (this.opts.tls?.clientCa !== undefined)) throw new Error('client certificates (clientCaFile) can only be switched on or off by a restart');
    // Throws before anything changes when the key does not go with the certificate, or a list does not parse.
    https.setSecureContext(secureContextOptions(tls));
    this.logger.info({ clientCa: tls.clientCa !== undefined, crl: tls.crl !== undefined }, 'TLS certificates reloaded');
    if (tls.clientCa !== undefined) this.endUntrustedSessions(String(tls.clientCa));
    if (tls.crl !== undefined) this.endRevokedSessions(String(tls.crl));
  }

  /** Ends the open sessions whose client certificate none of these CAs vouches for any more (a CA removed from `clientCaFile`). */
  private endUntrustedSessions(pem: string): void {
    let cas: X509Certificate[];
    try {
      cas = pemCertificates(pem);
    } catch (err) {
      this.logger.warn({ err }, 'the client CAs could not be read for the open sessions: they stay open; new connections are checked');
      return;
    }
    this.endCertSessions((c) => c.chain !== undefined && c.chain.length > 0 && !chainTrusted(c.chain, cas), 'session ended: no client CA vouches for its certificate any more', 'client certificate no longer trusted');
  }

  /** Ends the open sessions whose client certificate one of these revocation lists revokes. */
  private endRevokedSessions(crl: string): void {
    let revoked: Set<string>;
    try {
      revoked = revokedKeys(crl);
    } catch (err) {
      this.logger.warn({ err }, 'the revocation lists could not be read for the open sessions: they stay open; new connections are checked');
      return;
    }
    this.endCertSessions((c) => c.revocationKey !== undefined && revoked.has(c.revocationKey), 'session ended: its client certificate is revoked', 'client certificate revoked');
  }

  /** Ends (4011, fatal) each open session with a client certificate that `ends` picks, logging `msg`. */
  private endCertSessions(ends: (cert: PeerCert) => boolean, msg: string, reason: string): void {
    for (const s of [...this.sessions]) {
      const cert = this.peerCerts.get(s);
      if (cert === undefined || !ends(cert)) continue;
      this.logger.warn({ session: s.id, remote: s.remote, strategy: s.strategy, cert: cert.names }, msg);
      s.fail(ProtocolErrorCode.BadCredentials, reason);
    }
  }

  /** Strategies with a live session now. */
  connectedStrategies(): string[] {
    return [...this.active.entries()].filter(([, s]) => s.ready && s.isOpen).map(([name]) => name);
  }

  /** Resolves when every queued task of every strategy is done (tests). */
  async idle(): Promise<void> {
    for (;;) {
      const qs = [...this.queues.values()].filter((q) => q.size > 0);
      if (qs.length === 0) return;
      await Promise.all(qs.map((q) => q.idle()));
    }
  }

  // ---- commands -------------------------------------------------------------------------

  /**
   * Runs a command hook of a connected strategy (`env.addCmdHook`) and resolves with its
   * reply; for Telegram and console control channels.
   * @param params the command's arguments (≤ 64, each ≤ 1 024 characters).
   * @param timeoutMs how long to wait for the answer; default `cmdTimeoutMs` (10 000 ms).
   * @throws (rejects) Error when the strategy is not connected or does not answer in time,
   *   `CommandError` when the hook failed or does not exist (`cmd_result.ok` false), RangeError for a bad name or params.
   */
  sendCommand(strategy: string, name: string, params: readonly string[] = [], timeoutMs: number = this.opts.cmdTimeoutMs ?? 10_000): Promise<string> {
    if (!CmdName.safeParse(name).success) return Promise.reject(new RangeError(`bad command name ${JSON.stringify(name)}: 1–64 letters, digits, _ . -`));
    if (params.length > 64 || params.some((p) => typeof p !== 'string' || p.length > 1024)) return Promise.reject(new RangeError('command params: at most 64 strings of at most 1024 characters'));
    const s = this.active.get(strategy);
    if (!s || !s.ready || !s.isOpen) return Promise.reject(new Error(`strategy ${strategy} is not connected`));
    const reqId = `cmd-${++this.cmdCount}`;
    return new Promise<string>((resolve, reject) => {
      const timer = this.clock.at(this.clock.now() + Math.round(timeoutMs * 1000), () => {
        this.pendingCmds.delete(reqId);
        reject(new Error(`strategy ${strategy} did not answer ${name} within ${timeoutMs} ms`));
      });
      this.pendingCmds.set(reqId, { session: s, resolve, reject, timer });
      s.send({ type: 'cmd', reqId, name, params: [...params] });
      this.logger.info({ strategy, command: name, reqId }, 'command sent');
    });
  }

  // ---- connections ----------------------------------------------------------------------

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (this.state !== 'running') {
      ws.send(serializeFrame(errorBody({ code: ProtocolErrorCode.GatewayShutdown, reason: 'the gateway is shutting down' }), 1));
      ws.close(ProtocolErrorCode.GatewayShutdown, 'the gateway is shutting down');
      return;
    }
    const id = `${this.idPrefix}-${++this.sessionCount}`;
    const peer = req.socket instanceof TLSSocket ? req.socket.getPeerCertificate(true) : undefined;
    const s = new GatewaySession(id, ws, remote, {
      clock: this.clock,
      limits: this.limits,
      handler: this,
      logger: this.logger,
      mdRowsPerFrame: this.opts.mdRowsPerFrame ?? 2_000,
      maxBufferedBytes: this.opts.maxBufferedBytes ?? 16 * 1024 * 1024,
      beforeSend: this.groupCommit ? this.commitWrites : undefined,
      socket: req.socket,
    });
    this.sessions.add(s);
    const certNames = peer !== undefined && peer.subject !== undefined ? peerCertificateNames(peer) : undefined;
    if (certNames !== undefined) {
      let revocationKey: string | undefined;
      let chain: X509Certificate[] | undefined;
      try {
        revocationKey = certificateRevocationKey(peer!.raw);
        chain = peerCertificateChain(peer!);
      } catch {
        // OpenSSL accepted it, so it parses; should it not here, a reload cannot end this session.
      }
      this.peerCerts.set(s, { names: certNames, revocationKey, chain });
    }
    this.logger.info({ session: id, remote, ...(certNames !== undefined ? { cert: certNames } : {}) }, 'connection');
  }

  /** @internal SessionHandler */
  onClose(s: GatewaySession, code: number, reason: string): void {
    this.sessions.delete(s);
    if (s.strategy !== undefined && this.active.get(s.strategy) === s) this.active.delete(s.strategy);
    for (const [reqId, p] of this.pendingCmds) {
      if (p.session !== s) continue;
      this.clock.cancel(p.timer);
      this.pendingCmds.delete(reqId);
      p.reject(new Error(`strategy ${s.strategy} disconnected before answering`));
    }
    this.logger.info({ session: s.id, strategy: s.strategy, code, reason: reason || undefined }, 'disconnected');
  }

  /** @internal SessionHandler */
  onMessage(s: GatewaySession, msg: ClientMessage): void {
    // A control connection has no strategy: it may only send control frames, heartbeats and logout.
    if (s.control !== undefined && msg.type !== 'control' && msg.type !== 'heartbeat' && msg.type !== 'logout') {
      s.sendError(ProtocolErrorCode.UnexpectedMessage, `${msg.type} is not allowed on a control connection`, { reqId: msg.reqId, refSeq: msg.seq });
      return s.bad();
    }
    switch (msg.type) {
      case 'login':
        return this.login(s, msg);
      case 'control_login':
        return this.controlLogin(s, msg);
      case 'control':
        return this.control(s, msg);
      case 'heartbeat':
        return; // the guard noted the sign of life
      case 'cmd_result':
        return this.cmdResult(s, msg);
      case 'logout':
        // After what is queued for the strategy (its answers go out first).
        if (s.strategy === undefined) return s.close(CloseCode.Normal, 'logout');
        void this.queue(s.strategy).push(() => s.close(CloseCode.Normal, 'logout'));
        return;
      case 'subscribe':
        void this.queue(s.strategy!).push(() => this.subscribe(s, msg));
        return;
      case 'sync':
        void this.queue(s.strategy!).push(() => this.sync(s, msg));
        return;
      case 'new_order':
      case 'modify_order':
      case 'cancel_order':
      case 'cancel_all':
      case 'fetch': {
        const strategy = s.strategy!;
        void this.queue(strategy).push(() => this.request(strategy, msg));
        return;
      }
    }
  }

  private queue(strategy: string): SerialQueue {
    let q = this.queues.get(strategy);
    if (!q) {
      q = new SerialQueue((err) => this.logger.error({ strategy, err }, 'strategy task failed'));
      this.queues.set(strategy, q);
    }
    return q;
  }

  private nowUs(): number {
    return this.clock.now();
  }

  // ---- control clients ------------------------------------------------------------------

  /**
   * When a login is bound to certificate names (`bound`) and the session's client
   * certificate carries none of them: that certificate's names (to log); else undefined.
   */
  private certOutside(s: GatewaySession, bound: readonly string[] | undefined): readonly string[] | undefined {
    if (bound === undefined) return undefined;
    const names = this.peerCerts.get(s)?.names ?? [];
    return names.some((n) => bound.includes(n)) ? undefined : names;
  }

  /** `control_login`: the token is compared (in constant time) with every control token, so the time does not tell which matched. */
  private controlLogin(s: GatewaySession, msg: ControlLoginMsg): void {
    const ref = { reqId: msg.reqId, refSeq: msg.seq };
    if (s.strategy !== undefined) {
      s.sendError(ProtocolErrorCode.UnexpectedMessage, `already logged in as ${s.strategy} on this connection`, ref);
      return s.bad();
    }
    let name: string | undefined;
    for (const n of this.controlRoles.keys()) if (this.controlVerifier.verify(n, msg.token) && name === undefined) name = n;
    if (name === undefined) {
      this.logger.warn({ session: s.id, remote: s.remote, controlTokens: this.controlRoles.size }, 'control login refused: bad credentials');
      return s.fail(ProtocolErrorCode.BadCredentials, 'bad credentials', ref);
    }
    const wrongCert = this.certOutside(s, this.controlCertNames.get(name));
    if (wrongCert !== undefined) {
      this.logger.warn({ session: s.id, remote: s.remote, control: name, cert: wrongCert }, 'control login refused: the client certificate is not one of this control client');
      return s.fail(ProtocolErrorCode.BadCredentials, 'bad credentials', ref);
    }
    const role = this.controlRoles.get(name)!;
    s.loginControl({ name, role });
    s.send({ type: 'control_ack', reqId: msg.reqId, strategies: this.connectedStrategies(), role });
    this.logger.info({ session: s.id, remote: s.remote, control: name, role }, 'control login');
  }

  /**
   * `control`: checks the control token's role for the operation, then forwards it to the
   * strategy as a `cmd` of the reserved hook `CONTROL_HOOK` with `[op, ...args]` (the
   * strategy side answers with `serveControlOp`), and answers with `control_result`.
   */
  private control(s: GatewaySession, msg: ControlMsg): void {
    const c = s.control;
    if (c === undefined) {
      s.sendError(ProtocolErrorCode.UnexpectedMessage, 'control needs a control_login connection', { reqId: msg.reqId, refSeq: msg.seq });
      return s.bad();
    }
    const answer = (ok: boolean, text: string) => {
      s.send({ type: 'control_result', reqId: msg.reqId, ok, text: text.length > 16_384 ? `${text.slice(0, 16_383)}…` : text });
    };
    const need = CONTROL_OP_ROLES[msg.op];
    if (!roleAllows(c.role, need)) {
      this.logger.warn({ session: s.id, control: c.name, role: c.role, strategy: msg.strategy, op: msg.op }, 'control operation refused: role too low');
      return answer(false, `${msg.op} needs the ${need} role (this control token has ${c.role})`);
    }
    if (need !== 'viewer') this.logger.info({ session: s.id, control: c.name, role: c.role, strategy: msg.strategy, op: msg.op, args: msg.args }, 'control operation');
    this.sendCommand(msg.strategy, CONTROL_HOOK, [msg.op, ...msg.args]).then(
      (text) => answer(true, text),
      (err: unknown) => answer(false, err instanceof Error ? err.message : String(err)),
    );
  }

  // ---- login ----------------------------------------------------------------------------

  private login(s: GatewaySession, msg: LoginMsg): void {
    const ref = { reqId: msg.reqId, refSeq: msg.seq };
    if (s.control !== undefined) {
      s.sendError(ProtocolErrorCode.UnexpectedMessage, 'already logged in as a control client on this connection', ref);
      return s.bad();
    }
    if (s.strategy !== undefined) {
      s.sendError(ProtocolErrorCode.UnexpectedMessage, `already logged in as ${s.strategy} on this connection`, ref);
      return s.bad();
    }
    const strategy = msg.strategy;
    if (!this.verifier.verify(strategy, msg.token)) {
      // Same answer for an unknown name and a wrong token; the token is never logged.
      this.logger.warn({ session: s.id, remote: s.remote, strategy }, 'login refused: bad credentials');
      return s.fail(ProtocolErrorCode.BadCredentials, 'bad credentials', ref);
    }
    // Own keys only: a strategy named like an Object.prototype member must not find one.
    const certNames = this.opts.clientCertNames;
    const wrongCert = this.certOutside(s, certNames !== undefined && Object.hasOwn(certNames, strategy) ? certNames[strategy] : undefined);
    if (wrongCert !== undefined) {
      this.logger.warn({ session: s.id, remote: s.remote, strategy, cert: wrongCert }, 'login refused: the client certificate is not one of this strategy');
      return s.fail(ProtocolErrorCode.BadCredentials, 'bad credentials', ref);
    }
    const existing = this.active.get(strategy);
    if (existing && existing.isOpen) {
      if ((this.opts.sessionTakeover ?? 'replace') === 'refuse') {
        this.logger.warn({ session: s.id, remote: s.remote, strategy, liveSession: existing.id }, 'login refused: already logged in');
        return s.fail(ProtocolErrorCode.AlreadyLoggedIn, `strategy ${strategy} is already logged in on another connection`, ref);
      }
      // The new connection wins (a restarted process takes over). The old one gets 4012 and a
      // normal close (1000), so that a client following the protocol does not reconnect and
      // take the session back.
      this.logger.warn({ session: existing.id, strategy, by: s.id, remote: s.remote }, 'session replaced by a new login');
      existing.fail(ProtocolErrorCode.AlreadyLoggedIn, `session replaced: strategy ${strategy} logged in on another connection (session ${s.id})`, {}, CloseCode.Normal);
    }
    this.active.set(strategy, s);
    s.login(strategy);
    const resume = msg.resume?.lastEventSeq;
    void this.queue(strategy).push(async () => {
      if (!s.isOpen || this.active.get(strategy) !== s) return;
      const last = await this.store.lastEventSeq(strategy);
      s.send({
        type: 'login_ack',
        reqId: msg.reqId,
        sessionId: s.id,
        heartbeatMs: Math.max(1, Math.round(this.limits.heartbeatMs)),
        heartbeatTimeoutMs: Math.max(1, Math.round(this.limits.heartbeatTimeoutMs)),
        limits: { maxFrameBytes: this.limits.maxFrameBytes, maxMsgsPerSec: this.limits.maxMsgsPerSec, burstMsgs: this.limits.burstMsgs },
        venues: [...this.venues.values()].map((v) => ({ exchange: v.exchange, status: v.gatewayStatus().status, instruments: v.instruments.map(instrumentToSpec) })),
        lastEventSeq: last,
      });
      s.ready = true;
      this.logger.info({ session: s.id, remote: s.remote, strategy, lastEventSeq: last, resume }, 'login');
      if (resume === undefined) return;
      if (resume > last) {
        s.sendError(ProtocolErrorCode.ResumeUnavailable, `resume.lastEventSeq ${resume} is beyond the last recorded event ${last}: nothing replayed; reconcile with sync`, { reqId: msg.reqId });
        return;
      }
      await this.replay(s, strategy, resume, last);
    });
  }

  /** Sends the recorded events after `after` up to `last`, in pages. */
  private async replay(s: GatewaySession, strategy: string, after: number, last: number): Promise<void> {
    const PAGE = 1000;
    let from = after;
    while (from < last && s.isOpen) {
      const events = await this.store.eventsSince(strategy, from, PAGE);
      if (events.length === 0) break;
      for (const e of events) {
        if (e.seq > last) return;
        this.sendStored(s, e.seq, e.cb, e.ev);
      }
      from = events[events.length - 1]!.seq;
    }
  }

  private sendStored(s: GatewaySession, seq: number, cb: EventCallbackName, ev: unknown, evJson?: string): void {
    if (!isVenueCallback(cb)) {
      this.logger.warn({ strategy: s.strategy, seq, cb }, 'recorded event has no wire form; not sent');
      return;
    }
    try {
      s.sendEvent(seq, cb, ev as never, evJson);
    } catch (err) {
      this.logger.error({ strategy: s.strategy, seq, cb, err }, 'event could not be encoded; not sent');
    }
  }

  private cmdResult(s: GatewaySession, msg: CmdResultMsg): void {
    const p = this.pendingCmds.get(msg.reqId);
    if (!p || p.session !== s) {
      s.sendError(ProtocolErrorCode.UnexpectedMessage, `cmd_result ${msg.reqId} answers no pending cmd`, { reqId: msg.reqId, refSeq: msg.seq });
      return s.bad();
    }
    this.pendingCmds.delete(msg.reqId);
    this.clock.cancel(p.timer);
    if (msg.ok) p.resolve(msg.text);
    else p.reject(new CommandError(msg.text));
  }

  // ---- market data ----------------------------------------------------------------------

  private subscribe(s: GatewaySession, msg: SubscribeMsg): void {
    if (!s.isOpen) return;
    const ref = { reqId: msg.reqId, refSeq: msg.seq };
    const v = this.venues.get(msg.exchange);
    if (!v) {
      s.sendError(ProtocolErrorCode.UnknownExchange, `unknown exchange ${msg.exchange}`, ref);
      return s.bad();
    }
    const unknown = msg.instrumentIds.filter((id) => v.instrument(id) === undefined);
    if (unknown.length > 0) {
      s.sendError(ProtocolErrorCode.UnknownInstrument, `unknown instrument${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 10).join(', ')} on ${msg.exchange}`, ref);
      return s.bad();
    }
    const ids = [...new Set(msg.instrumentIds)];
    s.send({ type: 'subscribe_ack', reqId: msg.reqId });
    // Snapshot and subscription in one synchronous step: no published batch falls between.
    const rows: MdEvent[] = [];
    for (const id of ids) rows.push(...v.snapshot(id));
    s.sendRows(msg.exchange, encodeMd(rows));
    s.subscribe(msg.exchange, ids);
    this.logger.debug({ session: s.id, strategy: s.strategy, exchange: msg.exchange, instruments: ids.length }, 'subscribed');
  }

  private onMd(exchange: string, events: readonly MdEvent[]): void {
    if (events.length === 0) return;
    // One batch for all sessions: rows encoded and serialized once, not once per session.
    let batch: MdBatch | undefined;
    const v = this.venues.get(exchange)!;
    const snapshot = (id: number) => v.snapshot(id);
    for (const s of this.sessions) {
      if (!s.ready || !s.subscribed(exchange)) continue;
      batch ??= new MdBatch(exchange, events);
      s.deliverBatch(batch, snapshot);
    }
  }

  private onVenueStatus(exchange: string, status: GatewayStatus, detail: string): void {
    this.logger.info({ exchange, status, detail }, 'venue status');
    for (const s of this.sessions) if (s.ready) s.send({ type: 'gateway_status', exchange, status, detail });
  }

  // ---- events ---------------------------------------------------------------------------

  private onVenueEvent(e: VenueEvent): void {
    void this.queue(e.strategy).push(() => this.recordAndDeliver(e.strategy, e.cb, e.ev));
  }

  /** Records an event for a strategy, then sends it to the strategy's live session if any. Call inside the strategy's queue. */
  private async recordAndDeliver<K extends EventCallbackName>(strategy: string, cb: K, ev: StrategyEventMap[K]): Promise<void> {
    this.groupWrites();
    // Encoded once, for the store and the frame.
    const json = eventJson(cb, ev);
    const seq = await this.store.recordEvent(strategy, cb, ev, this.nowUs(), json);
    const s = this.active.get(strategy);
    if (s && s.ready && s.isOpen) this.sendStored(s, seq, cb, ev, json);
  }

  private deliverRecorded(strategy: string, seq: number, cb: EventCallbackName, ev: unknown): void {
    const s = this.active.get(strategy);
    if (s && s.ready && s.isOpen) this.sendStored(s, seq, cb, ev);
  }

  /**
   * Orders left open in the store on venues that do not keep orders (simulated venues, or
   * venues no longer configured) are gone: record them cancelled, so a resuming strategy
   * learns it and the store matches the venues again.
   */
  private async closeOrphans(): Promise<void> {
    const open = await this.store.listOrders({ open: true });
    let n = 0;
    for (const o of open) {
      const v = this.venues.get(o.exchange);
      if (v?.keepsOrders) continue;
      const now = this.nowUs();
      await this.queue(o.strategy).push(() =>
        this.recordAndDeliver(o.strategy, 'onOrderCancelled', {
          exchange: o.exchange,
          clientId: o.clientId,
          unsolicited: true,
          engineTs: now,
          recvTs: now,
          cancelCode: CancelCode.SessionEnd,
          cancelReason: v ? 'the gateway restarted: its simulated venue does not keep orders across restarts' : `the gateway restarted without venue ${o.exchange}`,
        }),
      );
      n++;
    }
    if (n > 0) this.logger.warn({ orders: n }, 'orders left open by the previous run recorded as cancelled (SessionEnd)');
  }

  // ---- requests -------------------------------------------------------------------------

  private async reject(strategy: string, msg: RequestBody, code: RejectCode, reason: string): Promise<void> {
    const e = rejectEvent(strategy, msg, { code, reason });
    await this.recordAndDeliver(strategy, e.cb, e.ev);
  }

  private notReady(v: HostedVenue): string | undefined {
    const st = v.gatewayStatus();
    return st.status === GatewayStatus.ReadyToTrade ? undefined : `gateway of ${v.exchange} is ${st.status} (${st.detail}), not ReadyToTrade`;
  }

  /** The strategy's gateway-wide limiter; null when it has none. */
  private limiter(strategy: string): FixedWindowRateLimiter | null {
    let l = this.limiters.get(strategy);
    if (l === undefined) {
      const opts = rateLimitOf(this.opts.rateLimit, strategy);
      l = opts ? new FixedWindowRateLimiter(opts) : null;
      this.limiters.set(strategy, l);
    }
    return l;
  }

  private rateLimitedReason(limiter: FixedWindowRateLimiter, resetTs: number): string {
    return `gateway rate limit of ${limiter.limit} requests per ${limiter.windowUs / 1000} ms reached; resets at ${resetTs} µs`;
  }

  /** Counts an order-entry request against the strategy's gateway-wide limit; false (and a recorded reject) when over it. */
  private async rateCheck(strategy: string, msg: RequestBody): Promise<{ ok: boolean; info?: () => Promise<void> }> {
    const limiter = this.limiter(strategy);
    if (limiter === null) return { ok: true };
    const take = limiter.take(this.nowUs());
    if (!take.allowed) {
      await this.reject(strategy, msg, RejectCode.RateLimited, this.rateLimitedReason(limiter, take.resetTs));
      return { ok: false };
    }
    if (take.crossedPct === 0) return { ok: true };
    return {
      ok: true,
      info: () => this.recordAndDeliver(strategy, 'onRateLimitInfo', { exchange: msg.exchange, rateLimit: limiter.limit, rateRemaining: take.remaining, resetTs: take.resetTs }),
    };
  }

  private submit(v: HostedVenue, req: VenueRequest): void {
    // A venue outside the process must never hold an order the store could still lose.
    if (v.inProcess !== true) this.commitWrites();
    v.venue.submit(req);
  }

  // ---- group commit -----------------------------------------------------------------------

  /** Before a write: opens a group (when enabled) with its deadline. */
  private groupWrites(): void {
    if (!this.groupCommit || this.store.groupOpen === true) return;
    this.store.beginGroup!();
    this.groupDeadline = this.clock.at(this.clock.now() + this.groupMaxHoldUs, () => {
      this.groupDeadline = undefined;
      try {
        this.commitWrites();
      } catch {
        // Logged and handled in commitWrites.
      }
    });
  }

  /**
   * Commits the open group: before every frame sent (the session calls it), before a request
   * to a venue outside the process, at the deadline and at close. A failed commit loses
   * writes an in-process venue has already acted on, so the gateway stops (a restart
   * reconciles: orders left open are recorded cancelled); the error is thrown so that the
   * frame that depended on the writes is not sent.
   */
  private readonly commitWrites = (): void => {
    if (this.store.groupOpen !== true) return;
    if (this.groupDeadline !== undefined) {
      this.clock.cancel(this.groupDeadline);
      this.groupDeadline = undefined;
    }
    try {
      this.store.commitGroup!();
    } catch (err) {
      this.logger.fatal({ err }, 'order store commit failed: the gateway stops');
      if (this.state === 'running') void this.close();
      throw new StoreCommitError(err);
    }
  };

  /** One order or query request, inside the strategy's queue. */
  private async request(strategy: string, msg: NewOrderMsg | ModifyOrderMsg | CancelOrderMsg | CancelAllMsg | FetchMsg): Promise<void> {
    try {
      switch (msg.type) {
        case 'new_order':
          return await this.newOrder(strategy, msg);
        case 'modify_order':
        case 'cancel_order':
          return await this.modifyOrCancel(strategy, msg);
        case 'cancel_all':
          return await this.cancelAll(strategy, msg);
        case 'fetch':
          return await this.fetch(strategy, msg);
      }
    } catch (err) {
      // A store failure: the request had no effect. The client resends (idempotent).
      this.logger.error({ strategy, type: msg.type, err }, 'request failed');
      const s = this.active.get(strategy);
      s?.sendError(ProtocolErrorCode.InternalError, `the gateway failed to handle ${msg.type}; it had no effect`, { reqId: msg.reqId, refSeq: msg.seq });
    }
  }

  private async newOrder(strategy: string, msg: NewOrderMsg): Promise<void> {
    // The checks that need no store come first, so that a new order costs one write and no
    // read. Idempotency still wins: when one of them refuses, a retried request gets the
    // recorded answer of its stored order, whatever the venue's state now.
    const v = this.venues.get(msg.exchange);
    if (!v) return this.refuseNewOrder(strategy, msg, RejectCode.UnknownExchange, `unknown exchange ${msg.exchange}`);
    const down = this.notReady(v);
    if (down) return this.refuseNewOrder(strategy, msg, RejectCode.GtwNotReady, down);
    const d = decodeRequest(msg, { strategy, instrument: v.instrument(msg.instrumentId) });
    if (!d.ok) return this.refuseNewOrder(strategy, msg, d.code, d.reason);
    const limiter = this.limiter(strategy);
    if (limiter !== null) {
      // A retry must not spend (or be refused) a request of the window: count it only once stored.
      const peek = limiter.peek(this.nowUs());
      if (!peek.allowed) return this.refuseNewOrder(strategy, msg, RejectCode.RateLimited, this.rateLimitedReason(limiter, peek.resetTs));
    }
    this.groupWrites();
    const ins = await this.store.insertOrder(newOrderRecord(d.request, msg.exchange, this.nowUs()));
    if (!ins.created) return this.repeatNewOrder(strategy, msg, ins.order);
    // Allowed by the peek (requests of a strategy are serial); should the window still refuse
    // it, the reject is recorded on the stored order, which ends Rejected.
    const rate = await this.rateCheck(strategy, msg);
    if (!rate.ok) return;
    this.submit(v, d.request);
    await rate.info?.();
  }

  /** Refuses a new order, unless it is the retry of a stored one: that gets its recorded answer. */
  private async refuseNewOrder(strategy: string, msg: NewOrderMsg, code: RejectCode, reason: string): Promise<void> {
    const existing = await this.store.getOrder(strategy, msg.clientId);
    if (existing) return this.repeatNewOrder(strategy, msg, existing);
    return this.reject(strategy, msg, code, reason);
  }

  private async repeatNewOrder(strategy: string, msg: NewOrderMsg, existing: StoredOrder): Promise<void> {
    if (!sameOrder(msg, existing)) {
      return this.reject(strategy, msg, RejectCode.DuplicateClientId, `client id '${msg.clientId}' is already used by another order (${existing.side} ${existing.qty} @ ${existing.price} on ${existing.exchange}/${existing.instrumentId})`);
    }
    // A retry (after a reconnect): never a second order; the recorded answers again, with
    // their original eventSeq (the client skips those it has seen).
    const events = await this.store.orderEvents(strategy, msg.clientId);
    this.logger.info({ strategy, clientId: msg.clientId, events: events.length }, 'repeated new_order: recorded events re-sent');
    for (const e of events) this.deliverRecorded(strategy, e.seq, e.cb, e.ev);
  }

  private async modifyOrCancel(strategy: string, msg: ModifyOrderMsg | CancelOrderMsg): Promise<void> {
    const v = this.venues.get(msg.exchange);
    if (!v) return this.reject(strategy, msg, RejectCode.UnknownExchange, `unknown exchange ${msg.exchange}`);
    const down = this.notReady(v);
    if (down) return this.reject(strategy, msg, RejectCode.GtwNotReady, down);
    // Orders are keyed by (strategy, clientId): another strategy's order is simply unknown here.
    const order = await this.store.getOrder(strategy, msg.clientId);
    if (!order) return this.reject(strategy, msg, RejectCode.UnknownOrder, `unknown order '${msg.clientId}'`);
    if (order.exchange !== msg.exchange || order.instrumentId !== msg.instrumentId) {
      return this.reject(strategy, msg, RejectCode.UnknownOrder, `order '${msg.clientId}' is on ${order.exchange} instrument ${order.instrumentId}, not ${msg.exchange} instrument ${msg.instrumentId}`);
    }
    if (isTerminal(order.status)) return this.reject(strategy, msg, RejectCode.OrderClosed, `order '${msg.clientId}' is ${order.status}`);
    const d =
      msg.type === 'modify_order'
        ? decodeRequest(msg, { strategy, instrument: v.instrument(msg.instrumentId), order: { price: Price.of(order.price), qty: Qty.of(order.qty) } })
        : decodeRequest(msg, { strategy });
    if (!d.ok) return this.reject(strategy, msg, d.code, d.reason);
    const rate = await this.rateCheck(strategy, msg);
    if (!rate.ok) return;
    const req = d.request;
    this.groupWrites();
    const r = await this.store.recordRequest(req, this.nowUs());
    if (!r.ok) return this.reject(strategy, msg, stateRejectCode(r.order), r.reason);
    this.submit(v, req);
    await rate.info?.();
  }

  private async cancelAll(strategy: string, msg: CancelAllMsg): Promise<void> {
    const v = this.venues.get(msg.exchange);
    if (!v) return this.reject(strategy, msg, RejectCode.UnknownExchange, `unknown exchange ${msg.exchange}`);
    const d = decodeRequest(msg, { strategy, instrument: v.instrument(msg.instrumentId) });
    if (!d.ok) return this.reject(strategy, msg, d.code, d.reason);
    const rate = await this.rateCheck(strategy, msg);
    if (!rate.ok) return;
    this.submit(v, d.request);
    await rate.info?.();
  }

  private async fetch(strategy: string, msg: FetchMsg): Promise<void> {
    const v = this.venues.get(msg.exchange);
    if (!v) return this.reject(strategy, msg, RejectCode.UnknownExchange, `unknown exchange ${msg.exchange}`);
    const d = decodeRequest(msg, { strategy, instrument: msg.instrumentId !== undefined ? v.instrument(msg.instrumentId) : undefined });
    if (!d.ok) return this.reject(strategy, msg, d.code, d.reason);
    this.submit(v, d.request);
  }

  private async sync(s: GatewaySession, msg: SyncMsg): Promise<void> {
    const strategy = s.strategy!;
    const last = await this.store.lastEventSeq(strategy);
    const orders = (await this.store.openOrders(strategy)).map(wireOrder);
    const positions: WirePosition[] = (await this.store.positions(strategy))
      .filter((p) => !new Decimal(p.position).isZero())
      .map((p) => ({ exchange: p.exchange, instrumentId: p.instrumentId, position: p.position }));
    s.send({ type: 'sync_result', reqId: msg.reqId, orders, positions, lastEventSeq: last });
  }
}
