import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { CancelCode, Liquidity, OrderStatus, OrderType, Price, Qty, RejectCode, Side, TimeInForce } from '../../src/api/index.js';
import type { OrderExecution, StrategyEventMap } from '../../src/api/index.js';
import { OrderTracker } from '../../src/core/order-tracker.js';
import type { VenueCancelOrder, VenueModifyOrder, VenueNewOrder } from '../../src/core/venue.js';
import { newOrderRecord, positionsFromFills, type NewOrderRecord, type OrderStore } from '../../src/store/order-store.js';
import { ORDER_STORE_SCHEMA_VERSION, OrderStoreFormatError, SqliteOrderStore } from '../../src/store/sqlite-store.js';
import { ROOT } from '../helpers.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
const dir = mkdtempSync(join(tmpdir(), 'tl-store-'));
let fileNo = 0;
const tmpDb = () => join(dir, `s${++fileNo}.db`);

/** Runs `body` in a child process (tsx) where `s` is a `SqliteOrderStore` on `path`. */
function runWithStore(name: string, path: string, body: string) {
  const script = join(dir, `${name}.mts`);
  writeFileSync(script, `import { SqliteOrderStore } from ${JSON.stringify(join(ROOT, 'src/store/sqlite-store.ts'))};\nconst s = new SqliteOrderStore(${JSON.stringify(path)});\n${body}\n`);
  return spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
}

const EX = 'SIM';
const INST = 7;
const T0 = 1_700_000_000_000_000; // µs

function order(clientId: string, over: Partial<NewOrderRecord> = {}): NewOrderRecord {
  return {
    strategy: 'A',
    clientId,
    exchange: EX,
    instrumentId: INST,
    side: Side.Buy,
    orderType: OrderType.Limit,
    tif: TimeInForce.GTC,
    execInstr: [],
    price: Price.of('100'),
    qty: Qty.of('10'),
    createdTs: T0,
    ...over,
  };
}
const ack = (clientId: string): StrategyEventMap['onNewOrderAck'] => ({
  exchange: EX,
  clientId,
  exchangeId: `x-${clientId}`,
  instrumentId: INST,
  side: Side.Buy,
  price: Price.of('100'),
  qty: Qty.of('10'),
  leavesQty: Qty.of('10'),
  orderType: OrderType.Limit,
  tif: TimeInForce.GTC,
  execInstr: [],
});
const rejectEv = (clientId: string, rejectCode = RejectCode.PostOnlyWouldTake) => ({ exchange: EX, clientId, rejectCode, rejectReason: 'no' });
const modAck = (clientId: string, newPrice = '101', newQty = '12') => ({ exchange: EX, clientId, newPrice: Price.of(newPrice), newQty: Qty.of(newQty), leavesQty: Qty.of(newQty) });
const modRej = (clientId: string) => ({ exchange: EX, clientId, rejectCode: RejectCode.VenueOrderClosed, rejectReason: 'closed' });
const cxlAck = (clientId: string) => ({ exchange: EX, clientId });
const cxlRej = (clientId: string) => ({ exchange: EX, clientId, rejectCode: RejectCode.VenueUnknownOrder, rejectReason: 'gone' });
const cancelled = (clientId: string, unsolicited = false) => ({ exchange: EX, clientId, unsolicited, engineTs: 1, recvTs: 2, cancelCode: CancelCode.Requested, cancelReason: 'requested' });
function fill(clientId: string, qty: string, price = '100', over: Partial<OrderExecution> = {}): OrderExecution {
  return {
    exchange: EX,
    clientId,
    side: Side.Buy,
    price: Price.of(price),
    fillQty: Qty.of(qty),
    leavesQty: Qty.of('1'),
    execTs: T0 + 5,
    recvTs: T0 + 6,
    instrumentId: INST,
    fee: Price.of('0.01'),
    liquidity: Liquidity.Maker,
    ...over,
  };
}
const modReq = (clientId: string, newPrice = '101', newQty = '12', strategy = 'A'): VenueModifyOrder => ({
  type: 'ModifyOrder',
  strategy,
  clientId,
  instrumentId: INST,
  newPrice: Price.of(newPrice),
  newPriceTick: 0,
  newQty: Qty.of(newQty),
  newQtyLots: 0,
});
const cxlReq = (clientId: string, strategy = 'A'): VenueCancelOrder => ({ type: 'CancelOrder', strategy, clientId, instrumentId: INST });

const open: OrderStore[] = [];
function mem(): SqliteOrderStore {
  const s = new SqliteOrderStore(':memory:');
  open.push(s);
  return s;
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

describe('SqliteOrderStore: orders', () => {
  it('inserts an order in PendingNew with exact decimal strings', async () => {
    const s = mem();
    const r = await s.insertOrder(order('c1', { price: '100.50', qty: Qty.of('0.10'), execInstr: [] }));
    expect(r.created).toBe(true);
    expect(r.order).toMatchObject({ strategy: 'A', clientId: 'c1', status: OrderStatus.PendingNew, price: '100.5', qty: '0.1', leavesQty: '0.1', cumQty: '0', avgFillPrice: '0', acked: false, createdTs: T0, updatedTs: T0 });
    expect(await s.getOrder('A', 'c1')).toEqual(r.order);
    expect(await s.getOrder('A', 'nope')).toBeUndefined();
  });

  it('is idempotent on (strategy, clientId): a retried request never creates a second order', async () => {
    const s = mem();
    expect((await s.insertOrder(order('c1'))).created).toBe(true);
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    // The retry after a reconnect: same key, maybe other fields; nothing is written.
    const again = await s.insertOrder(order('c1', { qty: '99', createdTs: T0 + 2 }));
    expect(again.created).toBe(false);
    expect(again.order).toMatchObject({ status: OrderStatus.Open, qty: '10', createdTs: T0, exchangeId: 'x-c1' });
    expect(await s.listOrders()).toHaveLength(1);
    // The same client id of another strategy is another order.
    expect((await s.insertOrder(order('c1', { strategy: 'B' }))).created).toBe(true);
    expect(await s.listOrders()).toHaveLength(2);
    // The events to re-send for the duplicate.
    expect((await s.orderEvents('A', 'c1')).map((e) => e.cb)).toEqual(['onNewOrderAck']);
  });

  it('refuses malformed orders with a TypeError and writes nothing', async () => {
    const s = mem();
    await expect(s.insertOrder(order('c1', { price: 'abc' }))).rejects.toThrow(TypeError);
    await expect(s.insertOrder(order('c1', { qty: '0' }))).rejects.toThrow(/qty must be positive/);
    await expect(s.insertOrder(order('', {}))).rejects.toThrow(/clientId/);
    await expect(s.insertOrder(order('c1', { createdTs: 1.5 }))).rejects.toThrow(/createdTs/);
    await expect(s.insertOrder(order('c1', { tif: 'GTD' as TimeInForce }))).rejects.toThrow(/tif must be one of GTC, IOC, FOK/);
    await expect(s.insertOrder(order('c1', { execInstr: ['Hidden' as never] }))).rejects.toThrow(/execInstr/);
    await expect(s.recordEvent('A', 'onNewOrderAck', ack('c1'), Number.NaN)).rejects.toThrow(/integer µs/);
    expect(await s.listOrders()).toEqual([]);
    expect(await s.lastEventSeq('A')).toBe(0);
  });

  it('builds the record from a validated VenueNewOrder', () => {
    const req: VenueNewOrder = { type: 'NewOrder', strategy: 'A', clientId: 'c9', instrumentId: 3, side: Side.Sell, orderType: OrderType.Market, tif: TimeInForce.IOC, execInstr: [], price: Price.ZERO, priceTick: Number.NaN, qty: Qty.of('2'), qtyLots: 2 };
    expect(newOrderRecord(req, 'SIM', T0)).toMatchObject({ strategy: 'A', clientId: 'c9', exchange: 'SIM', instrumentId: 3, side: Side.Sell, orderType: OrderType.Market, createdTs: T0 });
  });
});

describe('SqliteOrderStore: events move orders as the OrderTracker does', () => {
  it('ack opens; a reject closes with nothing left', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    await s.insertOrder(order('c2'));
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    await s.recordEvent('A', 'onNewOrderReject', rejectEv('c2'), T0 + 2);
    expect(await s.getOrder('A', 'c1')).toMatchObject({ status: OrderStatus.Open, acked: true, exchangeId: 'x-c1', leavesQty: '10', updatedTs: T0 + 1 });
    expect(await s.getOrder('A', 'c2')).toMatchObject({ status: OrderStatus.Rejected, leavesQty: '0', updatedTs: T0 + 2 });
  });

  it('fills: partial then full, exact average, leaves and cum', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    await s.recordEvent('A', 'onOrderExecution', fill('c1', '1', '10'), T0 + 2);
    expect(await s.getOrder('A', 'c1')).toMatchObject({ status: OrderStatus.PartiallyFilled, cumQty: '1', leavesQty: '9', avgFillPrice: '10', fills: 1 });
    await s.recordEvent('A', 'onOrderExecution', fill('c1', '3', '10.2'), T0 + 3);
    expect(await s.getOrder('A', 'c1')).toMatchObject({ status: OrderStatus.PartiallyFilled, cumQty: '4', leavesQty: '6', avgFillPrice: '10.15', fillNotional: '40.6' });
    await s.recordEvent('A', 'onOrderExecution', fill('c1', '6', '10.3', { leavesQty: Qty.ZERO }), T0 + 4);
    expect(await s.getOrder('A', 'c1')).toMatchObject({ status: OrderStatus.Filled, cumQty: '10', leavesQty: '0', avgFillPrice: '10.24', fills: 3 });
    // Exact: 1/3 is not representable, and the notional keeps the average from drifting.
    await s.insertOrder(order('c2', { qty: '3' }));
    for (const p of ['1', '1', '2']) await s.recordEvent('A', 'onOrderExecution', fill('c2', '1', p), T0 + 5);
    expect(await s.getOrder('A', 'c2')).toMatchObject({ status: OrderStatus.Filled, cumQty: '3', fillNotional: '4', avgFillPrice: '1.3333333333333333333' });
  });

  it('a fill reported with nothing left completes the order even below its qty', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    await s.recordEvent('A', 'onOrderExecution', fill('c1', '4', '100', { leavesQty: Qty.ZERO }), T0 + 1);
    expect(await s.getOrder('A', 'c1')).toMatchObject({ status: OrderStatus.Filled, cumQty: '4', leavesQty: '0' });
  });

  it('modify: request, then ack (new price and qty) or reject (unchanged)', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    await s.recordEvent('A', 'onOrderExecution', fill('c1', '2'), T0 + 2);
    const r = await s.recordRequest(modReq('c1', '101', '12'), T0 + 3);
    expect(r.ok).toBe(true);
    expect(await s.getOrder('A', 'c1')).toMatchObject({ status: OrderStatus.PendingModify, pendingModify: { price: '101', qty: '12' }, price: '100' });
    await s.recordEvent('A', 'onModifyOrderAck', modAck('c1', '101', '12'), T0 + 4);
    expect(await s.getOrder('A', 'c1')).toMatchObject({ status: OrderStatus.PartiallyFilled, price: '101', qty: '12', leavesQty: '10', cumQty: '2', pendingModify: undefined });
    await s.recordRequest(modReq('c1', '102', '15'), T0 + 5);
    await s.recordEvent('A', 'onModifyOrderReject', modRej('c1'), T0 + 6);
    expect(await s.getOrder('A', 'c1')).toMatchObject({ status: OrderStatus.PartiallyFilled, price: '101', qty: '12', pendingModify: undefined });
  });

  it('cancel: request, ack, a fill in between, then cancelled; a cancel reject puts the order back', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    await s.recordRequest(cxlReq('c1'), T0 + 2);
    expect((await s.getOrder('A', 'c1'))!.status).toBe(OrderStatus.PendingCancel);
    await s.recordEvent('A', 'onCancelOrderReject', cxlRej('c1'), T0 + 3);
    expect((await s.getOrder('A', 'c1'))!.status).toBe(OrderStatus.Open);
    await s.recordRequest(cxlReq('c1'), T0 + 4);
    await s.recordEvent('A', 'onCancelOrderAck', cxlAck('c1'), T0 + 5);
    expect((await s.getOrder('A', 'c1'))!.status).toBe(OrderStatus.PendingCancel);
    await s.recordEvent('A', 'onOrderExecution', fill('c1', '3'), T0 + 6);
    expect(await s.getOrder('A', 'c1')).toMatchObject({ status: OrderStatus.PendingCancel, cumQty: '3', leavesQty: '7' });
    await s.recordEvent('A', 'onOrderCancelled', cancelled('c1'), T0 + 7);
    expect(await s.getOrder('A', 'c1')).toMatchObject({ status: OrderStatus.Cancelled, cumQty: '3', leavesQty: '0', avgFillPrice: '100' });
    // An unsolicited cancel (IOC remainder) needs no request.
    await s.insertOrder(order('c2', { tif: TimeInForce.IOC }));
    await s.recordEvent('A', 'onNewOrderAck', ack('c2'), T0 + 8);
    await s.recordEvent('A', 'onOrderCancelled', cancelled('c2', true), T0 + 9);
    expect((await s.getOrder('A', 'c2'))!.status).toBe(OrderStatus.Cancelled);
  });

  it('refuses what the tracker refuses, leaves the order alone, and still logs the event', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    const before = await s.getOrder('A', 'c1');
    const seqs = [
      await s.recordEvent('A', 'onModifyOrderAck', modAck('c1'), T0 + 2), // no modify in flight
      await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 3), // second ack
      await s.recordEvent('A', 'onOrderExecution', fill('c1', '1', '100', { side: Side.Sell }), T0 + 4), // wrong side
      await s.recordEvent('A', 'onOrderExecution', fill('c1', '11'), T0 + 5), // beyond qty
      await s.recordEvent('A', 'onOrderExecution', fill('c1', '1', '100', { exchange: 'OTHER' }), T0 + 6), // other venue
      await s.recordEvent('A', 'onOrderCancelled', cancelled('nope'), T0 + 7), // unknown order
    ];
    expect(seqs).toEqual([2, 3, 4, 5, 6, 7]);
    expect(await s.getOrder('A', 'c1')).toEqual(before);
    const log = await s.eventsSince('A', 1);
    expect(log.map((e) => e.effect)).toEqual(['refused', 'refused', 'refused', 'refused', 'refused', 'refused']);
    expect(log.map((e) => e.note)).toEqual([
      "order 'c1' in Open: ModifyAck is not allowed",
      "order 'c1' in Open: Ack is not allowed",
      "order 'c1' in Open: Fill refused: fill side 'Sell' differs from the order side Buy",
      "order 'c1' in Open: FillFull refused: fill qty 11 exceeds the qty left 10",
      "Fill from exchange 'OTHER' for order 'c1' of SIM",
      "onOrderCancelled for unknown order 'nope'",
    ]);
    expect(await s.fills('A')).toEqual([]);
    // Terminal orders accept nothing: a late reject after the fill does not resurrect it.
    await s.recordEvent('A', 'onOrderExecution', fill('c1', '10'), T0 + 8);
    await s.recordEvent('A', 'onCancelOrderReject', cxlRej('c1'), T0 + 9);
    const last = (await s.eventsSince('A', 8))[0]!;
    expect(last).toMatchObject({ effect: 'refused', note: "order 'c1' in Filled: CancelReject is not allowed (order is closed)" });
    expect((await s.getOrder('A', 'c1'))!.status).toBe(OrderStatus.Filled);
  });

  it('leaves the order alone for a DuplicateClientId reject and a cancel-all reject', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    await s.recordEvent('A', 'onNewOrderReject', rejectEv('c1', RejectCode.DuplicateClientId), T0 + 1);
    await s.recordEvent('A', 'onCancelOrderReject', { exchange: EX, clientId: undefined, rejectCode: RejectCode.VenueUnknownOrder, rejectReason: 'x' }, T0 + 2);
    expect((await s.getOrder('A', 'c1'))!.status).toBe(OrderStatus.PendingNew);
    const log = await s.eventsSince('A', 0);
    expect(log.map((e) => [e.effect, e.clientId])).toEqual([
      ['none', undefined],
      ['none', undefined],
    ]);
    // The reject answered another request: it is not re-sent as this order's history.
    expect(await s.orderEvents('A', 'c1')).toEqual([]);
  });

  it('refuses requests the tracker refuses and writes nothing', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    expect(await s.recordRequest(modReq('c1'), T0 + 1)).toMatchObject({ ok: false, reason: "order 'c1' in PendingNew: ModifyRequest is not allowed" });
    expect(await s.recordRequest(cxlReq('zz'), T0 + 1)).toEqual({ ok: false, reason: "CancelOrder for unknown order 'zz'", order: undefined });
    expect((await s.getOrder('A', 'c1'))!.updatedTs).toBe(T0);
  });

  it('matches the OrderTracker on random event sequences (status, figures, positions)', async () => {
    type Step =
      | { k: 'ack' | 'reject' | 'modRej' | 'cxlReq' | 'cxlAck' | 'cxlRej' | 'cancelled'; o: number }
      | { k: 'modReq' | 'modAck'; o: number; q: number; p: number }
      | { k: 'fill'; o: number; q: number; p: number; zeroLeaves: boolean };
    const oi = fc.integer({ min: 0, max: 2 });
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ k: fc.constantFrom('ack', 'reject', 'modRej', 'cxlReq', 'cxlAck', 'cxlRej', 'cancelled' as const), o: oi }) as fc.Arbitrary<Step>,
      fc.record({ k: fc.constantFrom('modReq', 'modAck' as const), o: oi, q: fc.integer({ min: 1, max: 12 }), p: fc.integer({ min: 990, max: 1010 }) }) as fc.Arbitrary<Step>,
      fc.record({ k: fc.constant('fill' as const), o: oi, q: fc.integer({ min: 1, max: 6 }), p: fc.integer({ min: 990, max: 1010 }), zeroLeaves: fc.boolean() }),
      fc.record({ k: fc.constant('fill' as const), o: oi, q: fc.integer({ min: 1, max: 6 }), p: fc.integer({ min: 990, max: 1010 }), zeroLeaves: fc.constant(false) }),
    );
    // Which statuses the runs reached and how many fills were applied: the property must not pass by refusing everything.
    const reached = new Set<string>();
    let appliedFills = 0;
    const setup = fc.array(fc.record({ side: fc.constantFrom(Side.Buy, Side.Sell), qty: fc.integer({ min: 1, max: 10 }) }), { minLength: 3, maxLength: 3 });
    await fc.assert(
      fc.asyncProperty(setup, fc.array(step, { maxLength: 40 }), async (orders, steps) => {
        const s = new SqliteOrderStore(':memory:');
        const t = new OrderTracker();
        try {
          const ids = orders.map((_, i) => `o${i}`);
          for (const [i, o] of orders.entries()) {
            const req: VenueNewOrder = { type: 'NewOrder', strategy: 'A', clientId: ids[i]!, instrumentId: INST, side: o.side, orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [], price: Price.of('100'), priceTick: 1000, qty: Qty.of(String(o.qty)), qtyLots: o.qty };
            t.submit(req, T0, EX);
            await s.insertOrder(newOrderRecord(req, EX, T0));
          }
          let ts = T0;
          for (const st of steps) {
            ts += 1;
            const id = ids[st.o]!;
            const side = orders[st.o]!.side;
            const px = (p: number) => Price.of((p / 10).toString());
            let tOk: boolean;
            let sOk: boolean;
            const rec = async <K extends keyof StrategyEventMap>(cb: K, ev: StrategyEventMap[K]) => {
              const seq = await s.recordEvent('A', cb, ev, ts);
              return (await s.eventsSince('A', seq - 1))[0]!.effect === 'applied';
            };
            switch (st.k) {
              case 'ack':
                tOk = t.onAck({ ...ack(id), side }).ok;
                sOk = await rec('onNewOrderAck', { ...ack(id), side });
                break;
              case 'reject':
                tOk = t.onReject(rejectEv(id)).ok;
                sOk = await rec('onNewOrderReject', rejectEv(id));
                break;
              case 'modReq': {
                const q = t.get(id)!.filledQty.add(String(st.q)).toString();
                tOk = t.onModifyRequest(id, px(st.p), Qty.of(q)).ok;
                sOk = (await s.recordRequest(modReq(id, px(st.p).toString(), q), ts)).ok;
                break;
              }
              case 'modAck': {
                // Sometimes at or below the filled qty, which both refuse.
                const q = String(st.q);
                tOk = t.onModifyAck(modAck(id, px(st.p).toString(), q)).ok;
                sOk = await rec('onModifyOrderAck', modAck(id, px(st.p).toString(), q));
                break;
              }
              case 'modRej':
                tOk = t.onModifyReject(modRej(id)).ok;
                sOk = await rec('onModifyOrderReject', modRej(id));
                break;
              case 'cxlReq':
                tOk = t.onCancelRequest(id).ok;
                sOk = (await s.recordRequest(cxlReq(id), ts)).ok;
                break;
              case 'cxlAck':
                tOk = t.onCancelAck(cxlAck(id)).ok;
                sOk = await rec('onCancelOrderAck', cxlAck(id));
                break;
              case 'cxlRej':
                tOk = t.onCancelReject(cxlRej(id)).ok;
                sOk = await rec('onCancelOrderReject', cxlRej(id));
                break;
              case 'cancelled':
                tOk = t.onCancelled(cancelled(id)).ok;
                sOk = await rec('onOrderCancelled', cancelled(id));
                break;
              case 'fill': {
                const tr = t.get(id)!;
                const leaves = st.zeroLeaves ? Qty.ZERO : Qty.of(tr.qty.sub(tr.filledQty).sub(String(st.q)).abs());
                const ev = fill(id, String(st.q), px(st.p).toString(), { side, leavesQty: leaves, fee: Price.of('0.03') });
                tOk = t.onExecution(ev).ok;
                sOk = await rec('onOrderExecution', ev);
                break;
              }
            }
            expect(sOk, `${st.k} ${id}`).toBe(tOk);
            if (sOk && st.k === 'fill') appliedFills++;
            const a = t.get(id)!;
            const b = (await s.getOrder('A', id))!;
            reached.add(b.status);
            expect({ status: b.status, price: b.price, qty: b.qty, cum: b.cumQty, leaves: b.leavesQty, avg: b.avgFillPrice, acked: b.acked, fills: b.fills }).toEqual({
              status: a.status,
              price: a.price.toString(),
              qty: a.qty.toString(),
              cum: a.filledQty.toString(),
              leaves: a.leavesQty.toString(),
              avg: a.avgFillPrice.toString(),
              acked: a.acked,
              fills: a.fills,
            });
          }
          const open = (await s.openOrders('A')).map((o) => o.clientId);
          expect(open).toEqual(t.openOrders().map((o) => o.clientId));
          const sp = await s.positions('A');
          const tp = t.positions();
          expect(sp.map((p) => [p.position, p.avgEntryPrice, p.fills])).toEqual(tp.map((p) => [p.position.toString(), p.avgEntryPrice.toString(), p.fills]));
          for (const [i, p] of sp.entries()) {
            expect(Number(p.realizedPnl)).toBeCloseTo(tp[i]!.realizedPnl, 6);
            expect(Number(p.fees)).toBeCloseTo(tp[i]!.fees, 6);
          }
          expect(sp).toEqual(positionsFromFills('A', await s.fills('A')));
        } finally {
          await s.close();
        }
      }),
      { numRuns: 150, seed: 4242 },
    );
    expect([...reached].sort()).toEqual(Object.values(OrderStatus).sort());
    expect(appliedFills).toBeGreaterThan(100);
  });
});

describe('SqliteOrderStore: fills and positions', () => {
  it('stores every fill with its order, event seq, fee and liquidity', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    const seq = await s.recordEvent('A', 'onOrderExecution', fill('c1', '4', '100.25', { liquidity: Liquidity.Taker, fee: Price.of('-0.02') }), T0 + 2);
    await s.recordEvent('A', 'onOrderExecution', fill('c1', '6', '100.5', { fee: undefined as unknown as Price, liquidity: undefined as unknown as Liquidity, execTs: undefined as unknown as number }), T0 + 3);
    const f = await s.fills('A', 'c1');
    expect(f).toEqual([
      { strategy: 'A', clientId: 'c1', fillSeq: 1, eventSeq: seq, exchange: EX, instrumentId: INST, side: Side.Buy, price: '100.25', qty: '4', fee: '-0.02', liquidity: Liquidity.Taker, execTs: T0 + 5, recvTs: T0 + 6, ts: T0 + 2 },
      { strategy: 'A', clientId: 'c1', fillSeq: 2, eventSeq: seq + 1, exchange: EX, instrumentId: INST, side: Side.Buy, price: '100.5', qty: '6', fee: '0', liquidity: undefined, execTs: undefined, recvTs: T0 + 6, ts: T0 + 3 },
    ]);
    expect(await s.fills('A')).toEqual(f);
    expect(await s.fills('B')).toEqual([]);
  });

  it('positions follow the average-cost example of docs/orders.md, per instrument', async () => {
    const s = mem();
    const fills: Array<[Side, string, string]> = [
      [Side.Buy, '10', '100'],
      [Side.Buy, '10', '102'],
      [Side.Sell, '15', '103'],
      [Side.Sell, '10', '99'],
    ];
    for (const [i, [side, qty, price]] of fills.entries()) {
      await s.insertOrder(order(`p${i}`, { side, qty }));
      await s.recordEvent('A', 'onOrderExecution', fill(`p${i}`, qty, price, { side, fee: Price.of('0.1') }), T0 + i);
    }
    await s.insertOrder(order('other', { instrumentId: 8 }));
    await s.recordEvent('A', 'onOrderExecution', fill('other', '2', '5', { instrumentId: 8 }), T0 + 9);
    const ps = await s.positions('A');
    expect(ps).toEqual([
      { strategy: 'A', exchange: EX, instrumentId: INST, position: '-5', avgEntryPrice: '99', realizedPnl: '20', fees: '0.4', volume: '45', notional: '4555', fills: 4, updatedTs: T0 + 3 },
      { strategy: 'A', exchange: EX, instrumentId: 8, position: '2', avgEntryPrice: '5', realizedPnl: '0', fees: '0.01', volume: '2', notional: '10', fills: 1, updatedTs: T0 + 9 },
    ]);
    expect(positionsFromFills('A', await s.fills('A'))).toEqual(ps);
    expect(await s.positions('B')).toEqual([]);
  });
});

describe('SqliteOrderStore: event log', () => {
  it('numbers each strategy’s events 1, 2, … and revives decimals', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    expect(await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1)).toBe(1);
    expect(await s.appendEvent('B', 'onGatewayStatus', { exchange: EX, status: 'Maintenance' as never, detail: '' }, T0 + 2)).toBe(1);
    expect(await s.recordEvent('A', 'onOrderExecution', fill('c1', '2', '100.1'), T0 + 3)).toBe(2);
    expect(await s.appendEvent('A', 'onFrameworkDisconnected', undefined, T0 + 4)).toBe(3);
    expect(await s.recordEvent('A', 'onPublicTrade', { exchange: EX, instrumentId: INST, side: Side.Buy, price: Price.of('1'), qty: Qty.of('1'), execTs: 1, recvTs: 2 }, T0 + 5)).toBe(4);
    expect(await s.lastEventSeq('A')).toBe(4);
    expect(await s.lastEventSeq('B')).toBe(1);
    expect(await s.lastEventSeq('C')).toBe(0);

    const all = await s.eventsSince('A', 0);
    expect(all.map((e) => [e.seq, e.cb, e.ts, e.effect, e.clientId])).toEqual([
      [1, 'onNewOrderAck', T0 + 1, 'applied', 'c1'],
      [2, 'onOrderExecution', T0 + 3, 'applied', 'c1'],
      [3, 'onFrameworkDisconnected', T0 + 4, 'none', undefined],
      [4, 'onPublicTrade', T0 + 5, 'none', undefined],
    ]);
    const ex = all[1]!;
    if (ex.cb !== 'onOrderExecution') throw new Error('narrowing');
    expect(ex.ev.price).toBeInstanceOf(Price);
    expect(ex.ev.fillQty).toBeInstanceOf(Qty);
    expect(ex.ev.price.toString()).toBe('100.1');
    expect(ex.ev.fee.toString()).toBe('0.01');
    expect(ex.ev.liquidity).toBe(Liquidity.Maker);
    expect(all[2]!.ev).toBeUndefined();
    expect((await s.eventsSince('A', 2)).map((e) => e.seq)).toEqual([3, 4]);
    expect((await s.eventsSince('A', 1, 2)).map((e) => e.seq)).toEqual([2, 3]);
    expect(await s.eventsSince('A', 4)).toEqual([]);
    expect((await s.orderEvents('A', 'c1')).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('appendEvent logs an order event without moving the order', async () => {
    const s = mem();
    await s.insertOrder(order('c1'));
    await s.appendEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    expect((await s.getOrder('A', 'c1'))!.status).toBe(OrderStatus.PendingNew);
    expect((await s.eventsSince('A', 0))[0]).toMatchObject({ effect: 'none', clientId: 'c1' });
  });

  it('rejects calls after close', async () => {
    const s = new SqliteOrderStore(':memory:');
    await s.close();
    await s.close();
    await expect(s.getOrder('A', 'c1')).rejects.toThrow(/closed/);
    await expect(s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0)).rejects.toThrow(/closed/);
  });
});

describe('SqliteOrderStore: files, WAL, durability, schema', () => {
  it('persists across close and reopen; sequence numbers continue', async () => {
    const path = tmpDb();
    const s = new SqliteOrderStore(path);
    await s.insertOrder(order('c1'));
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    await s.recordEvent('A', 'onOrderExecution', fill('c1', '4'), T0 + 2);
    const o = await s.getOrder('A', 'c1');
    await s.close();
    const r = new SqliteOrderStore(path);
    try {
      expect(await r.getOrder('A', 'c1')).toEqual(o);
      expect(await r.fills('A')).toHaveLength(1);
      expect((await r.positions('A'))[0]!.position).toBe('4');
      expect(await r.lastEventSeq('A')).toBe(2);
      expect(await r.recordEvent('A', 'onOrderCancelled', cancelled('c1', true), T0 + 3)).toBe(3);
      expect((await r.insertOrder(order('c1'))).created).toBe(false);
    } finally {
      await r.close();
    }
  });

  it('runs in WAL mode with synchronous FULL by default (NORMAL on request)', async () => {
    const path = tmpDb();
    const s = new SqliteOrderStore(path);
    await s.insertOrder(order('c1'));
    expect(existsSync(`${path}-wal`)).toBe(true);
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    expect(((s as unknown as { db: BetterSqlite3.Database }).db.pragma('synchronous', { simple: true }) as number)).toBe(2);
    await s.close();
    const n = new SqliteOrderStore(tmpDb(), { synchronous: 'NORMAL' });
    expect((n as unknown as { db: BetterSqlite3.Database }).db.pragma('synchronous', { simple: true })).toBe(1);
    await n.close();
  });

  it('a second connection sees every committed row while the writer is still open', async () => {
    const path = tmpDb();
    const w = new SqliteOrderStore(path);
    const r = new SqliteOrderStore(path, { readonly: true });
    try {
      await w.insertOrder(order('c1'));
      expect((await r.getOrder('A', 'c1'))!.status).toBe(OrderStatus.PendingNew);
      await w.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
      await w.recordEvent('A', 'onOrderExecution', fill('c1', '3'), T0 + 2);
      // No close, no checkpoint: the rows are in the WAL and visible to any other connection.
      expect((await r.getOrder('A', 'c1'))!.cumQty).toBe('3');
      expect((await r.eventsSince('A', 0)).map((e) => e.seq)).toEqual([1, 2]);
      const raw = new Database(path, { readonly: true });
      expect(raw.prepare('SELECT COUNT(*) AS n FROM fills').get()).toEqual({ n: 1 });
      raw.close();
      // A read-only connection cannot write.
      await expect(r.insertOrder(order('c2'))).rejects.toThrow(/read-only/);
    } finally {
      await r.close();
      await w.close();
    }
  });

  it('two writers on one file: each sees the other’s commits (the caches follow data_version) and event numbers never collide', async () => {
    const path = tmpDb();
    const a = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    const b = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    try {
      await a.insertOrder(order('c1'));
      expect(await a.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1)).toBe(1);
      // a now holds c1 (Open) and seq 1 in memory; b moves the order and the log on.
      expect(await b.recordEvent('A', 'onOrderExecution', fill('c1', '4'), T0 + 2)).toBe(2);
      expect(await b.recordEvent('A', 'onOrderExecution', fill('c1', '2'), T0 + 3)).toBe(3);
      // a must apply its next event to the order as b left it, with the next number.
      expect(await a.recordEvent('A', 'onOrderExecution', fill('c1', '1'), T0 + 4)).toBe(4);
      const o = (await a.getOrder('A', 'c1'))!;
      expect([o.status, o.cumQty, o.leavesQty, o.fills]).toEqual([OrderStatus.PartiallyFilled, '7', '3', 3]);
      expect((await b.fills('A')).map((f) => f.fillSeq)).toEqual([1, 2, 3]);
      expect((await a.eventsSince('A', 0)).map((e) => [e.seq, e.effect])).toEqual([
        [1, 'applied'],
        [2, 'applied'],
        [3, 'applied'],
        [4, 'applied'],
      ]);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('group commit: writes join one transaction, seen at once by this store and by others only after commitGroup', async () => {
    const path = tmpDb();
    const w = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    const r = new SqliteOrderStore(path, { readonly: true });
    try {
      expect(w.groupOpen).toBe(false);
      w.beginGroup();
      w.beginGroup(); // no-op
      expect(w.groupOpen).toBe(true);
      await w.insertOrder(order('g1'));
      expect(await w.recordEvent('A', 'onNewOrderAck', ack('g1'), T0 + 1)).toBe(1);
      // A write the store refuses inside the group undoes only itself.
      await expect(w.insertOrder({ ...order('bad'), price: 'x' as never })).rejects.toThrow(TypeError);
      expect((await w.getOrder('A', 'g1'))!.status).toBe(OrderStatus.Open);
      expect(await r.getOrder('A', 'g1')).toBeUndefined();
      expect(await r.eventsSince('A', 0)).toEqual([]);
      w.commitGroup();
      expect(w.groupOpen).toBe(false);
      w.commitGroup(); // no-op
      expect((await r.getOrder('A', 'g1'))!.status).toBe(OrderStatus.Open);
      expect((await r.eventsSince('A', 0)).map((e) => e.cb)).toEqual(['onNewOrderAck']);
      // Without a group every write commits on its own, as before.
      await w.insertOrder(order('g2'));
      expect((await r.getOrder('A', 'g2'))!.status).toBe(OrderStatus.PendingNew);
      // close commits an open group.
      w.beginGroup();
      await w.recordEvent('A', 'onNewOrderAck', ack('g2'), T0 + 2);
      await w.close();
      expect((await r.getOrder('A', 'g2'))!.status).toBe(OrderStatus.Open);
    } finally {
      await r.close();
      await w.close();
    }
  });

  it('group commit: checks its caches against data_version once a group, and after another connection committed', async () => {
    const path = tmpDb();
    const w = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    const other = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    const st = (w as unknown as { st: { dataVersion: { get(): unknown } } }).st;
    const get = st.dataVersion.get.bind(st.dataVersion);
    let reads = 0;
    st.dataVersion.get = () => {
      reads++;
      return get();
    };
    try {
      w.beginGroup();
      for (let i = 0; i < 3; i++) {
        await w.insertOrder(order(`d${i}`));
        await w.recordEvent('A', 'onNewOrderAck', ack(`d${i}`), T0 + i);
      }
      w.commitGroup();
      expect(reads).toBe(1);
      // Without a group, each write checks.
      reads = 0;
      await w.insertOrder(order('d9'));
      expect(reads).toBe(1);
      // Another connection's commit between groups is seen at the next group's start.
      await w.getOrder('A', 'd0'); // cached
      await other.recordEvent('A', 'onOrderCancelled', { exchange: 'SIM', clientId: 'd0', unsolicited: true, engineTs: T0, recvTs: T0, cancelCode: 3000, cancelReason: 'x' } as never, T0 + 10);
      w.beginGroup();
      expect((await w.getOrder('A', 'd0'))!.status).toBe(OrderStatus.Cancelled);
      await w.recordEvent('A', 'onOrderCancelled', { exchange: 'SIM', clientId: 'd1', unsolicited: true, engineTs: T0, recvTs: T0, cancelCode: 3000, cancelReason: 'x' } as never, T0 + 11);
      w.commitGroup();
      expect((await w.eventsSince('A', 0)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await other.close();
      await w.close();
    }
  });

  it('group commit: a failed commit rolls the whole group back, throws, and leaves the store consistent', async () => {
    const path = tmpDb();
    const w = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    const raw = (w as unknown as { db: BetterSqlite3.Database }).db;
    try {
      await w.insertOrder(order('k1'));
      await w.recordEvent('A', 'onNewOrderAck', ack('k1'), T0 + 1);
      w.beginGroup();
      await w.insertOrder(order('k2'));
      await w.recordEvent('A', 'onNewOrderAck', ack('k2'), T0 + 2);
      await w.recordEvent('A', 'onOrderExecution', fill('k1', '4'), T0 + 3);
      // A deferred foreign-key violation makes the COMMIT itself fail (as an I/O error would).
      raw.pragma('defer_foreign_keys = ON');
      raw.prepare(`INSERT INTO fills (strategy, client_id, fill_seq, event_seq, exchange, instrument_id, side, price, qty, fee, ts) VALUES ('A', 'nobody', 1, 99, 'SIM', 7, 'Buy', '1', '1', '0', 1)`).run();
      expect(() => w.commitGroup()).toThrow(/FOREIGN KEY/);
      expect(w.groupOpen).toBe(false);
      expect(raw.inTransaction).toBe(false);
      // Nothing of the group is left, also not in the caches.
      expect(await w.getOrder('A', 'k2')).toBeUndefined();
      const k1 = (await w.getOrder('A', 'k1'))!;
      expect([k1.status, k1.cumQty]).toEqual([OrderStatus.Open, '0']);
      expect(await w.fills('A')).toEqual([]);
      expect((await w.eventsSince('A', 0)).map((e) => e.seq)).toEqual([1]);
      // The store goes on: numbers continue after the last committed one.
      expect(await w.recordEvent('A', 'onOrderExecution', fill('k1', '2'), T0 + 4)).toBe(2);
      expect((await w.getOrder('A', 'k1'))!.cumQty).toBe('2');
      // A group whose commit fails at close: the store closes all the same, then throws.
      w.beginGroup();
      await w.insertOrder(order('k3'));
      raw.pragma('defer_foreign_keys = ON');
      raw.prepare(`INSERT INTO fills (strategy, client_id, fill_seq, event_seq, exchange, instrument_id, side, price, qty, fee, ts) VALUES ('A', 'nobody', 1, 98, 'SIM', 7, 'Buy', '1', '1', '0', 1)`).run();
      await expect(w.close()).rejects.toThrow(/FOREIGN KEY/);
      expect(raw.open).toBe(false);
      await expect(w.getOrder('A', 'k1')).rejects.toThrow(/closed/);
      const again = new SqliteOrderStore(path, { readonly: true });
      expect(await again.getOrder('A', 'k3')).toBeUndefined();
      expect((await again.getOrder('A', 'k1'))!.cumQty).toBe('2');
      await again.close();
    } finally {
      await w.close();
    }
  });

  it('hands out event numbers after the highest ever used, and keeps that floor when it closes', async () => {
    const path = tmpDb();
    const s = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    await s.insertOrder(order('c1'));
    for (let i = 1; i <= 3; i++) expect(await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + i)).toBe(i);
    await s.close();
    const raw = new Database(path);
    expect(raw.prepare('SELECT last_seq FROM event_seq WHERE strategy = ?').get('A')).toEqual({ last_seq: 3 });
    // Events pruned (by hand here): numbers still go on from the floor, never reused.
    raw.prepare('DELETE FROM events WHERE strategy = ?').run('A');
    raw.close();
    const r = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    try {
      expect(await r.lastEventSeq('A')).toBe(3);
      expect(await r.appendEvent('A', 'onFrameworkDisconnected', undefined as never, T0 + 9)).toBe(4);
    } finally {
      await r.close();
    }
  });

  it('checkpoints the WAL on a worker thread, not inside commits, and removes it at close', async () => {
    const path = tmpDb();
    const s = new SqliteOrderStore(path, { synchronous: 'NORMAL', checkpointEveryCommits: 50 });
    const db = (s as unknown as { db: BetterSqlite3.Database }).db;
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const { statSync } = await import('node:fs');
    const before = statSync(path).size;
    for (let i = 0; i < 400; i++) {
      await s.insertOrder(order(`k${i}`));
      await s.recordEvent('A', 'onNewOrderAck', ack(`k${i}`), T0 + i);
    }
    // Only a checkpoint writes pages into the database file itself.
    const deadline = Date.now() + 10_000;
    while (statSync(path).size === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(statSync(path).size).toBeGreaterThan(before);
    await s.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const r = new SqliteOrderStore(path, { readonly: true });
    expect(await r.listOrders({ status: OrderStatus.Open })).toHaveLength(400);
    await r.close();
    // Without the worker, SQLite checkpoints inside commits as usual.
    const plain = new SqliteOrderStore(tmpDb(), { backgroundCheckpoint: false });
    expect((plain as unknown as { db: BetterSqlite3.Database }).db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await plain.close();
  });

  it('returns frozen orders from its cache, so that no caller can change what the store holds', async () => {
    const s = mem();
    const { order: o } = await s.insertOrder(order('c1'));
    expect(Object.isFrozen(o)).toBe(true);
    expect(() => (o.execInstr as unknown[]).push('x')).toThrow(TypeError);
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    expect((await s.getOrder('A', 'c1'))!.status).toBe(OrderStatus.Open);
  });

  it('lets the WAL start over under steady writes (background checkpoints), instead of growing without end', async () => {
    const path = tmpDb();
    // A low threshold, so that a few thousand orders show several restarts (the default is 16 000 frames).
    const s = new SqliteOrderStore(path, { synchronous: 'NORMAL', walRestartFrames: 1_500 });
    /** The WAL header's checkpoint sequence number: it counts the times the WAL started over. */
    const restarts = () => readFileSync(`${path}-wal`).readUInt32BE(12);
    try {
      let n = 0;
      // As a gateway writes: an order and its ack per commit, each its own turn of the event loop.
      for (; n < 12_000 && (n % 500 !== 0 || restarts() < 2); n++) {
        s.beginGroup();
        await s.insertOrder(order(`w${n}`));
        await s.recordEvent('A', 'onNewOrderAck', ack(`w${n}`), T0 + n);
        s.commitGroup();
        await new Promise<void>((r) => setImmediate(r));
      }
      // Without the RESTART pass the number stays 0 and the WAL holds every frame (≈ 40 MB by 2 500 orders).
      expect(restarts()).toBeGreaterThanOrEqual(2);
      expect(n).toBeLessThan(12_000);
      expect(statSync(`${path}-wal`).size).toBeLessThan(n * 3 * 4096);
      expect((await s.getOrder('A', 'w0'))!.status).toBe(OrderStatus.Open);
      expect(await s.lastEventSeq('A')).toBe(n);
    } finally {
      await s.close();
    }
    expect(() => new SqliteOrderStore(tmpDb(), { walRestartFrames: 0 })).toThrow(/walRestartFrames must be an integer ≥ 1, got 0/);
    // Everything is there after the restarts, read afresh.
    const r = new SqliteOrderStore(path, { readonly: true });
    expect((await r.listOrders({ status: OrderStatus.Open, limit: 1_000_000 })).length).toBeGreaterThanOrEqual(1_000);
    await r.close();
  });

  it('closes fully when nothing else keeps the process alive (the checkpointer is waited for)', () => {
    const path = tmpDb();
    const r = runWithStore(
      'close-last',
      path,
      `await s.insertOrder({ strategy: 'A', clientId: 'c1', exchange: 'SIM', instrumentId: 7, side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: [], price: '100', qty: '10', createdTs: 1 });
await s.close();
console.log('closed');`,
    );
    // Before: the await on the unref'd worker's exit never returned, and Node ended with 13.
    expect([r.status, r.stdout.trim()]).toEqual([0, 'closed']);
    // The last connection closed: the WAL was checkpointed and removed.
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('keeps every committed write when the writing process is killed', () => {
    const path = tmpDb();
    const r = runWithStore(
      'crash',
      path,
      `const o = { strategy: 'A', exchange: 'SIM', instrumentId: 7, side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: [], price: '100', qty: '10', createdTs: 1 };
for (let i = 0; i < 50; i++) {
  await s.insertOrder({ ...o, clientId: 'k' + i });
  await s.recordEvent('A', 'onNewOrderAck', { exchange: 'SIM', clientId: 'k' + i, exchangeId: 'x' + i }, 2 + i);
}
process.kill(process.pid, 'SIGKILL');`,
    );
    expect(r.signal).toBe('SIGKILL');
    return (async () => {
      const s = new SqliteOrderStore(path);
      try {
        expect(await s.listOrders({ status: OrderStatus.Open })).toHaveLength(50);
        expect(await s.lastEventSeq('A')).toBe(50);
      } finally {
        await s.close();
      }
    })();
  });

  it('writes a versioned schema and refuses files it cannot read', async () => {
    const path = tmpDb();
    await new SqliteOrderStore(path).close();
    const raw = new Database(path);
    expect(raw.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: String(ORDER_STORE_SCHEMA_VERSION) });
    raw.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    raw.close();
    expect(() => new SqliteOrderStore(path)).toThrow(/schema version 99.*upgrade tradeloop/);

    const foreign = tmpDb();
    const f = new Database(foreign);
    f.exec('CREATE TABLE t (x)');
    f.close();
    expect(() => new SqliteOrderStore(foreign)).toThrow(OrderStoreFormatError);

    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'this is not a database, just some text that is long enough to have a header\n'.repeat(20));
    expect(() => new SqliteOrderStore(text, { readonly: true })).toThrow(/not a SQLite database/);

    expect(() => new SqliteOrderStore(join(dir, 'missing.db'), { readonly: true })).toThrow();
    expect(existsSync(join(dir, 'missing.db'))).toBe(false);
  });

  it('orderEvents: the events about a stored order, refused ones included, none from before it was stored', async () => {
    const s = mem();
    // An answer for an order not stored yet (a reject of a request refused before the store).
    await s.recordEvent('A', 'onNewOrderReject', rejectEv('c1'), T0);
    await s.insertOrder(order('c1'));
    await s.insertOrder(order('c2'));
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    await s.recordEvent('A', 'onNewOrderAck', ack('c2'), T0 + 2);
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 3); // refused: already acknowledged
    await s.appendEvent('A', 'onCancelOrderReject', cxlRej('c1'), T0 + 4); // logged only
    await s.recordEvent('A', 'onOrderExecution', fill('c2', '10'), T0 + 5);
    const evs = (c: string) => s.orderEvents('A', c).then((es) => es.map((e) => [e.seq, e.cb, e.effect]));
    expect(await evs('c1')).toEqual([
      [2, 'onNewOrderAck', 'applied'],
      [4, 'onNewOrderAck', 'refused'],
      [5, 'onCancelOrderReject', 'none'],
    ]);
    expect(await evs('c2')).toEqual([
      [3, 'onNewOrderAck', 'applied'],
      [6, 'onOrderExecution', 'applied'],
    ]);
    expect(await s.orderEvents('A', 'nope')).toEqual([]);
    expect(await s.orderEvents('B', 'c1')).toEqual([]);
  });

  it('an order and its ack commit three pages: no index beyond the idempotency key', async () => {
    const path = tmpDb();
    const s = new SqliteOrderStore(path, { synchronous: 'NORMAL', backgroundCheckpoint: false });
    const db = (s as unknown as { db: BetterSqlite3.Database }).db;
    db.pragma('wal_autocheckpoint = 0');
    const { statSync } = await import('node:fs');
    const frames = () => (statSync(`${path}-wal`).size - 32) / (4096 + 24);
    const perCommit: number[] = [];
    try {
      for (let i = 0; i <= 200; i++) {
        const before = i === 0 ? 0 : frames();
        s.beginGroup();
        await s.insertOrder(order(`w${i}`));
        await s.recordEvent('A', 'onNewOrderAck', ack(`w${i}`), T0 + i);
        s.commitGroup();
        if (i > 0) perCommit.push(frames() - before);
      }
      // orders, its unique key, events; more when a page splits (about one order in seven).
      // The version-1 indexes made it 5 (mean 5.7).
      const sorted = [...perCommit].sort((x, y) => x - y);
      expect(sorted[100]).toBe(3);
      expect(perCommit.reduce((x, y) => x + y, 0) / perCommit.length).toBeLessThan(4.2);
    } finally {
      await s.close();
    }
  });

  it('open orders: kept in memory, rebuilt after a reopen from the floor written at close, and after another connection’s commits', async () => {
    const path = tmpDb();
    const s = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    for (let i = 0; i < 6; i++) await s.insertOrder(order(`c${i}`, { strategy: i === 5 ? 'B' : 'A' }));
    for (const c of ['c0', 'c1', 'c3']) await s.recordEvent('A', 'onNewOrderReject', rejectEv(c), T0 + 1);
    await s.recordEvent('A', 'onNewOrderAck', ack('c2'), T0 + 2);
    const ids = async (st: SqliteOrderStore, strategy = 'A') => (await st.openOrders(strategy)).map((o) => [o.clientId, o.status]);
    expect(await ids(s)).toEqual([
      ['c2', OrderStatus.Open],
      ['c4', OrderStatus.PendingNew],
    ]);
    await s.insertOrder(order('c6'));
    await s.recordEvent('A', 'onNewOrderReject', rejectEv('c2'), T0 + 3); // refused (c2 is Open): stays open
    await s.recordEvent('A', 'onOrderCancelled', cancelled('c2', true), T0 + 4);
    expect(await ids(s)).toEqual([
      ['c4', OrderStatus.PendingNew],
      ['c6', OrderStatus.PendingNew],
    ]);
    expect(await ids(s, 'B')).toEqual([['c5', OrderStatus.PendingNew]]);
    await s.close();

    // Rows below the floor are all terminal: c4 (row 5) is the oldest open one.
    const raw = new Database(path);
    expect(raw.prepare("SELECT value FROM meta WHERE key = 'open_floor'").get()).toEqual({ value: '5' });
    // Proof that nothing below the floor is read: a row there edited back to Open stays unseen.
    raw.prepare("UPDATE orders SET status = 'Open' WHERE client_id = 'c0'").run();
    raw.close();
    const r = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    const other = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    const reader = new SqliteOrderStore(path, { readonly: true });
    try {
      expect(await ids(r)).toEqual([
        ['c4', OrderStatus.PendingNew],
        ['c6', OrderStatus.PendingNew],
      ]);
      expect(await ids(reader)).toEqual(await ids(r));
      expect((await reader.listOrders({ open: true })).map((o) => o.clientId)).toEqual(['c4', 'c5', 'c6']);
      expect((await reader.listOrders({ status: OrderStatus.Open })).map((o) => o.clientId)).toEqual(['c0']);
      // Another connection opens one and closes one: r follows (data_version).
      await other.insertOrder(order('c7'));
      await other.recordEvent('A', 'onNewOrderReject', rejectEv('c4'), T0 + 5);
      expect(await ids(r)).toEqual([
        ['c6', OrderStatus.PendingNew],
        ['c7', OrderStatus.PendingNew],
      ]);
      expect(await r.openOrders('A', EX, INST + 1)).toEqual([]);
      expect((await r.openOrders('A', EX, INST)).length).toBe(2);
    } finally {
      await reader.close();
      await other.close();
      await r.close();
    }
  });

  it('reads a version-1 file read-only as it is, and migrates it when opened for writing', async () => {
    const path = tmpDb();
    const s = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    await s.insertOrder(order('c1'));
    await s.insertOrder(order('c2'));
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 1);
    await s.recordEvent('A', 'onOrderExecution', fill('c1', '3'), T0 + 2);
    await s.recordEvent('A', 'onNewOrderAck', ack('c1'), T0 + 3); // refused
    await s.insertOrder(order('c3'));
    await s.recordEvent('A', 'onNewOrderReject', rejectEv('c3'), T0 + 4);
    await s.close();
    const evs = async (st: SqliteOrderStore, c: string) => (await st.orderEvents('A', c)).map((e) => [e.seq, e.cb, e.effect]);
    const c1 = [
      [1, 'onNewOrderAck', 'applied'],
      [2, 'onOrderExecution', 'applied'],
      [3, 'onNewOrderAck', 'refused'],
    ];
    // Back to the version-1 layout, as an older tradeloop wrote it.
    const raw = new Database(path);
    raw.exec(`ALTER TABLE orders DROP COLUMN first_seq; ALTER TABLE orders DROP COLUMN last_seq; DELETE FROM meta WHERE key = 'open_floor';
      CREATE INDEX orders_open ON orders (strategy, id) WHERE status IN ('PendingNew', 'Open', 'PartiallyFilled', 'PendingModify', 'PendingCancel');
      CREATE INDEX events_by_order ON events (strategy, client_id, seq) WHERE client_id IS NOT NULL;
      UPDATE meta SET value = '1' WHERE key = 'schema_version';`);
    raw.close();
    const version = () => {
      const db = new Database(path, { readonly: true });
      try {
        const v = (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value;
        const idx = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
        return { v, idx };
      } finally {
        db.close();
      }
    };
    expect(version()).toEqual({ v: '1', idx: ['events_by_order', 'fills_by_event', 'orders_open'] });

    const ro = new SqliteOrderStore(path, { readonly: true });
    try {
      expect(await evs(ro, 'c1')).toEqual(c1);
      expect((await ro.openOrders('A')).map((o) => o.clientId)).toEqual(['c1', 'c2']);
      await expect(ro.insertOrder(order('c9'))).rejects.toThrow(/read-only/);
    } finally {
      await ro.close();
    }
    expect(version().v).toBe('1');

    const m = new SqliteOrderStore(path, { synchronous: 'NORMAL' });
    try {
      expect(version()).toEqual({ v: '2', idx: ['fills_by_event'] });
      expect(await evs(m, 'c1')).toEqual(c1);
      expect(await evs(m, 'c3')).toEqual([[4, 'onNewOrderReject', 'applied']]);
      // c2 had no events: its range starts after the last event, so its next ones are found.
      expect(await evs(m, 'c2')).toEqual([]);
      await m.recordEvent('A', 'onNewOrderAck', ack('c2'), T0 + 5);
      expect(await evs(m, 'c2')).toEqual([[5, 'onNewOrderAck', 'applied']]);
      expect((await m.openOrders('A')).map((o) => o.clientId)).toEqual(['c1', 'c2']);
      expect((await m.insertOrder(order('c1'))).created).toBe(false);
    } finally {
      await m.close();
    }
  });

  it('lists orders by strategy, status, open, newest limit', async () => {
    const s = mem();
    for (const [i, strat] of ['A', 'B', 'A', 'A'].entries()) await s.insertOrder(order(`c${i}`, { strategy: strat }));
    await s.recordEvent('A', 'onNewOrderReject', rejectEv('c2'), T0 + 1);
    await s.recordEvent('A', 'onNewOrderAck', ack('c3'), T0 + 1);
    const ids = async (q: Parameters<SqliteOrderStore['listOrders']>[0]) => (await s.listOrders(q)).map((o) => o.clientId);
    expect(await ids({})).toEqual(['c0', 'c1', 'c2', 'c3']);
    expect(await ids({ strategy: 'A' })).toEqual(['c0', 'c2', 'c3']);
    expect(await ids({ status: OrderStatus.Rejected })).toEqual(['c2']);
    expect(await ids({ open: true, strategy: 'A' })).toEqual(['c0', 'c3']);
    expect(await ids({ limit: 2 })).toEqual(['c2', 'c3']);
    expect(await ids({ limit: 0 })).toEqual([]);
    await expect(s.listOrders({ limit: -1 })).rejects.toThrow(TypeError);
    expect((await s.openOrders('A')).map((o) => o.clientId)).toEqual(['c0', 'c3']);
    expect(await s.openOrders('A', 'OTHER')).toEqual([]);
  });
});
