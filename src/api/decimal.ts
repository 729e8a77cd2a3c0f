import { Decimal } from 'decimal.js';

/** How to put a number onto a grid: `down` toward −∞, `up` toward +∞, `nearest` half away from zero. */
export type RoundingMode = 'up' | 'down' | 'nearest';

/** Anything a `Price`/`Qty` can be built from without rounding: a decimal string, a Decimal or another value. */
export type DecimalInput = string | Decimal | DecimalValue;

/** The parts of an instrument that a grid needs. */
export interface PriceGrid {
  readonly tickSize: Price;
}
/** The parts of an instrument that a qty grid needs. */
export interface QtyGrid {
  readonly lotSize: Qty;
}

const ROUND: Record<RoundingMode, Decimal.Rounding> = {
  up: Decimal.ROUND_CEIL,
  down: Decimal.ROUND_FLOOR,
  nearest: Decimal.ROUND_HALF_UP,
};

function toDecimal(v: DecimalInput): Decimal {
  if (v instanceof DecimalValue) return v.d;
  if (Decimal.isDecimal(v)) return v as Decimal;
  // A Price/Qty from another copy of this module (a strategy bundled with its own tradeloop).
  if (v !== null && typeof v === 'object' && Decimal.isDecimal((v as { d?: unknown }).d)) return (v as { d: Decimal }).d;
  if (typeof v !== 'string') throw new TypeError(`expected a decimal string, got ${typeof v}`);
  const s = v.trim();
  // Decimal accepts hex, binary and 'Infinity'; a price never is one of those.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new TypeError(`not a decimal number: '${v}'`);
  return new Decimal(s);
}

/**
 * Rounds `value` onto the grid of `step` (a positive decimal) in the given mode.
 * Exact: the result is an integer multiple of `step`.
 */
export function roundToGrid(value: Decimal, step: Decimal, mode: RoundingMode): Decimal {
  return value.div(step).toDecimalPlaces(0, ROUND[mode]).mul(step);
}

/** True when `value` is an integer multiple of `step`. */
export function isOnGrid(value: Decimal, step: Decimal): boolean {
  return value.mod(step).isZero();
}

/** Shared behaviour of `Price` and `Qty`: an immutable decimal.js value. */
export abstract class DecimalValue {
  /** The underlying decimal.js value. */
  readonly d: Decimal;
  protected constructor(d: Decimal) {
    this.d = d;
  }
  /** Canonical decimal string (no exponent, no trailing zeros), e.g. `'2237.95'`. */
  toString(): string {
    return this.d.toFixed();
  }
  /** Serialises as the decimal string, so journals hold exact values. */
  toJSON(): string {
    return this.toString();
  }
  /** Nearest JS number; for display and statistics, not for order math. */
  toNumber(): number {
    return this.d.toNumber();
  }
  /** Fixed number of decimal places, e.g. for display with an instrument's precision. */
  toFixed(dp: number): string {
    return this.d.toFixed(dp);
  }
  /** Value equality. */
  eq(o: DecimalInput): boolean {
    return this.d.eq(toDecimal(o));
  }
  /** Strictly less than. */
  lt(o: DecimalInput): boolean {
    return this.d.lt(toDecimal(o));
  }
  /** Less than or equal. */
  lte(o: DecimalInput): boolean {
    return this.d.lte(toDecimal(o));
  }
  /** Strictly greater than. */
  gt(o: DecimalInput): boolean {
    return this.d.gt(toDecimal(o));
  }
  /** Greater than or equal. */
  gte(o: DecimalInput): boolean {
    return this.d.gte(toDecimal(o));
  }
  /** True for zero. */
  isZero(): boolean {
    return this.d.isZero();
  }
  /** True for a value above zero. */
  isPositive(): boolean {
    return this.d.gt(0);
  }
}

/** An immutable price. Build from a string (`Price.of('9226.5')`), or from a number with explicit rounding onto an instrument's tick grid. */
export class Price extends DecimalValue {
  private constructor(d: Decimal) {
    super(d);
  }
  /** Zero. */
  static readonly ZERO = new Price(new Decimal(0));
  /** Exact price from a decimal string or Decimal; throws `TypeError` on anything else. */
  static of(v: DecimalInput): Price {
    return v instanceof Price ? v : new Price(toDecimal(v));
  }
  /** Rounds a JS number onto the instrument's tick grid (the MLThon `TickFormat` helper). */
  static fromNumber(p: number, grid: PriceGrid, mode: RoundingMode): Price {
    if (!Number.isFinite(p)) throw new TypeError(`not a finite price: ${p}`);
    return new Price(roundToGrid(new Decimal(p), grid.tickSize.d, mode));
  }
  /** Rounds an exact decimal onto the tick grid. */
  static round(v: DecimalInput, grid: PriceGrid, mode: RoundingMode): Price {
    return new Price(roundToGrid(toDecimal(v), grid.tickSize.d, mode));
  }
  /** `ticks × tickSize`, exact. Fractional ticks are allowed (mid-point prints). */
  static fromTicks(ticks: number, grid: PriceGrid): Price {
    return new Price(grid.tickSize.d.mul(ticks));
  }
  /** This price in ticks of the grid; fractional if off-grid. */
  toTicks(grid: PriceGrid): number {
    return this.d.div(grid.tickSize.d).toNumber();
  }
  /** True when the price is a multiple of the grid's tick size. */
  isOnGrid(grid: PriceGrid): boolean {
    return isOnGrid(this.d, grid.tickSize.d);
  }
  /** `this + n × tickSize`. */
  addTicks(n: number, grid: PriceGrid): Price {
    return new Price(this.d.add(grid.tickSize.d.mul(n)));
  }
  /** Sum. */
  add(o: DecimalInput): Price {
    return new Price(this.d.add(toDecimal(o)));
  }
  /** Difference. */
  sub(o: DecimalInput): Price {
    return new Price(this.d.sub(toDecimal(o)));
  }
}

/** An immutable quantity. Build from a string (`Qty.of('0.5')`), or from a number with explicit rounding onto an instrument's lot grid. */
export class Qty extends DecimalValue {
  private constructor(d: Decimal) {
    super(d);
  }
  /** Zero. */
  static readonly ZERO = new Qty(new Decimal(0));
  /** Exact qty from a decimal string or Decimal; throws `TypeError` on anything else. */
  static of(v: DecimalInput): Qty {
    return v instanceof Qty ? v : new Qty(toDecimal(v));
  }
  /** Rounds a JS number onto the instrument's lot grid. */
  static fromNumber(q: number, grid: QtyGrid, mode: RoundingMode): Qty {
    if (!Number.isFinite(q)) throw new TypeError(`not a finite qty: ${q}`);
    return new Qty(roundToGrid(new Decimal(q), grid.lotSize.d, mode));
  }
  /** Rounds an exact decimal onto the lot grid. */
  static round(v: DecimalInput, grid: QtyGrid, mode: RoundingMode): Qty {
    return new Qty(roundToGrid(toDecimal(v), grid.lotSize.d, mode));
  }
  /** `lots × lotSize`, exact. */
  static fromLots(lots: number, grid: QtyGrid): Qty {
    return new Qty(grid.lotSize.d.mul(lots));
  }
  /** This qty in lots of the grid; fractional if off-grid. */
  toLots(grid: QtyGrid): number {
    return this.d.div(grid.lotSize.d).toNumber();
  }
  /** True when the qty is a multiple of the grid's lot size. */
  isOnGrid(grid: QtyGrid): boolean {
    return isOnGrid(this.d, grid.lotSize.d);
  }
  /** Sum. */
  add(o: DecimalInput): Qty {
    return new Qty(this.d.add(toDecimal(o)));
  }
  /** Difference (may be negative). */
  sub(o: DecimalInput): Qty {
    return new Qty(this.d.sub(toDecimal(o)));
  }
  /** Negation. */
  neg(): Qty {
    return new Qty(this.d.neg());
  }
  /** Absolute value. */
  abs(): Qty {
    return new Qty(this.d.abs());
  }
}

/** Parses a `Price` from a request field; returns `undefined` for anything that is not an exact decimal. */
export function parsePrice(v: unknown): Price | undefined {
  try {
    if (typeof v === 'number') return Number.isFinite(v) ? Price.of(String(v)) : undefined;
    return Price.of(v as DecimalInput);
  } catch {
    return undefined;
  }
}

/** Parses a `Qty` from a request field; returns `undefined` for anything that is not an exact decimal. */
export function parseQty(v: unknown): Qty | undefined {
  try {
    if (typeof v === 'number') return Number.isFinite(v) ? Qty.of(String(v)) : undefined;
    return Qty.of(v as DecimalInput);
  } catch {
    return undefined;
  }
}

export { Decimal };
