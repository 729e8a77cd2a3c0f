/**
 * Exact FIFO queue position on order-by-order (L3) data: the virtual order knows which
 * orders are ahead of it, by id, and advances only when one of them executes or is
 * cancelled.
 * @module
 */
import type { L3Book } from '../book/l3-book.js';
import { MdType, type MdEvent } from '../data/events.js';
import type { QueueModel, QueuedOrder } from './queue.js';

/** The orders ahead of one virtual order: id → lots of it still counted ahead, in FIFO order. */
interface FifoState {
  readonly ahead: Map<number, number>;
  sum: number;
}

/** Thrown when `L3FifoQueueModel` meets data without order ids. */
export class L3DataRequiredError extends Error {
  constructor(detail: string) {
    super(`queue model "l3Fifo" needs order-by-order (L3) data with order ids; ${detail}. Use "riskAverse" or "probabilistic" for L2 data.`);
    this.name = 'L3DataRequiredError';
  }
}

/**
 * Exact price-time (FIFO) priority from the replayed `L3Book` of one instrument.
 *
 * - Placed (or re-placed after losing priority): the order sits behind every order resting
 *   at its side and price at that moment; their ids and lots are remembered.
 *   `queueAheadLots` = their total, lots.
 * - `OrderExec` of an order ahead: advances by the executed lots (no fill).
 * - `OrderCancel` / `OrderDelete` of an order ahead: advances by the lots removed.
 * - Orders added after ours are behind it and never count, whatever they do.
 * - `OrderExec` of an order *not* ahead (it arrived after us, or is unknown): with FIFO
 *   priority the aggressor would have reached us first, so the trade fills us by what
 *   exceeds the lots still ahead (normally all of it). The orders ahead are left as they are
 *   (they verifiably still rest).
 * - `Trade` without an order id (a hidden execution or a cross at our price): same rule, as
 *   displayed orders have priority over hidden ones: it fills us by `max(0, q − ahead)` and
 *   does not move the queue.
 *
 * Refuses L2 data: `L3DataRequiredError` on a `LevelSet` at the order's level, or when the
 * order joins a non-empty level that has no orders by id.
 *
 * One instance serves one instrument (give the venue a factory); per-order state is held in
 * a `WeakMap`, so closed orders cost nothing.
 */
export class L3FifoQueueModel implements QueueModel {
  private readonly bookOf: () => L3Book;
  private readonly states = new WeakMap<QueuedOrder, FifoState>();

  /** @param book the instrument's replayed book, already updated when the venue calls the model (or a getter of it). */
  constructor(book: L3Book | (() => L3Book)) {
    this.bookOf = typeof book === 'function' ? book : () => book;
  }

  /** Remembers the orders resting ahead; `queueAheadLots` = their lots. */
  onPlace(order: QueuedOrder, levelQtyLots: number): void {
    const book = this.bookOf();
    const ahead = new Map<number, number>();
    let sum = 0;
    book.forEachOrderAt(order.sideCode, order.priceTick, (o) => {
      ahead.set(o.id, o.qty);
      sum += o.qty;
    });
    if (ahead.size === 0 && levelQtyLots > 0) {
      throw new L3DataRequiredError(`the level at tick ${order.priceTick} shows ${levelQtyLots} lots but no orders by id`);
    }
    this.states.set(order, { ahead, sum });
    order.queueAheadLots = sum;
  }

  /** An execution at the order's price: advances when it hit an order ahead, else fills by what exceeds the queue ahead. */
  onTrade(order: QueuedOrder, tradeQtyLots: number, ev?: MdEvent): number {
    const st = this.states.get(order);
    if (!st) return 0;
    if (ev !== undefined && ev.type === MdType.OrderExec) {
      const a = st.ahead.get(ev.orderId);
      if (a !== undefined) {
        const d = Math.min(a, tradeQtyLots);
        this.reduce(order, st, ev.orderId, a - d);
        return 0;
      }
    }
    return Math.max(0, tradeQtyLots - st.sum);
  }

  /** A cancel/delete/execution of an order ahead advances the order; adds are behind it. */
  onDepth(order: QueuedOrder, _newLevelQtyLots: number, _prevLevelQtyLots: number, ev?: MdEvent): void {
    const st = this.states.get(order);
    if (!st) return;
    const book = this.bookOf();
    switch (ev?.type) {
      case MdType.OrderAdd:
        return;
      case MdType.OrderCancel:
      case MdType.OrderDelete:
      case MdType.OrderExec: {
        // The book already applied the event: what the order still has is the truth.
        const a = st.ahead.get(ev.orderId);
        if (a !== undefined) this.reduce(order, st, ev.orderId, Math.min(a, book.order(ev.orderId)?.qty ?? 0));
        return;
      }
      case MdType.LevelSet:
        throw new L3DataRequiredError(`got a LevelSet (L2) event at tick ${ev.priceTick}`);
      default: {
        // A resync (snapshot end, or a cancel without a price): re-read every order ahead.
        for (const [id, a] of st.ahead) {
          const now = Math.min(a, book.order(id)?.qty ?? 0);
          if (now !== a) this.reduce(order, st, id, now);
        }
      }
    }
  }

  /** Ids of the orders still counted ahead of a resting order, in FIFO order (for tests and tools). */
  aheadOf(order: QueuedOrder): number[] {
    const st = this.states.get(order);
    return st ? [...st.ahead].filter(([, q]) => q > 0).map(([id]) => id) : [];
  }

  private reduce(order: QueuedOrder, st: FifoState, id: number, lots: number): void {
    const a = st.ahead.get(id)!;
    // Kept at 0 rather than deleted: a later event on the id is still known to be ahead.
    st.ahead.set(id, lots);
    st.sum -= a - lots;
    order.queueAheadLots = st.sum;
  }
}
