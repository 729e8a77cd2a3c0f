/**
 * RemoteEnv against a fake gateway on loopback: the snapshot builds the gateway's book, an
 * order's round trip reaches the strategy with the tracker updated, a cut connection is
 * reported and healed (backoff, resume, GtwNotReady meanwhile, requests in flight done
 * once), a restarted process is seeded by `sync`, commands are answered.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RejectCode } from '../../src/api/codes.js';
import { FeedHandlerStatus, GatewayStatus, MDSub, OrderStatus, Side } from '../../src/api/enums.js';
import type { EventCallbackName } from '../../src/api/events.js';
import { BaseStrategy, type IStratEnv } from '../../src/api/strategy.js';
import { LiveClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { MemoryJournalSink, Journal } from '../../src/core/journal.js';
import { MdType, type MdEvent } from '../../src/data/events.js';
import { GatewayClient } from '../../src/gateway/client.js';
import { RemoteEnv } from '../../src/gateway/remote-env.js';
import { loadJournal } from '../../src/store/journal-reader.js';
import { replayJournal } from '../../src/store/replay.js';
import { EQ } from './fixtures.js';
import { FakeGateway, until } from './fake-gateway.js';

const TOKEN = 'tok-remote';
const TS = 1_718_000_000_000_000;

/** A strategy that logs in, subscribes, answers one command and records every callback it gets. */
class Rec extends BaseStrategy {
  readonly calls: Array<{ cb: string; ev: unknown }> = [];
  constructor(private readonly subs: MDSub[] = [MDSub.PriceLevelBook, MDSub.BBO]) {
    super({});
  }
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login('rec');
    env.subscribeToMarketData('SIM', ['sim:equity:abc'], this.subs);
  }
  override onStart() {
    this.env.addCmdHook('echo', (p) => `echo ${p.join(' ')}`);
  }
  override onStop() {
    for (const o of this.env.openOrders()) this.env.sendCancelOrder(o.exchange, o.instrumentId, o.clientId);
    this.env.sendStopAck();
  }
  of(cb: EventCallbackName | string) {
    return this.calls.filter((c) => c.cb === cb).map((c) => c.ev as Record<string, unknown>);
  }
}
// Record every callback, whatever BaseStrategy does with it.
for (const name of Object.getOwnPropertyNames(BaseStrategy.prototype)) {
  if (!name.startsWith('on')) continue;
  const orig = (Rec.prototype as unknown as Record<string, (ev: unknown) => unknown>)[name] ?? (BaseStrategy.prototype as unknown as Record<string, (ev: unknown) => unknown>)[name];
  Object.defineProperty(Rec.prototype, name, {
    configurable: true,
    writable: true,
    value(this: Rec, ev: unknown) {
      this.calls.push({ cb: name, ev });
      return orig!.call(this, ev);
    },
  });
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function gateway(): Promise<FakeGateway> {
  const gw = new FakeGateway({ strategies: { mm: TOKEN }, instruments: [EQ], heartbeatMs: 1_000 });
  await gw.start();
  cleanup.push(() => gw.close());
  return gw;
}

function add(orderId: number, side: 1 | -1, priceTick: number, qty: number, ts = TS): MdEvent {
  return { type: MdType.OrderAdd, instrumentId: 1, exchTs: ts, localTs: ts, side, orderId, priceTick, qty, status: 0 };
}

async function remoteFor(gw: FakeGateway, strategy = new Rec(), journal?: Journal) {
  const clock = new LiveClock();
  const client = new GatewayClient({ url: gw.url, strategy: 'mm', token: TOKEN, clock, logger: silentLogger(), backoff: { initialMs: 20, maxMs: 100 } });
  const remote = new RemoteEnv({ strategy, client, clock, logger: silentLogger(), journal, syncTimeoutMs: 3_000 });
  cleanup.push(async () => {
    await client.close({ graceMs: 50 });
    clock.cancelAll();
  });
  const started = await remote.start();
  return { remote, client, clock, strategy, env: remote.env!, started };
}

/** Compares the client's copy of the book with the gateway's: every level, every order in queue order. */
function sameBook(gw: FakeGateway, remote: RemoteEnv) {
  const server = gw.books.get('SIM|1')!;
  const client = remote.feed('SIM', 1)!.book;
  const dump = (b: typeof server) => {
    const out: string[] = [];
    for (const side of [1, -1] as const) {
      for (let i = 0; i < b.l2.depth(side); i++) {
        const tick = b.l2.levelTick(side, i);
        const ids: string[] = [];
        b.forEachOrderAt(side, tick, (o) => void ids.push(`${o.id}:${o.qty}`));
        out.push(`${side}@${tick}=${b.l2.levelQty(side, i)} [${ids.join(',')}]`);
      }
    }
    return out;
  };
  expect(dump(client)).toEqual(dump(server));
  return dump(server);
}

describe('RemoteEnv', () => {
  it('builds the gateway book from the snapshot and keeps it in step with md frames', async () => {
    const gw = await gateway();
    gw.publish('SIM', [add(11, 1, 10024, 5), add(12, 1, 10024, 3), add(13, 1, 10023, 7), add(21, -1, 10026, 4), add(22, -1, 10027, 9)]);
    const { remote, strategy, started } = await remoteFor(gw);
    expect(started).toBe(true);
    await until(() => strategy.of('onFeedHandlerStatus').some((e) => e.status === FeedHandlerStatus.SnapshotEnd), 3_000, 'snapshot');
    expect(sameBook(gw, remote)).toHaveLength(4);
    const bid = strategy.of('onBestBidLevelUpdate').at(-1)!;
    expect(String(bid.price)).toBe('100.24');
    expect(String(bid.qty)).toBe('8');
    expect(strategy.of('onAddPriceLevel')).toHaveLength(4);
    // Live deltas.
    gw.publish('SIM', [
      { type: MdType.OrderExec, instrumentId: 1, exchTs: TS + 1, localTs: TS + 1, side: 1, orderId: 11, priceTick: 10024, qty: 5, status: 0 },
      { type: MdType.OrderCancel, instrumentId: 1, exchTs: TS + 2, localTs: TS + 2, side: 0, orderId: 22, priceTick: 0, qty: 4, status: 0 },
      add(23, -1, 10025, 2, TS + 3),
    ]);
    await until(() => strategy.of('onBestAskLevelUpdate').some((e) => String(e.price) === '100.25'), 3_000, 'new best ask');
    sameBook(gw, remote);
    // The lifecycle came first, in the order of the contract.
    const order = strategy.calls.map((c) => c.cb).filter((c) => ['onFrameworkConnected', 'onStart', 'onInstruments', 'onStratParamsUpdate'].includes(c));
    expect(order).toEqual(['onFrameworkConnected', 'onStart', 'onInstruments', 'onStratParamsUpdate']);
  });

  it('takes an order round trip to the strategy with the tracker updated', async () => {
    const gw = await gateway();
    const { env, strategy } = await remoteFor(gw);
    const cid = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100.2', qty: '10' });
    expect(cid).toMatch(/^rec\.[0-9a-z]+-1$/);
    await until(() => strategy.of('onNewOrderAck').length === 1, 3_000, 'ack');
    expect(env.getOrder(cid)!.status).toBe(OrderStatus.Open);
    expect(gw.sent('mm', 'new_order')[0]).toMatchObject({ clientId: cid, side: 'Buy', price: '100.2', qty: '10', orderType: 'Limit', tif: 'GTC' });
    gw.fill('mm', cid, '4');
    await until(() => strategy.of('onOrderExecution').length === 1, 3_000, 'fill');
    expect(env.getOrder(cid)!.status).toBe(OrderStatus.PartiallyFilled);
    expect(String(env.getPosition('SIM', 1).position)).toBe('4');
    env.sendCancelOrder('SIM', 1, cid);
    await until(() => strategy.of('onOrderCancelled').length === 1, 3_000, 'cancel');
    expect(env.getOrder(cid)!.status).toBe(OrderStatus.Cancelled);
    expect(env.openOrders()).toHaveLength(0);
  });

  it('reports a cut, refuses requests with GtwNotReady meanwhile, resumes the missed events and trades again', async () => {
    const gw = await gateway();
    gw.publish('SIM', [add(11, 1, 10024, 5), add(21, -1, 10026, 4)]);
    const { remote, env, strategy } = await remoteFor(gw);
    const cid = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Sell, price: '100.3', qty: '5' });
    await until(() => strategy.of('onNewOrderAck').length === 1);
    const seqBefore = remote.lastEventSeq;

    gw.cut('mm');
    await until(() => strategy.of('onFrameworkDisconnected').length === 1, 3_000, 'onFrameworkDisconnected');
    await until(() => strategy.of('onGatewayStatus').some((e) => e.status === GatewayStatus.Connecting), 3_000, 'Connecting');
    expect(strategy.of('onFeedHandlerStatus').at(-1)!.status).toBe(FeedHandlerStatus.Disconnected);
    // While cut: refused at once, nothing queued.
    const refused = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100.1', qty: '1' });
    env.sendCancelOrder('SIM', 1, cid);
    env.sendCancelAll('SIM', 1);
    await until(() => strategy.of('onCancelAllReject').length === 1, 3_000, 'rejects');
    expect(strategy.of('onNewOrderReject').find((e) => e.clientId === refused)!.rejectCode).toBe(RejectCode.GtwNotReady);
    expect(strategy.of('onCancelOrderReject').find((e) => e.clientId === cid)!.rejectCode).toBe(RejectCode.GtwNotReady);
    expect(strategy.of('onCancelAllReject')[0]!.rejectCode).toBe(RejectCode.GtwNotReady);
    // Something happens at the gateway meanwhile.
    gw.fill('mm', cid, '2');

    await until(() => remote.phase === 'ready' && strategy.of('onGatewayStatus').at(-1)!.status === GatewayStatus.ReadyToTrade, 5_000, 'ready again');
    expect(gw.logins.at(-1)).toEqual({ strategy: 'mm', resume: seqBefore });
    await until(() => strategy.of('onOrderExecution').length === 1, 3_000, 'replayed fill');
    expect(String(env.getPosition('SIM', 1).position)).toBe('-2');
    expect(gw.sent('mm', 'new_order').map((m) => m.clientId)).toEqual([cid]); // the refused one never left
    // A fresh snapshot, and trading works again.
    await until(() => strategy.of('onFeedHandlerStatus').filter((e) => e.status === FeedHandlerStatus.SnapshotEnd).length === 2, 3_000, 'second snapshot');
    sameBook(gw, remote);
    const again = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100.1', qty: '1' });
    await until(() => strategy.of('onNewOrderAck').some((e) => e.clientId === again), 3_000, 'ack after reconnect');
    // Callbacks in the order a strategy needs: disconnected before Connecting, Ready after the replay.
    const seq = strategy.calls.map((c) => (c.cb === 'onGatewayStatus' ? `gw:${(c.ev as { status: string }).status}` : c.cb)).filter((c) => ['onFrameworkDisconnected', 'gw:Connecting', 'gw:ReadyToTrade', 'onOrderExecution'].includes(c));
    expect(seq).toEqual(['onFrameworkDisconnected', 'gw:Connecting', 'onOrderExecution', 'gw:ReadyToTrade']);
  });

  it('resends a new order lost at the cut with the same client id, and it is done once', async () => {
    const gw = await gateway();
    const { remote, env, strategy } = await remoteFor(gw);
    gw.blackhole.add('new_order');
    const cid = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '3' });
    await until(() => gw.sent('mm', 'new_order').length === 1, 3_000, 'sent');
    expect(remote.inFlight().map((p) => p.key)).toEqual([`N:${cid}`]);
    gw.blackhole.clear();
    gw.cut('mm');
    await until(() => strategy.of('onNewOrderAck').length === 1, 5_000, 'ack of the resent order');
    await new Promise((r) => setTimeout(r, 100));
    expect(strategy.of('onNewOrderAck')).toHaveLength(1);
    expect(strategy.of('onNewOrderReject')).toHaveLength(0);
    expect(gw.sent('mm', 'new_order').map((m) => m.clientId)).toEqual([cid, cid]);
    expect(gw.orders.get('mm')!.size).toBe(1);
    expect(env.getOrder(cid)!.status).toBe(OrderStatus.Open);
    expect(remote.inFlight()).toHaveLength(0);
  });

  it('does not resend an order whose ack was lost on the wire: the resumed events answer it', async () => {
    const gw = await gateway();
    const { remote, env, strategy } = await remoteFor(gw);
    gw.mute = true; // the gateway records the ack but the frame never leaves
    const cid = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '3' });
    await until(() => gw.orders.get('mm')?.has(cid) === true, 3_000, 'recorded');
    gw.mute = false;
    gw.cut('mm');
    await until(() => strategy.of('onNewOrderAck').length === 1 && remote.phase === 'ready', 5_000, 'replayed ack');
    expect(gw.sent('mm', 'new_order')).toHaveLength(1);
    expect(env.getOrder(cid)!.status).toBe(OrderStatus.Open);
  });

  it('waits for the outcome of a cancel that reached the gateway before the cut', async () => {
    const gw = await gateway();
    const { remote, env, strategy } = await remoteFor(gw);
    const cid = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '3' });
    await until(() => strategy.of('onNewOrderAck').length === 1);
    gw.holdCancels = true;
    env.sendCancelOrder('SIM', 1, cid);
    await until(() => gw.sent('mm', 'cancel_order').length === 1);
    gw.cut('mm');
    await until(() => remote.phase === 'ready' && strategy.of('onGatewayStatus').at(-1)?.status === GatewayStatus.ReadyToTrade, 5_000, 'ready');
    expect(gw.sent('mm', 'cancel_order')).toHaveLength(1); // the sync showed PendingCancel: not resent
    expect(env.getOrder(cid)!.status).toBe(OrderStatus.PendingCancel);
    gw.answerCancels();
    await until(() => strategy.of('onOrderCancelled').length === 1, 3_000, 'cancelled');
    expect(strategy.of('onCancelOrderAck')).toHaveLength(1);
    expect(strategy.of('onCancelOrderReject')).toHaveLength(0);
  });

  it('recovers from an event gap by reconnecting with resume', async () => {
    const gw = await gateway();
    const { remote, env, strategy } = await remoteFor(gw);
    const cid = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '5' });
    await until(() => strategy.of('onNewOrderAck').length === 1);
    gw.mute = true;
    gw.fill('mm', cid, '1'); // recorded, never sent
    gw.mute = false;
    gw.fill('mm', cid, '2'); // arrives with a gap before it
    await until(() => strategy.of('onOrderExecution').length === 2 && remote.phase === 'ready', 5_000, 'both fills');
    expect(strategy.of('onOrderExecution').map((e) => String(e.fillQty))).toEqual(['1', '2']);
    expect(String(env.getPosition('SIM', 1).position)).toBe('3');
    expect(gw.logins).toHaveLength(2);
  });

  it('seeds a restarted process from sync: open orders and position, then trades on them', async () => {
    const gw = await gateway();
    const first = await remoteFor(gw);
    const a = first.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '10' });
    const b = first.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Sell, price: '101', qty: '4' });
    await until(() => first.strategy.of('onNewOrderAck').length === 2);
    gw.fill('mm', a, '6');
    await until(() => first.strategy.of('onOrderExecution').length === 1);
    // The process dies: no stop, no logout.
    await first.client.close({ logout: false, graceMs: 10 });
    first.clock.cancelAll();

    const second = await remoteFor(gw, new Rec());
    expect(second.started).toBe(true);
    expect(gw.logins.at(-1)).toEqual({ strategy: 'mm', resume: undefined });
    const open = second.env.openOrders().map((o) => [o.clientId, o.status, String(o.leavesQty), String(o.price)]);
    expect(open).toEqual([
      [a, OrderStatus.PartiallyFilled, '4', '100'],
      [b, OrderStatus.Open, '4', '101'],
    ]);
    expect(String(second.env.getPosition('SIM', 1).position)).toBe('6');
    expect(second.remote.lastEventSeq).toBe(gw.lastSeq('mm'));
    // Told through the usual callbacks, after the lifecycle.
    await until(() => second.strategy.of('onPositionInfo').length === 1, 3_000, 'onPositionInfo');
    expect(second.strategy.of('onOrderStatus').map((e) => e.clientOrdId)).toEqual([a, b]);
    const names = second.strategy.calls.map((c) => c.cb);
    expect(names.indexOf('onStratParamsUpdate')).toBeLessThan(names.indexOf('onOrderStatus'));
    // New ids do not collide with the restored ones; restored orders can be cancelled.
    const c = second.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '99', qty: '1' });
    expect([a, b]).not.toContain(c);
    second.env.sendCancelOrder('SIM', 1, b);
    await until(() => second.strategy.of('onOrderCancelled').length === 1, 3_000, 'restored order cancelled');
    expect(second.env.getOrder(b)!.status).toBe(OrderStatus.Cancelled);
  });

  it('after a restart, a reused client id of a closed order is refused, never credited with its old fills', async () => {
    const gw = await gateway();
    const first = await remoteFor(gw);
    const old = first.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '3' });
    await until(() => first.strategy.of('onNewOrderAck').length === 1);
    gw.fill('mm', old, '3');
    await until(() => first.strategy.of('onOrderExecution').length === 1);
    await first.client.close({ logout: false, graceMs: 10 });
    first.clock.cancelAll();

    const second = await remoteFor(gw);
    expect(second.env.openOrders()).toHaveLength(0);
    expect(String(second.env.getPosition('SIM', 1).position)).toBe('3');
    // The env numbers from 1 again: the same id, the same fields as the closed order.
    const again = second.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '3' });
    expect(again).toBe(old);
    await until(() => second.strategy.of('onNewOrderReject').length === 1, 3_000, 'reject of the reused id');
    expect(second.strategy.of('onNewOrderReject')[0]).toMatchObject({ clientId: old, rejectCode: RejectCode.DuplicateClientId });
    expect(second.strategy.of('onOrderExecution')).toHaveLength(0);
    expect(second.env.getOrder(old)!.status).toBe(OrderStatus.Rejected);
    expect(String(second.env.getPosition('SIM', 1).position)).toBe('3');
    expect(second.remote.inFlight()).toHaveLength(0);
    // The next id is fresh and trades normally.
    const next = second.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '3' });
    await until(() => second.strategy.of('onNewOrderAck').some((e) => e.clientId === next), 3_000, 'ack of a fresh id');
  });

  it('reconciles with sync when the gateway cannot resume (history reset)', async () => {
    const gw = await gateway();
    const { remote, env, strategy } = await remoteFor(gw);
    const cid = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '5' });
    await until(() => strategy.of('onNewOrderAck').length === 1);
    gw.cut('mm');
    await until(() => remote.phase === 'disconnected');
    gw.mute = true;
    gw.fill('mm', cid, '5'); // the order fills while we are away...
    gw.mute = false;
    gw.resetHistory('mm'); // ...and the gateway cannot replay it
    await until(() => remote.phase === 'ready' && strategy.of('onGatewayStatus').at(-1)?.status === GatewayStatus.ReadyToTrade, 5_000, 'ready');
    expect(String(env.getPosition('SIM', 1).position)).toBe('5');
    expect(env.openOrders()).toHaveLength(0);
    expect(strategy.of('onOrderStatus').at(-1)).toMatchObject({ clientOrdId: cid, status: OrderStatus.Cancelled });
    expect(String(strategy.of('onPositionInfo').at(-1)!.position)).toBe('5');
  });

  it('closes an order in flight at the cut that the gateway filled and closed before a lost resume', async () => {
    const gw = await gateway();
    const { remote, env, strategy } = await remoteFor(gw);
    gw.mute = true; // nothing of what follows reaches the client
    const cid = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '3' });
    await until(() => gw.orders.get('mm')?.has(cid) === true, 3_000, 'recorded');
    gw.fill('mm', cid, '3');
    gw.mute = false;
    gw.resetHistory('mm');
    gw.cut('mm');
    await until(() => remote.phase === 'ready' && strategy.of('onGatewayStatus').at(-1)?.status === GatewayStatus.ReadyToTrade, 5_000, 'ready');
    await until(() => env.getOrder(cid)!.status === OrderStatus.Cancelled, 3_000, 'closed here');
    expect(gw.sent('mm', 'new_order')).toHaveLength(2); // resent: the gateway answered with the order's recorded events
    expect(strategy.of('onOrderExecution')).toHaveLength(0); // not applied twice: the fill is in the synced position
    expect(String(env.getPosition('SIM', 1).position)).toBe('3');
    expect(strategy.of('onOrderStatus').at(-1)).toMatchObject({ clientOrdId: cid, status: OrderStatus.Cancelled });
    expect(remote.inFlight()).toHaveLength(0);
  });

  it('answers gateway commands and stops gracefully: onStop, cancels, logout, journal', async () => {
    const gw = await gateway();
    const sink = new MemoryJournalSink();
    const { remote, env, strategy } = await remoteFor(gw, new Rec(), new Journal(sink, { marketData: 'value' }));
    expect(await gw.cmd('mm', 'echo', ['a', 'b'])).toEqual({ ok: true, text: 'echo a b' });
    const unknown = await gw.cmd('mm', 'nope', []);
    expect(unknown.ok).toBe(false);
    expect(unknown.text).toMatch(/unknown command 'nope'/);
    const cid = env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '5' });
    await until(() => strategy.of('onNewOrderAck').length === 1);
    const r = await remote.stop({ timeoutMs: 1_000 });
    expect(r.stopAcked).toBe(true);
    expect(remote.phase).toBe('stopped');
    expect(strategy.of('onOrderCancelled').map((e) => e.clientId)).toEqual([cid]);
    await until(() => gw.sent('mm', 'logout').length === 1, 2_000, 'logout');
    const header = JSON.parse(sink.lines[0]!);
    expect(header).toMatchObject({ k: 'header', mode: 'live' });
    expect(header.venues[0].instruments[0].name).toBe('sim:equity:abc');
    const ops = sink.lines.slice(1).map((l) => JSON.parse(l)).filter((e) => e.k === 'ctl').map((e) => e.op);
    expect(ops).toEqual(['connect', 'cmd', 'cmd', 'stop', 'end']);
    expect(sink.lines.some((l) => l.includes('"src":"md"'))).toBe(true);
  });

  it('writes a live journal that tradeloop replay reproduces byte for byte, across a cut', async () => {
    /** Everything it does comes from its own callbacks (a replay can only reproduce those). */
    class Trader extends Rec {
      override onStart() {
        super.onStart();
        this.env.setupTimer(15, () => true);
        this.env.addCmdHook('sell', () => this.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Sell, price: '100.3', qty: '5' }));
        this.env.addCmdHook('buy', () => this.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100.1', qty: '1' }));
      }
    }
    const subs = [MDSub.PriceLevelBook, MDSub.BBO, MDSub.PublicTrades];
    const gw = await gateway();
    gw.publish('SIM', [add(11, 1, 10024, 5), add(21, -1, 10026, 4)]);
    const sink = new MemoryJournalSink();
    const { remote, env, strategy } = await remoteFor(gw, new Trader(subs), new Journal(sink, { marketData: 'value' }));
    const cid = (await gw.cmd('mm', 'sell', [])).text;
    await until(() => strategy.of('onNewOrderAck').length === 1);
    gw.publish('SIM', [{ type: MdType.OrderExec, instrumentId: 1, exchTs: TS + 5, localTs: TS + 5, side: 1, orderId: 11, priceTick: 10024, qty: 2, status: 0 }]);
    gw.fill('mm', cid, '1');
    await until(() => strategy.of('onOrderExecution').length === 1);
    gw.cut('mm');
    await until(() => strategy.of('onFrameworkDisconnected').length === 1);
    expect(await env.runCommand('buy', [])).toMatch(/^rec\.[0-9a-z]+-/); // from the console, refused: GtwNotReady
    gw.fill('mm', cid, '2');
    await until(() => strategy.of('onOrderExecution').length === 2 && remote.phase === 'ready', 5_000, 'resumed');
    expect(await gw.cmd('mm', 'echo', ['x'])).toEqual({ ok: true, text: 'echo x' });
    await new Promise((r) => setTimeout(r, 60));
    await remote.stop({ timeoutMs: 1_000 });
    expect(strategy.of('onNewOrderReject').map((e) => e.rejectCode)).toEqual([RejectCode.GtwNotReady]);
    expect(sink.lines.filter((l) => l.includes('"cb":"timer"')).length).toBeGreaterThan(1);
    const file = join(mkdtempSync(join(tmpdir(), 'tl-live-')), 'live.jsonl');
    writeFileSync(file, sink.lines.join('\n') + '\n');
    const r = await replayJournal({ strategy: new Trader(subs), journal: await loadJournal(file), logger: silentLogger() });
    expect(r.firstDifference).toBeUndefined();
    expect(r.identical).toBe(true);
  });

  it('reports a subscribe the gateway refuses as onRequestReject', async () => {
    const gw = await gateway();
    const { remote, strategy } = await remoteFor(gw);
    await until(() => strategy.of('onFeedHandlerStatus').some((e) => e.status === FeedHandlerStatus.SnapshotEnd), 3_000, 'first snapshot');
    // An instrument the gateway listed at login but no longer serves.
    gw.books.delete('SIM|1');
    (remote as unknown as { subscribe(ex: string, id: number, s: Set<MDSub>): void }).subscribe('SIM', 1, new Set([MDSub.BBO, MDSub.PublicTrades]));
    await until(() => strategy.of('onRequestReject').length === 1, 3_000, 'subscribe refused');
    expect(strategy.of('onRequestReject')[0]).toMatchObject({ exchange: 'SIM', rejectCode: RejectCode.UnknownInstrument, rejectedRqstType: 'Subscribe' });
  });
});
