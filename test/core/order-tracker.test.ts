import { describe, expect, it } from 'vitest';
import { CancelCode, Decimal, ExecInstr, Liquidity, OrderStatus, OrderType, Price, Qty, RejectCode, Side, TimeInForce } from '../../src/api/index.js';
import type { OrderExecution } from '../../src/api/index.js';
import { OrderAction, OrderTracker, TRANSITIONS, nextStatus } from '../../src/core/order-tracker.js';
import type { TrackerResult } from '../../src/core/order-tracker.js';
import type { VenueNewOrder } from '../../src/core/venue.js';

const EX = 'SIM';
const INST = 7;

function newOrder(clientId: string, over: Partial<VenueNewOrder> = {}): VenueNewOrder {
  return {
    type: 'NewOrder',
    strategy: 'strat',
    clientId,
    instrumentId: INST,
    side: Side.Buy,
    orderType: OrderType.Limit,
    tif: TimeInForce.GTC,
    execInstr: [],
    price: Price.of('100'),
    priceTick: 10000,
    qty: Qty.of('10'),
    qtyLots: 10,
    ...over,
  };
}

const ack = (clientId: string, exchangeId = `x-${clientId}`) => ({
  exchange: EX,
  clientId,
  exchangeId,
  instrumentId: INST,
  side: Side.Buy,
  price: Price.of('100'),
  qty: Qty.of('10'),
  leavesQty: Qty.of('10'),
  orderType: OrderType.Limit,
  tif: TimeInForce.GTC,
  execInstr: [],
});
const rejectEv = (clientId: string) => ({ exchange: EX, clientId, rejectCode: RejectCode.PostOnlyWouldTake, rejectReason: 'would take' });
const modAck = (clientId: string, newPrice = '101', newQty = '12') => ({ exchange: EX, clientId, newPrice: Price.of(newPrice), newQty: Qty.of(newQty), leavesQty: Qty.of(newQty) });
const modRej = (clientId: string) => ({ exchange: EX, clientId, rejectCode: RejectCode.VenueOrderClosed, rejectReason: 'closed' });
const cxlAck = (clientId: string) => ({ exchange: EX, clientId });
const cxlRej = (clientId: string) => ({ exchange: EX, clientId, rejectCode: RejectCode.VenueUnknownOrder, rejectReason: 'gone' });
const cancelled = (clientId: string) => ({ exchange: EX, clientId, unsolicited: false, engineTs: 1, recvTs: 2, cancelCode: CancelCode.Requested, cancelReason: 'requested' });
function fill(clientId: string, qty: string, price = '100', over: Partial<OrderExecution> = {}): OrderExecution {
  return {
    exchange: EX,
    clientId,
    side: Side.Buy,
    price: Price.of(price),
    fillQty: Qty.of(qty),
    leavesQty: Qty.of('1'),
    execTs: 10,
    recvTs: 11,
    instrumentId: INST,
    fee: Price.of('0'),
    liquidity: Liquidity.Maker,
    ...over,
  };
}

/** Applies an action with a well-formed event; fills take 1 (Fill) or everything left (FillFull). */
function act(t: OrderTracker, id: string, a: OrderAction): TrackerResult {
  switch (a) {
    case OrderAction.Submit:
      return t.submit(newOrder(id), 0, EX);
    case OrderAction.Ack:
      return t.onAck(ack(id));
    case OrderAction.Reject:
      return t.onReject(rejectEv(id));
    case OrderAction.ModifyRequest:
      return t.onModifyRequest(id, Price.of('101'), Qty.of('12'));
    case OrderAction.ModifyAck:
      return t.onModifyAck(modAck(id));
    case OrderAction.ModifyReject:
      return t.onModifyReject(modRej(id));
    case OrderAction.CancelRequest:
      return t.onCancelRequest(id);
    case OrderAction.CancelAck:
      return t.onCancelAck(cxlAck(id));
    case OrderAction.CancelReject:
      return t.onCancelReject(cxlRej(id));
    case OrderAction.Fill:
      return t.onExecution(fill(id, '1'));
    case OrderAction.FillFull: {
      const o = t.get(id)!;
      return t.onExecution(fill(id, o.qty.sub(o.filledQty).toString(), '100', { leavesQty: Qty.ZERO }));
    }
    case OrderAction.Cancelled:
      return t.onCancelled(cancelled(id));
  }
}

/** Builds a fresh tracker with order 'o' driven into a scenario by legal steps. */
function scenario(steps: OrderAction[]): OrderTracker {
  const t = new OrderTracker();
  expect(t.submit(newOrder('o'), 5, EX).ok).toBe(true);
  for (const s of steps) {
    const r = act(t, 'o', s);
    if (!r.ok) throw new Error(`setup step ${s} refused: ${r.message}`);
  }
  return t;
}

function snapshot(t: OrderTracker): string {
  const o = t.get('o')!;
  return JSON.stringify({
    status: o.status,
    price: o.price,
    qty: o.qty,
    filled: o.filledQty,
    leaves: o.leavesQty,
    avg: o.avgFillPrice,
    exchangeId: o.exchangeId ?? null,
    acked: o.acked,
    pm: o.pendingModify ?? null,
    fills: o.fills,
    open: t.openOrders().map((x) => x.clientId),
    pos: t.positions(),
    fillCount: t.fillCount,
  });
}

const A = OrderAction;
const S = OrderStatus;
const ACTIONS = Object.values(OrderAction).filter((a) => a !== A.Submit);

/** Scenario steps and, for each legal action, the status it leads to. Everything else must be refused. */
const CASES: Array<{ name: string; steps: OrderAction[]; status: OrderStatus; legal: Partial<Record<OrderAction, OrderStatus>> }> = [
  {
    name: 'PendingNew',
    steps: [],
    status: S.PendingNew,
    legal: { [A.Ack]: S.Open, [A.Reject]: S.Rejected, [A.CancelRequest]: S.PendingCancel, [A.Fill]: S.PartiallyFilled, [A.FillFull]: S.Filled, [A.Cancelled]: S.Cancelled },
  },
  {
    name: 'Open',
    steps: [A.Ack],
    status: S.Open,
    legal: { [A.ModifyRequest]: S.PendingModify, [A.CancelRequest]: S.PendingCancel, [A.Fill]: S.PartiallyFilled, [A.FillFull]: S.Filled, [A.Cancelled]: S.Cancelled },
  },
  {
    name: 'PartiallyFilled (acked)',
    steps: [A.Ack, A.Fill],
    status: S.PartiallyFilled,
    legal: { [A.ModifyRequest]: S.PendingModify, [A.CancelRequest]: S.PendingCancel, [A.Fill]: S.PartiallyFilled, [A.FillFull]: S.Filled, [A.Cancelled]: S.Cancelled },
  },
  {
    name: 'PartiallyFilled (fill before ack)',
    steps: [A.Fill],
    status: S.PartiallyFilled,
    legal: { [A.Ack]: S.PartiallyFilled, [A.CancelRequest]: S.PendingCancel, [A.Fill]: S.PartiallyFilled, [A.FillFull]: S.Filled, [A.Cancelled]: S.Cancelled },
  },
  {
    name: 'PendingModify',
    steps: [A.Ack, A.ModifyRequest],
    status: S.PendingModify,
    legal: { [A.ModifyAck]: S.Open, [A.ModifyReject]: S.Open, [A.CancelRequest]: S.PendingCancel, [A.Fill]: S.PendingModify, [A.FillFull]: S.Filled, [A.Cancelled]: S.Cancelled },
  },
  {
    name: 'PendingModify (partly filled)',
    steps: [A.Ack, A.Fill, A.ModifyRequest],
    status: S.PendingModify,
    legal: { [A.ModifyAck]: S.PartiallyFilled, [A.ModifyReject]: S.PartiallyFilled, [A.CancelRequest]: S.PendingCancel, [A.Fill]: S.PendingModify, [A.FillFull]: S.Filled, [A.Cancelled]: S.Cancelled },
  },
  {
    name: 'PendingCancel',
    steps: [A.Ack, A.CancelRequest],
    status: S.PendingCancel,
    legal: { [A.CancelAck]: S.PendingCancel, [A.CancelReject]: S.Open, [A.Fill]: S.PendingCancel, [A.FillFull]: S.Filled, [A.Cancelled]: S.Cancelled },
  },
  {
    name: 'PendingCancel (partly filled)',
    steps: [A.Ack, A.Fill, A.CancelRequest],
    status: S.PendingCancel,
    legal: { [A.CancelAck]: S.PendingCancel, [A.CancelReject]: S.PartiallyFilled, [A.Fill]: S.PendingCancel, [A.FillFull]: S.Filled, [A.Cancelled]: S.Cancelled },
  },
  {
    name: 'PendingCancel (before ack)',
    steps: [A.CancelRequest],
    status: S.PendingCancel,
    legal: { [A.Ack]: S.PendingCancel, [A.Reject]: S.Rejected, [A.CancelAck]: S.PendingCancel, [A.CancelReject]: S.PendingNew, [A.Fill]: S.PendingCancel, [A.FillFull]: S.Filled, [A.Cancelled]: S.Cancelled },
  },
  {
    name: 'PendingCancel (modify in flight)',
    steps: [A.Ack, A.ModifyRequest, A.CancelRequest],
    status: S.PendingCancel,
    legal: {
      [A.ModifyAck]: S.PendingCancel,
      [A.ModifyReject]: S.PendingCancel,
      [A.CancelAck]: S.PendingCancel,
      [A.CancelReject]: S.PendingModify,
      [A.Fill]: S.PendingCancel,
      [A.FillFull]: S.Filled,
      [A.Cancelled]: S.Cancelled,
    },
  },
  { name: 'Filled', steps: [A.Ack, A.FillFull], status: S.Filled, legal: {} },
  { name: 'Cancelled', steps: [A.Ack, A.Cancelled], status: S.Cancelled, legal: {} },
  { name: 'Rejected', steps: [A.Reject], status: S.Rejected, legal: {} },
];

describe('order state machine', () => {
  it('has the documented table', () => {
    expect(TRANSITIONS[S.PendingNew]).toEqual({ Ack: 'Resting', Reject: S.Rejected, CancelRequest: S.PendingCancel, Fill: S.PartiallyFilled, FillFull: S.Filled, Cancelled: S.Cancelled });
    expect(TRANSITIONS[S.PendingModify]).toEqual({ ModifyAck: 'Resting', ModifyReject: 'Resting', CancelRequest: S.PendingCancel, Fill: S.PendingModify, FillFull: S.Filled, Cancelled: S.Cancelled });
    expect(TRANSITIONS[S.PendingCancel].CancelAck).toBe(S.PendingCancel);
    expect(TRANSITIONS[S.PendingCancel].CancelReject).toBe('Resting');
    expect(TRANSITIONS[S.PendingCancel].ModifyRequest).toBeUndefined();
    for (const s of [S.Filled, S.Cancelled, S.Rejected]) expect(TRANSITIONS[s]).toEqual({});
    for (const row of Object.values(TRANSITIONS)) expect(row.Submit).toBeUndefined();
  });

  it('resolves Resting from the facts after the action', () => {
    const f = { acked: true, modifyInFlight: false, partlyFilled: false };
    expect(nextStatus(S.PendingCancel, A.CancelReject, f)).toBe(S.Open);
    expect(nextStatus(S.PendingCancel, A.CancelReject, { ...f, partlyFilled: true })).toBe(S.PartiallyFilled);
    expect(nextStatus(S.PendingCancel, A.CancelReject, { ...f, acked: false })).toBe(S.PendingNew);
    expect(nextStatus(S.PendingCancel, A.CancelReject, { ...f, modifyInFlight: true })).toBe(S.PendingModify);
    expect(nextStatus(S.Open, A.Ack, f)).toBeUndefined();
  });

  for (const c of CASES) {
    describe(c.name, () => {
      it('reaches the scenario', () => {
        expect(scenario(c.steps).get('o')!.status).toBe(c.status);
      });
      for (const a of ACTIONS) {
        const to = c.legal[a];
        if (to !== undefined) {
          it(`${a} → ${to}`, () => {
            const t = scenario(c.steps);
            const r = act(t, 'o', a);
            expect(r.ok).toBe(true);
            if (r.ok) expect(r.previous).toBe(c.status);
            expect(t.get('o')!.status).toBe(to);
          });
        } else {
          it(`${a} is refused and changes nothing`, () => {
            const t = scenario(c.steps);
            const before = snapshot(t);
            const r = act(t, 'o', a);
            expect(r.ok).toBe(false);
            if (r.ok) return;
            expect(r.code).toBe('ILLEGAL_TRANSITION');
            expect(r.status).toBe(c.status);
            // On a filled order any fill reaches the order qty, so it reads as FillFull.
            expect(a === A.Fill ? [A.Fill, A.FillFull] : [a]).toContain(r.action);
            expect(r.message).toContain("'o'");
            expect(r.message).toContain(c.status);
            expect(r.message).toContain(r.action);
            expect(snapshot(t)).toBe(before);
          });
        }
      }
      it('refuses a second Submit with the same client id', () => {
        const t = scenario(c.steps);
        const before = snapshot(t);
        const r = act(t, 'o', A.Submit);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.code).toBe('DUPLICATE_ORDER');
        expect(snapshot(t)).toBe(before);
      });
    });
  }

  it('does not resurrect an order that a fill completed while a cancel or modify was in flight', () => {
    const t = scenario([A.Ack, A.ModifyRequest, A.CancelRequest, A.FillFull]);
    const r1 = t.onModifyReject(modRej('o'));
    const r2 = t.onCancelReject(cxlRej('o'));
    for (const r of [r1, r2]) {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.code).toBe('ILLEGAL_TRANSITION');
        expect(r.closed).toBe(true);
      }
    }
    expect(t.get('o')!.status).toBe(S.Filled);
    expect(t.get('o')!.pendingModify).toBeUndefined();
    expect(t.isClosed('o')).toBe(true);
  });

  it('records the exchange id from a late ack after an early fill', () => {
    const t = scenario([A.Fill]);
    expect(t.get('o')!.exchangeId).toBeUndefined();
    expect(t.onAck(ack('o', 'E42')).ok).toBe(true);
    expect(t.get('o')!.exchangeId).toBe('E42');
    expect(t.get('o')!.status).toBe(S.PartiallyFilled);
  });

  it('applies the acknowledged price and qty on ModifyAck, keeps them on ModifyReject', () => {
    const t = scenario([A.Ack, A.Fill]);
    t.onModifyRequest('o', Price.of('99.5'), Qty.of('4'));
    expect(t.get('o')!.pendingModify).toEqual({ price: Price.of('99.5'), qty: Qty.of('4') });
    expect(t.onModifyAck(modAck('o', '99.5', '4')).ok).toBe(true);
    const o = t.get('o')!;
    expect(o.price.toString()).toBe('99.5');
    expect(o.qty.toString()).toBe('4');
    expect(o.leavesQty.toString()).toBe('3');
    expect(o.pendingModify).toBeUndefined();
    t.onModifyRequest('o', Price.of('98'), Qty.of('5'));
    t.onModifyReject(modRej('o'));
    expect(t.get('o')!.price.toString()).toBe('99.5');
    expect(t.get('o')!.qty.toString()).toBe('4');
  });
});

describe('OrderTracker fills and lookups', () => {
  it('updates filled, leaves and the exact average fill price', () => {
    const t = scenario([A.Ack]);
    expect(t.onExecution(fill('o', '3', '100.01')).ok).toBe(true);
    expect(t.onExecution(fill('o', '2', '100.02')).ok).toBe(true);
    let o = t.get('o')!;
    expect(o.filledQty.toString()).toBe('5');
    expect(o.leavesQty.toString()).toBe('5');
    expect(o.avgFillPrice.toString()).toBe('100.014');
    expect(o.status).toBe(S.PartiallyFilled);
    expect(t.onExecution(fill('o', '5', '100.03', { leavesQty: Qty.ZERO })).ok).toBe(true);
    o = t.get('o')!;
    expect(o.status).toBe(S.Filled);
    expect(o.leavesQty.isZero()).toBe(true);
    // (300.03 + 200.04 + 500.15) / 10
    expect(o.avgFillPrice.toString()).toBe('100.022');
    expect(o.fills).toBe(3);
    expect(t.fillCount).toBe(3);
  });

  it('keeps a non-terminating average at decimal.js precision, not binary floating point', () => {
    const t = scenario([A.Ack]);
    t.onExecution(fill('o', '1', '100'));
    t.onExecution(fill('o', '2', '100.01'));
    expect(t.get('o')!.avgFillPrice.d.eq(new Decimal('300.02').div(3))).toBe(true);
  });

  it('completes the order when the venue reports nothing left, and reports leaves zero once closed', () => {
    const t = scenario([A.Ack]);
    expect(t.onExecution(fill('o', '4', '100', { leavesQty: Qty.ZERO })).ok).toBe(true);
    expect(t.get('o')!.status).toBe(S.Filled);
    expect(t.get('o')!.leavesQty.toString()).toBe('0');
    const t2 = scenario([A.Ack, A.Fill, A.Cancelled]);
    expect(t2.get('o')!.filledQty.toString()).toBe('1');
    expect(t2.get('o')!.leavesQty.toString()).toBe('0');
  });

  it('refuses malformed or impossible fills without changing anything', () => {
    const t = scenario([A.Ack, A.Fill]);
    const before = snapshot(t);
    const bad: unknown[] = [
      fill('o', '10'), // 1 filled already: 10 more overfills
      fill('o', '0'),
      fill('o', '-1'),
      fill('o', '1', '100', { side: Side.Sell }),
      { ...fill('o', '1'), price: undefined },
      { ...fill('o', '1'), fillQty: 'lots' },
      { ...fill('o', '1'), fee: 'x' },
    ];
    for (const ev of bad) {
      const r = t.onExecution(ev as OrderExecution);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.code).toBe('INVALID_EVENT');
    }
    expect(snapshot(t)).toBe(before);
  });

  it('refuses a modify ack that leaves nothing above the filled qty', () => {
    const t = scenario([A.Ack, A.Fill, A.Fill, A.ModifyRequest]);
    const before = snapshot(t);
    const r = t.onModifyAck(modAck('o', '101', '2'));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('INVALID_EVENT');
      expect(r.message).toContain('filled qty 2');
    }
    expect(snapshot(t)).toBe(before);
  });

  it('refuses events for unknown orders or from another exchange, and never throws on garbage', () => {
    const t = scenario([A.Ack]);
    const before = snapshot(t);
    const r = t.onAck(ack('nope'));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('UNKNOWN_ORDER');
      expect(r.message).toContain('nope');
      expect(r.status).toBeUndefined();
    }
    const r2 = t.onCancelled({ ...cancelled('o'), exchange: 'BYBIT' });
    expect(r2.ok).toBe(false);
    if (!r2.ok) {
      expect(r2.code).toBe('UNKNOWN_ORDER');
      expect(r2.message).toContain('BYBIT');
    }
    for (const g of [undefined, null, {}, { clientId: 5 }]) {
      expect(() => t.onExecution(g as never)).not.toThrow();
      expect(t.onExecution(g as never).ok).toBe(false);
      expect(t.onModifyAck(g as never).ok).toBe(false);
      expect(t.onAck(g as never).ok).toBe(false);
    }
    expect(t.onModifyRequest(undefined as never, Price.of('1'), Qty.of('1')).ok).toBe(false);
    expect(snapshot(t)).toBe(before);
  });

  it('looks orders up by id, exchange and instrument', () => {
    const t = new OrderTracker();
    t.submit(newOrder('a'), 100, EX);
    t.submit(newOrder('b', { instrumentId: 8 }), 101, EX);
    t.submit(newOrder('c'), 102, 'BYBIT');
    t.submit(newOrder('d'), 103, EX);
    t.onReject(rejectEv('d'));
    expect(t.orderCount).toBe(4);
    expect(t.has('a')).toBe(true);
    expect(t.has('zz')).toBe(false);
    expect(t.get('a')).toMatchObject({ clientId: 'a', exchange: EX, instrumentId: INST, status: S.PendingNew, createdTs: 100, side: Side.Buy });
    expect(t.get('a')!.avgFillPrice.isZero()).toBe(true);
    expect(t.openOrders().map((o) => o.clientId)).toEqual(['a', 'b', 'c']);
    expect(t.openOrders(EX).map((o) => o.clientId)).toEqual(['a', 'b']);
    expect(t.openOrders(EX, 8).map((o) => o.clientId)).toEqual(['b']);
    expect(t.isClosed('d')).toBe(true);
    expect(t.isClosed('a')).toBe(false);
    expect(t.isClosed('zz')).toBe(false);
    expect(t.orders().map((o) => o.clientId)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('copies exec instructions so a caller cannot change a tracked order', () => {
    const req = newOrder('a', { execInstr: [ExecInstr.PostOnly] });
    const t = new OrderTracker();
    t.submit(req, 0, EX);
    req.execInstr.push(ExecInstr.ReduceOnly);
    expect(t.get('a')!.execInstr).toEqual([ExecInstr.PostOnly]);
  });
});

describe('positions and PnL', () => {
  /** One order per trade, filled whole. */
  function trader(t: OrderTracker) {
    let n = 0;
    return (side: Side, qty: string, price: string, fee: string) => {
      const id = `t${++n}`;
      t.submit(newOrder(id, { side, qty: Qty.of(qty), price: Price.of(price) }), n, EX);
      t.onAck({ ...ack(id), side });
      const r = t.onExecution(fill(id, qty, price, { side, fee: Price.of(fee), leavesQty: Qty.ZERO }));
      expect(r.ok).toBe(true);
    };
  }

  it('follows the average-cost method through adds, a partial close, a flip and a close (multiplier 2)', () => {
    const t = new OrderTracker({ multiplier: (ex, id) => (ex === EX && id === INST ? 2 : 1) });
    const trade = trader(t);
    const p = () => t.position(EX, INST);

    trade(Side.Buy, '3', '100', '0.1');
    expect(p().position.toString()).toBe('3');
    expect(p().avgEntryPrice.toString()).toBe('100');
    expect(t.hasOpenPosition).toBe(true);

    trade(Side.Buy, '1', '104', '0.2');
    expect(p().position.toString()).toBe('4');
    expect(p().avgEntryPrice.toString()).toBe('101'); // (300 + 104) / 4
    expect(p().realizedPnl).toBe(0);

    trade(Side.Sell, '2', '105', '-0.05');
    expect(p().position.toString()).toBe('2');
    expect(p().avgEntryPrice.toString()).toBe('101');
    expect(p().realizedPnl).toBe(16); // (105 - 101) * 2 * 2

    trade(Side.Sell, '5', '99', '0.3');
    // closes 2: (99 - 101) * 2 * 2 = -8; opens 3 short at 99
    expect(p().position.toString()).toBe('-3');
    expect(p().avgEntryPrice.toString()).toBe('99');
    expect(p().realizedPnl).toBe(8);

    t.mark(EX, INST, 97);
    expect(p().unrealizedPnl).toBe(12); // (97 - 99) * -3 * 2
    t.mark(EX, INST, Number.NaN);
    expect(p().unrealizedPnl).toBe(12);

    trade(Side.Buy, '3', '98', '0.1');
    expect(p().position.isZero()).toBe(true);
    expect(p().avgEntryPrice.isZero()).toBe(true);
    expect(p().realizedPnl).toBe(14); // 8 + (99 - 98) * 3 * 2
    expect(p().unrealizedPnl).toBe(0);
    expect(p().fees).toBeCloseTo(0.65, 12);
    expect(p().volume).toBe(14);
    expect(p().notional).toBe(2806); // (300 + 104 + 210 + 495 + 294) * 2
    expect(p().fills).toBe(5);
    expect(t.hasOpenPosition).toBe(false);
    expect(t.fillCount).toBe(5);
  });

  it('realises a short closed at a lower price as a gain', () => {
    const t = new OrderTracker();
    const trade = trader(t);
    trade(Side.Sell, '2', '50', '0');
    trade(Side.Buy, '1', '45', '0');
    const p = t.position(EX, INST);
    expect(p.position.toString()).toBe('-1');
    expect(p.avgEntryPrice.toString()).toBe('50');
    expect(p.realizedPnl).toBe(5);
  });

  it('keeps positions per exchange and instrument and gives a flat view for the rest', () => {
    const t = new OrderTracker();
    t.submit(newOrder('a'), 0, EX);
    t.onExecution(fill('a', '1', '10'));
    t.submit(newOrder('b'), 0, 'BYBIT');
    t.onExecution({ ...fill('b', '2', '20'), exchange: 'BYBIT' });
    expect(t.position(EX, INST).position.toString()).toBe('1');
    expect(t.position('BYBIT', INST).position.toString()).toBe('2');
    const flat = t.position(EX, 99);
    expect(flat).toMatchObject({ exchange: EX, instrumentId: 99, realizedPnl: 0, fills: 0 });
    expect(flat.position.isZero()).toBe(true);
    expect(t.positions().map((p) => `${p.exchange}:${p.instrumentId}`)).toEqual(['SIM:7', 'BYBIT:7']);
    // a refused fill leaves the position alone
    expect(t.onExecution(fill('a', '100', '10')).ok).toBe(false);
    expect(t.position(EX, INST).position.toString()).toBe('1');
  });
});
