import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CancelCode, Liquidity, OrderType, Price, Qty, RejectCode, Side, TimeInForce } from '../../src/api/index.js';
import type { StrategyEventMap } from '../../src/api/index.js';
import type { VenueCancelOrder, VenueModifyOrder } from '../../src/core/venue.js';
import { OrderLog } from '../../src/store/order-log.js';
import type { NewOrderRecord, OrderStore } from '../../src/store/order-store.js';
import { SqliteOrderStore } from '../../src/store/sqlite-store.js';
import { OrderStoreLockedError, WriteBehindOrderStore } from '../../src/store/write-behind-store.js';
import { ROOT } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-wb-'));
let fileNo = 0;
const tmpDb = () => join(dir, `w${++fileNo}.db`);
const EX = 'SIM';
const INST = 7;
const T0 = 1_700_000_000_000_000;

const opened: OrderStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
});
// One store for the tests that need nothing but a store of their own strategies: each open
// starts a worker thread, which costs a second or two on a loaded machine.
let sharedStore: WriteBehindOrderStore | undefined;
async function shared(): Promise<WriteBehindOrderStore> {
  return (sharedStore ??= await WriteBehindOrderStore.open(tmpDb(), { synchronous: 'NORMAL' }));
}
afterAll(async () => {
  await sharedStore?.close();
});
async function wb(path: string, opts: Parameters<typeof WriteBehindOrderStore.open>[1] = {}): Promise<WriteBehindOrderStore> {
  const s = await WriteBehindOrderStore.open(path, { synchronous: 'NORMAL', ...opts });
  opened.push(s);
  return s;
}

/** A script for a child process (tsx) in which `s` is a write-behind store (NORMAL) on `path`, `Price` and `Qty` imported; returns its file. */
function storeScript(name: string, path: string, body: string): string {
  const script = join(dir, `${name}.mts`);
  writeFileSync(
    script,
    `import { WriteBehindOrderStore } from ${JSON.stringify(join(ROOT, 'src/store/write-behind-store.ts'))};
import { Price, Qty } from ${JSON.stringify(join(ROOT, 'src/api/index.ts'))};
const s = await WriteBehindOrderStore.open(${JSON.stringify(path)}, { synchronous: 'NORMAL' });
${body}`,
  );
  return script;
}

function order(strategy: string, clientId: string, side = Side.Buy, qty = '10'): NewOrderRecord {
  return { strategy, clientId, exchange: EX, instrumentId: INST, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [], price: Price.of('100'), qty: Qty.of(qty), createdTs: T0 };
}
const ack = (clientId: string, side = Side.Buy): StrategyEventMap['onNewOrderAck'] => ({
  exchange: EX, clientId, exchangeId: `x-${clientId}`, instrumentId: INST, side, price: Price.of('100'), qty: Qty.of('10'), leavesQty: Qty.of('10'), orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [],
});
const fill = (clientId: string, qty: string, price: string, side: Side, leaves: string): StrategyEventMap['onOrderExecution'] => ({
  exchange: EX, clientId, side, price: Price.of(price), fillQty: Qty.of(qty), leavesQty: Qty.of(leaves), execTs: T0 + 5, recvTs: T0 + 6, instrumentId: INST, fee: Price.of('0.01'), liquidity: Liquidity.Maker,
});
const cancelled = (clientId: string) => ({ exchange: EX, clientId, unsolicited: false, engineTs: 1, recvTs: 2, cancelCode: CancelCode.Requested, cancelReason: 'requested' });
const modReq = (strategy: string, clientId: string, p: string, q: string): VenueModifyOrder => ({ type: 'ModifyOrder', strategy, clientId, instrumentId: INST, newPrice: Price.of(p), newPriceTick: 0, newQty: Qty.of(q), newQtyLots: 0 });
const cxlReq = (strategy: string, clientId: string): VenueCancelOrder => ({ type: 'CancelOrder', strategy, clientId, instrumentId: INST });

type Step =
  | { k: 'insert' | 'ack' | 'reject' | 'cxlReq' | 'cxlAck' | 'cxlRej' | 'cancelled' | 'append' | 'status' | 'begin' | 'commit'; s: number; o: number }
  | { k: 'modReq' | 'modAck'; s: number; o: number; q: number; p: number }
  | { k: 'fill'; s: number; o: number; q: number; p: number; last: boolean };

/** Runs one step on a store; returns what the caller sees (everything a gateway could act on). */
async function run(store: OrderStore, st: Step, ts: number): Promise<unknown> {
  const strat = `S${st.s}`;
  const id = `o${st.o}`;
  const side = st.o % 2 === 0 ? Side.Buy : Side.Sell;
  const px = (p: number) => (p / 10).toString();
  switch (st.k) {
    case 'insert': {
      const r = await store.insertOrder(order(strat, id, side));
      return { created: r.created, order: r.order };
    }
    case 'ack':
      return store.recordEvent(strat, 'onNewOrderAck', ack(id, side), ts);
    case 'reject':
      return store.recordEvent(strat, 'onNewOrderReject', { exchange: EX, clientId: id, rejectCode: RejectCode.PostOnlyWouldTake, rejectReason: 'no' }, ts);
    case 'modReq':
      return store.recordRequest(modReq(strat, id, px(st.p), String(st.q)), ts);
    case 'modAck':
      return store.recordEvent(strat, 'onModifyOrderAck', { exchange: EX, clientId: id, newPrice: Price.of(px(st.p)), newQty: Qty.of(String(st.q)), leavesQty: Qty.of(String(st.q)) }, ts);
    case 'cxlReq':
      return store.recordRequest(cxlReq(strat, id), ts);
    case 'cxlAck':
      return store.recordEvent(strat, 'onCancelOrderAck', { exchange: EX, clientId: id }, ts);
    case 'cxlRej':
      return store.recordEvent(strat, 'onCancelOrderReject', { exchange: EX, clientId: id, rejectCode: RejectCode.VenueUnknownOrder, rejectReason: 'gone' }, ts);
    case 'cancelled':
      return store.recordEvent(strat, 'onOrderCancelled', cancelled(id), ts);
    case 'fill':
      return store.recordEvent(strat, 'onOrderExecution', fill(id, String(st.q), px(st.p), side, st.last ? '0' : '1'), ts);
    case 'append':
      return store.appendEvent(strat, 'onOrderCancelled', cancelled(id), ts);
    case 'status':
      return store.recordEvent(strat, 'onFrameworkDisconnected', undefined as never, ts);
    case 'begin':
      store.beginGroup?.();
      return null;
    case 'commit':
      store.commitGroup?.();
      return null;
  }
}

/** Everything a store can be asked about strategies S0 and S1. */
async function everything(store: OrderStore) {
  const out: Record<string, unknown> = { all: await store.listOrders(), open: await store.listOrders({ open: true }) };
  for (const s of ['S0', 'S1']) {
    out[s] = {
      events: await store.eventsSince(s, 0),
      last: await store.lastEventSeq(s),
      open: await store.openOrders(s),
      fills: await store.fills(s),
      positions: await store.positions(s),
      o1: await store.orderEvents(s, 'o1'),
      get2: await store.getOrder(s, 'o2'),
    };
  }
  return out;
}

const stepArb: fc.Arbitrary<Step> = (() => {
  const si = fc.integer({ min: 0, max: 1 });
  const oi = fc.integer({ min: 0, max: 5 });
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ k: fc.constant('insert' as const), s: si, o: oi }) },
    { weight: 8, arbitrary: fc.record({ k: fc.constantFrom('ack', 'reject', 'cxlReq', 'cxlAck', 'cxlRej', 'cancelled', 'append', 'status', 'begin', 'commit' as const), s: si, o: oi }) as fc.Arbitrary<Step> },
    { weight: 2, arbitrary: fc.record({ k: fc.constantFrom('modReq', 'modAck' as const), s: si, o: oi, q: fc.integer({ min: 1, max: 12 }), p: fc.integer({ min: 990, max: 1010 }) }) as fc.Arbitrary<Step> },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('fill' as const), s: si, o: oi, q: fc.integer({ min: 1, max: 6 }), p: fc.integer({ min: 990, max: 1010 }), last: fc.boolean() }) },
  );
})();

describe('WriteBehindOrderStore', () => {
  it('answers every call as SqliteOrderStore does, and leaves the same SQLite file (random runs, the log starting over often)', async () => {
    let steps = 0;
    let restarts = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1000, maxLength: 1400 }), async (run_) => {
        const a = new SqliteOrderStore(tmpDb(), { synchronous: 'NORMAL' });
        const bPath = tmpDb();
        // 16 KiB: ≈ 80 records, so long runs start the log over, inside groups too.
        const b = await WriteBehindOrderStore.open(bPath, { synchronous: 'NORMAL', logSizeBytes: 16_384 });
        try {
          let ts = T0;
          for (const st of run_) {
            ts += 1;
            const ra = await run(a, st, ts).then((v) => ({ v }), (e: Error) => ({ e: e.message }));
            const rb = await run(b, st, ts).then((v) => ({ v }), (e: Error) => ({ e: e.message }));
            expect(rb, JSON.stringify(st)).toEqual(ra);
            steps++;
          }
          a.commitGroup();
          b.commitGroup();
          restarts += b.logRestarts;
          expect(await everything(b)).toEqual(await everything(a));
          await b.close();
          // Reopened: nothing to replay after a clean close, and the same answers.
          const b2 = await WriteBehindOrderStore.open(bPath, { synchronous: 'NORMAL', logSizeBytes: 16_384 });
          expect(b2.recovery.replayed).toBe(0);
          expect(await everything(b2)).toEqual(await everything(a));
          await b2.close();
          const plain = new SqliteOrderStore(bPath, { readonly: true });
          expect(await everything(plain)).toEqual(await everything(a));
          await plain.close();
        } finally {
          await a.close();
          await b.close();
        }
      }),
      { numRuns: 3, seed: 777 },
    );
    expect(steps).toBeGreaterThan(3000);
    expect(restarts).toBeGreaterThan(5);
  }, 120_000);

  it('reads its own writes at once: event logs, fills and positions wait for SQLite to catch up', async () => {
    const s = await shared();
    await s.insertOrder(order('A', 'x'));
    const seq = await s.recordEvent('A', 'onNewOrderAck', ack('x'), T0 + 1);
    await s.recordEvent('A', 'onOrderExecution', fill('x', '4', '100.5', Side.Buy, '6'), T0 + 2);
    expect(seq).toBe(1);
    expect((await s.eventsSince('A', 0)).map((e) => e.cb)).toEqual(['onNewOrderAck', 'onOrderExecution']);
    expect((await s.fills('A')).map((f) => f.qty)).toEqual(['4']);
    expect((await s.positions('A')).map((p) => p.position)).toEqual(['4']);
    expect((await s.getOrder('A', 'x'))!.cumQty).toBe('4');
    expect((await s.openOrders('A')).map((o) => o.clientId)).toEqual(['x']);
  });

  it('keeps a script alive while a read waits for SQLite: the last act of a process can be a read', async () => {
    const path = tmpDb();
    const script = storeScript('lastread', path,
      `for (let i = 0; i < 200; i++) await s.insertOrder({ strategy: 'L', clientId: 'l' + i, exchange: 'SIM', instrumentId: 7, side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: [], price: Price.of('100'), qty: Qty.of('1'), createdTs: ${T0} });
const all = await s.listOrders({ strategy: 'L' });
process.stdout.write('listed ' + all.length + '\\n');
await s.close();
process.stdout.write('closed\\n');
`);
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += String(d)));
    const code = await new Promise((r) => child.once('exit', r));
    expect(out).toBe('listed 200\nclosed\n');
    expect(code).toBe(0);
  }, 60_000);

  it('keeps a client id taken across restarts: a retried order returns the stored one, filled or not', async () => {
    const path = tmpDb();
    const s = await wb(path);
    await s.insertOrder(order('A', 'done'));
    await s.recordEvent('A', 'onNewOrderAck', ack('done'), T0 + 1);
    await s.recordEvent('A', 'onOrderExecution', fill('done', '10', '100', Side.Buy, '0'), T0 + 2);
    await s.close();
    const s2 = await wb(path);
    const again = await s2.insertOrder(order('A', 'done'));
    expect(again.created).toBe(false);
    expect(again.order.status).toBe('Filled');
    expect((await s2.recordRequest(cxlReq('A', 'done'), T0 + 3)).ok).toBe(false);
    expect(await s2.lastEventSeq('A')).toBe(2);
    expect((await s2.insertOrder(order('A', 'new'))).created).toBe(true);
  });

  it('commits a group at once: nothing of an open group is in the log until commitGroup', async () => {
    const s = await shared();
    const log = OrderLog.open(s.logPath, { readonly: true });
    const before = log.scan().records.length;
    s.beginGroup();
    await s.insertOrder(order('G', 'g'));
    await s.recordEvent('G', 'onNewOrderAck', ack('g'), T0 + 1);
    expect(log.scan().records).toHaveLength(before);
    s.commitGroup();
    expect(log.scan().records.slice(before).map((r) => JSON.parse(r.payload)[0])).toEqual(['o', 'e']);
    log.close();
  });

  it('FULL: each commit flushes the log (msync), SQLite runs FULL, and everything reads back after a reopen', async () => {
    const path = tmpDb();
    const s = await WriteBehindOrderStore.open(path, { logSizeBytes: 16_384 });
    for (let i = 0; i < 60; i++) {
      s.beginGroup();
      await s.insertOrder(order('F', `f${i}`));
      await s.recordEvent('F', 'onNewOrderAck', ack(`f${i}`), T0 + i);
      s.commitGroup();
    }
    expect(s.logRestarts).toBeGreaterThan(0);
    await s.close();
    const plain = new SqliteOrderStore(path, { readonly: true });
    expect((await plain.listOrders({ strategy: 'F' })).filter((o) => o.acked)).toHaveLength(60);
    await plain.close();
  });

  it('refuses the arguments SqliteOrderStore refuses, with the same TypeError, and writes nothing', async () => {
    const s = await shared();
    await expect(s.insertOrder({ ...order('R', 'bad'), qty: '0' })).rejects.toThrow(TypeError);
    await expect(s.recordEvent('', 'onNewOrderAck', ack('x'), T0)).rejects.toThrow(TypeError);
    await expect(s.recordEvent('R', 'onNewOrderAck', ack('x'), 1.5)).rejects.toThrow(TypeError);
    expect(await s.lastEventSeq('R')).toBe(0);
    expect(await s.listOrders({ strategy: 'R' })).toEqual([]);
    await expect(WriteBehindOrderStore.open(':memory:')).rejects.toThrow(TypeError);
    // One writer per file, in this process too; the lock goes with close().
    const path = tmpDb();
    const first = await WriteBehindOrderStore.open(path, { synchronous: 'NORMAL' });
    const locked = await WriteBehindOrderStore.open(path).catch((e: unknown) => e);
    expect(locked).toBeInstanceOf(OrderStoreLockedError);
    expect((locked as OrderStoreLockedError).code).toBe('ORDER_STORE_LOCKED');
    await first.close();
    await (await wb(path)).close();
    for (const applyIntervalMs of [0, 1.5, 60_001]) await expect(WriteBehindOrderStore.open(tmpDb(), { applyIntervalMs })).rejects.toThrow(/applyIntervalMs must be an integer from 1 to 60000/);
    await expect(WriteBehindOrderStore.open(tmpDb(), { applierPriority: 'high' as never })).rejects.toThrow(/applierPriority must be idle, low or normal, got high/);
  });

  it.runIf(process.platform === 'linux')('runs its worker at the CPU priority asked (SCHED_IDLE by default, nice 19, or as the gateway) once recovery is done', async () => {
    // Fields of /proc/<pid>/task/<tid>/stat after the command's closing parenthesis: nice is field 19, policy field 41 (SCHED_IDLE = 5).
    const sched = (tid: number) => {
      const f = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return { nice: Number(f[16]), policy: Number(f[38]) };
    };
    const hasChrt = spawnSync('chrt', ['--version'], { stdio: 'ignore' }).status === 0;
    const idle = await wb(tmpDb());
    expect(idle.applier.priority).toBe(hasChrt ? 'idle' : 'low');
    expect(sched(idle.applier.tid!)).toEqual(hasChrt ? { nice: 0, policy: 5 } : { nice: 19, policy: 0 });
    const low = await wb(tmpDb(), { applierPriority: 'low' });
    expect(low.applier.priority).toBe('low');
    expect(sched(low.applier.tid!)).toEqual({ nice: 19, policy: 0 });
    const normal = await wb(tmpDb(), { applierPriority: 'normal' });
    expect(normal.applier).toEqual({ priority: 'normal' });
    // The worker still applies on its own, at idle priority, with nobody reading through the store.
    await idle.insertOrder(order('P', 'p1'));
    const plain = new SqliteOrderStore(idle.path, { readonly: true });
    try {
      let seen: unknown;
      for (let k = 0; k < 200 && seen === undefined; k++) {
        seen = await plain.getOrder('P', 'p1');
        if (seen === undefined) await new Promise((r) => setTimeout(r, 10));
      }
      expect(seen).toMatchObject({ strategy: 'P', clientId: 'p1', status: 'PendingNew' });
    } finally {
      await plain.close();
    }
  });

  it('replays at open what the log holds beyond SQLite, and stops at a damaged record', async () => {
    const path = tmpDb();
    const s = await WriteBehindOrderStore.open(path, { synchronous: 'NORMAL' });
    await s.insertOrder(order('A', 'a'));
    await s.recordEvent('A', 'onNewOrderAck', ack('a'), T0 + 1);
    const logPath = s.logPath;
    await s.close();
    // What a process killed before its worker caught up leaves: committed records SQLite lacks.
    const log = OrderLog.open(logPath);
    log.append(3, `["o","A","b","SIM",7,"Buy","Limit","GTC",[],"100","10",${T0}]`);
    log.append(4, `["e","A","onNewOrderAck",${T0 + 2},1,2,${JSON.stringify(ack('b'))}]`);
    log.append(5, `["o","A","c","SIM",7,"Buy","Limit","GTC",[],"100","10",${T0}]`);
    log.commit();
    const third = log.scan().records[2]!.offset;
    log.close();
    const bytes = readFileSync(logPath);
    bytes[third + 20] ^= 0xff; // the third record torn, as a power loss could leave it
    writeFileSync(logPath, bytes);
    const r = await wb(path);
    expect(r.recovery.replayed).toBe(2);
    expect(r.recovery.damaged).toContain('record checksum mismatch');
    expect((await r.getOrder('A', 'b'))!.acked).toBe(true);
    expect(await r.getOrder('A', 'c')).toBeUndefined();
    expect(await r.lastEventSeq('A')).toBe(2);
    // And it goes on from there: the next record numbers follow the replayed ones.
    await r.insertOrder(order('A', 'd'));
    expect((await r.listOrders({ strategy: 'A' })).map((o) => o.clientId)).toEqual(['a', 'b', 'd']);
  });

  it('after a SIGKILL, the next open replays from the log every order acknowledged before the kill', async () => {
    const path = tmpDb();
    // Each order and its ack commit together; "acked N" is printed only after the commit.
    const script = storeScript('killed', path,
      `for (let i = 0; ; i++) {
  s.beginGroup();
  await s.insertOrder({ strategy: 'K', clientId: 'k' + i, exchange: 'SIM', instrumentId: 7, side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: [], price: Price.of('100'), qty: Qty.of('1'), createdTs: ${T0} });
  await s.recordEvent('K', 'onNewOrderAck', { exchange: 'SIM', clientId: 'k' + i, exchangeId: 'x' + i, instrumentId: 7, side: 'Buy', price: Price.of('100'), qty: Qty.of('1'), leavesQty: Qty.of('1'), orderType: 'Limit', tif: 'GTC', execInstr: [] }, ${T0} + i);
  s.commitGroup();
  process.stdout.write('acked ' + i + '\\n');
  // The store's promises are settled: without a turn of the event loop the loop would run on
  // microtasks alone, and stdout could not drain when the pipe is full (a loaded machine).
  await new Promise((r) => setImmediate(r));
}
`);
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let exit = '';
    child.stderr.on('data', (d: Buffer) => (err += String(d)));
    child.once('exit', (code, signal) => (exit = `exit code ${String(code)}, signal ${String(signal)}`));
    let firstAck!: () => void;
    const opened = new Promise<void>((r) => (firstAck = r));
    const acked1500 = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no progress after ${(out.match(/acked/g) ?? []).length} acks (${exit || 'still running'}): ${err}`)), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        out += String(d);
        firstAck();
        if ((out.match(/acked/g) ?? []).length >= 1500) {
          clearTimeout(t);
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    // One writer: while the child has the store open, this process cannot open it too.
    await opened;
    await expect(WriteBehindOrderStore.open(path, { synchronous: 'NORMAL' })).rejects.toMatchObject({ code: 'ORDER_STORE_LOCKED', message: expect.stringMatching(/already open write-behind .*one writer per store/) });
    await acked1500;
    await new Promise((r) => child.once('exit', r));
    const acked = out.split('\n').filter((l) => l.startsWith('acked ')).length;
    expect(acked).toBeGreaterThanOrEqual(1500);
    expect(existsSync(`${path}-orderlog`)).toBe(true);
    const s = await wb(path);
    const orders = await s.listOrders();
    // Every acknowledged order is there with its ack, once; at most the one in flight beyond.
    expect(orders.length).toBeGreaterThanOrEqual(acked);
    expect(orders.length).toBeLessThanOrEqual(acked + 1);
    expect(new Set(orders.map((o) => o.clientId)).size).toBe(orders.length);
    expect(orders.slice(0, acked).every((o, i) => o.clientId === `k${i}` && o.status === 'Open' && o.acked)).toBe(true);
    expect(await s.lastEventSeq('K')).toBe(orders.filter((o) => o.acked).length);
    expect(readFileSync(`${path}-orderlog`).length).toBeGreaterThan(0);
  }, 90_000);
});
