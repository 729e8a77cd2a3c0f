/**
 * Memoised `Price`/`Qty` values of one instrument, so that turning book events into strategy
 * callbacks does not build a decimal per event.
 * @module
 */
import { Price, Qty, type PriceGrid, type QtyGrid } from '../api/decimal.js';

/** Default bound on the entries of each map (prices and qtys separately). */
export const PRICE_CACHE_MAX_ENTRIES = 100_000;

const SLOTS = 4096;
const SLOT_MASK = SLOTS - 1;

/**
 * `Price`/`Qty` objects by ticks/lots for one instrument. They are immutable, so one object
 * can be handed to any number of callbacks. Each map is cleared whole once it holds more than
 * `maxEntries` values: a book revisits a narrow band of prices, so a full reset is cheaper
 * than tracking recency and is refilled within a few events.
 */
export class PriceCache {
  /** The grid the values are built on (the instrument). */
  readonly grid: PriceGrid & QtyGrid;
  /** Bound on the entries of each map (default `PRICE_CACHE_MAX_ENTRIES`). */
  readonly maxEntries: number;
  private readonly prices = new Map<number, Price>();
  private readonly qtys = new Map<number, Qty>();
  // A direct-mapped front of each map: one array read on the replay hot path instead of a
  // Map lookup. Slot = ticks (or lots) & SLOT_MASK; the key array says what the slot holds.
  private readonly priceKeys = new Float64Array(SLOTS).fill(Number.NaN);
  private readonly priceSlots: Array<Price | undefined> = new Array<Price | undefined>(SLOTS).fill(undefined);
  private readonly qtyKeys = new Float64Array(SLOTS).fill(Number.NaN);
  private readonly qtySlots: Array<Qty | undefined> = new Array<Qty | undefined>(SLOTS).fill(undefined);

  /**
   * @param grid the instrument (its `tickSize` and `lotSize`).
   * @param maxEntries entries kept per map before it is cleared; default 100 000.
   */
  constructor(grid: PriceGrid & QtyGrid, maxEntries = PRICE_CACHE_MAX_ENTRIES) {
    this.grid = grid;
    this.maxEntries = Math.max(1, maxEntries);
  }

  /** `ticks × tickSize`, exact. Fractional ticks are allowed (mid-point prints). */
  price(ticks: number): Price {
    const slot = ticks & SLOT_MASK;
    if (this.priceKeys[slot] === ticks) return this.priceSlots[slot]!;
    let p = this.prices.get(ticks);
    if (p === undefined) {
      if (this.prices.size >= this.maxEntries) this.prices.clear();
      p = Price.fromTicks(ticks, this.grid);
      this.prices.set(ticks, p);
    }
    this.priceKeys[slot] = ticks;
    this.priceSlots[slot] = p;
    return p;
  }

  /** `lots × lotSize`, exact. */
  qty(lots: number): Qty {
    const slot = lots & SLOT_MASK;
    if (this.qtyKeys[slot] === lots) return this.qtySlots[slot]!;
    let q = this.qtys.get(lots);
    if (q === undefined) {
      if (this.qtys.size >= this.maxEntries) this.qtys.clear();
      q = Qty.fromLots(lots, this.grid);
      this.qtys.set(lots, q);
    }
    this.qtyKeys[slot] = lots;
    this.qtySlots[slot] = q;
    return q;
  }

  /** Number of cached prices and qtys. */
  get size(): number {
    return this.prices.size + this.qtys.size;
  }

  /** Drops every cached value. */
  clear(): void {
    this.prices.clear();
    this.qtys.clear();
    this.priceKeys.fill(Number.NaN);
    this.qtyKeys.fill(Number.NaN);
    this.priceSlots.fill(undefined);
    this.qtySlots.fill(undefined);
  }
}
