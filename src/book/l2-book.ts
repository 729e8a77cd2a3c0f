/**
 * An L2 (by price) order book in integer ticks and lots, built for the replay hot path:
 * no allocation per update once the arrays have grown to the book's depth.
 * @module
 */
import type { SideCode } from '../data/events.js';
import { NO_ASK, NO_BID, type DepthView } from './types.js';

/** `set`/`add` changed nothing (same qty, a zero delta, a delete of a missing level, or side 0). */
export const LEVEL_NONE = 0;
/** `set`/`add` created a new price level. */
export const LEVEL_ADDED = 1;
/** `set`/`add` changed the qty of an existing price level. */
export const LEVEL_MODIFIED = 2;
/** `set`/`add` removed a price level (its qty reached 0 or below). */
export const LEVEL_DELETED = 3;
/** What an update did to a price level: one of the `LEVEL_*` constants. */
export type LevelChange = typeof LEVEL_NONE | typeof LEVEL_ADDED | typeof LEVEL_MODIFIED | typeof LEVEL_DELETED;

const INITIAL_CAPACITY = 64;

/**
 * One side of the book. Levels are stored by key `sign × priceTick` in ascending order, so
 * that for both sides the best level is the last element: updates cluster near the touch,
 * and inserting or removing there moves only the few elements behind it.
 */
class Ladder {
  keys: Float64Array;
  qtys: Float64Array;
  n = 0;
  readonly sign: 1 | -1;

  constructor(sign: 1 | -1) {
    this.sign = sign;
    this.keys = new Float64Array(INITIAL_CAPACITY);
    this.qtys = new Float64Array(INITIAL_CAPACITY);
  }

  /** Index of `key`, or `~insertionIndex` when absent. */
  find(key: number): number {
    const n = this.n;
    if (n === 0) return ~0;
    const k = this.keys;
    const last = k[n - 1]!;
    // Most updates hit the touch; check it before searching.
    if (key === last) return n - 1;
    if (key > last) return ~n;
    let lo = 0;
    let hi = n - 2;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = k[mid]!;
      if (v < key) lo = mid + 1;
      else if (v > key) hi = mid - 1;
      else return mid;
    }
    return ~lo;
  }

  insertAt(i: number, key: number, qty: number): void {
    if (this.n === this.keys.length) this.grow();
    const n = this.n;
    if (i < n) {
      this.keys.copyWithin(i + 1, i, n);
      this.qtys.copyWithin(i + 1, i, n);
    }
    this.keys[i] = key;
    this.qtys[i] = qty;
    this.n = n + 1;
  }

  removeAt(i: number): void {
    const n = this.n;
    if (i < n - 1) {
      this.keys.copyWithin(i, i + 1, n);
      this.qtys.copyWithin(i, i + 1, n);
    }
    this.n = n - 1;
  }

  private grow(): void {
    const keys = new Float64Array(this.keys.length * 2);
    const qtys = new Float64Array(this.qtys.length * 2);
    keys.set(this.keys);
    qtys.set(this.qtys);
    this.keys = keys;
    this.qtys = qtys;
  }
}

/**
 * L2 book: per side, price levels (integer ticks) with their visible qty (integer lots).
 * Side codes: `BID` (1) and `ASK` (−1); any other side is ignored by updates and reads as an
 * empty side. The book does not check for a crossed market: it shows what the data says.
 *
 * Reads are O(1) by level index (`levelTick(side, 0)` is the best); updates are O(log n) to
 * find the level plus a memmove of the levels behind it (few near the touch).
 */
export class L2Book implements DepthView {
  private readonly bids = new Ladder(1);
  private readonly asks = new Ladder(-1);
  private _lastQty = 0;

  /**
   * Qty in lots of the level touched by the last `set`/`add`, after the update; 0 when no
   * level is left there. Lets a caller emit the new qty without a second lookup.
   */
  get lastQty(): number {
    return this._lastQty;
  }

  private ladder(side: SideCode): Ladder | undefined {
    return side === 1 ? this.bids : side === -1 ? this.asks : undefined;
  }

  /**
   * Sets the level at `priceTick` (integer ticks) to the absolute `qty` in lots; a qty of
   * 0 or less (or NaN) deletes it. Returns what happened as a `LEVEL_*` code.
   */
  set(side: SideCode, priceTick: number, qty: number): LevelChange {
    const l = this.ladder(side);
    if (l === undefined) return this.none(0);
    const key = l.sign * priceTick;
    const i = l.find(key);
    if (!(qty > 0)) {
      this._lastQty = 0;
      if (i < 0) return LEVEL_NONE;
      l.removeAt(i);
      return LEVEL_DELETED;
    }
    this._lastQty = qty;
    if (i < 0) {
      l.insertAt(~i, key, qty);
      return LEVEL_ADDED;
    }
    if (l.qtys[i] === qty) return LEVEL_NONE;
    l.qtys[i] = qty;
    return LEVEL_MODIFIED;
  }

  /**
   * Adds `deltaQty` lots (may be negative) to the level at `priceTick`. A missing level is
   * created only by a positive delta; a level whose qty reaches 0 or below is deleted.
   * Returns what happened as a `LEVEL_*` code.
   */
  add(side: SideCode, priceTick: number, deltaQty: number): LevelChange {
    const l = this.ladder(side);
    if (l === undefined || deltaQty === 0 || deltaQty !== deltaQty) return this.none(l === undefined ? 0 : this.qtyAt(side, priceTick));
    const key = l.sign * priceTick;
    const i = l.find(key);
    if (i < 0) {
      if (deltaQty < 0) return this.none(0);
      l.insertAt(~i, key, deltaQty);
      this._lastQty = deltaQty;
      return LEVEL_ADDED;
    }
    const q = l.qtys[i]! + deltaQty;
    if (q <= 0) {
      l.removeAt(i);
      this._lastQty = 0;
      return LEVEL_DELETED;
    }
    l.qtys[i] = q;
    this._lastQty = q;
    return LEVEL_MODIFIED;
  }

  private none(qty: number): LevelChange {
    this._lastQty = qty;
    return LEVEL_NONE;
  }

  /** Empties both sides (keeps the arrays' capacity). */
  clear(): void {
    this.bids.n = 0;
    this.asks.n = 0;
    this._lastQty = 0;
  }

  /** Best bid in ticks, `NO_BID` (−∞) when the bid side is empty. */
  bestBidTick(): number {
    const l = this.bids;
    return l.n === 0 ? NO_BID : l.keys[l.n - 1]!;
  }

  /** Best ask in ticks, `NO_ASK` (+∞) when the ask side is empty. */
  bestAskTick(): number {
    const l = this.asks;
    // `+ 0` turns −0 (an ask at tick 0) into 0.
    return l.n === 0 ? NO_ASK : -l.keys[l.n - 1]! + 0;
  }

  /** Qty in lots at the best bid; 0 when the bid side is empty. */
  bestBidQty(): number {
    const l = this.bids;
    return l.n === 0 ? 0 : l.qtys[l.n - 1]!;
  }

  /** Qty in lots at the best ask; 0 when the ask side is empty. */
  bestAskQty(): number {
    const l = this.asks;
    return l.n === 0 ? 0 : l.qtys[l.n - 1]!;
  }

  /** Visible qty in lots at `priceTick` on a side; 0 when there is no level. */
  qtyAt(side: SideCode, priceTick: number): number {
    const l = this.ladder(side);
    if (l === undefined) return 0;
    const i = l.find(l.sign * priceTick);
    return i < 0 ? 0 : l.qtys[i]!;
  }

  /** Number of price levels on a side (0 for side 0). */
  depth(side: SideCode): number {
    const l = this.ladder(side);
    return l === undefined ? 0 : l.n;
  }

  /**
   * Price in ticks of the i-th level from the best (0 = best). Out of range: `NO_BID` for
   * the bid side, `NO_ASK` for the ask side, NaN for side 0.
   */
  levelTick(side: SideCode, i: number): number {
    const l = this.ladder(side);
    if (l === undefined) return Number.NaN;
    if (i < 0 || i >= l.n) return side === 1 ? NO_BID : NO_ASK;
    return l.sign * l.keys[l.n - 1 - i]! + 0;
  }

  /** Qty in lots of the i-th level from the best (0 = best); 0 when out of range. */
  levelQty(side: SideCode, i: number): number {
    const l = this.ladder(side);
    if (l === undefined || i < 0 || i >= l.n) return 0;
    return l.qtys[l.n - 1 - i]!;
  }

  /** True when both sides are non-empty and the best bid is at or above the best ask. */
  isCrossed(): boolean {
    return this.bids.n > 0 && this.asks.n > 0 && this.bestBidTick() >= this.bestAskTick();
  }
}
