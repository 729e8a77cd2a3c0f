/**
 * String-valued enums of the strategy contract. Values equal their names so that
 * journals and logs stay readable and stable across versions.
 * @module
 */

/** Order side. For public trades it is the taker's (aggressor's) side. */
export enum Side {
  Buy = 'Buy',
  Sell = 'Sell',
}

/** Order type. A `Market` order takes liquidity up to its qty and never rests. */
export enum OrderType {
  Limit = 'Limit',
  Market = 'Market',
}

/** Time in force. `GTC` rests; `IOC` fills what it can and cancels the rest; `FOK` fills whole or not at all. */
export enum TimeInForce {
  GTC = 'GTC',
  IOC = 'IOC',
  FOK = 'FOK',
}

/** Execution instructions. `PostOnly` is refused by the venue if it would take liquidity; `ReduceOnly` if it would increase the position. */
export enum ExecInstr {
  PostOnly = 'PostOnly',
  ReduceOnly = 'ReduceOnly',
}

/** Market-data subscriptions. */
export enum MDSub {
  /** L3: every order as a level, keyed by its `levelId` (onAddLevel / onModifyLevel / onDeleteLevel). */
  OrderBook = 'OrderBook',
  /** Levels by position with a `levelId` (onAddLevel / ...): the L2 book where the venue gives no order ids; `levelId` is the price in ticks. */
  LevelBook = 'LevelBook',
  /** L2 by price (onAddPriceLevel / onModifyPriceLevel / onDeletePriceLevel). */
  PriceLevelBook = 'PriceLevelBook',
  /** Best bid / best ask, sent only when the best level changes (price or qty). */
  BBO = 'BBO',
  /** Public trades (onPublicTrade). */
  PublicTrades = 'PublicTrades',
}

/** Trading status of a venue as seen through the gateway. */
export enum GatewayStatus {
  ReadyToTrade = 'ReadyToTrade',
  Connecting = 'Connecting',
  Maintenance = 'Maintenance',
}

/** Market-data feed status: a snapshot is framed by SnapshotStart / SnapshotEnd. */
export enum FeedHandlerStatus {
  SnapshotStart = 'SnapshotStart',
  SnapshotEnd = 'SnapshotEnd',
  Disconnected = 'Disconnected',
}

/** Order status as kept by the order tracker (see `docs/orders.md` for the transition table). */
export enum OrderStatus {
  PendingNew = 'PendingNew',
  Open = 'Open',
  PartiallyFilled = 'PartiallyFilled',
  PendingModify = 'PendingModify',
  PendingCancel = 'PendingCancel',
  Filled = 'Filled',
  Cancelled = 'Cancelled',
  Rejected = 'Rejected',
}

/** Kind of instrument. */
export enum InstrumentType {
  Spot = 'Spot',
  Perpetual = 'Perpetual',
  Future = 'Future',
  Equity = 'Equity',
}

/** Whether a fill added (maker) or took (taker) liquidity. An extension of the contract. */
export enum Liquidity {
  Maker = 'Maker',
  Taker = 'Taker',
}

/** Request types, named in `onRequestReject.rejectedRqstType` and `onUnsupportedOp.unsupportedMsgType`. */
export enum RequestType {
  Login = 'Login',
  Subscribe = 'Subscribe',
  NewOrder = 'NewOrder',
  ModifyOrder = 'ModifyOrder',
  CancelOrder = 'CancelOrder',
  CancelAll = 'CancelAll',
  AccountInfo = 'AccountInfo',
  WalletInfo = 'WalletInfo',
  PositionInfo = 'PositionInfo',
  FundingInfo = 'FundingInfo',
  OrderStatus = 'OrderStatus',
  OrdersInfo = 'OrdersInfo',
  Timer = 'Timer',
  DailyCallback = 'DailyCallback',
  CmdHook = 'CmdHook',
}
