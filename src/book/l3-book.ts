/**
 * An L3 (by order) book: every resting order by id, the FIFO queue of each price level, and
 * an embedded L2 aggregate kept in step. Prices in integer ticks, sizes in integer lots.
 * @module
 */
import { MdType, type MdEvent, type SideCode } from '../data/events.js';
import { L2Book, LEVEL_NONE, type LevelChange } from './l2-book.js';

/** The operation changed nothing (zero or negative qty removed). */
export const ORDER_NONE = 0;
/** A new order rests in the book. */
export const ORDER_ADDED = 1;
/** An order's qty went down and some of it is still resting. */
export const ORDER_MODIFIED = 2;
/** An order left the book (deleted, or cancelled/executed down to 0). */
export const ORDER_DELETED = 3;
/** The order id is not in the book; nothing changed (counted in `unknownIdCount`). */
export const ORDER_UNKNOWN = 4;
/** `add` of an id that already rests; ignored (counted in `duplicateIdCount`). */
export const ORDER_DUPLICATE = 5;
/** `add` with side 0 or a qty that is not positive; ignored (counted in `invalidCount`). */
export const ORDER_INVALID = 6;
/** What an order operation did: one of the `ORDER_*` constants. */
export type OrderChange =
  | typeof ORDER_NONE
  | typeof ORDER_ADDED
  | typeof ORDER_MODIFIED
  | typeof ORDER_DELETED
  | typeof ORDER_UNKNOWN
  | typeof ORDER_DUPLICATE
  | typeof ORDER_INVALID;

/** A resting order as the book shows it: price in ticks, remaining qty in lots. */
export interface L3Order {
  readonly id: number;
  /** 1 bid, −1 ask. */
  readonly side: SideCode;
  readonly priceTick: number;
  /** Remaining visible qty in lots. */
  readonly qty: number;
}

const NIL = -1;
const INITIAL_NODES = 1024;
const INITIAL_LEVELS = 256;

/**
 * Open-addressing hash from order id (any finite number) to a node index: linear probing,
 * at most half full, deletion by backward shift (no tombstones). A `Map` per order costs an
 * entry object and rehashes as ids churn; this keeps the hot path free of allocation.
 */
class IdIndex {
  private keys: Float64Array;
  private vals: Int32Array;
  private used: Uint8Array;
  private bits: number;
  private mask: number;
  size = 0;

  constructor(bits = 11) {
    this.bits = bits;
    this.mask = (1 << bits) - 1;
    this.keys = new Float64Array(1 << bits);
    this.vals = new Int32Array(1 << bits);
    this.used = new Uint8Array(1 << bits);
  }

  private slot(id: number): number {
    // Fibonacci hashing of both 32-bit halves: ids are often sequential.
    const h = Math.imul((id | 0) ^ Math.imul((id / 4294967296) | 0, 0x85ebca6b), 0x9e3779b1);
    return h >>> (32 - this.bits);
  }

  get(id: number): number {
    const keys = this.keys;
    const used = this.used;
    const mask = this.mask;
    for (let i = this.slot(id); used[i] === 1; i = (i + 1) & mask) {
      if (keys[i] === id) return this.vals[i]!;
    }
    return NIL;
  }

  /** Inserts an id known to be absent. */
  set(id: number, val: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const mask = this.mask;
    let i = this.slot(id);
    while (this.used[i] === 1) i = (i + 1) & mask;
    this.used[i] = 1;
    this.keys[i] = id;
    this.vals[i] = val;
    this.size++;
  }

  delete(id: number): void {
    const keys = this.keys;
    const used = this.used;
    const mask = this.mask;
    let i = this.slot(id);
    for (; used[i] === 1; i = (i + 1) & mask) if (keys[i] === id) break;
    if (used[i] !== 1) return;
    this.size--;
    // Backward shift: move later entries of the probe run into the hole when their home
    // slot does not lie strictly between the hole and them.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (used[j] !== 1) break;
      const home = this.slot(keys[j]!);
      const between = i <= j ? i < home && home <= j : i < home || home <= j;
      if (between) continue;
      keys[i] = keys[j]!;
      this.vals[i] = this.vals[j]!;
      i = j;
    }
    used[i] = 0;
  }

  clear(): void {
    this.used.fill(0);
    this.size = 0;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const oldUsed = this.used;
    this.bits++;
    this.mask = (1 << this.bits) - 1;
    this.keys = new Float64Array(1 << this.bits);
    this.vals = new Int32Array(1 << this.bits);
    this.used = new Uint8Array(1 << this.bits);
    this.size = 0;
    for (let i = 0; i < oldUsed.length; i++) if (oldUsed[i] === 1) this.set(oldKeys[i]!, oldVals[i]!);
  }
}

function growF64(a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}
function growI32(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * L3 book keyed by order id. Each price level keeps its orders in arrival order (FIFO), and
 * the `l2` aggregate is updated with every change, so L2 reads cost nothing extra.
 *
 * Unknown ids never throw: operations on them return `ORDER_UNKNOWN` and are counted, since
 * feeds routinely reference orders placed before the data starts.
 *
 * After each operation the `last*` getters describe it (side, price, the order's remaining
 * qty, what happened to its price level), so a caller can emit callbacks without lookups.
 */
export class L3Book {
  /**
   * The L2 aggregate (by price) of the resting orders. Exposed mutable so that L2-only data
   * (`MdType.LevelSet`) can go straight into it; order operations keep it in step.
   */
  readonly l2 = new L2Book();
  // Orders live in a pool of parallel typed arrays (index = node), linked per level in FIFO
  // order; freed nodes are chained through `nNext`. No object per order on the hot path.
  private nId = new Float64Array(INITIAL_NODES);
  private nQty = new Float64Array(INITIAL_NODES);
  private nPrice = new Float64Array(INITIAL_NODES);
  private nSide = new Int32Array(INITIAL_NODES);
  private nPrev = new Int32Array(INITIAL_NODES);
  private nNext = new Int32Array(INITIAL_NODES);
  private nLevel = new Int32Array(INITIAL_NODES);
  private nodeCount = 0;
  private freeNode = NIL;
  // Levels likewise: head, tail and order count of each price level's queue.
  private lHead = new Int32Array(INITIAL_LEVELS);
  private lTail = new Int32Array(INITIAL_LEVELS);
  private lCount = new Int32Array(INITIAL_LEVELS);
  private levelCount = 0;
  private freeLevel = NIL;
  private readonly ids = new IdIndex();
  private readonly bidLevels = new Map<number, number>();
  private readonly askLevels = new Map<number, number>();
  private _unknownIdCount = 0;
  private _duplicateIdCount = 0;
  private _invalidCount = 0;
  private _lastSide: SideCode = 0;
  private _lastPriceTick = 0;
  private _lastOrderQty = 0;
  private _lastLevelChange: LevelChange = LEVEL_NONE;
  private _lastLevelQty = 0;

  /** Operations that referenced an id not in the book (cancel/delete/execute), since construction. */
  get unknownIdCount(): number {
    return this._unknownIdCount;
  }
  /** `add` calls ignored because the id already rested, since construction. */
  get duplicateIdCount(): number {
    return this._duplicateIdCount;
  }
  /** `add` calls ignored for side 0 or a non-positive qty, since construction. */
  get invalidCount(): number {
    return this._invalidCount;
  }
  /** Side of the order touched by the last operation (0 when it was unknown/invalid). */
  get lastSide(): SideCode {
    return this._lastSide;
  }
  /** Price in ticks of the order touched by the last operation. */
  get lastPriceTick(): number {
    return this._lastPriceTick;
  }
  /** Remaining qty in lots of the order touched by the last operation; 0 once it left the book. */
  get lastOrderQty(): number {
    return this._lastOrderQty;
  }
  /** What the last operation did to the order's price level in `l2` (a `LEVEL_*` code). */
  get lastLevelChange(): LevelChange {
    return this._lastLevelChange;
  }
  /** Qty in lots of that price level after the last operation; 0 when the level is gone. */
  get lastLevelQty(): number {
    return this._lastLevelQty;
  }

  /** Number of resting orders. */
  get size(): number {
    return this.ids.size;
  }

  /** True when an order with this id rests in the book. */
  has(id: number): boolean {
    return this.ids.get(id) !== NIL;
  }

  /** A copy of the resting order with this id, or `undefined`. */
  order(id: number): L3Order | undefined {
    const n = this.ids.get(id);
    return n === NIL ? undefined : this.view(n);
  }

  private view(n: number): L3Order {
    return { id: this.nId[n]!, side: this.nSide[n]! as SideCode, priceTick: this.nPrice[n]!, qty: this.nQty[n]! };
  }

  /**
   * Adds a resting order at the back of its level's queue: `side` 1 bid / −1 ask, price in
   * integer ticks, qty in lots (> 0). Returns `ORDER_ADDED`, `ORDER_DUPLICATE` (id already
   * rests; nothing changes) or `ORDER_INVALID`.
   */
  add(id: number, side: SideCode, priceTick: number, qty: number): OrderChange {
    if (this.ids.get(id) !== NIL) {
      this._duplicateIdCount++;
      return this.noChange(ORDER_DUPLICATE);
    }
    if ((side !== 1 && side !== -1) || !(qty > 0)) {
      this._invalidCount++;
      return this.noChange(ORDER_INVALID);
    }
    const levels = side === 1 ? this.bidLevels : this.askLevels;
    let level = levels.get(priceTick);
    if (level === undefined) {
      level = this.newLevel();
      levels.set(priceTick, level);
    }
    const node = this.newNode();
    this.nId[node] = id;
    this.nQty[node] = qty;
    this.nPrice[node] = priceTick;
    this.nSide[node] = side;
    this.nLevel[node] = level;
    this.nNext[node] = NIL;
    const tail = this.lTail[level]!;
    this.nPrev[node] = tail;
    if (tail === NIL) this.lHead[level] = node;
    else this.nNext[tail] = node;
    this.lTail[level] = node;
    this.lCount[level]!++;
    this.ids.set(id, node);
    this._lastSide = side;
    this._lastPriceTick = priceTick;
    this._lastOrderQty = qty;
    this._lastLevelChange = this.l2.add(side, priceTick, qty);
    this._lastLevelQty = this.l2.lastQty;
    return ORDER_ADDED;
  }

  /**
   * Removes `qtyRemoved` lots from an order (a partial cancel); reaching 0 or below removes
   * the order. Returns `ORDER_MODIFIED`, `ORDER_DELETED`, `ORDER_NONE` (qty ≤ 0) or `ORDER_UNKNOWN`.
   */
  cancel(id: number, qtyRemoved: number): OrderChange {
    return this.reduce(id, qtyRemoved);
  }

  /**
   * Executes `qty` lots of a resting order; the order leaves the book when nothing remains.
   * Returns `ORDER_MODIFIED`, `ORDER_DELETED`, `ORDER_NONE` (qty ≤ 0) or `ORDER_UNKNOWN`.
   * `lastSide`/`lastPriceTick` then give the resting order's side and price for the trade.
   */
  execute(id: number, qty: number): OrderChange {
    return this.reduce(id, qty);
  }

  /** Removes an order whole. Returns `ORDER_DELETED` or `ORDER_UNKNOWN`. */
  delete(id: number): OrderChange {
    const node = this.ids.get(id);
    if (node === NIL) return this.unknown();
    this.remove(node);
    return ORDER_DELETED;
  }

  private reduce(id: number, qty: number): OrderChange {
    const node = this.ids.get(id);
    if (node === NIL) return this.unknown();
    const side = this.nSide[node]! as SideCode;
    const tick = this.nPrice[node]!;
    const left = this.nQty[node]!;
    if (!(qty > 0)) {
      this._lastSide = side;
      this._lastPriceTick = tick;
      this._lastOrderQty = left;
      this._lastLevelChange = LEVEL_NONE;
      this._lastLevelQty = this.l2.qtyAt(side, tick);
      return ORDER_NONE;
    }
    if (qty >= left) {
      this.remove(node);
      return ORDER_DELETED;
    }
    this.nQty[node] = left - qty;
    this._lastSide = side;
    this._lastPriceTick = tick;
    this._lastOrderQty = left - qty;
    this._lastLevelChange = this.l2.add(side, tick, -qty);
    this._lastLevelQty = this.l2.lastQty;
    return ORDER_MODIFIED;
  }

  private remove(node: number): void {
    const level = this.nLevel[node]!;
    const prev = this.nPrev[node]!;
    const next = this.nNext[node]!;
    if (prev === NIL) this.lHead[level] = next;
    else this.nNext[prev] = next;
    if (next === NIL) this.lTail[level] = prev;
    else this.nPrev[next] = prev;
    const side = this.nSide[node]! as SideCode;
    const tick = this.nPrice[node]!;
    const qty = this.nQty[node]!;
    if (--this.lCount[level]! === 0) {
      (side === 1 ? this.bidLevels : this.askLevels).delete(tick);
      this.lHead[level] = this.freeLevel;
      this.freeLevel = level;
    }
    this.ids.delete(this.nId[node]!);
    this.nNext[node] = this.freeNode;
    this.freeNode = node;
    this._lastSide = side;
    this._lastPriceTick = tick;
    this._lastOrderQty = 0;
    this._lastLevelChange = this.l2.add(side, tick, -qty);
    this._lastLevelQty = this.l2.lastQty;
  }

  private newNode(): number {
    const f = this.freeNode;
    if (f !== NIL) {
      this.freeNode = this.nNext[f]!;
      return f;
    }
    if (this.nodeCount === this.nId.length) {
      this.nId = growF64(this.nId);
      this.nQty = growF64(this.nQty);
      this.nPrice = growF64(this.nPrice);
      this.nSide = growI32(this.nSide);
      this.nPrev = growI32(this.nPrev);
      this.nNext = growI32(this.nNext);
      this.nLevel = growI32(this.nLevel);
    }
    return this.nodeCount++;
  }

  private newLevel(): number {
    let l = this.freeLevel;
    if (l !== NIL) {
      this.freeLevel = this.lHead[l]!;
    } else {
      if (this.levelCount === this.lHead.length) {
        this.lHead = growI32(this.lHead);
        this.lTail = growI32(this.lTail);
        this.lCount = growI32(this.lCount);
      }
      l = this.levelCount++;
    }
    this.lHead[l] = NIL;
    this.lTail[l] = NIL;
    this.lCount[l] = 0;
    return l;
  }

  private unknown(): OrderChange {
    this._unknownIdCount++;
    return this.noChange(ORDER_UNKNOWN);
  }

  private noChange(code: OrderChange): OrderChange {
    this._lastSide = 0;
    this._lastPriceTick = 0;
    this._lastOrderQty = 0;
    this._lastLevelChange = LEVEL_NONE;
    this._lastLevelQty = 0;
    return code;
  }

  /** Empties the book and its L2 aggregate; the counters keep counting. */
  clear(): void {
    this.ids.clear();
    this.bidLevels.clear();
    this.askLevels.clear();
    this.nodeCount = 0;
    this.freeNode = NIL;
    this.levelCount = 0;
    this.freeLevel = NIL;
    this.l2.clear();
    this.noChange(ORDER_NONE);
  }

  /**
   * Applies one normalized market event: OrderAdd/OrderCancel/OrderDelete/OrderExec to the
   * orders, LevelSet straight to the L2 aggregate, Clear empties the book; Trade and Status
   * change nothing. Returns the `ORDER_*` code for order events, the `LEVEL_*` code for
   * LevelSet, 0 otherwise.
   */
  apply(ev: MdEvent): number {
    switch (ev.type) {
      case MdType.OrderAdd:
        return this.add(ev.orderId, ev.side, ev.priceTick, ev.qty);
      case MdType.OrderCancel:
        return this.reduce(ev.orderId, ev.qty);
      case MdType.OrderDelete:
        return this.delete(ev.orderId);
      case MdType.OrderExec:
        return this.reduce(ev.orderId, ev.qty);
      case MdType.LevelSet:
        return this.l2.set(ev.side, ev.priceTick, ev.qty);
      case MdType.Clear:
        this.clear();
        return 0;
      default:
        return 0;
    }
  }

  private level(side: SideCode, priceTick: number): number {
    const l = side === 1 ? this.bidLevels.get(priceTick) : side === -1 ? this.askLevels.get(priceTick) : undefined;
    return l === undefined ? NIL : l;
  }

  /** Number of orders resting at a price level (0 when none). */
  orderCountAt(side: SideCode, priceTick: number): number {
    const l = this.level(side, priceTick);
    return l === NIL ? 0 : this.lCount[l]!;
  }

  /** Ids of the orders at a price level in queue (FIFO) order, first in line first. */
  ordersAt(side: SideCode, priceTick: number): number[] {
    const out: number[] = [];
    const l = this.level(side, priceTick);
    if (l === NIL) return out;
    for (let n = this.lHead[l]!; n !== NIL; n = this.nNext[n]!) out.push(this.nId[n]!);
    return out;
  }

  /**
   * Calls `fn` for each order at a price level in FIFO order (a copy of each); stops early
   * when `fn` returns `false`. The book must not be changed from inside `fn`.
   */
  forEachOrderAt(side: SideCode, priceTick: number, fn: (o: L3Order) => boolean | void): void {
    const l = this.level(side, priceTick);
    if (l === NIL) return;
    for (let n = this.lHead[l]!; n !== NIL; n = this.nNext[n]!) {
      if (fn(this.view(n)) === false) return;
    }
  }

  /** Id of the order last in line at a price level, or `undefined` when the level has no orders. */
  lastOrderIdAt(side: SideCode, priceTick: number): number | undefined {
    const l = this.level(side, priceTick);
    return l === NIL ? undefined : this.nId[this.lTail[l]!];
  }

  /** Id of the order first in line at a price level, or `undefined` when the level has no orders. */
  firstOrderIdAt(side: SideCode, priceTick: number): number | undefined {
    const l = this.level(side, priceTick);
    return l === NIL ? undefined : this.nId[this.lHead[l]!];
  }

  /**
   * Qty in lots resting ahead of an order in its level's queue (the sum of the orders that
   * arrived before it and still rest); −1 when the id is unknown. O(position).
   */
  queueAhead(orderId: number): number {
    const node = this.ids.get(orderId);
    if (node === NIL) return -1;
    let q = 0;
    for (let n = this.nPrev[node]!; n !== NIL; n = this.nPrev[n]!) q += this.nQty[n]!;
    return q;
  }

  /** Number of orders ahead of an order in its level's queue (0 = first in line); −1 when unknown. */
  queuePosition(orderId: number): number {
    const node = this.ids.get(orderId);
    if (node === NIL) return -1;
    let i = 0;
    for (let n = this.nPrev[node]!; n !== NIL; n = this.nPrev[n]!) i++;
    return i;
  }
}
