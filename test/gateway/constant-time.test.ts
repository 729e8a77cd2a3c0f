import { describe, expect, it } from 'vitest';
import { TokenVerifier, constantTimeEqual } from '../../src/gateway/constant-time.js';

describe('constantTimeEqual', () => {
  it('compares strings of any lengths', () => {
    expect(constantTimeEqual('s3cret', 's3cret')).toBe(true);
    expect(constantTimeEqual('s3cret', 's3creT')).toBe(false);
    expect(constantTimeEqual('s3cret', 's3cret ')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('', 'x'.repeat(10_000))).toBe(false);
    expect(constantTimeEqual('é', 'e\u0301')).toBe(false);
  });
});

describe('TokenVerifier', () => {
  const v = new TokenVerifier({ 'mm-1': 'tok-1', arb: 'tok-2' });

  it('accepts the configured token of a strategy only', () => {
    expect(v.size).toBe(2);
    expect(v.verify('mm-1', 'tok-1')).toBe(true);
    expect(v.verify('arb', 'tok-2')).toBe(true);
    expect(v.verify('mm-1', 'tok-2')).toBe(false);
    expect(v.verify('mm-1', '')).toBe(false);
    expect(v.verify('nobody', 'tok-1')).toBe(false);
  });

  it('does not find names on Object.prototype', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) expect(v.verify(name, 'tok-1')).toBe(false);
  });

  it('refuses an unknown strategy even with the dummy digest input', () => {
    expect(v.verify('ghost', '\u0000tradeloop: no such strategy\u0000')).toBe(false);
  });

  it('takes a Map and refuses empty tokens', () => {
    expect(new TokenVerifier(new Map([['a', 'b']])).verify('a', 'b')).toBe(true);
    expect(() => new TokenVerifier({ a: '' })).toThrow(/non-empty/);
  });

  it('spends about the same time on a wrong, a right, and an unknown name', () => {
    // A coarse check that no path skips the hash and compare (e.g. an early return for an
    // unknown name). The three are timed in interleaved rounds, so that a change in machine
    // load (parallel test files) hits them alike; medians, and a loose bound.
    const kinds = [() => v.verify('mm-1', 'tok-1'), () => v.verify('nobody', 'tok-1'), () => v.verify('mm-1', 'zzzzz')];
    const samples: number[][] = [[], [], []];
    for (let r = 0; r < 31; r++) {
      for (let j = 0; j < 3; j++) {
        const k = (r + j) % 3;
        const f = kinds[k]!;
        const t = process.hrtime.bigint();
        for (let i = 0; i < 1000; i++) f();
        samples[k]!.push(Number(process.hrtime.bigint() - t));
      }
    }
    const [right, unknown, wrong] = samples.map((xs) => xs.sort((a, b) => a - b)[15]!) as [number, number, number];
    // A path without the hash would run at a few percent of the others' time; 0.33 flaked
    // at 0.32 on a loaded CI machine, so the bound sits between the two.
    for (const t of [unknown, wrong]) {
      expect(t / right).toBeGreaterThan(0.2);
      expect(t / right).toBeLessThan(5);
    }
  });
});
