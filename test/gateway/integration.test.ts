/**
 * Integration of the gateway with real processes on loopback (issue 4): `tradeloop gateway`
 * replaying the AMZN LOBSTER day at 1000× into a simulated venue, with a SQLite store in a
 * temporary directory, and three `tradeloop run` strategy processes trading through it at
 * once — two instances of the churn test strategy (`fixtures/churn.ts`: quotes, cancels,
 * modifies, small takes) and the demo market maker (`demo-strat/`). A fourth strategy
 * speaks the protocol by hand and tries to touch another strategy's order.
 *
 * Asserted, with the store (opened read-only beside the running gateway, then after its
 * shutdown) as the truth:
 * - each strategy's orders in the store are exactly the ones it sent, and every order
 *   event it received is recorded for it; no order or event of one strategy shows up for
 *   another;
 * - another strategy cannot cancel or modify an order by naming its client id (reject
 *   1020, `UnknownOrder`), and reusing that client id creates an order of its own;
 * - the demo strategy trades through the gateway: acknowledged orders and fills;
 * - positions in the store are the sum of each strategy's fills and what the strategy
 *   itself ends with; SIGINT stops every strategy cleanly and SIGTERM the gateway, with
 *   nothing left open.
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Side } from '../../src/api/enums.js';
import { RejectCode } from '../../src/api/codes.js';
import { positionsFromFills } from '../../src/store/order-store.js';
import { SqliteOrderStore } from '../../src/store/sqlite-store.js';
import { AMZN, DEMO, DEMO_CONFIG } from '../helpers.js';
import { RawClient } from './harness.js';
import { CHURN, killIfRunning, spawnCli, waitFor, type CliProc } from './proc.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-gw-integration-'));
const DB = join(dir, 'orders.db');
const TOKENS = { alpha: 'alpha-int-token-5d2f', beta: 'beta-int-token-8e41', 'demo-mm': 'demo-int-token-c9a0', intruder: 'intruder-int-token-17b3' } as const;
const INSTRUMENT = 'nasdaq:equity:amzn';

const procs: CliProc[] = [];
afterAll(() => procs.forEach(killIfRunning));

function tokenFile(name: keyof typeof TOKENS): string {
  const f = join(dir, `${name}.token`);
  writeFileSync(f, TOKENS[name] + '\n');
  chmodSync(f, 0o600);
  return f;
}

/** A time of day (HH:mm:ss, New York) about 12 hours from now: the demo's end-of-day flattening never fires during the test. */
function farTimeOfDay(): string {
  const t = new Date(Date.now() + 12 * 3600_000);
  return new Intl.DateTimeFormat('en-GB', { timeZone: 'America/New_York', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(t);
}

describe('the gateway and several strategy processes on loopback', () => {
  it('keeps each strategy to its own orders, refuses foreign cancels, and the demo trades through it', async () => {
    const t0 = performance.now();
    const gwConfig = join(dir, 'gateway.json');
    writeFileSync(
      gwConfig,
      JSON.stringify({
        listen: { port: 0 },
        tokens: TOKENS,
        store: { path: DB, synchronous: 'NORMAL' },
        heartbeatMs: 1000,
        shutdownGraceMs: 100,
        venues: [
          {
            kind: 'replay',
            exchange: 'NASDAQ',
            data: AMZN,
            speed: 1000,
            loop: true,
            sim: JSON.parse(readFileSync(DEMO_CONFIG, 'utf8')).sim,
          },
        ],
      }),
    );
    const gw = spawnCli(['gateway', '--config', gwConfig, '--log-level', 'warn']);
    procs.push(gw);
    await waitFor(() => /listening on ws:\S+/.test(gw.out.stdout), 60_000, 'the gateway to listen', [gw]);
    const url = /listening on (ws:\S+)/.exec(gw.out.stdout)![1]!;
    const tStarted = performance.now();

    const churnConfig = (login: string, seed: number, extra: Record<string, unknown> = {}) => {
      const f = join(dir, `${login}.json`);
      writeFileSync(f, JSON.stringify({ exchange: 'NASDAQ', instrument: INSTRUMENT, login, seed, intervalMs: 25, maxOpen: 3, takerProb: 0.1, maxPosition: 3, ...extra }));
      return f;
    };
    const demoConfig = join(dir, 'demo.json');
    const demo = JSON.parse(readFileSync(DEMO_CONFIG, 'utf8'));
    writeFileSync(demoConfig, JSON.stringify({ ...demo, params: { ...demo.params, stopQuotingAt: farTimeOfDay() } }));
    const run = (name: keyof typeof TOKENS, strategy: string, config: string) =>
      spawnCli(['run', '--strategy', strategy, '--config', config, '--gateway', url, '--name', name, '--token-file', tokenFile(name), '--no-console', '--log-level', 'warn']);
    const alpha = run('alpha', CHURN, churnConfig('alpha', 11, { sentinel: true }));
    const beta = run('beta', CHURN, churnConfig('beta', 22));
    const demoMm = run('demo-mm', DEMO, demoConfig);
    procs.push(alpha, beta, demoMm);
    const all = [gw, alpha, beta, demoMm];

    const store = new SqliteOrderStore(DB, { readonly: true });
    try {
      // All three trade at once.
      const acks = (p: CliProc) => p.lines.filter((l) => l.k === 'ev' && l.cb === 'onNewOrderAck').length;
      await waitFor(() => acks(alpha) >= 10 && acks(beta) >= 10, 60_000, 'both churn strategies trading', all);
      const sentinel = alpha.lines.find((l) => l.k === 'sentinel')!.cid as string;
      await waitFor(() => alpha.lines.some((l) => l.k === 'ev' && l.cb === 'onNewOrderAck' && l.cid === sentinel), 10_000, 'the sentinel acknowledged', all);

      // Another strategy names alpha's order: unknown to it (orders are keyed by strategy).
      const intruder = await RawClient.connect(url);
      const ack = await intruder.login('intruder', TOKENS.intruder);
      expect(ack.type).toBe('login_ack');
      const instrumentId = ack.venues[0].instruments.find((i: { name: string }) => i.name === INSTRUMENT).instrumentId as number;
      const ref = { exchange: 'NASDAQ', instrumentId, clientId: sentinel };
      intruder.send({ type: 'cancel_order', reqId: 'x1', ...ref });
      expect((await intruder.nextEvent('onCancelOrderReject')).ev).toMatchObject({ clientId: sentinel, rejectCode: RejectCode.UnknownOrder });
      intruder.send({ type: 'modify_order', reqId: 'x2', ...ref, newPrice: '1.00', newQty: '1' });
      expect((await intruder.nextEvent('onModifyOrderReject')).ev).toMatchObject({ clientId: sentinel, rejectCode: RejectCode.UnknownOrder });
      intruder.send({ type: 'cancel_all', reqId: 'x3', exchange: 'NASDAQ', instrumentId });
      await intruder.nextEvent('onCancelAllAck');
      // The same client id is free for the intruder: an order of its own, not alpha's.
      intruder.send({ type: 'new_order', reqId: 'x4', ...ref, side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: [], price: '1.00', qty: '1' });
      expect((await intruder.nextEvent('onNewOrderAck')).ev).toMatchObject({ clientId: sentinel, price: '1' });
      intruder.send({ type: 'cancel_order', reqId: 'x5', ...ref });
      await intruder.nextEvent('onOrderCancelled', { clientId: sentinel });
      intruder.send({ type: 'sync', reqId: 'x6' });
      expect(await intruder.nextType('sync_result')).toMatchObject({ orders: [], positions: [] });
      intruder.send({ type: 'logout' });
      await intruder.closed;
      const mine = await store.getOrder('alpha', sentinel);
      expect(mine?.status, "alpha's order untouched by the intruder").toBe('Open');
      expect((await store.getOrder('intruder', sentinel))?.status).toBe('Cancelled');

      // The demo trades through the gateway: acknowledged quotes, and fills.
      let demoFilled = false;
      await waitFor(
        () => {
          void store.fills('demo-mm').then((f) => (demoFilled = f.length > 0));
          return demoFilled || demoMm.child.exitCode !== null;
        },
        90_000,
        'a fill of the demo',
        all,
      );
      const tTraded = performance.now();

      // SIGINT: each strategy runs onStop (cancels), then logs out; then SIGTERM the gateway.
      for (const p of [alpha, beta, demoMm]) p.child.kill('SIGINT');
      for (const p of [alpha, beta, demoMm]) expect((await p.exited).code, p.out.stderr.slice(-2000)).toBe(0);
      gw.child.kill('SIGTERM');
      expect((await gw.exited).code, gw.out.stderr.slice(-2000)).toBe(0);
      expect(gw.out.stdout).toMatch(/gateway stopped/);

      // ---- the store after the run
      const names = ['alpha', 'beta', 'demo-mm', 'intruder'];
      const byStrategy = new Map<string, Awaited<ReturnType<typeof store.listOrders>>>();
      for (const n of names) byStrategy.set(n, await store.listOrders({ strategy: n }));
      expect((await store.listOrders()).length, 'no order of any other strategy').toBe(names.reduce((a, n) => a + byStrategy.get(n)!.length, 0));
      expect(await store.listOrders({ open: true }), 'nothing left open').toEqual([]);

      for (const [name, p] of [['alpha', alpha], ['beta', beta]] as const) {
        const orders = byStrategy.get(name)!;
        const sent = p.lines.filter((l) => l.k === 'sent' && l.t === 'new').map((l) => l.cid as string);
        expect(orders.every((o) => o.strategy === name && o.clientId.startsWith(`${name}.`)), `${name}: only its own ids`).toBe(true);
        expect(orders.map((o) => o.clientId).sort(), `${name}: the store holds exactly the orders it sent`).toEqual([...sent].sort());
        // Every order event it got is recorded for it, once.
        const events = await store.eventsSince(name, 0);
        expect(events.every((e) => e.clientId === undefined || sent.includes(e.clientId)), `${name}: events only about its own orders`).toBe(true);
        const recorded = new Map<string, number>();
        for (const e of events) if (e.clientId !== undefined) recorded.set(`${e.cb}|${e.clientId}`, (recorded.get(`${e.cb}|${e.clientId}`) ?? 0) + 1);
        const got = new Map<string, number>();
        for (const l of p.lines) if (l.k === 'ev' && l.cid !== undefined) got.set(`${l.cb}|${l.cid}`, (got.get(`${l.cb}|${l.cid}`) ?? 0) + 1);
        for (const [key, n] of got) expect(n, `${name}: ${key} received ${n}×, recorded ${recorded.get(key) ?? 0}×`).toBe(recorded.get(key) ?? 0);
        // Its position: the store's = Σ its fills = its own at the end.
        const fills = await store.fills(name);
        const sum = fills.reduce((a, f) => a + (f.side === Side.Buy ? 1 : -1) * Number(f.qty), 0);
        expect(Number((await store.positions(name))[0]?.position ?? 0), `${name}: position = Σ fills`).toBe(sum);
        expect(Number(p.lines.find((l) => l.k === 'final')!.pos), `${name}: its own position at the end`).toBe(sum);
      }
      expect(byStrategy.get('intruder')!.map((o) => o.clientId)).toEqual([sentinel]);
      const sentinelEvents = (await store.orderEvents('alpha', sentinel)).map((e) => e.cb);
      expect(sentinelEvents, "alpha's sentinel: acked, and cancelled only by alpha's own stop").toEqual(['onNewOrderAck', 'onCancelOrderAck', 'onOrderCancelled']);
      expect(alpha.lines.some((l) => l.k === 'intent' && l.t === 'cancel' && l.cid === sentinel)).toBe(true);

      const demoOrders = byStrategy.get('demo-mm')!;
      const demoFills = await store.fills('demo-mm');
      expect(demoOrders.every((o) => o.clientId.startsWith('demo-mm.')), 'demo: its own ids').toBe(true);
      expect(demoOrders.filter((o) => o.acked).length, 'demo: acknowledged orders').toBeGreaterThan(0);
      expect(demoFills.length, 'demo: fills').toBeGreaterThan(0);
      for (const n of ['alpha', 'beta', 'demo-mm']) {
        const f = await store.fills(n);
        expect((await store.positions(n)).map((x) => ({ ...x, updatedTs: 0 })), `${n}: stored positions = positions from fills`).toEqual(positionsFromFills(n, f).map((x) => ({ ...x, updatedTs: 0 })));
      }
      expect(demoMm.out.stdout).toMatch(/── live session summary \(this process\) ──/);

      const s = (ms: number) => (ms / 1000).toFixed(1);
      // eslint-disable-next-line no-console
      console.log(
        `integration: alpha ${byStrategy.get('alpha')!.length} orders, beta ${byStrategy.get('beta')!.length}, demo ${demoOrders.length} orders / ${demoFills.length} fills; ` +
          `gateway up in ${s(tStarted - t0)} s, demo's first fill after ${s(tTraded - tStarted)} s; total ${s(performance.now() - t0)} s`,
      );
    } finally {
      await store.close();
    }
  }, 180_000);
});
