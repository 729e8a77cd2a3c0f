import { describe, expect, it } from 'vitest';
import { Price, makeInstrument } from '../../src/api/index.js';
import { PriceCache } from '../../src/book/price-cache.js';

const inst = makeInstrument({ instrumentId: 1, exchange: 'SIM', name: 'x', tickSize: '0.01', lotSize: '0.001', baseCurrency: 'X', quoteCurrency: 'USD' });

describe('PriceCache', () => {
  it('builds exact prices and qtys from ticks and lots', () => {
    const c = new PriceCache(inst);
    expect(c.price(223795).toString()).toBe('2237.95');
    expect(c.price(58533.5).toString()).toBe('585.335');
    expect(c.qty(1500).toString()).toBe('1.5');
    expect(c.price(0).toString()).toBe('0');
  });

  it('returns the same object for the same ticks', () => {
    const c = new PriceCache(inst);
    expect(c.price(100)).toBe(c.price(100));
    expect(c.qty(7)).toBe(c.qty(7));
    expect(c.price(100)).not.toBe(c.price(101));
    expect(c.size).toBe(3);
  });

  it('stays bounded: a full map is cleared and refilled', () => {
    const c = new PriceCache(inst, 3);
    const first = c.price(1);
    c.price(2);
    c.price(3);
    expect(c.size).toBe(3);
    c.price(4);
    expect(c.size).toBe(1);
    // The fixed-size front (4096 slots) may still hold it: same value either way.
    const again = c.price(1);
    expect(again.eq(first)).toBe(true);
    expect(c.size).toBeLessThanOrEqual(3);
  });

  it('serves a slot collision (ticks 4096 apart) with the right value', () => {
    const c = new PriceCache(inst);
    const a = c.price(5);
    const b = c.price(5 + 4096);
    expect(b.eq(a)).toBe(false);
    expect(c.price(5)).toBe(a);
    expect(c.price(5).eq(Price.fromTicks(5, inst))).toBe(true);
    expect(c.price(-3).eq(Price.fromTicks(-3, inst))).toBe(true);
    expect(c.price(2.5).eq(Price.fromTicks(2.5, inst))).toBe(true);
  });
});
