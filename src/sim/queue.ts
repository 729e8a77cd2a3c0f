/**
 * Queue-position models: where a resting order stands in its price level's queue, and
 * how much of it a trade at that price fills. The venue keeps the state on the order.
 * @module
 */
import type { MdEvent, SideCode } from '../data/events.js';

/** What a queue model sees of a resting order; `queueAheadLots` is the model's state. */
export interface QueuedOrder {
  /** 1 bid (buy), −1 ask (sell). */
  readonly sideCode: SideCode;
  /** Price of the order in ticks. */
  readonly priceTick: number;
  /** Unfilled qty in lots. */
  readonly leavesLots: number;
  /** Lots estimated ahead of the order at its level. The model owns this field. */
  queueAheadLots: number;
}

/**
 * Estimates queue position from the replayed book. The venue calls the model only for
 * orders at the price of the market event, so a call is cheap.
 */
export interface QueueModel {
  /** The order joined the back of its level, which shows `levelQtyLots` visible lots. */
  onPlace(order: QueuedOrder, levelQtyLots: number): void;
  /**
   * A trade of `tradeQtyLots` executed resting orders at the order's price and side.
   * Returns the lots of the order this trade fills (the venue caps it at `leavesLots`).
   *
   * `ev` is the market event being replayed (`OrderExec` with the executed order's id, or
   * `Trade`), for models that follow orders by id (`L3FifoQueueModel`); L2 models ignore it.
   * It may be a reused object: read it during the call, never keep it.
   */
  onTrade(order: QueuedOrder, tradeQtyLots: number, ev?: MdEvent): number;
  /**
   * The visible qty of the order's level changed without a trade (orders added or
   * cancelled), from `prevLevelQtyLots` (the last qty the venue saw) to `newLevelQtyLots`.
   * After an `OrderExec` it is called too, with the traded lots already taken out of
   * `prevLevelQtyLots`.
   *
   * `ev` is the market event being replayed (an L3 order event with its order id, a
   * `LevelSet`, or the `Status` event of a resync at `SnapshotEnd`); it may be reused by
   * the caller: read it during the call, never keep it. L2 models ignore it.
   */
  onDepth(order: QueuedOrder, newLevelQtyLots: number, prevLevelQtyLots: number, ev?: MdEvent): void;
}

/**
 * The rule every L2 model shares for a trade at the order's price: the queue ahead shrinks
 * by the traded lots, and the whole lots beyond it fill the order. Works with fractional
 * queues (probabilistic models).
 * @returns lots of the order now fillable.
 */
export function advanceByTrade(order: QueuedOrder, tradeQtyLots: number): number {
  const ahead = order.queueAheadLots - tradeQtyLots;
  if (ahead >= 0) {
    order.queueAheadLots = ahead;
    return 0;
  }
  order.queueAheadLots = 0;
  // Float noise from fractional queues must not lose a lot.
  return Math.floor(-ahead + 1e-9);
}

/**
 * The pessimistic model (hftbacktest's `RiskAdverseQueueModel`): the order joins behind
 * everything visible at its price, only trades at its price move it forward, and a
 * shrinking level is assumed to have lost orders behind it, except that the qty ahead
 * can never exceed the level itself.
 */
export class RiskAverseQueueModel implements QueueModel {
  /** Queue ahead = the whole visible level. */
  onPlace(order: QueuedOrder, levelQtyLots: number): void {
    order.queueAheadLots = Math.max(0, levelQtyLots);
  }
  /** Advances by the traded qty; what exceeds the qty ahead fills the order. */
  onTrade(order: QueuedOrder, tradeQtyLots: number): number {
    return advanceByTrade(order, tradeQtyLots);
  }
  /** Cancels came from behind us, unless the level is now smaller than our queue. */
  onDepth(order: QueuedOrder, newLevelQtyLots: number, _prevLevelQtyLots: number): void {
    order.queueAheadLots = Math.min(order.queueAheadLots, Math.max(0, newLevelQtyLots));
  }
}
