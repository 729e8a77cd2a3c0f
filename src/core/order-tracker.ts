/**
 * The strategy side's book of its own orders and positions.
 *
 * Order status moves only along {@link TRANSITIONS}; an event that does not fit (a late
 * ack, a fill on a cancelled order, a duplicate reject) is refused with an error object
 * and leaves the order as it was. Nothing here throws on venue input: a venue or gateway
 * bug must not take the strategy down, and the kernel decides what to log.
 *
 * Positions are kept per (exchange, instrumentId) from the strategy's own fills with the
 * average-cost method. Quantities are exact (decimal.js); PnL aggregates are JS numbers.
 * @module
 */
import { Decimal, Price, Qty, parsePrice, parseQty } from '../api/decimal.js';
import { OrderStatus, Side } from '../api/enums.js';
import type { ExecInstr, OrderType, TimeInForce } from '../api/enums.js';
import type {
  CancelOrderAck,
  CancelOrderReject,
  ModifyOrderAck,
  ModifyOrderReject,
  NewOrderAck,
  NewOrderReject,
  OrderCancelled,
  OrderExecution,
} from '../api/events.js';
import type { OrderView, PositionView } from '../api/strategy.js';
import type { VenueNewOrder } from './venue.js';

/** What happens to an order: a request the strategy sent or an answer the venue gave. Values equal names. */
export enum OrderAction {
  /** The new order left the kernel (the record is created in `PendingNew`). */
  Submit = 'Submit',
  /** The venue accepted the new order (`onNewOrderAck`). */
  Ack = 'Ack',
  /** The venue refused the new order (`onNewOrderReject`). */
  Reject = 'Reject',
  /** The strategy sent a modify. */
  ModifyRequest = 'ModifyRequest',
  /** The venue applied the modify (`onModifyOrderAck`). */
  ModifyAck = 'ModifyAck',
  /** The venue refused the modify (`onModifyOrderReject`); price and qty stay. */
  ModifyReject = 'ModifyReject',
  /** The strategy sent a cancel. */
  CancelRequest = 'CancelRequest',
  /** The venue accepted the cancel (`onCancelOrderAck`); `Cancelled` follows. */
  CancelAck = 'CancelAck',
  /** The venue refused the cancel (`onCancelOrderReject`). */
  CancelReject = 'CancelReject',
  /** A fill that leaves qty working (`onOrderExecution`). */
  Fill = 'Fill',
  /** A fill that completes the order (`onOrderExecution` with nothing left). */
  FillFull = 'FillFull',
  /** The order left the book: unsolicited, an IOC/FOK remainder, or after a cancel ack (`onOrderCancelled`). */
  Cancelled = 'Cancelled',
}

/**
 * Target of a transition that depends on the order: `Open` when nothing has filled, else
 * `PartiallyFilled`; but `PendingNew` while the new order is not yet acknowledged and
 * `PendingModify` while a modify is still in flight, so that answers arriving out of order
 * (a cancel reject before the modify's answer) put the order back where it really is.
 */
export type Resting = 'Resting';

/**
 * The order state machine: `TRANSITIONS[status][action]` is the next status, `'Resting'`
 * (see {@link Resting}), or absent when the move is illegal and refused.
 *
 * | from \ action   | Ack             | Reject      | ModifyRequest    | ModifyAck          | ModifyReject       | CancelRequest | CancelAck     | CancelReject | Fill            | FillFull | Cancelled |
 * |-----------------|-----------------|-------------|------------------|--------------------|--------------------|---------------|---------------|--------------|-----------------|----------|-----------|
 * | PendingNew      | Resting         | Rejected    |                  |                    |                    | PendingCancel |               |              | PartiallyFilled | Filled   | Cancelled |
 * | Open            |                 |             | PendingModify    |                    |                    | PendingCancel |               |              | PartiallyFilled | Filled   | Cancelled |
 * | PartiallyFilled | Resting (g1)    |             | PendingModify (g2) |                  |                    | PendingCancel |               |              | PartiallyFilled | Filled   | Cancelled |
 * | PendingModify   |                 |             |                  | Resting            | Resting            | PendingCancel |               |              | PendingModify   | Filled   | Cancelled |
 * | PendingCancel   | PendingCancel (g1) | Rejected (g1) |            | PendingCancel (g3) | PendingCancel (g3) |               | PendingCancel | Resting      | PendingCancel   | Filled   | Cancelled |
 * | Filled          |                 |             |                  |                    |                    |               |               |              |                 |          |           |
 * | Cancelled       |                 |             |                  |                    |                    |               |               |              |                 |          |           |
 * | Rejected        |                 |             |                  |                    |                    |               |               |              |                 |          |           |
 *
 * An empty cell is illegal; the last three rows are terminal.
 * `Submit` only creates a record (in `PendingNew`); it is never applied to an existing one.
 *
 * Guards on top of the table (refused as `ILLEGAL_TRANSITION` when they fail):
 * 1. (g1) `Ack` and `Reject` only while the new order is not yet acknowledged. A live venue may
 *    send a fill before the ack, or the strategy may cancel before it, so a first ack is
 *    legal in `PartiallyFilled` and `PendingCancel`; a second one never is.
 * 2. (g2) `ModifyRequest` only after the ack: the venue cannot amend what it has not accepted.
 * 3. (g3) `ModifyAck` / `ModifyReject` only while a modify is in flight; in `PendingCancel` they
 *    answer a modify sent before the cancel and keep the order pending cancel.
 *
 * Design choices: a cancel ack is not final (the order may still fill until
 * `onOrderCancelled` arrives, so `CancelAck` stays in `PendingCancel`); a modify or cancel
 * request while a cancel is pending is illegal; terminal states accept nothing, so a modify
 * or cancel reject that arrives after a fill completed the order does not resurrect it.
 */
export const TRANSITIONS: Readonly<Record<OrderStatus, Readonly<Partial<Record<OrderAction, OrderStatus | Resting>>>>> = {
  [OrderStatus.PendingNew]: {
    [OrderAction.Ack]: 'Resting',
    [OrderAction.Reject]: OrderStatus.Rejected,
    [OrderAction.CancelRequest]: OrderStatus.PendingCancel,
    [OrderAction.Fill]: OrderStatus.PartiallyFilled,
    [OrderAction.FillFull]: OrderStatus.Filled,
    [OrderAction.Cancelled]: OrderStatus.Cancelled,
  },
  [OrderStatus.Open]: {
    [OrderAction.ModifyRequest]: OrderStatus.PendingModify,
    [OrderAction.CancelRequest]: OrderStatus.PendingCancel,
    [OrderAction.Fill]: OrderStatus.PartiallyFilled,
    [OrderAction.FillFull]: OrderStatus.Filled,
    [OrderAction.Cancelled]: OrderStatus.Cancelled,
  },
  [OrderStatus.PartiallyFilled]: {
    [OrderAction.Ack]: 'Resting',
    [OrderAction.ModifyRequest]: OrderStatus.PendingModify,
    [OrderAction.CancelRequest]: OrderStatus.PendingCancel,
    [OrderAction.Fill]: OrderStatus.PartiallyFilled,
    [OrderAction.FillFull]: OrderStatus.Filled,
    [OrderAction.Cancelled]: OrderStatus.Cancelled,
  },
  [OrderStatus.PendingModify]: {
    [OrderAction.ModifyAck]: 'Resting',
    [OrderAction.ModifyReject]: 'Resting',
    [OrderAction.CancelRequest]: OrderStatus.PendingCancel,
    [OrderAction.Fill]: OrderStatus.PendingModify,
    [OrderAction.FillFull]: OrderStatus.Filled,
    [OrderAction.Cancelled]: OrderStatus.Cancelled,
  },
  [OrderStatus.PendingCancel]: {
    [OrderAction.Ack]: OrderStatus.PendingCancel,
    [OrderAction.Reject]: OrderStatus.Rejected,
    [OrderAction.ModifyAck]: OrderStatus.PendingCancel,
    [OrderAction.ModifyReject]: OrderStatus.PendingCancel,
    [OrderAction.CancelAck]: OrderStatus.PendingCancel,
    [OrderAction.CancelReject]: 'Resting',
    [OrderAction.Fill]: OrderStatus.PendingCancel,
    [OrderAction.FillFull]: OrderStatus.Filled,
    [OrderAction.Cancelled]: OrderStatus.Cancelled,
  },
  [OrderStatus.Filled]: {},
  [OrderStatus.Cancelled]: {},
  [OrderStatus.Rejected]: {},
};

/** Statuses from which no action is legal. */
export const TERMINAL_STATUSES: ReadonlySet<OrderStatus> = new Set([OrderStatus.Filled, OrderStatus.Cancelled, OrderStatus.Rejected]);

/** True for `Filled`, `Cancelled` and `Rejected`. */
export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** The facts about an order that the guards and `'Resting'` depend on. */
export interface TransitionFacts {
  /** The venue acknowledged the new order. */
  readonly acked: boolean;
  /** A modify was sent and not yet answered. */
  readonly modifyInFlight: boolean;
  /** Something has filled. */
  readonly partlyFilled: boolean;
}

/**
 * The status after `action` in `status`, per {@link TRANSITIONS} and its guards, with
 * `'Resting'` resolved from `facts` as they are *after* the action; `undefined` when illegal.
 * Pure; the tracker uses it and so can docs and tests.
 * @param status the order's current status.
 * @param action what happened.
 * @param before the facts before the action (the guards read these).
 * @param after the facts after it (`'Resting'` reads these); defaults to `before`.
 */
export function nextStatus(status: OrderStatus, action: OrderAction, before: TransitionFacts, after: TransitionFacts = before): OrderStatus | undefined {
  const to = TRANSITIONS[status]?.[action];
  if (to === undefined) return undefined;
  if ((action === OrderAction.Ack || action === OrderAction.Reject) && before.acked) return undefined;
  if (action === OrderAction.ModifyRequest && !before.acked) return undefined;
  if ((action === OrderAction.ModifyAck || action === OrderAction.ModifyReject) && !before.modifyInFlight) return undefined;
  if (to !== 'Resting') return to;
  if (!after.acked) return OrderStatus.PendingNew;
  if (after.modifyInFlight) return OrderStatus.PendingModify;
  return after.partlyFilled ? OrderStatus.PartiallyFilled : OrderStatus.Open;
}

/** Stable codes of a refused tracker update. */
export type TrackerErrorCode =
  /** The action is not legal in the order's current status (see {@link TRANSITIONS}). */
  | 'ILLEGAL_TRANSITION'
  /** No order with this client id, or the event names another exchange than the order's. */
  | 'UNKNOWN_ORDER'
  /** `submit` with a client id that is already tracked. */
  | 'DUPLICATE_ORDER'
  /** The event is malformed or impossible: non-positive or missing fill qty or price, a fill beyond the order qty, a fill on the wrong side, a modify ack that leaves nothing above the filled qty. */
  | 'INVALID_EVENT';

/** A refused update; the order (and position) are unchanged. */
export interface TrackerError {
  /** Always false: discriminates from `TrackerOk`. */
  readonly ok: false;
  /** Stable code to branch on. */
  readonly code: TrackerErrorCode;
  /** Readable, names the order, its status and the action. */
  readonly message: string;
  /** The client id the event named (shown as text when it was not a string). */
  readonly clientId: string;
  /** Status of the order when the update was refused; undefined for an unknown order. */
  readonly status: OrderStatus | undefined;
  /** The action that was refused. */
  readonly action: OrderAction;
  /** True when the order was already closed: typically a late answer that raced a fill or a cancel, not a bug. */
  readonly closed: boolean;
}

/** An applied update. */
export interface TrackerOk {
  /** Always true: discriminates from `TrackerError`. */
  readonly ok: true;
  /** The order after the update (the live record: later updates show through). */
  readonly order: TrackedOrder;
  /** Status before the update (`PendingNew` for `submit`). */
  readonly previous: OrderStatus;
}

/** Outcome of every tracker update. */
export type TrackerResult = TrackerOk | TrackerError;

/** A modify sent and not yet answered: the values asked for. */
export interface PendingModify {
  readonly price: Price;
  readonly qty: Qty;
}

/** An order as the tracker keeps it: the strategy's `OrderView` plus what the kernel needs. */
export interface TrackedOrder extends OrderView {
  /** Login name of the strategy that sent it. */
  readonly strategy: string;
  /** The venue acknowledged the new order. */
  readonly acked: boolean;
  /** The modify in flight, if any. */
  readonly pendingModify: PendingModify | undefined;
  /** Number of fills so far. */
  readonly fills: number;
}

class OrderRecord implements TrackedOrder {
  exchangeId: string | undefined = undefined;
  status: OrderStatus = OrderStatus.PendingNew;
  acked = false;
  pendingModify: PendingModify | undefined = undefined;
  fills = 0;
  filledQty: Qty = Qty.ZERO;
  /** Σ price × qty of the fills, for an exact average. */
  fillNotional: Decimal = new Decimal(0);
  price: Price;
  qty: Qty;
  readonly strategy: string;
  readonly clientId: string;
  readonly exchange: string;
  readonly instrumentId: number;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly tif: TimeInForce;
  readonly execInstr: readonly ExecInstr[];
  readonly createdTs: number;

  constructor(req: VenueNewOrder, createdTs: number, exchange: string) {
    this.strategy = req.strategy;
    this.clientId = req.clientId;
    this.exchange = exchange;
    this.instrumentId = req.instrumentId;
    this.side = req.side;
    this.orderType = req.orderType;
    this.tif = req.tif;
    this.execInstr = Object.freeze([...req.execInstr]);
    this.price = req.price;
    this.qty = req.qty;
    this.createdTs = createdTs;
  }

  /** Zero once closed, as FIX has it: nothing is working any more. */
  get leavesQty(): Qty {
    return isTerminal(this.status) ? Qty.ZERO : this.qty.sub(this.filledQty);
  }

  get avgFillPrice(): Price {
    return this.filledQty.isZero() ? Price.ZERO : Price.of(this.fillNotional.div(this.filledQty.d));
  }

  facts(): TransitionFacts {
    return { acked: this.acked, modifyInFlight: this.pendingModify !== undefined, partlyFilled: !this.filledQty.isZero() };
  }
}

/** Position and PnL of one instrument; the tracker updates it on every fill. */
class PositionRecord implements PositionView {
  position: Qty = Qty.ZERO;
  /** Average entry of the open position, exact; zero when flat. */
  avgEntry: Decimal = new Decimal(0);
  realizedPnl = 0;
  fees = 0;
  volume = 0;
  notional = 0;
  fills = 0;
  /** Last mark from the kernel; undefined until the first. */
  markPrice: number | undefined = undefined;

  constructor(
    readonly exchange: string,
    readonly instrumentId: number,
    readonly multiplier: number,
  ) {}

  get avgEntryPrice(): Price {
    return this.avgEntry.isZero() ? Price.ZERO : Price.of(this.avgEntry);
  }

  get unrealizedPnl(): number {
    if (this.markPrice === undefined || this.position.isZero()) return 0;
    return (this.markPrice - this.avgEntry.toNumber()) * this.position.toNumber() * this.multiplier;
  }

  applyFill(side: Side, price: Decimal, qty: Decimal, fee: number): void {
    const pos = this.position.d;
    const signed = side === Side.Buy ? qty : qty.neg();
    if (pos.isZero() || pos.isPositive() === signed.isPositive()) {
      // Opening or adding: the entry is the qty-weighted average of the opening fills.
      const held = pos.abs();
      this.avgEntry = this.avgEntry.mul(held).add(price.mul(qty)).div(held.add(qty));
    } else {
      const closed = Decimal.min(pos.abs(), qty);
      const perUnit = pos.isPositive() ? price.sub(this.avgEntry) : this.avgEntry.sub(price);
      this.realizedPnl += perUnit.mul(closed).toNumber() * this.multiplier;
      const after = pos.add(signed);
      if (after.isZero()) this.avgEntry = new Decimal(0);
      // A flip opens the remainder at the fill price; a partial close keeps the entry.
      else if (after.isPositive() !== pos.isPositive()) this.avgEntry = price;
    }
    this.position = Qty.of(pos.add(signed));
    this.fees += fee;
    this.volume += qty.toNumber();
    this.notional += price.mul(qty).toNumber() * this.multiplier;
    this.fills += 1;
  }
}

/** One open order as an authoritative source reports it (a gateway's `sync_result`), for {@link OrderTracker.restore}. */
export interface RestoredOrder {
  exchange: string;
  instrumentId: number;
  clientId: string;
  /** Venue order id, when known. */
  exchangeId?: string;
  side: Side;
  orderType: OrderType;
  tif: TimeInForce;
  execInstr: readonly ExecInstr[];
  /** Limit price. */
  price: Price;
  /** Qty still working. */
  leavesQty: Qty;
  /** Current status; terminal ones are ignored. */
  status: OrderStatus;
}

/** One non-zero position as an authoritative source reports it, for {@link OrderTracker.restore}. */
export interface RestoredPosition {
  exchange: string;
  instrumentId: number;
  /** Net position, positive long. */
  position: Qty;
  /** Average entry of the position when the source knows it (a `sync_result` does not carry it). */
  avgEntryPrice?: Price;
}

/** Input of {@link OrderTracker.restore}. */
export interface RestoreSnapshot {
  /** Every open order. */
  orders: readonly RestoredOrder[];
  /** Every non-zero position (unlisted instruments are flat). */
  positions: readonly RestoredPosition[];
}

/** What {@link OrderTracker.restore} changed. */
export interface RestoreResult {
  /** Client ids of orders the tracker did not know. */
  added: string[];
  /** Client ids of known orders whose status, price, leaves or exchange id changed. */
  updated: string[];
  /** Client ids of open orders the snapshot does not list, now `Cancelled` (outcome unknown). */
  closed: string[];
  /** Positions that changed. */
  positions: Array<{ exchange: string; instrumentId: number; from: Qty; to: Qty }>;
}

/** Options of an `OrderTracker`. */
export interface OrderTrackerOptions {
  /** Contract multiplier of an instrument (`Instrument.multiplier`); default 1 for every instrument. Asked once per position. */
  multiplier?: (exchange: string, instrumentId: number) => number;
}

const EMPTY_FLAT = (exchange: string, instrumentId: number): PositionView =>
  Object.freeze({
    exchange,
    instrumentId,
    position: Qty.ZERO,
    avgEntryPrice: Price.ZERO,
    realizedPnl: 0,
    unrealizedPnl: 0,
    fees: 0,
    volume: 0,
    notional: 0,
    fills: 0,
  });

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object' && typeof (v as { toString?: unknown }).toString === 'function') {
    const s = String(v);
    if (s !== '[object Object]') return s;
  }
  return typeof v;
}

/**
 * One strategy's orders and positions. Every update is O(1) (a Map lookup by client id)
 * except `openOrders`, which walks the open orders only.
 *
 * Feed it in event order: `submit` when a validated order leaves the kernel, the
 * `on…Request` methods when a validated modify or cancel leaves, and the venue's answers
 * through the matching `on…` method. Environment-side rejects (codes 1000–1099) are for
 * requests that never left, so they must not be passed to `onReject`.
 */
export class OrderTracker {
  private readonly orders_ = new Map<string, OrderRecord>();
  /** Non-terminal orders only, so that `openOrders` does not walk the whole history. */
  private readonly open_ = new Map<string, OrderRecord>();
  private readonly positions_ = new Map<string, Map<number, PositionRecord>>();
  private readonly multiplier: (exchange: string, instrumentId: number) => number;
  private fillCount_ = 0;
  /** Positions that are not flat, kept on every fill so that `hasOpenPosition` is O(1). */
  private nonFlat_ = 0;

  /** @param opts see {@link OrderTrackerOptions}. */
  constructor(opts: OrderTrackerOptions = {}) {
    this.multiplier = opts.multiplier ?? (() => 1);
  }

  /** Number of orders submitted (open and closed). */
  get orderCount(): number {
    return this.orders_.size;
  }

  /** Number of fills applied, over all orders. */
  get fillCount(): number {
    return this.fillCount_;
  }

  /** True when any instrument has a non-zero position. */
  get hasOpenPosition(): boolean {
    return this.nonFlat_ > 0;
  }

  /** An order by client id, open or closed. */
  get(clientId: string): TrackedOrder | undefined {
    return this.orders_.get(clientId);
  }

  /** True when an order with this client id was submitted (whatever its status). */
  has(clientId: string): boolean {
    return this.orders_.has(clientId);
  }

  /** True when the order is filled, cancelled or rejected; false for an open or unknown one. */
  isClosed(clientId: string): boolean {
    const o = this.orders_.get(clientId);
    return o !== undefined && isTerminal(o.status);
  }

  /** Every order in submission order. */
  orders(): TrackedOrder[] {
    return [...this.orders_.values()];
  }

  /** Orders not yet closed (pending ones included), in submission order, optionally of one exchange and instrument. */
  openOrders(exchange?: string, instrumentId?: number): TrackedOrder[] {
    const out: TrackedOrder[] = [];
    for (const o of this.open_.values()) {
      if (exchange !== undefined && o.exchange !== exchange) continue;
      if (instrumentId !== undefined && o.instrumentId !== instrumentId) continue;
      out.push(o);
    }
    return out;
  }

  /** Position of one instrument; a flat, empty view when nothing has traded or been marked. */
  position(exchange: string, instrumentId: number): PositionView {
    return this.positions_.get(exchange)?.get(instrumentId) ?? EMPTY_FLAT(exchange, instrumentId);
  }

  /** Every instrument that has had a fill or a mark. */
  positions(): PositionView[] {
    const out: PositionView[] = [];
    for (const byId of this.positions_.values()) for (const p of byId.values()) out.push(p);
    return out;
  }

  /** Sets the price unrealised PnL is marked at (quote currency per unit; the kernel passes the mid or last trade). Non-finite marks are ignored. */
  mark(exchange: string, instrumentId: number, markPrice: number): void {
    if (!Number.isFinite(markPrice)) return;
    this.positionRecord(exchange, instrumentId).markPrice = markPrice;
  }

  /**
   * Starts tracking a validated new order in `PendingNew`.
   * @param req the validated request as it leaves the kernel.
   * @param createdTs `env.now()` when it was sent, µs since the epoch.
   * @param exchange venue id (a `VenueNewOrder` does not carry it).
   */
  submit(req: VenueNewOrder, createdTs: number, exchange: string): TrackerResult {
    if (this.orders_.has(req.clientId)) {
      const o = this.orders_.get(req.clientId)!;
      return this.fail('DUPLICATE_ORDER', o, req.clientId, OrderAction.Submit, `order '${req.clientId}' is already tracked (status ${o.status})`);
    }
    const rec = new OrderRecord(req, createdTs, exchange);
    this.orders_.set(rec.clientId, rec);
    this.open_.set(rec.clientId, rec);
    return { ok: true, order: rec, previous: OrderStatus.PendingNew };
  }

  /** The venue accepted the order: records `exchangeId`. */
  onAck(ev: NewOrderAck): TrackerResult {
    return this.step(ev, OrderAction.Ack, (o) => {
      o.acked = true;
      o.exchangeId = ev.exchangeId;
    });
  }

  /** The venue refused the order. */
  onReject(ev: NewOrderReject): TrackerResult {
    return this.step(ev, OrderAction.Reject, () => {});
  }

  /**
   * A validated modify left the kernel.
   * @param newPrice the price asked for (the current one when unchanged).
   * @param newQty the total qty asked for (the current one when unchanged).
   */
  onModifyRequest(clientId: string, newPrice: Price, newQty: Qty): TrackerResult {
    return this.step({ clientId }, OrderAction.ModifyRequest, (o) => {
      o.pendingModify = { price: newPrice, qty: newQty };
    });
  }

  /** The venue applied a modify: price and qty take the acknowledged values. */
  onModifyAck(ev: ModifyOrderAck): TrackerResult {
    const price = parsePrice(ev?.newPrice);
    const qty = parseQty(ev?.newQty);
    return this.step(
      ev,
      OrderAction.ModifyAck,
      (o) => {
        o.price = price!;
        o.qty = qty!;
        o.pendingModify = undefined;
      },
      (o) => {
        if (price === undefined) return `modify ack price ${describe(ev.newPrice)} is not a decimal`;
        if (qty === undefined) return `modify ack qty ${describe(ev.newQty)} is not a decimal`;
        if (qty.lte(o.filledQty)) return `modify ack qty ${qty} is not above the filled qty ${o.filledQty}`;
        return undefined;
      },
    );
  }

  /** The venue refused a modify: price and qty stay. */
  onModifyReject(ev: ModifyOrderReject): TrackerResult {
    return this.step(ev, OrderAction.ModifyReject, (o) => {
      o.pendingModify = undefined;
    });
  }

  /** A validated cancel left the kernel. */
  onCancelRequest(clientId: string): TrackerResult {
    return this.step({ clientId }, OrderAction.CancelRequest, () => {});
  }

  /** The venue accepted a cancel; the order stays `PendingCancel` until `onCancelled`. */
  onCancelAck(ev: CancelOrderAck): TrackerResult {
    return this.step(ev, OrderAction.CancelAck, () => {});
  }

  /** The venue refused a cancel (not a cancel-all: its reject has no client id). */
  onCancelReject(ev: CancelOrderReject): TrackerResult {
    return this.step(ev, OrderAction.CancelReject, () => {});
  }

  /**
   * A fill: updates filled qty, average fill price and the instrument's position.
   * It completes the order (`FillFull`) when the filled qty reaches the order qty or the
   * venue reports nothing left (`leavesQty` zero).
   */
  onExecution(ev: OrderExecution): TrackerResult {
    const rec = this.orders_.get(ev?.clientId);
    const price = parsePrice(ev?.price);
    const fillQty = parseQty(ev?.fillQty);
    const venueLeaves = parseQty(ev?.leavesQty);
    // A missing fee is read as zero: fees are an extension some venues do not report.
    const fee = ev?.fee === undefined ? Price.ZERO : parsePrice(ev.fee);
    const full = rec !== undefined && fillQty !== undefined && (rec.filledQty.add(fillQty).gte(rec.qty) || venueLeaves?.isZero() === true);
    return this.step(
      ev,
      full ? OrderAction.FillFull : OrderAction.Fill,
      (o) => {
        o.filledQty = o.filledQty.add(fillQty!);
        o.fillNotional = o.fillNotional.add(price!.d.mul(fillQty!.d));
        o.fills += 1;
        this.fillCount_ += 1;
        const pos = this.positionRecord(o.exchange, o.instrumentId);
        const wasFlat = pos.position.isZero();
        pos.applyFill(o.side, price!.d, fillQty!.d, fee!.toNumber());
        this.nonFlat_ += Number(wasFlat) - Number(pos.position.isZero());
      },
      (o) => {
        if (fillQty === undefined || !fillQty.isPositive()) return `fill qty ${describe(ev.fillQty)} is not a positive decimal`;
        if (price === undefined) return `fill price ${describe(ev.price)} is not a decimal`;
        if (fee === undefined) return `fee ${describe(ev.fee)} is not a decimal`;
        if (ev.side !== o.side) return `fill side ${describe(ev.side)} differs from the order side ${o.side}`;
        if (o.filledQty.add(fillQty).gt(o.qty)) return `fill qty ${fillQty} exceeds the qty left ${o.qty.sub(o.filledQty)}`;
        return undefined;
      },
    );
  }

  /** The order left the book (after a cancel ack, or unsolicited: IOC/FOK remainder, halt, session end). */
  onCancelled(ev: OrderCancelled): TrackerResult {
    return this.step(ev, OrderAction.Cancelled, () => {});
  }

  /**
   * Reconciliation: makes the open orders and positions equal to an authoritative snapshot
   * (a gateway's `sync_result` after a restart or a lost resume). It is not an event of the
   * state machine: it states what *is*, so it may create, change or close orders directly.
   *
   * - An order in the snapshot that the tracker does not know is added, acknowledged
   *   (unless its status is `PendingNew`) with the snapshot's status and price; its qty is
   *   the snapshot's `leavesQty` and nothing is counted as filled (fills made before the
   *   restart are in the position, not on the order).
   * - A known order takes the snapshot's status, price and exchange id; its qty becomes
   *   filled + `leavesQty`. A closed order the snapshot lists as open is reopened: the
   *   snapshot wins.
   * - An open order that the snapshot does not list has closed while the tracker was not
   *   told how: it is marked `Cancelled` (outcome unknown) and reported in `closed`.
   * - Orders whose client id is in `skip` are left exactly as they are, listed or not (the
   *   caller is about to resend their request).
   * - Every position takes the snapshot's value; instruments it does not list are flat.
   *   A position that changes takes the snapshot's `avgEntryPrice` when given; else it keeps
   *   its average entry when it stays on the same side (exact when it shrank, an estimate
   *   when it grew), and a new or flipped position is entered at the last mark (zero when
   *   never marked). Realised PnL, fees and volume of fills the tracker never saw are lost.
   *
   * Orders and positions of other snapshots' strategies are the caller's concern: the
   * tracker holds one strategy. Nothing here throws on odd input; terminal statuses in the
   * snapshot are ignored (a sync lists open orders only).
   * @param snapshot the authoritative open orders and non-zero positions.
   * @param ts time of the reconciliation, µs since the epoch (creation time of added orders).
   * @param opts `skip`: client ids to leave untouched; `strategy`: login name put on added orders (default `''`).
   * @returns what changed, for logging and for telling the strategy.
   */
  restore(snapshot: RestoreSnapshot, ts: number, opts: { skip?: ReadonlySet<string>; strategy?: string } = {}): RestoreResult {
    const skip = opts.skip ?? new Set<string>();
    const result: RestoreResult = { added: [], updated: [], closed: [], positions: [] };
    const listed = new Set<string>();
    for (const s of snapshot.orders) {
      if (isTerminal(s.status)) continue;
      listed.add(s.clientId);
      if (skip.has(s.clientId)) continue;
      let rec = this.orders_.get(s.clientId);
      if (rec === undefined) {
        const req: VenueNewOrder = {
          type: 'NewOrder',
          strategy: opts.strategy ?? '',
          clientId: s.clientId,
          instrumentId: s.instrumentId,
          side: s.side,
          orderType: s.orderType,
          tif: s.tif,
          execInstr: [...s.execInstr],
          price: s.price,
          priceTick: Number.NaN,
          qty: s.leavesQty,
          qtyLots: Number.NaN,
        };
        rec = new OrderRecord(req, ts, s.exchange);
        this.orders_.set(rec.clientId, rec);
        result.added.push(s.clientId);
      } else {
        const changed =
          rec.status !== s.status || !rec.price.eq(s.price) || !rec.leavesQty.eq(s.leavesQty) || (s.exchangeId !== undefined && rec.exchangeId !== s.exchangeId);
        if (changed) result.updated.push(s.clientId);
        rec.qty = rec.filledQty.add(s.leavesQty);
        rec.price = s.price;
      }
      rec.status = s.status;
      rec.acked = s.status !== OrderStatus.PendingNew;
      if (s.exchangeId !== undefined) rec.exchangeId = s.exchangeId;
      // The values of a modify in flight are not in a snapshot; its ack will carry them.
      rec.pendingModify = s.status === OrderStatus.PendingModify ? (rec.pendingModify ?? { price: rec.price, qty: rec.qty }) : undefined;
      this.open_.set(rec.clientId, rec);
    }
    for (const [id, rec] of [...this.open_]) {
      if (listed.has(id) || skip.has(id)) continue;
      rec.status = OrderStatus.Cancelled;
      rec.pendingModify = undefined;
      this.open_.delete(id);
      result.closed.push(id);
    }
    const target = new Map<string, RestoredPosition>();
    for (const p of snapshot.positions) target.set(`${p.exchange}|${p.instrumentId}`, p);
    for (const p of this.positions()) {
      if (!target.has(`${p.exchange}|${p.instrumentId}`) && !p.position.isZero()) target.set(`${p.exchange}|${p.instrumentId}`, { exchange: p.exchange, instrumentId: p.instrumentId, position: Qty.ZERO });
    }
    for (const t of target.values()) {
      const rec = this.positionRecord(t.exchange, t.instrumentId);
      const from = rec.position;
      if (from.eq(t.position)) continue;
      const to = t.position;
      const sameSide = !from.isZero() && !to.isZero() && from.isPositive() === to.isPositive();
      if (to.isZero()) rec.avgEntry = new Decimal(0);
      else if (t.avgEntryPrice !== undefined) rec.avgEntry = t.avgEntryPrice.d;
      // Unknown entry: the old one still holds for what remains of the same side (exact
      // when it shrank); a new or flipped position is entered at the last mark, if any.
      else if (!sameSide) rec.avgEntry = rec.markPrice !== undefined ? new Decimal(rec.markPrice) : new Decimal(0);
      rec.position = to;
      this.nonFlat_ += Number(from.isZero()) - Number(to.isZero());
      result.positions.push({ exchange: t.exchange, instrumentId: t.instrumentId, from, to });
    }
    return result;
  }

  private positionRecord(exchange: string, instrumentId: number): PositionRecord {
    let byId = this.positions_.get(exchange);
    if (byId === undefined) this.positions_.set(exchange, (byId = new Map()));
    let p = byId.get(instrumentId);
    if (p === undefined) byId.set(instrumentId, (p = new PositionRecord(exchange, instrumentId, this.multiplier(exchange, instrumentId))));
    return p;
  }

  /**
   * Applies one action: finds the order, checks the transition and the event, then
   * mutates. Everything that can refuse runs before the first write, so a refusal
   * leaves the record exactly as it was.
   */
  private step(
    ev: { clientId?: unknown; exchange?: unknown } | undefined | null,
    action: OrderAction,
    apply: (o: OrderRecord) => void,
    check?: (o: OrderRecord) => string | undefined,
  ): TrackerResult {
    const clientId = ev?.clientId;
    const rec = typeof clientId === 'string' ? this.orders_.get(clientId) : undefined;
    const id = typeof clientId === 'string' ? clientId : describe(clientId);
    if (rec === undefined) return this.fail('UNKNOWN_ORDER', undefined, id, action, `${action} for unknown order ${describe(clientId)}`);
    if (ev?.exchange !== undefined && ev.exchange !== rec.exchange) {
      return this.fail('UNKNOWN_ORDER', rec, id, action, `${action} from exchange ${describe(ev.exchange)} for order '${id}' of ${rec.exchange}`);
    }
    const before = rec.facts();
    const after = afterFacts(before, action);
    const to = nextStatus(rec.status, action, before, after);
    if (to === undefined) return this.fail('ILLEGAL_TRANSITION', rec, id, action, `order '${id}' in ${rec.status}: ${action} is not allowed${guardNote(rec.status, action, before)}`);
    const problem = check?.(rec);
    if (problem !== undefined) return this.fail('INVALID_EVENT', rec, id, action, `order '${id}' in ${rec.status}: ${action} refused: ${problem}`);
    const previous = rec.status;
    apply(rec);
    rec.status = to;
    if (isTerminal(to)) {
      rec.pendingModify = undefined;
      this.open_.delete(id);
    }
    return { ok: true, order: rec, previous };
  }

  private fail(code: TrackerErrorCode, rec: OrderRecord | undefined, clientId: string, action: OrderAction, message: string): TrackerError {
    return { ok: false, code, message, clientId, status: rec?.status, action, closed: rec !== undefined && isTerminal(rec.status) };
  }
}

/** The facts as an action leaves them, for resolving `'Resting'` (shared with the order store). */
export function afterFacts(f: TransitionFacts, action: OrderAction): TransitionFacts {
  switch (action) {
    case OrderAction.Ack:
      return { ...f, acked: true };
    case OrderAction.ModifyAck:
    case OrderAction.ModifyReject:
      return { ...f, modifyInFlight: false };
    case OrderAction.ModifyRequest:
      return { ...f, modifyInFlight: true };
    case OrderAction.Fill:
    case OrderAction.FillFull:
      return { ...f, partlyFilled: true };
    default:
      return f;
  }
}

function guardNote(status: OrderStatus, action: OrderAction, f: TransitionFacts): string {
  if (TRANSITIONS[status][action] === undefined) return isTerminal(status) ? ' (order is closed)' : '';
  if (action === OrderAction.Ack || action === OrderAction.Reject) return ' (already acknowledged)';
  if (action === OrderAction.ModifyRequest) return ' (not yet acknowledged)';
  if (!f.modifyInFlight) return ' (no modify in flight)';
  return '';
}
