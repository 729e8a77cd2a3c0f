/**
 * Normalized market events: what importers produce and backtests replay. Numbers only, so
 * that the hot path builds no decimals: prices in integer ticks of the instrument, sizes in
 * integer lots. Every event carries the venue's timestamp and the local receive timestamp.
 * @module
 */

/** Kinds of market event. */
export const MdType = {
  /** A new resting order (L3): orderId, side, priceTick, qty. */
  OrderAdd: 1,
  /** Part of a resting order cancelled (L3): orderId, qty removed. */
  OrderCancel: 2,
  /** A resting order removed whole (L3): orderId. */
  OrderDelete: 3,
  /** A resting order executed (L3): orderId, side (the resting order's), priceTick, qty executed. Implies a public trade. */
  OrderExec: 4,
  /** A trade that changes no visible level (hidden or cross): side is the taker's, priceTick may be fractional. */
  Trade: 5,
  /** An L2 level set to an absolute qty (0 removes it): side, priceTick, qty. */
  LevelSet: 6,
  /** Both sides of the book emptied (before a snapshot). */
  Clear: 7,
  /** A status change: `status` holds an `MdStatus`. */
  Status: 8,
} as const;
/** One of `MdType`'s values. */
export type MdType = (typeof MdType)[keyof typeof MdType];

/** Status codes carried by `MdType.Status` events. */
export const MdStatus = {
  /** Trading halted: orders cannot be placed. */
  Halted: 1,
  /** Quoting resumed during a halt (orders accepted, no matching). */
  Quoting: 2,
  /** Trading resumed. */
  Resumed: 3,
  /** A snapshot follows (the book is rebuilt from the next events). */
  SnapshotStart: 4,
  /** The snapshot is complete. */
  SnapshotEnd: 5,
  /** The feed lost its connection; the book is stale until the next snapshot. */
  Disconnected: 6,
} as const;
/** One of `MdStatus`'s values. */
export type MdStatus = (typeof MdStatus)[keyof typeof MdStatus];

/** Bid / buy side. */
export const BID = 1;
/** Ask / sell side. */
export const ASK = -1;
/** A side in the hot path: 1 bid (buy), −1 ask (sell), 0 none. */
export type SideCode = 1 | -1 | 0;

/** One normalized market event. Fields that do not apply to a type are 0. */
export interface MdEvent {
  type: MdType;
  instrumentId: number;
  /** Venue timestamp, µs since the epoch. */
  exchTs: number;
  /** Local receive timestamp, µs since the epoch. */
  localTs: number;
  /** Resting order's side for order events and LevelSet; taker's side for Trade. */
  side: SideCode;
  /** L3 order id; 0 when none. Synthetic orders (present before the data starts) have negative ids. */
  orderId: number;
  /** Price in ticks; integer except for Trade prints between ticks. */
  priceTick: number;
  /** Size in lots (see `MdType` for its meaning per type). */
  qty: number;
  /** `MdStatus` for Status events, else 0. */
  status: number;
}

/** Where an event came from, for error messages and journal references. */
export interface MdSourcePosition {
  file: string;
  line: number;
}

/** A malformed input record: named by file and line, never fatal to the import. */
export interface MdParseIssue extends MdSourcePosition {
  message: string;
}
