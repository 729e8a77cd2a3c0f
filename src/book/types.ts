/**
 * What the simulated venue and strategies read from a book: integer ticks and lots.
 * @module
 */
import type { SideCode } from '../data/events.js';

/** Best bid of an empty bid side. */
export const NO_BID = Number.NEGATIVE_INFINITY;
/** Best ask of an empty ask side. */
export const NO_ASK = Number.POSITIVE_INFINITY;

/** A read-only view of an L2 book (by price). Side: 1 bid, −1 ask. */
export interface DepthView {
  /** Best bid in ticks, `NO_BID` when empty. */
  bestBidTick(): number;
  /** Best ask in ticks, `NO_ASK` when empty. */
  bestAskTick(): number;
  /** Visible qty in lots at a price; 0 when there is no level. */
  qtyAt(side: SideCode, priceTick: number): number;
  /** Number of price levels on a side. */
  depth(side: SideCode): number;
  /** Price in ticks of the i-th level from the best (0 = best). */
  levelTick(side: SideCode, i: number): number;
  /** Qty in lots of the i-th level from the best. */
  levelQty(side: SideCode, i: number): number;
}
