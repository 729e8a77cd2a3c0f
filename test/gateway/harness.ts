/**
 * Gateway test harness: a server on loopback (port 0) over synthetic venues, and a raw
 * `ws` client that numbers its frames and waits for the gateway's.
 */
import WebSocket from 'ws';
import { LiveClock } from '../../src/core/clock.js';
import { generateMarket } from '../../src/data/synthetic.js';
import type { BacktestSimOptions } from '../../src/backtest/backtest.js';
import { GatewayServer, type GatewayServerOptions } from '../../src/gateway/server.js';
import { SimVenueHost } from '../../src/gateway/venue-host.js';
import { SqliteOrderStore } from '../../src/store/sqlite-store.js';
import type { OrderStore } from '../../src/store/order-store.js';
import { ConstantLatencyModel } from '../../src/sim/latency.js';

export const TOKENS = { alpha: 'alpha-secret', beta: 'beta-secret' } as const;

/** A synthetic venue host: `SYN` exchange, instrument 1 (tick 0.01, lot 1), fast. */
export function syntheticHost(clock: LiveClock, opts: { exchange?: string; speed?: number; events?: number; seed?: number; loop?: boolean; sim?: BacktestSimOptions } = {}): SimVenueHost {
  const exchange = opts.exchange ?? 'SYN';
  const source = generateMarket({ events: opts.events ?? 200_000, seed: opts.seed ?? 7, instrument: { exchange } });
  return new SimVenueHost({
    exchange,
    source,
    clock,
    speed: opts.speed ?? 20,
    loop: opts.loop ?? true,
    sim: { latency: new ConstantLatencyModel({ entryUs: 100, responseUs: 100 }), ...(opts.sim ?? {}) },
  });
}

/** A started gateway for one test. */
export interface TestGateway<S extends OrderStore = SqliteOrderStore> {
  server: GatewayServer;
  store: S;
  host: SimVenueHost;
  clock: LiveClock;
  url: string;
  close(): Promise<void>;
}

/** Starts a gateway over one synthetic venue (unless `venues` is given). */
export async function startTestGateway<S extends OrderStore = SqliteOrderStore>(
  opts: Partial<GatewayServerOptions> & { store?: S; hostOpts?: Parameters<typeof syntheticHost>[1] } = {},
): Promise<TestGateway<S>> {
  const clock = (opts.clock as LiveClock | undefined) ?? new LiveClock();
  const store = opts.store ?? (new SqliteOrderStore(':memory:') as unknown as S);
  const host = syntheticHost(clock, opts.hostOpts);
  const server = new GatewayServer({ tokens: TOKENS, store, clock, shutdownGraceMs: 5, ...opts, venues: opts.venues ?? [host] });
  const { url } = await server.start();
  return {
    server,
    store,
    host,
    clock,
    url,
    close: async () => {
      await server.close();
      await store.close();
      clock.cancelAll();
    },
  };
}

/** A frame the gateway sent (parsed JSON). */
export type Frame = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A raw WebSocket client speaking the protocol by hand. */
export class RawClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  private seq = 0;
  private waiters: Array<{ pred: (f: Frame) => boolean; from: number; resolve: (f: Frame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  /** Close code and reason once closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Set from each frame seen, per predicate consumption: index of the next unconsumed frame. */
  private cursor = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      this.frames.push(f);
      this.check();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`connection closed (${code}) while waiting; frames: ${JSON.stringify(this.frames.slice(-5))}`));
      }
      this.waiters = [];
    }));
  }

  static async connect(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    const c = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return c;
  }

  /** Sends a message, adding `v` and the next `seq` unless given. */
  send(msg: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ v: 1, seq: ++this.seq, ...msg }));
  }

  /** Sends raw text (no seq handling). */
  sendRaw(text: string | Buffer): void {
    this.ws.send(text);
  }

  /** Uses up a seq number without sending (to provoke gaps) or reads it. */
  nextSeq(): number {
    return ++this.seq;
  }

  private check(): void {
    for (const w of [...this.waiters]) {
      // Each frame is looked at once per waiter: a waiter under a flood of md stays linear.
      for (; w.from < this.frames.length; w.from++) {
        if (w.pred(this.frames[w.from]!)) {
          clearTimeout(w.timer);
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(this.frames[w.from]!);
          break;
        }
      }
    }
  }

  /**
   * Waits for the first frame at or after the cursor matching `pred`; the cursor moves past
   * it. Frames skipped stay in `frames`.
   */
  async next(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const from = this.cursor;
    for (let i = from; i < this.frames.length; i++) {
      if (pred(this.frames[i]!)) {
        this.cursor = i + 1;
        return this.frames[i]!;
      }
    }
    const f = await new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timeout waiting for a frame; last frames: ${JSON.stringify(this.frames.slice(-5)).slice(0, 2000)}`));
      }, timeoutMs);
      this.waiters.push({ pred, from, resolve, reject, timer });
    });
    this.cursor = this.frames.indexOf(f) + 1;
    return f;
  }

  /** Waits for a frame of `type` (and matching `extra` fields). */
  nextType(type: string, extra: Record<string, unknown> = {}, timeoutMs = 5000): Promise<Frame> {
    return this.next((f) => f.type === type && Object.entries(extra).every(([k, v]) => f[k] === v), timeoutMs);
  }

  /** Waits for an event frame with callback `cb` (and matching `ev` fields). */
  nextEvent(cb: string, ev: Record<string, unknown> = {}, timeoutMs = 5000): Promise<Frame> {
    return this.next((f) => f.type === 'event' && f.cb === cb && Object.entries(ev).every(([k, v]) => f.ev[k] === v), timeoutMs);
  }

  /** Logs in and waits for the login_ack. */
  async login(strategy: string, token: string, resume?: number): Promise<Frame> {
    this.send({ type: 'login', reqId: `login-${strategy}`, strategy, token, ...(resume !== undefined ? { resume: { lastEventSeq: resume } } : {}) });
    return this.next((f) => (f.type === 'login_ack' || f.type === 'error') && f.reqId === `login-${strategy}`);
  }

  close(): void {
    this.ws.close(1000);
  }
}

/** Waits `ms` of wall time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Opens a raw connection (`opts`: TLS `ca`, client `cert`/`key`), logs in, and resolves with
 * how that went: the first frame's type (`'login_ack'`, or `'error <code>'`), or `'error'` /
 * `'closed'` when the connection failed first (a refused handshake).
 */
export function loginOutcome(url: string, opts: WebSocket.ClientOptions, strategy: string, token: string): Promise<string> {
  return firstAnswer(url, opts, { v: 1, type: 'login', seq: 1, reqId: 'l', strategy, token });
}

/** How a `control_login` with `token` over a new connection goes, as {@link loginOutcome} tells it (`'control_ack'` when accepted). */
export function controlLoginOutcome(url: string, opts: WebSocket.ClientOptions, token: string): Promise<string> {
  return firstAnswer(url, opts, { v: 1, type: 'control_login', seq: 1, reqId: 'l', token });
}

function firstAnswer(url: string, opts: WebSocket.ClientOptions, frame: Record<string, unknown>): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, opts);
    ws.once('error', () => resolve('error'));
    ws.once('close', () => resolve('closed'));
    ws.once('open', () => ws.send(JSON.stringify(frame)));
    ws.once('message', (d) => {
      const f = JSON.parse(String(d)) as { type: string; code?: number };
      resolve(f.code === undefined ? f.type : `${f.type} ${f.code}`);
      ws.terminate();
    });
  });
}
