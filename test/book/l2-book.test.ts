import { describe, expect, it } from 'vitest';
import { L2Book, LEVEL_ADDED, LEVEL_DELETED, LEVEL_MODIFIED, LEVEL_NONE } from '../../src/book/l2-book.js';
import { NO_ASK, NO_BID } from '../../src/book/types.js';
import { ASK, BID, type SideCode } from '../../src/data/events.js';

/** Deterministic LCG so that the randomized test is reproducible. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function levels(b: L2Book, side: SideCode): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < b.depth(side); i++) out.push([b.levelTick(side, i), b.levelQty(side, i)]);
  return out;
}

describe('L2Book', () => {
  it('starts empty on both sides', () => {
    const b = new L2Book();
    expect(b.bestBidTick()).toBe(NO_BID);
    expect(b.bestAskTick()).toBe(NO_ASK);
    expect(b.bestBidQty()).toBe(0);
    expect(b.depth(BID)).toBe(0);
    expect(b.depth(ASK)).toBe(0);
    expect(b.levelTick(BID, 0)).toBe(NO_BID);
    expect(b.levelTick(ASK, 0)).toBe(NO_ASK);
    expect(b.levelQty(ASK, 0)).toBe(0);
    expect(b.qtyAt(BID, 100)).toBe(0);
  });

  it('set: adds, modifies, deletes and reports each', () => {
    const b = new L2Book();
    expect(b.set(BID, 100, 5)).toBe(LEVEL_ADDED);
    expect(b.lastQty).toBe(5);
    expect(b.set(BID, 100, 5)).toBe(LEVEL_NONE);
    expect(b.set(BID, 100, 7)).toBe(LEVEL_MODIFIED);
    expect(b.lastQty).toBe(7);
    expect(b.qtyAt(BID, 100)).toBe(7);
    expect(b.set(BID, 100, 0)).toBe(LEVEL_DELETED);
    expect(b.lastQty).toBe(0);
    expect(b.set(BID, 100, 0)).toBe(LEVEL_NONE);
    expect(b.set(ASK, 101, -3)).toBe(LEVEL_NONE);
    expect(b.depth(BID) + b.depth(ASK)).toBe(0);
  });

  it('add: deltas create, change and remove levels; never creates from a negative delta', () => {
    const b = new L2Book();
    expect(b.add(ASK, 200, -4)).toBe(LEVEL_NONE);
    expect(b.depth(ASK)).toBe(0);
    expect(b.add(ASK, 200, 4)).toBe(LEVEL_ADDED);
    expect(b.add(ASK, 200, 6)).toBe(LEVEL_MODIFIED);
    expect(b.lastQty).toBe(10);
    expect(b.add(ASK, 200, 0)).toBe(LEVEL_NONE);
    expect(b.lastQty).toBe(10);
    expect(b.add(ASK, 200, -3)).toBe(LEVEL_MODIFIED);
    expect(b.qtyAt(ASK, 200)).toBe(7);
    expect(b.add(ASK, 200, -9)).toBe(LEVEL_DELETED);
    expect(b.qtyAt(ASK, 200)).toBe(0);
  });

  it('orders bids from highest and asks from lowest', () => {
    const b = new L2Book();
    for (const t of [100, 103, 99, 101]) b.set(BID, t, t - 90);
    for (const t of [110, 105, 108, 120]) b.set(ASK, t, t - 100);
    expect(b.bestBidTick()).toBe(103);
    expect(b.bestBidQty()).toBe(13);
    expect(b.bestAskTick()).toBe(105);
    expect(b.bestAskQty()).toBe(5);
    expect(levels(b, BID)).toEqual([[103, 13], [101, 11], [100, 10], [99, 9]]);
    expect(levels(b, ASK)).toEqual([[105, 5], [108, 8], [110, 10], [120, 20]]);
    expect(b.levelTick(BID, 4)).toBe(NO_BID);
    expect(b.levelTick(ASK, -1)).toBe(NO_ASK);
    expect(b.isCrossed()).toBe(false);
    b.set(BID, 106, 1);
    expect(b.isCrossed()).toBe(true);
  });

  it('keeps sides apart and ignores side 0', () => {
    const b = new L2Book();
    b.set(BID, 100, 1);
    b.set(ASK, 100, 2);
    expect(b.qtyAt(BID, 100)).toBe(1);
    expect(b.qtyAt(ASK, 100)).toBe(2);
    expect(b.set(0, 100, 5)).toBe(LEVEL_NONE);
    expect(b.add(0, 100, 5)).toBe(LEVEL_NONE);
    expect(b.depth(0)).toBe(0);
    expect(b.qtyAt(0, 100)).toBe(0);
  });

  it('an ask at tick 0 reads as +0', () => {
    const b = new L2Book();
    b.set(ASK, 0, 1);
    expect(b.bestAskTick()).toBe(0);
    expect(b.levelTick(ASK, 0)).toBe(0);
  });

  it('clear empties both sides and the book is reusable', () => {
    const b = new L2Book();
    b.set(BID, 1, 1);
    b.set(ASK, 2, 1);
    b.clear();
    expect(b.bestBidTick()).toBe(NO_BID);
    expect(b.bestAskTick()).toBe(NO_ASK);
    expect(b.set(BID, 1, 3)).toBe(LEVEL_ADDED);
    expect(levels(b, BID)).toEqual([[1, 3]]);
  });

  it('agrees with a naive model over many random updates (growth, deep and touch levels)', () => {
    const rnd = lcg(42);
    const b = new L2Book();
    const model = { [BID]: new Map<number, number>(), [ASK]: new Map<number, number>() } as Record<number, Map<number, number>>;
    const wrong: string[] = [];
    for (let n = 0; n < 20000; n++) {
      const side: SideCode = rnd() < 0.5 ? BID : ASK;
      const tick = 1000 + Math.floor(rnd() * 300) * side * -1;
      const m = model[side]!;
      const before = m.get(tick) ?? 0;
      let code: number;
      let after: number;
      if (rnd() < 0.5) {
        const q = Math.floor(rnd() * 5);
        code = b.set(side, tick, q);
        after = q;
      } else {
        const d = Math.floor(rnd() * 9) - 4;
        code = b.add(side, tick, d);
        after = before === 0 && d < 0 ? 0 : Math.max(0, before + d);
      }
      if (after > 0) m.set(tick, after);
      else m.delete(tick);
      const expected = before === after ? LEVEL_NONE : before === 0 ? LEVEL_ADDED : after === 0 ? LEVEL_DELETED : LEVEL_MODIFIED;
      if (code !== expected || b.lastQty !== after) wrong.push(`#${n}: code ${code} (want ${expected}), lastQty ${b.lastQty} (want ${after})`);
    }
    expect(wrong).toEqual([]);
    for (const side of [BID, ASK] as const) {
      const sorted = [...model[side]!.entries()].sort((x, y) => (side === BID ? y[0] - x[0] : x[0] - y[0]));
      expect(levels(b, side)).toEqual(sorted);
    }
    expect(b.depth(BID)).toBeGreaterThan(64);
  });
});
