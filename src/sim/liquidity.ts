/**
 * Liquidity the strategy's own takes have used up. Taker fills leave the replayed book
 * untouched (the data does not know about us), so without this a second take at the same
 * level would fill against the same lots again.
 * @module
 */

/** Lots consumed at one level and the visible qty when last seen. */
export interface Consumed {
  lots: number;
  /** Visible qty at the last look: a later shrink is measured against it. */
  visibleLots: number;
}

/**
 * Lots consumed per price level of one side. A record shrinks as the market shows the level
 * shrinking (whoever left the level took our consumed lots with them first, as they sat at
 * the front of its queue) and is dropped when the level is empty.
 */
export class ConsumedLiquidity {
  private readonly levels = new Map<number, Consumed>();

  /** Number of levels with consumed lots. */
  get size(): number {
    return this.levels.size;
  }
  /** True when a level has a record. */
  has(tick: number): boolean {
    return this.levels.has(tick);
  }
  /** Lots still available to the strategy at a level that shows `visibleLots`. */
  available(tick: number, visibleLots: number): number {
    const c = this.refresh(tick, visibleLots);
    return c ? Math.max(0, visibleLots - c.lots) : visibleLots;
  }
  /** Records a take of `lots` at a level that shows `visibleLots`. */
  consume(tick: number, lots: number, visibleLots: number): void {
    const c = this.refresh(tick, visibleLots);
    if (c) c.lots += lots;
    else this.levels.set(tick, { lots, visibleLots });
  }
  /** The level now shows `visibleLots`: shrink or drop its record. */
  refresh(tick: number, visibleLots: number): Consumed | undefined {
    const c = this.levels.get(tick);
    if (!c) return undefined;
    if (visibleLots <= 0) {
      this.levels.delete(tick);
      return undefined;
    }
    if (visibleLots < c.visibleLots) c.lots = Math.max(0, c.lots - (c.visibleLots - visibleLots));
    c.visibleLots = visibleLots;
    if (c.lots === 0) {
      this.levels.delete(tick);
      return undefined;
    }
    return c;
  }
  /** Ticks with a record, in insertion order. */
  ticks(): number[] {
    return [...this.levels.keys()];
  }
  /** Forgets everything (the book was cleared). */
  clear(): void {
    this.levels.clear();
  }
}
