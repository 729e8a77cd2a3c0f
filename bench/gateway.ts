/**
 * Gateway benchmarks (docs/bench.md, "Gateway"), against the built package (dist/):
 *
 * 1. **Bare ws JSON echo** — the floor: a `ws` server that parses each message and sends it
 *    back as JSON, and a client on loopback, one message in flight; latency p50 / p99 / p99.9.
 * 2. **Order → ack** — a `GatewayServer` with a `SqliteOrderStore` on a temp file
 *    (`synchronous` FULL, and NORMAL; and, to show what the file costs, a `':memory:'`
 *    store; and, to show what the gateway costs with no store at all, orders in a JS `Map`,
 *    {@link MapOrderStore}) and a synthetic venue at its own pace (nobody
 *    subscribed); a logged-in client sends `new_order` (a resting PostOnly buy far below the
 *    touch: it never fills) and waits for its `onNewOrderAck`, one in flight, and checks
 *    that the order is in the store, acknowledged, when the ack arrives. Every 250 orders a
 *    `cancel_all` (not timed) keeps the open orders few. Blocks of echo and order round
 *    trips are interleaved, so that a change of machine load hits both alike, each block
 *    starting with another figure (the first part of a block measured worse).
 *    The same NORMAL figure and the echo again with the client in a child process, as a
 *    strategy runs (`crossProcess`). And as a strategy sees it (`strategyAck`): a
 *    `BaseStrategy` on a `RemoteEnv` (the kernel's checks, order tracker, dispatcher, and the
 *    `GatewayClient`), from `env.sendNewOrder` to `onNewOrderAck`, one order in flight, then
 *    from `env.sendCancelOrder` to `onOrderCancelled` (`strategyCancel`) before the next.
 *    The `cancel_all` after every 250 orders of the raw figures is timed too
 *    (`cancelAll250`: until its ack and all 250 `onOrderCancelled` arrived).
 * 3. **Market-data fan-out** — a synthetic venue at maximum speed (the generator's events in
 *    batches of 4 096, as a recorded file replays) and 1, 10, 50 clients in
 *    a child process (strategies run in their own processes), each its own strategy,
 *    subscribed to the one instrument; md rows delivered per client and in total over a
 *    fixed window, beside what the venue publishes with nobody subscribed.
 *
 * Clock: the venue answers with zero simulated latency, and the gateway and venue run on
 * the gateway's own `LiveClock`, which runs actions already due as microtasks (a few in a
 * row, then at the next turn of the event loop; never a timer that Node would clamp to
 * ≥ 1 ms). The server runs with its defaults, group commit included: the order and its ack
 * commit together, right before the ack is sent.
 *
 * Run alone: `npm run build && node --import tsx bench/gateway.ts` (prints the figures and
 * the JSON). Env: BENCH_GW_ECHO (echo round trips, default 20 000), BENCH_GW_ORDERS
 * (NORMAL order round trips, default 10 000; FULL gets a third, the in-memory and Map stores half),
 * BENCH_GW_FANOUT_S (seconds per fan-out window, default 5), BENCH_GW_XPROC (cross-process round
 * trips, echo and order each, default 5 000; 0 skips it), BENCH_GW_STRAT (strategy round trips,
 * default 5 000; 0 skips it).
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { BaseStrategy, ConstantLatencyModel, ExecInstr, GatewayClient, GatewayServer, LiveClock, OPEN_STATUSES, ORDER_LOG_HEADER_BYTES, OrderLog, RemoteEnv, Side, SimVenueHost, SqliteOrderStore, WriteBehindOrderStore, applyOrderEvent, generateMarket, initialOrder, orderEventClientId, silentLogger } from '../dist/index.js';
import type { IStratEnv, InsertOrderResult, NewOrderAck, NewOrderReject, NewOrderRecord, OrderStore, StoredOrder } from '../dist/index.js';
import { syntheticSource } from './common.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXCHANGE = 'SYN';

/** The stores of the order → ack figures (see {@link OrderAckResult.synchronous}). */
export type Synchronous = 'FULL' | 'NORMAL' | 'MEMORY' | 'NONE' | 'WRITE_BEHIND';

/** Latency percentiles of one figure, µs. */
export interface LatencyStats {
  n: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  meanUs: number;
  maxUs: number;
}

/** One order → ack figure. */
export interface OrderAckResult {
  /**
   * `SqliteOrderStore` `synchronous` mode; `MEMORY`: a `':memory:'` store (no file, no
   * durability: SQLite's CPU cost without the disk); `NONE`: no SQLite at all, orders in a JS
   * `Map` ({@link MapOrderStore}): what the gateway's own code and the venue cost, the floor
   * under any store; `WRITE_BEHIND`: a `WriteBehindOrderStore` (NORMAL): each commit is a copy
   * into a memory-mapped log, and a worker thread applies the log to SQLite; without group
   * commit, as the gateway's config defaults it for write-behind NORMAL.
   */
  synchronous: Synchronous;
  stats: LatencyStats;
  /** p99 ÷ the echo's p99. */
  ratioP99ToEcho: number;
  /** Acks after which a second connection found the order committed, acknowledged and `Open`, out of `stats.n` + warm-up (the in-memory store: its own connection). */
  storedBeforeAck: number;
  acks: number;
  /** Where the time goes, from timestamps taken around the store's two writes. */
  segments: OrderAckSegments;
  /** The `cancel_all` after every 250 orders, from its send until its ack and all 250 `onOrderCancelled` arrived (the kill switch's path), ms. */
  cancelAll250: { n: number; p50Ms: number; maxMs: number };
}

/** One fan-out figure. */
export interface FanoutResult {
  clients: number;
  seconds: number;
  /** md rows the venue published per second during the window. */
  publishedPerSec: number;
  /** md rows received per client per second (mean over the clients; min beside it). */
  perClientPerSec: number;
  minClientPerSec: number;
  /** All clients together, rows per second. */
  totalPerSec: number;
  /** md frames per client per second (mean). */
  framesPerClientPerSec: number;
  /** Times the gateway paused a slow client's md (`maxBufferedBytes`), in the window and around it. */
  slowConsumerPauses: number;
}

/** Everything `gatewayBench` measured. */
export interface GatewayBenchResult {
  machine: { cpu: string; cores: number; node: string; loadavg: number[] };
  echo: LatencyStats;
  orderAck: OrderAckResult[];
  /** Order → ack (NORMAL) and the echo with the client in its own process; undefined when skipped. */
  crossProcess?: CrossProcessResult;
  /** `env.sendNewOrder` → `onNewOrderAck` of a strategy on a `RemoteEnv` (NORMAL store, same process); undefined when skipped. */
  strategyAck?: LatencyStats;
  /** `env.sendCancelOrder` → `onOrderCancelled` of the same strategy (its `onCancelOrderAck` arrives with it); undefined when skipped. */
  strategyCancel?: LatencyStats;
  /** What the synthetic venue publishes at maximum speed with nobody subscribed (md rows/s). */
  fanoutBaselinePerSec: number;
  fanout: FanoutResult[];
}

/** Options of {@link gatewayBench}. */
export interface GatewayBenchOptions {
  /** Echo round trips measured (after 1 000 warm-up). Default 20 000 (env BENCH_GW_ECHO). */
  echoRoundTrips?: number;
  /** Order → ack round trips with NORMAL (after 500 warm-up); FULL gets a third, the in-memory and Map stores half. Default 10 000 (env BENCH_GW_ORDERS). */
  orderRoundTrips?: number;
  /** Fan-out client counts. Default [1, 10, 50]. */
  fanoutClients?: number[];
  /** Seconds of each fan-out window (after 1 s of warm-up). Default 5 (env BENCH_GW_FANOUT_S). */
  fanoutSeconds?: number;
  /** Round trips of the cross-process figure, echo and order each (after warm-up); 0 skips it. Default 5 000 (env BENCH_GW_XPROC). */
  crossProcessRoundTrips?: number;
  /** Round trips of the strategy figure (after 500 of warm-up); 0 skips it. Default 5 000 (env BENCH_GW_STRAT). */
  strategyRoundTrips?: number;
  /** Progress lines. Default none. */
  log?: (line: string) => void;
}

// ---- helpers ------------------------------------------------------------------------------

function envNum(name: string): number | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : Number(v);
}

/** Nearest-rank percentile of sorted values. */
function pct(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function stats(xs: readonly number[]): LatencyStats {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50Us: pct(s, 0.5), p99Us: pct(s, 0.99), p999Us: pct(s, 0.999), meanUs: s.reduce((a, b) => a + b, 0) / s.length, maxUs: s[s.length - 1]! };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Frame = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A raw protocol client with one waiter: what both latency figures use, so that the client side costs the same. */
class Client {
  private seq = 0;
  private readonly queue: Frame[] = [];
  private waiter: ((f: Frame) => void) | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: WebSocket.RawData) => {
      const f = JSON.parse(String(d)) as Frame;
      if (f.type === 'heartbeat' || f.type === 'md' || f.type === 'gateway_status') return;
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        w(f);
      } else this.queue.push(f);
    });
  }
  static async open(url: string): Promise<Client> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    return new Client(ws);
  }
  /** Serialises and sends one message (adds `v` and `seq`). */
  send(msg: Frame): void {
    this.ws.send(JSON.stringify({ v: 1, type: msg.type, seq: ++this.seq, ...msg }));
  }
  next(): Promise<Frame> {
    const f = this.queue.shift();
    if (f) return Promise.resolve(f);
    return new Promise((r) => (this.waiter = r));
  }
  close(): void {
    this.ws.terminate();
  }
}

/** Sends a `cancel_all` and drains its ack and the `open` cancels it causes (not timed: it keeps the open orders few). */
async function cancelAll(c: Client, open: number): Promise<void> {
  c.send({ type: 'cancel_all', exchange: EXCHANGE, instrumentId: 1 });
  let cancelled = 0;
  let acked = false;
  while (cancelled < open || !acked) {
    const e = await c.next();
    if (e.cb === 'onCancelAllAck') acked = true;
    else if (e.cb === 'onOrderCancelled') cancelled++;
    else throw new Error(`cancel_all: got ${JSON.stringify(e).slice(0, 300)}`);
  }
}

function newOrder(clientId: string): Frame {
  return { type: 'new_order', reqId: `r-${clientId}`, exchange: EXCHANGE, instrumentId: 1, clientId, side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: ['PostOnly'], price: '50', qty: '1' };
}

// ---- 1. the echo floor ----------------------------------------------------------------------

interface EchoRig {
  /** One round trip, µs. */
  roundTrip(): Promise<number>;
  close(): Promise<void>;
}

/** A `ws` server that parses each message and sends it back as JSON. */
async function echoServer(): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (d: WebSocket.RawData) => ws.send(JSON.stringify(JSON.parse(String(d))))));
  const port = (wss.address() as { port: number }).port;
  return { url: `ws://127.0.0.1:${port}/`, close: () => new Promise<void>((r) => wss.close(() => r())) };
}

/** One echo round trip of client `c`, µs. */
async function echoRoundTrip(c: Client, id: string): Promise<number> {
  const msg = newOrder(id);
  const t0 = process.hrtime.bigint();
  c.send(msg);
  const f = await c.next();
  const us = Number(process.hrtime.bigint() - t0) / 1000;
  if (f.clientId !== msg.clientId) throw new Error(`echo: got ${JSON.stringify(f).slice(0, 200)}`);
  return us;
}

async function echoRig(): Promise<EchoRig> {
  const srv = await echoServer();
  const c = await Client.open(srv.url);
  let i = 0;
  return {
    roundTrip: () => echoRoundTrip(c, `e-${++i}`),
    async close() {
      c.close();
      await srv.close();
    },
  };
}

// ---- 2. order → ack ---------------------------------------------------------------------------

interface OrderRig {
  roundTrip(): Promise<number>;
  storedBeforeAck: number;
  acks: number;
  /** Per timed round trip, µs: [send → insert starts, insert, insert → ack recording starts, ack recording, ack recorded → received]. */
  segments: number[][];
  /** Each `cancel_all` of 250 open orders, ms. */
  cancelAllMs: number[];
  close(): Promise<void>;
}

/** Where an order → ack round trip spends its time (p50 and p99 of each part, µs). */
export interface OrderAckSegments {
  /** Client send, loopback, frame parse and checks, up to the store's `insertOrder`. */
  toInsert: [p50: number, p99: number];
  /** `insertOrder` (with group commit, written, not yet committed). */
  insert: [p50: number, p99: number];
  /** Submit, the venue's engine and its ack back to the gateway (microtasks of the `LiveClock`, no turn of the event loop). */
  venue: [p50: number, p99: number];
  /** `recordEvent` of the ack (with group commit, only written: the order and the ack commit together right before the send, in "to client"). */
  recordAck: [p50: number, p99: number];
  /** The group's commit, encoding, send, loopback and the client's parse. */
  toClient: [p50: number, p99: number];
}

/**
 * The cheapest store the gateway's order path can have: orders in a `Map`, their events
 * applied with the store's own state functions, nothing written anywhere (no durability).
 * Only what the order → ack rig calls; the floor under any real store.
 */
class MapOrderStore implements OrderStore {
  private readonly orders = new Map<string, StoredOrder>();
  private seq = 0;
  async insertOrder(o: NewOrderRecord): Promise<InsertOrderResult> {
    const key = `${o.strategy}\u0000${o.clientId}`;
    const old = this.orders.get(key);
    if (old) return { created: false, order: old };
    const order = initialOrder(o);
    this.orders.set(key, order);
    return { created: true, order };
  }
  async recordEvent(strategy: string, cb: Parameters<OrderStore['recordEvent']>[1], ev: unknown, ts: number): Promise<number> {
    const id = orderEventClientId(cb, ev);
    const key = `${strategy}\u0000${id}`;
    const o = id === undefined ? undefined : this.orders.get(key);
    if (o) {
      const u = applyOrderEvent(o, cb, ev as never, ts);
      if (u.ok) {
        if (OPEN_STATUSES.includes(u.order.status)) this.orders.set(key, u.order);
        else this.orders.delete(key); // keeps the map small over a long run
      }
    }
    return ++this.seq;
  }
  async appendEvent(): Promise<number> {
    return ++this.seq;
  }
  async recordRequest(): Promise<never> {
    throw new Error('MapOrderStore: recordRequest is not part of the bench');
  }
  async eventsSince(): Promise<[]> {
    return [];
  }
  async orderEvents(): Promise<[]> {
    return [];
  }
  async lastEventSeq(): Promise<number> {
    return this.seq;
  }
  async getOrder(strategy: string, clientId: string): Promise<StoredOrder | undefined> {
    return this.orders.get(`${strategy}\u0000${clientId}`);
  }
  async openOrders(strategy: string): Promise<StoredOrder[]> {
    return [...this.orders.values()].filter((o) => o.strategy === strategy);
  }
  async listOrders(): Promise<StoredOrder[]> {
    return [];
  }
  async fills(): Promise<[]> {
    return [];
  }
  async positions(): Promise<[]> {
    return [];
  }
  async close(): Promise<void> {
    this.orders.clear();
  }
}

/**
 * The check of the write-behind figure: reads the store's log through its own read-only
 * mapping (what survives the process at that instant), up to the committed end in the
 * file's header, and answers `getOrder` for the orders and acks it found there.
 */
class LogCheck {
  private readonly log: ReturnType<typeof OrderLog.open>;
  private readonly orders = new Map<string, { acked: boolean; exchangeId?: string }>();
  private at = ORDER_LOG_HEADER_BYTES;
  private lastLsn = 0;
  constructor(path: string) {
    this.log = OrderLog.open(path, { readonly: true });
  }
  async getOrder(strategy: string, clientId: string): Promise<StoredOrder | undefined> {
    const end = this.log.headerEnd();
    if (end < this.at) this.at = ORDER_LOG_HEADER_BYTES; // the log started over
    while (this.at < end) {
      const r = this.log.readAt(this.at, end);
      if (r instanceof Error) throw r;
      this.at = r.next;
      if (r.lsn <= this.lastLsn) continue;
      this.lastLsn = r.lsn;
      const x = JSON.parse(r.payload) as [string, ...any[]]; // eslint-disable-line @typescript-eslint/no-explicit-any
      if (x[0] === 'o') this.orders.set(`${x[1]}\u0000${x[2]}`, { acked: false });
      else if (x[0] === 'e' && x[2] === 'onNewOrderAck') {
        const o = this.orders.get(`${x[1]}\u0000${x[6].clientId}`);
        if (o) Object.assign(o, { acked: true, exchangeId: x[6].exchangeId });
      }
    }
    const o = this.orders.get(`${strategy}\u0000${clientId}`);
    return o ? ({ acked: o.acked, exchangeId: o.exchangeId, status: o.acked ? 'Open' : 'PendingNew' } as unknown as StoredOrder) : undefined;
  }
  async close(): Promise<void> {
    this.log.close();
  }
}

/** The gateway of the order → ack figures: its store, its venue, its clock. */
interface OrderServer {
  url: string;
  path: string;
  store: OrderStore;
  server: InstanceType<typeof GatewayServer>;
  clock: InstanceType<typeof LiveClock>;
}

async function orderServer(synchronous: Synchronous, dir: string, tag = ''): Promise<Omit<OrderServer, 'url' | 'server'> & { start(): Promise<OrderServer> }> {
  // The gateway's own clock: actions already due (the venue's zero latency) run as
  // microtasks, later ones on a timer.
  const clock = new LiveClock();
  const path = join(dir, `orders-${synchronous}${tag}.db`);
  const store =
    synchronous === 'WRITE_BEHIND' ? await WriteBehindOrderStore.open(path, { synchronous: 'NORMAL' }) :
    synchronous === 'NONE' ? new MapOrderStore() : synchronous === 'MEMORY' ? new SqliteOrderStore(':memory:') : new SqliteOrderStore(path, { synchronous });
  // The venue at its own pace (≈ 100–200 events/s, nobody subscribed), answering at once.
  const host = new SimVenueHost({
    exchange: EXCHANGE,
    source: generateMarket({ events: 50_000_000, seed: 3, instrument: { exchange: EXCHANGE } }),
    clock,
    speed: 1,
    loop: true,
    sim: { latency: new ConstantLatencyModel({ entryUs: 0, responseUs: 0 }) },
  });
  return {
    path,
    store,
    clock,
    async start() {
      const server = new GatewayServer({ tokens: { bench: 'bench-token' }, store, venues: [host], clock, logger: silentLogger(), ...(synchronous === 'WRITE_BEHIND' ? { groupCommit: false } : {}), limits: { maxMsgsPerSec: 1e6, burstMsgs: 1_000_000 }, shutdownGraceMs: 5 });
      const { url } = await server.start();
      return { url, path, store, server, clock };
    },
  };
}

async function orderRig(synchronous: Synchronous, dir: string): Promise<OrderRig> {
  const gw = await orderServer(synchronous, dir);
  const { store, path, clock } = gw;
  // Timestamps around the two writes of each order (the wrapper costs well under 1 µs).
  let tInsert0 = 0n;
  let tInsert1 = 0n;
  let tAck0 = 0n;
  let tAck1 = 0n;
  const insertOrder = store.insertOrder.bind(store);
  const recordEvent = store.recordEvent.bind(store);
  store.insertOrder = async (o) => {
    tInsert0 = process.hrtime.bigint();
    const r = await insertOrder(o);
    tInsert1 = process.hrtime.bigint();
    return r;
  };
  store.recordEvent = async (strategy, cb, ev, ts) => {
    const ack = cb === 'onNewOrderAck';
    if (ack) tAck0 = process.hrtime.bigint();
    const r = await recordEvent(strategy, cb, ev, ts);
    if (ack) tAck1 = process.hrtime.bigint();
    return r;
  };
  const { url, server } = await gw.start();
  // The check reads through a second connection, as `tradeloop orders` would: it sees committed
  // rows only (the gateway's own connection would also see a group not yet committed).
  const reader: Pick<OrderStore, 'getOrder' | 'close'> =
    synchronous === 'MEMORY' || synchronous === 'NONE' ? store : synchronous === 'WRITE_BEHIND' ? new LogCheck((store as Awaited<ReturnType<typeof WriteBehindOrderStore.open>>).logPath) : new SqliteOrderStore(path, { readonly: true });
  const c = await Client.open(url);
  c.send({ type: 'login', reqId: 'login', strategy: 'bench', token: 'bench-token' });
  const ack = await c.next();
  if (ack.type !== 'login_ack') throw new Error(`login: ${JSON.stringify(ack)}`);
  let i = 0;
  let open = 0;
  const rig: OrderRig = {
    storedBeforeAck: 0,
    acks: 0,
    segments: [],
    cancelAllMs: [],
    async roundTrip() {
      const id = `b-${++i}`;
      const msg = newOrder(id);
      const t0 = process.hrtime.bigint();
      c.send(msg);
      const f = await c.next();
      const t1 = process.hrtime.bigint();
      const us = Number(t1 - t0) / 1000;
      if (f.type !== 'event' || f.cb !== 'onNewOrderAck' || f.ev.clientId !== id) throw new Error(`order → ack: got ${JSON.stringify(f).slice(0, 300)}`);
      rig.segments.push([t0, tInsert0, tInsert1, tAck0, tAck1, t1].slice(1).map((t, k, a) => Number(t - (k === 0 ? t0 : a[k - 1]!)) / 1000));
      rig.acks++;
      // Not timed: the order is in the store, acknowledged and committed, when its ack arrives.
      const o = await reader.getOrder('bench', id);
      if (o && o.acked && o.status === 'Open' && o.exchangeId === f.ev.exchangeId) rig.storedBeforeAck++;
      if (++open >= 250) {
        const tc = process.hrtime.bigint();
        await cancelAll(c, open);
        rig.cancelAllMs.push(Number(process.hrtime.bigint() - tc) / 1e6);
        open = 0;
      }
      return us;
    },
    async close() {
      c.close();
      await server.close();
      if (reader !== store) await reader.close();
      await store.close();
      clock.cancelAll();
    },
  };
  return rig;
}

// ---- 2b. order → ack with the strategy in its own process --------------------------------------

/** Order → ack (NORMAL store) and the echo, with the client in a child process, as a strategy runs. */
export interface CrossProcessResult {
  echo: LatencyStats;
  orderAck: LatencyStats;
  /** Order → ack p99 ÷ this echo's p99. */
  ratioP99ToEcho: number;
  /** Acks after which the child's own read-only connection found the order committed, acknowledged and `Open`. */
  storedBeforeAck: number;
  acks: number;
}

/**
 * The child process of the cross-process figure: an echo client and a gateway client
 * (strategy `bench`), warm-up, then `blocks` interleaved blocks of echo and order round trips
 * (a `cancel_all` every 250 orders, not timed); prints `{"echo":[…],"order":[…],"stored":…,"acks":…}`.
 */
async function crossProcessClients(echoUrl: string, gwUrl: string, dbPath: string, echoN: number, orderN: number): Promise<void> {
  const e = await Client.open(echoUrl);
  const g = await Client.open(gwUrl);
  g.send({ type: 'login', reqId: 'login', strategy: 'bench', token: 'bench-token' });
  if ((await g.next()).type !== 'login_ack') throw new Error('cross-process: login refused');
  const reader = new SqliteOrderStore(dbPath, { readonly: true });
  let i = 0;
  let open = 0;
  let stored = 0;
  let acks = 0;
  const order = async (): Promise<number> => {
    const id = `x-${++i}`;
    const t0 = process.hrtime.bigint();
    g.send(newOrder(id));
    const f = await g.next();
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    if (f.type !== 'event' || f.cb !== 'onNewOrderAck' || f.ev.clientId !== id) throw new Error(`cross-process order → ack: got ${JSON.stringify(f).slice(0, 300)}`);
    acks++;
    const o = await reader.getOrder('bench', id);
    if (o && o.acked && o.status === 'Open' && o.exchangeId === f.ev.exchangeId) stored++;
    if (++open >= 250) {
      await cancelAll(g, open);
      open = 0;
    }
    return us;
  };
  let k = 0;
  for (let w = 0; w < 1000; w++) await echoRoundTrip(e, `xe-${++k}`);
  for (let w = 0; w < 500; w++) await order();
  const echo: number[] = [];
  const orders: number[] = [];
  const BLOCKS = 10;
  for (let b = 0; b < BLOCKS; b++) {
    for (let j = 0; j < echoN / BLOCKS; j++) echo.push(await echoRoundTrip(e, `xe-${++k}`));
    for (let j = 0; j < orderN / BLOCKS; j++) orders.push(await order());
  }
  process.stdout.write(`${JSON.stringify({ echo, order: orders, stored, acks })}\n`);
  e.close();
  g.close();
  await reader.close();
}

async function crossProcessFigure(dir: string, echoN: number, orderN: number): Promise<CrossProcessResult> {
  const echo = await echoServer();
  const gw = await (await orderServer('NORMAL', dir, '-xproc')).start();
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--xproc-clients', echo.url, gw.url, gw.path, String(echoN), String(orderN)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout.on('data', (d: Buffer) => (buf += d.toString('utf8')));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    if (code !== 0) throw new Error(`cross-process clients exited with ${code}`);
    const r = JSON.parse(buf.trim()) as { echo: number[]; order: number[]; stored: number; acks: number };
    const e = stats(r.echo);
    const o = stats(r.order);
    return { echo: e, orderAck: o, ratioP99ToEcho: o.p99Us / e.p99Us, storedBeforeAck: r.stored, acks: r.acks };
  } finally {
    await gw.server.close();
    await gw.store.close();
    gw.clock.cancelAll();
    await echo.close();
  }
}

// ---- 2c. order → ack as a strategy sees it -----------------------------------------------------

/**
 * `env.sendNewOrder` → `onNewOrderAck` of a strategy on a `RemoteEnv`, over the NORMAL
 * gateway in this process: the round trip above plus the client's kernel (checks, order
 * tracker, dispatcher, encoding and decoding). Each order is cancelled once acknowledged
 * and the next one sent when the cancel is confirmed (neither timed).
 */
async function strategyFigure(dir: string, n: number): Promise<{ ack: LatencyStats; cancel: LatencyStats }> {
  const gw = await (await orderServer('NORMAL', dir, '-strat')).start();
  const clock = new LiveClock();
  const WARM = 500;
  const lat: number[] = [];
  const cancelLat: number[] = [];
  let finish!: (err?: Error) => void;
  const done = new Promise<void>((resolve, reject) => (finish = (err) => (err ? reject(err) : resolve())));
  class Pinger extends BaseStrategy {
    private sentAt = 0;
    private sent = 0;
    override onFrameworkConnected(env: IStratEnv): void {
      this.env = env;
      env.login('bench');
    }
    override onStart(): void {
      this.next();
    }
    private next(): void {
      this.sent++;
      this.sentAt = performance.now();
      this.env.sendNewOrder({ exchange: EXCHANGE, instrumentId: 1, side: Side.Buy, price: '50', qty: '1', execInstr: ExecInstr.PostOnly });
    }
    override onNewOrderAck(ev: NewOrderAck): void {
      const us = (performance.now() - this.sentAt) * 1000;
      if (this.sent > WARM) lat.push(us);
      this.sentAt = performance.now();
      this.env.sendCancelOrder(ev.exchange, ev.instrumentId, ev.clientId);
    }
    override onOrderCancelled(): void {
      const us = (performance.now() - this.sentAt) * 1000;
      if (this.sent > WARM) cancelLat.push(us);
      if (this.sent >= n + WARM) finish();
      else this.next();
    }
    override onNewOrderReject(ev: NewOrderReject): void {
      finish(new Error(`strategy figure: order rejected (${ev.rejectCode}) ${ev.rejectReason}`));
    }
  }
  const client = new GatewayClient({ url: gw.url, strategy: 'bench', token: 'bench-token', clock, logger: silentLogger() });
  const remote = new RemoteEnv({ strategy: new Pinger(), client, clock, logger: silentLogger() });
  try {
    if (!(await remote.start())) throw new Error('strategy figure: the strategy did not start');
    await done;
    return { ack: stats(lat), cancel: stats(cancelLat) };
  } finally {
    await remote.stop({ timeoutMs: 2_000, drainMs: 50 });
    clock.cancelAll();
    await gw.server.close();
    await gw.store.close();
    gw.clock.cancelAll();
  }
}

// ---- 3. fan-out -----------------------------------------------------------------------------

const MD_PREFIX = Buffer.from('{"v":1,"type":"md",');

/** Rows of an md frame without parsing it: one `[` per row, plus the array's own. */
function mdRows(b: Buffer): number {
  if (b.length < MD_PREFIX.length || b.compare(MD_PREFIX, 0, MD_PREFIX.length, 0, MD_PREFIX.length) !== 0) return -1;
  let n = 0;
  for (let i = b.indexOf(0x5b); i !== -1; i = b.indexOf(0x5b, i + 1)) n++;
  return n - 1;
}

/**
 * The child process of the fan-out figure: `n` clients (strategies `s1`…`sn`), each logged in
 * and subscribed to instrument 1; after `warmMs` prints `start`, counts md rows and frames
 * for `ms`, prints `{"rows":[…],"frames":[…],"seconds":…}` and exits.
 */
async function fanoutClients(url: string, n: number, warmMs: number, ms: number): Promise<void> {
  const rows = new Array<number>(n).fill(0);
  const frames = new Array<number>(n).fill(0);
  let counting = false;
  const sockets: WebSocket[] = [];
  await Promise.all(
    Array.from({ length: n }, async (_, k) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      sockets.push(ws);
      await new Promise<void>((res, rej) => {
        ws.once('open', () => res());
        ws.once('error', rej);
      });
      let subscribed: (() => void) | undefined;
      const ready = new Promise<void>((r) => (subscribed = r));
      ws.on('message', (d: WebSocket.RawData) => {
        const b = d as Buffer;
        if (subscribed) {
          const f = JSON.parse(b.toString('utf8')) as Frame;
          if (f.type === 'login_ack') ws.send(JSON.stringify({ v: 1, type: 'subscribe', seq: 2, reqId: 's', exchange: EXCHANGE, instrumentIds: [1], subs: ['OrderBook'] }));
          else if (f.type === 'subscribe_ack') {
            subscribed();
            subscribed = undefined;
          } else if (f.type === 'error') throw new Error(`fan-out client ${k + 1}: ${JSON.stringify(f)}`);
          return;
        }
        if (!counting) return;
        const r = mdRows(b);
        if (r < 0) return;
        rows[k] += r;
        frames[k]++;
      });
      ws.send(JSON.stringify({ v: 1, type: 'login', seq: 1, reqId: 'l', strategy: `s${k + 1}`, token: `tok-s${k + 1}` }));
      await ready;
    }),
  );
  await sleep(warmMs);
  process.stdout.write('start\n');
  counting = true;
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  counting = false;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${JSON.stringify({ rows, frames, seconds })}\n`);
  for (const ws of sockets) ws.terminate();
}

interface FanoutRig {
  url: string;
  published(): number;
  pauses(): number;
  close(): Promise<void>;
}

async function fanoutRig(strategies: number): Promise<FanoutRig> {
  const clock = new LiveClock();
  let published = 0;
  let pauses = 0;
  // Counts the gateway's "slow consumer" warnings (md paused for a client that does not drain).
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        pauses += (chunk.toString('utf8').match(/slow consumer/g) ?? []).length;
        cb();
      },
    }),
  );
  // The synthetic flow in batches of 4 096 (as a recorded file replays): the venue host
  // yields to sockets and timers between batches. (On `generateMarket` itself, which has no
  // batches, the host publishes every event alone and, once behind, never yields: see
  // docs/bench.md.)
  const host = new SimVenueHost({ exchange: EXCHANGE, source: syntheticSource(200_000_000, 5), clock, speed: 1e12, loop: true });
  host.addListener({ onMd: (_ex, evs) => (published += evs.length) });
  const tokens: Record<string, string> = {};
  for (let k = 1; k <= Math.max(1, strategies); k++) tokens[`s${k}`] = `tok-s${k}`;
  const server = new GatewayServer({ tokens, store: new SqliteOrderStore(':memory:'), venues: [host], clock, logger, limits: { maxMsgsPerSec: 1e6, burstMsgs: 1_000_000 }, shutdownGraceMs: 5 });
  const { url } = await server.start();
  return {
    url,
    published: () => published,
    pauses: () => pauses,
    async close() {
      await server.close();
      clock.cancelAll();
    },
  };
}

async function fanoutFigure(n: number, seconds: number): Promise<FanoutResult> {
  const rig = await fanoutRig(n);
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--fanout-clients', rig.url, String(n), '1000', String(Math.round(seconds * 1000))], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let startPub = 0;
    let startT = 0n;
    let endPub = 0;
    let endT = 0n;
    const result = await new Promise<{ rows: number[]; frames: number[]; seconds: number }>((res, rej) => {
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === 'start') {
            startPub = rig.published();
            startT = process.hrtime.bigint();
          } else if (line.startsWith('{')) {
            endPub = rig.published();
            endT = process.hrtime.bigint();
            res(JSON.parse(line) as { rows: number[]; frames: number[]; seconds: number });
          }
        }
      });
      child.on('exit', (code) => (code === 0 ? undefined : rej(new Error(`fan-out clients exited with ${code}`))));
    });
    await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
    const per = result.rows.map((r) => r / result.seconds);
    const total = per.reduce((a, b) => a + b, 0);
    return {
      clients: n,
      seconds: result.seconds,
      publishedPerSec: (endPub - startPub) / (Number(endT - startT) / 1e9),
      perClientPerSec: total / n,
      minClientPerSec: Math.min(...per),
      totalPerSec: total,
      framesPerClientPerSec: result.frames.reduce((a, b) => a + b, 0) / n / result.seconds,
      slowConsumerPauses: rig.pauses(),
    };
  } finally {
    await rig.close();
  }
}

/** The venue at maximum speed with nobody subscribed: what it publishes per second. */
async function fanoutBaseline(seconds: number): Promise<number> {
  const rig = await fanoutRig(0);
  try {
    await sleep(1000);
    const p0 = rig.published();
    const t0 = process.hrtime.bigint();
    await sleep(seconds * 1000);
    return (rig.published() - p0) / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    await rig.close();
  }
}

// ---- the whole bench ------------------------------------------------------------------------

/** Runs the three gateway figures; see the module documentation. */
export async function gatewayBench(opts: GatewayBenchOptions = {}): Promise<GatewayBenchResult> {
  const log = opts.log ?? (() => undefined);
  const echoN = opts.echoRoundTrips ?? envNum('BENCH_GW_ECHO') ?? 20_000;
  const normalN = opts.orderRoundTrips ?? envNum('BENCH_GW_ORDERS') ?? 10_000;
  const fullN = Math.max(100, Math.round(normalN / 3));
  const memoryN = Math.max(100, Math.round(normalN / 2));
  const fanSeconds = opts.fanoutSeconds ?? envNum('BENCH_GW_FANOUT_S') ?? 5;
  const fanClients = opts.fanoutClients ?? [1, 10, 50];
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) };
  const dir = mkdtempSync(join(tmpdir(), 'tradeloop-bench-gw-'));
  try {
    // Latency: echo, NORMAL, FULL and LiveClock rigs side by side; interleaved blocks.
    const echo = await echoRig();
    const rigs = {
      normal: await orderRig('NORMAL', dir),
      full: await orderRig('FULL', dir),
      memory: await orderRig('MEMORY', dir),
      none: await orderRig('NONE', dir),
      writeBehind: await orderRig('WRITE_BEHIND', dir),
    };
    const samples = { echo: [] as number[], normal: [] as number[], full: [] as number[], memory: [] as number[], none: [] as number[], writeBehind: [] as number[] };
    for (let k = 0; k < 1000; k++) await echo.roundTrip();
    for (let k = 0; k < 500; k++) await rigs.normal.roundTrip();
    for (let k = 0; k < 100; k++) await rigs.full.roundTrip();
    for (let k = 0; k < 500; k++) await rigs.memory.roundTrip();
    for (let k = 0; k < 500; k++) await rigs.none.roundTrip();
    for (let k = 0; k < 500; k++) await rigs.writeBehind.roundTrip();
    const BLOCKS = 10;
    const parts: Array<() => Promise<void>> = [
      async () => { for (let k = 0; k < echoN / BLOCKS; k++) samples.echo.push(await echo.roundTrip()); },
      async () => { for (let k = 0; k < normalN / BLOCKS; k++) samples.normal.push(await rigs.normal.roundTrip()); },
      async () => { for (let k = 0; k < fullN / BLOCKS; k++) samples.full.push(await rigs.full.roundTrip()); },
      async () => { for (let k = 0; k < memoryN / BLOCKS; k++) samples.memory.push(await rigs.memory.roundTrip()); },
      async () => { for (let k = 0; k < memoryN / BLOCKS; k++) samples.none.push(await rigs.none.roundTrip()); },
      async () => { for (let k = 0; k < normalN / BLOCKS; k++) samples.writeBehind.push(await rigs.writeBehind.roundTrip()); },
    ];
    for (let b = 0; b < BLOCKS; b++) {
      // Each block starts with another figure: the first part of a block measured worse
      // (docs/bench.md, "What limits the gateway now"), and no figure may always take that place.
      for (let j = 0; j < parts.length; j++) await parts[(b + j) % parts.length]!();
      log(`    latency block ${b + 1}/${BLOCKS}`);
    }
    await echo.close();
    const echoStats = stats(samples.echo);
    const orderAck: OrderAckResult[] = [];
    for (const [key, synchronous] of [
      ['normal', 'NORMAL'],
      ['full', 'FULL'],
      ['memory', 'MEMORY'],
      ['none', 'NONE'],
      ['writeBehind', 'WRITE_BEHIND'],
    ] as const) {
      const s = stats(samples[key]);
      const seg = rigs[key].segments.slice(-samples[key].length);
      const part = (k: number): [number, number] => {
        const st = stats(seg.map((r) => r[k]!));
        return [st.p50Us, st.p99Us];
      };
      const segments: OrderAckSegments = { toInsert: part(0), insert: part(1), venue: part(2), recordAck: part(3), toClient: part(4) };
      const ca = [...rigs[key].cancelAllMs].sort((a, b) => a - b);
      const cancelAll250 = { n: ca.length, p50Ms: ca.length ? pct(ca, 0.5) : NaN, maxMs: ca.length ? ca[ca.length - 1]! : NaN };
      orderAck.push({ synchronous, segments, stats: s, ratioP99ToEcho: s.p99Us / echoStats.p99Us, storedBeforeAck: rigs[key].storedBeforeAck, acks: rigs[key].acks, cancelAll250 });
      await rigs[key].close();
    }

    // The same with the client in its own process.
    const xprocN = opts.crossProcessRoundTrips ?? envNum('BENCH_GW_XPROC') ?? 5_000;
    let crossProcess: CrossProcessResult | undefined;
    if (xprocN > 0) {
      log(`    order → ack and echo, client in its own process (${xprocN} each)`);
      crossProcess = await crossProcessFigure(dir, xprocN, xprocN);
    }

    // As a strategy sees it.
    const stratN = opts.strategyRoundTrips ?? envNum('BENCH_GW_STRAT') ?? 5_000;
    let strategyAck: LatencyStats | undefined;
    let strategyCancel: LatencyStats | undefined;
    if (stratN > 0) {
      log(`    order → ack and cancel → cancelled as a strategy on a RemoteEnv sees them (${stratN})`);
      const st = await strategyFigure(dir, stratN);
      strategyAck = st.ack;
      strategyCancel = st.cancel;
    }

    // Fan-out.
    log(`    fan-out: venue alone (${fanSeconds} s)`);
    const fanoutBaselinePerSec = await fanoutBaseline(fanSeconds);
    const fanout: FanoutResult[] = [];
    for (const n of fanClients) {
      log(`    fan-out: ${n} client${n === 1 ? '' : 's'} (${fanSeconds} s)`);
      fanout.push(await fanoutFigure(n, fanSeconds));
    }
    return { machine, echo: echoStats, orderAck, crossProcess, strategyAck, strategyCancel, fanoutBaselinePerSec, fanout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How the figures name each store. */
export function storeLabel(s: Synchronous): string {
  return s === 'MEMORY' ? 'in-memory store' : s === 'NONE' ? 'no store (Map)' : s === 'WRITE_BEHIND' ? 'write-behind' : `${s} store`;
}

/** The figures as lines of text (the CLI's output). */
export function formatGatewayBench(r: GatewayBenchResult): string[] {
  const lat = (s: LatencyStats) => `p50 ${s.p50Us.toFixed(0)} µs, p99 ${s.p99Us.toFixed(0)} µs, p99.9 ${s.p999Us.toFixed(0)} µs (mean ${s.meanUs.toFixed(0)}, max ${s.maxUs.toFixed(0)}, n ${s.n})`;
  const k = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} k`);
  const lines = [`machine: ${r.machine.cpu}, ${r.machine.cores} cores, node ${r.machine.node}, load average ${r.machine.loadavg.join(' ')}`, `bare ws JSON echo:              ${lat(r.echo)}`];
  for (const o of r.orderAck) {
    lines.push(`order → ack, ${storeLabel(o.synchronous).padEnd(15)}: ${lat(o.stats)}; p99 ${o.ratioP99ToEcho.toFixed(2)}× echo; in the store at its ack: ${o.storedBeforeAck}/${o.acks}`);
    const g = o.segments;
    const seg = (name: string, [p50, p99]: [number, number]) => `${name} ${p50.toFixed(0)}/${p99.toFixed(0)}`;
    lines.push(`    where it goes (p50/p99 µs): ${[seg('to insert', g.toInsert), seg('insert', g.insert), seg('venue', g.venue), seg('record ack', g.recordAck), seg('to client', g.toClient)].join(', ')}`);
    const ca = o.cancelAll250;
    if (ca.n > 0) lines.push(`    cancel_all of 250 open orders → its ack and 250 onOrderCancelled: p50 ${ca.p50Ms.toFixed(2)} ms, max ${ca.maxMs.toFixed(2)} ms (n ${ca.n})`);
  }
  const x = r.crossProcess;
  if (x) {
    lines.push(`client in its own process — echo:  ${lat(x.echo)}`);
    lines.push(`client in its own process — order → ack, NORMAL store: ${lat(x.orderAck)}; p99 ${x.ratioP99ToEcho.toFixed(2)}× that echo; in the store at its ack: ${x.storedBeforeAck}/${x.acks}`);
  }
  if (r.strategyAck) lines.push(`strategy on a RemoteEnv, sendNewOrder → onNewOrderAck, NORMAL store: ${lat(r.strategyAck)}; p99 ${(r.strategyAck.p99Us / r.echo.p99Us).toFixed(2)}× echo`);
  if (r.strategyCancel) lines.push(`strategy on a RemoteEnv, sendCancelOrder → onOrderCancelled, NORMAL store: ${lat(r.strategyCancel)}`);
  lines.push(`md fan-out: the venue alone publishes ${k(r.fanoutBaselinePerSec)} rows/s`);
  for (const f of r.fanout) {
    lines.push(`md fan-out, ${String(f.clients).padStart(2)} clients: ${k(f.perClientPerSec)} rows/s per client (min ${k(f.minClientPerSec)}), ${k(f.totalPerSec)} rows/s in all; venue published ${k(f.publishedPerSec)} rows/s; ${f.framesPerClientPerSec.toFixed(0)} frames/s per client; slow-consumer pauses ${f.slowConsumerPauses}`);
  }
  return lines;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--xproc-clients') {
    const [echoUrl, gwUrl, dbPath, echoN, orderN] = process.argv.slice(3);
    await crossProcessClients(echoUrl!, gwUrl!, dbPath!, Number(echoN), Number(orderN));
    return;
  }
  if (process.argv[2] === '--fanout-clients') {
    const [url, n, warm, ms] = process.argv.slice(3);
    await fanoutClients(url!, Number(n), Number(warm), Number(ms));
    return;
  }
  const r = await gatewayBench({ log: (s) => console.log(s) });
  for (const line of formatGatewayBench(r)) console.log(line);
  console.log(JSON.stringify(r, null, 2));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SELF) await main();
