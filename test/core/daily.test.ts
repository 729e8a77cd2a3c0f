import { afterEach, describe, expect, it, vi } from 'vitest';
import cron from 'node-cron';
import { LiveClock, SimClock } from '../../src/core/clock.js';
import {
  DailySchedule,
  SECONDS_PER_DAY,
  defaultTimeZone,
  nextDailyTs,
  parseTimeOfDay,
  parseTimeOfDayFields,
  validateTimeZone,
  type CronLike,
} from '../../src/core/daily.js';

/** µs since the epoch of an ISO instant. */
const us = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad ISO in test: ${iso}`);
  return ms * 1000;
};
const iso = (tUs: number): string => new Date(tUs / 1000).toISOString();
const HOUR_US = 3600 * 1_000_000;
const DAY_US = 24 * HOUR_US;

const wallFormats = new Map<string, Intl.DateTimeFormat>();
/** Wall clock 'YYYY-MM-DD HH:mm:ss' of an instant in a zone. */
function wall(tUs: number, timeZone: string): string {
  let f = wallFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    wallFormats.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(tUs / 1000).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

describe('parseTimeOfDay', () => {
  it('returns seconds of day', () => {
    expect(parseTimeOfDay('00:00:00')).toBe(0);
    expect(parseTimeOfDay('09:30:00')).toBe(9 * 3600 + 30 * 60);
    expect(parseTimeOfDay('16:00:00')).toBe(57_600);
    expect(parseTimeOfDay('23:59:59')).toBe(SECONDS_PER_DAY - 1);
    expect(parseTimeOfDayFields('07:08:09')).toEqual({ hour: 7, minute: 8, second: 9, secondsOfDay: 25_689 });
  });

  it.each(['25:00:00', '24:00:00', '12:60:00', '12:00:60', '9:5', '09:05', '9:05:00', '', ' 09:00:00', '09:00:00 ', 'ab:cd:ef', '09-00-00', '+9:00:00'])(
    'throws a TypeError naming %j',
    (bad) => {
      expect(() => parseTimeOfDay(bad)).toThrow(TypeError);
      expect(() => parseTimeOfDay(bad)).toThrow(`'${bad}'`);
    },
  );

  it('throws a TypeError for non-strings', () => {
    expect(() => parseTimeOfDay(930 as unknown as string)).toThrow(TypeError);
    expect(() => parseTimeOfDay(undefined as unknown as string)).toThrow(/undefined/);
  });
});

describe('time zones', () => {
  it('defaultTimeZone is the system zone and valid', () => {
    const tz = defaultTimeZone();
    expect(tz).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(validateTimeZone(tz)).toBe(tz);
    expect(() => nextDailyTs(0, '12:00:00', tz)).not.toThrow();
  });

  it('validates and canonicalises names', () => {
    expect(validateTimeZone('America/New_York')).toBe('America/New_York');
    expect(validateTimeZone('UTC')).toBe('UTC');
    expect(validateTimeZone('utc')).toBe('UTC');
  });

  it.each(['Mars/Olympus_Mons', 'New York', '', 'EST5EDT_nope'])('rejects %j with a RangeError naming it', (bad) => {
    expect(() => validateTimeZone(bad)).toThrow(RangeError);
    expect(() => nextDailyTs(0, '12:00:00', bad)).toThrow(RangeError);
    if (bad) expect(() => nextDailyTs(0, '12:00:00', bad)).toThrow(bad);
  });
});

describe('nextDailyTs', () => {
  it('is later today when the time has not passed yet', () => {
    expect(nextDailyTs(us('2024-05-01T10:00:00Z'), '12:00:00', 'UTC')).toBe(us('2024-05-01T12:00:00Z'));
  });

  it('is tomorrow when the time has passed', () => {
    expect(nextDailyTs(us('2024-05-01T12:00:01Z'), '12:00:00', 'UTC')).toBe(us('2024-05-02T12:00:00Z'));
  });

  it('goes to tomorrow when now is exactly the time (strictly after)', () => {
    expect(nextDailyTs(us('2024-05-01T12:00:00Z'), '12:00:00', 'UTC')).toBe(us('2024-05-02T12:00:00Z'));
    // one µs before still fires today
    expect(nextDailyTs(us('2024-05-01T12:00:00Z') - 1, '12:00:00', 'UTC')).toBe(us('2024-05-01T12:00:00Z'));
  });

  it('handles sub-second and negative times', () => {
    expect(nextDailyTs(us('2024-05-01T11:59:59.999Z') + 999, '12:00:00', 'UTC')).toBe(us('2024-05-01T12:00:00Z'));
    expect(nextDailyTs(us('1969-12-31T13:00:00Z'), '12:00:00', 'UTC')).toBe(us('1970-01-01T12:00:00Z'));
  });

  it('wraps midnight and month/year ends', () => {
    expect(nextDailyTs(us('2024-12-31T23:30:00Z'), '00:00:00', 'UTC')).toBe(us('2025-01-01T00:00:00Z'));
    expect(nextDailyTs(us('2024-02-28T23:59:59Z'), '23:59:59', 'UTC')).toBe(us('2024-02-29T23:59:59Z'));
  });

  it('uses EDT in summer and EST in winter for New York', () => {
    // 2012-06-21 16:00:00 EDT (UTC−4)
    expect(nextDailyTs(us('2012-06-21T13:30:00Z'), '16:00:00', 'America/New_York')).toBe(us('2012-06-21T20:00:00Z'));
    // 2012-01-10 16:00:00 EST (UTC−5)
    expect(nextDailyTs(us('2012-01-10T14:30:00Z'), '16:00:00', 'America/New_York')).toBe(us('2012-01-10T21:00:00Z'));
  });

  it('uses the local date, not the UTC date', () => {
    // 2012-06-22T02:00Z is still 2012-06-21 22:00 in New York: next 21:00 is 06-22 local.
    expect(nextDailyTs(us('2012-06-22T02:00:00Z'), '21:00:00', 'America/New_York')).toBe(us('2012-06-23T01:00:00Z'));
    // ... and 23:00 is still today local.
    expect(nextDailyTs(us('2012-06-22T02:00:00Z'), '23:00:00', 'America/New_York')).toBe(us('2012-06-22T03:00:00Z'));
    // East of UTC: Tokyo (UTC+9, no DST). 2024-05-01T20:00Z is 05-02 05:00 local.
    expect(nextDailyTs(us('2024-05-01T20:00:00Z'), '09:00:00', 'Asia/Tokyo')).toBe(us('2024-05-02T00:00:00Z'));
    // Half-hour offset: Kolkata UTC+5:30.
    expect(nextDailyTs(us('2024-05-01T00:00:00Z'), '09:15:00', 'Asia/Kolkata')).toBe(us('2024-05-01T03:45:00Z'));
  });

  describe('New York DST (2024)', () => {
    const NY = 'America/New_York';

    it('spring forward: the day before, of and after', () => {
      // 2024-03-10: 02:00 EST → 03:00 EDT at 07:00Z.
      expect(nextDailyTs(us('2024-03-09T12:00:00Z'), '16:00:00', NY)).toBe(us('2024-03-09T21:00:00Z'));
      expect(nextDailyTs(us('2024-03-09T22:00:00Z'), '16:00:00', NY)).toBe(us('2024-03-10T20:00:00Z'));
      expect(nextDailyTs(us('2024-03-10T22:00:00Z'), '01:59:59', NY)).toBe(us('2024-03-11T05:59:59Z'));
      // times straddling the gap on the transition day
      expect(nextDailyTs(us('2024-03-10T00:00:00Z'), '01:59:59', NY)).toBe(us('2024-03-10T06:59:59Z'));
      expect(nextDailyTs(us('2024-03-10T00:00:00Z'), '03:00:00', NY)).toBe(us('2024-03-10T07:00:00Z'));
    });

    it('spring forward: a skipped time fires at the first instant after the gap', () => {
      for (const t of ['02:00:00', '02:30:00', '02:59:59']) {
        const r = nextDailyTs(us('2024-03-10T00:00:00Z'), t, NY);
        expect(iso(r)).toBe('2024-03-10T07:00:00.000Z');
        expect(wall(r, NY)).toBe('2024-03-10 03:00:00');
      }
      // and the next day it is an ordinary EDT time again
      expect(nextDailyTs(us('2024-03-10T07:00:00Z'), '02:30:00', NY)).toBe(us('2024-03-11T06:30:00Z'));
    });

    it('fall back: an ambiguous time fires once, at its first occurrence', () => {
      // 2024-11-03: 02:00 EDT → 01:00 EST at 06:00Z; 01:30 happens at 05:30Z (EDT) and 06:30Z (EST).
      const first = nextDailyTs(us('2024-11-03T00:00:00Z'), '01:30:00', NY);
      expect(iso(first)).toBe('2024-11-03T05:30:00.000Z');
      // after the first occurrence, the next one is tomorrow, not the repeat an hour later
      const next = nextDailyTs(first, '01:30:00', NY);
      expect(iso(next)).toBe('2024-11-04T06:30:00.000Z');
      // even between the two occurrences
      expect(nextDailyTs(us('2024-11-03T06:00:00Z'), '01:30:00', NY)).toBe(us('2024-11-04T06:30:00Z'));
      expect(nextDailyTs(us('2024-11-03T06:29:59Z'), '01:30:00', NY)).toBe(us('2024-11-04T06:30:00Z'));
    });

    it('fall back: times outside the overlap', () => {
      expect(nextDailyTs(us('2024-11-03T00:00:00Z'), '16:00:00', NY)).toBe(us('2024-11-03T21:00:00Z'));
      expect(nextDailyTs(us('2024-11-03T00:00:00Z'), '00:59:59', NY)).toBe(us('2024-11-03T04:59:59Z'));
      expect(nextDailyTs(us('2024-11-03T00:00:00Z'), '02:00:00', NY)).toBe(us('2024-11-03T07:00:00Z'));
      // the 25-hour day: 16:00 on 11-02 (EDT) to 16:00 on 11-03 (EST)
      const a = nextDailyTs(us('2024-11-02T12:00:00Z'), '16:00:00', NY);
      const b = nextDailyTs(a, '16:00:00', NY);
      expect(b - a).toBe(25 * HOUR_US);
    });
  });

  describe('Europe/London DST (2024)', () => {
    const LDN = 'Europe/London';
    it('spring forward 2024-03-31 01:00 GMT → 02:00 BST', () => {
      expect(nextDailyTs(us('2024-03-30T12:00:00Z'), '08:00:00', LDN)).toBe(us('2024-03-31T07:00:00Z'));
      expect(nextDailyTs(us('2024-03-30T12:00:00Z'), '01:30:00', LDN)).toBe(us('2024-03-31T01:00:00Z'));
      expect(nextDailyTs(us('2024-03-30T12:00:00Z'), '00:30:00', LDN)).toBe(us('2024-03-31T00:30:00Z'));
    });
    it('fall back 2024-10-27 02:00 BST → 01:00 GMT', () => {
      const first = nextDailyTs(us('2024-10-26T12:00:00Z'), '01:30:00', LDN);
      expect(iso(first)).toBe('2024-10-27T00:30:00.000Z');
      expect(nextDailyTs(first, '01:30:00', LDN)).toBe(us('2024-10-28T01:30:00Z'));
      expect(nextDailyTs(us('2024-10-26T12:00:00Z'), '08:00:00', LDN)).toBe(us('2024-10-27T08:00:00Z'));
    });
  });

  it('southern hemisphere and 30-minute DST (Lord Howe)', () => {
    // Sydney: 2024-10-06 02:00 AEST → 03:00 AEDT (16:00Z on 10-05).
    expect(nextDailyTs(us('2024-10-05T12:00:00Z'), '02:30:00', 'Australia/Sydney')).toBe(us('2024-10-05T16:00:00Z'));
    // Lord Howe: 2024-10-06 02:00 (+10:30) → 02:30 (+11) at 15:30Z on 10-05.
    expect(nextDailyTs(us('2024-10-05T12:00:00Z'), '02:15:00', 'Australia/Lord_Howe')).toBe(us('2024-10-05T15:30:00Z'));
    expect(nextDailyTs(us('2024-10-05T12:00:00Z'), '02:30:00', 'Australia/Lord_Howe')).toBe(us('2024-10-05T15:30:00Z'));
  });

  it('a whole skipped day (Samoa, 2011-12-30) still yields one firing per real day', () => {
    // Pacific/Apia jumped from UTC−10 to UTC+14 at 2011-12-30T10:00Z; local 12-30 never happened.
    const tz = 'Pacific/Apia';
    const now = us('2011-12-29T23:00:00Z'); // 2011-12-29 13:00 local (UTC−10)
    expect(wall(now, tz)).toBe('2011-12-29 13:00:00');
    const a = nextDailyTs(now, '12:00:00', tz);
    expect(wall(a, tz)).toBe('2011-12-31 00:00:00'); // the 12-30 time → end of the gap
    const b = nextDailyTs(a, '12:00:00', tz);
    expect(wall(b, tz)).toBe('2011-12-31 12:00:00');
    expect(b).toBeGreaterThan(a);
  });

  it('always reads the time of day on the wall clock, within a day and a bit (sweep)', () => {
    const zones = ['UTC', 'America/New_York', 'Europe/London', 'Australia/Sydney', 'Asia/Kolkata', 'America/Sao_Paulo'];
    const times = ['00:00:00', '01:30:00', '02:30:00', '09:30:00', '16:00:00', '23:59:59'];
    let t = us('2023-12-31T00:00:00Z');
    const end = us('2025-01-02T00:00:00Z');
    let checked = 0;
    while (t < end) {
      for (const tz of zones) {
        const tod = times[checked % times.length]!;
        const r = nextDailyTs(t, tod, tz);
        expect(r).toBeGreaterThan(t);
        expect(r - t).toBeLessThanOrEqual(DAY_US + 2 * HOUR_US);
        expect(r % 1_000_000).toBe(0);
        const w = wall(r, tz).slice(11);
        // Either the wall time, or (in a spring-forward gap) the first instant after it.
        if (w !== tod) {
          const before = wall(r - 1_000_000, tz).slice(11);
          expect(before < tod && w > tod, `${tz} ${tod} from ${iso(t)} → ${iso(r)} (${w})`).toBe(true);
        }
        // Minimal: with no offset change in between, the local date moves on only
        // when today's time has passed.
        const offset = (x: number) => Date.parse(`${wall(x, tz).replace(' ', 'T')}Z`) - x / 1000;
        if (offset(t) === offset(r)) {
          const [dt, tt] = wall(t, tz).split(' ');
          const [dr, tr] = wall(r, tz).split(' ');
          expect(tr).toBe(tod);
          if (dr === dt) expect(tt! < tod).toBe(true);
          else expect(tt! >= tod && r - t <= DAY_US).toBe(true);
        }
        checked++;
      }
      t += 7 * HOUR_US + 13 * 60_000_000 + 7_000_000; // odd step: covers all hours
    }
    expect(checked).toBeGreaterThan(5000);
  });

  it('rejects a non-finite now', () => {
    expect(() => nextDailyTs(Number.NaN, '12:00:00', 'UTC')).toThrow(TypeError);
    expect(() => nextDailyTs(Number.POSITIVE_INFINITY, '12:00:00', 'UTC')).toThrow(TypeError);
  });
});

describe('DailySchedule on a SimClock', () => {
  it('fires exactly 3 times over 3 simulated days, at the right µs', () => {
    const start = us('2012-06-21T00:00:00Z'); // 2012-06-20 20:00 EDT
    const clock = new SimClock(start);
    const daily = new DailySchedule(clock);
    const fired: number[] = [];
    const id = daily.add('16:00:00', 'America/New_York', () => fired.push(clock.now()));
    expect(daily.nextFireTs(id)).toBe(us('2012-06-21T20:00:00Z'));
    clock.advanceTo(start + 3 * DAY_US);
    expect(fired.map(iso)).toEqual(['2012-06-21T20:00:00.000Z', '2012-06-22T20:00:00.000Z', '2012-06-23T20:00:00.000Z']);
    expect(daily.nextFireTs(id)).toBe(us('2012-06-24T20:00:00Z'));
  });

  it('follows local time across a DST change', () => {
    const clock = new SimClock(us('2024-11-01T00:00:00Z'));
    const daily = new DailySchedule(clock);
    const fired: string[] = [];
    daily.add('09:30:00', 'America/New_York', () => fired.push(iso(clock.now())));
    clock.advanceTo(us('2024-11-05T00:00:00Z'));
    expect(fired).toEqual([
      '2024-11-01T13:30:00.000Z',
      '2024-11-02T13:30:00.000Z',
      '2024-11-03T14:30:00.000Z',
      '2024-11-04T14:30:00.000Z',
    ]);
  });

  it('keeps several entries apart and runs them in time order', () => {
    const clock = new SimClock(us('2024-05-01T00:00:00Z'));
    const daily = new DailySchedule(clock);
    const log: string[] = [];
    daily.add('12:00:00', 'UTC', () => log.push(`utc ${iso(clock.now())}`));
    daily.add('12:00:00', 'Europe/London', () => log.push(`ldn ${iso(clock.now())}`));
    clock.advanceTo(us('2024-05-02T00:00:00Z'));
    expect(log).toEqual(['ldn 2024-05-01T11:00:00.000Z', 'utc 2024-05-01T12:00:00.000Z']);
    expect(daily.size).toBe(2);
  });

  it('remove() stops an entry; unknown ids are ignored', () => {
    const clock = new SimClock(us('2024-05-01T00:00:00Z'));
    const daily = new DailySchedule(clock);
    const fire = vi.fn();
    const id = daily.add('12:00:00', 'UTC', fire);
    clock.advanceTo(us('2024-05-01T13:00:00Z'));
    expect(fire).toHaveBeenCalledTimes(1);
    daily.remove(id);
    daily.remove(id);
    daily.remove(12345);
    expect(daily.has(id)).toBe(false);
    clock.advanceTo(us('2024-05-05T00:00:00Z'));
    expect(fire).toHaveBeenCalledTimes(1);
    expect(clock.nextDueTs()).toBe(Number.POSITIVE_INFINITY);
  });

  it('fire may remove its own entry (one-shot after 2 firings)', () => {
    const clock = new SimClock(us('2024-05-01T00:00:00Z'));
    const daily = new DailySchedule(clock);
    let n = 0;
    const id = daily.add('06:00:00', 'UTC', () => {
      if (++n === 2) daily.remove(id);
    });
    clock.advanceTo(us('2024-05-10T00:00:00Z'));
    expect(n).toBe(2);
    expect(daily.size).toBe(0);
  });

  it('a throwing fire does not stop the recurrence', () => {
    const clock = new SimClock(us('2024-05-01T00:00:00Z'));
    const daily = new DailySchedule(clock);
    let n = 0;
    daily.add('06:00:00', 'UTC', () => {
      n++;
      throw new Error('boom');
    });
    expect(() => clock.advanceTo(us('2024-05-03T00:00:00Z'))).toThrow('boom');
    expect(n).toBe(1);
    expect(() => clock.advanceTo(us('2024-05-03T00:00:00Z'))).toThrow('boom');
    expect(n).toBe(2);
    expect(clock.nextDueTs()).toBe(us('2024-05-03T06:00:00Z'));
  });

  it('does not replay missed days after the clock jumped', () => {
    const clock = new SimClock(us('2024-05-01T00:00:00Z'));
    const daily = new DailySchedule(clock);
    const fired: string[] = [];
    const id = daily.add('06:00:00', 'UTC', () => fired.push(iso(clock.now())));
    clock.setTime(us('2024-05-04T12:00:00Z'));
    clock.advanceTo(us('2024-05-04T12:00:00Z'));
    expect(fired).toEqual(['2024-05-04T12:00:00.000Z']);
    expect(daily.nextFireTs(id)).toBe(us('2024-05-05T06:00:00Z'));
  });

  it('validates its arguments', () => {
    const daily = new DailySchedule(new SimClock(0));
    expect(() => daily.add('9:5', 'UTC', () => undefined)).toThrow(TypeError);
    expect(() => daily.add('09:05:00', 'Nowhere/Town', () => undefined)).toThrow(RangeError);
    expect(daily.size).toBe(0);
  });

  it('clear() removes everything', () => {
    const clock = new SimClock(0);
    const daily = new DailySchedule(clock);
    const fire = vi.fn();
    daily.add('01:00:00', 'UTC', fire);
    daily.add('02:00:00', 'UTC', fire);
    daily.clear();
    clock.advanceTo(3 * DAY_US);
    expect(fire).not.toHaveBeenCalled();
    expect(daily.size).toBe(0);
  });
});

describe('DailySchedule on a live scheduler (node-cron)', () => {
  function fakeCron() {
    const tasks: { expression: string; fn: () => void; options: { timezone: string; name?: string }; stop: ReturnType<typeof vi.fn>; destroy: ReturnType<typeof vi.fn> }[] = [];
    const impl: CronLike = {
      schedule(expression, fn, options) {
        const t = { expression, fn, options, stop: vi.fn(), destroy: vi.fn() };
        tasks.push(t);
        return t;
      },
    };
    return { impl, tasks };
  }

  it('creates a cron task with the right pattern and zone, and stops it on remove', () => {
    const { impl, tasks } = fakeCron();
    const clock = new LiveClock();
    const daily = new DailySchedule(clock, { cron: impl });
    const fire = vi.fn();
    const id = daily.add('16:05:09', 'America/New_York', fire);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]!.expression).toBe('9 5 16 * * *');
    expect(tasks[0]!.options.timezone).toBe('America/New_York');
    expect(cron.validate(tasks[0]!.expression)).toBe(true);
    expect(daily.nextFireTs(id)).toBeUndefined();
    tasks[0]!.fn();
    expect(fire).toHaveBeenCalledTimes(1);
    daily.remove(id);
    expect(tasks[0]!.stop).toHaveBeenCalledTimes(1);
    expect(tasks[0]!.destroy).toHaveBeenCalledTimes(1);
    daily.remove(id);
    expect(tasks[0]!.stop).toHaveBeenCalledTimes(1);
    expect(daily.size).toBe(0);
  });

  it('never uses the scheduler for cron entries', () => {
    const { impl, tasks } = fakeCron();
    const scheduler = { simulated: false, now: () => 0, at: vi.fn(() => 1), cancel: vi.fn() };
    const daily = new DailySchedule(scheduler, { cron: impl });
    daily.add('00:00:00', 'UTC', () => undefined);
    expect(scheduler.at).not.toHaveBeenCalled();
    expect(tasks).toHaveLength(1);
  });

  it('useCron overrides the default either way', () => {
    const { impl, tasks } = fakeCron();
    const sim = new DailySchedule(new SimClock(0), { cron: impl, useCron: true });
    sim.add('00:00:00', 'UTC', () => undefined);
    expect(tasks).toHaveLength(1);
    const clock = new SimClock(0);
    const scheduler = { simulated: false, now: () => clock.now(), at: clock.at.bind(clock), cancel: clock.cancel.bind(clock) };
    const computed = new DailySchedule(scheduler, { cron: impl, useCron: false });
    const fire = vi.fn();
    computed.add('00:00:00', 'UTC', fire);
    clock.advanceTo(DAY_US);
    expect(fire).toHaveBeenCalledTimes(1);
    expect(tasks).toHaveLength(1);
  });

  describe('with the real node-cron', () => {
    let daily: DailySchedule | undefined;
    afterEach(() => daily?.clear());

    it('registers a task whose next run matches nextDailyTs, and destroys it on remove', async () => {
      const clock = new LiveClock();
      daily = new DailySchedule(clock);
      // The UTC time of day 6 h from now; read in New York it is 10–11 h away, so the test never straddles it.
      const target = new Date((clock.now() + 6 * HOUR_US) / 1000);
      const tod = target.toISOString().slice(11, 19);
      const before = new Set(cron.getTasks().keys());
      const id = daily.add(tod, 'America/New_York', () => undefined);
      const added = [...cron.getTasks().entries()].filter(([k]) => !before.has(k));
      expect(added).toHaveLength(1);
      const task = added[0]![1];
      expect(task.getPattern()).toBe(`${target.getUTCSeconds()} ${target.getUTCMinutes()} ${target.getUTCHours()} * * *`);
      // node-cron reads the wall time in America/New_York; so does nextDailyTs.
      const next = task.getNextRun();
      expect(next).not.toBeNull();
      expect(next!.getTime() * 1000).toBe(nextDailyTs(clock.now(), tod, 'America/New_York'));
      expect(task.getStatus()).not.toBe('destroyed');
      daily.remove(id);
      await new Promise((r) => setImmediate(r));
      expect(task.getStatus()).toBe('destroyed');
      expect(cron.getTasks().has(task.id)).toBe(false);
    });
  });
});
