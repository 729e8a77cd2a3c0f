/**
 * The order store: a durable record of every order, every state change, every fill, and
 * of the events a gateway delivered to each strategy, written before they are delivered.
 *
 * This module holds the storage-neutral part: the {@link OrderStore} interface, its record
 * types, and the pure functions that move an order and a position on an event. A backend
 * (`SqliteOrderStore`, a PostgreSQL one later) only loads rows, calls these functions and
 * writes the result in one transaction, so every backend moves orders exactly as the
 * kernel's `OrderTracker` does (same transition table, same checks, same figures).
 *
 * Decimals are canonical decimal strings (`Price#toString`), so values stay exact in any
 * storage and in JSON. Timestamps are integer microseconds since the Unix epoch (UTC),
 * passed in by the caller: the store never reads a clock.
 * @module
 */
import { Decimal, Price, parsePrice, parseQty, type DecimalInput } from '../api/decimal.js';
import { ExecInstr, OrderStatus, OrderType, Side, TimeInForce, type Liquidity } from '../api/enums.js';
import { RejectCode } from '../api/codes.js';
import type { EventCallbackName, StrategyEventMap } from '../api/events.js';
import { OrderAction, afterFacts, isTerminal, nextStatus, type TransitionFacts } from '../core/order-tracker.js';
import type { VenueCancelOrder, VenueModifyOrder, VenueNewOrder } from '../core/venue.js';

// ---------------------------------------------------------------- records

/** A new order as the gateway hands it to {@link OrderStore.insertOrder}. */
export interface NewOrderRecord {
  /** Strategy (login name) that sent it. */
  strategy: string;
  /** The strategy's client order id; unique per strategy, the idempotency key. */
  clientId: string;
  /** Venue id, e.g. `'SIM'`. */
  exchange: string;
  instrumentId: number;
  side: Side;
  orderType: OrderType;
  tif: TimeInForce;
  execInstr: readonly ExecInstr[];
  /** Limit price; zero for a market order. A `Price` or an exact decimal string. */
  price: DecimalInput;
  /** Total qty. A `Qty` or an exact decimal string. */
  qty: DecimalInput;
  /** When the gateway received the request, µs since the epoch. */
  createdTs: number;
}

/** A modify sent to the venue and not yet answered: the values asked for (decimal strings). */
export interface StoredPendingModify {
  readonly price: string;
  readonly qty: string;
}

/**
 * One order as stored. Figures follow `docs/orders.md` (`OrderView`): `leavesQty` is
 * `qty − cumQty` while the order is live and `'0'` once it is terminal, as in FIX.
 */
export interface StoredOrder {
  readonly strategy: string;
  readonly clientId: string;
  readonly exchange: string;
  readonly instrumentId: number;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly tif: TimeInForce;
  readonly execInstr: readonly ExecInstr[];
  /** Limit price (decimal string); a modify ack replaces it. `'0'` for a market order. */
  readonly price: string;
  /** Total qty, the filled part included (decimal string); a modify ack replaces it. */
  readonly qty: string;
  readonly status: OrderStatus;
  /** Qty still working (decimal string); `'0'` once terminal. */
  readonly leavesQty: string;
  /** Sum of fill qtys (decimal string). */
  readonly cumQty: string;
  /** `fillNotional / cumQty` (decimal string); `'0'` before the first fill. */
  readonly avgFillPrice: string;
  /** Σ price × qty of the fills, exact (decimal string), so the average never drifts. */
  readonly fillNotional: string;
  /** Number of fills. */
  readonly fills: number;
  /** The venue's order id, from the ack; undefined before it. */
  readonly exchangeId: string | undefined;
  /** True once the venue acknowledged the new order. */
  readonly acked: boolean;
  /** The modify in flight (recorded by {@link OrderStore.recordRequest}); undefined when none. */
  readonly pendingModify: StoredPendingModify | undefined;
  /** When the order was inserted, µs since the epoch. */
  readonly createdTs: number;
  /** Time of the last change (insert, request or event), µs since the epoch. */
  readonly updatedTs: number;
}

/** One fill of an order. */
export interface StoredFill {
  readonly strategy: string;
  readonly clientId: string;
  /** Fill number within the order: 1, 2, … (`OrderExecution` carries no exec id, so this is the fill's identity). */
  readonly fillSeq: number;
  /** Sequence number of the `onOrderExecution` event in the strategy's event log. */
  readonly eventSeq: number;
  readonly exchange: string;
  readonly instrumentId: number;
  readonly side: Side;
  /** Fill price (decimal string). */
  readonly price: string;
  /** Fill qty (decimal string). */
  readonly qty: string;
  /** Fee in the quote currency (decimal string); negative for a rebate; `'0'` when the venue reported none. */
  readonly fee: string;
  /** Maker or taker; undefined when the venue did not say. */
  readonly liquidity: Liquidity | undefined;
  /** Venue time of the fill, µs; undefined when the event had none. */
  readonly execTs: number | undefined;
  /** Time the fill was received, µs; undefined when the event had none. */
  readonly recvTs: number | undefined;
  /** Time the store recorded it (the `ts` given to `recordEvent`), µs. */
  readonly ts: number;
}

/**
 * Net position of one strategy in one (exchange, instrumentId), from its fills with the
 * average-cost method of `OrderTracker` (`docs/orders.md`). All amounts are exact decimal
 * strings **per unit of qty**: multiply `realizedPnl` and `notional` by the instrument's
 * `multiplier` (1 for equities and spot) to get quote currency, as the tracker does.
 */
export interface StoredPosition {
  readonly strategy: string;
  readonly exchange: string;
  readonly instrumentId: number;
  /** Net position: positive long, negative short. */
  readonly position: string;
  /** Average entry price of the open position; `'0'` when flat. */
  readonly avgEntryPrice: string;
  /** Realised PnL before fees and before the multiplier. */
  readonly realizedPnl: string;
  /** Sum of fees (negative: rebates). */
  readonly fees: string;
  /** Sum of fill qtys. */
  readonly volume: string;
  /** Sum of price × qty, before the multiplier. */
  readonly notional: string;
  /** Number of fills. */
  readonly fills: number;
  /** Time of the last fill's `recordEvent`, µs. */
  readonly updatedTs: number;
}

/**
 * What recording an event did to the order it names.
 * - `applied`: the order row moved (and a fill was stored for an execution);
 * - `refused`: an order event the state machine or its checks refused (unknown order,
 *   illegal transition, malformed fill); the row is unchanged, `note` says why. The event
 *   is still logged and delivered: the strategy's own tracker makes the same decision.
 * - `none`: not an order event (market data, fetch answers, status), or an order event
 *   that by design names no order (a cancel-all reject, a `DuplicateClientId` reject).
 */
export type EventEffect = 'applied' | 'refused' | 'none';

/** Fields of every {@link StoredEvent}, whatever its callback. */
export interface StoredEventFields {
  /** Position in the strategy's event log: 1, 2, … with no gaps. */
  readonly seq: number;
  readonly strategy: string;
  /** Time given to `recordEvent`/`appendEvent`, µs. */
  readonly ts: number;
  /** Client id of the order the event is about; undefined for events about no order. */
  readonly clientId: string | undefined;
  readonly effect: EventEffect;
  /** Why an event was refused or left the order alone; undefined when applied. */
  readonly note: string | undefined;
}

/** One entry of a strategy's event log, with decimals revived as `Price`/`Qty`. Narrow on `cb`. */
export type StoredEvent = { [K in EventCallbackName]: StoredEventFields & { readonly cb: K; readonly ev: StrategyEventMap[K] } }[EventCallbackName];

/** Result of {@link OrderStore.insertOrder}. */
export interface InsertOrderResult {
  /** False when an order with this (strategy, clientId) was already stored: nothing was written. */
  readonly created: boolean;
  /** The stored order: the new one, or the existing one as it is now (its figures may have moved since). */
  readonly order: StoredOrder;
}

/** Result of {@link OrderStore.recordRequest}. */
export type RecordRequestResult =
  | { readonly ok: true; readonly order: StoredOrder }
  /** Refused (unknown order or an illegal transition); nothing was written. */
  | { readonly ok: false; readonly reason: string; readonly order: StoredOrder | undefined };

/** Filter of {@link OrderStore.listOrders}. Every given field must match. */
export interface ListOrdersQuery {
  /** Only this strategy's orders. */
  strategy?: string;
  /** Only orders in this status. */
  status?: OrderStatus;
  /** Only orders not yet terminal (pending ones included). Default false. */
  open?: boolean;
  /** At most this many: the newest ones, still listed oldest first. Default: all. */
  limit?: number;
}

// ---------------------------------------------------------------- interface

/**
 * Durable store of orders, fills, positions and per-strategy event logs.
 *
 * Every method returns a Promise so that a networked database (PostgreSQL) can implement
 * it. `SqliteOrderStore` does the work synchronously (better-sqlite3 is synchronous) and
 * returns an already-settled promise: by the time a write method *returns*, its transaction
 * is committed, even before the caller awaits. Callers must still `await` every write
 * before acting on it (forwarding the event, answering a request) so that their code is
 * correct for an asynchronous backend too.
 *
 * Ordering: the event log of a strategy is in call order. With an asynchronous backend,
 * await one `recordEvent` of a strategy before starting the next, or their sequence numbers
 * may not follow delivery order.
 *
 * Errors: invalid arguments (an empty strategy, a non-integer timestamp, a malformed
 * decimal in an order) reject with a `TypeError`; storage failures reject with the
 * backend's error. Venue input never rejects: a refused order event is logged with
 * `effect: 'refused'`.
 */
export interface OrderStore {
  /**
   * Stores a new order in `PendingNew`, idempotently on (strategy, clientId): when the
   * order already exists nothing is written and `created` is false, so a request retried
   * after a reconnect never creates a second order. The gateway then must not submit it
   * again, but re-send {@link orderEvents}.
   */
  insertOrder(order: NewOrderRecord): Promise<InsertOrderResult>;

  /**
   * Records a venue event for a strategy, in ONE transaction: appends it to the strategy's
   * event log and applies its effect on the order it names (status, leaves, cum, average
   * price; for an execution, a fill row and the position). Call it before delivering the
   * event. Events that name no order are only logged.
   * @param ts when the gateway received the event, µs since the epoch.
   * @param json the event as `JSON.stringify(ev)` gives it (decimals as strings), when the
   *   caller already has it: the store keeps these bytes instead of serializing the event
   *   again. The gateway passes the JSON it puts in the event's frame. Default: serialized here.
   * @returns the event's sequence number in the strategy's log (1, 2, …).
   */
  recordEvent<K extends EventCallbackName>(strategy: string, cb: K, ev: StrategyEventMap[K], ts: number, json?: string): Promise<number>;

  /**
   * Appends an event to the strategy's log without touching any order. For events that
   * carry no order state; venue order events go through {@link recordEvent}.
   * @param ts µs since the epoch.
   * @param json as in {@link recordEvent}.
   * @returns the event's sequence number.
   */
  appendEvent<K extends EventCallbackName>(strategy: string, cb: K, ev: StrategyEventMap[K], ts: number, json?: string): Promise<number>;

  /**
   * Records that a validated modify or cancel was sent to the venue: the order moves to
   * `PendingModify` / `PendingCancel` as in `OrderTracker`. Call it before sending; the
   * venue's answer (`onModifyOrderAck` …) is only legal after it, as in the tracker.
   * @param ts µs since the epoch.
   */
  recordRequest(req: VenueModifyOrder | VenueCancelOrder, ts: number): Promise<RecordRequestResult>;

  /**
   * The strategy's events with a sequence number above `afterSeq`, oldest first.
   * @param afterSeq the last sequence number the strategy saw; 0 for all.
   * @param limit at most this many; default all.
   */
  eventsSince(strategy: string, afterSeq: number, limit?: number): Promise<StoredEvent[]>;

  /** Every event recorded about one order, oldest first (to re-send on a duplicate request). */
  orderEvents(strategy: string, clientId: string): Promise<StoredEvent[]>;

  /** Sequence number of the strategy's last event; 0 when it has none. */
  lastEventSeq(strategy: string): Promise<number>;

  /** One order, or undefined. */
  getOrder(strategy: string, clientId: string): Promise<StoredOrder | undefined>;

  /** The strategy's orders that are not terminal (pending ones included), oldest first; optionally of one exchange and instrument. */
  openOrders(strategy: string, exchange?: string, instrumentId?: number): Promise<StoredOrder[]>;

  /** Orders matching the query, oldest first (see {@link ListOrdersQuery}). */
  listOrders(query?: ListOrdersQuery): Promise<StoredOrder[]>;

  /** The strategy's fills in event order, optionally of one order. */
  fills(strategy: string, clientId?: string): Promise<StoredFill[]>;

  /** The strategy's positions (every instrument it has filled in, flat ones included), by exchange then instrument. */
  positions(strategy: string): Promise<StoredPosition[]>;

  /** Closes the store; later calls reject. Closing twice is a no-op. */
  close(): Promise<void>;

  /**
   * Group commit, optional: the writes after `beginGroup` join one open transaction until
   * `commitGroup`, so that an order and the venue's answer to it commit together. Reads on
   * this store see them at once; other connections (the `tradeloop orders` CLI) only after
   * the commit. While a group is open the caller owns durability: nothing that depends on
   * those writes may leave the process (a frame to a client, a request to a venue outside
   * the process) before `commitGroup` returns. No-op when a group is already open. A store
   * without it (a networked database) commits each write on its own.
   */
  beginGroup?(): void;
  /**
   * Commits the open group, if any (synchronously: it runs right before a send). On failure
   * the group's writes are rolled back and the error is thrown: the caller must not send
   * what depended on them.
   */
  commitGroup?(): void;
  /** True while a group is open. */
  readonly groupOpen?: boolean;
}

// ---------------------------------------------------------------- pure state functions

/** Callbacks whose event names one order by `clientId`; the store applies these to the order row. */
export const ORDER_EVENT_CALLBACKS: ReadonlySet<EventCallbackName> = new Set<EventCallbackName>([
  'onNewOrderAck',
  'onNewOrderReject',
  'onModifyOrderAck',
  'onModifyOrderReject',
  'onCancelOrderAck',
  'onCancelOrderReject',
  'onOrderExecution',
  'onOrderCancelled',
]);

/** The client id an order event names; undefined for any other event or a malformed one. */
export function orderEventClientId(cb: EventCallbackName, ev: unknown): string | undefined {
  if (!ORDER_EVENT_CALLBACKS.has(cb) || ev === null || typeof ev !== 'object') return undefined;
  const id = (ev as { clientId?: unknown }).clientId;
  return typeof id === 'string' ? id : undefined;
}

/** Canonical decimal string of a `Price`/`Qty`/string; throws `TypeError` for anything not an exact decimal. */
export function decimalString(v: DecimalInput, what: string): string {
  try {
    return Price.of(v).toString();
  } catch {
    throw new TypeError(`${what} is not an exact decimal: ${String(v)}`);
  }
}

/** Throws `TypeError` unless `v` is a non-empty string. */
export function checkName(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new TypeError(`${what} must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

/** Throws `TypeError` unless `ts` is an integer µs timestamp. */
export function checkTs(ts: unknown, what = 'ts'): number {
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) throw new TypeError(`${what} must be an integer µs timestamp, got ${String(ts)}`);
  return ts;
}

/** The key of an order in the stores' in-memory maps: `strategy \0 clientId`. */
export function orderKey(strategy: string, clientId: string): string {
  return `${strategy}\u0000${clientId}`;
}

/**
 * A mutable copy of `o`, field by field: every copy has the same shape, which keeps
 * {@link freezeOrder} cheap (a spread copy took ≈ 2 µs more to freeze).
 */
function copyOrder(o: StoredOrder): Mutable<StoredOrder> {
  return {
    strategy: o.strategy,
    clientId: o.clientId,
    exchange: o.exchange,
    instrumentId: o.instrumentId,
    side: o.side,
    orderType: o.orderType,
    tif: o.tif,
    execInstr: o.execInstr,
    price: o.price,
    qty: o.qty,
    status: o.status,
    leavesQty: o.leavesQty,
    cumQty: o.cumQty,
    avgFillPrice: o.avgFillPrice,
    fillNotional: o.fillNotional,
    fills: o.fills,
    exchangeId: o.exchangeId,
    acked: o.acked,
    pendingModify: o.pendingModify,
    createdTs: o.createdTs,
    updatedTs: o.updatedTs,
  };
}

const SIDES: ReadonlySet<string> = new Set(Object.values(Side));
const ORDER_TYPES: ReadonlySet<string> = new Set(Object.values(OrderType));
const TIFS: ReadonlySet<string> = new Set(Object.values(TimeInForce));
const EXEC_INSTRS: ReadonlySet<string> = new Set(Object.values(ExecInstr));

/** Orders a store keeps in memory are shared with callers: frozen, so that no caller can change them. */
export function freezeOrder(o: StoredOrder): StoredOrder {
  if (Object.isFrozen(o)) return o;
  Object.freeze(o.execInstr);
  if (o.pendingModify) Object.freeze(o.pendingModify);
  return Object.freeze(o);
}

/** The {@link NewOrderRecord} of a validated request as it reaches the gateway. */
export function newOrderRecord(req: VenueNewOrder, exchange: string, createdTs: number): NewOrderRecord {
  return {
    strategy: req.strategy,
    clientId: req.clientId,
    exchange,
    instrumentId: req.instrumentId,
    side: req.side,
    orderType: req.orderType,
    tif: req.tif,
    execInstr: [...req.execInstr],
    price: req.price,
    qty: req.qty,
    createdTs,
  };
}

/** The stored form of a new order in `PendingNew`; validates the fields (throws `TypeError`). */
export function initialOrder(o: NewOrderRecord): StoredOrder {
  const qty = decimalString(o.qty, 'qty');
  if (!new Decimal(qty).gt(0)) throw new TypeError(`qty must be positive, got ${qty}`);
  if (!Number.isSafeInteger(o.instrumentId)) throw new TypeError(`instrumentId must be an integer, got ${String(o.instrumentId)}`);
  // The columns are plain TEXT: check the enums here so that every row reads back as one.
  if (!SIDES.has(o.side)) throw new TypeError(`side must be one of ${[...SIDES].join(', ')}, got ${String(o.side)}`);
  if (!ORDER_TYPES.has(o.orderType)) throw new TypeError(`orderType must be one of ${[...ORDER_TYPES].join(', ')}, got ${String(o.orderType)}`);
  if (!TIFS.has(o.tif)) throw new TypeError(`tif must be one of ${[...TIFS].join(', ')}, got ${String(o.tif)}`);
  if (!Array.isArray(o.execInstr) || !o.execInstr.every((x) => EXEC_INSTRS.has(x))) throw new TypeError(`execInstr must be an array of ${[...EXEC_INSTRS].join(', ')}, got ${JSON.stringify(o.execInstr)}`);
  const ts = checkTs(o.createdTs, 'createdTs');
  return {
    strategy: checkName(o.strategy, 'strategy'),
    clientId: checkName(o.clientId, 'clientId'),
    exchange: checkName(o.exchange, 'exchange'),
    instrumentId: o.instrumentId,
    side: o.side,
    orderType: o.orderType,
    tif: o.tif,
    execInstr: [...o.execInstr],
    price: decimalString(o.price, 'price'),
    qty,
    status: OrderStatus.PendingNew,
    leavesQty: qty,
    cumQty: '0',
    avgFillPrice: '0',
    fillNotional: '0',
    fills: 0,
    exchangeId: undefined,
    acked: false,
    pendingModify: undefined,
    createdTs: ts,
    updatedTs: ts,
  };
}

/** A fill produced by an execution, before the store gives it its event sequence number. */
export type NewFill = Omit<StoredFill, 'eventSeq'>;

/** Outcome of {@link applyOrderEvent} / {@link applyOrderRequest}. */
export type OrderUpdate =
  | { readonly ok: true; readonly order: StoredOrder; readonly fill: NewFill | undefined }
  | { readonly ok: false; readonly reason: string };

type Mutable<T> = { -readonly [P in keyof T]: T[P] };

const dec = (s: string) => new Decimal(s);
const str = (d: Decimal) => d.toFixed();

function facts(o: StoredOrder): TransitionFacts {
  return { acked: o.acked, modifyInFlight: o.pendingModify !== undefined, partlyFilled: !dec(o.cumQty).isZero() };
}


function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  return s === '[object Object]' ? typeof v : s;
}

/**
 * One step of the state machine, checked in the tracker's order (exchange, transition,
 * event check) so that a refusal here is a refusal there; `apply` mutates a copy.
 */
function step(
  o: StoredOrder,
  exchange: unknown,
  action: OrderAction,
  ts: number,
  apply: (m: Mutable<StoredOrder>) => NewFill | void,
  check?: () => string | undefined,
): OrderUpdate {
  const id = o.clientId;
  if (exchange !== undefined && exchange !== o.exchange) return { ok: false, reason: `${action} from exchange ${describe(exchange)} for order '${id}' of ${o.exchange}` };
  const before = facts(o);
  const to = nextStatus(o.status, action, before, afterFacts(before, action));
  if (to === undefined) return { ok: false, reason: `order '${id}' in ${o.status}: ${action} is not allowed${isTerminal(o.status) ? ' (order is closed)' : ''}` };
  const problem = check?.();
  if (problem !== undefined) return { ok: false, reason: `order '${id}' in ${o.status}: ${action} refused: ${problem}` };
  const m = copyOrder(o);
  const fill = apply(m) ?? undefined;
  m.status = to;
  if (isTerminal(to)) m.pendingModify = undefined;
  // Derived figures, as `OrderView` has them: nothing works once the order is closed.
  m.leavesQty = isTerminal(to) ? '0' : str(dec(m.qty).sub(dec(m.cumQty)));
  m.avgFillPrice = dec(m.cumQty).isZero() ? '0' : str(dec(m.fillNotional).div(dec(m.cumQty)));
  m.updatedTs = ts;
  return { ok: true, order: m, fill };
}

/**
 * Applies a venue event to an order, exactly as `OrderTracker` does (same transition
 * table, guards and checks). Pure: returns the new order and, for an execution, the fill.
 * `ev` may be a live event (`Price`/`Qty`) or one revived from JSON.
 * @param order the order the event names (`orderEventClientId(cb, ev) === order.clientId`).
 * @param ts when the event was recorded, µs; becomes `updatedTs` and the fill's `ts`.
 */
export function applyOrderEvent<K extends EventCallbackName>(order: StoredOrder, cb: K, ev: StrategyEventMap[K], ts: number): OrderUpdate {
  const e = ev as unknown as Record<string, unknown>;
  switch (cb) {
    case 'onNewOrderAck':
      return step(order, e.exchange, OrderAction.Ack, ts, (m) => {
        m.acked = true;
        m.exchangeId = typeof e.exchangeId === 'string' ? e.exchangeId : e.exchangeId === undefined ? undefined : String(e.exchangeId);
      });
    case 'onNewOrderReject':
      return step(order, e.exchange, OrderAction.Reject, ts, () => {});
    case 'onModifyOrderAck': {
      const price = parsePrice(e.newPrice);
      const qty = parseQty(e.newQty);
      return step(
        order,
        e.exchange,
        OrderAction.ModifyAck,
        ts,
        (m) => {
          m.price = price!.toString();
          m.qty = qty!.toString();
          m.pendingModify = undefined;
        },
        () => {
          if (price === undefined) return `modify ack price ${describe(e.newPrice)} is not a decimal`;
          if (qty === undefined) return `modify ack qty ${describe(e.newQty)} is not a decimal`;
          if (qty.lte(order.cumQty)) return `modify ack qty ${qty} is not above the filled qty ${order.cumQty}`;
          return undefined;
        },
      );
    }
    case 'onModifyOrderReject':
      return step(order, e.exchange, OrderAction.ModifyReject, ts, (m) => {
        m.pendingModify = undefined;
      });
    case 'onCancelOrderAck':
      return step(order, e.exchange, OrderAction.CancelAck, ts, () => {});
    case 'onCancelOrderReject':
      return step(order, e.exchange, OrderAction.CancelReject, ts, () => {});
    case 'onOrderExecution': {
      const price = parsePrice(e.price);
      const fillQty = parseQty(e.fillQty);
      const venueLeaves = parseQty(e.leavesQty);
      // A missing fee reads as zero: fees are an extension some venues do not report.
      const fee = e.fee === undefined ? Price.ZERO : parsePrice(e.fee);
      const cum = dec(order.cumQty);
      const full = fillQty !== undefined && (cum.add(fillQty.d).gte(dec(order.qty)) || venueLeaves?.isZero() === true);
      return step(
        order,
        e.exchange,
        full ? OrderAction.FillFull : OrderAction.Fill,
        ts,
        (m) => {
          m.cumQty = str(cum.add(fillQty!.d));
          m.fillNotional = str(dec(order.fillNotional).add(price!.d.mul(fillQty!.d)));
          m.fills = order.fills + 1;
          return {
            strategy: order.strategy,
            clientId: order.clientId,
            fillSeq: m.fills,
            exchange: order.exchange,
            instrumentId: order.instrumentId,
            side: order.side,
            price: price!.toString(),
            qty: fillQty!.toString(),
            fee: fee!.toString(),
            liquidity: typeof e.liquidity === 'string' ? (e.liquidity as Liquidity) : undefined,
            execTs: Number.isSafeInteger(e.execTs) ? (e.execTs as number) : undefined,
            recvTs: Number.isSafeInteger(e.recvTs) ? (e.recvTs as number) : undefined,
            ts,
          };
        },
        () => {
          if (fillQty === undefined || !fillQty.isPositive()) return `fill qty ${describe(e.fillQty)} is not a positive decimal`;
          if (price === undefined) return `fill price ${describe(e.price)} is not a decimal`;
          if (fee === undefined) return `fee ${describe(e.fee)} is not a decimal`;
          if (e.side !== order.side) return `fill side ${describe(e.side)} differs from the order side ${order.side}`;
          if (cum.add(fillQty.d).gt(dec(order.qty))) return `fill qty ${fillQty} exceeds the qty left ${str(dec(order.qty).sub(cum))}`;
          return undefined;
        },
      );
    }
    case 'onOrderCancelled':
      return step(order, e.exchange, OrderAction.Cancelled, ts, () => {});
    default:
      return { ok: false, reason: `${cb} is not an order event` };
  }
}

/**
 * Why an order event, by design, must not touch the order it names; undefined when it
 * should be applied. Mirrors the kernel: a `DuplicateClientId` reject answers another
 * request that reused the id, so applying it would "reject" the original order; a cancel
 * reject without a client id answers a cancel-all.
 */
export function orderEventSkipReason(cb: EventCallbackName, ev: unknown): string | undefined {
  const e = (ev ?? {}) as { rejectCode?: unknown; clientId?: unknown };
  if (cb === 'onNewOrderReject' && e.rejectCode === RejectCode.DuplicateClientId) return 'DuplicateClientId reject: answers a request that reused the client id, not the stored order';
  if (cb === 'onCancelOrderReject' && e.clientId === undefined) return 'cancel-all reject: names no order';
  return undefined;
}

/** Applies a modify or cancel request sent to the venue (`ModifyRequest` / `CancelRequest`). Pure. */
export function applyOrderRequest(order: StoredOrder, req: VenueModifyOrder | VenueCancelOrder, ts: number): OrderUpdate {
  if (req.type === 'ModifyOrder') {
    const price = decimalString(req.newPrice, 'newPrice');
    const qty = decimalString(req.newQty, 'newQty');
    return step(order, undefined, OrderAction.ModifyRequest, ts, (m) => {
      m.pendingModify = { price, qty };
    });
  }
  return step(order, undefined, OrderAction.CancelRequest, ts, () => {});
}

/** A flat position with no fills, to start {@link applyFillToPosition} from. */
export function emptyPosition(strategy: string, exchange: string, instrumentId: number, ts: number): StoredPosition {
  return { strategy, exchange, instrumentId, position: '0', avgEntryPrice: '0', realizedPnl: '0', fees: '0', volume: '0', notional: '0', fills: 0, updatedTs: ts };
}

/**
 * The position after one fill, by the average-cost method of `OrderTracker`
 * (`docs/orders.md`): adding moves the average entry, reducing realises PnL at it, a
 * close to flat resets it to zero, a flip opens the rest at the fill price. Exact; pure.
 */
export function applyFillToPosition(p: StoredPosition, fill: Pick<StoredFill, 'side' | 'price' | 'qty' | 'fee' | 'ts'>): StoredPosition {
  const pos = dec(p.position);
  const price = dec(fill.price);
  const qty = dec(fill.qty);
  let avg = dec(p.avgEntryPrice);
  let realized = dec(p.realizedPnl);
  const signed = fill.side === Side.Buy ? qty : qty.neg();
  if (pos.isZero() || pos.isPositive() === signed.isPositive()) {
    // Opening or adding: the entry is the qty-weighted average of the opening fills.
    const held = pos.abs();
    avg = avg.mul(held).add(price.mul(qty)).div(held.add(qty));
  } else {
    const closed = Decimal.min(pos.abs(), qty);
    const perUnit = pos.isPositive() ? price.sub(avg) : avg.sub(price);
    realized = realized.add(perUnit.mul(closed));
    const after = pos.add(signed);
    if (after.isZero()) avg = new Decimal(0);
    // A flip opens the remainder at the fill price; a partial close keeps the entry.
    else if (after.isPositive() !== pos.isPositive()) avg = price;
  }
  return {
    ...p,
    position: str(pos.add(signed)),
    avgEntryPrice: avg.isZero() ? '0' : str(avg),
    realizedPnl: str(realized),
    fees: str(dec(p.fees).add(dec(fill.fee))),
    volume: str(dec(p.volume).add(qty)),
    notional: str(dec(p.notional).add(price.mul(qty))),
    fills: p.fills + 1,
    updatedTs: fill.ts,
  };
}

/** Positions recomputed from fills in event order (what the stored positions must equal); by exchange then instrument. */
export function positionsFromFills(strategy: string, fills: readonly StoredFill[]): StoredPosition[] {
  const byKey = new Map<string, StoredPosition>();
  for (const f of [...fills].sort((a, b) => a.eventSeq - b.eventSeq)) {
    const k = `${f.exchange}\u0000${f.instrumentId}`;
    byKey.set(k, applyFillToPosition(byKey.get(k) ?? emptyPosition(strategy, f.exchange, f.instrumentId, f.ts), f));
  }
  return [...byKey.values()].sort((a, b) => (a.exchange < b.exchange ? -1 : a.exchange > b.exchange ? 1 : a.instrumentId - b.instrumentId));
}

/** Statuses that are not terminal, for "open order" queries. */
export const OPEN_STATUSES: readonly OrderStatus[] = Object.values(OrderStatus).filter((s) => !isTerminal(s));

