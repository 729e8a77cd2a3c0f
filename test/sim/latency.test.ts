import { describe, expect, it } from 'vitest';
import { ConstantLatencyModel } from '../../src/sim/index.js';

describe('ConstantLatencyModel', () => {
  it('defaults to 100 µs each way for every action', () => {
    const m = new ConstantLatencyModel();
    for (const a of ['place', 'modify', 'cancel', 'fetch'] as const) {
      expect([m.entryUs(a), m.responseUs(a)]).toEqual([100, 100]);
    }
  });
  it('uses the given latencies and refuses negative ones', () => {
    const m = new ConstantLatencyModel({ entryUs: 250, responseUs: 0 });
    expect([m.entryUs('cancel'), m.responseUs('place')]).toEqual([250, 0]);
    expect(() => new ConstantLatencyModel({ entryUs: -1 })).toThrow(RangeError);
    expect(() => new ConstantLatencyModel({ responseUs: Number.NaN })).toThrow(RangeError);
  });
});
