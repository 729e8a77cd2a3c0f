/**
 * The venue's view of strategy orders, indexed by price so that a market event at one
 * price touches only the orders at that price.
 * @module
 */
import type { ExecInstr, OrderStatus, OrderType, Side, TimeInForce } from '../api/enums.js';
import type { Instrument } from '../api/instrument.js';
import type { QueuedOrder } from './queue.js';

/** A strategy order as the simulated venue keeps it. Quantities in lots, prices in ticks. */
export interface SimOrder extends QueuedOrder {
  /** Strategy (login name) that owns the order. */
  readonly strategy: string;
  /** Client order id, unique per strategy. */
  readonly clientId: string;
  /** Venue id, e.g. `'SIM-12'`; empty for an order rejected before its ack. */
  readonly exchangeId: string;
  /** Instrument of the order. */
  readonly inst: Instrument;
  /** Side as the strategy sent it. */
  readonly side: Side;
  /** The side as a code: 1 buy, −1 sell. */
  readonly sideCode: 1 | -1;
  /** Limit or market. */
  readonly orderType: OrderType;
  /** Time in force. */
  readonly tif: TimeInForce;
  /** Execution instructions (PostOnly, ReduceOnly). */
  readonly execInstr: ExecInstr[];
  /** Limit price in ticks; NaN for a market order. */
  priceTick: number;
  /** Total qty in lots (after modifies). */
  qtyLots: number;
  /** Lots filled so far. */
  filledLots: number;
  /** Lots still working: `qtyLots − filledLots` while open, 0 once closed. */
  leavesLots: number;
  /** Queue-model state: lots estimated ahead at the order's level. */
  queueAheadLots: number;
  /** Visible qty of the order's level when the venue last looked, for `QueueModel.onDepth`. */
  lastLevelLots: number;
  /** Venue-side status: Open, PartiallyFilled, Filled, Cancelled or Rejected. */
  status: OrderStatus;
}

/**
 * Resting orders of one side of one instrument: price levels sorted best first, each a
 * FIFO in time priority. Levels hold only strategy orders, never the replayed book.
 */
export class SideOrderIndex {
  /** Ticks of non-empty levels, best first (bids descending, asks ascending). */
  private readonly sorted: number[] = [];
  private readonly levels = new Map<number, SimOrder[]>();
  private count = 0;

  /** @param side 1 for bids, −1 for asks. */
  constructor(readonly side: 1 | -1) {}

  /** Number of resting orders on the side. */
  get size(): number {
    return this.count;
  }
  /** Ticks of the levels, best first. Do not mutate. */
  get ticks(): readonly number[] {
    return this.sorted;
  }
  /** Best level's tick; NaN when the side holds no order. */
  bestTick(): number {
    return this.sorted.length ? this.sorted[0]! : Number.NaN;
  }
  /** Orders at a tick in time priority, or undefined. Do not mutate. */
  at(tick: number): readonly SimOrder[] | undefined {
    return this.levels.get(tick);
  }
  /** Appends the order at the back of its level. */
  add(o: SimOrder): void {
    let level = this.levels.get(o.priceTick);
    if (!level) {
      level = [];
      this.levels.set(o.priceTick, level);
      this.sorted.splice(this.insertionPoint(o.priceTick), 0, o.priceTick);
    }
    level.push(o);
    this.count++;
  }
  /** Removes the order from its level (at its current `priceTick`); false when absent. */
  remove(o: SimOrder): boolean {
    const level = this.levels.get(o.priceTick);
    const i = level ? level.indexOf(o) : -1;
    if (!level || i < 0) return false;
    level.splice(i, 1);
    this.count--;
    if (level.length === 0) {
      this.levels.delete(o.priceTick);
      this.sorted.splice(this.insertionPoint(o.priceTick), 1);
    }
    return true;
  }
  /** True when `a` is a strictly better price than `b` on this side. */
  better(a: number, b: number): boolean {
    return this.side > 0 ? a > b : a < b;
  }
  /** Index of the first level not better than `tick` (binary search). */
  private insertionPoint(tick: number): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.better(this.sorted[mid]!, tick)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
