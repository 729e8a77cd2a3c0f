/**
 * Trading fees of the simulated venue.
 * @module
 */
import { Liquidity } from '../api/enums.js';
import type { Instrument } from '../api/instrument.js';

/** Computes the fee of one fill. */
export interface FeeModel {
  /**
   * Fee of a fill in the instrument's quote currency, as a JS number; negative for a
   * rebate. `priceTick` and `qtyLots` are on the instrument's grid.
   */
  fee(inst: Instrument, priceTick: number, qtyLots: number, liquidity: Liquidity): number;
}

/** Maker and taker rates as fractions of notional (0.0002 = 2 bp); negative = rebate. */
export interface MakerTakerRates {
  /** Rate on fills that added liquidity. */
  makerRate: number;
  /** Rate on fills that took liquidity. */
  takerRate: number;
}

/** Options of {@link MakerTakerFeeModel}. */
export interface MakerTakerFeeOptions extends Partial<MakerTakerRates> {
  /**
   * Rates per instrument, keyed by instrument id (`'7'` or `7`) or by name
   * (`'nasdaq:equity:amzn'`); the id wins when both match. Missing rates fall back to the
   * model's defaults.
   */
  overrides?: Record<string | number, Partial<MakerTakerRates>>;
}

/** Notional of a fill in the quote currency: price × qty × multiplier. */
export function notional(inst: Instrument, priceTick: number, qtyLots: number): number {
  // Integer ticks × lots first keeps the exact part exact; only the grid sizes are inexact.
  return priceTick * qtyLots * inst.tickSize.toNumber() * inst.lotSize.toNumber() * inst.multiplier;
}

/**
 * Fee = rate × notional, with one rate for maker fills and one for taker fills.
 * Defaults: `makerRate` 0.0002 and `takerRate` 0.0005, a conservative crypto-like tier
 * that assumes no maker rebate; pass a negative `makerRate` to model one.
 */
export class MakerTakerFeeModel implements FeeModel {
  /** Default rate on maker fills. */
  readonly makerRate: number;
  /** Default rate on taker fills. */
  readonly takerRate: number;
  private readonly overrides: Record<string, Partial<MakerTakerRates>>;

  /** @throws RangeError for a non-finite rate. */
  constructor(opts: MakerTakerFeeOptions = {}) {
    this.makerRate = checkRate('makerRate', opts.makerRate ?? 0.0002);
    this.takerRate = checkRate('takerRate', opts.takerRate ?? 0.0005);
    this.overrides = {};
    for (const [k, r] of Object.entries(opts.overrides ?? {})) {
      if (r.makerRate !== undefined) checkRate(`overrides[${k}].makerRate`, r.makerRate);
      if (r.takerRate !== undefined) checkRate(`overrides[${k}].takerRate`, r.takerRate);
      this.overrides[k] = { ...r };
    }
  }

  /** The rates that apply to an instrument after overrides. */
  ratesFor(inst: Instrument): MakerTakerRates {
    const byId = this.overrides[String(inst.instrumentId)];
    const byName = this.overrides[inst.name];
    return {
      makerRate: byId?.makerRate ?? byName?.makerRate ?? this.makerRate,
      takerRate: byId?.takerRate ?? byName?.takerRate ?? this.takerRate,
    };
  }

  /** `rate × notional`, the rate chosen by liquidity. */
  fee(inst: Instrument, priceTick: number, qtyLots: number, liquidity: Liquidity): number {
    const r = this.ratesFor(inst);
    const rate = liquidity === Liquidity.Maker ? r.makerRate : r.takerRate;
    return rate * notional(inst, priceTick, qtyLots);
  }
}

function checkRate(name: string, v: number): number {
  if (!Number.isFinite(v)) throw new RangeError(`${name} must be a finite number, got ${v}`);
  return v;
}
