/**
 * Numeric reject and cancel codes. Their values are stable: tests and strategies may
 * compare against them. `docs/reject-codes.md` lists each with the request it answers.
 *
 * - 1000–1099: refused by the environment before anything is sent (validation).
 * - 2000–2099: refused by the venue.
 * @module
 */

/** Why a request was refused. */
export enum RejectCode {
  /** The venue's gateway is not `ReadyToTrade` (connecting, maintenance, trading halt). */
  GtwNotReady = 1000,
  /** `env.login()` was not called in `onFrameworkConnected`, or was refused. */
  NotLoggedIn = 1001,
  /** The strategy is not running: before `onStart` or after `onStop`/`sendStopAck`. */
  StrategyNotRunning = 1002,
  /** No venue with this exchange id is connected. */
  UnknownExchange = 1003,
  /** No instrument with this id or name on the venue. */
  UnknownInstrument = 1010,
  /** The price is not a multiple of the instrument's tick size. */
  PriceOffTick = 1011,
  /** The qty is below the instrument's minimum qty. */
  QtyBelowMin = 1012,
  /** The qty is not a multiple of the instrument's lot size. */
  QtyOffLot = 1013,
  /** The price is missing (limit order), not a number, or not positive. */
  InvalidPrice = 1014,
  /** The qty is missing, not a number, or not positive; or a modify leaves no qty above what has filled. */
  InvalidQty = 1015,
  /** A field has a value outside its enum (side, order type, time in force, exec instruction) or is malformed. */
  InvalidField = 1016,
  /** The combination is not allowed: `PostOnly` with a market order or with IOC/FOK. */
  InvalidCombination = 1017,
  /** No order with this client id was sent by this strategy. */
  UnknownOrder = 1020,
  /** The order is already filled, cancelled or rejected. */
  OrderClosed = 1021,
  /** The client id is already used by another order of this strategy. */
  DuplicateClientId = 1022,
  /** The order already has a cancel in flight. */
  OrderPendingCancel = 1023,
  /** A modify that changes neither price nor qty. */
  NothingToModify = 1024,
  /** The order already has a modify in flight; wait for its ack or reject. */
  OrderPendingModify = 1025,
  /** The order is not yet acknowledged by the venue, so it cannot be modified yet (a cancel is allowed). */
  OrderPendingNew = 1026,
  /** The request exceeds the venue's or gateway's rate limit. */
  RateLimited = 1030,
  /** The operation is not supported for this venue or instrument. */
  Unsupported = 1040,
  /** Trading control: the order's qty exceeds `maxOrderQty` of its instrument. */
  MaxOrderQty = 1050,
  /** Trading control: the order's notional (price × qty × multiplier; a market order at the mid) exceeds `maxOrderNotional`. */
  MaxOrderNotional = 1051,
  /** Trading control: the instrument already has `maxOpenOrders` open orders. */
  MaxOpenOrders = 1052,
  /** Trading control: filled, the order (with the open orders on its side) would take the position beyond `maxPosition`. */
  MaxPosition = 1053,
  /** Trading control: `maxOrdersPerSec` new orders and modifies in the last rolling second. */
  MaxOrderRate = 1054,
  /** Trading control: the limit price is farther from the mid than `priceBandBps`. */
  PriceBand = 1055,
  /** Trading control: the order would cross the strategy's own open order on the other side (`selfTradePrevention`). */
  SelfTrade = 1056,
  /** Trading is paused (kill switch, `/pause`, graceful stop or flatten in progress): only risk-reducing orders and cancels pass. */
  TradingPaused = 1057,

  /** PostOnly order would have taken liquidity. */
  PostOnlyWouldTake = 2000,
  /** ReduceOnly order would increase the position. */
  ReduceOnlyWouldIncrease = 2001,
  /** Not enough balance for the order. */
  InsufficientBalance = 2002,
  /** The order was not found at the venue (it may have just closed). */
  VenueUnknownOrder = 2003,
  /** The order is no longer modifiable at the venue. */
  VenueOrderClosed = 2004,
}

/** Why an order left the book without a strategy cancel request (`onOrderCancelled.cancelCode`). */
export enum CancelCode {
  /** Cancelled at the strategy's request. */
  Requested = 3000,
  /** The unfilled rest of an IOC or market order. */
  IocRemainder = 3001,
  /** A FOK order that could not fill whole. */
  FokNotFilled = 3002,
  /** A market order found no liquidity. */
  NoLiquidity = 3003,
  /** The venue cancelled it at the end of the session (end of data in a backtest). */
  SessionEnd = 3004,
  /** The venue cancelled it because trading halted. */
  TradingHalt = 3005,
  /** A cancel-all request. */
  CancelAll = 3006,
}

/** Human-readable default reasons, used when a more specific reason is not given. */
export const REJECT_REASONS: Readonly<Record<RejectCode, string>> = {
  [RejectCode.GtwNotReady]: 'gateway not ReadyToTrade',
  [RejectCode.NotLoggedIn]: 'not logged in: call env.login() in onFrameworkConnected',
  [RejectCode.StrategyNotRunning]: 'strategy is not running (before onStart or after onStop)',
  [RejectCode.UnknownExchange]: 'unknown exchange',
  [RejectCode.UnknownInstrument]: 'unknown instrument',
  [RejectCode.PriceOffTick]: 'price is not on the tick grid',
  [RejectCode.QtyBelowMin]: 'qty below the minimum qty',
  [RejectCode.QtyOffLot]: 'qty is not a multiple of the lot size',
  [RejectCode.InvalidPrice]: 'invalid price',
  [RejectCode.InvalidQty]: 'invalid qty',
  [RejectCode.InvalidField]: 'invalid field',
  [RejectCode.InvalidCombination]: 'invalid combination of order type, time in force and exec instructions',
  [RejectCode.UnknownOrder]: 'unknown order',
  [RejectCode.OrderClosed]: 'order is closed',
  [RejectCode.DuplicateClientId]: 'duplicate client order id',
  [RejectCode.OrderPendingCancel]: 'order has a cancel pending',
  [RejectCode.NothingToModify]: 'modify changes neither price nor qty',
  [RejectCode.OrderPendingModify]: 'order has a modify pending',
  [RejectCode.OrderPendingNew]: 'order is not yet acknowledged',
  [RejectCode.RateLimited]: 'rate limited',
  [RejectCode.Unsupported]: 'operation not supported',
  [RejectCode.MaxOrderQty]: 'order qty exceeds maxOrderQty',
  [RejectCode.MaxOrderNotional]: 'order notional exceeds maxOrderNotional',
  [RejectCode.MaxOpenOrders]: 'too many open orders (maxOpenOrders)',
  [RejectCode.MaxPosition]: 'the order could take the position beyond maxPosition',
  [RejectCode.MaxOrderRate]: 'too many orders per second (maxOrdersPerSec)',
  [RejectCode.PriceBand]: 'price outside the band around the mid (priceBandBps)',
  [RejectCode.SelfTrade]: "order would cross the strategy's own order (selfTradePrevention)",
  [RejectCode.TradingPaused]: 'trading paused: only risk-reducing orders and cancels are accepted',
  [RejectCode.PostOnlyWouldTake]: 'post-only order would take liquidity',
  [RejectCode.ReduceOnlyWouldIncrease]: 'reduce-only order would increase the position',
  [RejectCode.InsufficientBalance]: 'insufficient balance',
  [RejectCode.VenueUnknownOrder]: 'order not found at the venue',
  [RejectCode.VenueOrderClosed]: 'order is no longer open at the venue',
};
