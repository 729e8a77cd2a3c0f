/**
 * Checks of strategy requests before anything leaves the environment. Every function is
 * pure over its context: it either refuses with a numeric `RejectCode` and a reason that
 * names the offending value, or returns the venue request with integer ticks and lots.
 *
 * Checks run in a fixed order (login, running, exchange, gateway, instrument, fields,
 * order state, price, qty, combinations) so that the first problem a strategy sees is
 * the most fundamental one, and tests can rely on which code wins.
 * @module
 */
import { RejectCode } from '../api/codes.js';
import { Price, Qty, parsePrice, parseQty } from '../api/decimal.js';
import type { DecimalInput } from '../api/decimal.js';
import { ExecInstr, GatewayStatus, OrderStatus, OrderType, RequestType, Side, TimeInForce } from '../api/enums.js';
import type { Instrument } from '../api/instrument.js';
import type { NewOrderRequest } from '../api/strategy.js';
import { isTerminal } from './order-tracker.js';
import type { OrderTracker, TrackedOrder } from './order-tracker.js';
import type { VenueCancelAll, VenueCancelOrder, VenueFetch, VenueModifyOrder, VenueNewOrder } from './venue.js';

/** What validation needs to know about the environment. */
export interface ValidationContext {
  /** Login name; undefined before a successful `env.login()`. */
  readonly strategy: string | undefined;
  /** True between `onStart` and `sendStopAck`. */
  readonly running: boolean;
  /** Status of a venue's gateway; undefined when no such exchange is connected. */
  gatewayStatus(exchange: string): GatewayStatus | undefined;
  /** An instrument by id; undefined when the venue does not list it. */
  instrument(exchange: string, instrumentId: number): Instrument | undefined;
  /** The strategy's orders: duplicate ids, modify and cancel targets. */
  readonly tracker: OrderTracker;
  /** Net position of an instrument (positive long), for `closePosition`. */
  position(exchange: string, instrumentId: number): Qty;
}

/** A refused request: the code of the reject callback and a specific readable reason. */
export interface Rejection {
  /** Always false: discriminates from `Validated`. */
  readonly ok: false;
  /** Code for the reject callback (1000–1099). */
  readonly code: RejectCode;
  /** Names the offending value, e.g. `price 100.005 is not on the tick grid 0.01 of nasdaq:equity:amzn`. */
  readonly reason: string;
}

/** A request that passed every check, ready for the venue. */
export interface Validated<T> {
  /** Always true: discriminates from `Rejection`. */
  readonly ok: true;
  /** The venue request, with integer ticks and lots. */
  readonly request: T;
}

/** Outcome of a validation. */
export type ValidationResult<T> = Validated<T> | Rejection;

/** The queries a `fetch…` call may make. */
export type FetchKind = VenueFetch['what'];

/** Optional fields of a fetch: which instrument, coin or order it is about. */
export interface FetchFields {
  /** Instrument of PositionInfo, FundingInfo, OrderStatus (required) and OrdersInfo (optional). */
  instrumentId?: number;
  /** Coin of WalletInfo, e.g. `'USDT'`. */
  coin?: string;
  /** Client order id of OrderStatus. */
  clientId?: string;
}

/** Longest accepted client order id, in characters. */
export const MAX_CLIENT_ID_LENGTH = 64;

/** Printable ASCII without the space, so ids survive logs, journals and command-hook arguments (split on whitespace). */
const CLIENT_ID_RE = new RegExp(`^[\\x21-\\x7e]{1,${MAX_CLIENT_ID_LENGTH}}$`);

const SIDES: ReadonlySet<unknown> = new Set(Object.values(Side));
const ORDER_TYPES: ReadonlySet<unknown> = new Set(Object.values(OrderType));
const TIFS: ReadonlySet<unknown> = new Set(Object.values(TimeInForce));
const EXEC_INSTRS: ReadonlySet<unknown> = new Set(Object.values(ExecInstr));
const FETCH_KINDS: ReadonlySet<unknown> = new Set<FetchKind>([
  RequestType.AccountInfo,
  RequestType.WalletInfo,
  RequestType.PositionInfo,
  RequestType.FundingInfo,
  RequestType.OrderStatus,
  RequestType.OrdersInfo,
]);

function reject(code: RejectCode, reason: string): Rejection {
  return { ok: false, code, reason };
}

function accept<T>(request: T): Validated<T> {
  return { ok: true, request };
}

/** A value as a reason shows it: strings quoted, decimals as their canonical string. */
export function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'object') {
    const s = String(v);
    if (s !== '[object Object]') return s;
    try {
      return JSON.stringify(v);
    } catch {
      return 'an object';
    }
  }
  return typeof v;
}

function label(inst: Instrument): string {
  return inst.name;
}

/** Login, running, exchange and (optionally) gateway: the checks every request starts with. */
function checkSession(ctx: ValidationContext, exchange: unknown, gateway: boolean): Rejection | string {
  if (ctx.strategy === undefined) return reject(RejectCode.NotLoggedIn, 'not logged in: call env.login() in onFrameworkConnected');
  if (!ctx.running) return reject(RejectCode.StrategyNotRunning, 'strategy is not running (before onStart or after onStop)');
  const status = typeof exchange === 'string' ? ctx.gatewayStatus(exchange) : undefined;
  if (status === undefined) return reject(RejectCode.UnknownExchange, `unknown exchange ${show(exchange)}`);
  if (gateway && status !== GatewayStatus.ReadyToTrade) return reject(RejectCode.GtwNotReady, `gateway of ${exchange as string} is ${status}, not ReadyToTrade`);
  return ctx.strategy;
}

function findInstrument(ctx: ValidationContext, exchange: string, instrumentId: unknown): Instrument | Rejection {
  const inst = typeof instrumentId === 'number' && Number.isInteger(instrumentId) ? ctx.instrument(exchange, instrumentId) : undefined;
  return inst ?? reject(RejectCode.UnknownInstrument, `unknown instrument ${show(instrumentId)} on ${exchange}`);
}

function isRejection(v: unknown): v is Rejection {
  return typeof v === 'object' && v !== null && (v as Rejection).ok === false;
}

/** A price on the instrument's tick grid with its integer ticks. */
function checkPrice(v: unknown, inst: Instrument, what: string): { price: Price; ticks: number } | Rejection {
  const price = parsePrice(v);
  if (price === undefined) return reject(RejectCode.InvalidPrice, `${what} ${show(v)} is not a decimal number`);
  if (!price.isPositive()) return reject(RejectCode.InvalidPrice, `${what} ${price} is not positive`);
  if (!price.isOnGrid(inst)) return reject(RejectCode.PriceOffTick, `${what} ${price} is not on the tick grid ${inst.tickSize} of ${label(inst)}`);
  const ticks = price.toTicks(inst);
  if (!Number.isSafeInteger(ticks)) return reject(RejectCode.InvalidPrice, `${what} ${price} is too large for ${label(inst)} (${ticks} ticks)`);
  return { price, ticks };
}

/** A qty at or above the minimum and on the lot grid, with its integer lots. */
function checkQty(v: unknown, inst: Instrument, what: string): { qty: Qty; lots: number } | Rejection {
  if (v === undefined || v === null) return reject(RejectCode.InvalidQty, `${what} is missing`);
  const qty = parseQty(v);
  if (qty === undefined) return reject(RejectCode.InvalidQty, `${what} ${show(v)} is not a decimal number`);
  return checkQtyValue(qty, inst, what);
}

function checkQtyValue(qty: Qty, inst: Instrument, what: string): { qty: Qty; lots: number } | Rejection {
  if (!qty.isPositive()) return reject(RejectCode.InvalidQty, `${what} ${qty} is not positive`);
  if (qty.lt(inst.minQty)) return reject(RejectCode.QtyBelowMin, `${what} ${qty} is below the minimum qty ${inst.minQty} of ${label(inst)}`);
  if (!qty.isOnGrid(inst)) return reject(RejectCode.QtyOffLot, `${what} ${qty} is not a multiple of the lot size ${inst.lotSize} of ${label(inst)}`);
  const lots = qty.toLots(inst);
  if (!Number.isSafeInteger(lots)) return reject(RejectCode.InvalidQty, `${what} ${qty} is too large for ${label(inst)} (${lots} lots)`);
  return { qty, lots };
}

/** The order named by a modify, cancel or fetch, if it is this strategy's and on this exchange. */
function findOrder(ctx: ValidationContext, exchange: string, clientId: unknown): TrackedOrder | Rejection {
  const order = typeof clientId === 'string' ? ctx.tracker.get(clientId) : undefined;
  if (order === undefined) return reject(RejectCode.UnknownOrder, `unknown order ${show(clientId)}`);
  if (order.exchange !== exchange) return reject(RejectCode.UnknownOrder, `order ${show(clientId)} is on ${order.exchange}, not ${exchange}`);
  return order;
}

function checkOpen(order: TrackedOrder): Rejection | undefined {
  if (isTerminal(order.status)) return reject(RejectCode.OrderClosed, `order '${order.clientId}' is closed (${order.status})`);
  if (order.status === OrderStatus.PendingCancel) return reject(RejectCode.OrderPendingCancel, `order '${order.clientId}' already has a cancel pending`);
  return undefined;
}

/**
 * Validates a new order. `req.clientId` must be set: the environment generates one when
 * the strategy gave none, before calling this (a reject needs an id too).
 *
 * Defaults: `ordType` Limit, `timeInForce` GTC, no exec instructions. A market order's
 * price is ignored (`Price.ZERO`, `priceTick` NaN). `closePosition: true` replaces the qty
 * with the absolute position and adds `ReduceOnly`; the side must reduce the position.
 */
export function validateNewOrder(req: NewOrderRequest, ctx: ValidationContext): ValidationResult<VenueNewOrder> {
  const strategy = checkSession(ctx, req?.exchange, true);
  if (isRejection(strategy)) return strategy;
  const exchange = req.exchange;
  const inst = findInstrument(ctx, exchange, req.instrumentId);
  if (isRejection(inst)) return inst;

  if (!SIDES.has(req.side)) return reject(RejectCode.InvalidField, `side ${show(req.side)} is not one of ${[...SIDES].join(', ')}`);
  const orderType = req.ordType ?? OrderType.Limit;
  if (!ORDER_TYPES.has(orderType)) return reject(RejectCode.InvalidField, `ordType ${show(req.ordType)} is not one of ${[...ORDER_TYPES].join(', ')}`);
  const tif = req.timeInForce ?? TimeInForce.GTC;
  if (!TIFS.has(tif)) return reject(RejectCode.InvalidField, `timeInForce ${show(req.timeInForce)} is not one of ${[...TIFS].join(', ')}`);
  const rawInstr: unknown[] = req.execInstr === undefined ? [] : Array.isArray(req.execInstr) ? req.execInstr : [req.execInstr];
  for (const e of rawInstr) {
    if (!EXEC_INSTRS.has(e)) return reject(RejectCode.InvalidField, `execInstr ${show(e)} is not one of ${[...EXEC_INSTRS].join(', ')}`);
  }
  const execInstr = [...new Set(rawInstr as ExecInstr[])];
  if (req.closePosition !== undefined && typeof req.closePosition !== 'boolean') {
    return reject(RejectCode.InvalidField, `closePosition ${show(req.closePosition)} is not a boolean`);
  }

  const clientId: unknown = req.clientId;
  if (clientId === undefined) return reject(RejectCode.InvalidField, 'clientId is missing');
  if (typeof clientId !== 'string' || !CLIENT_ID_RE.test(clientId)) {
    return reject(RejectCode.InvalidField, `clientId ${show(clientId)} is not 1-${MAX_CLIENT_ID_LENGTH} printable characters without spaces`);
  }
  if (ctx.tracker.has(clientId)) return reject(RejectCode.DuplicateClientId, `clientId '${clientId}' is already used by another order`);

  let price = Price.ZERO;
  let priceTick = Number.NaN;
  if (orderType === OrderType.Limit) {
    if (req.price === undefined || req.price === null) return reject(RejectCode.InvalidPrice, `limit order needs a price (${label(inst)})`);
    const p = checkPrice(req.price, inst, 'price');
    if (isRejection(p)) return p;
    ({ price, ticks: priceTick } = p);
  }

  let side = req.side;
  let qty: { qty: Qty; lots: number } | Rejection;
  if (req.closePosition === true) {
    const pos = ctx.position(exchange, inst.instrumentId);
    if (pos.isZero()) return reject(RejectCode.InvalidQty, `no position to close in ${label(inst)}`);
    qty = checkQtyValue(pos.abs(), inst, 'position qty');
    if (isRejection(qty)) return qty;
    const reducing = pos.isPositive() ? Side.Sell : Side.Buy;
    if (side !== reducing) {
      return reject(RejectCode.InvalidCombination, `closePosition with side ${side} would increase the ${pos.isPositive() ? 'long' : 'short'} position ${pos} in ${label(inst)}; use ${reducing}`);
    }
    side = reducing;
    if (!execInstr.includes(ExecInstr.ReduceOnly)) execInstr.push(ExecInstr.ReduceOnly);
  } else {
    qty = checkQty(req.qty, inst, 'qty');
    if (isRejection(qty)) return qty;
  }

  if (execInstr.includes(ExecInstr.PostOnly)) {
    if (orderType === OrderType.Market) return reject(RejectCode.InvalidCombination, 'PostOnly cannot be combined with a Market order');
    if (tif !== TimeInForce.GTC) return reject(RejectCode.InvalidCombination, `PostOnly cannot be combined with time in force ${tif}`);
  }

  return accept({
    type: 'NewOrder',
    strategy,
    clientId,
    instrumentId: inst.instrumentId,
    side,
    orderType,
    tif,
    execInstr,
    price,
    priceTick,
    qty: qty.qty,
    qtyLots: qty.lots,
  });
}

/**
 * Validates a modify. `newPrice` / `newQty` may each be omitted (keeps the current value);
 * `newQty` is the new *total* qty of the order and must stay above what has filled. The
 * returned request carries both values, changed or not.
 */
export function validateModify(
  exchange: string,
  clientId: string,
  newPrice: Price | DecimalInput | number | undefined,
  newQty: Qty | DecimalInput | number | undefined,
  ctx: ValidationContext,
): ValidationResult<VenueModifyOrder> {
  const strategy = checkSession(ctx, exchange, true);
  if (isRejection(strategy)) return strategy;
  const order = findOrder(ctx, exchange, clientId);
  if (isRejection(order)) return order;
  const closed = checkOpen(order);
  if (closed) return closed;
  if (order.orderType === OrderType.Market) return reject(RejectCode.InvalidCombination, `order '${clientId}' is a Market order and cannot be modified`);
  if (!order.acked) return reject(RejectCode.OrderPendingNew, `order '${clientId}' is not yet acknowledged by ${exchange}; modify after its ack`);
  if (order.pendingModify !== undefined) return reject(RejectCode.OrderPendingModify, `order '${clientId}' already has a modify pending (to ${order.pendingModify.price} x ${order.pendingModify.qty})`);
  const inst = findInstrument(ctx, exchange, order.instrumentId);
  if (isRejection(inst)) return inst;

  const hasPrice = newPrice !== undefined && newPrice !== null;
  const hasQty = newQty !== undefined && newQty !== null;
  if (!hasPrice && !hasQty) return reject(RejectCode.NothingToModify, `modify of order '${clientId}' gives neither a new price nor a new qty`);

  let price = order.price;
  let priceTick = order.price.toTicks(inst);
  if (hasPrice) {
    const p = checkPrice(newPrice, inst, 'new price');
    if (isRejection(p)) return p;
    ({ price, ticks: priceTick } = p);
  }
  let qty = order.qty;
  let qtyLots = order.qty.toLots(inst);
  if (hasQty) {
    const q = checkQty(newQty, inst, 'new qty');
    if (isRejection(q)) return q;
    ({ qty, lots: qtyLots } = q);
  }
  if (price.eq(order.price) && qty.eq(order.qty)) {
    return reject(RejectCode.NothingToModify, `modify of order '${clientId}' changes nothing: price ${price} and qty ${qty} are the current ones`);
  }
  if (qty.lte(order.filledQty)) return reject(RejectCode.InvalidQty, `new qty ${qty} is not above the filled qty ${order.filledQty} of order '${clientId}'`);

  return accept({ type: 'ModifyOrder', strategy, clientId, instrumentId: order.instrumentId, newPrice: price, newPriceTick: priceTick, newQty: qty, newQtyLots: qtyLots });
}

/** Validates a cancel of one order; `instrumentId` must be the order's. A cancel before the order's ack is allowed. */
export function validateCancel(exchange: string, instrumentId: number, clientId: string, ctx: ValidationContext): ValidationResult<VenueCancelOrder> {
  const strategy = checkSession(ctx, exchange, true);
  if (isRejection(strategy)) return strategy;
  const order = findOrder(ctx, exchange, clientId);
  if (isRejection(order)) return order;
  if (order.instrumentId !== instrumentId) {
    const inst = ctx.instrument(exchange, order.instrumentId);
    return reject(RejectCode.UnknownOrder, `order '${clientId}' is on instrument ${order.instrumentId}${inst ? ` (${label(inst)})` : ''}, not ${show(instrumentId)}`);
  }
  const closed = checkOpen(order);
  if (closed) return closed;
  return accept({ type: 'CancelOrder', strategy, clientId, instrumentId });
}

/**
 * Validates a cancel-all of one instrument. Like the fetches, it does not require the
 * gateway to be ReadyToTrade: it is the safety action a strategy reaches for when the
 * venue misbehaves, so the venue, not the environment, decides.
 */
export function validateCancelAll(exchange: string, instrumentId: number, ctx: ValidationContext): ValidationResult<VenueCancelAll> {
  const strategy = checkSession(ctx, exchange, false);
  if (isRejection(strategy)) return strategy;
  const inst = findInstrument(ctx, exchange, instrumentId);
  if (isRejection(inst)) return inst;
  return accept({ type: 'CancelAll', strategy, instrumentId: inst.instrumentId });
}

/**
 * Validates a query. `WalletInfo` needs a coin; `PositionInfo`, `FundingInfo` and
 * `OrderStatus` need a known instrument (optional for `OrdersInfo`); `OrderStatus` needs
 * an order of this strategy on that instrument. The gateway status is not checked.
 */
export function validateFetch(what: FetchKind, exchange: string, fields: FetchFields, ctx: ValidationContext): ValidationResult<VenueFetch> {
  const strategy = checkSession(ctx, exchange, false);
  if (isRejection(strategy)) return strategy;
  if (!FETCH_KINDS.has(what)) return reject(RejectCode.InvalidField, `unknown query ${show(what)}`);
  const out: VenueFetch = { type: 'Fetch', strategy, what };
  const needsInstrument = what === RequestType.PositionInfo || what === RequestType.FundingInfo || what === RequestType.OrderStatus;
  if (needsInstrument || (what === RequestType.OrdersInfo && fields?.instrumentId !== undefined)) {
    const inst = findInstrument(ctx, exchange, fields?.instrumentId);
    if (isRejection(inst)) return inst;
    out.instrumentId = inst.instrumentId;
  }
  if (what === RequestType.WalletInfo) {
    const coin: unknown = fields?.coin;
    if (typeof coin !== 'string' || coin.trim() === '') return reject(RejectCode.InvalidField, `coin ${show(coin)} is not a non-empty string`);
    out.coin = coin;
  }
  if (what === RequestType.OrderStatus) {
    const order = findOrder(ctx, exchange, fields?.clientId);
    if (isRejection(order)) return order;
    if (order.instrumentId !== out.instrumentId) return reject(RejectCode.UnknownOrder, `order '${order.clientId}' is on instrument ${order.instrumentId}, not ${out.instrumentId}`);
    out.clientId = order.clientId;
  }
  return accept(out);
}
