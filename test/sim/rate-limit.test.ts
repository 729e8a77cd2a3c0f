import { describe, expect, it } from 'vitest';
import { RejectCode, Side } from '../../src/api/index.js';
import { FixedWindowRateLimiter } from '../../src/sim/rate-limit.js';
import { T0, World } from './harness.js';

describe('FixedWindowRateLimiter', () => {
  it('allows `limit` requests per aligned window and reports 50, 90 and 100 % once each', () => {
    const l = new FixedWindowRateLimiter({ limit: 10, windowMs: 1000 });
    const t = 5_000_000; // window [5 s, 6 s)
    const takes = Array.from({ length: 11 }, (_, i) => l.take(t + i));
    expect(takes.map((x) => x.allowed)).toEqual([...Array(10).fill(true), false]);
    expect(takes.map((x) => x.crossedPct)).toEqual([0, 0, 0, 0, 50, 0, 0, 0, 90, 100, 0]);
    expect(takes[9]!.remaining).toBe(0);
    expect(takes[0]!.resetTs).toBe(6_000_000);
    // A new window starts empty.
    expect(l.take(6_000_000)).toEqual({ allowed: true, remaining: 9, resetTs: 7_000_000, crossedPct: 0 });
  });

  it('peek tells whether a request would pass without counting it', () => {
    const l = new FixedWindowRateLimiter({ limit: 2, windowMs: 1000 });
    const t = 5_000_000;
    expect(l.peek(t)).toEqual({ allowed: true, resetTs: 6_000_000 });
    expect(l.peek(t)).toEqual({ allowed: true, resetTs: 6_000_000 });
    l.take(t);
    l.take(t);
    expect(l.peek(t + 1)).toEqual({ allowed: false, resetTs: 6_000_000 });
    expect(l.take(t + 1).allowed).toBe(false);
    // The next window is open again, before any take resets the count.
    expect(l.peek(6_000_000)).toEqual({ allowed: true, resetTs: 7_000_000 });
  });

  it('reports every threshold a tiny limit jumps over', () => {
    const l = new FixedWindowRateLimiter({ limit: 1, windowMs: 1 });
    expect(l.take(0).crossedPct).toBe(100);
  });

  it('refuses nonsense options', () => {
    expect(() => new FixedWindowRateLimiter({ limit: 0, windowMs: 1 })).toThrow(RangeError);
    expect(() => new FixedWindowRateLimiter({ limit: 1.5, windowMs: 1 })).toThrow(RangeError);
    expect(() => new FixedWindowRateLimiter({ limit: 1, windowMs: 0 })).toThrow(RangeError);
  });
});

describe('SimVenue rate limit', () => {
  it('rejects order entry over the limit with RateLimited and reports usage through onRateLimitInfo', () => {
    const w = new World({ rateLimit: { limit: 4, windowMs: 1000 } });
    w.seed();
    for (let i = 1; i <= 5; i++) w.send({ clientId: `o${i}`, side: Side.Buy, tick: 9000, lots: 1 });
    w.cancel('o1');
    w.fetch('AccountInfo' as never); // fetches are not counted
    w.settle();
    const info = w.of('onRateLimitInfo');
    expect(info.map((g) => [g.ev.rateLimit, g.ev.rateRemaining])).toEqual([
      [4, 2],
      [4, 0],
    ]);
    expect(info[1]!.ev.resetTs).toBeGreaterThan(T0);
    expect(w.of('onNewOrderAck').map((g) => g.ev.clientId)).toEqual(['o1', 'o2', 'o3', 'o4']);
    const rej = w.of('onNewOrderReject');
    expect(rej.map((g) => [g.ev.clientId, g.ev.rejectCode])).toEqual([['o5', RejectCode.RateLimited]]);
    expect(rej[0]!.ev.rejectReason).toMatch(/rate limit of 4 requests per 1000 ms/);
    expect(w.of('onCancelOrderReject').map((g) => g.ev.rejectCode)).toEqual([RejectCode.RateLimited]);
    expect(w.of('onAccountInfo')).toHaveLength(1);

    // The next window accepts again.
    w.wait(1_000_000);
    w.cancel('o1');
    w.settle();
    expect(w.of('onCancelOrderAck').map((g) => g.ev.clientId)).toEqual(['o1']);
  });
});
