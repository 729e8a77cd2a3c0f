import { describe, expect, it, vi } from 'vitest';
import { LIVE_CLOCK_MICROTASK_WAKES, LiveClock, SimClock } from '../../src/core/clock.js';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('SimClock', () => {
  it('starts at the given time (default 0) and is simulated', () => {
    expect(new SimClock().now()).toBe(0);
    const c = new SimClock(1_000);
    expect(c.now()).toBe(1_000);
    expect(c.simulated).toBe(true);
    expect(c.nextDueTs()).toBe(Number.POSITIVE_INFINITY);
  });

  it('runs actions in time order, and equal-time actions in scheduling order', () => {
    const c = new SimClock(0);
    const ran: string[] = [];
    c.at(30, () => ran.push('30a'));
    c.at(10, () => ran.push('10a'));
    c.at(30, () => ran.push('30b'));
    c.at(20, () => ran.push('20'));
    c.at(10, () => ran.push('10b'));
    c.at(30, () => ran.push('30c'));
    c.advanceTo(100);
    expect(ran).toEqual(['10a', '10b', '20', '30a', '30b', '30c']);
  });

  it('keeps (time, scheduling order) for many random actions', () => {
    const r = rng(42);
    const c = new SimClock(0);
    const scheduled: Array<{ ts: number; i: number }> = [];
    const ran: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const ts = Math.floor(r() * 50);
      scheduled.push({ ts, i });
      c.at(ts, () => ran.push(i));
    }
    c.advanceTo(1000);
    const expected = [...scheduled].sort((a, b) => a.ts - b.ts || a.i - b.i).map((x) => x.i);
    expect(ran).toEqual(expected);
  });

  it('reads the action time while an action runs', () => {
    const c = new SimClock(0);
    const seen: number[] = [];
    c.at(5, () => seen.push(c.now()));
    c.at(7, () => seen.push(c.now()));
    c.advanceTo(10);
    expect(seen).toEqual([5, 7]);
    expect(c.now()).toBe(10);
  });

  it('cancel: a cancelled action never runs; unknown handles are ignored', () => {
    const c = new SimClock(0);
    const ran: string[] = [];
    const h1 = c.at(10, () => ran.push('a'));
    const h2 = c.at(20, () => ran.push('b'));
    c.at(30, () => ran.push('c'));
    c.cancel(h2);
    c.cancel(h1);
    c.cancel(9999);
    expect(c.nextDueTs()).toBe(30);
    c.advanceTo(100);
    expect(ran).toEqual(['c']);
  });

  it('an action may cancel a later one, or schedule one at its own time that runs after those already queued', () => {
    const c = new SimClock(0);
    const ran: string[] = [];
    let hLater = 0;
    c.at(10, () => {
      ran.push('a');
      c.cancel(hLater);
      c.at(10, () => ran.push('a-child'));
      c.at(5, () => ran.push('past-child')); // in the past: runs at the current time
    });
    c.at(10, () => ran.push('b'));
    hLater = c.at(15, () => ran.push('cancelled'));
    c.advanceTo(20);
    expect(ran).toEqual(['a', 'b', 'a-child', 'past-child']);
  });

  it('runNext runs one due action at a time and respects its limit', () => {
    const c = new SimClock(0);
    const ran: number[] = [];
    c.at(100, () => ran.push(100));
    c.at(200, () => ran.push(200));
    expect(c.runNext(99)).toBe(false);
    expect(c.now()).toBe(0);
    expect(ran).toEqual([]);
    expect(c.runNext(100)).toBe(true);
    expect(ran).toEqual([100]);
    expect(c.now()).toBe(100);
    expect(c.runNext(150)).toBe(false);
    expect(c.now()).toBe(100);
    expect(c.nextDueTs()).toBe(200);
    expect(c.runNext(Number.POSITIVE_INFINITY)).toBe(true);
    expect(c.runNext(Number.POSITIVE_INFINITY)).toBe(false);
    expect(ran).toEqual([100, 200]);
  });

  it('runNext skips cancelled actions at the head', () => {
    const c = new SimClock(0);
    const ran: number[] = [];
    const h = c.at(10, () => ran.push(10));
    c.at(20, () => ran.push(20));
    c.cancel(h);
    expect(c.runNext(15)).toBe(false);
    expect(c.runNext(20)).toBe(true);
    expect(ran).toEqual([20]);
  });

  it('advanceTo runs what is due (including actions scheduled by actions) and never goes backwards', () => {
    const c = new SimClock(100);
    const ran: number[] = [];
    c.at(150, () => {
      ran.push(c.now());
      c.at(180, () => ran.push(c.now()));
      c.at(300, () => ran.push(c.now()));
    });
    c.advanceTo(200);
    expect(ran).toEqual([150, 180]);
    expect(c.now()).toBe(200);
    c.advanceTo(120);
    expect(c.now()).toBe(200);
    expect(ran).toEqual([150, 180]);
    c.advanceTo(300);
    expect(ran).toEqual([150, 180, 300]);
  });

  it('an action scheduled in the past runs at the current time, which does not move back', () => {
    const c = new SimClock(1_000);
    const seen: number[] = [];
    c.at(10, () => seen.push(c.now()));
    expect(c.nextDueTs()).toBe(1_000);
    c.advanceTo(1_000);
    expect(seen).toEqual([1_000]);
  });

  it('setTime never goes backwards and runs nothing; a passed action still runs without moving time back', () => {
    const c = new SimClock(0);
    const seen: number[] = [];
    c.at(50, () => seen.push(c.now()));
    c.setTime(100);
    expect(seen).toEqual([]);
    expect(c.now()).toBe(100);
    c.setTime(20);
    expect(c.now()).toBe(100);
    expect(c.runNext(100)).toBe(true);
    expect(seen).toEqual([100]);
  });
});

describe('LiveClock', () => {
  it('reads wall time in µs and runs and cancels actions on timers', async () => {
    const c = new LiveClock();
    expect(c.simulated).toBe(false);
    expect(Math.abs(c.now() - Date.now() * 1000)).toBeLessThan(50_000);
    const ran: string[] = [];
    c.at(c.now() + 5_000, () => ran.push('a'));
    const h = c.at(c.now() + 5_000, () => ran.push('cancelled'));
    c.cancel(h);
    c.at(0, () => ran.push('past'));
    await new Promise((r) => setTimeout(r, 40));
    expect(ran.sort()).toEqual(['a', 'past']);
    const h2 = c.at(c.now() + 10_000, () => ran.push('all-cancelled'));
    expect(h2).toBeGreaterThan(h);
    c.cancelAll();
    await new Promise((r) => setTimeout(r, 30));
    expect(ran).not.toContain('all-cancelled');
  });

  it('runs an action already due on the next turn of the loop, before any timer, and cancels it', async () => {
    const c = new LiveClock();
    const ran: string[] = [];
    setTimeout(() => ran.push('timer 0'), 0);
    c.at(c.now() - 1, () => ran.push('due'));
    const h = c.at(c.now() - 1, () => ran.push('cancelled'));
    c.cancel(h);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // setTimeout(0) waits at least 1 ms; the due action ran in the check phase right away.
    expect(ran[0]).toBe('due');
    expect(ran).not.toContain('cancelled');
    await new Promise((r) => setTimeout(r, 5));
    expect(ran).toContain('timer 0');
  });

  it('runs actions in (time, scheduling order) even when the later one was already due when scheduled', async () => {
    const c = new LiveClock();
    const ran: string[] = [];
    const ts = c.now() + 2_000;
    c.at(ts, () => ran.push('first'));
    while (c.now() <= ts + 500) {
      /* wait until the time has passed without yielding: the first action's timer is late */
    }
    c.at(ts, () => ran.push('second'));
    c.at(ts - 10, () => ran.push('earlier time'));
    await new Promise((r) => setTimeout(r, 20));
    expect(ran).toEqual(['earlier time', 'first', 'second']);
  });

  it('does not hold a due action behind a timer whose own time has passed (Node fires it ≥ 1 ms late)', async () => {
    const c = new LiveClock();
    const ran: string[] = [];
    const ts = c.now() + 300;
    c.at(ts, () => ran.push('timer'));
    while (c.now() <= ts + 50) {
      /* the timer's time passes without yielding; its setTimeout will fire ≥ 1 ms after it was set */
    }
    c.at(c.now(), () => ran.push('due'));
    // One turn of the loop: the due action runs (and the timer's, due too, before it).
    await new Promise((r) => setImmediate(r));
    expect(ran).toEqual(['timer', 'due']);
  });

  it('runs an action already due as soon as the code that scheduled it returns, never inside it', async () => {
    const c = new LiveClock();
    const ran: string[] = [];
    setImmediate(() => ran.push('immediate'));
    c.at(c.now(), () => ran.push('due'));
    ran.push('scheduler returned');
    await Promise.resolve();
    await Promise.resolve();
    // A microtask: before the loop turns (the immediate queued first has not run).
    expect(ran).toEqual(['scheduler returned', 'due']);
    // A hop to a venue and back (an action scheduling another due one) also runs before the turn.
    c.at(c.now(), () => c.at(c.now(), () => ran.push('answer')));
    await new Promise((r) => setImmediate(r));
    expect(ran).toEqual(['scheduler returned', 'due', 'answer', 'immediate']);
  });

  it(`runs at most ${LIVE_CLOCK_MICROTASK_WAKES} wake-ups in a row as microtasks, then lets the loop turn`, async () => {
    const c = new LiveClock();
    let hops = 0;
    let hopsAtTurn = -1;
    setImmediate(() => (hopsAtTurn = hops));
    const hop = () => {
      if (++hops < 100) c.at(c.now(), hop);
    };
    c.at(c.now(), hop);
    // Up to 2 s: a loaded machine can stall this process for longer than one short wait
    // (CI once saw 9 hops after 20 ms); the remaining hops need nothing but turns of the loop.
    for (let k = 0; hops < 100 && k < 200; k++) await new Promise((r) => setTimeout(r, 10));
    expect(hopsAtTurn).toBe(LIVE_CLOCK_MICROTASK_WAKES);
    expect(hops).toBe(100);
    // A cancelled microtask wake-up runs nothing.
    const ran: string[] = [];
    const h = c.at(c.now(), () => ran.push('cancelled'));
    c.cancel(h);
    c.at(c.now() + 1_000_000, () => ran.push('later'));
    c.cancelAll();
    await new Promise((r) => setImmediate(r));
    expect(ran).toEqual([]);
  });

  it('with spinBelowUs, runs an action due in under that near its time, never early, not on a timer Node fires ≥ 1 ms later', async () => {
    expect(() => new LiveClock({ spinBelowUs: -1 })).toThrow(RangeError);
    const c = new LiveClock({ spinBelowUs: 1_000 });
    const lateUs: number[] = [];
    for (let i = 0; i < 31; i++) {
      const ts = c.now() + 100;
      await new Promise<void>((r) =>
        c.at(ts, () => {
          lateUs.push(c.now() - ts);
          r();
        }),
      );
    }
    lateUs.sort((a, b) => a - b);
    expect(lateUs[0]).toBeGreaterThanOrEqual(0);
    // On a timer each would be ≥ 900 µs late.
    expect(lateUs[15]).toBeLessThan(500);
    c.cancelAll();
  });

  it('keeps the timer of a later action armed while actions due now come and go', async () => {
    const c = new LiveClock();
    const setSpy = vi.spyOn(globalThis, 'setTimeout');
    const clearSpy = vi.spyOn(globalThis, 'clearTimeout');
    try {
      const t0 = c.now();
      const later = new Promise<number>((r) => c.at(t0 + 30_000, () => r(c.now() - t0)));
      // 200 zero-latency hops, as orders to an in-process venue make, each with a deadline
      // that is cancelled before it fires (a group commit's).
      for (let i = 0; i < 200; i++) {
        const deadline = c.at(c.now() + 1_000_000, () => expect.unreachable('cancelled'));
        await new Promise<void>((r) => c.at(c.now(), r));
        c.cancel(deadline);
      }
      expect(setSpy.mock.calls.length, 'Node timers set').toBeLessThanOrEqual(2);
      expect(clearSpy).not.toHaveBeenCalled();
      expect(await later).toBeGreaterThanOrEqual(30_000);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
      c.cancelAll();
    }
  });

  it('lets the event loop turn between a zero-delay action and the ones it schedules', async () => {
    const c = new LiveClock();
    let hops = 0;
    const hop = () => {
      if (++hops < 100_000) c.at(c.now(), hop);
    };
    c.at(c.now(), hop);
    const t0 = performance.now();
    const firedAfterMs = await new Promise<number>((r) => setTimeout(() => r(performance.now() - t0), 5));
    expect(hops).toBeLessThan(100_000);
    expect(firedAfterMs).toBeLessThan(200);
    c.cancelAll();
  });
});

