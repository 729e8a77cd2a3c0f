import { describe, expect, it } from 'vitest';
import { ConstantLatencyModel, PerActionLatencyModel } from '../../src/sim/index.js';

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

describe('PerActionLatencyModel', () => {
  const LN = { logNormal: { medianUs: 150, p99Us: 900 } } as const;
  const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

  it('defaults to 100 µs each way for every action, like ConstantLatencyModel', () => {
    const m = new PerActionLatencyModel();
    expect(m.seed).toBe(1);
    for (const a of ['place', 'modify', 'cancel', 'fetch'] as const) expect([m.entryUs(a), m.responseUs(a)]).toEqual([100, 100]);
  });

  it('routes each action and direction to its own distribution, falling back to default then 100', () => {
    const m = new PerActionLatencyModel({
      default: { entry: { constantUs: 50 } },
      place: { entry: { constantUs: 1 }, response: { constantUs: 2 } },
      modify: { response: { constantUs: 4 } },
      cancel: { entry: { constantUs: 5 }, response: { constantUs: 6 } },
    });
    expect([m.entryUs('place'), m.responseUs('place')]).toEqual([1, 2]);
    expect([m.entryUs('modify'), m.responseUs('modify')]).toEqual([50, 4]);
    expect([m.entryUs('cancel'), m.responseUs('cancel')]).toEqual([5, 6]);
    expect([m.entryUs('fetch'), m.responseUs('fetch')]).toEqual([50, 100]);
  });

  it('draws a log-normal with the configured median and p99 (whole µs, > 0)', () => {
    const m = new PerActionLatencyModel({ seed: 11, place: { entry: LN }, cancel: { response: { logNormal: { medianUs: 40, p99Us: 80 } } } });
    const n = 100_000;
    const xs = Array.from({ length: n }, () => m.entryUs('place')).sort((a, b) => a - b);
    const ys = Array.from({ length: n }, () => m.responseUs('cancel')).sort((a, b) => a - b);
    expect(xs.every((x) => Number.isInteger(x) && x >= 0)).toBe(true);
    expect(Math.abs(quantile(xs, 0.5) / 150 - 1)).toBeLessThan(0.03);
    expect(Math.abs(quantile(xs, 0.99) / 900 - 1)).toBeLessThan(0.06);
    expect(Math.abs(quantile(ys, 0.5) / 40 - 1)).toBeLessThan(0.03);
    expect(Math.abs(quantile(ys, 0.99) / 80 - 1)).toBeLessThan(0.06);
    // The other actions stay at the default constant.
    expect([m.entryUs('modify'), m.responseUs('place'), m.entryUs('cancel')]).toEqual([100, 100, 100]);
  });

  it('draws uniform latencies within [minUs, maxUs] with the right mean; wholeUs: false keeps fractions', () => {
    const m = new PerActionLatencyModel({ seed: 3, default: { entry: { uniform: { minUs: 100, maxUs: 300 } }, response: { uniform: { minUs: 0, maxUs: 2 } } } });
    const n = 50_000;
    const xs = Array.from({ length: n }, () => m.entryUs('fetch'));
    expect(Math.min(...xs)).toBe(100);
    expect(Math.max(...xs)).toBe(300);
    expect(Math.abs(xs.reduce((a, b) => a + b, 0) / n - 200)).toBeLessThan(2);
    const small = Array.from({ length: 1000 }, () => m.responseUs('modify'));
    expect(small.every((x) => x >= 0 && x <= 2 && Number.isInteger(x))).toBe(true);
    const f = new PerActionLatencyModel({ wholeUs: false, default: { entry: { uniform: { minUs: 1, maxUs: 2 } } } });
    const fs = Array.from({ length: 100 }, () => f.entryUs('place'));
    expect(fs.every((x) => x >= 1 && x < 2)).toBe(true);
    expect(fs.some((x) => !Number.isInteger(x))).toBe(true);
  });

  it('never returns a negative latency, even for tiny medians', () => {
    const m = new PerActionLatencyModel({ seed: 5, default: { entry: { logNormal: { medianUs: 0.01, p99Us: 5 } }, response: { uniform: { minUs: 0, maxUs: 0.4 } } } });
    for (let i = 0; i < 20_000; i++) {
      expect(m.entryUs('place')).toBeGreaterThanOrEqual(0);
      expect(m.responseUs('place')).toBeGreaterThanOrEqual(0);
    }
  });

  it('gives the same sequence for the same seed and calls, another for another seed', () => {
    const opts = { place: { entry: LN, response: { uniform: { minUs: 10, maxUs: 500 } } }, cancel: { entry: { logNormal: { medianUs: 80, p99Us: 400 } } } };
    const seq = (seed: number) => {
      const m = new PerActionLatencyModel({ ...opts, seed });
      const out: number[] = [];
      for (let i = 0; i < 200; i++) out.push(m.entryUs('place'), m.responseUs('place'), m.entryUs('cancel'), m.responseUs('cancel'));
      return out;
    };
    expect(seq(7)).toEqual(seq(7));
    expect(seq(8)).not.toEqual(seq(7));
    expect(new PerActionLatencyModel({ ...opts }).entryUs('place')).toBe(new PerActionLatencyModel({ ...opts, seed: 1 }).entryUs('place'));
  });

  it('draws in call order: one shared stream, constants consume nothing', () => {
    const a = new PerActionLatencyModel({ seed: 9, place: { entry: LN }, cancel: { entry: LN, response: { constantUs: 7 } } });
    const b = new PerActionLatencyModel({ seed: 9, place: { entry: LN }, cancel: { entry: LN, response: { constantUs: 7 } } });
    // Same distribution under two actions: the n-th draw is the n-th call's, whichever action asks.
    const x = [a.entryUs('place'), a.entryUs('cancel'), a.entryUs('place')];
    const y = [b.entryUs('cancel'), b.responseUs('cancel'), b.responseUs('fetch'), b.entryUs('place'), b.entryUs('cancel')];
    expect([y[0], y[3], y[4]]).toEqual(x);
    expect([y[1], y[2]]).toEqual([7, 100]);
  });

  it('refuses bad distributions with a RangeError naming the field', () => {
    const bad = (o: ConstructorParameters<typeof PerActionLatencyModel>[0], re: RegExp | typeof RangeError) => expect(() => new PerActionLatencyModel(o)).toThrow(re);
    bad({ place: { entry: { constantUs: -1 } } }, /place\.entry\.constantUs/);
    bad({ cancel: { response: { logNormal: { medianUs: 0, p99Us: 10 } } } }, /cancel\.response\.logNormal\.medianUs/);
    bad({ modify: { entry: { logNormal: { medianUs: 10, p99Us: 5 } } } }, /modify\.entry\.logNormal\.p99Us/);
    bad({ fetch: { entry: { uniform: { minUs: 5, maxUs: 1 } } } }, /fetch\.entry\.uniform\.maxUs/);
    bad({ default: { entry: { uniform: { minUs: -1, maxUs: 1 } } } }, /default\.entry\.uniform\.minUs/);
    bad({ place: { entry: { constantUs: 1, uniform: { minUs: 0, maxUs: 1 } } as never } }, /place\.entry must have exactly one/);
    bad({ place: { entry: {} as never } }, /exactly one/);
    bad({ seed: 1.5 }, /seed/);
    bad({ place: { entry: { logNormal: { medianUs: 10, p99Us: Infinity } } } }, RangeError);
  });
});

describe('feed latency', () => {
  it('is absent unless configured, constant when given as a number', () => {
    expect(new ConstantLatencyModel().feedUs).toBeUndefined();
    expect(new PerActionLatencyModel().feedUs).toBeUndefined();
    expect(new ConstantLatencyModel({ feedUs: 250 }).feedUs!()).toBe(250);
    expect(() => new ConstantLatencyModel({ feedUs: -1 })).toThrow(/feedUs must be a finite number ≥ 0/);
  });

  it('draws from its own generator: adding a feed does not change order latencies', () => {
    const place = { entry: { logNormal: { medianUs: 200, p99Us: 2000 } } };
    const a = new PerActionLatencyModel({ seed: 9, place });
    const b = new PerActionLatencyModel({ seed: 9, place, feed: { uniform: { minUs: 10, maxUs: 5000 } } });
    const xs: number[] = [];
    const ys: number[] = [];
    const feeds: number[] = [];
    for (let i = 0; i < 50; i++) {
      xs.push(a.entryUs('place'));
      feeds.push(b.feedUs!(), b.feedUs!());
      ys.push(b.entryUs('place'));
    }
    expect(ys).toEqual(xs);
    expect(feeds.every((f) => f >= 10 && f <= 5000 && Number.isInteger(f))).toBe(true);
    expect(new Set(feeds).size).toBeGreaterThan(50);
  });
});
