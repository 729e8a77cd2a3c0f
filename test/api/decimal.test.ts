import { describe, expect, it } from 'vitest';
import { Price, Qty, makeInstrument, parsePrice } from '../../src/api/index.js';

const inst = makeInstrument({ instrumentId: 1, exchange: 'SIM', name: 'x', tickSize: '0.5', lotSize: '0.001', baseCurrency: 'BTC', quoteCurrency: 'USD' });

describe('Price and Qty', () => {
  it('rounds numbers onto the grid in the mode asked', () => {
    expect(Price.fromNumber(9226.7, inst, 'down').toString()).toBe('9226.5');
    expect(Price.fromNumber(9226.7, inst, 'up').toString()).toBe('9227');
    expect(Price.fromNumber(9226.74, inst, 'nearest').toString()).toBe('9226.5');
    expect(Qty.fromNumber(0.0015, inst, 'down').toString()).toBe('0.001');
    expect(Qty.fromNumber(0.1 + 0.2, inst, 'nearest').toString()).toBe('0.3');
  });
  it('converts exactly to and from ticks and lots', () => {
    expect(Price.of('9226.5').toTicks(inst)).toBe(18453);
    expect(Price.fromTicks(18453, inst).toString()).toBe('9226.5');
    expect(Qty.of('1.234').toLots(inst)).toBe(1234);
    expect(Price.of('9226.25').isOnGrid(inst)).toBe(false);
  });
  it('refuses what is not a decimal', () => {
    expect(() => Price.of('0x10')).toThrow(TypeError);
    expect(() => Price.of('abc')).toThrow(TypeError);
    expect(parsePrice('Infinity')).toBeUndefined();
    expect(parsePrice(Number.NaN)).toBeUndefined();
    expect(parsePrice(12.5)?.toString()).toBe('12.5');
  });
  it('derives precision from the grid and serialises as strings', () => {
    expect(inst.pricePrecision).toBe(1);
    expect(inst.qtyPrecision).toBe(3);
    expect(JSON.stringify({ p: Price.of('1.50') })).toBe('{"p":"1.5"}');
  });
});
