import { InstrumentType } from './enums.js';
import { Price, Qty } from './decimal.js';

/**
 * A tradable instrument as the venue's instrument list defines it. Prices are on the
 * `tickSize` grid and quantities on the `lotSize` grid; inside books and the matching
 * engine they are integer ticks and lots (`price = ticks × tickSize`).
 */
export interface Instrument {
  /** Venue-defined numeric id. */
  readonly instrumentId: number;
  /** Venue id, e.g. `'SIM'`, `'LOBSTER'`. */
  readonly exchange: string;
  /** Readable unique name, e.g. `'nasdaq:equity:amzn'` or `'byt:perp:btc-usdt'`. */
  readonly name: string;
  /** Kind of instrument. */
  readonly type: InstrumentType;
  /** Smallest price increment. */
  readonly tickSize: Price;
  /** Smallest qty increment. */
  readonly lotSize: Qty;
  /** Smallest qty of an order. */
  readonly minQty: Qty;
  /** Decimal places of a price on the grid. */
  readonly pricePrecision: number;
  /** Decimal places of a qty on the grid. */
  readonly qtyPrecision: number;
  /** Currency of the quantity (the stock or coin). */
  readonly baseCurrency: string;
  /** Currency of the price (and of PnL and fees). */
  readonly quoteCurrency: string;
  /** Contract multiplier: notional = price × qty × multiplier. 1 for spot and equities. */
  readonly multiplier: number;
}

/** Fields to describe an instrument; decimals as strings. */
export interface InstrumentSpec {
  instrumentId: number;
  exchange: string;
  name: string;
  type?: InstrumentType;
  tickSize: string;
  lotSize: string;
  minQty?: string;
  baseCurrency: string;
  quoteCurrency: string;
  multiplier?: number;
}

function decimals(v: Price | Qty): number {
  return v.d.decimalPlaces();
}

/** Builds a frozen `Instrument` from a spec; `minQty` defaults to `lotSize`, `type` to Spot, `multiplier` to 1. */
export function makeInstrument(spec: InstrumentSpec): Instrument {
  const tickSize = Price.of(spec.tickSize);
  const lotSize = Qty.of(spec.lotSize);
  if (!tickSize.isPositive()) throw new RangeError(`instrument ${spec.name}: tickSize must be positive`);
  if (!lotSize.isPositive()) throw new RangeError(`instrument ${spec.name}: lotSize must be positive`);
  const minQty = spec.minQty === undefined ? lotSize : Qty.of(spec.minQty);
  return Object.freeze({
    instrumentId: spec.instrumentId,
    exchange: spec.exchange,
    name: spec.name,
    type: spec.type ?? InstrumentType.Spot,
    tickSize,
    lotSize,
    minQty,
    pricePrecision: decimals(tickSize),
    qtyPrecision: decimals(lotSize),
    baseCurrency: spec.baseCurrency,
    quoteCurrency: spec.quoteCurrency,
    multiplier: spec.multiplier ?? 1,
  });
}
