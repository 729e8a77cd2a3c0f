/**
 * Fault tests of the gateway (issue 4), on loopback:
 *
 * a. A strategy process (`tradeloop run`, the churn test strategy) trading continuously is
 *    killed with SIGKILL at seeded random moments and restarted 20 times against one
 *    gateway. Each restart is reconciled (its tracker at `onStart` equals the gateway's
 *    `sync_result`, which equals the store's state at that event), trading resumes (new
 *    acks), and in the end, with the store as the truth: no order lost, none duplicated,
 *    position = Σ fills.
 * b. The venue's market-data feed is disconnected 100 times while data flows; after each
 *    resync the strategy's book equals the venue's book at the snapshot, and between
 *    resyncs the live deltas keep it equal (checked at each disconnect).
 * c. The WebSocket is cut in the middle of a new_order, a cancel and a modify — before the
 *    frame reaches the gateway, after the gateway got it but before its answer, after the
 *    answer left but before the client read it (a TCP proxy between client and gateway
 *    makes these cuts real) — and each request is done exactly once, never twice.
 * Also: a process restarted within the same second as its predecessor does not reuse the
 * client ids its predecessor generated (the ids carry the process start).
 *
 * Run times (2 shared cores): a ≈ 30–40 s (21 processes of ≈ 1 s start-up each), b ≈ 3 s,
 * c < 1 s. `FAULTS_SEED` changes the kill moments and the feed's down times.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/api/decimal.js';
import { MDSub, OrderStatus, Side } from '../../src/api/enums.js';
import { BaseStrategy, type IStratEnv } from '../../src/api/strategy.js';
import type { L3Book } from '../../src/book/l3-book.js';
import { LiveClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { SeededRng } from '../../src/core/rng.js';
import type { VenueRequest } from '../../src/core/venue.js';
import { ASK, BID, type SideCode } from '../../src/data/events.js';
import { GatewayClient } from '../../src/gateway/client.js';
import type { FrameBody, GatewayMessage, SyncResultMsg } from '../../src/gateway/protocol.js';
import { RemoteEnv } from '../../src/gateway/remote-env.js';
import { GatewaySession } from '../../src/gateway/session.js';
import { positionsFromFills, type OrderStore, type StoredEvent } from '../../src/store/order-store.js';
import { SqliteOrderStore } from '../../src/store/sqlite-store.js';
import { WriteBehindOrderStore } from '../../src/store/write-behind-store.js';
import { startTestGateway, type TestGateway } from './harness.js';
import { CHURN, killIfRunning, spawnCli, waitFor, type CliProc } from './proc.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-gw-faults-'));
const SEED = Number(process.env.FAULTS_SEED ?? 20_260_404);

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** Taps the gateway's outgoing frames (all sessions of this process) until removed. */
function tapGatewayFrames(onFrame: (s: GatewaySession, body: FrameBody<GatewayMessage>) => void): () => void {
  const orig = GatewaySession.prototype.send;
  GatewaySession.prototype.send = function (this: GatewaySession, body: FrameBody<GatewayMessage>): boolean {
    onFrame(this, body);
    return orig.call(this, body);
  };
  return () => {
    GatewaySession.prototype.send = orig;
  };
}

/** Counts the requests a hosted venue receives, by type and client id. */
function countSubmits(gw: TestGateway<OrderStore>): Map<string, number> {
  const counts = new Map<string, number>();
  const venue = gw.host.venue;
  const orig = venue.submit.bind(venue);
  venue.submit = (req: VenueRequest) => {
    const key = `${req.type}:${'clientId' in req ? req.clientId : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    orig(req);
  };
  return counts;
}

const num = (s: string | undefined) => Number(s ?? '0');
const TERMINAL_EVENT = (e: StoredEvent) =>
  e.effect === 'applied' && (e.cb === 'onNewOrderReject' || e.cb === 'onOrderCancelled' || (e.cb === 'onOrderExecution' && e.ev.leavesQty.isZero()));

// ------------------------------------------------------------------ a. SIGKILL × 20

describe('a strategy process killed with SIGKILL and restarted 20 times', () => {
  it('loses no order, duplicates none, reconciles open orders and position at each restart, and trades again', async () => {
    const t0 = performance.now();
    const STRAT = 'churn';
    const TOKEN = 'churn-fault-token-7c1e90';
    const tokenFile = join(dir, 'churn.token');
    writeFileSync(tokenFile, TOKEN + '\n');
    chmodSync(tokenFile, 0o600);
    const config = join(dir, 'churn.json');
    writeFileSync(config, JSON.stringify({ exchange: 'SYN', instrument: 'synthetic:equity:syn', login: STRAT, seed: SEED, intervalMs: 15, maxOpen: 4, takerProb: 0.2, maxPosition: 4 }));

    // The write-behind store (a memory-mapped log before each ack, SQLite behind it): the
    // gateway's reads (sync, reconcile, duplicates) go through its memory and its catch-up.
    const store = await WriteBehindOrderStore.open(join(dir, 'churn.db'), { synchronous: 'NORMAL' });
    const gw = await startTestGateway({ tokens: { [STRAT]: TOKEN }, store, hostOpts: { speed: 20, events: 400_000 } });
    cleanup.push(() => gw.close());
    // What the gateway answered to each sync (one per process: no reconnections here), and
    // the new orders the venue received.
    const syncs: Array<SyncResultMsg & { atUs: number }> = [];
    cleanup.push(
      tapGatewayFrames((s, body) => {
        if (body.type === 'sync_result' && s.strategy === STRAT) syncs.push({ ...(structuredClone(body) as SyncResultMsg), atUs: gw.clock.now() });
      }),
    );
    const submits = countSubmits(gw);

    const rng = new SeededRng(SEED);
    const KILLS = 20;
    const lives: CliProc[] = [];
    const prefixes: Array<string | undefined> = [];
    const killModes: string[] = [];
    const startMs: number[] = [];
    cleanup.push(() => lives.forEach(killIfRunning));

    const prefixOf = (cid: string) => cid.replace(/-\d+$/, '');
    for (let k = 0; k <= KILLS; k++) {
      const ts = performance.now();
      const p = spawnCli(['run', '--strategy', CHURN, '--config', config, '--gateway', gw.url, '--name', STRAT, '--token-file', tokenFile, '--no-console', '--log-level', 'warn']);
      lives.push(p);
      await waitFor(() => p.lines.some((l) => l.k === 'start'), 60_000, `life ${k}: start`, [p]);
      startMs.push(performance.now() - ts);

      // Reconciled: the tracker at onStart is the gateway's sync_result …
      expect(syncs, `life ${k}: one sync per process`).toHaveLength(k + 1);
      const sync = syncs[k]!;
      const start = p.lines.find((l) => l.k === 'start')!;
      const fromSync = sync.orders.map((o) => ({ cid: o.clientOrdId, status: o.status, side: o.side, price: new Decimal(o.price).toString(), leaves: new Decimal(o.leavesQty).toString() }));
      const sortCid = <T extends { cid: string }>(a: T[]) => [...a].sort((x, y) => x.cid.localeCompare(y.cid));
      expect(sortCid(start.open as Array<{ cid: string }>), `life ${k}: open orders at start = sync_result`).toEqual(sortCid(fromSync));
      expect(num(start.pos as string), `life ${k}: position at start = sync_result`).toBe(num(sync.positions.find((x) => x.exchange === 'SYN' && x.instrumentId === 1)?.position));
      // … and the sync_result is the store's state as of its lastEventSeq.
      const asOf = await storeStateAt(store, STRAT, sync.lastEventSeq, sync.atUs);
      expect([...asOf.open].sort(), `life ${k}: sync_result open orders = the store's at event ${sync.lastEventSeq}`).toEqual(fromSync.map((o) => o.cid).sort());
      expect(asOf.position, `life ${k}: sync_result position = Σ fills up to event ${sync.lastEventSeq}`).toBe(num(sync.positions[0]?.position));

      // Trading resumes: an ack of an order of this process.
      await waitFor(() => p.lines.some((l) => l.k === 'sent' && l.t === 'new'), 20_000, `life ${k}: a new order`, [p]);
      const prefix = prefixOf(p.lines.find((l) => l.k === 'sent' && l.t === 'new')!.cid as string);
      prefixes.push(prefix);
      await waitFor(() => p.lines.some((l) => l.k === 'ev' && l.cb === 'onNewOrderAck' && prefixOf(l.cid as string) === prefix), 20_000, `life ${k}: an ack of its own order`, [p]);
      if (k === KILLS) break;

      // SIGKILL at a seeded random moment: after a random delay, or the instant the test
      // reads a request being sent (the process is then mid-request or just past it).
      const r = rng.next();
      if (r < 0.25) {
        killModes.push('at a cancel/modify');
        p.onLine = (l) => {
          if (l.k === 'intent' && l.t !== 'new') p.child.kill('SIGKILL');
        };
      } else if (r < 0.5) {
        killModes.push('at a new order');
        p.onLine = (l) => {
          if (l.k === 'intent' && l.t === 'new') p.child.kill('SIGKILL');
        };
      } else {
        const delay = Math.floor(rng.next() * 400);
        killModes.push(`after ${delay} ms`);
        await new Promise((res) => setTimeout(res, delay));
        p.child.kill('SIGKILL');
      }
      const end = await Promise.race([p.exited, new Promise<undefined>((res) => setTimeout(() => res(undefined), 5_000))]);
      if (end === undefined) p.child.kill('SIGKILL'); // no matching line came: kill now
      expect((await p.exited).signal, `life ${k} killed`).toBe('SIGKILL');
    }

    // The last process stops gracefully: onStop cancels everything, then reports.
    const last = lives[KILLS]!;
    last.child.kill('SIGINT');
    expect((await last.exited).code, last.out.stderr.slice(-2000)).toBe(0);
    await gw.server.idle();

    // ---- the store is the truth
    const orders = await store.listOrders({ strategy: STRAT });
    const byCid = new Map(orders.map((o) => [o.clientId, o]));
    expect(byCid.size, 'one order per client id').toBe(orders.length);
    const events = await store.eventsSince(STRAT, 0);
    expect(events.map((e) => e.seq), 'gap-free event log').toEqual(events.map((_, i) => i + 1));

    // Not duplicated: the venue got each new order once; one ack (one exchange id) per client id.
    const acks = new Map<string, string[]>();
    for (const e of events) if (e.cb === 'onNewOrderAck') acks.set(e.ev.clientId, [...(acks.get(e.ev.clientId) ?? []), e.ev.exchangeId]);
    for (const o of orders) {
      expect(submits.get(`NewOrder:${o.clientId}`), `${o.clientId}: submitted to the venue once`).toBe(1);
      expect((acks.get(o.clientId) ?? []).length, `${o.clientId}: at most one ack`).toBeLessThanOrEqual(1);
      expect(new Decimal(o.cumQty).lte(new Decimal(o.qty)), `${o.clientId}: not overfilled`).toBe(true);
      const cancels = events.filter((e) => e.clientId === o.clientId && e.cb === 'onOrderCancelled');
      expect(cancels.length, `${o.clientId}: cancelled at most once`).toBeLessThanOrEqual(1);
    }
    const exchangeIds = [...acks.values()].flat();
    expect(new Set(exchangeIds).size, 'exchange ids unique').toBe(exchangeIds.length);
    for (const key of submits.keys()) if (key.startsWith('NewOrder:')) expect(byCid.has(key.slice(9)), `${key}: the venue got only stored orders`).toBe(true);

    // Not lost: for each process, every new order it sent is in the store, except a tail cut
    // off by the kill (frames arrive in order: a missing order before one that arrived would
    // be a loss); every order in the store was sent by one process (or was being sent when
    // it died); every order event a process got is recorded.
    let tailLost = 0;
    /** Processes killed between an order's intent and its `sent` line: whether the order reached the gateway. */
    const midSend: boolean[] = [];
    const claimed = new Set<string>();
    const delivered = new Map<string, number>();
    lives.forEach((p, k) => {
      const sent = p.lines.filter((l) => l.k === 'sent' && l.t === 'new');
      sent.forEach((l) => expect(String(l.cid).endsWith(`-${l.n}`), `life ${k}: kernel numbering`).toBe(true));
      const stored = sent.map((l) => byCid.has(l.cid as string));
      const lastStored = stored.lastIndexOf(true);
      stored.forEach((ok, i) => {
        if (!ok) expect(i, `life ${k}: ${sent[i]!.cid} sent, not in the store, before an order that is`).toBeGreaterThan(lastStored);
      });
      tailLost += stored.filter((ok) => !ok).length;
      for (const l of sent) {
        expect(claimed.has(l.cid as string), `${l.cid} sent by two processes`).toBe(false);
        claimed.add(l.cid as string);
      }
      // An order the process was sending when it died: its intent has no `sent` line.
      const lastIntent = p.lines.filter((l) => l.k === 'intent' && l.t === 'new').at(-1);
      if (lastIntent && !sent.some((l) => l.n === lastIntent.n) && prefixes[k] !== undefined) {
        const cid = `${prefixes[k]}-${lastIntent.n}`;
        claimed.add(cid);
        midSend.push(byCid.has(cid));
      }
      for (const l of p.lines) if (l.k === 'ev' && l.cid !== undefined && l.cb !== 'onOrderStatus') delivered.set(`${l.cb}|${l.cid}`, (delivered.get(`${l.cb}|${l.cid}`) ?? 0) + 1);
    });
    // Every order event the processes got is recorded, and none reached them twice (a
    // restarted process learns of its predecessors' orders through sync, not their events).
    const recorded = new Map<string, number>();
    for (const e of events) if (e.clientId !== undefined) recorded.set(`${e.cb}|${e.clientId}`, (recorded.get(`${e.cb}|${e.clientId}`) ?? 0) + 1);
    for (const [key, n] of delivered) expect(n, `${key}: delivered ${n}×, recorded ${recorded.get(key) ?? 0}×`).toBeLessThanOrEqual(recorded.get(key) ?? 0);
    for (const o of orders) expect(claimed.has(o.clientId), `${o.clientId} in the store but never sent`).toBe(true);

    // Positions: the store's = Σ signed fills = the last process's own view at its stop.
    const fills = await store.fills(STRAT);
    const sum = fills.reduce((a, f) => a + (f.side === Side.Buy ? 1 : -1) * Number(f.qty), 0);
    const positions = await store.positions(STRAT);
    expect(num(positions[0]?.position)).toBe(sum);
    expect(positions.map((p) => ({ ...p, updatedTs: 0 }))).toEqual(positionsFromFills(STRAT, fills).map((p) => ({ ...p, updatedTs: 0 })));
    const final = last.lines.find((l) => l.k === 'final')!;
    expect(final, 'the last process reported its final state').toBeDefined();
    expect(num(final.pos as string), 'the last process ends with the store position').toBe(sum);
    expect(await store.openOrders(STRAT), 'nothing left open after the graceful stop').toEqual([]);

    const secs = (performance.now() - t0) / 1000;
    const restored = syncs.slice(1).reduce((a, x) => a + x.orders.length, 0);
    const withPosition = syncs.slice(1).filter((x) => x.positions.length > 0).length;
    // eslint-disable-next-line no-console
    console.log(
      `SIGKILL×${KILLS}: ${orders.length} orders (${acks.size} acked), ${fills.length} fills, position ${sum}, ` +
        `restarts restored ${restored} open orders and ${withPosition} non-zero positions, ${tailLost} sent orders cut off by a kill, ${midSend.length} kills mid-send (${midSend.filter(Boolean).length} of those orders reached the gateway), process start→ready median ${median(startMs).toFixed(0)} ms, kills: ${killModes.join('; ')}; ${secs.toFixed(1)} s`,
    );
    expect(fills.length, 'the strategy traded').toBeGreaterThan(0);
  }, 300_000);
});

describe('a strategy process restarted within the same second', () => {
  it("does not reuse its predecessor's generated client ids", async () => {
    // Each process tags the ids it generates with its start; a supervisor restarts a crashed
    // process within milliseconds. Here the second process (another pid) starts 300 ms after
    // the first, in the same second of their clocks. (Two processes in one test process: the
    // pid is faked for the second.)
    const TOKEN = 'quick-restart-token-e4';
    const gw = await startTestGateway({ tokens: { quick: TOKEN } });
    cleanup.push(() => gw.close());
    const second = Math.floor(Date.now() / 1000 + 5) * 1e6;
    const life = async (startUs: number) => {
      const clock = new ShiftedClock(startUs);
      const strat = new Recorder([MDSub.BBO]);
      const client = new GatewayClient({ url: gw.url, strategy: 'quick', token: TOKEN, clock, logger: silentLogger() });
      const remote = new RemoteEnv({ strategy: strat, client, clock, logger: silentLogger() });
      cleanup.push(async () => {
        await client.close({ logout: false, graceMs: 20 });
        clock.cancelAll();
      });
      expect(await remote.start()).toBe(true);
      await waitFor(() => strat.of('onBestBidLevelUpdate').length > 0, 5_000, 'market data');
      return { strat, client, clock, env: remote.env! };
    };
    const a = await life(second + 100_000);
    const first = a.env.sendNewOrder({ exchange: 'SYN', instrumentId: 1, side: Side.Buy, price: '50', qty: '1' });
    await waitFor(() => a.strat.of('onNewOrderAck', first).length === 1, 5_000, 'ack');
    a.env.sendCancelOrder('SYN', 1, first);
    await waitFor(() => a.strat.of('onOrderCancelled', first).length === 1, 5_000, 'cancel');
    await a.client.close({ logout: false, graceMs: 20 }); // the process dies
    a.clock.cancelAll();

    const pid = Object.getOwnPropertyDescriptor(process, 'pid')!;
    Object.defineProperty(process, 'pid', { ...pid, value: pid.value + 1 });
    cleanup.push(() => void Object.defineProperty(process, 'pid', pid));
    const b = await life(second + 400_000);
    Object.defineProperty(process, 'pid', pid);
    const next = b.env.sendNewOrder({ exchange: 'SYN', instrumentId: 1, side: Side.Sell, price: '150', qty: '2' });
    await waitFor(() => b.strat.of('onNewOrderAck', next).length + b.strat.of('onNewOrderReject', next).length > 0, 5_000, 'an answer');
    expect(next, 'a new id').not.toBe(first);
    expect(b.strat.of('onNewOrderReject', next), 'no DuplicateClientId').toEqual([]);
    expect((await gw.store.listOrders({ strategy: 'quick' })).map((o) => o.clientId)).toEqual([first, next]);
  });
});

/** A live clock whose time starts at `startUs` (µs since the epoch) when it is created. */
class ShiftedClock extends LiveClock {
  private readonly shiftUs: number;
  constructor(startUs: number) {
    super();
    this.shiftUs = startUs - super.now();
  }
  override now(): number {
    return super.now() + this.shiftUs;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Open orders and position of a strategy after event `seq` (at gateway time `atUs`), rebuilt from the store's orders, event log and fills. */
async function storeStateAt(store: OrderStore, strategy: string, seq: number, atUs: number): Promise<{ open: Set<string>; position: number }> {
  const open = new Set<string>();
  for (const o of await store.listOrders({ strategy })) {
    if (o.createdTs > atUs) continue; // sent after the sync (by the new process)
    const evs = await store.orderEvents(strategy, o.clientId);
    if (!evs.some((e) => e.seq <= seq && TERMINAL_EVENT(e))) open.add(o.clientId);
  }
  let position = 0;
  for (const f of await store.fills(strategy)) if (f.eventSeq <= seq) position += (f.side === Side.Buy ? 1 : -1) * Number(f.qty);
  return { open, position };
}

// ------------------------------------------------------------------ shared: an in-process strategy

/** The book as comparable data: per side, best level first, each level's qty and its orders in queue order. */
type BookState = Array<{ side: SideCode; tick: number; qty: number; orders: Array<[number, number]> }>;

function bookState(b: L3Book): BookState {
  const out: BookState = [];
  for (const side of [BID, ASK] as SideCode[]) {
    for (let i = 0; i < b.l2.depth(side); i++) {
      const tick = b.l2.levelTick(side, i);
      const orders: Array<[number, number]> = [];
      b.forEachOrderAt(side, tick, (o) => {
        orders.push([o.id, o.qty]);
      });
      out.push({ side, tick, qty: b.l2.levelQty(side, i), orders });
    }
  }
  return out;
}

/** Records every callback; `onFeed` sees feed statuses as they are dispatched. */
class Recorder extends BaseStrategy {
  readonly calls: Array<{ cb: string; ev: Record<string, any> }> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  onFeed?: (status: string) => void;
  constructor(private readonly subs: MDSub[]) {
    super({});
  }
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login('rec');
    env.subscribeToMarketData('SYN', [1], this.subs);
  }
  of(cb: string, clientId?: string) {
    return this.calls.filter((c) => c.cb === cb && (clientId === undefined || c.ev.clientId === clientId || c.ev.clientOrdId === clientId)).map((c) => c.ev);
  }
}
for (const name of Object.getOwnPropertyNames(BaseStrategy.prototype)) {
  if (!name.startsWith('on') || name === 'onFrameworkConnected') continue;
  const orig = (BaseStrategy.prototype as unknown as Record<string, (ev: unknown) => unknown>)[name]!;
  Object.defineProperty(Recorder.prototype, name, {
    configurable: true,
    writable: true,
    value(this: Recorder, ev: Record<string, unknown>) {
      this.calls.push({ cb: name, ev });
      if (name === 'onFeedHandlerStatus') this.onFeed?.(String(ev.status));
      return orig.call(this, ev);
    },
  });
}

/** A RemoteEnv in this process, connected to `url` as `strategy`. */
async function connectRemote(url: string, strategy: string, token: string, subs: MDSub[]) {
  const clock = new LiveClock();
  const strat = new Recorder(subs);
  const client = new GatewayClient({ url, strategy, token, clock, logger: silentLogger(), backoff: { initialMs: 10, maxMs: 50 } });
  const remote = new RemoteEnv({ strategy: strat, client, clock, logger: silentLogger(), syncTimeoutMs: 5_000 });
  cleanup.push(async () => {
    await client.close({ logout: false, graceMs: 50 });
    clock.cancelAll();
  });
  expect(await remote.start()).toBe(true);
  return { remote, client, strat, env: remote.env! };
}

// ------------------------------------------------------------------ b. feed disconnected × 100

describe('the market-data feed disconnected 100 times while data flows', () => {
  it("leaves the strategy's book equal to the venue's after every resync", async () => {
    const t0 = performance.now();
    const TOKEN = 'book-fault-token-3b8d';
    const gw = await startTestGateway({ tokens: { book: TOKEN }, hostOpts: { speed: 20 } });
    cleanup.push(() => gw.close());
    const venueBook = gw.host.books.get(1)!;
    // The venue's book at each snapshot it makes for instrument 1 (subscribe, resync, loop),
    // in order: the strategy must hold exactly that when it sees the snapshot's SnapshotEnd.
    const atSnapshot: BookState[] = [];
    const snapshot = gw.host.snapshot.bind(gw.host);
    gw.host.snapshot = (id: number) => {
      const rows = snapshot(id);
      if (id === 1 && rows.length > 1) atSnapshot.push(bookState(venueBook));
      return rows;
    };

    const a = await connectRemote(gw.url, 'book', TOKEN, [MDSub.OrderBook, MDSub.PriceLevelBook]);
    const feed = a.remote.feed('SYN', 1)!;
    const atEnd: BookState[] = [];
    const atDisconnected: BookState[] = [];
    a.strat.onFeed = (status) => {
      // Dispatched synchronously while the feed applies the row: the book is exactly as of it.
      if (status === 'SnapshotEnd') atEnd.push(bookState(feed.book));
      if (status === 'Disconnected') atDisconnected.push(bookState(feed.book));
    };
    await waitFor(() => atEnd.length === 1, 10_000, 'the first snapshot');
    expect(atEnd[0]).toEqual(atSnapshot[0]);

    const rng = new SeededRng(SEED + 1);
    const N = 100;
    const expectedAtDisconnect: BookState[] = [];
    let compared = 0;
    let levels = 0;
    for (let i = 0; i < N; i++) {
      // Data flows: some market events reach the strategy between two disconnects.
      const md = a.remote.mdEvents;
      await waitFor(() => a.remote.mdEvents > md + 5, 10_000, `market data before disconnect ${i + 1}`);
      const downMs = rng.next() < 0.4 ? 0 : 1 + Math.floor(rng.next() * 30);
      const ends = atEnd.length;
      // The venue's book now is what the strategy must hold when it sees Disconnected: the
      // host publishes what it applied before the Disconnected rows.
      expectedAtDisconnect.push(bookState(venueBook));
      await gw.host.disconnectFeed(downMs);
      await waitFor(() => atEnd.length > ends, 10_000, `resync ${i + 1}`);
      expect(atDisconnected.length, `disconnect ${i + 1} seen`).toBe(i + 1);
      expect(atDisconnected[i], `disconnect ${i + 1}: the live deltas kept the book equal`).toEqual(expectedAtDisconnect[i]);
      for (; compared < atEnd.length; compared++) {
        expect(atEnd[compared], `snapshot ${compared} (resync ${i + 1}, down ${downMs} ms): book = the venue's at the snapshot`).toEqual(atSnapshot[compared]);
        levels += atEnd[compared]!.length;
      }
    }
    expect(atEnd.length).toBe(atSnapshot.length);
    expect(atEnd.length).toBeGreaterThanOrEqual(N + 1);
    expect(a.strat.of('onFeedHandlerStatus').filter((e) => e.status === 'Disconnected')).toHaveLength(N);
    expect(a.remote.phase).toBe('ready');
    // eslint-disable-next-line no-console
    console.log(`feed disconnects: ${N}, snapshots compared ${atEnd.length} (avg ${(levels / atEnd.length).toFixed(1)} levels), md events ${a.remote.mdEvents}; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }, 120_000);
});

// ------------------------------------------------------------------ c. WebSocket cut mid-request

/** A TCP proxy between a client and the gateway that can hold either direction and cut the connection for real. */
class CutProxy {
  private server!: Server;
  port = 0;
  private conn: { c: Socket; g: Socket } | undefined;
  /** Bytes client → gateway held (not forwarded) while `holdUp`; dropped at the cut. */
  up: Buffer[] = [];
  /** Bytes gateway → client held while `holdDown`; dropped at the cut. */
  down: Buffer[] = [];
  holdUp = false;
  holdDown = false;
  cuts = 0;
  connections = 0;

  static async start(targetPort: number): Promise<CutProxy> {
    const p = new CutProxy();
    p.server = createServer((c) => p.accept(c, targetPort));
    await new Promise<void>((resolve) => p.server.listen(0, '127.0.0.1', resolve));
    p.port = (p.server.address() as { port: number }).port;
    return p;
  }

  private accept(c: Socket, targetPort: number): void {
    this.connections++;
    const g = tcpConnect(targetPort, '127.0.0.1');
    const conn = { c, g };
    this.conn = conn;
    c.on('data', (d: Buffer) => (this.holdUp && this.conn === conn ? this.up.push(d) : g.write(d)));
    g.on('data', (d: Buffer) => (this.holdDown && this.conn === conn ? this.down.push(d) : c.write(d)));
    c.on('error', () => undefined);
    g.on('error', () => undefined);
    c.on('close', () => g.destroy());
    g.on('close', () => c.destroy());
  }

  /** Gateway → client messages held so far (complete WebSocket text frames; server frames are not masked). */
  heldDownMessages(): Array<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const b = Buffer.concat(this.down);
    const out: Array<Record<string, any>> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    let i = 0;
    while (i + 2 <= b.length) {
      let len = b[i + 1]! & 0x7f;
      let at = i + 2;
      if (len === 126) {
        if (at + 2 > b.length) break;
        len = b.readUInt16BE(at);
        at += 2;
      } else if (len === 127) {
        if (at + 8 > b.length) break;
        len = Number(b.readBigUInt64BE(at));
        at += 8;
      }
      if (at + len > b.length) break;
      if ((b[i]! & 0x0f) === 1) out.push(JSON.parse(b.subarray(at, at + len).toString('utf8')));
      i = at + len;
    }
    return out;
  }

  heldUpBytes(): number {
    return this.up.reduce((n, b) => n + b.length, 0);
  }

  /** Drops the connection on both sides, and what was held. */
  cut(): void {
    const conn = this.conn;
    this.conn = undefined;
    this.holdUp = this.holdDown = false;
    this.up = [];
    this.down = [];
    this.cuts++;
    conn?.c.destroy();
    conn?.g.destroy();
  }

  close(): Promise<void> {
    this.conn?.c.destroy();
    this.conn?.g.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

type Moment = 'lost' | 'received' | 'answered';
const MOMENTS: Record<Moment, string> = {
  lost: 'before the frame reaches the gateway',
  received: 'after the gateway got it, before its answer',
  answered: 'after the answer left the gateway, before the client read it',
};

describe('the WebSocket cut in the middle of a request', () => {
  it('new_order, cancel_order and modify_order are each done exactly once, at every moment of the cut', async () => {
    const t0 = performance.now();
    const TOKEN = 'cut-fault-token-51aa';
    const gw = await startTestGateway({ tokens: { cut: TOKEN }, hostOpts: { speed: 5 } });
    cleanup.push(() => gw.close());
    const proxy = await CutProxy.start(Number(new URL(gw.url).port));
    cleanup.push(() => proxy.close());
    // What reached the gateway and the venue.
    const received: Array<{ type: string; clientId?: string }> = [];
    const onMessage = gw.server.onMessage.bind(gw.server);
    gw.server.onMessage = (s, msg) => {
      received.push({ type: msg.type, clientId: (msg as { clientId?: string }).clientId });
      onMessage(s, msg);
    };
    let cutAtSubmit: ((req: VenueRequest) => boolean) | undefined;
    const submits = countSubmits(gw);
    const venue = gw.host.venue;
    const submit = venue.submit.bind(venue);
    venue.submit = (req: VenueRequest) => {
      // The gateway has recorded the request and hands it to the venue: cut now, before any answer.
      if (cutAtSubmit?.(req)) {
        cutAtSubmit = undefined;
        proxy.cut();
      }
      submit(req);
    };

    const a = await connectRemote(`ws://127.0.0.1:${proxy.port}/v1`, 'cut', TOKEN, [MDSub.BBO]);
    let readies = 0;
    a.remote.on('ready', () => readies++);
    await waitFor(() => a.strat.of('onBestBidLevelUpdate').length > 0, 10_000, 'market data');
    const bid = () => Number(a.strat.of('onBestBidLevelUpdate').at(-1)!.price);
    let priceN = 0;
    /** A resting buy far below the market (it neither fills nor crosses). */
    const farPrice = () => (Math.floor(bid() * 0.9 * 100 - priceN++) / 100).toFixed(2);

    const place = async (): Promise<string> => {
      const cid = a.env.sendNewOrder({ exchange: 'SYN', instrumentId: 1, side: Side.Buy, price: farPrice(), qty: '3' });
      await waitFor(() => a.strat.of('onNewOrderAck', cid).length === 1, 5_000, `ack of ${cid}`);
      return cid;
    };

    const count = (xs: Array<{ cb: string; clientId: string | undefined }>, cb: string, cid: string) => xs.filter((e) => e.cb === cb && e.clientId === cid).length;
    const results: string[] = [];
    for (const req of ['new_order', 'cancel_order', 'modify_order'] as const) {
      for (const moment of Object.keys(MOMENTS) as Moment[]) {
        const what = `${req} cut ${MOMENTS[moment]}`;
        const cid = req === 'new_order' ? undefined : await place();
        const cutsBefore = proxy.cuts;
        const readyBefore = readies;
        const disconnectsBefore = a.strat.of('onFrameworkDisconnected').length;
        // The request's whole answer (a cancel has two events).
        const answers = req === 'new_order' ? ['onNewOrderAck'] : req === 'cancel_order' ? ['onCancelOrderAck', 'onOrderCancelled'] : ['onModifyOrderAck'];
        const venueType = req === 'new_order' ? 'NewOrder' : req === 'cancel_order' ? 'CancelOrder' : 'ModifyOrder';
        let target = cid;
        if (moment === 'lost') proxy.holdUp = true;
        if (moment === 'answered') proxy.holdDown = true;
        if (moment === 'received') cutAtSubmit = (r) => r.type === venueType && r.clientId === target;
        const newPrice = req === 'modify_order' ? (Number(a.env.getOrder(cid!)!.price) - 0.05).toFixed(2) : undefined;
        if (req === 'new_order') target = a.env.sendNewOrder({ exchange: 'SYN', instrumentId: 1, side: Side.Buy, price: farPrice(), qty: '2' });
        else if (req === 'cancel_order') a.env.sendCancelOrder('SYN', 1, cid!);
        else a.env.sendModifyOrder('SYN', cid!, newPrice, '3');
        const id = target!;
        expect(a.remote.inFlight().map((p) => p.key), what).toContain(`${req === 'new_order' ? 'N' : req === 'cancel_order' ? 'C' : 'M'}:${id}`);
        if (moment === 'lost') {
          await waitFor(() => proxy.heldUpBytes() > 0, 5_000, `${what}: frame held`);
          proxy.cut();
        } else if (moment === 'answered') {
          const held = () => proxy.heldDownMessages().filter((m) => m.type === 'event' && m.ev.clientId === id).map((m) => m.cb as string);
          await waitFor(() => answers.every((cb) => held().includes(cb)), 5_000, `${what}: answer held`);
          proxy.cut();
        }
        await waitFor(() => proxy.cuts === cutsBefore + 1, 5_000, `${what}: the cut`);
        await waitFor(() => readies > readyBefore && a.remote.phase === 'ready', 10_000, `${what}: reconnected and reconciled`);
        await waitFor(() => answers.every((cb) => a.strat.of(cb, id).length >= 1) && a.remote.inFlight().length === 0, 5_000, `${what}: the outcome`);
        await gw.server.idle();
        expect(a.strat.of('onFrameworkDisconnected').length, `${what}: the strategy saw the cut`).toBe(disconnectsBefore + 1);

        // Exactly once: at the gateway, at the venue, in the store, for the strategy.
        const arrived = received.filter((m) => m.type === req && m.clientId === id).length;
        expect(arrived, `${what}: frames of it that reached the gateway`).toBe(1);
        expect(submits.get(`${venueType}:${id}`), `${what}: sent to the venue once`).toBe(1);
        const order = await gw.store.getOrder('cut', id);
        const evs = (await gw.store.orderEvents('cut', id)).map((e) => ({ cb: e.cb, clientId: e.clientId }));
        expect(count(evs, 'onNewOrderAck', id), `${what}: one ack in the store`).toBe(1);
        expect(count(evs, 'onNewOrderReject', id), what).toBe(0);
        expect(a.strat.of('onNewOrderAck', id), `${what}: the strategy got one ack`).toHaveLength(1);
        expect(a.strat.of('onNewOrderReject', id), what).toHaveLength(0);
        if (req === 'new_order') {
          expect(order?.status, what).toBe(OrderStatus.Open);
          expect(order?.qty, what).toBe('2');
        } else if (req === 'cancel_order') {
          expect(count(evs, 'onCancelOrderAck', id), `${what}: one cancel ack in the store`).toBe(1);
          expect(count(evs, 'onOrderCancelled', id), `${what}: cancelled once`).toBe(1);
          expect(count(evs, 'onCancelOrderReject', id), `${what}: no second cancel`).toBe(0);
          expect(a.strat.of('onOrderCancelled', id), what).toHaveLength(1);
          expect(a.strat.of('onCancelOrderReject', id), what).toHaveLength(0);
          expect(order?.status, what).toBe(OrderStatus.Cancelled);
        } else {
          expect(count(evs, 'onModifyOrderAck', id), `${what}: one modify ack in the store`).toBe(1);
          expect(count(evs, 'onModifyOrderReject', id), `${what}: no second modify`).toBe(0);
          expect(a.strat.of('onModifyOrderAck', id), what).toHaveLength(1);
          expect(a.strat.of('onModifyOrderReject', id), what).toHaveLength(0);
          expect(new Decimal(order!.price).toString(), what).toBe(new Decimal(newPrice!).toString());
          expect(order?.status, what).toBe(OrderStatus.Open);
        }
        // The strategy's tracker agrees with the store.
        const mine = a.env.getOrder(id)!;
        expect([mine.status, mine.price.toString(), mine.leavesQty.toString()], `${what}: tracker = store`).toEqual([order!.status, new Decimal(order!.price).toString(), order!.leavesQty]);
        results.push(`${req}/${moment}`);
      }
    }
    expect(results).toHaveLength(9);
    // eslint-disable-next-line no-console
    console.log(`WebSocket cuts: ${results.length} (${proxy.connections} connections through the proxy); ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }, 120_000);
});
