/**
 * The probabilistic queue-position model of hftbacktest (`ProbQueueModel`): cancellations at
 * the order's level are split between the queue ahead of it and the queue behind it by a
 * probability that depends on their sizes.
 * @module
 */
import { advanceByTrade, type QueueModel, type QueuedOrder } from './queue.js';

/**
 * The weight function of {@link ProbabilisticQueueModel}: `f(front)` against `f(back)`
 * decides which part of a level's cancellations happened ahead of the order.
 */
export interface ProbQueueFunc {
  /** Weight of a queue of `lots` lots (≥ 0); must be ≥ 0 and increasing. */
  f(lots: number): number;
}

/** `f(x) = x^n` (hftbacktest's `PowerProbQueueFunc`); n = 3 by default. Larger n: cancels come more from the bigger side. */
export class PowerProbQueueFunc implements ProbQueueFunc {
  /** Exponent n (> 0). */
  readonly power: number;
  /** @throws RangeError when `power` is not a positive finite number. */
  constructor(power = 3) {
    if (!(power > 0) || !Number.isFinite(power)) throw new RangeError(`power must be a positive number, got ${power}`);
    this.power = power;
  }
  /** `lots^power`. */
  f(lots: number): number {
    return Math.pow(Math.max(0, lots), this.power);
  }
}

/**
 * hftbacktest's `ProbQueueModel`, as an expected value (no randomness, so runs are
 * deterministic).
 *
 * - Placed: the order joins behind the whole visible level (`queueAheadLots` = level qty).
 * - A trade at its price advances it by the traded lots; what exceeds the queue ahead fills
 *   it (exactly as `RiskAverseQueueModel`).
 * - The level shrinks without a trade by `d` lots (cancels): with `front` = lots ahead and
 *   `back` = `prev − front` (the lots behind; our order is virtual, so not in the level),
 *   the probability that a cancelled lot was *behind* us is
 *   `p = f(back) / (f(back) + f(front))`, and the queue ahead becomes
 *   `front − (1 − p)·d + min(back − p·d, 0)` (the second term: what cannot have come from
 *   behind came from ahead), then clamped to `[0, newLevel]`. When both weights are 0
 *   (front = back = 0), p = 1.
 * - The level grows (adds): they are behind us; the queue ahead is only clamped to the level.
 *
 * Fractional lots ahead are kept as they are (an expected value): a later trade fills the
 * order only by the whole lots that exceed it, rounded down, so fills stay integer lots.
 *
 * `RiskAverseQueueModel` is the limit `f(front) = 0` (every cancel is behind us).
 */
export class ProbabilisticQueueModel implements QueueModel {
  /** The weight function. */
  readonly func: ProbQueueFunc;
  /** @param func default `new PowerProbQueueFunc(3)`. */
  constructor(func: ProbQueueFunc = new PowerProbQueueFunc(3)) {
    this.func = func;
  }
  /** Queue ahead = the whole visible level, lots. */
  onPlace(order: QueuedOrder, levelQtyLots: number): void {
    order.queueAheadLots = Math.max(0, levelQtyLots);
  }
  /** Advances by the traded lots; the whole lots that exceed the queue ahead fill the order. */
  onTrade(order: QueuedOrder, tradeQtyLots: number): number {
    return advanceByTrade(order, tradeQtyLots);
  }
  /** Splits a decrease between ahead and behind; growth is behind us. */
  onDepth(order: QueuedOrder, newLevelQtyLots: number, prevLevelQtyLots: number): void {
    const level = Math.max(0, newLevelQtyLots);
    const chg = prevLevelQtyLots - level;
    if (chg <= 0) {
      order.queueAheadLots = Math.min(order.queueAheadLots, level);
      return;
    }
    const front = order.queueAheadLots;
    const back = Math.max(0, prevLevelQtyLots - front);
    const fb = this.func.f(back);
    const ff = this.func.f(front);
    let p = fb / (fb + ff);
    if (!Number.isFinite(p)) p = 1;
    const est = front - (1 - p) * chg + Math.min(back - p * chg, 0);
    order.queueAheadLots = Math.max(0, Math.min(est, level));
  }
}
