import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BaseStrategy, ConstantLatencyModel, ExecInstr, GatewayClient, GatewayServer, LiveClock, RemoteEnv, Side, SimVenueHost, SqliteOrderStore, generateMarket, silentLogger } from '../dist/index.js';
import type { IStratEnv, NewOrderAck } from '../dist/index.js';
const EXCHANGE = 'SYN';
const N = Number(process.env.N ?? 8000);
const dir = mkdtempSync(join(tmpdir(), 'prof-'));
const gclock = new LiveClock();
const store = process.env.MODE === 'MEMORY' ? new SqliteOrderStore(':memory:') : new SqliteOrderStore(join(dir, 'o.db'), { synchronous: 'NORMAL' });
const host = new SimVenueHost({ exchange: EXCHANGE, source: generateMarket({ events: 50_000_000, seed: 3, instrument: { exchange: EXCHANGE } }), clock: gclock, speed: 1, loop: true, sim: { latency: new ConstantLatencyModel({ entryUs: 0, responseUs: 0 }) } });
const server = new GatewayServer({ tokens: { bench: 'bench-token' }, store, venues: [host], clock: gclock, logger: silentLogger(), limits: { maxMsgsPerSec: 1e6, burstMsgs: 1_000_000 }, shutdownGraceMs: 5 });
const { url } = await server.start();
const clock = new LiveClock();
const lat: number[] = [], cx: number[] = [];
let finish!: () => void;
const done = new Promise<void>((r) => (finish = r));
class Pinger extends BaseStrategy {
  private sentAt = 0; private cAt = 0; private sent = 0;
  override onFrameworkConnected(env: IStratEnv): void { this.env = env; env.login('bench'); }
  override onStart(): void { this.next(); }
  private next(): void { this.sent++; this.sentAt = performance.now(); this.env.sendNewOrder({ exchange: EXCHANGE, instrumentId: 1, side: Side.Buy, price: '50', qty: '1', execInstr: ExecInstr.PostOnly }); }
  override onNewOrderAck(ev: NewOrderAck): void { lat.push((performance.now() - this.sentAt) * 1000); this.cAt = performance.now(); this.env.sendCancelOrder(ev.exchange, ev.instrumentId, ev.clientId); }
  override onOrderCancelled(): void { cx.push((performance.now() - this.cAt) * 1000); if (this.sent >= N) finish(); else this.next(); }
}
const client = new GatewayClient({ url, strategy: 'bench', token: 'bench-token', clock, logger: silentLogger() });
const remote = new RemoteEnv({ strategy: new Pinger(), client, clock, logger: silentLogger() });
await remote.start();
await done;
const q = (a: number[], x: number) => { const s = a.slice(1000).sort((u, v) => u - v); return s[Math.floor(s.length * x)]!.toFixed(0); };
console.log(`strategy order→ack p50 ${q(lat, .5)} p99 ${q(lat, .99)} | cancel→cancelled p50 ${q(cx, .5)} p99 ${q(cx, .99)}`);
await remote.stop({ timeoutMs: 2000, drainMs: 50 }); clock.cancelAll(); await server.close(); await store.close(); gclock.cancelAll();
