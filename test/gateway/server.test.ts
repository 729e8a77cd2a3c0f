/**
 * The gateway server end to end: a raw `ws` client on loopback against a server hosting a
 * synthetic venue. Every case reads frames as a client in another language would.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CancelCode, RejectCode } from '../../src/api/codes.js';
import { Price } from '../../src/api/decimal.js';
import { OrderStatus, Side } from '../../src/api/enums.js';
import { L3Book } from '../../src/book/l3-book.js';
import { MdStatus, MdType, type MdEvent } from '../../src/data/events.js';
import { ProtocolErrorCode, serializeFrame } from '../../src/gateway/protocol.js';
import { CommandError, GROUP_COMMIT_MAX_HOLD_US } from '../../src/gateway/server.js';
import { LiveClock } from '../../src/core/clock.js';
import { ConstantLatencyModel } from '../../src/sim/latency.js';
import { SqliteOrderStore } from '../../src/store/sqlite-store.js';
import { RawClient, TOKENS, sleep, startTestGateway, syntheticHost, type Frame, type TestGateway } from './harness.js';

const open: TestGateway[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const g of open.splice(0)) await g.close();
});

async function gateway(opts: Parameters<typeof startTestGateway<SqliteOrderStore>>[0] = {}): Promise<TestGateway> {
  const g = await startTestGateway(opts);
  open.push(g);
  return g;
}
async function client(g: TestGateway): Promise<RawClient> {
  const c = await RawClient.connect(g.url);
  clients.push(c);
  return c;
}
async function loggedIn(g: TestGateway, strategy: 'alpha' | 'beta' = 'alpha', resume?: number): Promise<RawClient> {
  const c = await client(g);
  const ack = await c.login(strategy, TOKENS[strategy], resume);
  expect(ack.type).toBe('login_ack');
  return c;
}

/** A price `ticksAway` ticks below the best bid (tick 0.01): rests without filling. */
function passiveBid(g: TestGateway, ticksAway = 200): string {
  const bid = g.host.books.get(1)!.l2.bestBidTick();
  // Canonical decimal form, as the wire carries it ('98', not '98.00').
  return Price.of(((bid - ticksAway) / 100).toFixed(2)).toString();
}

function newOrder(clientId: string, price: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'new_order', reqId: `r-${clientId}`, exchange: 'SYN', instrumentId: 1, clientId, side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: [], price, qty: '10', ...extra };
}

/** Applies md rows to a client-side book, as a client library would. */
function applyRows(book: L3Book, rows: number[][]): void {
  for (const r of rows) {
    const ev: MdEvent = { type: r[0] as MdEvent['type'], instrumentId: r[1]!, exchTs: r[2]!, localTs: r[3]!, side: r[4] as MdEvent['side'], orderId: r[5]!, priceTick: r[6]!, qty: r[7]!, status: r[8]! };
    book.apply(ev);
  }
}

/** The whole book as comparable data: per side, per level, the order ids and qtys in queue order. */
function dump(book: L3Book): unknown {
  const out: unknown[] = [];
  for (const side of [1, -1] as const) {
    for (let i = 0; i < book.l2.depth(side); i++) {
      const tick = book.l2.levelTick(side, i);
      const orders: number[][] = [];
      book.forEachOrderAt(side, tick, (o) => {
        orders.push([o.id, o.qty]);
      });
      out.push([side, tick, book.l2.levelQty(side, i), orders]);
    }
  }
  return out;
}

describe('login', () => {
  it('accepts a good token and lists the venues', async () => {
    const g = await gateway();
    const c = await client(g);
    const ack = await c.login('alpha', TOKENS.alpha);
    expect(ack).toMatchObject({ type: 'login_ack', reqId: 'login-alpha', lastEventSeq: 0, heartbeatMs: 5000, heartbeatTimeoutMs: 15000 });
    expect(ack.venues).toEqual([{ exchange: 'SYN', status: 'ReadyToTrade', instruments: [expect.objectContaining({ instrumentId: 1, exchange: 'SYN', tickSize: '0.01' })] }]);
    expect(g.server.connectedStrategies()).toEqual(['alpha']);
  });

  it('refuses a wrong token and an unknown strategy alike, then closes with 4011', async () => {
    const g = await gateway();
    for (const [name, token] of [
      ['alpha', 'beta-secret'],
      ['nobody', 'alpha-secret'],
    ]) {
      const c = await client(g);
      const err = await c.login(name!, token!);
      expect(err).toMatchObject({ type: 'error', code: ProtocolErrorCode.BadCredentials, reason: 'bad credentials', fatal: true, reqId: `login-${name}` });
      expect((await c.closed).code).toBe(4011);
    }
    expect(g.server.connectedStrategies()).toEqual([]);
  });

  it('replaces the live session of a strategy by a new login (default), the old one gets 4012 and a normal close', async () => {
    const g = await gateway();
    const c1 = await loggedIn(g);
    const c2 = await loggedIn(g);
    const err = await c1.nextType('error');
    expect(err).toMatchObject({ code: ProtocolErrorCode.AlreadyLoggedIn, fatal: true });
    expect((await c1.closed).code).toBe(1000);
    c2.send({ type: 'sync', reqId: 'y' });
    expect(await c2.nextType('sync_result')).toMatchObject({ reqId: 'y' });
    expect(g.server.connectedStrategies()).toEqual(['alpha']);
  });

  it('refuses the second login with sessionTakeover refuse; the first session goes on', async () => {
    const g = await gateway({ sessionTakeover: 'refuse' });
    const c1 = await loggedIn(g);
    const c2 = await client(g);
    expect(await c2.login('alpha', TOKENS.alpha)).toMatchObject({ type: 'error', code: ProtocolErrorCode.AlreadyLoggedIn, fatal: true });
    expect((await c2.closed).code).toBe(4012);
    c1.send({ type: 'sync', reqId: 'y' });
    expect(await c1.nextType('sync_result')).toMatchObject({ reqId: 'y' });
  });

  it('closes with 4013 when nobody logs in, and 4006 for a second login on one connection', async () => {
    const g = await gateway({ limits: { loginTimeoutMs: 150 } });
    const c = await client(g);
    expect(await c.nextType('error')).toMatchObject({ code: ProtocolErrorCode.LoginTimeout, fatal: true });
    expect((await c.closed).code).toBe(4013);
    const d = await loggedIn(g);
    d.send({ type: 'login', reqId: 'again', strategy: 'alpha', token: TOKENS.alpha });
    expect(await d.nextType('error')).toMatchObject({ code: ProtocolErrorCode.UnexpectedMessage, reqId: 'again' });
  });
});

describe('edge checks', () => {
  it('answers malformed and unknown frames with error codes and keeps the connection', async () => {
    const g = await gateway();
    const c = await client(g);
    c.sendRaw('{not json');
    expect(await c.nextType('error')).toMatchObject({ code: ProtocolErrorCode.MalformedJson });
    c.sendRaw('[1,2]');
    expect(await c.nextType('error')).toMatchObject({ code: ProtocolErrorCode.NotAnObject });
    c.send({ type: 'frobnicate', reqId: 'x1' });
    expect(await c.nextType('error')).toMatchObject({ code: ProtocolErrorCode.UnknownType, reqId: 'x1' });
    c.send({ type: 'sync', reqId: 'x2' });
    expect(await c.nextType('error')).toMatchObject({ code: ProtocolErrorCode.NotLoggedIn, reqId: 'x2' });
    expect((await c.login('alpha', TOKENS.alpha)).type).toBe('login_ack');
    c.send({ ...newOrder('a-1', '1.00'), price: 1.5 });
    expect(await c.nextType('error')).toMatchObject({ code: ProtocolErrorCode.InvalidFields, reqId: 'r-a-1' });
    c.send({ ...newOrder('a-2', '1.00'), colour: 'red' });
    const unknownField = await c.nextType('error');
    expect(unknownField.code).toBe(ProtocolErrorCode.InvalidFields);
    expect(unknownField.reason).toMatch(/colour/);
    // Still alive and working.
    c.send({ type: 'sync', reqId: 'y' });
    expect(await c.nextType('sync_result')).toMatchObject({ reqId: 'y', orders: [] });
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  it('reports a sequence gap once and processes the frame', async () => {
    const g = await gateway();
    const c = await loggedIn(g);
    c.nextSeq(); // skip one
    c.send({ type: 'sync', reqId: 'y' });
    expect(await c.nextType('error')).toMatchObject({ code: ProtocolErrorCode.SequenceGap, reqId: 'y' });
    expect(await c.nextType('sync_result')).toMatchObject({ reqId: 'y' });
  });

  it('closes an oversized frame with 4020', async () => {
    const g = await gateway({ limits: { maxFrameBytes: 1024 } });
    const c = await client(g);
    c.send({ type: 'heartbeat', ts: 1, pad: 'x'.repeat(2000) });
    expect(await c.nextType('error')).toMatchObject({ code: ProtocolErrorCode.FrameTooLarge, fatal: true });
    expect((await c.closed).code).toBe(4020);
  });

  it('closes a flood with 4021', async () => {
    const g = await gateway({ limits: { maxMsgsPerSec: 5, burstMsgs: 10 } });
    const c = await loggedIn(g);
    for (let i = 0; i < 30; i++) c.send({ type: 'heartbeat', ts: 1 });
    expect(await c.nextType('error')).toMatchObject({ code: ProtocolErrorCode.RateLimited, fatal: true });
    expect((await c.closed).code).toBe(4021);
  });

  it('closes after too many bad frames with 4022', async () => {
    const g = await gateway({ limits: { maxBadFramesPerMin: 3 } });
    const c = await client(g);
    for (let i = 0; i < 4; i++) c.sendRaw('nope');
    expect(await c.next((f) => f.code === ProtocolErrorCode.TooManyBadFrames)).toMatchObject({ fatal: true });
    expect((await c.closed).code).toBe(4022);
  });

  it('sends heartbeats when idle and closes with 4023 on silence', async () => {
    const g = await gateway({ limits: { heartbeatMs: 80, heartbeatTimeoutMs: 400 } });
    const c = await loggedIn(g);
    expect(await c.nextType('heartbeat')).toMatchObject({ ts: expect.any(Number) });
    expect((await c.closed).code).toBe(4023);
  });
});

describe('market data', () => {
  it('subscribe gives an ack, a snapshot, then live md', async () => {
    const g = await gateway();
    const c = await loggedIn(g);
    c.send({ type: 'subscribe', reqId: 's1', exchange: 'SYN', instrumentIds: [1], subs: ['BBO'] });
    await c.nextType('subscribe_ack', { reqId: 's1' });
    const snap = await c.nextType('md');
    expect(snap.exchange).toBe('SYN');
    const rows = snap.events as number[][];
    expect(rows[0]).toEqual([MdType.Status, 1, expect.any(Number), expect.any(Number), 0, 0, 0, 0, MdStatus.SnapshotStart]);
    expect(rows[1]![0]).toBe(MdType.Clear);
    expect(rows.at(-1)![8]).toBe(MdStatus.SnapshotEnd);
    expect(rows.slice(2, -1).every((r) => r[0] === MdType.OrderAdd)).toBe(true);
    const live = await c.nextType('md');
    expect(live.events.length).toBeGreaterThan(0);
    expect(live.events[0][3]).toBeGreaterThanOrEqual(rows[0]![3]!);

    c.send({ type: 'subscribe', reqId: 's2', exchange: 'NOPE', instrumentIds: [1], subs: ['BBO'] });
    expect(await c.nextType('error', { reqId: 's2' })).toMatchObject({ code: ProtocolErrorCode.UnknownExchange });
    c.send({ type: 'subscribe', reqId: 's3', exchange: 'SYN', instrumentIds: [1, 99], subs: ['BBO'] });
    expect(await c.nextType('error', { reqId: 's3' })).toMatchObject({ code: ProtocolErrorCode.UnknownInstrument });
  });

  it('fans the same md out to every subscriber, as text frames serializeFrame would write, each with its own seq', async () => {
    const g = await gateway();
    const a = await loggedIn(g, 'alpha');
    const b = await loggedIn(g, 'beta');
    const raw = new Map<RawClient, { text: string; binary: boolean }[]>([
      [a, []],
      [b, []],
    ]);
    for (const [c, texts] of raw) c.ws.on('message', (d, isBinary) => texts.push({ text: String(d), binary: isBinary }));
    a.send({ type: 'subscribe', reqId: 'sa', exchange: 'SYN', instrumentIds: [1], subs: ['OrderBook'] });
    await a.nextType('subscribe_ack');
    await a.nextType('md'); // the snapshot
    await a.nextType('md'); // live: alpha is now ahead of beta in frame numbers
    b.send({ type: 'subscribe', reqId: 'sb', exchange: 'SYN', instrumentIds: [1], subs: ['OrderBook'] });
    await b.nextType('subscribe_ack');
    // The snapshot, then live batches (each frame of a batch goes to both).
    const snapshotEnd = await b.next((f) => f.type === 'md' && (f.events as number[][]).at(-1)![8] === MdStatus.SnapshotEnd);
    for (let i = 0; i < 5; i++) await b.next((f) => f.type === 'md' && f.seq > snapshotEnd.seq + i);
    const md = (c: RawClient) =>
      raw.get(c)!.flatMap(({ text, binary }) => {
        const f = JSON.parse(text) as Frame;
        if (f.type !== 'md') return [];
        expect(binary).toBe(false);
        expect(text).toBe(serializeFrame({ type: 'md', exchange: f.exchange, events: f.events }, f.seq));
        return [{ seq: f.seq as number, events: JSON.stringify(f.events) }];
      });
    const live = md(b).filter((f) => f.seq > snapshotEnd.seq);
    // Beta's socket may be read before alpha's: wait until alpha has read the first of them.
    for (let t = 0; t < 200 && !md(a).some((f) => f.events === live[0]!.events); t++) await sleep(10);
    const ofA = md(a);
    const start = ofA.findIndex((f) => f.events === live[0]!.events);
    expect(start).toBeGreaterThan(0);
    // And alpha may still be behind at the end: compare what both have received.
    const n = Math.min(live.length, ofA.length - start);
    expect(n).toBeGreaterThanOrEqual(3);
    const same = ofA.slice(start, start + n);
    expect(same.map((f) => f.events)).toEqual(live.slice(0, n).map((f) => f.events));
    // Each numbered on from its own earlier frames (md flows, so no heartbeat falls between).
    const offset = same[0]!.seq - live[0]!.seq;
    expect(offset).toBeGreaterThan(0);
    expect(same.map((f, i) => f.seq - live[i]!.seq)).toEqual(same.map(() => offset));
  });

  it('after a feed disconnect, subscribers get Disconnected, then a snapshot that makes their book equal the venue book', async () => {
    // A finite, non-looping market, so that the books are still at the end and can be compared.
    const g = await gateway({ hostOpts: { events: 4000, speed: 10, loop: false } });
    const a = await loggedIn(g, 'alpha');
    const b = await loggedIn(g, 'beta');
    const book = new L3Book();
    a.send({ type: 'subscribe', reqId: 's1', exchange: 'SYN', instrumentIds: [1], subs: ['OrderBook'] });
    await a.nextType('subscribe_ack');
    let disconnectedAt = -1;
    let resyncedAt = -1;
    let rowsSeen = 0;
    a.ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as Frame;
      if (f.type !== 'md') return;
      const rows = f.events as number[][];
      for (const r of rows) {
        rowsSeen++;
        if (r[0] === MdType.Status && r[8] === MdStatus.Disconnected && disconnectedAt < 0) disconnectedAt = rowsSeen;
        if (r[0] === MdType.Status && r[8] === MdStatus.SnapshotStart && disconnectedAt > 0 && resyncedAt < 0) resyncedAt = rowsSeen;
      }
      applyRows(book, rows);
    });
    await sleep(150);
    const back = g.host.disconnectFeed(150);
    // Every connected strategy hears about it, subscribed or not.
    expect(await b.nextType('gateway_status')).toMatchObject({ exchange: 'SYN', status: 'Connecting' });
    await back;
    expect(await b.nextType('gateway_status')).toMatchObject({ exchange: 'SYN', status: 'ReadyToTrade' });
    // Run to the end of the data: the venue closes (Maintenance) and its books stop moving.
    await a.next((f) => f.type === 'gateway_status' && f.status === 'Maintenance', 10_000);
    await sleep(50);
    expect(disconnectedAt).toBeGreaterThan(0);
    expect(resyncedAt).toBeGreaterThan(disconnectedAt);
    expect(dump(book)).toEqual(dump(g.host.books.get(1)!));
    expect(book.size).toBeGreaterThan(0);
  });
});

describe('orders', () => {
  it('records a new order before it reaches the venue, and commits it with the ack before the ack is sent', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'tl-gw-')), 'store.db');
    // A venue answering at once: the order and its ack fall in one group (the hold is long, so
    // that a slow first run of the code cannot commit the order on its own).
    const g = await gateway({
      store: new SqliteOrderStore(path, { synchronous: 'NORMAL' }),
      groupCommitMaxHoldUs: 5_000_000,
      hostOpts: { sim: { latency: new ConstantLatencyModel({ entryUs: 0, responseUs: 0 }) } },
    });
    // Another connection, as `tradeloop orders` would open: it sees committed rows only.
    const reader = new SqliteOrderStore(path, { readonly: true });
    const c = await loggedIn(g);
    let seenInStore: unknown;
    c.ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as Frame;
      if (f.type === 'event' && f.cb === 'onNewOrderAck' && seenInStore === undefined) {
        // Synchronously, on arrival of the frame: the order, acked, and the event are committed.
        seenInStore = Promise.all([reader.getOrder('alpha', 'a-1'), reader.eventsSince('alpha', f.eventSeq - 1, 1)]);
      }
    });
    let orderAtVenue: unknown;
    const submit = g.host.venue.submit.bind(g.host.venue);
    g.host.venue.submit = (req) => {
      if (req.type === 'NewOrder') orderAtVenue = g.store.getOrder('alpha', req.clientId);
      submit(req);
    };
    // One commit for the order and its ack (group commit with an in-process venue).
    let commits = 0;
    const commitGroup = g.store.commitGroup.bind(g.store);
    g.store.commitGroup = () => {
      if (g.store.groupOpen) {
        commits++;
      }
      commitGroup();
    };
    const price = passiveBid(g);
    c.send(newOrder('a-1', price));
    const ack = await c.nextEvent('onNewOrderAck');
    expect(ack).toMatchObject({ eventSeq: 1, ev: { exchange: 'SYN', clientId: 'a-1', price, qty: '10', leavesQty: '10', side: 'Buy' } });
    const [order, events] = (await seenInStore) as [Awaited<ReturnType<SqliteOrderStore['getOrder']>>, Awaited<ReturnType<SqliteOrderStore['eventsSince']>>];
    expect(order).toMatchObject({ status: OrderStatus.Open, acked: true, price, exchangeId: ack.ev.exchangeId });
    expect(events.map((e) => [e.seq, e.cb])).toEqual([[1, 'onNewOrderAck']]);
    expect(await orderAtVenue).toMatchObject({ status: OrderStatus.PendingNew, clientId: 'a-1' });
    expect(commits).toBe(1);
    await reader.close();
  });

  it('cancel_all: its ack and every cancel it causes are committed once and sent together, numbered in order', async () => {
    const g = await gateway({ groupCommitMaxHoldUs: 5_000_000, hostOpts: { sim: { latency: new ConstantLatencyModel({ entryUs: 0, responseUs: 0 }) } } });
    const c = await loggedIn(g);
    const N = 40;
    for (let i = 0; i < N; i++) {
      c.send(newOrder(`k-${i}`, passiveBid(g, 200 + i)));
      await c.nextEvent('onNewOrderAck', { clientId: `k-${i}` });
    }
    let commits = 0;
    const commitGroup = g.store.commitGroup.bind(g.store);
    g.store.commitGroup = () => {
      if (g.store.groupOpen) commits++;
      commitGroup();
    };
    // Writes of the gateway's socket while the cancels go out: the uncorks that release it
    // (ws corks each frame's header and payload too).
    const sockets = [...g.server['sessions']].map((s) => (s as unknown as { deps: { socket: { uncork(): void; writableCorked: number } } }).deps.socket);
    let writes = 0;
    for (const sock of sockets) {
      const uncork = sock.uncork.bind(sock);
      sock.uncork = () => {
        if (sock.writableCorked === 1) writes++;
        uncork();
      };
    }
    const from = c.frames.length;
    c.send({ type: 'cancel_all', exchange: 'SYN', instrumentId: 1 });
    await c.nextEvent('onCancelAllAck');
    for (let i = 0; i < N; i++) await c.nextEvent('onOrderCancelled', { clientId: `k-${i}` });
    const got = c.frames.slice(from).filter((f) => f.type === 'event');
    expect(got).toHaveLength(N + 1);
    expect(got.map((f) => f.seq)).toEqual(got.map((_, i) => got[0]!.seq + i));
    expect(got.map((f) => f.eventSeq)).toEqual(got.map((_, i) => got[0]!.eventSeq + i));
    expect(commits).toBe(1);
    expect(writes).toBe(1);
    expect((await g.store.listOrders({ strategy: 'alpha', open: true })).length).toBe(0);
  });

  it('commits the order before it goes to a venue outside the process', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'tl-gw-')), 'store.db');
    const clock = new LiveClock();
    const inner = syntheticHost(clock);
    // The same venue, declared outside the process (as a live venue adapter would be).
    const outside = new Proxy(inner, { get: (t, k) => (k === 'inProcess' ? false : Reflect.get(t, k, t)) });
    const g = await gateway({ clock, store: new SqliteOrderStore(path, { synchronous: 'NORMAL' }), venues: [outside] });
    const reader = new SqliteOrderStore(path, { readonly: true });
    let committedAtVenue: unknown;
    const submit = inner.venue.submit.bind(inner.venue);
    inner.venue.submit = (req) => {
      if (req.type === 'NewOrder') committedAtVenue = reader.getOrder('alpha', req.clientId);
      submit(req);
    };
    const c = await loggedIn(g);
    c.send(newOrder('x-1', passiveBid({ ...g, host: inner })));
    await c.nextEvent('onNewOrderAck');
    expect(await committedAtVenue).toMatchObject({ status: OrderStatus.PendingNew, clientId: 'x-1' });
    await reader.close();
  });

  it('a failed commit sends nothing that depended on it and stops the gateway', async () => {
    const g = await gateway();
    const c = await loggedIn(g);
    // The COMMIT itself fails (as on a full disk); the store rolls the group back.
    (g.store as unknown as { st: { commit: { run(): void } } }).st.commit = {
      run() {
        throw new Error('disk I/O error');
      },
    };
    c.send(newOrder('a-1', passiveBid(g)));
    expect((await c.closed).code).toBe(ProtocolErrorCode.GatewayShutdown);
    expect(c.frames.filter((f) => f.type === 'event' && f.cb === 'onNewOrderAck')).toEqual([]);
  });

  it(`commits writes that nothing sends within ${GROUP_COMMIT_MAX_HOLD_US} µs`, async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'tl-gw-')), 'store.db');
    const seed = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    await seed.insertOrder({ strategy: 'alpha', clientId: 'left-open', exchange: 'SYN', instrumentId: 1, side: Side.Buy, orderType: 'Limit' as never, tif: 'GTC' as never, execInstr: [], price: '90', qty: '1', createdTs: 1 });
    await seed.close();
    const reader = new SqliteOrderStore(path, { readonly: true });
    // At start the gateway records the order left open as cancelled; nobody is connected to be sent it.
    await gateway({ store: new SqliteOrderStore(path, { synchronous: 'NORMAL' }) });
    await sleep(30);
    expect((await reader.getOrder('alpha', 'left-open'))!.status).toBe(OrderStatus.Cancelled);
    await reader.close();
  });

  it('modifies and cancels through the store, and validates at the edge', async () => {
    const g = await gateway();
    const c = await loggedIn(g);
    const price = passiveBid(g);
    c.send(newOrder('a-1', price));
    await c.nextEvent('onNewOrderAck');
    const newPrice = passiveBid(g, 250);
    c.send({ type: 'modify_order', exchange: 'SYN', instrumentId: 1, clientId: 'a-1', newPrice });
    expect(await c.nextEvent('onModifyOrderAck')).toMatchObject({ ev: { newPrice, newQty: '10' } });
    expect(await g.store.getOrder('alpha', 'a-1')).toMatchObject({ price: newPrice, status: OrderStatus.Open });
    c.send({ type: 'cancel_order', exchange: 'SYN', instrumentId: 1, clientId: 'a-1' });
    await c.nextEvent('onCancelOrderAck');
    expect(await c.nextEvent('onOrderCancelled')).toMatchObject({ ev: { cancelCode: CancelCode.Requested } });
    expect((await g.store.getOrder('alpha', 'a-1'))!.status).toBe(OrderStatus.Cancelled);
    // Edge validation: the reject events carry the API codes and are recorded like any event.
    c.send(newOrder('a-2', '99.005'));
    expect(await c.nextEvent('onNewOrderReject')).toMatchObject({ ev: { clientId: 'a-2', rejectCode: RejectCode.PriceOffTick } });
    c.send(newOrder('a-3', '99.00', { instrumentId: 42 }));
    expect(await c.nextEvent('onNewOrderReject')).toMatchObject({ ev: { clientId: 'a-3', rejectCode: RejectCode.UnknownInstrument } });
    c.send(newOrder('a-4', '99.00', { qty: '0' }));
    expect(await c.nextEvent('onNewOrderReject')).toMatchObject({ ev: { clientId: 'a-4', rejectCode: RejectCode.InvalidQty } });
    c.send(newOrder('a-5', '99.00', { exchange: 'ELSEWHERE' }));
    expect(await c.nextEvent('onNewOrderReject')).toMatchObject({ ev: { clientId: 'a-5', rejectCode: RejectCode.UnknownExchange } });
    c.send({ type: 'cancel_order', exchange: 'SYN', instrumentId: 1, clientId: 'a-1' });
    expect(await c.nextEvent('onCancelOrderReject')).toMatchObject({ ev: { clientId: 'a-1', rejectCode: RejectCode.OrderClosed } });
    expect(await g.store.listOrders({ strategy: 'alpha' })).toHaveLength(1);
  });

  it('answers a repeated new_order with the recorded events and never creates a second order', async () => {
    const g = await gateway();
    const c = await loggedIn(g);
    const msg = newOrder('a-1', passiveBid(g));
    c.send(msg);
    const ack = await c.nextEvent('onNewOrderAck');
    c.close();
    // A reconnect, and the client resends the request whose outcome it did not process.
    const d = await loggedIn(g);
    d.send(msg);
    const again = await d.nextEvent('onNewOrderAck');
    expect(again.eventSeq).toBe(ack.eventSeq);
    expect(again.ev).toEqual(ack.ev);
    // The same client id with other fields is refused.
    d.send({ ...msg, qty: '11' });
    expect(await d.nextEvent('onNewOrderReject')).toMatchObject({ ev: { clientId: 'a-1', rejectCode: RejectCode.DuplicateClientId } });
    await g.server.idle();
    await sleep(20);
    expect(await g.store.listOrders({ strategy: 'alpha' })).toHaveLength(1);
    expect((await g.store.getOrder('alpha', 'a-1'))!.status).toBe(OrderStatus.Open);
    // And the venue holds one order of alpha.
    d.send({ type: 'fetch', exchange: 'SYN', what: 'OrdersInfo' });
    expect((await d.nextEvent('onOrdersInfo')).ev.orders.map((o: Frame) => o.clientOrdId)).toEqual(['a-1']);
  });

  it('keeps strategies apart: one cannot cancel or see the other’s orders', async () => {
    const g = await gateway();
    const a = await loggedIn(g, 'alpha');
    const b = await loggedIn(g, 'beta');
    a.send(newOrder('x-1', passiveBid(g)));
    await a.nextEvent('onNewOrderAck');
    b.send({ type: 'cancel_order', exchange: 'SYN', instrumentId: 1, clientId: 'x-1' });
    expect(await b.nextEvent('onCancelOrderReject')).toMatchObject({ ev: { clientId: 'x-1', rejectCode: RejectCode.UnknownOrder } });
    b.send({ type: 'cancel_all', exchange: 'SYN', instrumentId: 1 });
    await b.nextEvent('onCancelAllAck');
    // The same client id is free for beta: its own order.
    b.send(newOrder('x-1', passiveBid(g, 300)));
    await b.nextEvent('onNewOrderAck');
    await sleep(20);
    expect((await g.store.getOrder('alpha', 'x-1'))!.status).toBe(OrderStatus.Open);
    expect((await g.store.getOrder('beta', 'x-1'))!.status).toBe(OrderStatus.Open);
    expect(a.frames.filter((f) => f.type === 'event').map((f) => f.cb)).toEqual(['onNewOrderAck']);
    b.send({ type: 'sync', reqId: 'y' });
    const sync = await b.nextType('sync_result');
    expect(sync.orders.map((o: Frame) => o.clientOrdId)).toEqual(['x-1']);
  });

  it('keeps orders living while the strategy is away and replays what it missed on resume', async () => {
    const g = await gateway();
    const c = await loggedIn(g);
    c.send(newOrder('a-1', passiveBid(g)));
    const ack = await c.nextEvent('onNewOrderAck');
    // A marketable order sent just before the connection drops: its ack and fills happen while away.
    c.send({ ...newOrder('a-2', '0'), orderType: 'Market', tif: 'IOC', price: undefined, qty: '5' });
    c.ws.terminate();
    await c.closed;
    await sleep(50);
    await g.server.idle();
    const last = await g.store.lastEventSeq('alpha');
    expect(last).toBeGreaterThan(ack.eventSeq + 1);
    const d = await client(g);
    const lack = await d.login('alpha', TOKENS.alpha, ack.eventSeq);
    expect(lack.lastEventSeq).toBe(last);
    const replayed: Frame[] = [];
    for (let seq = ack.eventSeq + 1; seq <= last; seq++) replayed.push(await d.next((f) => f.type === 'event' && f.eventSeq === seq));
    expect(replayed.map((f) => f.cb)[0]).toBe('onNewOrderAck');
    expect(replayed.map((f) => f.cb)).toContain('onOrderExecution');
    // The replay comes first, before anything live, right after the login_ack.
    const idx = d.frames.indexOf(lack);
    expect(d.frames.slice(idx + 1, idx + 1 + replayed.length).map((f) => f.eventSeq)).toEqual(replayed.map((f) => f.eventSeq));
    // The resting order is still at the venue.
    expect((await g.store.getOrder('alpha', 'a-1'))!.status).toBe(OrderStatus.Open);

    // A resume point beyond the gateway's history: 4014, nothing replayed.
    const e = await client(g);
    await e.login('alpha', TOKENS.alpha, last + 10);
    expect(await e.nextType('error')).toMatchObject({ code: ProtocolErrorCode.ResumeUnavailable });
  });

  it('sync returns the open orders and non-zero positions as of lastEventSeq', async () => {
    const g = await gateway();
    const c = await loggedIn(g);
    const price = passiveBid(g);
    c.send(newOrder('a-1', price));
    await c.nextEvent('onNewOrderAck');
    c.send({ ...newOrder('a-2', '0'), orderType: 'Market', tif: 'IOC', price: undefined, qty: '3' });
    await c.nextEvent('onOrderExecution', { clientId: 'a-2' });
    await sleep(30);
    c.send({ type: 'sync', reqId: 'y1' });
    const s = await c.nextType('sync_result', { reqId: 'y1' });
    expect(s.orders).toEqual([
      { exchange: 'SYN', instrumentId: 1, clientOrdId: 'a-1', exchOrdId: expect.stringMatching(/^SYN-/), side: 'Buy', price, leavesQty: '10', status: 'Open', orderType: 'Limit', tif: 'GTC', execInstr: [] },
    ]);
    const filled = (await g.store.fills('alpha', 'a-2')).reduce((n, f) => n + Number(f.qty), 0);
    expect(s.positions).toEqual([{ exchange: 'SYN', instrumentId: 1, position: String(filled) }]);
    expect(s.lastEventSeq).toBe(await g.store.lastEventSeq('alpha'));
  });

  it('applies the gateway-wide rate limit: onRateLimitInfo at 50 % and 100 %, then RateLimited rejects', async () => {
    const g = await gateway({ rateLimit: { default: { limit: 4, windowMs: 3_600_000 }, strategies: {} } });
    const c = await loggedIn(g);
    for (let i = 1; i <= 5; i++) c.send(newOrder(`a-${i}`, passiveBid(g, 200 + i)));
    const reject = await c.nextEvent('onNewOrderReject');
    expect(reject.ev).toMatchObject({ clientId: 'a-5', rejectCode: RejectCode.RateLimited });
    await sleep(30);
    const infos = c.frames.filter((f) => f.cb === 'onRateLimitInfo').map((f) => f.ev);
    expect(infos).toEqual([
      { exchange: 'SYN', rateLimit: 4, rateRemaining: 2, resetTs: expect.any(Number) },
      { exchange: 'SYN', rateLimit: 4, rateRemaining: 0, resetTs: expect.any(Number) },
    ]);
    expect(c.frames.filter((f) => f.cb === 'onNewOrderAck')).toHaveLength(4);
    expect(await g.store.listOrders({ strategy: 'alpha' })).toHaveLength(4);
    // Fetches are free, and beta has its own budget.
    c.send({ type: 'fetch', exchange: 'SYN', what: 'AccountInfo' });
    expect(await c.nextEvent('onAccountInfo')).toMatchObject({ ev: { userId: 'alpha' } });
    const b = await loggedIn(g, 'beta');
    b.send(newOrder('b-1', passiveBid(g)));
    await b.nextEvent('onNewOrderAck');
  });

  it('answers a retry with its recorded events even when the limit is spent, and a retry costs nothing', async () => {
    const g = await gateway({ rateLimit: { default: { limit: 2, windowMs: 3_600_000 }, strategies: {} } });
    const c = await loggedIn(g);
    const first = newOrder('a-1', passiveBid(g, 201));
    c.send(first);
    const ack = await c.nextEvent('onNewOrderAck');
    // Retries are free: two of them, and a second order still fits in the window of 2.
    c.send(first);
    c.send(first);
    c.send(newOrder('a-2', passiveBid(g, 202)));
    expect((await c.nextEvent('onNewOrderAck', { clientId: 'a-2' })).ev.clientId).toBe('a-2');
    expect(c.frames.filter((f) => f.cb === 'onNewOrderAck' && f.ev.clientId === 'a-1').map((f) => f.eventSeq)).toEqual([ack.eventSeq, ack.eventSeq, ack.eventSeq]);
    // The window is spent: a new order is refused, a retry still gets its answer.
    c.send(newOrder('a-3', passiveBid(g, 203)));
    expect(await c.nextEvent('onNewOrderReject')).toMatchObject({ ev: { clientId: 'a-3', rejectCode: RejectCode.RateLimited } });
    c.send(first);
    await g.server.idle();
    await sleep(20);
    expect(c.frames.filter((f) => f.cb === 'onNewOrderAck' && f.ev.clientId === 'a-1')).toHaveLength(4);
    expect(c.frames.filter((f) => f.cb === 'onNewOrderReject' && f.ev.clientId === 'a-1')).toEqual([]);
    expect((await g.store.listOrders({ strategy: 'alpha' })).map((o) => o.clientId)).toEqual(['a-1', 'a-2']);
  });
});

describe('control and lifecycle', () => {
  it('relays commands to a strategy and returns its answer', async () => {
    const g = await gateway();
    await expect(g.server.sendCommand('alpha', 'get_pnl')).rejects.toThrow(/not connected/);
    const c = await loggedIn(g);
    const reply = g.server.sendCommand('alpha', 'get_pnl', ['SYN']);
    const cmd = await c.nextType('cmd');
    expect(cmd).toMatchObject({ name: 'get_pnl', params: ['SYN'], reqId: expect.any(String) });
    c.send({ type: 'cmd_result', reqId: cmd.reqId, ok: true, text: '42.5' });
    expect(await reply).toBe('42.5');
    const failing = g.server.sendCommand('alpha', 'nope');
    const cmd2 = await c.nextType('cmd');
    c.send({ type: 'cmd_result', reqId: cmd2.reqId, ok: false, text: 'unknown command nope' });
    await expect(failing).rejects.toBeInstanceOf(CommandError);
    c.send({ type: 'cmd_result', reqId: 'never-sent', ok: true, text: '' });
    expect(await c.nextType('error', { reqId: 'never-sent' })).toMatchObject({ code: ProtocolErrorCode.UnexpectedMessage });
    await expect(g.server.sendCommand('alpha', 'slow', [], 50)).rejects.toThrow(/did not answer/);
  });

  it('logout closes with 1000 and orders stay at the venue', async () => {
    const g = await gateway();
    const c = await loggedIn(g);
    c.send(newOrder('a-1', passiveBid(g)));
    await c.nextEvent('onNewOrderAck');
    c.send({ type: 'logout' });
    expect((await c.closed).code).toBe(1000);
    await sleep(20);
    expect((await g.store.getOrder('alpha', 'a-1'))!.status).toBe(OrderStatus.Open);
  });

  it('shuts down with 4040, cancelling resting orders and recording it; a restart closes orders a crash left open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-gw-'));
    const path = join(dir, 'store.db');
    const g = await startTestGateway({ store: new SqliteOrderStore(path, { synchronous: 'NORMAL' }), shutdownGraceMs: 50 });
    const c = await RawClient.connect(g.url);
    await c.login('alpha', TOKENS.alpha);
    c.send(newOrder('a-1', passiveBid(g)));
    await c.nextEvent('onNewOrderAck');
    await g.close();
    expect(await c.nextType('error')).toMatchObject({ code: ProtocolErrorCode.GatewayShutdown, fatal: true });
    expect((await c.closed).code).toBe(4040);
    const store = new SqliteOrderStore(path);
    expect((await store.getOrder('alpha', 'a-1'))!.status).toBe(OrderStatus.Cancelled);
    // A crash: an order acknowledged and left open in the store, then a new gateway starts.
    await store.insertOrder({ strategy: 'alpha', clientId: 'a-2', exchange: 'SYN', instrumentId: 1, side: Side.Buy, orderType: 'Limit' as never, tif: 'GTC' as never, execInstr: [], price: '90', qty: '1', createdTs: 1 });
    await store.recordEvent('alpha', 'onNewOrderAck', { exchange: 'SYN', clientId: 'a-2', exchangeId: 'SYN-9', instrumentId: 1, side: Side.Buy, price: '90' as never, qty: '1' as never, leavesQty: '1' as never, orderType: 'Limit' as never, tif: 'GTC' as never, execInstr: [] }, 2);
    await store.close();
    const g2 = await gateway({ store: new SqliteOrderStore(path, { synchronous: 'NORMAL' }) });
    const d = await client(g2);
    const seq = (await g2.store.lastEventSeq('alpha')) - 1;
    await d.login('alpha', TOKENS.alpha, seq);
    expect(await d.nextEvent('onOrderCancelled', { clientId: 'a-2' })).toMatchObject({ ev: { unsolicited: true, cancelCode: CancelCode.SessionEnd } });
    expect((await g2.store.getOrder('alpha', 'a-2'))!.status).toBe(OrderStatus.Cancelled);
  });
});
