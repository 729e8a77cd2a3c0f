/**
 * The seam between the kernel and a world (simulated venue, gateway, live venue). The
 * kernel validates every request before it reaches a `Venue`; a venue answers with
 * callback events, delivered through the sink.
 * @module
 */
import type { ExecInstr, GatewayStatus, OrderType, RequestType, Side, TimeInForce } from '../api/enums.js';
import type { EventCallbackName, StrategyEventMap } from '../api/events.js';
import type { Instrument } from '../api/instrument.js';
import type { Price, Qty } from '../api/decimal.js';

/** A new order that passed validation; decimals and their integer grid values both given. */
export interface VenueNewOrder {
  type: 'NewOrder';
  /** Strategy (login name) that sent it. */
  strategy: string;
  clientId: string;
  instrumentId: number;
  side: Side;
  orderType: OrderType;
  tif: TimeInForce;
  execInstr: ExecInstr[];
  /** Limit price; `Price.ZERO` for a market order. */
  price: Price;
  /** Price in integer ticks; NaN for a market order. */
  priceTick: number;
  qty: Qty;
  /** Qty in integer lots. */
  qtyLots: number;
}
/** A validated modify. Absent fields keep their value. */
export interface VenueModifyOrder {
  type: 'ModifyOrder';
  strategy: string;
  clientId: string;
  instrumentId: number;
  newPrice: Price;
  newPriceTick: number;
  newQty: Qty;
  newQtyLots: number;
}
/** A validated cancel. */
export interface VenueCancelOrder {
  type: 'CancelOrder';
  strategy: string;
  clientId: string;
  instrumentId: number;
}
/** A validated cancel-all of one instrument. */
export interface VenueCancelAll {
  type: 'CancelAll';
  strategy: string;
  instrumentId: number;
}
/** A query answered by the matching on…Info callback. */
export interface VenueFetch {
  type: 'Fetch';
  strategy: string;
  what: RequestType.AccountInfo | RequestType.WalletInfo | RequestType.PositionInfo | RequestType.FundingInfo | RequestType.OrderStatus | RequestType.OrdersInfo;
  instrumentId?: number;
  coin?: string;
  clientId?: string;
}
/** Anything the kernel sends to a venue. */
export type VenueRequest = VenueNewOrder | VenueModifyOrder | VenueCancelOrder | VenueCancelAll | VenueFetch;

/** A callback event from a venue, addressed to one strategy. */
export interface VenueEvent<K extends EventCallbackName = EventCallbackName> {
  /** Strategy (login name) the event is for. */
  strategy: string;
  cb: K;
  ev: StrategyEventMap[K];
}

/** Receives venue events. */
export type VenueSink = (e: VenueEvent) => void;

/** A trading venue as the kernel sees it. */
export interface Venue {
  /** Venue id, e.g. `'SIM'`. */
  readonly exchange: string;
  /** Instruments this venue lists. */
  readonly instruments: readonly Instrument[];
  /** Current trading status. */
  status(): GatewayStatus;
  /** Sends a validated request; the outcome comes back through the sink. */
  submit(req: VenueRequest): void;
  /** Sets where events go. */
  setSink(sink: VenueSink): void;
}
