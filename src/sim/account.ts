/**
 * Balances and positions of the simulated account. Exact decimals: a fill changes
 * balances by price × qty, which must not drift over millions of fills.
 * @module
 */
import { Decimal } from '../api/decimal.js';
import { InstrumentType } from '../api/enums.js';
import type { Instrument } from '../api/instrument.js';
import type { SideCode } from '../data/events.js';

/** Options of {@link SimAccount}. */
export interface AccountOptions {
  /** Starting total balance per coin, as decimal strings. Default: none (every coin at 0). */
  initialBalances?: Record<string, string>;
  /**
   * Allow selling what is not held (spot/equity: the base coin goes negative; derivatives:
   * the position goes short). Default `true`, as for equities and perpetuals.
   */
  allowShort?: boolean;
  /**
   * Refuse buys whose notional exceeds the quote coin's available balance. Default
   * `false`: the sim grants unlimited credit, as hftbacktest does, so a run without
   * `initialBalances` still trades.
   */
  checkCash?: boolean;
}

/** tickSize × lotSize × multiplier of each instrument: the notional of one lot at one tick. */
const UNIT_NOTIONAL = new WeakMap<Instrument, Decimal>();

/** Exact notional of `lots` at `priceTick`: price × qty × multiplier, in the quote currency. */
export function exactNotional(inst: Instrument, priceTick: number, lots: number): Decimal {
  // One Decimal product instead of four: ticks × lots is an exact integer while it stays safe.
  const n = priceTick * lots;
  if (Number.isSafeInteger(n)) {
    let unit = UNIT_NOTIONAL.get(inst);
    if (unit === undefined) UNIT_NOTIONAL.set(inst, (unit = inst.tickSize.d.mul(inst.lotSize.d).mul(inst.multiplier)));
    return unit.mul(n);
  }
  return inst.tickSize.d.mul(priceTick).mul(inst.lotSize.d.mul(lots)).mul(inst.multiplier);
}

/** Whether trading the instrument moves its base coin (spot and equities do; derivatives settle in the quote coin only). */
export function holdsBase(inst: Instrument): boolean {
  return inst.type === InstrumentType.Spot || inst.type === InstrumentType.Equity;
}

const ZERO = new Decimal(0);

/**
 * One account at the simulated venue: balances per coin and a net position per instrument.
 *
 * Every instrument settles like cash: a buy pays its notional plus fee from the quote coin
 * and a sell receives it, so `quote balance + Σ position × mark × multiplier` is the
 * account's equity for every instrument type. Spot and equity fills also move the base
 * coin. There is no margin model: derivatives behave as if fully collateralised (1×).
 *
 * Available balance = total − what open orders hold: the notional of open buys in the
 * quote coin, and the open sell qty in the base coin (spot/equity).
 */
export class SimAccount {
  /** Whether selling what is not held is allowed. */
  readonly allowShort: boolean;
  /** Whether buys are checked against the quote coin's available balance. */
  readonly checkCash: boolean;
  private readonly totals = new Map<string, Decimal>();
  private readonly reserved = new Map<string, Decimal>();
  private readonly positions = new Map<number, number>();
  private readonly openSellLots = new Map<number, number>();

  constructor(opts: AccountOptions = {}) {
    this.allowShort = opts.allowShort ?? true;
    this.checkCash = opts.checkCash ?? false;
    for (const [coin, v] of Object.entries(opts.initialBalances ?? {})) {
      // Decimal accepts hex and 'Infinity'; a balance never is one of those.
      if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(v.trim())) throw new TypeError(`initial balance of ${coin} is not a decimal: '${v}'`);
      this.totals.set(coin, new Decimal(v.trim()));
    }
  }

  /** Every coin with a balance or a reservation, sorted by name. */
  coins(): string[] {
    return [...new Set([...this.totals.keys(), ...this.reserved.keys()])].sort();
  }
  /** Total balance of a coin (0 for an unknown coin). */
  totalBalance(coin: string): Decimal {
    return this.totals.get(coin) ?? ZERO;
  }
  /** Total minus what open orders hold. */
  availableBalance(coin: string): Decimal {
    return this.totalBalance(coin).sub(this.reserved.get(coin) ?? ZERO);
  }
  /** Net position in lots: positive long, negative short. */
  positionLots(instrumentId: number): number {
    return this.positions.get(instrumentId) ?? 0;
  }

  /** An order of `lots` at `priceTick` now rests: hold what it may spend. */
  reserve(inst: Instrument, side: SideCode, priceTick: number, lots: number): void {
    this.hold(inst, side, priceTick, lots, 1);
  }
  /** `lots` of a resting order left the book (filled, cancelled or modified away). */
  release(inst: Instrument, side: SideCode, priceTick: number, lots: number): void {
    this.hold(inst, side, priceTick, lots, -1);
  }

  /**
   * Whether the account may open an order of `lots` on `side`. `buyCost` is the most a
   * buy can spend (limit notional, or the walk's cost for a market order).
   */
  canAfford(inst: Instrument, side: SideCode, lots: number, buyCost: Decimal): boolean {
    if (side > 0) return !this.checkCash || this.availableBalance(inst.quoteCurrency).gte(buyCost);
    if (this.allowShort) return true;
    if (holdsBase(inst)) return this.availableBalance(inst.baseCurrency).gte(inst.lotSize.d.mul(lots));
    return this.positionLots(inst.instrumentId) - (this.openSellLots.get(inst.instrumentId) ?? 0) >= lots;
  }

  /** Books a fill: position, quote coin (notional and fee), and the base coin for spot/equity. */
  applyFill(inst: Instrument, side: SideCode, priceTick: number, lots: number, fee: Decimal): void {
    const id = inst.instrumentId;
    this.positions.set(id, this.positionLots(id) + side * lots);
    const cash = exactNotional(inst, priceTick, lots).mul(-side).sub(fee);
    this.add(this.totals, inst.quoteCurrency, cash);
    if (holdsBase(inst)) this.add(this.totals, inst.baseCurrency, inst.lotSize.d.mul(side * lots));
  }

  private hold(inst: Instrument, side: SideCode, priceTick: number, lots: number, sign: 1 | -1): void {
    if (lots === 0) return;
    if (side > 0) {
      this.add(this.reserved, inst.quoteCurrency, exactNotional(inst, priceTick, lots).mul(sign));
      return;
    }
    const id = inst.instrumentId;
    this.openSellLots.set(id, (this.openSellLots.get(id) ?? 0) + sign * lots);
    if (holdsBase(inst)) this.add(this.reserved, inst.baseCurrency, inst.lotSize.d.mul(sign * lots));
  }
  private add(m: Map<string, Decimal>, coin: string, v: Decimal): void {
    m.set(coin, (m.get(coin) ?? ZERO).add(v));
  }
}
