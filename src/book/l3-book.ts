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

class OrderNode implements L3Order {
  prev: OrderNode | null = null;
  next: OrderNode | null = null;
  constructor(
    readonly id: number,
    readonly side: SideCode,
    readonly priceTick: number,
    public qty: number,
    readonly level: LevelQueue,
  ) {}
}

/** The orders of one price level in arrival order (a doubly linked list: O(1) removal). */
class LevelQueue {
  head: OrderNode | null = null;
  tail: OrderNode | null = null;
  count = 0;
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
  private readonly orders = new Map<number, OrderNode>();
  private readonly bidLevels = new Map<number, LevelQueue>();
  private readonly askLevels = new Map<number, LevelQueue>();
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
    return this.orders.size;
  }

  /** True when an order with this id rests in the book. */
  has(id: number): boolean {
    return this.orders.has(id);
  }

  /**
   * The resting order with this id, or `undefined`. The object is live: it shows later
   * changes of qty, so copy what you need to keep.
   */
  order(id: number): L3Order | undefined {
    return this.orders.get(id);
  }

  /**
   * Adds a resting order at the back of its level's queue: `side` 1 bid / −1 ask, price in
   * integer ticks, qty in lots (> 0). Returns `ORDER_ADDED`, `ORDER_DUPLICATE` (id already
   * rests; nothing changes) or `ORDER_INVALID`.
   */
  add(id: number, side: SideCode, priceTick: number, qty: number): OrderChange {
    if (this.orders.has(id)) {
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
      level = new LevelQueue();
      levels.set(priceTick, level);
    }
    const node = new OrderNode(id, side, priceTick, qty, level);
    if (level.tail === null) {
      level.head = node;
    } else {
      level.tail.next = node;
      node.prev = level.tail;
    }
    level.tail = node;
    level.count++;
    this.orders.set(id, node);
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
    const node = this.orders.get(id);
    if (node === undefined) return this.unknown();
    this.remove(node);
    return ORDER_DELETED;
  }

  private reduce(id: number, qty: number): OrderChange {
    const node = this.orders.get(id);
    if (node === undefined) return this.unknown();
    if (!(qty > 0)) {
      this._lastSide = node.side;
      this._lastPriceTick = node.priceTick;
      this._lastOrderQty = node.qty;
      this._lastLevelChange = LEVEL_NONE;
      this._lastLevelQty = this.l2.qtyAt(node.side, node.priceTick);
      return ORDER_NONE;
    }
    if (qty >= node.qty) {
      this.remove(node);
      return ORDER_DELETED;
    }
    node.qty -= qty;
    this._lastSide = node.side;
    this._lastPriceTick = node.priceTick;
    this._lastOrderQty = node.qty;
    this._lastLevelChange = this.l2.add(node.side, node.priceTick, -qty);
    this._lastLevelQty = this.l2.lastQty;
    return ORDER_MODIFIED;
  }

  private remove(node: OrderNode): void {
    const level = node.level;
    if (node.prev === null) level.head = node.next;
    else node.prev.next = node.next;
    if (node.next === null) level.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = node.next = null;
    level.count--;
    if (level.count === 0) (node.side === 1 ? this.bidLevels : this.askLevels).delete(node.priceTick);
    this.orders.delete(node.id);
    this._lastSide = node.side;
    this._lastPriceTick = node.priceTick;
    this._lastOrderQty = 0;
    this._lastLevelChange = this.l2.add(node.side, node.priceTick, -node.qty);
    this._lastLevelQty = this.l2.lastQty;
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
    this.orders.clear();
    this.bidLevels.clear();
    this.askLevels.clear();
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

  private level(side: SideCode, priceTick: number): LevelQueue | undefined {
    return side === 1 ? this.bidLevels.get(priceTick) : side === -1 ? this.askLevels.get(priceTick) : undefined;
  }

  /** Number of orders resting at a price level (0 when none). */
  orderCountAt(side: SideCode, priceTick: number): number {
    return this.level(side, priceTick)?.count ?? 0;
  }

  /** Ids of the orders at a price level in queue (FIFO) order, first in line first. */
  ordersAt(side: SideCode, priceTick: number): number[] {
    const out: number[] = [];
    for (let n = this.level(side, priceTick)?.head ?? null; n !== null; n = n.next) out.push(n.id);
    return out;
  }

  /**
   * Calls `fn` for each order at a price level in FIFO order; stops early when `fn` returns
   * `false`. The book must not be changed from inside `fn`.
   */
  forEachOrderAt(side: SideCode, priceTick: number, fn: (o: L3Order) => boolean | void): void {
    for (let n = this.level(side, priceTick)?.head ?? null; n !== null; n = n.next) {
      if (fn(n) === false) return;
    }
  }

  /** Id of the order last in line at a price level, or `undefined` when the level has no orders. */
  lastOrderIdAt(side: SideCode, priceTick: number): number | undefined {
    return this.level(side, priceTick)?.tail?.id;
  }

  /** Id of the order first in line at a price level, or `undefined` when the level has no orders. */
  firstOrderIdAt(side: SideCode, priceTick: number): number | undefined {
    return this.level(side, priceTick)?.head?.id;
  }

  /**
   * Qty in lots resting ahead of an order in its level's queue (the sum of the orders that
   * arrived before it and still rest); −1 when the id is unknown. O(position).
   */
  queueAhead(orderId: number): number {
    const node = this.orders.get(orderId);
    if (node === undefined) return -1;
    let q = 0;
    for (let n = node.prev; n !== null; n = n.prev) q += n.qty;
    return q;
  }

  /** Number of orders ahead of an order in its level's queue (0 = first in line); −1 when unknown. */
  queuePosition(orderId: number): number {
    const node = this.orders.get(orderId);
    if (node === undefined) return -1;
    let i = 0;
    for (let n = node.prev; n !== null; n = n.prev) i++;
    return i;
  }
}
