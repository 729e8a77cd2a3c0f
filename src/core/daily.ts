/**
 * Daily schedules: "every day at `HH:mm:ss` in time zone Z".
 *
 * {@link nextDailyTs} computes the next occurrence from zone offsets that
 * `Intl.DateTimeFormat` reports, so it works on simulated time (backtests). A
 * {@link DailySchedule} runs callbacks at those times on a {@link Scheduler}; on a
 * live (wall-clock) scheduler it hands them to node-cron instead, which re-reads the
 * wall clock and so keeps firing at the right local time across sleeps and DST.
 *
 * All instants are µs since the Unix epoch (UTC). Times of day have second
 * resolution; leap seconds are ignored (as `Intl` does).
 * @module
 */
import cron from 'node-cron';
import type { Scheduler } from './clock.js';

/** Seconds in a day (86 400). */
export const SECONDS_PER_DAY = 86_400;

const TIME_OF_DAY_RE = /^(\d{2}):(\d{2}):(\d{2})$/;
const US_PER_MS = 1000;
const MS_PER_DAY = SECONDS_PER_DAY * 1000;

/** A time of day split into its fields. */
export interface TimeOfDay {
  /** Hour, 0–23. */
  readonly hour: number;
  /** Minute, 0–59. */
  readonly minute: number;
  /** Second, 0–59. */
  readonly second: number;
  /** Seconds since local midnight, 0–86 399. */
  readonly secondsOfDay: number;
}

/**
 * Parses and checks a `'HH:mm:ss'` time of day (24-hour clock, two digits per field).
 * @throws TypeError naming the bad value when it is not a string or not a valid
 *   `'HH:mm:ss'` in `00:00:00`–`23:59:59` (e.g. `'25:00:00'`, `'9:5'`, `''`, `'09:30'`).
 */
export function parseTimeOfDayFields(timeOfDay: string): TimeOfDay {
  if (typeof timeOfDay !== 'string') {
    throw new TypeError(`invalid time of day ${String(timeOfDay)} (${typeof timeOfDay}): expected a 'HH:mm:ss' string`);
  }
  const m = TIME_OF_DAY_RE.exec(timeOfDay);
  const hour = m ? Number(m[1]) : NaN;
  const minute = m ? Number(m[2]) : NaN;
  const second = m ? Number(m[3]) : NaN;
  if (!m || hour > 23 || minute > 59 || second > 59) {
    throw new TypeError(`invalid time of day '${timeOfDay}': expected 'HH:mm:ss' from 00:00:00 to 23:59:59`);
  }
  return { hour, minute, second, secondsOfDay: hour * 3600 + minute * 60 + second };
}

/**
 * Seconds since local midnight (0–86 399) of a `'HH:mm:ss'` time of day, e.g.
 * `parseTimeOfDay('16:00:00') === 57600`.
 * @throws TypeError naming the bad value for anything but a valid `'HH:mm:ss'`
 *   (see {@link parseTimeOfDayFields}).
 */
export function parseTimeOfDay(timeOfDay: string): number {
  return parseTimeOfDayFields(timeOfDay).secondsOfDay;
}

/** The system's IANA time zone (`Intl.DateTimeFormat().resolvedOptions().timeZone`), e.g. `'Europe/London'`. */
export function defaultTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    if (typeof timeZone !== 'string' || timeZone === '') {
      throw new RangeError(`invalid time zone ${JSON.stringify(timeZone)}: expected an IANA name such as 'America/New_York' or 'UTC'`);
    }
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
        era: 'short',
      });
    } catch {
      throw new RangeError(`unknown time zone '${timeZone}': expected an IANA name such as 'America/New_York' or 'UTC'`);
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * Checks an IANA time-zone name and returns it in canonical form as `Intl` resolves it
 * (e.g. `'utc'` → `'UTC'`).
 * @throws RangeError naming the bad value for an unknown or empty zone.
 */
export function validateTimeZone(timeZone: string): string {
  return formatterFor(timeZone).resolvedOptions().timeZone;
}

/** Local wall-clock fields of an instant, as ms of a UTC-based "local epoch". */
function wallMs(f: Intl.DateTimeFormat, utcMs: number): number {
  let y = 0;
  let mo = 0;
  let d = 0;
  let h = 0;
  let mi = 0;
  let s = 0;
  let bc = false;
  for (const p of f.formatToParts(utcMs)) {
    switch (p.type) {
      case 'year': y = Number(p.value); break;
      case 'month': mo = Number(p.value); break;
      case 'day': d = Number(p.value); break;
      case 'hour': h = Number(p.value) % 24; break;
      case 'minute': mi = Number(p.value); break;
      case 'second': s = Number(p.value); break;
      case 'era': bc = p.value.startsWith('B'); break;
      default: break;
    }
  }
  const t = new Date(0);
  t.setUTCFullYear(bc ? 1 - y : y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  return t.getTime();
}

/** Offset (local − UTC) in ms at an instant; the instant is taken at whole seconds. */
function offsetMs(f: Intl.DateTimeFormat, utcMs: number): number {
  const whole = Math.floor(utcMs / 1000) * 1000;
  return wallMs(f, whole) - whole;
}

/**
 * The instant (UTC ms) at which the local wall clock reads `localMs` (local fields as a
 * UTC-based value). Ambiguous (fall-back) → the first occurrence. Skipped
 * (spring-forward gap) → the first instant after the gap, i.e. the transition itself.
 */
function localToUtcMs(f: Intl.DateTimeFormat, localMs: number): number {
  // Offsets in force a day before and after bracket any ordinary transition.
  const before = offsetMs(f, localMs - MS_PER_DAY);
  const after = offsetMs(f, localMs + MS_PER_DAY);
  const valid: number[] = [];
  for (const o of before === after ? [before] : [before, after]) {
    const t = localMs - o;
    if (offsetMs(f, t) === o) valid.push(t);
  }
  if (valid.length) return Math.min(...valid);
  // A gap: the wall time does not exist. Find the transition between the two readings
  // (the earlier reading still has the old offset, the later one the new offset).
  let lo = Math.min(localMs - before, localMs - after);
  let hi = Math.max(localMs - before, localMs - after);
  const oldOffset = offsetMs(f, lo);
  // Invariant: offset(lo) === oldOffset, offset(hi) !== oldOffset; resolution 1 s.
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetMs(f, mid) === oldOffset) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The instant (ms since the epoch) at which the wall clock in `timeZone` reads the given
 * local date and time (passed as a UTC-based value, e.g. `Date.UTC(2012, 5, 21, 9, 30)`).
 * Ambiguous times give the first occurrence; skipped times the end of the gap.
 * @throws RangeError for an unknown `timeZone`.
 */
export function zonedTimeToUtcMs(localMs: number, timeZone: string): number {
  return localToUtcMs(formatterFor(validateTimeZone(timeZone)), localMs);
}

/**
 * The first instant strictly after `nowUs` at which the wall clock in `timeZone` reads
 * `timeOfDay`.
 *
 * DST: a time skipped by a spring-forward transition (e.g. `02:30:00` in New York on
 * 2024-03-10) fires at the first instant after the gap (03:00:00 EDT, the transition);
 * a time that occurs twice in a fall-back transition fires once, at its first
 * occurrence (EDT), and the next occurrence is on the following day.
 *
 * @param nowUs µs since the Unix epoch; a finite number (fractions allowed).
 * @param timeOfDay `'HH:mm:ss'`, 24-hour clock.
 * @param timeZone IANA zone name, e.g. `'America/New_York'`, `'UTC'`, `'Europe/London'`.
 * @returns µs since the Unix epoch, a whole number of seconds.
 * @throws TypeError for a bad `timeOfDay` or a non-finite `nowUs`.
 * @throws RangeError for an unknown `timeZone`.
 */
export function nextDailyTs(nowUs: number, timeOfDay: string, timeZone: string): number {
  if (typeof nowUs !== 'number' || !Number.isFinite(nowUs)) {
    throw new TypeError(`nextDailyTs: nowUs must be a finite number of µs, got ${String(nowUs)}`);
  }
  const tod = parseTimeOfDayFields(timeOfDay);
  const f = formatterFor(timeZone);
  const nowMs = Math.floor(nowUs / US_PER_MS);
  // Local calendar date of `now`, as a UTC-based day number.
  const localDay = Math.floor(wallMs(f, nowMs) / MS_PER_DAY);
  let best = Number.POSITIVE_INFINITY;
  // Yesterday's occurrence can lie after now only around a gap that swallows a whole
  // day; two days on covers "today already passed" plus any transition in between.
  for (let k = -1; k <= 2; k++) {
    const localMs = (localDay + k) * MS_PER_DAY + tod.secondsOfDay * 1000;
    const tUs = localToUtcMs(f, localMs) * US_PER_MS;
    if (tUs > nowUs && tUs < best) best = tUs;
  }
  return best;
}

/** The subset of node-cron's task that {@link DailySchedule} uses. */
export interface CronTaskLike {
  stop(): void | Promise<void>;
  destroy(): void | Promise<void>;
}

/** The subset of node-cron that {@link DailySchedule} uses; injectable for tests. */
export interface CronLike {
  schedule(expression: string, fn: () => void, options: { timezone: string; name?: string }): CronTaskLike;
}

/** Options of a {@link DailySchedule}. */
export interface DailyScheduleOptions {
  /**
   * Use node-cron (wall clock) instead of computed timers on the scheduler.
   * Default: `!scheduler.simulated` (cron live, computed timers on a `SimClock`).
   */
  useCron?: boolean;
  /** The cron implementation. Default: node-cron. */
  cron?: CronLike;
}

type Entry =
  | { kind: 'timer'; timeOfDay: string; timeZone: string; fire: () => void; handle: number; nextTs: number }
  | { kind: 'cron'; timeOfDay: string; timeZone: string; task: CronTaskLike; expression: string };

/**
 * Daily callbacks at a local time of day in an IANA time zone.
 *
 * - Simulated scheduler (e.g. `SimClock`): each occurrence is a `scheduler.at()` action
 *   at {@link nextDailyTs}; the next one is scheduled before `fire` runs, so `fire` may
 *   `remove()` its own entry and a throwing `fire` does not stop the recurrence.
 *   When the clock has already moved past further occurrences, missed days are not
 *   replayed: the entry fires once and continues from the clock's time.
 * - Live scheduler (`simulated === false`): a node-cron task
 *   `'s m H * * *'` with `{ timezone }`. node-cron follows the wall clock across sleeps
 *   and fires ambiguous (fall-back) times once; note that it skips a time that falls
 *   inside a spring-forward gap on that day, where the computed path fires at the end
 *   of the gap.
 */
export class DailySchedule {
  private readonly scheduler: Scheduler;
  private readonly useCron: boolean;
  private readonly cron: CronLike;
  private readonly entries = new Map<number, Entry>();
  private seq = 0;

  /**
   * @param scheduler the clock the computed timers run on.
   * @param options see {@link DailyScheduleOptions}.
   */
  constructor(scheduler: Scheduler, options: DailyScheduleOptions = {}) {
    this.scheduler = scheduler;
    this.useCron = options.useCron ?? !scheduler.simulated;
    this.cron = options.cron ?? (cron as unknown as CronLike);
  }

  /**
   * Calls `fire` every day at `timeOfDay` in `timeZone`, first at the next occurrence
   * strictly after `scheduler.now()`.
   * @param timeOfDay `'HH:mm:ss'`, 24-hour clock.
   * @param timeZone IANA zone name; {@link defaultTimeZone} gives the system's.
   * @returns an id for {@link DailySchedule.remove} (positive integer).
   * @throws TypeError for a bad `timeOfDay`; RangeError for an unknown `timeZone`.
   */
  add(timeOfDay: string, timeZone: string, fire: () => void): number {
    const tod = parseTimeOfDayFields(timeOfDay);
    const zone = validateTimeZone(timeZone);
    if (typeof fire !== 'function') throw new TypeError('DailySchedule.add: fire must be a function');
    const id = ++this.seq;
    if (this.useCron) {
      const expression = `${tod.second} ${tod.minute} ${tod.hour} * * *`;
      const task = this.cron.schedule(expression, () => fire(), { timezone: zone, name: `tradeloop-daily-${id}` });
      this.entries.set(id, { kind: 'cron', timeOfDay, timeZone: zone, task, expression });
    } else {
      const entry: Entry = { kind: 'timer', timeOfDay, timeZone: zone, fire, handle: 0, nextTs: 0 };
      this.entries.set(id, entry);
      this.arm(id, entry, this.scheduler.now());
    }
    return id;
  }

  /** Stops a daily callback. Unknown or already removed ids are ignored. */
  remove(id: number): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    if (e.kind === 'timer') {
      this.scheduler.cancel(e.handle);
    } else {
      swallow(e.task.stop());
      swallow(e.task.destroy());
    }
  }

  /** Removes every daily callback (at shutdown). */
  clear(): void {
    for (const id of [...this.entries.keys()]) this.remove(id);
  }

  /** Number of active daily callbacks. */
  get size(): number {
    return this.entries.size;
  }

  /** True while `id` is active. */
  has(id: number): boolean {
    return this.entries.has(id);
  }

  /**
   * Time of the next firing (µs since the epoch) of a computed-timer entry;
   * `undefined` for unknown ids and for cron entries (ask the cron task instead).
   */
  nextFireTs(id: number): number | undefined {
    const e = this.entries.get(id);
    return e?.kind === 'timer' ? e.nextTs : undefined;
  }

  private arm(id: number, entry: Extract<Entry, { kind: 'timer' }>, afterUs: number): void {
    const ts = nextDailyTs(afterUs, entry.timeOfDay, entry.timeZone);
    entry.nextTs = ts;
    entry.handle = this.scheduler.at(ts, () => {
      if (this.entries.get(id) !== entry) return;
      // Re-arm first: fire may remove this entry or throw.
      this.arm(id, entry, Math.max(ts, this.scheduler.now()));
      entry.fire();
    });
  }
}

function swallow(r: void | Promise<void>): void {
  if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => undefined);
}
