/** `OrderTracker.restore`: reconciliation of the tracker with an authoritative snapshot (a gateway's sync). */
import { describe, expect, it } from 'vitest';
import { Price, Qty } from '../../src/api/decimal.js';
import { ExecInstr, OrderStatus, OrderType, Side, TimeInForce } from '../../src/api/enums.js';
import { OrderTracker, type RestoredOrder } from '../../src/core/order-tracker.js';
import type { VenueNewOrder } from '../../src/core/venue.js';

const req = (clientId: string, side = Side.Buy, price = '100', qty = '10'): VenueNewOrder => ({
  type: 'NewOrder',
  strategy: 's',
  clientId,
  instrumentId: 1,
  side,
  orderType: OrderType.Limit,
  tif: TimeInForce.GTC,
  execInstr: [],
  price: Price.of(price),
  priceTick: Number(price) * 100,
  qty: Qty.of(qty),
  qtyLots: Number(qty),
});
const snap = (clientId: string, status: OrderStatus, leaves: string, price = '100', side = Side.Buy): RestoredOrder => ({
  exchange: 'SIM',
  instrumentId: 1,
  clientId,
  exchangeId: `SIM-${clientId}`,
  side,
  orderType: OrderType.Limit,
  tif: TimeInForce.GTC,
  execInstr: [ExecInstr.PostOnly],
  price: Price.of(price),
  leavesQty: Qty.of(leaves),
  status,
});
const ack = (clientId: string, qty = '10') => ({
  exchange: 'SIM',
  clientId,
  exchangeId: `SIM-${clientId}`,
  instrumentId: 1,
  side: Side.Buy,
  price: Price.of('100'),
  qty: Qty.of(qty),
  leavesQty: Qty.of(qty),
  orderType: OrderType.Limit,
  tif: TimeInForce.GTC,
  execInstr: [],
});
const fill = (clientId: string, qty: string, side = Side.Buy, price = '100') => ({
  exchange: 'SIM',
  clientId,
  side,
  price: Price.of(price),
  fillQty: Qty.of(qty),
  leavesQty: Qty.ZERO,
  execTs: 1,
  recvTs: 1,
  instrumentId: 1,
  fee: Price.ZERO,
  liquidity: 'Maker' as never,
});

describe('OrderTracker.restore', () => {
  it('seeds an empty tracker: orders acknowledged with the snapshot status, position set', () => {
    const t = new OrderTracker();
    const r = t.restore({ orders: [snap('a', OrderStatus.PartiallyFilled, '4'), snap('b', OrderStatus.PendingNew, '3')], positions: [{ exchange: 'SIM', instrumentId: 1, position: Qty.of('6') }] }, 5, { strategy: 'mm' });
    expect(r).toEqual({ added: ['a', 'b'], updated: [], closed: [], positions: [{ exchange: 'SIM', instrumentId: 1, from: Qty.ZERO, to: Qty.of('6') }] });
    const a = t.get('a')!;
    expect([a.status, a.acked, a.exchangeId, String(a.leavesQty), String(a.qty), a.strategy, a.createdTs, [...a.execInstr]]).toEqual([OrderStatus.PartiallyFilled, true, 'SIM-a', '4', '4', 'mm', 5, [ExecInstr.PostOnly]]);
    expect(t.get('b')!.acked).toBe(false);
    expect(t.openOrders().map((o) => o.clientId)).toEqual(['a', 'b']);
    expect(String(t.position('SIM', 1).position)).toBe('6');
    expect(t.hasOpenPosition).toBe(true);
    // The restored orders move on with the usual events.
    expect(t.onExecution({ ...fill('a', '4'), leavesQty: Qty.ZERO }).ok).toBe(true);
    expect(t.get('a')!.status).toBe(OrderStatus.Filled);
    expect(t.onAck(ack('b', '3')).ok).toBe(true);
    expect(t.onCancelRequest('b').ok).toBe(true);
    expect(String(t.position('SIM', 1).position)).toBe('10');
  });

  it('updates known orders, closes the missing ones, leaves skipped ones alone', () => {
    const t = new OrderTracker();
    for (const id of ['a', 'b', 'c', 'd']) t.submit(req(id), 1, 'SIM');
    for (const id of ['a', 'b', 'c']) t.onAck(ack(id));
    t.onExecution({ ...fill('a', '3'), leavesQty: Qty.of('7') });
    t.onCancelRequest('c');
    const r = t.restore({ orders: [snap('a', OrderStatus.PartiallyFilled, '5', '100.5'), snap('b', OrderStatus.Open, '10')], positions: [{ exchange: 'SIM', instrumentId: 1, position: Qty.of('5') }] }, 9, { skip: new Set(['d']) });
    expect(r.added).toEqual([]);
    expect(r.updated).toEqual(['a']);
    expect(r.closed).toEqual(['c']);
    const a = t.get('a')!;
    expect([String(a.price), String(a.qty), String(a.filledQty), String(a.leavesQty)]).toEqual(['100.5', '8', '3', '5']);
    expect(t.get('c')!.status).toBe(OrderStatus.Cancelled);
    expect(t.get('d')!.status).toBe(OrderStatus.PendingNew); // skipped: its request is being resent
    expect(t.openOrders().map((o) => o.clientId)).toEqual(['a', 'b', 'd']);
    // Staying on the same side keeps the average entry (here it grew: an estimate).
    expect(String(t.position('SIM', 1).position)).toBe('5');
    expect(String(t.position('SIM', 1).avgEntryPrice)).toBe('100');
  });

  it('flattens positions the snapshot does not list and takes a given entry on a flip', () => {
    const t = new OrderTracker();
    t.submit(req('a'), 1, 'SIM');
    t.onAck(ack('a'));
    t.onExecution({ ...fill('a', '10'), leavesQty: Qty.ZERO });
    expect(t.hasOpenPosition).toBe(true);
    let r = t.restore({ orders: [], positions: [] }, 2);
    expect(r.positions.map((p) => String(p.to))).toEqual(['0']);
    expect(t.hasOpenPosition).toBe(false);
    expect(String(t.position('SIM', 1).avgEntryPrice)).toBe('0');
    r = t.restore({ orders: [], positions: [{ exchange: 'SIM', instrumentId: 1, position: Qty.of('-2'), avgEntryPrice: Price.of('101') }] }, 3);
    expect(String(t.position('SIM', 1).avgEntryPrice)).toBe('101');
    // Without an entry, a flip is entered at the last mark.
    t.mark('SIM', 1, 102.5);
    t.restore({ orders: [], positions: [{ exchange: 'SIM', instrumentId: 1, position: Qty.of('3') }] }, 3);
    expect(String(t.position('SIM', 1).avgEntryPrice)).toBe('102.5');
    expect(t.position('SIM', 1).unrealizedPnl).toBe(0);
    t.restore({ orders: [], positions: [{ exchange: 'SIM', instrumentId: 1, position: Qty.of('-2') }] }, 3);
    expect(t.hasOpenPosition).toBe(true);
    // Nothing to change: nothing reported.
    expect(t.restore({ orders: [], positions: [{ exchange: 'SIM', instrumentId: 1, position: Qty.of('-2') }] }, 4)).toEqual({ added: [], updated: [], closed: [], positions: [] });
  });

  it('ignores terminal statuses in a snapshot and reopens a closed order the snapshot says is open', () => {
    const t = new OrderTracker();
    t.submit(req('a'), 1, 'SIM');
    t.onAck(ack('a'));
    t.onCancelled({ exchange: 'SIM', clientId: 'a', unsolicited: true, engineTs: 1, recvTs: 1, cancelCode: 3004 as never, cancelReason: 'x' });
    const r = t.restore({ orders: [snap('z', OrderStatus.Filled, '0'), snap('a', OrderStatus.Open, '10')], positions: [] }, 2);
    expect(r.added).toEqual([]);
    expect(r.updated).toEqual(['a']);
    expect(t.has('z')).toBe(false);
    expect(t.get('a')!.status).toBe(OrderStatus.Open);
    expect(t.openOrders()).toHaveLength(1);
  });
});
