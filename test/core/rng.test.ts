import { describe, expect, it } from 'vitest';
import { SeededRng, Z_99, detExp, detLog, normalQuantile } from '../../src/core/rng.js';

/** The 64-bit pattern of a double, as hex. */
function bits(x: number): string {
  const f = new Float64Array([x]);
  return '0x' + new BigUint64Array(f.buffer)[0]!.toString(16);
}

/** Distance in ulps between two finite doubles of the same sign. */
function ulps(a: number, b: number): number {
  const f = new Float64Array([a, b]);
  const u = new BigInt64Array(f.buffer);
  const d = u[0]! - u[1]!;
  return Number(d < 0n ? -d : d);
}

function draws(n: number, f: () => number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = f();
  return out;
}

function quantile(sorted: number[], p: number): number {
  return sorted[Math.floor(p * (sorted.length - 1))]!;
}

describe('SeededRng: the raw sequence', () => {
  // Golden values from the reference C code (splitmix64 seeding, then xoshiro128**), compiled
  // and run independently: the first 8 words and the 1,000,001st.
  const GOLDEN: [number, number[], number][] = [
    [0, [3737715805, 2584255861, 2876756834, 3286328325, 1553311962, 1625202774, 3260698944, 2754151956], 3401338190],
    [1, [1695105466, 1423115009, 634581793, 1068227753, 716759206, 4186505319, 3777694425, 2710820970], 3368339458],
    [42, [1776835114, 4165204688, 17111135, 2317295270, 2792088233, 2554630222, 2940343271, 2244566231], 2880669927],
    [-1, [477689756, 2493998634, 555695776, 607808419, 61340979, 301466976, 2478485284, 2565876330], 1373114536],
  ];

  it.each(GOLDEN)('seed %i gives the reference words', (seed, first, millionth) => {
    const r = new SeededRng(seed);
    expect(draws(8, () => r.uint32())).toEqual(first);
    for (let i = 8; i < 1_000_000; i++) r.uint32();
    expect(r.uint32()).toBe(millionth);
  });

  it('takes a seed modulo 2^64: bigint and number seeds agree', () => {
    const a = new SeededRng(-1);
    const b = new SeededRng(2n ** 64n - 1n);
    const c = new SeededRng(42);
    const d = new SeededRng(42n + 2n ** 64n);
    expect(draws(5, () => a.uint32())).toEqual(draws(5, () => b.uint32()));
    expect(draws(5, () => c.uint32())).toEqual(draws(5, () => d.uint32()));
  });

  it('gives different sequences for neighbouring seeds', () => {
    const a = draws(4, () => new SeededRng(7).uint32());
    const s1 = new SeededRng(7);
    const s2 = new SeededRng(8);
    expect(draws(4, () => s1.uint32())).not.toEqual(draws(4, () => s2.uint32()));
    expect(a).toHaveLength(4);
  });

  it('rejects seeds that are not safe integers', () => {
    expect(() => new SeededRng(0.5)).toThrow(RangeError);
    expect(() => new SeededRng(Number.NaN)).toThrow(RangeError);
    expect(() => new SeededRng(2 ** 60)).toThrow(RangeError);
  });

  it('saves and restores its position, spare normal deviate included', () => {
    const r = new SeededRng(3);
    for (let i = 0; i < 10; i++) r.uint32();
    r.normal(); // leaves a spare
    const saved = r.state;
    const spare = r.spareNormal;
    expect(spare).toBeTypeOf('number');
    const expected = [r.normal(), r.uint32(), r.next(), r.int(1000)];
    const back = SeededRng.fromState(saved);
    back.restore(saved, spare);
    expect([back.normal(), back.uint32(), back.next(), back.int(1000)]).toEqual(expected);
    const c = back.clone();
    expect(draws(5, () => c.uint32())).toEqual(draws(5, () => back.uint32()));
    expect(() => r.restore([0, 0, 0, 0])).toThrow(RangeError);
    expect(() => r.restore([1, 2, 3, 2 ** 32])).toThrow(RangeError);
  });
});

describe('SeededRng: derived draws', () => {
  it('gives golden derived values for seed 42 (they depend only on integer ops and the fdlibm ports)', () => {
    const a = new SeededRng(42);
    expect([a.next(), a.next(), a.next()]).toEqual([0.4137016632594168, 0.9697872884571552, 0.0039839965756982565]);
    const b = new SeededRng(42);
    expect([b.next53(), b.next53()]).toEqual([0.4137016681565887, 0.003983993377814743]);
    const c = new SeededRng(42);
    expect(draws(10, () => c.int(10))).toEqual([4, 9, 0, 5, 6, 5, 6, 5, 8, 6]);
    const d = new SeededRng(42);
    expect([d.expStd(), d.expStd(), d.expStd()]).toEqual([0.2939809667428599, 2.985373852709245, 0.005117343439458709]);
    const e = new SeededRng(42);
    expect([e.normal(), e.normal(), e.normal()]).toEqual([-0.07727615670674905, 0.4206727208518911, -0.1386017981108371]);
    const f = new SeededRng(42);
    expect([f.logNormal(100, 2000), f.logNormal(100, 2000)]).toEqual([90.52794183996315, 171.8956261002002]);
  });

  it('next() is uniform on [0, 1): chi-square over 100 bins stays within a loose bound', () => {
    const r = new SeededRng(2024);
    const bins = new Array<number>(100).fill(0);
    const n = 200_000;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      if (!(u >= 0 && u < 1)) outside++;
      else bins[Math.floor(u * 100)]!++;
    }
    expect(outside).toBe(0);
    const e = n / 100;
    const chi2 = bins.reduce((s, o) => s + (o - e) ** 2 / e, 0);
    // 99 degrees of freedom: mean 99, sd ≈ 14; 6 sd either way.
    expect(chi2).toBeGreaterThan(20);
    expect(chi2).toBeLessThan(185);
  });

  it('next53() is in [0, 1) with finer steps than 2^-32', () => {
    const r = new SeededRng(5);
    let fine = 0;
    let outside = 0;
    for (let i = 0; i < 10_000; i++) {
      const u = r.next53();
      if (!(u >= 0 && u < 1)) outside++;
      if ((u * 2 ** 32) % 1 !== 0) fine++;
    }
    expect(outside).toBe(0);
    expect(fine).toBeGreaterThan(9_000);
  });

  it.each([1, 2, 3, 7, 10, 1000, 2 ** 21, 2 ** 21 + 1, 3_000_000_019, 2 ** 32, 2 ** 32 + 1, 2 ** 53])('int(%d) stays in [0, n) and spans it', (n) => {
    const r = new SeededRng(n % 1_000_003);
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    let bad = 0;
    const k = 20_000;
    for (let i = 0; i < k; i++) {
      const v = r.int(n);
      if (!(Number.isInteger(v) && v >= 0 && v < n)) bad++;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    expect(bad).toBe(0);
    if (n <= 10) {
      expect(min).toBe(0);
      expect(max).toBe(n - 1);
    } else {
      expect(min).toBeLessThan(n * 0.01);
      expect(max).toBeGreaterThan(n * 0.99 - 1);
      // Mean of a uniform on [0, n): n/2, sd of the mean n/√(12k) ≈ 0.002 n.
      expect(Math.abs(sum / k - (n - 1) / 2)).toBeLessThan(0.015 * n);
    }
  });

  it('int(n) is unbiased for a small n (chi-square over 7 values)', () => {
    const r = new SeededRng(77);
    const counts = new Array<number>(7).fill(0);
    const n = 140_000;
    for (let i = 0; i < n; i++) counts[r.int(7)]!++;
    const chi2 = counts.reduce((s, o) => s + (o - n / 7) ** 2 / (n / 7), 0);
    expect(chi2).toBeLessThan(30); // 6 dof: mean 6, p ≈ 4e-5 at 30
  });

  it('int(n) rejects an n outside [1, 2^53] or not an integer', () => {
    const r = new SeededRng(1);
    for (const n of [0, -1, 1.5, Number.NaN, Infinity, 2 ** 53 + 2]) expect(() => r.int(n)).toThrow(RangeError);
  });

  it('chance(p) is true with probability p', () => {
    const r = new SeededRng(9);
    let t = 0;
    for (let i = 0; i < 100_000; i++) if (r.chance(0.3)) t++;
    expect(t / 100_000).toBeCloseTo(0.3, 2);
    expect(r.chance(0)).toBe(false);
    expect(r.chance(1)).toBe(true);
  });

  it('exp(rate) has mean 1/rate and an exponential tail (ziggurat incl. its tail path)', () => {
    const r = new SeededRng(11);
    const n = 200_000;
    const xs = draws(n, () => r.exp(4));
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    expect(mean).toBeGreaterThan(0.25 * 0.99);
    expect(mean).toBeLessThan(0.25 * 1.01);
    expect(Math.min(...xs.slice(0, 50_000))).toBeGreaterThanOrEqual(0);
    expect(xs.every((x) => x >= 0 && Number.isFinite(x))).toBe(true);
    // P(X > t/4) = e^-t; t = 8 goes through the ziggurat's tail beyond 7.697.
    for (const t of [0.5, 1, 3, 8]) {
      const p = xs.filter((x) => x * 4 > t).length / n;
      const e = Math.exp(-t);
      expect(Math.abs(p - e)).toBeLessThan(5 * Math.sqrt((e * (1 - e)) / n) + 1e-5);
    }
    expect(() => r.exp(0)).toThrow(RangeError);
    expect(() => r.exp(-1)).toThrow(RangeError);
    expect(() => r.exp(Infinity)).toThrow(RangeError);
  });

  it('normal() has mean 0, sd 1 and normal tails', () => {
    const r = new SeededRng(13);
    const n = 200_000;
    const xs = draws(n, () => r.normal());
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(sd - 1)).toBeLessThan(0.01);
    const out = xs.filter((x) => Math.abs(x) > 1.959964).length / n;
    expect(Math.abs(out - 0.05)).toBeLessThan(0.003);
  });

  it.each([
    [100, 2000],
    [250, 400],
    [1, 50],
  ])('logNormal(%d, %d) has that median and 99th percentile over 200k draws', (median, p99) => {
    const r = new SeededRng(median + p99);
    const xs = draws(200_000, () => r.logNormal(median, p99)).sort((a, b) => a - b);
    expect(xs[0]!).toBeGreaterThan(0);
    // Standard errors: ≈ 0.4% for the median, ≈ 1.1% for the p99 at the widest law here.
    expect(Math.abs(quantile(xs, 0.5) / median - 1)).toBeLessThan(0.02);
    expect(Math.abs(quantile(xs, 0.99) / p99 - 1)).toBeLessThan(0.05);
  });

  it('logNormal with p99 = median is constant; bad parameters throw', () => {
    const r = new SeededRng(1);
    expect(draws(5, () => r.logNormal(7, 7))).toEqual([7, 7, 7, 7, 7]);
    expect(() => r.logNormal(0, 10)).toThrow(RangeError);
    expect(() => r.logNormal(10, 5)).toThrow(RangeError);
    expect(() => r.logNormal(10, Infinity)).toThrow(RangeError);
  });
});

describe('detLog / detExp / normalQuantile', () => {
  it('give golden bit patterns (fdlibm results, the same on every platform)', () => {
    const logs: [number, string][] = [
      [0.1, '0xc0026bb1bbb55515'],
      [0.5, '0xbfe62e42fefa39ef'],
      [10, '0x40026bb1bbb55516'],
      [1e-300, '0xc085963447f87fb5'],
      [5e-324, '0xc0874385446d71c3'],
      [123456.789, '0x40277281cad8a844'],
    ];
    for (const [x, b] of logs) expect(bits(detLog(x))).toBe(b);
    const exps: [number, string][] = [
      [-745, '0x1'],
      [-700, '0xd14f2b0fb9307f'],
      [-1, '0x3fd78b56362cef38'],
      [-1e-10, '0x3feffffffff24190'],
      [0.3, '0x3ff599058c8c1a96'],
      [5, '0x40628d389970338f'],
      [700, '0x7f0d945df4f8ec8e'],
    ];
    for (const [x, b] of exps) expect(bits(detExp(x))).toBe(b);
  });

  it('agree with Math.log / Math.exp within 1 ulp over a wide range', () => {
    const r = new SeededRng(17);
    let worstLog = 0;
    let worstExp = 0;
    let worstSubnormal = 0;
    for (let i = 0; i < 50_000; i++) {
      const x = detExp((r.next53() - 0.5) * 1400);
      worstLog = Math.max(worstLog, ulps(detLog(x), Math.log(x)));
      const y = (r.next53() - 0.5) * 1480;
      const e = detExp(y);
      if (e > 2.3e-308) worstExp = Math.max(worstExp, ulps(e, Math.exp(y)));
      else worstSubnormal = Math.max(worstSubnormal, Math.abs(e - Math.exp(y)));
    }
    expect(worstLog).toBeLessThanOrEqual(1);
    expect(worstExp).toBeLessThanOrEqual(1);
    expect(worstSubnormal).toBeLessThanOrEqual(5e-324);
  });

  it('handle the special values', () => {
    expect(detLog(0)).toBe(-Infinity);
    expect(detLog(-1)).toBeNaN();
    expect(detLog(Number.NaN)).toBeNaN();
    expect(detLog(Infinity)).toBe(Infinity);
    expect(detLog(1)).toBe(0);
    expect(detExp(0)).toBe(1);
    expect(detExp(-0)).toBe(1);
    expect(detExp(Infinity)).toBe(Infinity);
    expect(detExp(-Infinity)).toBe(0);
    expect(detExp(Number.NaN)).toBeNaN();
    expect(detExp(710)).toBe(Infinity);
    expect(detExp(-746)).toBe(0);
    expect(detExp(709.78)).toBeGreaterThan(1.79e308);
  });

  it('normalQuantile matches known quantiles', () => {
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.99)).toBeCloseTo(Z_99, 8);
    expect(normalQuantile(0.01)).toBeCloseTo(-Z_99, 8);
    expect(normalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 6);
    expect(normalQuantile(0.02)).toBeCloseTo(-2.053748910631823, 8); // lower region
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(1.5)).toBeNaN();
  });
});
