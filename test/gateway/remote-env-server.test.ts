/**
 * RemoteEnv against the real gateway server (`GatewayServer` + `SimVenueHost` + SQLite
 * store in memory) on loopback: snapshot, a taker fill and a resting order through the
 * simulated venue, a cut healed by resume, and a restarted process seeded by sync.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayStatus, MDSub, OrderStatus, Side } from '../../src/api/enums.js';
import type { MarketSource } from '../../src/backtest/backtest.js';
import { BaseStrategy, type IStratEnv } from '../../src/api/strategy.js';
import { LiveClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { MdType, type MdEvent } from '../../src/data/events.js';
import { GatewayClient } from '../../src/gateway/client.js';
import { RemoteEnv } from '../../src/gateway/remote-env.js';
import { GatewayServer } from '../../src/gateway/server.js';
import { SimVenueHost } from '../../src/gateway/venue-host.js';
import { SqliteOrderStore } from '../../src/store/sqlite-store.js';
import { EQ } from './fixtures.js';
import { until } from './fake-gateway.js';

const TOKEN = 'real-gw-token';
const T0 = 1_718_000_000_000_000;

function add(orderId: number, side: 1 | -1, priceTick: number, qty: number): MdEvent {
  return { type: MdType.OrderAdd, instrumentId: 1, exchTs: T0, localTs: T0, side, orderId, priceTick, qty, status: 0 };
}

/** A book of two levels a side, then nothing for an hour (the session stays open). */
function source(): MarketSource {
  const events: MdEvent[] = [
    add(1, 1, 10000, 50),
    add(2, 1, 9999, 40),
    add(3, -1, 10002, 30),
    add(4, -1, 10003, 60),
    { type: MdType.Trade, instrumentId: 1, exchTs: T0 + 3_600_000_000, localTs: T0 + 3_600_000_000, side: 1, orderId: 0, priceTick: 10002, qty: 1, status: 0 },
  ];
  return {
    exchange: 'SIM',
    instruments: [EQ],
    async *events() {
      for (const e of events) yield { ...e };
    },
  };
}

class Rec extends BaseStrategy {
  readonly calls: Array<{ cb: string; ev: Record<string, unknown> }> = [];
  constructor() {
    super({});
  }
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login('rec');
    env.subscribeToMarketData('SIM', [1], [MDSub.OrderBook, MDSub.BBO]);
  }
  of(cb: string) {
    return this.calls.filter((c) => c.cb === cb).map((c) => c.ev);
  }
}
for (const name of Object.getOwnPropertyNames(BaseStrategy.prototype)) {
  if (!name.startsWith('on') || name === 'onFrameworkConnected') continue;
  const orig = (BaseStrategy.prototype as unknown as Record<string, (ev: unknown) => unknown>)[name]!;
  Object.defineProperty(Rec.prototype, name, {
    configurable: true,
    writable: true,
    value(this: Rec, ev: Record<string, unknown>) {
      this.calls.push({ cb: name, ev });
      return orig.call(this, ev);
    },
  });
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function startGateway() {
  const clock = new LiveClock();
  const store = new SqliteOrderStore(':memory:', { synchronous: 'NORMAL' });
  const host = new SimVenueHost({ exchange: 'SIM', source: source(), clock, speed: 1 });
  const server = new GatewayServer({ tokens: { mm: TOKEN }, store, venues: [host], clock, limits: { heartbeatMs: 500, heartbeatTimeoutMs: 2_000 } });
  const { url } = await server.start();
  cleanup.push(async () => {
    await server.close();
    await store.close?.();
    clock.cancelAll();
  });
  return { url, host, server, store };
}

async function connect(url: string) {
  const clock = new LiveClock();
  const strategy = new Rec();
  const client = new GatewayClient({ url, strategy: 'mm', token: TOKEN, clock, logger: silentLogger(), backoff: { initialMs: 20, maxMs: 100 } });
  const remote = new RemoteEnv({ strategy, client, clock, logger: silentLogger(), syncTimeoutMs: 3_000 });
  cleanup.push(async () => {
    await client.close({ graceMs: 50 });
    clock.cancelAll();
  });
  const started = await remote.start();
  return { remote, client, clock, strategy, env: remote.env!, started };
}

describe('RemoteEnv against the gateway server', () => {
  it('snapshot, fills, a cut healed by resume, a restart seeded by sync', async () => {
    const gw = await startGateway();
    const a = await connect(gw.url);
    expect(a.started).toBe(true);
    await until(() => a.strategy.of('onFeedHandlerStatus').some((e) => e.status === 'SnapshotEnd'), 5_000, 'snapshot');
    const server = gw.host.books.get(1)!;
    const mine = a.remote.feed('SIM', 1)!.book;
    for (const side of [1, -1] as const) {
      expect(mine.l2.depth(side)).toBe(server.l2.depth(side));
      for (let i = 0; i < server.l2.depth(side); i++) expect([mine.l2.levelTick(side, i), mine.l2.levelQty(side, i)]).toEqual([server.l2.levelTick(side, i), server.l2.levelQty(side, i)]);
    }
    expect(String(a.strategy.of('onBestAskLevelUpdate').at(-1)!.price)).toBe('100.02');

    // A taker buy fills against the ask; a resting buy is acknowledged.
    const taker = a.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100.02', qty: '5' });
    const resting = a.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '99.5', qty: '7' });
    await until(() => a.strategy.of('onOrderExecution').length === 1 && a.strategy.of('onNewOrderAck').length === 2, 5_000, 'fill and acks');
    expect(a.env.getOrder(taker)!.status).toBe(OrderStatus.Filled);
    expect(a.env.getOrder(resting)!.status).toBe(OrderStatus.Open);
    expect(String(a.env.getPosition('SIM', 1).position)).toBe('5');

    // The connection drops: disconnected, resumed, ready again.
    const seq = a.remote.lastEventSeq;
    a.client.reconnect('test: cut the connection');
    await until(() => a.strategy.of('onFrameworkDisconnected').length === 1, 3_000, 'onFrameworkDisconnected');
    await until(() => a.remote.phase === 'ready' && a.strategy.of('onGatewayStatus').at(-1)?.status === GatewayStatus.ReadyToTrade, 5_000, 'ready again');
    expect(a.remote.lastEventSeq).toBe(seq);
    expect(a.env.openOrders().map((o) => o.clientId)).toEqual([resting]);
    a.env.sendModifyOrder('SIM', resting, '99.6', '7');
    await until(() => a.strategy.of('onModifyOrderAck').length === 1, 3_000, 'modify after reconnect');

    // The process dies; a new one takes over and is seeded from the gateway's store.
    await a.client.close({ logout: false, graceMs: 10 });
    a.clock.cancelAll();
    const b = await connect(gw.url);
    expect(b.started).toBe(true);
    expect(b.env.openOrders().map((o) => [o.clientId, o.status, String(o.price), String(o.leavesQty)])).toEqual([[resting, OrderStatus.Open, '99.6', '7']]);
    expect(String(b.env.getPosition('SIM', 1).position)).toBe('5');
    expect(b.remote.lastEventSeq).toBeGreaterThanOrEqual(seq);
    b.env.sendCancelOrder('SIM', 1, resting);
    await until(() => b.strategy.of('onOrderCancelled').length === 1, 3_000, 'cancel of the restored order');
    expect(b.env.openOrders()).toHaveLength(0);
    await b.remote.stop({ timeoutMs: 1_000 });
    expect(b.remote.phase).toBe('stopped');
  });
});
