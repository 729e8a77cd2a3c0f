/**
 * Event objects, one per `IStrategy` callback. Field names follow `API.md`; timestamps are
 * integer microseconds since the Unix epoch (UTC). Extensions beyond `API.md` are marked.
 * @module
 */
import type { ExecInstr, FeedHandlerStatus, GatewayStatus, Liquidity, OrderStatus, OrderType, RequestType, Side, TimeInForce } from './enums.js';
import type { CancelCode, RejectCode } from './codes.js';
import type { Instrument } from './instrument.js';
import type { Price, Qty } from './decimal.js';

/** Acknowledgement of a new order by the venue. */
export interface NewOrderAck {
  exchange: string;
  clientId: string;
  exchangeId: string;
  instrumentId: number;
  side: Side;
  /** Limit price; for a market order, the worst price it may fill at as the venue reports it, or zero. */
  price: Price;
  qty: Qty;
  leavesQty: Qty;
  orderType: OrderType;
  tif: TimeInForce;
  execInstr: ExecInstr[];
}
/** A new order refused by the environment (codes 1000–1099) or the venue (2000–2099). */
export interface NewOrderReject {
  exchange: string;
  clientId: string;
  rejectCode: RejectCode;
  rejectReason: string;
}
/** A modify accepted by the venue. */
export interface ModifyOrderAck {
  exchange: string;
  clientId: string;
  newPrice: Price;
  newQty: Qty;
  leavesQty: Qty;
}
/** A modify refused; the order keeps its previous price and qty. */
export interface ModifyOrderReject {
  exchange: string;
  clientId: string;
  rejectCode: RejectCode;
  rejectReason: string;
}
/** A cancel accepted; `onOrderCancelled` follows. */
export interface CancelOrderAck {
  exchange: string;
  clientId: string;
}
/** A cancel refused. `clientId` is undefined when it answers a cancel-all. */
export interface CancelOrderReject {
  exchange: string;
  clientId: string | undefined;
  rejectCode: RejectCode;
  rejectReason: string;
}
/** A cancel-all accepted; each cancelled order gets its own `onOrderCancelled`. */
export interface CancelAllAck {
  exchange: string;
  instrumentId: number;
}
/** A cancel-all refused. */
export interface CancelAllReject {
  exchange: string;
  instrumentId: number;
  rejectCode: RejectCode;
  rejectReason: string;
}
/** A fill of one of the strategy's orders. */
export interface OrderExecution {
  exchange: string;
  clientId: string;
  side: Side;
  price: Price;
  fillQty: Qty;
  leavesQty: Qty;
  /** Venue time of the fill. */
  execTs: number;
  /** Local time the fill was received. */
  recvTs: number;
  /** Extension: instrument of the order. */
  instrumentId: number;
  /** Extension: fee charged for this fill in the quote currency (negative for a rebate). */
  fee: Price;
  /** Extension: whether the fill added or took liquidity. */
  liquidity: Liquidity;
}
/** An order left the book without filling whole. */
export interface OrderCancelled {
  exchange: string;
  clientId: string;
  /** True when the strategy did not ask for it (IOC remainder, halt, session end). */
  unsolicited: boolean;
  engineTs: number;
  recvTs: number;
  cancelCode: CancelCode;
  cancelReason: string;
}
/** Status of one order, answering `fetchOrderStatus` and as an element of `onOrdersInfo`. */
export interface OrderStatusInfo {
  exchange: string;
  instrumentId: number;
  clientOrdId: string;
  exchOrdId: string;
  side: Side;
  price: Price;
  leavesQty: Qty;
  status: OrderStatus;
  orderType: OrderType;
  tif: TimeInForce;
  execInstr: ExecInstr[];
}
/** Open orders at the venue, answering `fetchOrdersInfo`. */
export interface OrdersInfo {
  exchange: string;
  orders: OrderStatusInfo[];
}
/** Account of the strategy at the venue. */
export interface AccountInfo {
  exchange: string;
  userId: string;
}
/** Balance of one coin. */
export interface WalletInfo {
  exchange: string;
  coin: string;
  totalBalance: Qty;
  availableBalance: Qty;
}
/** Net position in one instrument (positive long, negative short). */
export interface PositionInfo {
  exchange: string;
  instrumentId: number;
  position: Qty;
}
/** Funding of a perpetual. */
export interface FundingInfo {
  exchange: string;
  instrumentId: number;
  fundingRate: string;
  nextFundingTs: number;
}
/** A request that has no dedicated reject callback (fetch*, subscribe) was refused. */
export interface RequestReject {
  exchange: string;
  rejectCode: RejectCode;
  detail: string;
  rejectedRqstType: RequestType;
}
/** The venue does not support an operation. */
export interface UnsupportedOp {
  exchange: string;
  unsupportedMsgType: RequestType;
}
/** Rate-limit usage, sent when 50 %, 90 % and 100 % of the limit is used. */
export interface RateLimitInfo {
  exchange: string;
  rateLimit: number;
  rateRemaining: number;
  resetTs: number;
}
/** A trade on the venue. `side` is the taker's side. */
export interface PublicTrade {
  exchange: string;
  instrumentId: number;
  side: Side;
  /** May lie between ticks for mid-point executions. */
  price: Price;
  qty: Qty;
  execTs: number;
  recvTs: number;
}
/** A new price level (L2 by price). */
export interface AddPriceLevel {
  exchange: string;
  instrumentId: number;
  side: Side;
  price: Price;
  qty: Qty;
  recvTs: number;
}
/** A price level's qty changed. */
export interface ModifyPriceLevel {
  exchange: string;
  instrumentId: number;
  side: Side;
  price: Price;
  newQty: Qty;
  recvTs: number;
}
/** A price level is gone. */
export interface DeletePriceLevel {
  exchange: string;
  instrumentId: number;
  side: Side;
  price: Price;
  recvTs: number;
}
/** A new level by id: an order (L3 `OrderBook`) or a price level (`LevelBook`). */
export interface AddLevel {
  exchange: string;
  instrumentId: number;
  side: Side;
  levelId: string;
  price: Price;
  qty: Qty;
  recvTs: number;
}
/** A level's qty changed. */
export interface ModifyLevel {
  exchange: string;
  instrumentId: number;
  side: Side;
  levelId: string;
  price: Price;
  newQty: Qty;
  recvTs: number;
}
/** A level is gone. */
export interface DeleteLevel {
  exchange: string;
  instrumentId: number;
  side: Side;
  levelId: string;
  price: Price;
  recvTs: number;
}
/** The best level of one side changed. An empty side has zero price and qty. */
export interface BestLevelUpdate {
  exchange: string;
  instrumentId: number;
  price: Price;
  qty: Qty;
  recvTs: number;
}
/** Trading status of a venue changed. */
export interface GatewayStatusEvent {
  exchange: string;
  status: GatewayStatus;
  detail: string;
}
/** Market-data feed status changed. */
export interface FeedHandlerStatusEvent {
  exchange: string;
  status: FeedHandlerStatus;
  detail: string;
}
/** Passed to `onStart` and `onStop`. */
export interface LifecycleEvent {
  params: StratParams;
}
/** Strategy parameters: a plain JSON object. */
export type StratParams = Record<string, unknown>;

/** Every callback name with its event type. */
export interface StrategyEventMap {
  onStart: LifecycleEvent;
  onInstruments: Instrument[];
  onStratParamsUpdate: StratParams;
  onStop: LifecycleEvent;
  onFrameworkDisconnected: undefined;
  onNewOrderAck: NewOrderAck;
  onNewOrderReject: NewOrderReject;
  onModifyOrderAck: ModifyOrderAck;
  onModifyOrderReject: ModifyOrderReject;
  onCancelOrderAck: CancelOrderAck;
  onCancelOrderReject: CancelOrderReject;
  onCancelAllAck: CancelAllAck;
  onCancelAllReject: CancelAllReject;
  onOrderExecution: OrderExecution;
  onOrderCancelled: OrderCancelled;
  onOrderStatus: OrderStatusInfo;
  onOrdersInfo: OrdersInfo;
  onAccountInfo: AccountInfo;
  onWalletInfo: WalletInfo;
  onPositionInfo: PositionInfo;
  onFundingInfo: FundingInfo;
  onRequestReject: RequestReject;
  onUnsupportedOp: UnsupportedOp;
  onRateLimitInfo: RateLimitInfo;
  onPublicTrade: PublicTrade;
  onAddPriceLevel: AddPriceLevel;
  onModifyPriceLevel: ModifyPriceLevel;
  onDeletePriceLevel: DeletePriceLevel;
  onAddLevel: AddLevel;
  onModifyLevel: ModifyLevel;
  onDeleteLevel: DeleteLevel;
  onBestBidLevelUpdate: BestLevelUpdate;
  onBestAskLevelUpdate: BestLevelUpdate;
  onGatewayStatus: GatewayStatusEvent;
  onFeedHandlerStatus: FeedHandlerStatusEvent;
}
/** Name of a callback that takes one event (every callback but `onFrameworkConnected`). */
export type EventCallbackName = keyof StrategyEventMap;
