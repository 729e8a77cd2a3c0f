import { describe, expect, it } from 'vitest';
import { LEVEL_ADDED, LEVEL_DELETED, LEVEL_MODIFIED, LEVEL_NONE } from '../../src/book/l2-book.js';
import {
  L3Book,
  ORDER_ADDED,
  ORDER_DELETED,
  ORDER_DUPLICATE,
  ORDER_INVALID,
  ORDER_MODIFIED,
  ORDER_NONE,
  ORDER_UNKNOWN,
} from '../../src/book/l3-book.js';
import { NO_ASK, NO_BID } from '../../src/book/types.js';
import { ASK, BID, MdType, type MdEvent } from '../../src/data/events.js';

function ev(type: MdEvent['type'], orderId: number, side: MdEvent['side'], priceTick: number, qty: number): MdEvent {
  return { type, instrumentId: 1, exchTs: 0, localTs: 0, side, orderId, priceTick, qty, status: 0 };
}

describe('L3Book', () => {
  it('adds orders and keeps the L2 aggregate in step', () => {
    const b = new L3Book();
    expect(b.add(1, BID, 100, 5)).toBe(ORDER_ADDED);
    expect(b.lastLevelChange).toBe(LEVEL_ADDED);
    expect(b.lastLevelQty).toBe(5);
    expect(b.add(2, BID, 100, 3)).toBe(ORDER_ADDED);
    expect(b.lastLevelChange).toBe(LEVEL_MODIFIED);
    expect(b.lastLevelQty).toBe(8);
    b.add(3, ASK, 102, 4);
    b.add(4, BID, 99, 1);
    expect(b.size).toBe(4);
    expect(b.l2.bestBidTick()).toBe(100);
    expect(b.l2.qtyAt(BID, 100)).toBe(8);
    expect(b.l2.bestAskTick()).toBe(102);
    expect(b.l2.depth(BID)).toBe(2);
    expect(b.order(2)).toMatchObject({ id: 2, side: BID, priceTick: 100, qty: 3 });
  });

  it('cancel reduces an order, and removes it at 0', () => {
    const b = new L3Book();
    b.add(1, ASK, 50, 10);
    b.add(2, ASK, 50, 4);
    expect(b.cancel(1, 3)).toBe(ORDER_MODIFIED);
    expect(b.lastOrderQty).toBe(7);
    expect(b.lastLevelChange).toBe(LEVEL_MODIFIED);
    expect(b.lastLevelQty).toBe(11);
    expect(b.cancel(1, 0)).toBe(ORDER_NONE);
    expect(b.cancel(1, 7)).toBe(ORDER_DELETED);
    expect(b.lastOrderQty).toBe(0);
    expect(b.has(1)).toBe(false);
    expect(b.l2.qtyAt(ASK, 50)).toBe(4);
    expect(b.cancel(2, 99)).toBe(ORDER_DELETED);
    expect(b.lastLevelChange).toBe(LEVEL_DELETED);
    expect(b.l2.bestAskTick()).toBe(NO_ASK);
  });

  it('execute reports the resting side and price, delete removes whole', () => {
    const b = new L3Book();
    b.add(7, BID, 300, 10);
    expect(b.execute(7, 4)).toBe(ORDER_MODIFIED);
    expect(b.lastSide).toBe(BID);
    expect(b.lastPriceTick).toBe(300);
    expect(b.lastOrderQty).toBe(6);
    expect(b.execute(7, 6)).toBe(ORDER_DELETED);
    expect(b.lastSide).toBe(BID);
    expect(b.lastPriceTick).toBe(300);
    b.add(8, BID, 301, 2);
    expect(b.delete(8)).toBe(ORDER_DELETED);
    expect(b.lastLevelChange).toBe(LEVEL_DELETED);
    expect(b.size).toBe(0);
    expect(b.l2.bestBidTick()).toBe(NO_BID);
  });

  it('unknown ids never throw: they return a code and are counted', () => {
    const b = new L3Book();
    b.add(1, BID, 10, 1);
    expect(b.cancel(99, 1)).toBe(ORDER_UNKNOWN);
    expect(b.delete(99)).toBe(ORDER_UNKNOWN);
    expect(b.execute(-5, 1)).toBe(ORDER_UNKNOWN);
    expect(b.lastLevelChange).toBe(LEVEL_NONE);
    expect(b.unknownIdCount).toBe(3);
    expect(b.l2.qtyAt(BID, 10)).toBe(1);
  });

  it('a duplicate add is ignored and counted; invalid adds too', () => {
    const b = new L3Book();
    b.add(1, BID, 10, 5);
    expect(b.add(1, ASK, 20, 7)).toBe(ORDER_DUPLICATE);
    expect(b.duplicateIdCount).toBe(1);
    expect(b.order(1)).toMatchObject({ side: BID, priceTick: 10, qty: 5 });
    expect(b.l2.depth(ASK)).toBe(0);
    expect(b.add(2, 0, 10, 5)).toBe(ORDER_INVALID);
    expect(b.add(3, BID, 10, 0)).toBe(ORDER_INVALID);
    expect(b.invalidCount).toBe(2);
    expect(b.size).toBe(1);
  });

  it('keeps FIFO order per level and answers queue questions', () => {
    const b = new L3Book();
    b.add(1, BID, 100, 5);
    b.add(2, BID, 100, 3);
    b.add(3, BID, 101, 9);
    b.add(4, BID, 100, 2);
    b.add(5, BID, 100, 6);
    expect(b.ordersAt(BID, 100)).toEqual([1, 2, 4, 5]);
    expect(b.orderCountAt(BID, 100)).toBe(4);
    expect(b.firstOrderIdAt(BID, 100)).toBe(1);
    expect(b.lastOrderIdAt(BID, 100)).toBe(5);
    expect(b.queueAhead(5)).toBe(10);
    expect(b.queuePosition(5)).toBe(3);
    expect(b.queueAhead(1)).toBe(0);
    // Leaving the middle keeps the others' order; partial fills keep the place in line.
    b.delete(2);
    b.execute(1, 4);
    expect(b.ordersAt(BID, 100)).toEqual([1, 4, 5]);
    expect(b.queueAhead(5)).toBe(3);
    expect(b.queuePosition(5)).toBe(2);
    // The head leaves: the next in line is first.
    b.execute(1, 1);
    expect(b.ordersAt(BID, 100)).toEqual([4, 5]);
    expect(b.firstOrderIdAt(BID, 100)).toBe(4);
    // The tail leaves, then a new order joins at the back.
    b.cancel(5, 6);
    b.add(6, BID, 100, 1);
    expect(b.ordersAt(BID, 100)).toEqual([4, 6]);
    expect(b.queueAhead(404)).toBe(-1);
    expect(b.queuePosition(404)).toBe(-1);
    expect(b.ordersAt(ASK, 100)).toEqual([]);
    expect(b.lastOrderIdAt(ASK, 100)).toBeUndefined();
    const seen: number[] = [];
    b.forEachOrderAt(BID, 100, (o) => {
      seen.push(o.id);
      return false;
    });
    expect(seen).toEqual([4]);
  });

  it('a level emptied and refilled starts a new queue', () => {
    const b = new L3Book();
    b.add(1, ASK, 7, 1);
    b.delete(1);
    expect(b.orderCountAt(ASK, 7)).toBe(0);
    b.add(2, ASK, 7, 1);
    expect(b.ordersAt(ASK, 7)).toEqual([2]);
  });

  it('apply dispatches normalized events, LevelSet goes to the L2 aggregate, Clear empties', () => {
    const b = new L3Book();
    expect(b.apply(ev(MdType.OrderAdd, 1, ASK, 20, 5))).toBe(ORDER_ADDED);
    expect(b.apply(ev(MdType.OrderCancel, 1, ASK, 20, 2))).toBe(ORDER_MODIFIED);
    expect(b.apply(ev(MdType.OrderExec, 1, ASK, 20, 1))).toBe(ORDER_MODIFIED);
    expect(b.order(1)?.qty).toBe(2);
    expect(b.apply(ev(MdType.Trade, 0, BID, 20.5, 9))).toBe(0);
    expect(b.apply(ev(MdType.OrderDelete, 1, ASK, 20, 0))).toBe(ORDER_DELETED);
    expect(b.apply(ev(MdType.LevelSet, 0, BID, 15, 4))).toBe(LEVEL_ADDED);
    expect(b.l2.bestBidTick()).toBe(15);
    b.add(9, ASK, 30, 1);
    b.apply(ev(MdType.Clear, 0, 0, 0, 0));
    expect(b.size).toBe(0);
    expect(b.l2.depth(BID)).toBe(0);
    expect(b.l2.depth(ASK)).toBe(0);
    expect(b.ordersAt(ASK, 30)).toEqual([]);
  });
});

describe('L3Book against a Map reference under heavy churn', () => {
  it('keeps every order, queue and level equal to a reference model through 200 k random operations', async () => {
    const { SeededRng } = await import('../../src/core/rng.js');
    const rng = new SeededRng(11);
    const book = new L3Book();
    // Reference: id → order, and per (side, tick) the FIFO list of ids.
    const ref = new Map<number, { side: 1 | -1; tick: number; qty: number }>();
    const queues = new Map<string, number[]>();
    const key = (side: number, tick: number) => `${side}|${tick}`;
    // Ids from several ranges, including ones beyond 2^32 and negative, so that hash probes
    // collide and deletions shift entries back.
    const pickId = () => {
      const r = rng.int(4);
      const base = r === 0 ? 0 : r === 1 ? 2 ** 33 : r === 2 ? -5000 : 1_000_000_007;
      return base + rng.int(3000) * (r === 3 ? 4096 : 1);
    };
    for (let step = 0; step < 200_000; step++) {
      const id = pickId();
      const op = rng.int(10);
      if (op < 5) {
        const side = rng.chance(0.5) ? 1 : -1;
        const tick = 100 + rng.int(30);
        const qty = 1 + rng.int(50);
        const code = book.add(id, side, tick, qty);
        if (ref.has(id)) expect(code).toBe(ORDER_DUPLICATE);
        else {
          expect(code).toBe(ORDER_ADDED);
          ref.set(id, { side, tick, qty });
          const k = key(side, tick);
          if (!queues.has(k)) queues.set(k, []);
          queues.get(k)!.push(id);
        }
      } else if (op < 8) {
        const q = 1 + rng.int(30);
        const code = book.cancel(id, q);
        const o = ref.get(id);
        if (!o) expect(code).toBe(ORDER_UNKNOWN);
        else if (q >= o.qty) {
          expect(code).toBe(ORDER_DELETED);
          ref.delete(id);
          const k = key(o.side, o.tick);
          queues.set(k, queues.get(k)!.filter((x) => x !== id));
        } else {
          expect(code).toBe(ORDER_MODIFIED);
          o.qty -= q;
        }
      } else {
        const code = book.delete(id);
        const o = ref.get(id);
        expect(code).toBe(o ? ORDER_DELETED : ORDER_UNKNOWN);
        if (o) {
          ref.delete(id);
          const k = key(o.side, o.tick);
          queues.set(k, queues.get(k)!.filter((x) => x !== id));
        }
      }
      if (step % 20_000 === 0 || step === 199_999) {
        expect(book.size).toBe(ref.size);
        for (const [oid, o] of ref) expect(book.order(oid)).toEqual({ id: oid, side: o.side, priceTick: o.tick, qty: o.qty });
        for (const [k, ids] of queues) {
          const [side, tick] = k.split('|').map(Number) as [1 | -1, number];
          expect(book.ordersAt(side, tick)).toEqual(ids);
          expect(book.l2.qtyAt(side, tick)).toBe(ids.reduce((s, x) => s + ref.get(x)!.qty, 0));
        }
      }
    }
  });
});
