import { describe, expect, it } from 'vitest';
import { InstrumentType, Liquidity, makeInstrument } from '../../src/api/index.js';
import { MakerTakerFeeModel, notional } from '../../src/sim/index.js';
import { EQ, PERP } from './harness.js';

describe('MakerTakerFeeModel', () => {
  it('charges rate × notional by liquidity; negative maker rate is a rebate', () => {
    const m = new MakerTakerFeeModel({ makerRate: -0.0001, takerRate: 0.0003 });
    expect(notional(EQ, 10001, 3)).toBeCloseTo(300.03, 10);
    expect(m.fee(EQ, 10001, 3, Liquidity.Taker)).toBeCloseTo(0.090009, 12);
    expect(m.fee(EQ, 10001, 3, Liquidity.Maker)).toBeCloseTo(-0.030003, 12);
  });
  it('defaults to a conservative 2 bp maker / 5 bp taker', () => {
    const m = new MakerTakerFeeModel();
    expect(m.ratesFor(EQ)).toEqual({ makerRate: 0.0002, takerRate: 0.0005 });
  });
  it('applies per-instrument overrides by id or name, id first, falling back per rate', () => {
    const m = new MakerTakerFeeModel({
      makerRate: 0.0002,
      takerRate: 0.0005,
      overrides: { [PERP.instrumentId]: { makerRate: -0.00025 }, [PERP.name]: { makerRate: 1, takerRate: 0.00075 }, [EQ.name]: { takerRate: 0 } },
    });
    expect(m.ratesFor(PERP)).toEqual({ makerRate: -0.00025, takerRate: 0.00075 });
    expect(m.ratesFor(EQ)).toEqual({ makerRate: 0.0002, takerRate: 0 });
  });
  it('counts the contract multiplier in the notional', () => {
    const fut = makeInstrument({ instrumentId: 9, exchange: 'SIM', name: 'f', type: InstrumentType.Future, tickSize: '0.25', lotSize: '1', baseCurrency: 'ES', quoteCurrency: 'USD', multiplier: 50 });
    expect(new MakerTakerFeeModel({ takerRate: 0.001 }).fee(fut, 20000, 2, Liquidity.Taker)).toBeCloseTo(500, 9); // 5000 × 2 × 50 × 0.001
  });
  it('refuses non-finite rates', () => {
    expect(() => new MakerTakerFeeModel({ makerRate: Number.NaN })).toThrow(RangeError);
    expect(() => new MakerTakerFeeModel({ overrides: { 1: { takerRate: Infinity } } })).toThrow(RangeError);
  });
});
