/**
 * A simulated venue: matches strategy orders against a replayed market without ever
 * inserting them into it. The backtest applies each market event to its book, then calls
 * `onMarketEvent`; the venue reads the book through `depth(instrumentId)`.
 * @module
 */
import { CancelCode, REJECT_REASONS, RejectCode } from '../api/codes.js';
import { Decimal, Price, Qty } from '../api/decimal.js';
import { ExecInstr, GatewayStatus, InstrumentType, Liquidity, OrderStatus, OrderType, RequestType, Side, TimeInForce } from '../api/enums.js';
import type { EventCallbackName, OrderStatusInfo, StrategyEventMap } from '../api/events.js';
import type { Instrument } from '../api/instrument.js';
import type { Scheduler } from '../core/clock.js';
import type {
  Venue,
  VenueCancelAll,
  VenueCancelOrder,
  VenueEvent,
  VenueFetch,
  VenueModifyOrder,
  VenueNewOrder,
  VenueRequest,
  VenueSink,
} from '../core/venue.js';
import { NO_ASK, NO_BID, type DepthView } from '../book/types.js';
import { ASK, BID, MdStatus, MdType, type MdEvent } from '../data/events.js';
import { SimAccount, exactNotional } from './account.js';
import { MakerTakerFeeModel, type FeeModel } from './fees.js';
import { ConstantLatencyModel, type LatencyAction, type LatencyModel } from './latency.js';
import { ConsumedLiquidity } from './liquidity.js';
import { SideOrderIndex, type SimOrder } from './order-index.js';
import { FixedWindowRateLimiter, type RateLimitOptions } from './rate-limit.js';
import { RiskAverseQueueModel, type QueueModel } from './queue.js';

/** Options of {@link SimVenue}. */
export interface SimVenueOptions {
  /** Venue id, e.g. `'SIM'`; also the prefix of exchange order ids (`'SIM-1'`). */
  exchange: string;
  /** Instruments the venue lists. */
  instruments: readonly Instrument[];
  /** Source of simulated time; every answer is delivered through `scheduler.at`. */
  scheduler: Scheduler;
  /** The replayed book of an instrument, already updated when `onMarketEvent` is called. */
  depth: (instrumentId: number) => DepthView;
  /** Order-entry latency. Default `new ConstantLatencyModel()` (100 µs each way). */
  latency?: LatencyModel;
  /** Fees. Default `new MakerTakerFeeModel()` (maker 0.0002, taker 0.0005 of notional). */
  fees?: FeeModel;
  /**
   * Queue-position model: one instance shared by every instrument, or a factory called
   * once per instrument. Default `RiskAverseQueueModel`.
   */
  queueModel?: QueueModel | ((inst: Instrument) => QueueModel);
  /** Starting balances per coin, as decimal strings. Default: none (all coins at 0). */
  initialBalances?: Record<string, string>;
  /** Allow selling what is not held. Default `true` (equities, perpetuals). */
  allowShort?: boolean;
  /** Refuse buys that exceed the available quote balance. Default `false` (unlimited credit). */
  checkCash?: boolean;
  /**
   * Order-entry rate limit per strategy (new, modify, cancel, cancel-all; fetches are free).
   * Over the limit a request is rejected with `RateLimited` (1030); `onRateLimitInfo` is sent
   * when 50 %, 90 % and 100 % of a window is used. Default: none.
   */
  rateLimit?: RateLimitOptions;
  /** `userId` reported by `onAccountInfo`. Default: the requesting strategy's login name. */
  userId?: string;
  /**
   * Closed orders remembered for `fetchOrderStatus` and for telling a closed order (2004)
   * from an unknown one (2003); the oldest are forgotten first. Default 100 000.
   */
  closedOrderMemory?: number;
}

interface InstState {
  readonly inst: Instrument;
  readonly queue: QueueModel;
  readonly bids: SideOrderIndex;
  readonly asks: SideOrderIndex;
  /** Own takes from the bid side (by sells). */
  readonly takenBids: ConsumedLiquidity;
  /** Own takes from the ask side (by buys). */
  readonly takenAsks: ConsumedLiquidity;
  halted: boolean;
  /** The book is being rebuilt (snapshot) or is stale (feed disconnected). */
  stale: boolean;
}

interface TakeStep {
  tick: number;
  lots: number;
}

const OPEN_STATUSES: ReadonlySet<OrderStatus> = new Set([OrderStatus.Open, OrderStatus.PartiallyFilled]);
const FUNDING_INTERVAL_US = 8 * 3600 * 1_000_000;

function actionOf(req: VenueRequest): LatencyAction {
  switch (req.type) {
    case 'NewOrder':
      return 'place';
    case 'ModifyOrder':
      return 'modify';
    case 'CancelOrder':
    case 'CancelAll':
      return 'cancel';
    case 'Fetch':
      return 'fetch';
  }
}

/** True when an order on `side` at `tick` would trade with an opposite best at `oppTick`. */
function crosses(side: 1 | -1, tick: number, oppTick: number): boolean {
  return side > 0 ? tick >= oppTick : tick <= oppTick;
}

function feeDecimal(fee: number): Decimal {
  if (!Number.isFinite(fee)) throw new RangeError(`fee model returned ${fee}`);
  // 15 significant digits drop float noise (0.30000000000000004) yet keep every real digit.
  return new Decimal(fee).toSignificantDigits(15);
}

/**
 * A simulated venue good enough for market making on recorded order books
 * (hftbacktest-style): latency, fees and queue position are pluggable models.
 *
 * - Strategy orders are virtual. Taker fills walk the replayed book's opposite side and
 *   record what they consumed per level, so the strategy never takes the same lots twice.
 * - Resting orders fill as maker when trades at their price get through the queue ahead
 *   (per the queue model), when a trade prints through their price, or when the opposite
 *   best crosses them (fully, at the order's price).
 * - One account (balances, positions) is shared by every strategy of the venue.
 * - Everything the venue says is delivered through the sink at its simulated arrival time;
 *   events produced while no sink is set are dropped.
 */
export class SimVenue implements Venue {
  /** Venue id. */
  readonly exchange: string;
  /** Instruments the venue lists. */
  readonly instruments: readonly Instrument[];
  /** Balances and positions; read it for PnL reports. */
  readonly account: SimAccount;

  private sink: VenueSink | undefined;
  private readonly scheduler: Scheduler;
  private readonly depthOf: (instrumentId: number) => DepthView;
  private readonly latency: LatencyModel;
  private readonly fees: FeeModel;
  private readonly userId: string | undefined;
  private readonly closedMemory: number;
  private readonly states = new Map<number, InstState>();
  /** Open orders by `strategy \0 clientId`, in acknowledgement order. */
  private readonly open = new Map<string, SimOrder>();
  /** Closed orders, oldest first. */
  private readonly closed = new Map<string, SimOrder>();
  private haltedCount = 0;
  private nextExchangeId = 1;
  private readonly rateLimit: RateLimitOptions | undefined;
  private readonly limiters = new Map<string, FixedWindowRateLimiter>();

  /** @throws RangeError when two instruments share an id. */
  constructor(opts: SimVenueOptions) {
    this.exchange = opts.exchange;
    this.instruments = opts.instruments;
    this.scheduler = opts.scheduler;
    this.depthOf = opts.depth;
    this.latency = opts.latency ?? new ConstantLatencyModel();
    this.fees = opts.fees ?? new MakerTakerFeeModel();
    this.userId = opts.userId;
    this.closedMemory = opts.closedOrderMemory ?? 100_000;
    this.rateLimit = opts.rateLimit;
    if (opts.rateLimit) new FixedWindowRateLimiter(opts.rateLimit); // validates the options now
    this.account = new SimAccount({ initialBalances: opts.initialBalances, allowShort: opts.allowShort, checkCash: opts.checkCash });
    const qm = opts.queueModel;
    const shared = qm === undefined ? new RiskAverseQueueModel() : typeof qm === 'function' ? undefined : qm;
    for (const inst of opts.instruments) {
      if (this.states.has(inst.instrumentId)) throw new RangeError(`duplicate instrument id ${inst.instrumentId}`);
      this.states.set(inst.instrumentId, {
        inst,
        queue: shared ?? (qm as (i: Instrument) => QueueModel)(inst),
        bids: new SideOrderIndex(BID),
        asks: new SideOrderIndex(ASK),
        takenBids: new ConsumedLiquidity(),
        takenAsks: new ConsumedLiquidity(),
        halted: false,
        stale: false,
      });
    }
  }

  /** `Maintenance` while any instrument is halted, else `ReadyToTrade`. */
  status(): GatewayStatus {
    return this.haltedCount > 0 ? GatewayStatus.Maintenance : GatewayStatus.ReadyToTrade;
  }

  /** Sets where events go. */
  setSink(sink: VenueSink): void {
    this.sink = sink;
  }

  /** Schedules the request's arrival at the matching engine, `entryUs` from now. */
  submit(req: VenueRequest): void {
    const arriveTs = this.scheduler.now() + this.latency.entryUs(actionOf(req));
    this.scheduler.at(arriveTs, () => this.arrive(req));
  }

  /**
   * A market event, already applied to the book `depth(ev.instrumentId)`. Fills resting
   * orders it reaches, updates queue positions and own-take records, and handles
   * halts. The engine time of the event is the later of the scheduler's time and
   * `ev.exchTs`; fills reach the strategy `responseUs('place')` after it.
   */
  onMarketEvent(ev: MdEvent): void {
    const st = this.states.get(ev.instrumentId);
    if (!st) return;
    if (ev.type === MdType.Status) {
      this.onStatus(st, ev);
      return;
    }
    // Most events: no order of ours and nothing taken from the book, nothing to do.
    if (st.bids.size === 0 && st.asks.size === 0 && st.takenBids.size === 0 && st.takenAsks.size === 0) return;
    const engineTs = Math.max(this.scheduler.now(), ev.exchTs);
    const view = this.depthOf(ev.instrumentId);
    switch (ev.type) {
      case MdType.OrderExec:
        this.onTrade(st, ev.side > 0 ? BID : ASK, ev.priceTick, ev.qty, engineTs, ev);
        this.onLevel(st, view, ev.side > 0 ? BID : ASK, ev.priceTick, ev.qty, ev);
        break;
      case MdType.Trade:
        // The resting side is the taker's opposite; an unknown aggressor may have hit either.
        if (ev.side >= 0) this.onTrade(st, ASK, ev.priceTick, ev.qty, engineTs, ev);
        if (ev.side <= 0) this.onTrade(st, BID, ev.priceTick, ev.qty, engineTs, ev);
        break;
      case MdType.OrderAdd:
      case MdType.OrderCancel:
      case MdType.OrderDelete:
      case MdType.LevelSet:
        if (ev.side !== 0 && ev.priceTick !== 0) this.onLevel(st, view, ev.side > 0 ? BID : ASK, ev.priceTick, 0, ev);
        else this.resync(st, view, ev); // an importer that gives no price for a cancel
        break;
      case MdType.Clear:
        st.takenBids.clear();
        st.takenAsks.clear();
        return;
    }
    if (!st.halted && !st.stale) this.checkCross(st, view, engineTs);
  }

  /** End of data: cancels every open order (unsolicited, `SessionEnd`). Run the scheduler afterwards to deliver the events. */
  endSession(): void {
    const now = this.scheduler.now();
    const recvTs = now + this.latency.responseUs('cancel');
    for (const o of [...this.open.values()]) this.cancel(o, CancelCode.SessionEnd, 'session end', true, now, recvTs);
  }

  // ---- requests ---------------------------------------------------------------------

  private arrive(req: VenueRequest): void {
    if (this.rateLimit && req.type !== 'Fetch') {
      const take = this.limiterOf(req.strategy).take(this.scheduler.now());
      const respTs = this.scheduler.now() + this.latency.responseUs(actionOf(req));
      if (!take.allowed) return this.rateLimited(req, respTs, take.resetTs);
      this.dispatchRequest(req);
      if (take.crossedPct) {
        this.emit(respTs, req.strategy, 'onRateLimitInfo', { exchange: this.exchange, rateLimit: this.rateLimit.limit, rateRemaining: take.remaining, resetTs: take.resetTs });
      }
      return;
    }
    this.dispatchRequest(req);
  }

  private limiterOf(strategy: string): FixedWindowRateLimiter {
    let l = this.limiters.get(strategy);
    if (!l) this.limiters.set(strategy, (l = new FixedWindowRateLimiter(this.rateLimit!)));
    return l;
  }

  private rateLimited(req: Exclude<VenueRequest, VenueFetch>, respTs: number, resetTs: number): void {
    const rejectCode = RejectCode.RateLimited;
    const rejectReason = `rate limit of ${this.rateLimit!.limit} requests per ${this.rateLimit!.windowMs} ms reached; resets at ${resetTs} µs`;
    const exchange = this.exchange;
    switch (req.type) {
      case 'NewOrder':
        return this.emit(respTs, req.strategy, 'onNewOrderReject', { exchange, clientId: req.clientId, rejectCode, rejectReason });
      case 'ModifyOrder':
        return this.emit(respTs, req.strategy, 'onModifyOrderReject', { exchange, clientId: req.clientId, rejectCode, rejectReason });
      case 'CancelOrder':
        return this.emit(respTs, req.strategy, 'onCancelOrderReject', { exchange, clientId: req.clientId, rejectCode, rejectReason });
      case 'CancelAll':
        return this.emit(respTs, req.strategy, 'onCancelAllReject', { exchange, instrumentId: req.instrumentId, rejectCode, rejectReason });
    }
  }

  private dispatchRequest(req: VenueRequest): void {
    switch (req.type) {
      case 'NewOrder':
        return this.newOrder(req);
      case 'ModifyOrder':
        return this.modify(req);
      case 'CancelOrder':
        return this.cancelRequest(req);
      case 'CancelAll':
        return this.cancelAll(req);
      case 'Fetch':
        return this.fetch(req);
    }
  }

  private newOrder(req: VenueNewOrder): void {
    const now = this.scheduler.now();
    const respTs = now + this.latency.responseUs('place');
    const key = orderKey(req.strategy, req.clientId);
    const st = this.states.get(req.instrumentId);
    const reject = (code: RejectCode, reason: string = REJECT_REASONS[code], record = true): void => {
      if (record && st) this.remember(this.makeOrder(req, st.inst, '', OrderStatus.Rejected));
      this.emit(respTs, req.strategy, 'onNewOrderReject', { exchange: this.exchange, clientId: req.clientId, rejectCode: code, rejectReason: reason });
    };
    if (!st) return reject(RejectCode.UnknownInstrument);
    if (this.open.has(key) || this.closed.has(key)) return reject(RejectCode.DuplicateClientId, REJECT_REASONS[RejectCode.DuplicateClientId], false);
    if (st.halted) return reject(RejectCode.GtwNotReady, 'trading halt');

    const inst = st.inst;
    const side = req.side === Side.Buy ? BID : ASK;
    const isMarket = req.orderType === OrderType.Market;
    const limitTick = isMarket ? Number.NaN : req.priceTick;
    const view = this.depthOf(inst.instrumentId);
    if (req.execInstr.includes(ExecInstr.PostOnly) && !isMarket && crosses(side, limitTick, this.effectiveBest(st, view, side > 0 ? ASK : BID))) {
      return reject(RejectCode.PostOnlyWouldTake);
    }
    if (req.execInstr.includes(ExecInstr.ReduceOnly) && !this.reduces(inst, side, req.qtyLots)) {
      return reject(RejectCode.ReduceOnlyWouldIncrease);
    }
    const plan = this.planTake(st, view, side, limitTick, req.qtyLots);
    const buyCost = side < 0 ? new Decimal(0) : isMarket ? planCost(inst, plan) : exactNotional(inst, limitTick, req.qtyLots);
    if (!this.account.canAfford(inst, side, req.qtyLots, buyCost)) return reject(RejectCode.InsufficientBalance);

    const o = this.makeOrder(req, inst, `${this.exchange}-${this.nextExchangeId++}`, OrderStatus.Open);
    this.open.set(key, o);
    this.emit(respTs, req.strategy, 'onNewOrderAck', {
      exchange: this.exchange,
      clientId: o.clientId,
      exchangeId: o.exchangeId,
      instrumentId: inst.instrumentId,
      side: o.side,
      price: req.price,
      qty: req.qty,
      leavesQty: req.qty,
      orderType: o.orderType,
      tif: o.tif,
      execInstr: [...o.execInstr],
    });
    if (o.tif === TimeInForce.FOK && sumLots(plan) < o.qtyLots) {
      return this.cancel(o, CancelCode.FokNotFilled, 'FOK order could not fill whole', true, now, respTs);
    }
    this.take(st, view, o, plan, now, respTs);
    if (o.leavesLots === 0) return;
    if (isMarket || o.tif !== TimeInForce.GTC) {
      const nothing = isMarket && o.filledLots === 0;
      this.cancel(o, nothing ? CancelCode.NoLiquidity : CancelCode.IocRemainder, nothing ? 'no liquidity' : 'unfilled remainder cancelled', true, now, respTs);
      return;
    }
    this.rest(st, view, o);
  }

  private modify(req: VenueModifyOrder): void {
    const now = this.scheduler.now();
    const respTs = now + this.latency.responseUs('modify');
    const reject = (code: RejectCode, reason: string = REJECT_REASONS[code]): void =>
      this.emit(respTs, req.strategy, 'onModifyOrderReject', { exchange: this.exchange, clientId: req.clientId, rejectCode: code, rejectReason: reason });
    const key = orderKey(req.strategy, req.clientId);
    const o = this.open.get(key);
    if (!o) return reject(this.closed.has(key) ? RejectCode.VenueOrderClosed : RejectCode.VenueUnknownOrder);
    const st = this.states.get(o.inst.instrumentId)!;
    if (st.halted) return reject(RejectCode.GtwNotReady, 'trading halt');
    if (req.newQtyLots <= o.filledLots) return reject(RejectCode.InvalidQty, 'new qty must exceed the filled qty');

    const inst = o.inst;
    const view = this.depthOf(inst.instrumentId);
    const newTick = req.newPriceTick;
    const newLeaves = req.newQtyLots - o.filledLots;
    const repriced = newTick !== o.priceTick;
    const losesPriority = repriced || req.newQtyLots > o.qtyLots;
    const crossing = crosses(o.sideCode, newTick, this.effectiveBest(st, view, o.sideCode > 0 ? ASK : BID));
    if (crossing && o.execInstr.includes(ExecInstr.PostOnly)) return reject(RejectCode.PostOnlyWouldTake);
    if (o.execInstr.includes(ExecInstr.ReduceOnly) && newLeaves > o.leavesLots && !this.reduces(inst, o.sideCode, newLeaves)) {
      return reject(RejectCode.ReduceOnlyWouldIncrease);
    }
    this.account.release(inst, o.sideCode, o.priceTick, o.leavesLots);
    if (losesPriority && !this.account.canAfford(inst, o.sideCode, newLeaves, exactNotional(inst, newTick, newLeaves))) {
      this.account.reserve(inst, o.sideCode, o.priceTick, o.leavesLots);
      return reject(RejectCode.InsufficientBalance);
    }

    const idx = this.sideIndex(st, o.sideCode);
    if (losesPriority) idx.remove(o);
    o.priceTick = newTick;
    o.qtyLots = req.newQtyLots;
    o.leavesLots = newLeaves;
    this.emit(respTs, req.strategy, 'onModifyOrderAck', {
      exchange: this.exchange,
      clientId: o.clientId,
      newPrice: req.newPrice,
      newQty: req.newQty,
      leavesQty: Qty.fromLots(newLeaves, inst),
    });
    if (!losesPriority) {
      // A qty decrease keeps its place: the queue ahead is unchanged.
      this.account.reserve(inst, o.sideCode, o.priceTick, o.leavesLots);
      return;
    }
    if (crossing) this.take(st, view, o, this.planTake(st, view, o.sideCode, newTick, newLeaves), now, respTs);
    if (o.leavesLots > 0) this.rest(st, view, o);
  }

  private cancelRequest(req: VenueCancelOrder): void {
    const now = this.scheduler.now();
    const respTs = now + this.latency.responseUs('cancel');
    const key = orderKey(req.strategy, req.clientId);
    const o = this.open.get(key);
    if (!o) {
      const code = this.closed.has(key) ? RejectCode.VenueOrderClosed : RejectCode.VenueUnknownOrder;
      this.emit(respTs, req.strategy, 'onCancelOrderReject', { exchange: this.exchange, clientId: req.clientId, rejectCode: code, rejectReason: REJECT_REASONS[code] });
      return;
    }
    this.emit(respTs, req.strategy, 'onCancelOrderAck', { exchange: this.exchange, clientId: req.clientId });
    this.cancel(o, CancelCode.Requested, 'cancelled at the strategy request', false, now, respTs);
  }

  private cancelAll(req: VenueCancelAll): void {
    const now = this.scheduler.now();
    const respTs = now + this.latency.responseUs('cancel');
    this.emit(respTs, req.strategy, 'onCancelAllAck', { exchange: this.exchange, instrumentId: req.instrumentId });
    for (const o of [...this.open.values()]) {
      if (o.strategy === req.strategy && o.inst.instrumentId === req.instrumentId) this.cancel(o, CancelCode.CancelAll, 'cancel-all', false, now, respTs);
    }
  }

  private fetch(req: VenueFetch): void {
    const respTs = this.scheduler.now() + this.latency.responseUs('fetch');
    const ex = this.exchange;
    const s = req.strategy;
    const requestReject = (code: RejectCode, detail: string): void =>
      this.emit(respTs, s, 'onRequestReject', { exchange: ex, rejectCode: code, detail, rejectedRqstType: req.what });
    switch (req.what) {
      case RequestType.AccountInfo:
        return this.emit(respTs, s, 'onAccountInfo', { exchange: ex, userId: this.userId ?? s });
      case RequestType.WalletInfo: {
        const coins = req.coin !== undefined ? [req.coin] : this.account.coins();
        for (const coin of coins) {
          this.emit(respTs, s, 'onWalletInfo', {
            exchange: ex,
            coin,
            totalBalance: Qty.of(this.account.totalBalance(coin)),
            availableBalance: Qty.of(this.account.availableBalance(coin)),
          });
        }
        return;
      }
      case RequestType.PositionInfo: {
        const insts = req.instrumentId !== undefined ? [this.states.get(req.instrumentId)?.inst] : this.instruments;
        for (const inst of insts) {
          if (!inst) return requestReject(RejectCode.UnknownInstrument, `unknown instrument ${req.instrumentId}`);
          this.emit(respTs, s, 'onPositionInfo', {
            exchange: ex,
            instrumentId: inst.instrumentId,
            position: Qty.fromLots(this.account.positionLots(inst.instrumentId), inst),
          });
        }
        return;
      }
      case RequestType.FundingInfo: {
        const inst = req.instrumentId !== undefined ? this.states.get(req.instrumentId)?.inst : undefined;
        if (!inst) return requestReject(RejectCode.UnknownInstrument, `unknown instrument ${req.instrumentId}`);
        if (inst.type !== InstrumentType.Perpetual) return this.emit(respTs, s, 'onUnsupportedOp', { exchange: ex, unsupportedMsgType: RequestType.FundingInfo });
        // The sim has no funding data: a zero rate at the usual 8-hour boundaries.
        const nextFundingTs = (Math.floor(this.scheduler.now() / FUNDING_INTERVAL_US) + 1) * FUNDING_INTERVAL_US;
        return this.emit(respTs, s, 'onFundingInfo', { exchange: ex, instrumentId: inst.instrumentId, fundingRate: '0', nextFundingTs });
      }
      case RequestType.OrderStatus: {
        const key = orderKey(s, req.clientId ?? '');
        const o = this.open.get(key) ?? this.closed.get(key);
        if (!o || (req.instrumentId !== undefined && o.inst.instrumentId !== req.instrumentId)) {
          return requestReject(RejectCode.VenueUnknownOrder, `order '${req.clientId}' not found at the venue`);
        }
        return this.emit(respTs, s, 'onOrderStatus', this.statusInfo(o));
      }
      case RequestType.OrdersInfo: {
        const orders: OrderStatusInfo[] = [];
        for (const o of this.open.values()) {
          if (o.strategy === s && (req.instrumentId === undefined || o.inst.instrumentId === req.instrumentId)) orders.push(this.statusInfo(o));
        }
        return this.emit(respTs, s, 'onOrdersInfo', { exchange: ex, orders });
      }
    }
  }

  // ---- matching ---------------------------------------------------------------------

  /** Liquidity an order could take now: the opposite side from its best, within the limit (NaN: any price). */
  private planTake(st: InstState, view: DepthView, side: 1 | -1, limitTick: number, lots: number): TakeStep[] {
    const opp = side > 0 ? ASK : BID;
    const taken = side > 0 ? st.takenAsks : st.takenBids;
    const steps: TakeStep[] = [];
    let remaining = lots;
    const n = view.depth(opp);
    for (let i = 0; i < n && remaining > 0; i++) {
      const tick = view.levelTick(opp, i);
      if (!Number.isNaN(limitTick) && !crosses(side, limitTick, tick)) break;
      const avail = taken.available(tick, view.levelQty(opp, i));
      if (avail <= 0) continue;
      const q = Math.min(avail, remaining);
      steps.push({ tick, lots: q });
      remaining -= q;
    }
    return steps;
  }

  private take(st: InstState, view: DepthView, o: SimOrder, steps: readonly TakeStep[], engineTs: number, recvTs: number): void {
    const opp = o.sideCode > 0 ? ASK : BID;
    const taken = o.sideCode > 0 ? st.takenAsks : st.takenBids;
    for (const s of steps) {
      taken.consume(s.tick, s.lots, view.qtyAt(opp, s.tick));
      this.fill(st, o, s.tick, s.lots, Liquidity.Taker, engineTs, recvTs);
    }
  }

  /** Puts the order at the back of its level. */
  private rest(st: InstState, view: DepthView, o: SimOrder): void {
    this.sideIndex(st, o.sideCode).add(o);
    const level = view.qtyAt(o.sideCode, o.priceTick);
    st.queue.onPlace(o, level);
    o.lastLevelLots = level;
    this.account.reserve(o.inst, o.sideCode, o.priceTick, o.leavesLots);
  }

  /** A trade of `qty` lots executed resting orders on `side` at `priceTick` (fractional for prints between ticks). */
  private onTrade(st: InstState, side: 1 | -1, priceTick: number, qty: number, engineTs: number, ev: MdEvent): void {
    const idx = this.sideIndex(st, side);
    if (idx.size === 0) return;
    const recvTs = engineTs + this.latency.responseUs('place');
    // A print through our price means the level we were on was swept: fill whole.
    const through: SimOrder[] = [];
    for (const t of idx.ticks) {
      if (!idx.better(t, priceTick)) break;
      through.push(...idx.at(t)!);
    }
    for (const o of through) this.fill(st, o, o.priceTick, o.leavesLots, Liquidity.Maker, engineTs, recvTs);

    const level = idx.at(priceTick);
    if (!level) return;
    // Our own earlier orders at the level are part of the queue of later ones: lots they
    // filled are not also available to those behind them.
    let used = 0;
    for (const o of [...level]) {
      const left = qty - used;
      if (left <= 0) break;
      const n = Math.min(st.queue.onTrade(o, left, ev), o.leavesLots);
      if (n > 0) {
        used += n;
        this.fill(st, o, o.priceTick, n, Liquidity.Maker, engineTs, recvTs);
      }
    }
  }

  /** The visible qty at a level may have changed; `tradedLots` of the change was a trade already applied to queues. */
  private onLevel(st: InstState, view: DepthView, side: 1 | -1, tick: number, tradedLots: number, ev?: MdEvent): void {
    const taken = side > 0 ? st.takenBids : st.takenAsks;
    const level = this.sideIndex(st, side).at(tick);
    if (!level && !taken.has(tick)) return; // the usual case: nothing of ours at this price
    const qty = view.qtyAt(side, tick);
    taken.refresh(tick, qty);
    if (!level || st.stale) return; // a book being rebuilt says nothing about cancels ahead of us
    for (const o of level) {
      st.queue.onDepth(o, qty, Math.max(0, o.lastLevelLots - tradedLots), ev);
      o.lastLevelLots = qty;
    }
  }

  /** Re-reads every level that holds an order or an own-take record. */
  private resync(st: InstState, view: DepthView, ev?: MdEvent): void {
    for (const side of [BID, ASK] as const) {
      const taken = side > 0 ? st.takenBids : st.takenAsks;
      for (const t of taken.ticks()) taken.refresh(t, view.qtyAt(side, t));
      for (const t of [...this.sideIndex(st, side).ticks]) this.onLevel(st, view, side, t, 0, ev);
    }
  }

  /** The opposite best reached a resting order's price: it would have traded with us. Fill whole. */
  private checkCross(st: InstState, view: DepthView, engineTs: number): void {
    for (const side of [BID, ASK] as const) {
      const idx = this.sideIndex(st, side);
      if (idx.size === 0) continue;
      const opp = this.effectiveBest(st, view, side > 0 ? ASK : BID);
      if (!crosses(side, idx.bestTick(), opp)) continue;
      const hit: SimOrder[] = [];
      for (const t of idx.ticks) {
        if (!crosses(side, t, opp)) break;
        hit.push(...idx.at(t)!);
      }
      const recvTs = engineTs + this.latency.responseUs('place');
      for (const o of hit) this.fill(st, o, o.priceTick, o.leavesLots, Liquidity.Maker, engineTs, recvTs);
    }
  }

  /** Best price of a side in ticks, skipping levels the strategy's own takes used up. */
  private effectiveBest(st: InstState, view: DepthView, side: 1 | -1): number {
    const taken = side > 0 ? st.takenBids : st.takenAsks;
    if (taken.size === 0) return side > 0 ? view.bestBidTick() : view.bestAskTick();
    const n = view.depth(side);
    for (let i = 0; i < n; i++) {
      const tick = view.levelTick(side, i);
      if (taken.available(tick, view.levelQty(side, i)) > 0) return tick;
    }
    return side > 0 ? NO_BID : NO_ASK;
  }

  private fill(st: InstState, o: SimOrder, tick: number, lots: number, liquidity: Liquidity, execTs: number, recvTs: number): void {
    if (lots <= 0) return;
    const inst = o.inst;
    const fee = feeDecimal(this.fees.fee(inst, tick, lots, liquidity));
    if (liquidity === Liquidity.Maker) this.account.release(inst, o.sideCode, o.priceTick, lots);
    this.account.applyFill(inst, o.sideCode, tick, lots, fee);
    o.filledLots += lots;
    o.leavesLots -= lots;
    o.status = o.leavesLots === 0 ? OrderStatus.Filled : OrderStatus.PartiallyFilled;
    this.emit(recvTs, o.strategy, 'onOrderExecution', {
      exchange: this.exchange,
      clientId: o.clientId,
      side: o.side,
      price: Price.fromTicks(tick, inst),
      fillQty: Qty.fromLots(lots, inst),
      leavesQty: Qty.fromLots(o.leavesLots, inst),
      execTs,
      recvTs,
      instrumentId: inst.instrumentId,
      fee: Price.of(fee),
      liquidity,
    });
    if (o.leavesLots === 0) this.close(st, o);
  }

  private cancel(o: SimOrder, code: CancelCode, reason: string, unsolicited: boolean, engineTs: number, recvTs: number): void {
    const st = this.states.get(o.inst.instrumentId)!;
    o.status = OrderStatus.Cancelled;
    this.close(st, o);
    o.leavesLots = 0;
    this.emit(recvTs, o.strategy, 'onOrderCancelled', { exchange: this.exchange, clientId: o.clientId, unsolicited, engineTs, recvTs, cancelCode: code, cancelReason: reason });
  }

  /** Takes the order off the book and out of the open set; frees what its rest held. */
  private close(st: InstState, o: SimOrder): void {
    if (this.sideIndex(st, o.sideCode).remove(o)) this.account.release(o.inst, o.sideCode, o.priceTick, o.leavesLots);
    const key = orderKey(o.strategy, o.clientId);
    this.open.delete(key);
    this.remember(o);
  }

  private remember(o: SimOrder): void {
    this.closed.set(orderKey(o.strategy, o.clientId), o);
    while (this.closed.size > this.closedMemory) this.closed.delete(this.closed.keys().next().value!);
  }

  // ---- status -----------------------------------------------------------------------

  private onStatus(st: InstState, ev: MdEvent): void {
    const now = this.scheduler.now();
    switch (ev.status) {
      case MdStatus.Halted:
      case MdStatus.Quoting:
        // Quoting is still a halt for us: no matching until Resumed.
        if (st.halted) return;
        st.halted = true;
        if (++this.haltedCount === 1) this.broadcastStatus(now, GatewayStatus.Maintenance, 'trading halt');
        return;
      case MdStatus.Resumed:
        if (!st.halted) return;
        st.halted = false;
        if (--this.haltedCount === 0) this.broadcastStatus(now, GatewayStatus.ReadyToTrade, 'trading resumed');
        if (!st.stale) this.checkCross(st, this.depthOf(st.inst.instrumentId), Math.max(now, ev.exchTs));
        return;
      case MdStatus.SnapshotStart:
      case MdStatus.Disconnected:
        st.stale = true;
        return;
      case MdStatus.SnapshotEnd: {
        st.stale = false;
        const view = this.depthOf(st.inst.instrumentId);
        this.resync(st, view, ev);
        if (!st.halted) this.checkCross(st, view, Math.max(now, ev.exchTs));
        return;
      }
    }
  }

  private broadcastStatus(ts: number, status: GatewayStatus, detail: string): void {
    this.emit(ts, '*', 'onGatewayStatus', { exchange: this.exchange, status, detail });
  }

  // ---- helpers ----------------------------------------------------------------------

  private emit<K extends EventCallbackName>(ts: number, strategy: string, cb: K, ev: StrategyEventMap[K]): void {
    const e: VenueEvent<K> = { strategy, cb, ev };
    this.scheduler.at(ts, () => this.sink?.(e as VenueEvent));
  }

  private sideIndex(st: InstState, side: 1 | -1): SideOrderIndex {
    return side > 0 ? st.bids : st.asks;
  }

  /** Whether an order of `lots` on `side` only reduces the current position. */
  private reduces(inst: Instrument, side: 1 | -1, lots: number): boolean {
    const pos = this.account.positionLots(inst.instrumentId);
    return side > 0 ? pos < 0 && lots <= -pos : pos > 0 && lots <= pos;
  }

  private makeOrder(req: VenueNewOrder, inst: Instrument, exchangeId: string, status: OrderStatus): SimOrder {
    return {
      strategy: req.strategy,
      clientId: req.clientId,
      exchangeId,
      inst,
      side: req.side,
      sideCode: req.side === Side.Buy ? BID : ASK,
      orderType: req.orderType,
      tif: req.tif,
      execInstr: [...req.execInstr],
      priceTick: req.orderType === OrderType.Market ? Number.NaN : req.priceTick,
      qtyLots: req.qtyLots,
      filledLots: 0,
      leavesLots: status === OrderStatus.Rejected ? 0 : req.qtyLots,
      queueAheadLots: 0,
      lastLevelLots: 0,
      status,
    };
  }

  private statusInfo(o: SimOrder): OrderStatusInfo {
    return {
      exchange: this.exchange,
      instrumentId: o.inst.instrumentId,
      clientOrdId: o.clientId,
      exchOrdId: o.exchangeId,
      side: o.side,
      price: Number.isNaN(o.priceTick) ? Price.ZERO : Price.fromTicks(o.priceTick, o.inst),
      leavesQty: Qty.fromLots(OPEN_STATUSES.has(o.status) ? o.leavesLots : 0, o.inst),
      status: o.status,
      orderType: o.orderType,
      tif: o.tif,
      execInstr: [...o.execInstr],
    };
  }
}

function orderKey(strategy: string, clientId: string): string {
  return `${strategy}\u0000${clientId}`;
}

function sumLots(steps: readonly TakeStep[]): number {
  let n = 0;
  for (const s of steps) n += s.lots;
  return n;
}

function planCost(inst: Instrument, steps: readonly TakeStep[]): Decimal {
  let c = new Decimal(0);
  for (const s of steps) c = c.add(exactNotional(inst, s.tick, s.lots));
  return c;
}
