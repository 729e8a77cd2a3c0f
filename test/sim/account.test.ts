import { describe, expect, it } from 'vitest';
import { Decimal, InstrumentType, makeInstrument } from '../../src/api/index.js';
import { SimAccount } from '../../src/sim/index.js';
import { exactNotional } from '../../src/sim/account.js';
import { EQ, PERP } from './harness.js';

const fee = (v: string) => new Decimal(v);

describe('SimAccount', () => {
  it('settles spot/equity fills in both coins and deducts fees from the quote coin', () => {
    const a = new SimAccount({ initialBalances: { USD: '1000.5' } });
    a.applyFill(EQ, 1, 10001, 3, fee('0.09')); // buy 3 @ 100.01
    a.applyFill(EQ, -1, 10005, 1, fee('-0.01')); // sell 1 @ 100.05, rebate
    expect(a.totalBalance('USD').toString()).toBe('800.44'); // 1000.5 − 300.03 − 0.09 + 100.05 + 0.01
    expect(a.totalBalance('ABC').toString()).toBe('2');
    expect(a.positionLots(EQ.instrumentId)).toBe(2);
    expect(a.coins()).toEqual(['ABC', 'USD']);
  });
  it('moves only the quote coin and the position for derivatives', () => {
    const a = new SimAccount();
    a.applyFill(PERP, -1, 60000, 1500, fee('0')); // short 1.5 @ 30000
    expect(a.positionLots(PERP.instrumentId)).toBe(-1500);
    expect(a.totalBalance('USD').toString()).toBe('45000');
    expect(a.totalBalance('BTC').toString()).toBe('0');
  });
  it('holds open buys’ notional and open sells’ qty out of the available balance', () => {
    const a = new SimAccount({ initialBalances: { USD: '1000', ABC: '5' } });
    a.reserve(EQ, 1, 10000, 4);
    a.reserve(EQ, -1, 10100, 3);
    expect(a.availableBalance('USD').toString()).toBe('600');
    expect(a.availableBalance('ABC').toString()).toBe('2');
    a.release(EQ, 1, 10000, 4);
    expect(a.availableBalance('USD').toString()).toBe('1000');
    expect(a.totalBalance('USD').toString()).toBe('1000');
  });
  it('checks cash only when asked, and short sales only when disallowed', () => {
    const lax = new SimAccount();
    expect(lax.canAfford(EQ, 1, 1_000_000, new Decimal('1e8'))).toBe(true);
    expect(lax.canAfford(EQ, -1, 1_000_000, new Decimal(0))).toBe(true);
    const strict = new SimAccount({ initialBalances: { USD: '100', ABC: '2' }, checkCash: true, allowShort: false });
    expect(strict.canAfford(EQ, 1, 1, new Decimal('100'))).toBe(true);
    expect(strict.canAfford(EQ, 1, 1, new Decimal('100.01'))).toBe(false);
    expect(strict.canAfford(EQ, -1, 2, new Decimal(0))).toBe(true);
    strict.reserve(EQ, -1, 10100, 1);
    expect(strict.canAfford(EQ, -1, 2, new Decimal(0))).toBe(false);
    expect(strict.canAfford(PERP, -1, 1, new Decimal(0))).toBe(false); // flat: selling would go short
  });
  it('refuses balances that are not decimals', () => {
    expect(() => new SimAccount({ initialBalances: { USD: '0x10' } })).toThrow(TypeError);
  });
});

describe('exactNotional', () => {
  it('is price × qty × multiplier exactly, through the cached one-lot-one-tick unit and beyond safe integers', () => {
    const naive = (inst: typeof EQ, tick: number, lots: number) => inst.tickSize.d.times(tick).times(inst.lotSize.d.times(lots)).times(inst.multiplier);
    const odd = makeInstrument({ exchange: 'X', instrumentId: 9, name: 'odd', type: InstrumentType.Future, tickSize: '0.0005', lotSize: '0.001', multiplier: 25, baseCurrency: 'ODD', quoteCurrency: 'USD' });
    // A seeded walk over ordinary and huge values (ticks × lots past 2^53 takes the long way).
    let x = 12345;
    const next = (max: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % max);
    for (const inst of [EQ, PERP, odd]) {
      for (let i = 0; i < 500; i++) {
        const tick = i % 50 === 0 ? 2 ** 40 + next(1000) : next(10_000_000) - (i % 7 === 0 ? 5_000_000 : 0);
        const lots = i % 50 === 0 ? 2 ** 20 + next(1000) : next(1_000_000);
        expect(exactNotional(inst, tick, lots).eq(naive(inst, tick, lots)), `${inst.name} ${tick} × ${lots}`).toBe(true);
      }
    }
    expect(exactNotional(odd, 2001, 3).toString()).toBe(new Decimal('1.0005').times('0.003').times(25).toString());
  });
});
