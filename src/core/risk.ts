/**
 * Trading controls and the kill switch: the limits every request of a strategy must stay
 * inside before it leaves the environment, whatever the mode (backtest, paper, live).
 *
 * The checks are pure functions over the request, the strategy's own orders and position
 * (from the `OrderTracker`), the env's clock and the mid: they read no venue and no wall
 * clock, so a replay refuses exactly what the run refused. `StratEnv` runs them after the
 * request validation (`validate.ts`) and rejects with the control's own `RejectCode`
 * (1050–1057). `docs/controls.md` has every rule with its units and defaults.
 * @module
 */
import { z } from 'zod';
import { RejectCode } from '../api/codes.js';
import { Qty, type Price } from '../api/decimal.js';
import { OrderType, Side } from '../api/enums.js';
import type { Instrument } from '../api/instrument.js';
import type { OrderView } from '../api/strategy.js';
import { nextDailyTs, parseTimeOfDay } from './daily.js';

// ------------------------------------------------------------------------------- config

/** A qty limit: a number or a decimal string (`"0.5"`), in the instrument's qty units. */
const QtyLimitSchema = z.union([z.number().nonnegative().finite(), z.string().regex(/^\+?(\d+\.?\d*|\.\d+)$/, 'a non-negative decimal such as 100 or "0.5"')]);

/**
 * The limits of one instrument. Every field is optional: an absent limit is not enforced.
 * Units: qty in the instrument's qty units (shares, coins, contracts), notional in its quote
 * currency, prices relative to the mid in basis points (1 bp = 0.01 %).
 */
export const ControlLimitsSchema = z
  .object({
    /** Largest qty of one order (a modify: its new total qty). Default: no limit. */
    maxOrderQty: QtyLimitSchema.optional(),
    /** Largest notional of one order, quote currency: price × qty × multiplier (a market order at the mid). Default: no limit. */
    maxOrderNotional: z.number().positive().finite().optional(),
    /** Most orders not yet closed (pending ones included) on the instrument; 0 refuses every new order. Default: no limit. */
    maxOpenOrders: z.number().int().nonnegative().optional(),
    /**
     * Largest absolute position, counting the order and every open order on its side as
     * filled (see {@link checkMaxPosition}). Orders that reduce the position always pass.
     * Default: no limit.
     */
    maxPosition: QtyLimitSchema.optional(),
    /** Most new orders plus modifies in any rolling second of the env's clock. Default: no limit. */
    maxOrdersPerSec: z.number().int().positive().optional(),
    /** Widest distance of a limit price from the mid, basis points. Not applied without a mid, nor to market orders. Default: no band. */
    priceBandBps: z.number().positive().finite().optional(),
    /** `'reject'`: refuse an order that would cross the strategy's own open order on the other side. Default `'off'`. */
    selfTradePrevention: z.enum(['reject', 'off']).optional(),
  })
  .strict();

/**
 * `controls` of the runner config: the strategy's limits (defaults for every instrument),
 * and per-instrument overrides by instrument name. An override replaces the strategy's
 * value of the fields it gives; the others stay. Every limit applies to each instrument on
 * its own (for instance `maxOpenOrders: 10` allows 10 open orders per instrument).
 */
export const TradingControlsSchema = ControlLimitsSchema.extend({
  /** Overrides by instrument name, e.g. `{ "nasdaq:equity:amzn": { "maxOrderQty": 200 } }`. */
  instruments: z.record(z.string().min(1), ControlLimitsSchema).optional(),
}).strict();

/** Limits of one instrument, as configured (see {@link ControlLimitsSchema}). */
export type ControlLimits = z.infer<typeof ControlLimitsSchema>;
/** Trading controls of a strategy (see {@link TradingControlsSchema}). */
export type TradingControls = z.infer<typeof TradingControlsSchema>;

/** What a tripped kill switch does: `'pause'` cancels open orders and refuses risk-increasing ones; `'flatten'` also closes every position. */
export type KillAction = 'pause' | 'flatten';

/**
 * `killSwitch` of the runner config. Amounts are in the quote currency of the strategy's
 * instruments (the run's net PnL: realised + unrealised − fees).
 */
export const KillSwitchConfigSchema = z
  .object({
    /** Trip when the loss since the start of the trading day (or of the run, if later) reaches this, quote currency. Default: no limit. */
    dailyLossLimit: z.number().positive().finite().optional(),
    /** Trip when equity falls this far below its peak, quote currency. Default: no limit. */
    maxDrawdown: z.number().positive().finite().optional(),
    /** What a trip does. Default `'pause'`. */
    action: z.enum(['pause', 'flatten']).optional(),
    /** Local time (`'HH:mm:ss'`, in the run's `timeZone`) at which a trading day starts. Default `'00:00:00'`. */
    dayStart: z
      .string()
      .refine(
        (s) => {
          try {
            parseTimeOfDay(s);
            return true;
          } catch {
            return false;
          }
        },
        { message: "a time of day 'HH:mm:ss' from 00:00:00 to 23:59:59" },
      )
      .optional(),
  })
  .strict();

/** Kill switch settings (see {@link KillSwitchConfigSchema}). */
export type KillSwitchConfig = z.infer<typeof KillSwitchConfigSchema>;

// ------------------------------------------------------------------------------- limits

/** The limits in force for one instrument: strategy defaults merged with its override. */
export interface ResolvedLimits {
  readonly maxOrderQty?: Qty;
  /** Quote currency. */
  readonly maxOrderNotional?: number;
  readonly maxOpenOrders?: number;
  readonly maxPosition?: Qty;
  /** Requests per rolling second. */
  readonly maxOrdersPerSec?: number;
  /** Basis points around the mid. */
  readonly priceBandBps?: number;
  readonly selfTradePrevention: 'reject' | 'off';
}

function qtyLimit(v: number | string | undefined): Qty | undefined {
  return v === undefined ? undefined : Qty.of(typeof v === 'number' ? String(v) : v.replace(/^\+/, ''));
}

/** The limits of one instrument: the strategy's values, replaced field by field by the instrument's override (by name). */
export function resolveLimits(controls: TradingControls | undefined, instrumentName: string): ResolvedLimits {
  const base: ControlLimits = { ...(controls ?? {}) };
  delete (base as { instruments?: unknown }).instruments;
  const merged: ControlLimits = { ...base, ...(controls?.instruments?.[instrumentName] ?? {}) };
  return {
    maxOrderQty: qtyLimit(merged.maxOrderQty),
    maxOrderNotional: merged.maxOrderNotional,
    maxOpenOrders: merged.maxOpenOrders,
    maxPosition: qtyLimit(merged.maxPosition),
    maxOrdersPerSec: merged.maxOrdersPerSec,
    priceBandBps: merged.priceBandBps,
    selfTradePrevention: merged.selfTradePrevention ?? 'off',
  };
}

/** True when at least one limit is enforced (so the env can skip the checks otherwise). */
export function hasLimits(l: ResolvedLimits): boolean {
  return (
    l.maxOrderQty !== undefined ||
    l.maxOrderNotional !== undefined ||
    l.maxOpenOrders !== undefined ||
    l.maxPosition !== undefined ||
    l.maxOrdersPerSec !== undefined ||
    l.priceBandBps !== undefined ||
    l.selfTradePrevention === 'reject'
  );
}

// ------------------------------------------------------------------------------- checks

/** The order a control looks at: a new order, or an order as a modify would leave it. */
export interface ControlledOrder {
  readonly side: Side;
  readonly orderType: OrderType;
  /** Limit price; ignored for a market order. */
  readonly price: Price;
  /** Total qty of the order. */
  readonly qty: Qty;
  /** Qty that could still fill: `qty` for a new order, new qty − filled for a modify. */
  readonly leavesQty: Qty;
}

/** What the checks read besides the order: all from the env, none from the venue. */
export interface ControlState {
  readonly instrument: Instrument;
  readonly limits: ResolvedLimits;
  /** The strategy's net position in the instrument (positive long). */
  readonly position: Qty;
  /** The strategy's orders on the instrument that are not closed (pending ones included). */
  readonly openOrders: readonly OrderView[];
  /** For a modify: the order before the modify (left out of the sums, its new values count instead). */
  readonly replacing?: OrderView;
  /** Mid price, quote currency; NaN when unknown (an empty side). */
  readonly mid: number;
  /** The env's clock, µs since the epoch. */
  readonly nowUs: number;
  /** Times (µs) of the new orders and modifies the env let through on this instrument, oldest first. */
  readonly recentRequests: readonly number[];
}

/** A request refused by a control. */
export interface ControlRejection {
  readonly ok: false;
  readonly code: RejectCode;
  /** Names the limit and the value, e.g. `qty 500 exceeds maxOrderQty 200 for nasdaq:equity:amzn`. */
  readonly reason: string;
}

/** Length of the rate window, µs (one second). */
export const RATE_WINDOW_US = 1_000_000;

function refuse(code: RejectCode, reason: string): ControlRejection {
  return { ok: false, code, reason };
}

/** An amount for a reason: at most 8 decimals, no float noise. */
export function fmtAmount(x: number): string {
  return String(Number(x.toFixed(8)));
}

/** +1 for a buy, −1 for a sell. */
function sign(side: Side): 1 | -1 {
  return side === Side.Buy ? 1 : -1;
}

/** Leaves of the open orders on one side, without the order being replaced. */
function sideLeaves(state: ControlState, side: Side): Qty {
  let sum = Qty.ZERO;
  for (const o of state.openOrders) {
    if (o.side !== side || o.clientId === state.replacing?.clientId) continue;
    sum = sum.add(o.leavesQty);
  }
  return sum;
}

/**
 * The position if the order and every open order on its side filled completely (the worst
 * case on that side): `position ± (open leaves on the side + the order's leaves)`.
 */
export function projectedPosition(order: ControlledOrder, state: ControlState): Qty {
  const add = sideLeaves(state, order.side).add(order.leavesQty);
  return sign(order.side) > 0 ? state.position.add(add) : state.position.sub(add);
}

/**
 * True when the order can only bring the position towards zero: the position is not flat,
 * the order is on the other side, and even with every open order on that side filled the
 * position neither flips nor grows.
 */
export function isRiskReducing(order: ControlledOrder, state: ControlState): boolean {
  const pos = state.position;
  if (pos.isZero()) return false;
  const proj = projectedPosition(order, state);
  return pos.isPositive() ? order.side === Side.Sell && !proj.d.isNegative() : order.side === Side.Buy && !proj.isPositive();
}

/** `maxOrderQty`: the order's (new) total qty. */
export function checkMaxOrderQty(order: ControlledOrder, state: ControlState): ControlRejection | undefined {
  const max = state.limits.maxOrderQty;
  if (max === undefined || order.qty.lte(max)) return undefined;
  return refuse(RejectCode.MaxOrderQty, `qty ${order.qty} exceeds maxOrderQty ${max} for ${state.instrument.name}`);
}

/** The order's notional, quote currency: limit price (a market order: the mid) × qty × multiplier; NaN without a price. */
export function orderNotional(order: ControlledOrder, state: ControlState): number {
  const px = order.orderType === OrderType.Market ? state.mid : order.price.toNumber();
  return px * order.qty.toNumber() * state.instrument.multiplier;
}

/** `maxOrderNotional`: a market order is valued at the mid; without a mid it is not checked. */
export function checkMaxOrderNotional(order: ControlledOrder, state: ControlState): ControlRejection | undefined {
  const max = state.limits.maxOrderNotional;
  if (max === undefined) return undefined;
  const n = orderNotional(order, state);
  if (!Number.isFinite(n) || n <= max) return undefined;
  const at = order.orderType === OrderType.Market ? `the mid ${fmtAmount(state.mid)}` : `price ${order.price}`;
  return refuse(RejectCode.MaxOrderNotional, `notional ${fmtAmount(n)} (qty ${order.qty} at ${at}) exceeds maxOrderNotional ${max} for ${state.instrument.name}`);
}

/** `maxOpenOrders`: new orders only (a modify does not change the count). */
export function checkMaxOpenOrders(_order: ControlledOrder, state: ControlState): ControlRejection | undefined {
  const max = state.limits.maxOpenOrders;
  if (max === undefined || state.replacing !== undefined) return undefined;
  const open = state.openOrders.length;
  if (open < max) return undefined;
  return refuse(RejectCode.MaxOpenOrders, `${open} open orders on ${state.instrument.name} reach maxOpenOrders ${max}`);
}

/**
 * `maxPosition`: refused when the projected position (the order and every open order on its
 * side filled, {@link projectedPosition}) is beyond the limit in absolute value, unless the
 * order is risk-reducing ({@link isRiskReducing}): a strategy can always close.
 */
export function checkMaxPosition(order: ControlledOrder, state: ControlState): ControlRejection | undefined {
  const max = state.limits.maxPosition;
  if (max === undefined) return undefined;
  const proj = projectedPosition(order, state);
  if (proj.abs().lte(max) || isRiskReducing(order, state)) return undefined;
  const others = sideLeaves(state, order.side);
  return refuse(
    RejectCode.MaxPosition,
    `${order.side.toLowerCase()} ${order.leavesQty} would take the position in ${state.instrument.name} to ${proj} (position ${state.position}, open ${order.side.toLowerCase()}s ${others}), beyond maxPosition ${max}`,
  );
}

/** `priceBandBps`: a limit price at most this many bps from the mid. Market orders and an unknown mid pass. */
export function checkPriceBand(order: ControlledOrder, state: ControlState): ControlRejection | undefined {
  const band = state.limits.priceBandBps;
  const mid = state.mid;
  if (band === undefined || order.orderType === OrderType.Market || !Number.isFinite(mid) || mid <= 0) return undefined;
  const bps = (Math.abs(order.price.toNumber() - mid) / mid) * 10_000;
  // A hair of tolerance: the band's edge itself, computed in floats, must pass.
  if (bps <= band * (1 + 1e-9)) return undefined;
  return refuse(RejectCode.PriceBand, `price ${order.price} is ${bps.toFixed(1)} bps from the mid ${fmtAmount(mid)}, outside priceBandBps ${band} for ${state.instrument.name}`);
}

/**
 * `selfTradePrevention: 'reject'`: a buy must not reach the strategy's own open limit sell
 * (price ≤ the buy's limit; any, for a market buy), and the other way round. Orders with a
 * cancel in flight count: they may still be on the book.
 */
export function checkSelfTrade(order: ControlledOrder, state: ControlState): ControlRejection | undefined {
  if (state.limits.selfTradePrevention !== 'reject') return undefined;
  const buy = order.side === Side.Buy;
  const market = order.orderType === OrderType.Market;
  for (const o of state.openOrders) {
    if (o.side === order.side || o.orderType !== OrderType.Limit || o.clientId === state.replacing?.clientId) continue;
    const crosses = market || (buy ? o.price.lte(order.price) : o.price.gte(order.price));
    if (!crosses) continue;
    const at = market ? 'at market' : `at ${order.price}`;
    return refuse(RejectCode.SelfTrade, `${order.side.toLowerCase()} ${at} would cross the strategy's own ${o.side.toLowerCase()} '${o.clientId}' at ${o.price} on ${state.instrument.name} (selfTradePrevention)`);
  }
  return undefined;
}

/** Requests in the rolling second ending at `nowUs`: times `t` with `nowUs − 1 s < t ≤ nowUs`. */
export function requestsInWindow(times: readonly number[], nowUs: number): number {
  let n = 0;
  for (let i = times.length - 1; i >= 0 && times[i]! > nowUs - RATE_WINDOW_US; i--) if (times[i]! <= nowUs) n++;
  return n;
}

/** `maxOrdersPerSec`: new orders and modifies let through in the last rolling second. */
export function checkOrderRate(_order: ControlledOrder, state: ControlState): ControlRejection | undefined {
  const max = state.limits.maxOrdersPerSec;
  if (max === undefined) return undefined;
  const n = requestsInWindow(state.recentRequests, state.nowUs);
  if (n < max) return undefined;
  return refuse(RejectCode.MaxOrderRate, `${n} new orders and modifies in the last second on ${state.instrument.name} reach maxOrdersPerSec ${max}`);
}

/** The checks of a new order, in the order they run: the first refusal wins. */
export const NEW_ORDER_CHECKS = [checkMaxOrderQty, checkMaxOrderNotional, checkMaxOpenOrders, checkMaxPosition, checkPriceBand, checkSelfTrade, checkOrderRate] as const;

/** Runs every control on a new order; undefined when it passes. */
export function checkNewOrder(order: ControlledOrder, state: ControlState): ControlRejection | undefined {
  for (const check of NEW_ORDER_CHECKS) {
    const r = check(order, state);
    if (r) return r;
  }
  return undefined;
}

/**
 * Runs the controls on a modify (`state.replacing` is the order before it). A modify is
 * held only to the limits it could breach: qty and position when the qty grows, notional
 * when the notional grows, band and self-trade when the price changes; the rate always.
 * So a modify that leaves an order no riskier (a smaller qty, say) is never refused, even
 * when the limits were tightened since the order was placed.
 */
export function checkModify(order: ControlledOrder, state: ControlState): ControlRejection | undefined {
  const before = state.replacing;
  if (!before) throw new Error('checkModify: state.replacing (the order before the modify) is required');
  const qtyUp = order.qty.gt(before.qty);
  const priceChanged = !order.price.eq(before.price);
  const notionalUp = order.price.toNumber() * order.qty.toNumber() > before.price.toNumber() * before.qty.toNumber();
  return (
    (qtyUp ? checkMaxOrderQty(order, state) : undefined) ??
    (notionalUp ? checkMaxOrderNotional(order, state) : undefined) ??
    (qtyUp ? checkMaxPosition(order, state) : undefined) ??
    (priceChanged ? checkPriceBand(order, state) : undefined) ??
    (priceChanged ? checkSelfTrade(order, state) : undefined) ??
    checkOrderRate(order, state)
  );
}

/**
 * Times of the requests let through on one instrument, kept for the rolling second of
 * `maxOrdersPerSec` only: older ones are dropped as time moves on.
 */
export class RequestWindow {
  private readonly ts: number[] = [];
  /** The kept times after dropping those that left the window ending at `nowUs`, oldest first. */
  times(nowUs: number): readonly number[] {
    let drop = 0;
    while (drop < this.ts.length && this.ts[drop]! <= nowUs - RATE_WINDOW_US) drop++;
    if (drop) this.ts.splice(0, drop);
    return this.ts;
  }
  /** Records a request let through at `nowUs` (the env's clock never goes back). */
  record(nowUs: number): void {
    this.ts.push(nowUs);
  }
}

// ------------------------------------------------------------------------------- kill switch

/** `armed`: watching; `tripped`: fired, waiting for a reset (`/resume`). */
export type KillSwitchState = 'armed' | 'tripped';

/** Options of a {@link KillSwitch}. */
export interface KillSwitchOptions {
  /** IANA zone of `dayStart` (the run's `timeZone`). */
  timeZone: string;
  /** When the run starts, µs since the epoch: the first trading day counts from here, at equity 0. */
  startUs: number;
}

/**
 * Watches equity (the run's net PnL, quote currency, 0 at the start) and trips on a daily
 * loss or a drawdown from peak. It only decides; the env acts (cancel, pause, flatten).
 *
 * - Daily loss = equity at the start of the trading day − equity now. The day starts at
 *   `dayStart` (default midnight) in the run's time zone; the first day starts with the run.
 *   Equity at a day boundary is the last equity observed before it (equity only moves with
 *   a fill or a new mark, each of which is observed).
 * - Drawdown = peak equity (since the start, or the last reset) − equity now.
 * - A limit is reached at `>=`.
 */
export class KillSwitch {
  private _state: KillSwitchState = 'armed';
  private _reason: string | undefined;
  private peak = 0;
  private dayStartEquity = 0;
  private lastEquity = 0;
  private nextDayTs: number;

  constructor(
    readonly config: KillSwitchConfig,
    private readonly opts: KillSwitchOptions,
  ) {
    this.nextDayTs = config.dailyLossLimit === undefined ? Number.POSITIVE_INFINITY : nextDailyTs(opts.startUs, config.dayStart ?? '00:00:00', opts.timeZone);
  }

  /** `armed` or `tripped`. */
  get state(): KillSwitchState {
    return this._state;
  }
  /** Why it tripped; undefined while armed. */
  get reason(): string | undefined {
    return this._reason;
  }
  /** What a trip does (config `action`, default `'pause'`). */
  get action(): KillAction {
    return this.config.action ?? 'pause';
  }
  /** Highest equity since the start or the last reset, quote currency. */
  get peakEquity(): number {
    return this.peak;
  }
  /** Equity at the start of the current trading day (or the last reset), quote currency. */
  get dayStartEquityValue(): number {
    return this.dayStartEquity;
  }
  /** Last equity observed, quote currency. */
  get equity(): number {
    return this.lastEquity;
  }

  /**
   * Takes the equity at `nowUs` (µs, the env's clock, never going back). Returns the reason
   * when this observation trips the switch; undefined otherwise (and always once tripped,
   * though the figures keep updating).
   */
  observe(equity: number, nowUs: number): string | undefined {
    if (!Number.isFinite(equity)) return undefined;
    while (nowUs >= this.nextDayTs) {
      this.dayStartEquity = this.lastEquity;
      this.nextDayTs = nextDailyTs(this.nextDayTs, this.config.dayStart ?? '00:00:00', this.opts.timeZone);
    }
    this.lastEquity = equity;
    if (equity > this.peak) this.peak = equity;
    if (this._state === 'tripped') return undefined;
    const c = this.config;
    const loss = this.dayStartEquity - equity;
    if (c.dailyLossLimit !== undefined && loss >= c.dailyLossLimit) {
      return this.trip(`daily loss ${fmtAmount(loss)} reached dailyLossLimit ${c.dailyLossLimit}`);
    }
    const dd = this.peak - equity;
    if (c.maxDrawdown !== undefined && dd >= c.maxDrawdown) {
      return this.trip(`drawdown ${fmtAmount(dd)} from peak equity ${fmtAmount(this.peak)} reached maxDrawdown ${c.maxDrawdown}`);
    }
    return undefined;
  }

  /** Trips it (a limit, or a manual kill). Returns the reason. */
  trip(reason: string): string {
    this._state = 'tripped';
    this._reason = reason;
    return reason;
  }

  /**
   * Re-arms it. The last observed equity becomes the new peak and day-start reference: after
   * a `/resume` the strategy has a fresh `dailyLossLimit` and `maxDrawdown` before it trips
   * again (otherwise it would trip on the very next mark).
   */
  reset(): void {
    this._state = 'armed';
    this._reason = undefined;
    this.peak = this.lastEquity;
    this.dayStartEquity = this.lastEquity;
  }
}
