/**
 * Importer for Coinbase Pro WebSocket captures (cryptofeed's raw `COINBASE.ws.*` files): the
 * `level2` channel (`snapshot`, `l2update`) and the `matches` channel (`match`) of several
 * products, turned into normalized `MdEvent`s, one instrument per product.
 *
 * Capture layout, one record a line:
 * - `<url> <-> <local unix time>`: a connection opened;
 * - `<url> <- <local unix time>: <json>`: a message the client sent (subscriptions);
 * - `<local unix time>: <json>`: a message received.
 * Local unix times are seconds with a fraction; venue times are the messages' ISO-8601 `time`.
 *
 * Speed: a well-formed received message is read in place in the chunk of the file, its JSON
 * scanned for the needed fields without building objects (`Converter.stepFast`, with
 * `JsonFields`). Any other line goes through `JSON.parse` and the general code (`step`),
 * which decides and names any problem.
 * @module
 */
import type { EventBatch } from '../../backtest/backtest.js';
import { EventBuffer, JsonFields, LineChunkReader, detachedString, isBlankSpan, jsonFastPathOk, jsonLineOk, passBatches, passEvents, type EventPass } from '../lines.js';
import { InstrumentType } from '../../api/enums.js';
import { makeInstrument, type Instrument } from '../../api/instrument.js';
import { ASK, BID, MdStatus, MdType, type MdEvent, type MdParseIssue, type SideCode } from '../events.js';

/** Per-product grid override: decimal strings, e.g. `{ tickSize: '0.01', lotSize: '0.00000001' }`. */
export interface CoinbaseGridOverride {
  /** Price increment of the product (Coinbase's `quote_increment`); default inferred from the data. */
  tickSize?: string;
  /** Size increment of the product (Coinbase's `base_increment`); default inferred from the data. */
  lotSize?: string;
}

/** Options of `openCoinbase`. */
export interface CoinbaseOptions {
  /** Venue id of the instruments; default `'COINBASE'`. */
  exchange?: string;
  /**
   * Grid overrides by Coinbase product id (`'BTC-USD'`; case-insensitive). A product without
   * an override (or without one of the two sizes) gets the size inferred from the data.
   */
  instruments?: Record<string, CoinbaseGridOverride>;
  /**
   * Emit `last_match` messages (the last trade before the subscription, replayed by Coinbase
   * when `matches` is subscribed) as trades; default false: they are counted and skipped, as
   * they happened before the capture started and are no new market activity.
   */
  includeLastMatch?: boolean;
  /** Receives each issue; default: collected in `issues`. */
  onIssue?: (issue: MdParseIssue) => void;
}

/** Where a product's tick or lot size came from. */
export type CoinbaseGridSource = 'override' | 'snapshot' | 'messages' | 'default';

/** A product of the capture and its instrument. */
export interface CoinbaseProduct {
  /** Coinbase product id as written in the capture, e.g. `'SKL-USD'`. */
  productId: string;
  /** `instrumentId` of its instrument and events (1-based, order of first appearance). */
  instrumentId: number;
  /**
   * Where the tick size came from: `override` (options), `snapshot` (the product's first
   * snapshot), `messages` (no snapshot before the scan ended: its updates and trades),
   * `default` (no price at all: 1e-8, with an issue).
   */
  tickSource: CoinbaseGridSource;
  /** Where the lot size came from (same values as `tickSource`). */
  lotSource: CoinbaseGridSource;
}

/** Counters kept per product and, summed over products, for the whole pass. */
export interface CoinbaseCounters {
  /** Snapshots applied. */
  snapshots: number;
  /** LevelSet events emitted by snapshots (levels of non-zero size). */
  snapshotLevels: number;
  /** `l2update` messages applied (after the product's snapshot). */
  updates: number;
  /** LevelSet events emitted by those updates (one per change on the grid). */
  levelSets: number;
  /** `l2update` messages dropped because the product had no snapshot yet (or lost it on a reconnect). */
  droppedUpdates: number;
  /** Changes in those dropped messages. */
  droppedChanges: number;
  /** Trade events emitted (`match`, plus `last_match` when included). */
  trades: number;
  /** `last_match` messages seen (emitted or not). */
  lastMatches: number;
  /** Matches whose `sequence` is not the last seen + 1: informational only (see `openCoinbase`). */
  matchSeqGaps: number;
  /** Matches whose `sequence` is not above the last seen (replayed or reordered). */
  matchSeqRegressions: number;
  /** Prices or sizes off the product's grid (each reported as an issue and skipped). */
  offGrid: number;
}

/** Counters of one product in an import pass. */
export interface CoinbaseProductStats extends CoinbaseCounters {
  /** `instrumentId` of the product. */
  instrumentId: number;
  /** Events emitted for the product, status events included. */
  events: number;
}

/** Counters of an import pass (the `CoinbaseCounters` summed over products); reset when a pass starts and updated while it runs. */
export interface CoinbaseStats extends CoinbaseCounters {
  /** Lines read, blank ones included. */
  lines: number;
  /** Received messages parsed (malformed lines excluded). */
  messages: number;
  /** Lines of messages the client sent (`<url> <- …`). */
  sentMessages: number;
  /** Connection lines (`<url> <-> …`). */
  connects: number;
  /** Connections after the first: every book is marked stale (Status Disconnected) until its next snapshot. */
  reconnects: number;
  /** Received messages of other types (`ticker`, `subscriptions`, `heartbeat`, `error`, …) by type: counted, not imported. */
  ignored: Record<string, number>;
  /** Lines whose local time was below the previous line's: their events take the previous local time. */
  localTsClamped: number;
  /** Events emitted. */
  events: number;
  /** Issues reported. */
  issues: number;
  /** Counters per product id. */
  products: Record<string, CoinbaseProductStats>;
}

/**
 * An opened Coinbase capture. It is structurally a backtest `MarketSource`. Each call of
 * `events()` is a fresh pass over the file; run one pass at a time.
 */
export interface CoinbaseImport {
  /** Venue id of the instruments. */
  readonly exchange: string;
  /** The capture file, as given. */
  readonly path: string;
  /** One instrument per product, `instrumentId` 1..n in order of first appearance. */
  readonly instruments: Instrument[];
  /** The products, in the same order as `instruments`. */
  readonly products: CoinbaseProduct[];
  /** The event stream of all products, in non-decreasing `localTs` order; each event is a new object. */
  events(): AsyncIterable<MdEvent>;
  /**
   * The same events in batches (a backtest's `MarketSource.batches`): no await and no object
   * per event. A batch is valid until the next one is requested.
   */
  batches(): AsyncIterable<EventBatch>;
  /**
   * Counters of the current or last pass. A pass converts input a batch ahead of what
   * `events()`/`batches()` have handed out, so mid-pass they may count up to one batch more.
   */
  readonly stats: CoinbaseStats;
  /** Issues of the current or last pass (empty when `onIssue` was given). */
  readonly issues: MdParseIssue[];
}

// ---------------------------------------------------------------------------------------------
// Decimal strings, exactly.

/** A positive decimal increment `mant × 10^exp` (mant a positive integer). */
interface Unit {
  mant: number;
  exp: number;
}

/** Result of `toUnits` for a value that is not a plain non-negative decimal. */
const MALFORMED = Number.NaN;
/** Result of `toUnits` for a value off the grid or beyond 2^53 units. */
const OFF_GRID = -1;

/** True when `c` is the char code of a decimal digit. */
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Checks `s` (or its part `[from, to)`) is `digits[.digits]` and returns the index of its dot
 * (`to` when none), or −1 when it is not such a string.
 */
function plainDecimalDot(s: string, from = 0, to = s.length): number {
  const n = to;
  let i = from;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  if (i === from) return -1;
  if (i === n) return n;
  if (s.charCodeAt(i) !== 46) return -1;
  const dot = i;
  i++;
  if (i === n) return -1;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  return i === n ? dot : -1;
}

/**
 * `s / (unit.mant × 10^unit.exp)` computed digit by digit (`s`, or its part `[from, to)`):
 * the integer number of units, or `MALFORMED` (NaN) when `s` is not a plain non-negative
 * decimal, or `OFF_GRID` (−1) when it is not a whole number of units or exceeds
 * `Number.MAX_SAFE_INTEGER` units.
 */
function toUnits(s: string, unit: Unit, from = 0, to = s.length): number {
  if (unit.exp > 0) return toUnitsCoarse(s, unit, from, to);
  // A unit of 10^exp with exp <= 0 (every inferred grid): every integer digit counts and the
  // first -exp fraction digits do, so one pass reads the value while checking the form.
  const scale = -unit.exp;
  let i = from;
  let v = 0;
  for (; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  if (i === from) return MALFORMED;
  let k = 0;
  if (i < to) {
    if (s.charCodeAt(i) !== 46 || i + 1 === to) return MALFORMED;
    // Off the grid is only known once the whole string is known to be a decimal.
    let offGrid = false;
    for (i++; i < to; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return MALFORMED;
      if (k < scale) {
        v = v * 10 + d;
        k++;
      } else if (d !== 0) offGrid = true;
    }
    if (offGrid) return OFF_GRID;
  }
  for (; k < scale; k++) v *= 10;
  // Exact up to 2^53; past it the value is inexact but never comes back below, so one check
  // at the end finds any count beyond `Number.MAX_SAFE_INTEGER`.
  if (v > Number.MAX_SAFE_INTEGER) return OFF_GRID;
  if (unit.mant === 1) return v;
  return v % unit.mant === 0 ? v / unit.mant : OFF_GRID;
}

/** `toUnits` for a unit coarser than 1 (an override such as `'10'`): low integer digits must be zero. */
function toUnitsCoarse(s: string, unit: Unit, from: number, to: number): number {
  const dot = plainDecimalDot(s, from, to);
  if (dot < 0) return MALFORMED;
  // Digit positions: integer digit at index i has decimal exponent (dot - 1 - i); fraction
  // digit at index i has exponent (dot - i). Digits with exponent >= unit.exp form the value
  // in units of 10^exp; any non-zero digit below it is off the grid.
  const exp = unit.exp;
  let v = 0;
  for (let i = from; i < dot; i++) {
    const d = s.charCodeAt(i) - 48;
    if (dot - 1 - i >= exp) v = v * 10 + d;
    else if (d !== 0) return OFF_GRID;
  }
  for (let i = dot + 1; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (dot - i >= exp) v = v * 10 + d;
    else if (d !== 0) return OFF_GRID;
  }
  // A unit coarser than the string's last digit: append the missing zeros.
  const lastExp = dot < to ? dot - (to - 1) : 0;
  for (let e = exp; e < lastExp; e++) v *= 10;
  // Exact up to 2^53; past it the value is inexact but never comes back below, so one check
  // at the end finds any count beyond `Number.MAX_SAFE_INTEGER`.
  if (v > Number.MAX_SAFE_INTEGER) return OFF_GRID;
  if (unit.mant === 1) return v;
  return v % unit.mant === 0 ? v / unit.mant : OFF_GRID;
}

/**
 * Decimal exponent of the least significant non-zero digit of a plain decimal string (`s`, or
 * its part `[from, to)`) (`'14.9280'` → −3, `'1000'` → 3); +∞ for zero, NaN when `s` is not a
 * plain decimal.
 */
function gridExponent(s: string, from = 0, to = s.length): number {
  const dot = plainDecimalDot(s, from, to);
  if (dot < 0) return Number.NaN;
  for (let i = to - 1; i >= from; i--) {
    if (i === dot) continue;
    if (s.charCodeAt(i) !== 48) return i < dot ? dot - 1 - i : dot - i;
  }
  return Number.POSITIVE_INFINITY;
}

/** Parses a positive decimal increment; undefined when it is not one. */
function parseUnit(s: string): Unit | undefined {
  const dot = plainDecimalDot(s);
  if (dot < 0) return undefined;
  const exp = gridExponent(s);
  if (!Number.isFinite(exp)) return undefined;
  // Digits of s from its leading non-zero digit down to 10^exp form the mantissa.
  let mant = 0;
  for (let i = 0; i < s.length; i++) {
    if (i === dot) continue;
    const e = i < dot ? dot - 1 - i : dot - i;
    if (e < exp) break;
    mant = mant * 10 + (s.charCodeAt(i) - 48);
    if (mant > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return mant > 0 ? { mant, exp } : undefined;
}

/** The decimal string of `10^exp`. */
function powerOfTen(exp: number): string {
  return unitString({ mant: 1, exp });
}

/** The decimal string of a unit (`{ mant: 5, exp: -2 }` → `'0.05'`). */
function unitString(u: Unit): string {
  const digits = String(u.mant);
  if (u.exp >= 0) return digits + '0'.repeat(u.exp);
  const frac = -u.exp;
  if (digits.length > frac) return `${digits.slice(0, digits.length - frac)}.${digits.slice(digits.length - frac)}`;
  return '0.' + '0'.repeat(frac - digits.length) + digits;
}

/**
 * A decimal string as an integer number of `unit`s, exactly (digit by digit, no float
 * arithmetic): `coinbaseToUnits('0.00001305', '0.00000001')` is 1305.
 * @param value A plain non-negative decimal (`digits[.digits]`), as Coinbase writes prices and sizes.
 * @param unit A positive decimal increment (tick or lot size), e.g. `'0.01'` or `'0.25'`.
 * @returns The integer count; NaN when `value` is not a plain non-negative decimal; −1 when it
 * is not a whole number of units or exceeds `Number.MAX_SAFE_INTEGER` units.
 * @throws RangeError when `unit` is not a positive decimal.
 */
export function coinbaseToUnits(value: string, unit: string): number {
  const u = parseUnit(unit);
  if (u === undefined) throw new RangeError(`not a positive decimal increment: '${unit}'`);
  return toUnits(value, u);
}

// ---------------------------------------------------------------------------------------------
// Times.

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * An ISO-8601 UTC timestamp as Coinbase writes it (`2021-04-17T16:43:30.244075Z`; an offset
 * such as `+02:00` is accepted too) → µs since the Unix epoch, exactly; digits beyond µs are
 * truncated. NaN when the string is not such a timestamp or names an impossible date.
 */
export function coinbaseIsoToUs(s: string): number {
  return isoToUsAt(s, 0, s.length);
}

/** `coinbaseIsoToUs` of `s[from, to)` (no substring for the usual form). */
function isoToUsAt(s: string, from: number, to: number): number {
  // Fast path for the usual UTC form: the minute prefix changes rarely, so its value is cached
  // and only `SS[.ffffff]Z` is parsed here.
  const n = to - from;
  if (n >= 20 && s.charCodeAt(to - 1) === 90 && s.charCodeAt(from + 16) === 58) {
    if (isoCachePrefix !== '' && hasPrefixAt(s, from, isoCachePrefix)) {
      const s1 = s.charCodeAt(from + 17) - 48;
      const s2 = s.charCodeAt(from + 18) - 48;
      if (s1 >= 0 && s1 <= 5 && s2 >= 0 && s2 <= 9) {
        let frac = 0;
        let ok = true;
        if (n > 20) {
          ok = s.charCodeAt(from + 19) === 46 && n > 21;
          for (let i = from + 20, scale = 100_000; ok && i < to - 1; i++, scale /= 10) {
            const d = s.charCodeAt(i) - 48;
            if (d < 0 || d > 9) ok = false;
            else if (scale >= 1) frac += d * scale;
          }
        }
        if (ok) return isoCacheUs + (s1 * 10 + s2) * 1_000_000 + frac;
      }
    } else {
      const prefix = s.slice(from, from + 16);
      const v = isoToUsSlow(prefix + ':00Z');
      if (!Number.isNaN(v)) {
        isoCachePrefix = prefix;
        isoCacheUs = v;
        return isoToUsAt(s, from, to);
      }
    }
  }
  return isoToUsSlow(s.slice(from, to));
}

/** Whether `s` has `prefix` at `from` (char by char: cheaper than `startsWith` here). */
function hasPrefixAt(s: string, from: number, prefix: string): boolean {
  for (let k = 0; k < prefix.length; k++) if (s.charCodeAt(from + k) !== prefix.charCodeAt(k)) return false;
  return true;
}

/** Minute prefix (`YYYY-MM-DDTHH:MM`) of the last UTC timestamp parsed, and its µs. */
let isoCachePrefix = '';
let isoCacheUs = 0;

/** `coinbaseIsoToUs` by regular expression, for any accepted form. */
function isoToUsSlow(s: string): number {
  const m = ISO_RE.exec(s);
  if (m === null) return Number.NaN;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const sec = Number(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return Number.NaN;
  const ms = Date.UTC(y, mo - 1, d, h, mi, sec);
  // Date.UTC rolls an impossible day over into the next month: catch it.
  if (new Date(ms).getUTCDate() !== d) return Number.NaN;
  const frac = m[7] === undefined ? 0 : Number((m[7] + '00000').slice(0, 6));
  let offsetMin = 0;
  const z = m[8]!;
  if (z !== 'Z') {
    const digits = z.replace(':', '');
    const oh = Number(digits.slice(1, 3));
    const om = Number(digits.slice(3, 5));
    if (oh > 23 || om > 59) return Number.NaN;
    offsetMin = (z[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return (ms - offsetMin * 60_000) * 1000 + frac;
}

/** A capture's local unix time (`1618677817.0618958`) → µs since the epoch, exactly (digits beyond µs truncated); NaN when malformed. */
function unixSecondsToUs(s: string): number {
  return unixSecondsToUsAt(s, 0, s.length);
}

/**
 * `unixSecondsToUs` of `s[from, to)` in one pass, digit by digit: `digits[.digits]` with at
 * most 11 integer digits (exact), the fraction truncated to µs; NaN otherwise.
 */
function unixSecondsToUsAt(s: string, from: number, to: number): number {
  let i = from;
  let sec = 0;
  for (; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    sec = sec * 10 + d;
  }
  if (i === from || i - from > 11) return Number.NaN;
  if (i === to) return sec * 1_000_000;
  if (s.charCodeAt(i) !== 46 || i + 1 === to) return Number.NaN;
  let frac = 0;
  let k = 0;
  for (i++; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    if (k < 6) {
      frac = frac * 10 + d;
      k++;
    }
  }
  for (; k < 6; k++) frac *= 10;
  return sec * 1_000_000 + frac;
}

// ---------------------------------------------------------------------------------------------
// Capture lines.

/** A capture line, split: what it is, its local time (µs) and its JSON text. */
type CaptureLine =
  | { kind: 'recv'; localUs: number; json: string }
  | { kind: 'sent'; localUs: number; json: string }
  | { kind: 'connect'; localUs: number };

const LINE_FORMS = 'expected `<time>: <json>`, `<url> <- <time>: <json>` or `<url> <-> <time>`';

/** Splits a non-blank capture line, or returns why it is malformed. */
function splitLine(text: string): CaptureLine | string {
  if (isDigit(text.charCodeAt(0))) {
    const sep = text.indexOf(': ');
    if (sep < 0) return `not a capture line: ${LINE_FORMS}`;
    const t = text.slice(0, sep);
    const localUs = unixSecondsToUs(t);
    if (Number.isNaN(localUs)) return `local time is not unix seconds: '${t}'`;
    return { kind: 'recv', localUs, json: text.slice(sep + 2) };
  }
  const conn = text.indexOf(' <-> ');
  if (conn > 0) {
    const t = text.slice(conn + 5).trim();
    const localUs = unixSecondsToUs(t);
    if (Number.isNaN(localUs)) return `local time is not unix seconds: '${t}'`;
    return { kind: 'connect', localUs };
  }
  const sent = text.indexOf(' <- ');
  if (sent > 0) {
    const rest = text.slice(sent + 4);
    const sep = rest.indexOf(': ');
    if (sep < 0) return `not a capture line: ${LINE_FORMS}`;
    const t = rest.slice(0, sep);
    const localUs = unixSecondsToUs(t);
    if (Number.isNaN(localUs)) return `local time is not unix seconds: '${t}'`;
    return { kind: 'sent', localUs, json: rest.slice(sep + 2) };
  }
  return `not a capture line: ${LINE_FORMS}`;
}

/** Parses JSON text into an object, or returns why it is not one. */
function parseObject(json: string): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    return `bad JSON: ${(e as Error).message}`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'JSON is not an object';
  return v as Record<string, unknown>;
}

const PRODUCT_RE = /^([A-Za-z0-9]+)-([A-Za-z0-9]+)$/;


// ---------------------------------------------------------------------------------------------
// The scan: products and their grids.

/** Exponent for a product whose grid cannot be inferred: Coinbase's finest increment. */
const DEFAULT_EXP = -8;

interface ScannedProduct {
  productId: string;
  firstLine: number;
  /** Grid exponents from the first snapshot (+∞ while unknown). */
  snapTick: number;
  snapLot: number;
  hasSnapshot: boolean;
  /** Grid exponents from updates and trades seen before any snapshot (+∞ while none). */
  msgTick: number;
  msgLot: number;
}

const PRODUCT_KEY_RE = /"product_id"\s*:\s*"([^"\\]*)"/;

/** Lowers `cur` to the grid exponent of `s` when that is finer (ignores zeros and malformed values). */
function finer(cur: number, s: unknown): number {
  if (typeof s !== 'string') return cur;
  const e = gridExponent(s);
  return e < cur ? e : cur;
}

/**
 * Reads the capture to find its products (order of first appearance) and the grid of each.
 * Stops early once every product the client subscribed to (level2) has appeared and has its
 * grid; otherwise reads to the end. Malformed lines are left for the pass to report.
 */
async function scan(path: string, overrides: Map<string, CoinbaseGridOverride>): Promise<ScannedProduct[]> {
  const products = new Map<string, ScannedProduct>();
  const subscribed = new Set<string>();
  const done = (p: ScannedProduct): boolean => {
    const o = overrides.get(p.productId.toUpperCase());
    return p.hasSnapshot || (o?.tickSize !== undefined && o.lotSize !== undefined);
  };
  const file = new LineChunkReader(path);
  const scanFields = productFields();
  try {
    let line = 0;
    // One line per iteration: `next` within the chunk, `fill` at its end.
    for (;;) {
      if (!file.next()) {
        if (!(await file.fill())) break;
        continue;
      }
      line++;
      if (isBlankSpan(file.text, file.start, file.end)) continue;
      const text = file.line();
      const cap = splitLine(text);
      if (typeof cap === 'string' || cap.kind === 'connect') continue;
      if (cap.kind === 'sent') {
        const msg = parseObject(cap.json);
        if (typeof msg === 'string' || msg.type !== 'subscribe') continue;
        addSubscribed(subscribed, msg);
        continue;
      }
      const key = PRODUCT_KEY_RE.exec(cap.json);
      if (key === null) {
        // Subscription confirmations name products too (`channels[].product_ids`).
        if (cap.json.includes('"subscriptions"')) {
          const msg = parseObject(cap.json);
          if (typeof msg !== 'string' && msg.type === 'subscriptions') addSubscribed(subscribed, msg);
        }
        continue;
      }
      const known = products.get(key[1]!);
      if (known !== undefined && known.hasSnapshot) continue;
      const fast = scanFast(cap.json, line, products, scanFields);
      if (fast === SCAN_SKIPPED) continue;
      if (fast === SCAN_APPLIED) {
        if (subscribed.size > 0 && [...subscribed].every((s) => products.has(s) && done(products.get(s)!))) break;
        continue;
      }
      const msg = parseObject(cap.json);
      if (typeof msg === 'string' || typeof msg.type !== 'string' || typeof msg.product_id !== 'string') continue;
      const id = msg.product_id;
      if (!PRODUCT_RE.test(id)) continue;
      let p = products.get(id);
      if (p === undefined) {
        p = { productId: detachedString(id), firstLine: line, snapTick: Infinity, snapLot: Infinity, hasSnapshot: false, msgTick: Infinity, msgLot: Infinity };
        products.set(id, p);
      }
      if (msg.type === 'snapshot') {
        let tick = Infinity;
        let lot = Infinity;
        for (const sideKey of ['bids', 'asks'] as const) {
          const levels = msg[sideKey];
          if (!Array.isArray(levels)) continue;
          for (const lv of levels) {
            if (!Array.isArray(lv)) continue;
            tick = finer(tick, lv[0]);
            lot = finer(lot, lv[1]);
          }
        }
        p.snapTick = tick;
        p.snapLot = lot;
        p.hasSnapshot = true;
      } else if (msg.type === 'l2update' && Array.isArray(msg.changes)) {
        for (const c of msg.changes) {
          if (!Array.isArray(c)) continue;
          p.msgTick = finer(p.msgTick, c[1]);
          p.msgLot = finer(p.msgLot, c[2]);
        }
      } else if (msg.type === 'match' || msg.type === 'last_match') {
        p.msgTick = finer(p.msgTick, msg.price);
        p.msgLot = finer(p.msgLot, msg.size);
      }
      if (subscribed.size > 0 && [...subscribed].every((s) => products.has(s) && done(products.get(s)!))) break;
    }
  } finally {
    file.close();
  }
  return [...products.values()];
}

// ---------------------------------------------------------------------------------------------
// The fast path: received messages scanned in place (see `JsonFields`), for the scan and the
// pass. It handles the well-formed messages it knows and leaves everything else (returning
// false, having changed nothing) to the code above and below, which also names the problems.

const F_TYPE = 0;
const F_PRODUCT = 1;
const F_BIDS = 2;
const F_ASKS = 3;
const F_CHANGES = 4;
const F_PRICE = 5;
const F_SIZE = 6;
const F_TIME = 7;
const F_SIDE = 8;
const F_SEQUENCE = 9;

/** Fields of the messages the importer reads; snapshot sides are `[price, size]` pairs, changes `[side, price, size]` triples. */
function productFields(): JsonFields {
  return new JsonFields(['type', 'product_id', 'bids', 'asks', 'changes', 'price', 'size', 'time', 'side', 'sequence'], [0, 0, 2, 2, 3, 0, 0, 0, 0, 0]);
}

/** `BID` for the text `buy` at `s[from, to)`, `ASK` for `sell`, 0 otherwise. */
function sideOf(s: string, from: number, to: number): SideCode {
  if (to - from === 3 && s.startsWith('buy', from)) return BID;
  if (to - from === 4 && s.startsWith('sell', from)) return ASK;
  return 0;
}

/** Lowers `cur` to the grid exponent of the string `s[from, to)` when that is finer (as `finer`). */
function finerSpan(cur: number, s: string, from: number, to: number): number {
  const e = gridExponent(s, from, to);
  return e < cur ? e : cur;
}

/** `scanFast` could not judge the message: the scan parses it. */
const SCAN_SLOW = 0;
/** The scan skips the message. */
const SCAN_SKIPPED = 1;
/** The message updated its product. */
const SCAN_APPLIED = 2;

/**
 * The scan's handling of one received message naming a product (`scan`, from `parseObject`
 * on) when the fields scanner accepts it: `SCAN_SKIPPED` or `SCAN_APPLIED` as the code in
 * `scan` would, or `SCAN_SLOW` (nothing changed) for the scan to parse it.
 */
function scanFast(json: string, line: number, products: Map<string, ScannedProduct>, f: JsonFields): number {
  if (!jsonFastPathOk(json) || !f.scan(json)) return SCAN_SLOW;
  const type = f.string(json, F_TYPE);
  const id = f.string(json, F_PRODUCT);
  if (type === undefined || id === undefined) return SCAN_SKIPPED;
  const snapshot = type === 'snapshot';
  // Sides that are arrays of something other than string pairs: the general code decides.
  if (snapshot && ((f.from[F_BIDS]! >= 0 && f.tupleCount[F_BIDS]! < 0) || (f.from[F_ASKS]! >= 0 && f.tupleCount[F_ASKS]! < 0))) return SCAN_SLOW;
  if (type === 'l2update' && f.from[F_CHANGES]! >= 0 && f.tupleCount[F_CHANGES]! < 0) return SCAN_SLOW;
  if (!PRODUCT_RE.test(id)) return SCAN_SKIPPED;
  let p = products.get(id);
  if (p === undefined) {
    p = { productId: detachedString(id), firstLine: line, snapTick: Infinity, snapLot: Infinity, hasSnapshot: false, msgTick: Infinity, msgLot: Infinity };
    products.set(id, p);
  }
  if (snapshot) {
    let tick = Infinity;
    let lot = Infinity;
    for (const k of [F_BIDS, F_ASKS]) {
      const at = f.tuples[k]!;
      for (let i = 0; i < 4 * Math.max(0, f.tupleCount[k]!); i += 4) {
        tick = finerSpan(tick, json, at[i]!, at[i + 1]!);
        lot = finerSpan(lot, json, at[i + 2]!, at[i + 3]!);
      }
    }
    p.snapTick = tick;
    p.snapLot = lot;
    p.hasSnapshot = true;
  } else if (type === 'l2update' && f.tupleCount[F_CHANGES]! >= 0) {
    const at = f.tuples[F_CHANGES]!;
    for (let i = 0; i < 6 * f.tupleCount[F_CHANGES]!; i += 6) {
      p.msgTick = finerSpan(p.msgTick, json, at[i + 2]!, at[i + 3]!);
      p.msgLot = finerSpan(p.msgLot, json, at[i + 4]!, at[i + 5]!);
    }
  } else if (type === 'match' || type === 'last_match') {
    p.msgTick = finer(p.msgTick, f.string(json, F_PRICE));
    p.msgLot = finer(p.msgLot, f.string(json, F_SIZE));
  }
  return SCAN_APPLIED;
}

/** Adds the level2 product ids of a `subscribe` request or a `subscriptions` reply. */
function addSubscribed(set: Set<string>, msg: Record<string, unknown>): void {
  const add = (ids: unknown): void => {
    if (Array.isArray(ids)) for (const id of ids) if (typeof id === 'string' && PRODUCT_RE.test(id)) set.add(id);
  };
  const channels = msg.channels;
  if (!Array.isArray(channels)) return;
  for (const ch of channels) {
    if (ch === 'level2' || ch === 'level2_batch') add(msg.product_ids);
    else if (typeof ch === 'object' && ch !== null) {
      const c = ch as Record<string, unknown>;
      if (c.name === 'level2' || c.name === 'level2_batch') add(c.product_ids);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The pass.

interface ProductState {
  productId: string;
  instrumentId: number;
  tick: Unit;
  lot: Unit;
  /** The book is valid: a snapshot was applied since the last (re)connection. */
  booked: boolean;
  /** Last match / last_match sequence, −1 before any. */
  lastSeq: number;
  stats: CoinbaseProductStats;
}

function emptyProductStats(instrumentId: number): CoinbaseProductStats {
  return {
    instrumentId,
    snapshots: 0,
    snapshotLevels: 0,
    updates: 0,
    levelSets: 0,
    droppedUpdates: 0,
    droppedChanges: 0,
    trades: 0,
    lastMatches: 0,
    matchSeqGaps: 0,
    matchSeqRegressions: 0,
    offGrid: 0,
    events: 0,
  };
}

function resetStats(stats: CoinbaseStats, products: CoinbaseProduct[]): void {
  stats.lines = 0;
  stats.messages = 0;
  stats.sentMessages = 0;
  stats.connects = 0;
  stats.reconnects = 0;
  stats.snapshots = 0;
  stats.snapshotLevels = 0;
  stats.updates = 0;
  stats.levelSets = 0;
  stats.droppedUpdates = 0;
  stats.droppedChanges = 0;
  stats.trades = 0;
  stats.lastMatches = 0;
  stats.matchSeqGaps = 0;
  stats.matchSeqRegressions = 0;
  stats.offGrid = 0;
  stats.ignored = {};
  stats.localTsClamped = 0;
  stats.events = 0;
  stats.issues = 0;
  stats.products = {};
  for (const p of products) stats.products[p.productId] = emptyProductStats(p.instrumentId);
}

interface PassContext {
  path: string;
  products: CoinbaseProduct[];
  units: Map<string, { tick: Unit; lot: Unit }>;
  /** Issues found by the scan (grid defaults), re-reported at the start of each pass. */
  scanIssues: MdParseIssue[];
  includeLastMatch: boolean;
  stats: CoinbaseStats;
  issues: MdParseIssue[];
  onIssue: ((issue: MdParseIssue) => void) | undefined;
}

/** Per-pass state: the products' book status and the events of the current line. */
class Converter {
  private readonly products = new Map<string, ProductState>();
  /** Products not in the instrument list already reported (once each). */
  private readonly unknownReported = new Set<string>();
  /** Where events go; set by the pass before each `fill`. */
  out: EventBuffer = new EventBuffer(1);
  private readonly fields = productFields();
  /** Ticks and lots of the message being converted (reused; written by index). */
  private readonly tmpSide: SideCode[] = [];
  private readonly tmpTick: number[] = [];
  private readonly tmpQty: number[] = [];
  private readonly snapBidT: number[] = [];
  private readonly snapBidQ: number[] = [];
  private readonly snapAskT: number[] = [];
  private readonly snapAskQ: number[] = [];
  private lastLocalUs = Number.NEGATIVE_INFINITY;
  private localUs = 0;
  private line = 0;

  constructor(private readonly ctx: PassContext) {
    for (const p of ctx.products) {
      const u = ctx.units.get(p.productId)!;
      this.products.set(p.productId, {
        productId: p.productId,
        instrumentId: p.instrumentId,
        tick: u.tick,
        lot: u.lot,
        booked: false,
        lastSeq: -1,
        stats: ctx.stats.products[p.productId]!,
      });
    }
  }

  issue(line: number, message: string): void {
    this.ctx.stats.issues++;
    // The message may quote a value cut from a chunk: copied, so as not to keep the chunk.
    const issue: MdParseIssue = { file: this.ctx.path, line, message: detachedString(message) };
    if (this.ctx.onIssue) this.ctx.onIssue(issue);
    else this.ctx.issues.push(issue);
  }

  /** Converts one line; its events are appended to `out`. */
  step(line: number, text: string): void {
    const before = this.out.length;
    this.line = line;
    const stats = this.ctx.stats;
    const cap = splitLine(text);
    if (typeof cap === 'string') {
      this.issue(line, cap);
      return;
    }
    let localUs = cap.localUs;
    if (localUs < this.lastLocalUs) {
      localUs = this.lastLocalUs;
      stats.localTsClamped++;
    }
    this.lastLocalUs = localUs;
    this.localUs = localUs;
    if (cap.kind === 'connect') {
      stats.connects++;
      if (stats.connects > 1) this.reconnect();
      return;
    }
    const msg = parseObject(cap.json);
    if (typeof msg === 'string') {
      this.issue(line, msg);
      return;
    }
    if (cap.kind === 'sent') {
      stats.sentMessages++;
      return;
    }
    const type = msg.type;
    if (typeof type !== 'string') {
      this.issue(line, "message has no string 'type'");
      return;
    }
    switch (type) {
      case 'snapshot':
      case 'l2update':
      case 'match':
      case 'last_match': {
        const p = this.product(msg);
        if (p === undefined) return;
        stats.messages++;
        if (type === 'snapshot') this.snapshot(p, msg);
        else if (type === 'l2update') this.update(p, msg);
        else this.match(p, msg, type === 'last_match');
        p.stats.events += this.out.length - before;
        stats.events += this.out.length - before;
        return;
      }
      default:
        stats.messages++;
        stats.ignored[type] = (stats.ignored[type] ?? 0) + 1;
    }
  }

  /**
   * `step` for a well-formed received message (a known product's snapshot, l2update or
   * match, or a message of another type), with the JSON scanned in place: the same effects.
   * Returns false, having changed nothing, for any other line; `step` then converts it and
   * names its problems.
   */
  stepFast(line: number, r: LineChunkReader): boolean {
    // The line is read in place: `json` is the chunk's text and offsets are into it.
    const json = r.text;
    const from = r.start;
    const to = r.end;
    if (!isDigit(json.charCodeAt(from))) return false;
    const sep = json.indexOf(': ', from);
    if (sep < 0 || sep >= to) return false;
    const lineUs = unixSecondsToUsAt(json, from, sep);
    if (Number.isNaN(lineUs)) return false;
    const f = this.fields;
    if (!jsonLineOk(r, sep + 2, to) || !f.scan(json, sep + 2, to)) return false;
    const type = f.string(json, F_TYPE);
    if (type === undefined) return false;
    const ticks = this.tmpTick;
    const qtys = this.tmpQty;
    const sides = this.tmpSide;
    let p: ProductState | undefined;
    let exchTs = 0;
    let count = 0;
    let sequence: number | undefined;
    // Check (and convert) everything before any effect.
    switch (type) {
      case 'snapshot': {
        p = this.knownProduct(json);
        const nb = f.tupleCount[F_BIDS]!;
        const na = f.tupleCount[F_ASKS]!;
        if (p === undefined || nb < 0 || na < 0) return false;
        for (const k of [F_BIDS, F_ASKS]) {
          const at = f.tuples[k]!;
          for (let i = 0; i < 4 * f.tupleCount[k]!; i += 4) {
            const t = toUnits(json, p.tick, at[i]!, at[i + 1]!);
            const q = toUnits(json, p.lot, at[i + 2]!, at[i + 3]!);
            if (Number.isNaN(t) || Number.isNaN(q)) return false;
            ticks[count] = t;
            qtys[count++] = q;
          }
        }
        break;
      }
      case 'l2update': {
        p = this.knownProduct(json);
        const n = f.tupleCount[F_CHANGES]!;
        if (p === undefined || n < 0 || !f.isString(json, F_TIME)) return false;
        exchTs = isoToUsAt(json, f.from[F_TIME]! + 1, f.to[F_TIME]! - 1);
        if (Number.isNaN(exchTs)) return false;
        const at = f.tuples[F_CHANGES]!;
        for (let i = 0; i < 6 * n; i += 6) {
          const side = sideOf(json, at[i]!, at[i + 1]!);
          const t = toUnits(json, p.tick, at[i + 2]!, at[i + 3]!);
          const q = toUnits(json, p.lot, at[i + 4]!, at[i + 5]!);
          if (side === 0 || Number.isNaN(t) || Number.isNaN(q)) return false;
          sides[count] = side;
          ticks[count] = t;
          qtys[count++] = q;
        }
        break;
      }
      case 'match':
      case 'last_match': {
        p = this.knownProduct(json);
        const side = f.isString(json, F_SIDE) ? sideOf(json, f.from[F_SIDE]! + 1, f.to[F_SIDE]! - 1) : 0;
        const time = f.string(json, F_TIME);
        if (p === undefined || side === 0 || !f.isString(json, F_PRICE) || !f.isString(json, F_SIZE) || time === undefined) return false;
        ticks[0] = toUnits(json, p.tick, f.from[F_PRICE]! + 1, f.to[F_PRICE]! - 1);
        qtys[0] = toUnits(json, p.lot, f.from[F_SIZE]! + 1, f.to[F_SIZE]! - 1);
        exchTs = coinbaseIsoToUs(time);
        if (Number.isNaN(ticks[0]) || Number.isNaN(qtys[0]) || Number.isNaN(exchTs)) return false;
        if (f.from[F_SEQUENCE]! >= 0) {
          sequence = f.number(json, F_SEQUENCE);
          if (!Number.isSafeInteger(sequence) || sequence < 0) return false;
        }
        // Coinbase's side is the maker's: a resting sell filled means the taker bought.
        sides[0] = side === ASK ? BID : ASK;
        break;
      }
    }

    // The effects, as `step` has them.
    const before = this.out.length;
    this.line = line;
    const stats = this.ctx.stats;
    let localUs = lineUs;
    if (localUs < this.lastLocalUs) {
      localUs = this.lastLocalUs;
      stats.localTsClamped++;
    }
    this.lastLocalUs = localUs;
    this.localUs = localUs;
    stats.messages++;
    if (p === undefined) {
      stats.ignored[type] = (stats.ignored[type] ?? 0) + 1;
      return true;
    }
    if (type === 'snapshot') this.snapshotFast(p, json);
    else if (type === 'l2update') {
      const at = f.tuples[F_CHANGES]!;
      this.applyUpdate(p, exchTs, sides, ticks, qtys, count, (i, k) => json.slice(at[6 * i + 2 * k]!, at[6 * i + 2 * k + 1]!));
    } else {
      const price = json.slice(f.from[F_PRICE]! + 1, f.to[F_PRICE]! - 1);
      const size = json.slice(f.from[F_SIZE]! + 1, f.to[F_SIZE]! - 1);
      this.applyMatch(p, type === 'last_match', sides[0]!, ticks[0]!, qtys[0]!, exchTs, sequence, price, size);
    }
    p.stats.events += this.out.length - before;
    stats.events += this.out.length - before;
    return true;
  }

  /** `snapshot` for `stepFast`: its levels are converted in `tmpTick`/`tmpQty` (bids, then asks). */
  private snapshotFast(p: ProductState, json: string): void {
    const f = this.fields;
    const bidT = this.snapBidT;
    const bidQ = this.snapBidQ;
    const askT = this.snapAskT;
    const askQ = this.snapAskQ;
    let nb = 0;
    let na = 0;
    let j = 0;
    for (const k of [F_BIDS, F_ASKS]) {
      const name = k === F_BIDS ? 'bids' : 'asks';
      const at = f.tuples[k]!;
      for (let i = 0; i < f.tupleCount[k]!; i++, j++) {
        const t = this.tmpTick[j]!;
        const q = this.tmpQty[j]!;
        if (t < 0) {
          this.offGrid(p, `snapshot ${name}[${i}] price`, json.slice(at[4 * i]!, at[4 * i + 1]!), p.tick);
          continue;
        }
        if (q < 0) {
          this.offGrid(p, `snapshot ${name}[${i}] size`, json.slice(at[4 * i + 2]!, at[4 * i + 3]!), p.lot);
          continue;
        }
        if (q === 0) continue;
        if (k === F_BIDS) {
          bidT[nb] = t;
          bidQ[nb++] = q;
        } else {
          askT[na] = t;
          askQ[na++] = q;
        }
      }
    }
    this.emitSnapshot(p, bidT, bidQ, nb, askT, askQ, na);
  }

  /** The product named by the scanned message, when it is one of the instruments; undefined otherwise (`step` reports it). */
  private knownProduct(json: string): ProductState | undefined {
    const id = this.fields.string(json, F_PRODUCT);
    return id === undefined ? undefined : this.products.get(id);
  }

  /** The product a book or trade message is about; undefined (and reported) when unusable. */
  private product(msg: Record<string, unknown>): ProductState | undefined {
    const id = msg.product_id;
    if (typeof id !== 'string') {
      this.issue(this.line, "message has no string 'product_id'");
      return undefined;
    }
    const p = this.products.get(id);
    if (p !== undefined) return p;
    if (!PRODUCT_RE.test(id)) this.issue(this.line, `product_id is not BASE-QUOTE: '${id}'`);
    else if (!this.unknownReported.has(id)) {
      this.unknownReported.add(id);
      this.issue(this.line, `product ${id} first appears after the instrument scan ended (it was not subscribed to); its messages are skipped`);
    }
    return undefined;
  }

  private emit(p: ProductState, type: MdType, exchTs: number, side: SideCode, priceTick: number, qty: number, status = 0): void {
    this.out.push(type, p.instrumentId, exchTs, this.localUs, side, 0, priceTick, qty, status);
  }

  /** A new connection: every book is stale until its next snapshot. */
  private reconnect(): void {
    this.ctx.stats.reconnects++;
    for (const p of this.products.values()) {
      if (!p.booked) continue;
      p.booked = false;
      this.emit(p, MdType.Status, this.localUs, 0, 0, 0, MdStatus.Disconnected);
      p.stats.events++;
      this.ctx.stats.events++;
    }
  }

  /** Reports a value off the product's grid. */
  private offGrid(p: ProductState, what: string, value: string, unit: Unit): void {
    p.stats.offGrid++;
    this.ctx.stats.offGrid++;
    this.issue(this.line, `${p.productId}: ${what} '${value}' is not a whole multiple of ${unitString(unit)} (or too large); skipped — pass a grid override for the product`);
  }

  /** `[price, size]` pairs of one snapshot side → ticks and lots; a string when malformed. */
  private levels(p: ProductState, raw: unknown, name: string, ticks: number[], qtys: number[]): string | undefined {
    if (!Array.isArray(raw)) return `snapshot '${name}' is not an array`;
    for (let i = 0; i < raw.length; i++) {
      const lv: unknown = raw[i];
      if (!Array.isArray(lv) || lv.length < 2 || typeof lv[0] !== 'string' || typeof lv[1] !== 'string') {
        return `snapshot ${name}[${i}] is not a [price, size] pair of strings`;
      }
      const price = lv[0];
      const size = lv[1];
      const t = toUnits(price, p.tick);
      const q = toUnits(size, p.lot);
      if (Number.isNaN(t)) return `snapshot ${name}[${i}] price is not a non-negative decimal: '${price}'`;
      if (Number.isNaN(q)) return `snapshot ${name}[${i}] size is not a non-negative decimal: '${size}'`;
      if (t < 0) {
        this.offGrid(p, `snapshot ${name}[${i}] price`, price, p.tick);
        continue;
      }
      if (q < 0) {
        this.offGrid(p, `snapshot ${name}[${i}] size`, size, p.lot);
        continue;
      }
      if (q === 0) continue;
      ticks.push(t);
      qtys.push(q);
    }
    return undefined;
  }

  private snapshot(p: ProductState, msg: Record<string, unknown>): void {
    const bidT: number[] = [];
    const bidQ: number[] = [];
    const askT: number[] = [];
    const askQ: number[] = [];
    const err = this.levels(p, msg.bids, 'bids', bidT, bidQ) ?? this.levels(p, msg.asks, 'asks', askT, askQ);
    if (err !== undefined) {
      this.issue(this.line, `${p.productId}: ${err}; snapshot skipped`);
      return;
    }
    this.emitSnapshot(p, bidT, bidQ, bidT.length, askT, askQ, askT.length);
  }

  /** The events of a snapshot whose levels (non-zero, on the grid) are converted. */
  private emitSnapshot(p: ProductState, bidT: number[], bidQ: number[], nb: number, askT: number[], askQ: number[], na: number): void {
    // A snapshot carries no venue time: its events take the local time.
    const ts = this.localUs;
    this.emit(p, MdType.Status, ts, 0, 0, 0, MdStatus.SnapshotStart);
    this.emit(p, MdType.Clear, ts, 0, 0, 0);
    for (let i = 0; i < nb; i++) this.emit(p, MdType.LevelSet, ts, BID, bidT[i]!, bidQ[i]!);
    for (let i = 0; i < na; i++) this.emit(p, MdType.LevelSet, ts, ASK, askT[i]!, askQ[i]!);
    this.emit(p, MdType.Status, ts, 0, 0, 0, MdStatus.SnapshotEnd);
    p.booked = true;
    const n = nb + na;
    p.stats.snapshots++;
    p.stats.snapshotLevels += n;
    this.ctx.stats.snapshots++;
    this.ctx.stats.snapshotLevels += n;
  }

  private update(p: ProductState, msg: Record<string, unknown>): void {
    const changes = msg.changes;
    if (!Array.isArray(changes)) {
      this.issue(this.line, `${p.productId}: l2update 'changes' is not an array; skipped`);
      return;
    }
    const exchTs = typeof msg.time === 'string' ? coinbaseIsoToUs(msg.time) : Number.NaN;
    if (Number.isNaN(exchTs)) {
      this.issue(this.line, `${p.productId}: l2update 'time' is not an ISO-8601 timestamp: ${JSON.stringify(msg.time)}; skipped`);
      return;
    }
    // Validate every change before emitting any: a malformed message is skipped whole.
    const sides: SideCode[] = [];
    const ticks: number[] = [];
    const qtys: number[] = [];
    for (let i = 0; i < changes.length; i++) {
      const c: unknown = changes[i];
      if (!Array.isArray(c) || c.length < 3 || typeof c[0] !== 'string' || typeof c[1] !== 'string' || typeof c[2] !== 'string') {
        this.issue(this.line, `${p.productId}: l2update changes[${i}] is not a [side, price, size] triple of strings; skipped`);
        return;
      }
      const side = c[0] === 'buy' ? BID : c[0] === 'sell' ? ASK : 0;
      if (side === 0) {
        this.issue(this.line, `${p.productId}: l2update changes[${i}] side must be 'buy' or 'sell', got '${c[0]}'; skipped`);
        return;
      }
      const t = toUnits(c[1], p.tick);
      const q = toUnits(c[2], p.lot);
      if (Number.isNaN(t) || Number.isNaN(q)) {
        const [what, v] = Number.isNaN(t) ? ['price', c[1]] : ['size', c[2]];
        this.issue(this.line, `${p.productId}: l2update changes[${i}] ${what} is not a non-negative decimal: '${v}'; skipped`);
        return;
      }
      sides.push(side);
      ticks.push(t);
      qtys.push(q);
    }
    this.applyUpdate(p, exchTs, sides, ticks, qtys, sides.length, (i, k) => (changes[i] as string[])[k]!);
  }

  /**
   * An l2update whose `count` changes are valid (side, and price and size in units, −1 when
   * off the grid): its LevelSets, or its counts when the product has no book. `raw(i, k)` is
   * element `k` (1 price, 2 size) of change `i` as written, for the off-grid issues.
   */
  private applyUpdate(p: ProductState, exchTs: number, sides: SideCode[], ticks: number[], qtys: number[], count: number, raw: (i: number, k: 1 | 2) => string): void {
    if (!p.booked) {
      p.stats.droppedUpdates++;
      p.stats.droppedChanges += count;
      this.ctx.stats.droppedUpdates++;
      this.ctx.stats.droppedChanges += count;
      return;
    }
    let n = 0;
    for (let i = 0; i < count; i++) {
      if (ticks[i]! < 0) {
        this.offGrid(p, `l2update changes[${i}] price`, raw(i, 1), p.tick);
        continue;
      }
      if (qtys[i]! < 0) {
        this.offGrid(p, `l2update changes[${i}] size`, raw(i, 2), p.lot);
        continue;
      }
      this.emit(p, MdType.LevelSet, exchTs, sides[i]!, ticks[i]!, qtys[i]!);
      n++;
    }
    p.stats.updates++;
    p.stats.levelSets += n;
    this.ctx.stats.updates++;
    this.ctx.stats.levelSets += n;
  }

  private match(p: ProductState, msg: Record<string, unknown>, last: boolean): void {
    const kind = last ? 'last_match' : 'match';
    const { side, price, size, time, sequence } = msg;
    if (side !== 'buy' && side !== 'sell') {
      this.issue(this.line, `${p.productId}: ${kind} side must be 'buy' or 'sell', got ${JSON.stringify(side)}; skipped`);
      return;
    }
    if (typeof price !== 'string' || typeof size !== 'string') {
      this.issue(this.line, `${p.productId}: ${kind} needs string 'price' and 'size'; skipped`);
      return;
    }
    const t = toUnits(price, p.tick);
    const q = toUnits(size, p.lot);
    if (Number.isNaN(t) || Number.isNaN(q)) {
      const [what, v] = Number.isNaN(t) ? ['price', price] : ['size', size];
      this.issue(this.line, `${p.productId}: ${kind} ${what} is not a non-negative decimal: '${v}'; skipped`);
      return;
    }
    const exchTs = typeof time === 'string' ? coinbaseIsoToUs(time) : Number.NaN;
    if (Number.isNaN(exchTs)) {
      this.issue(this.line, `${p.productId}: ${kind} 'time' is not an ISO-8601 timestamp: ${JSON.stringify(time)}; skipped`);
      return;
    }
    if (sequence !== undefined && !(typeof sequence === 'number' && Number.isSafeInteger(sequence) && sequence >= 0)) {
      this.issue(this.line, `${p.productId}: ${kind} 'sequence' is not a non-negative integer: ${JSON.stringify(sequence)}; skipped`);
      return;
    }
    this.applyMatch(p, last, side === 'sell' ? BID : ASK, t, q, exchTs, sequence as number | undefined, price, size);
  }

  /**
   * A valid match or last_match: `takerSide` from Coinbase's maker side, price and size in
   * units (−1 when off the grid; `price`/`size` as written, for the issue), `sequence` when it
   * has one.
   */
  private applyMatch(p: ProductState, last: boolean, takerSide: SideCode, t: number, q: number, exchTs: number, sequence: number | undefined, price: string, size: string): void {
    const kind = last ? 'last_match' : 'match';
    if (typeof sequence === 'number') {
      // Matches are a subset of the product's sequenced messages: gaps are expected, and no
      // book depends on them (level2 carries absolute sizes). Counted for information.
      if (!last && p.lastSeq >= 0) {
        if (sequence <= p.lastSeq) {
          p.stats.matchSeqRegressions++;
          this.ctx.stats.matchSeqRegressions++;
        } else if (sequence !== p.lastSeq + 1) {
          p.stats.matchSeqGaps++;
          this.ctx.stats.matchSeqGaps++;
        }
      }
      if (sequence > p.lastSeq) p.lastSeq = sequence;
    }
    if (last) {
      p.stats.lastMatches++;
      this.ctx.stats.lastMatches++;
      if (!this.ctx.includeLastMatch) return;
    }
    if (t < 0) {
      this.offGrid(p, `${kind} price`, price, p.tick);
      return;
    }
    if (q < 0) {
      this.offGrid(p, `${kind} size`, size, p.lot);
      return;
    }
    // Coinbase's side is the maker's: a resting sell filled means the taker bought.
    this.emit(p, MdType.Trade, exchTs, takerSide, t, q);
    p.stats.trades++;
    this.ctx.stats.trades++;
  }
}

/**
 * One pass over the capture: lines are converted synchronously from the reader's current
 * chunk until the output holds enough events; `fill` awaits only for the next chunk.
 */
class CoinbasePass implements EventPass {
  private readonly conv: Converter;
  private readonly file: LineChunkReader;
  private line = 0;
  private closed = false;

  constructor(private readonly ctx: PassContext) {
    resetStats(ctx.stats, ctx.products);
    ctx.issues.length = 0;
    this.conv = new Converter(ctx);
    for (const i of ctx.scanIssues) this.conv.issue(i.line, i.message);
    this.file = new LineChunkReader(ctx.path);
  }

  async fill(out: EventBuffer, min: number): Promise<void> {
    const conv = this.conv;
    const file = this.file;
    const stats = this.ctx.stats;
    conv.out = out;
    while (!this.closed) {
      while (file.next()) {
        this.line++;
        stats.lines++;
        if (isBlankSpan(file.text, file.start, file.end)) continue;
        if (!conv.stepFast(this.line, file)) conv.step(this.line, file.line());
        if (out.length >= min) return;
      }
      if (!(await file.fill())) return;
    }
  }

  close(): void {
    this.closed = true;
    this.file.close();
  }
}

/**
 * Opens a Coinbase Pro WebSocket capture (cryptofeed's `COINBASE.ws.*`). The file is read
 * once on open to list its products and infer their grids (stopping as soon as every product
 * subscribed to on `level2` has appeared with its snapshot); `events()` then streams it line
 * by line, so memory stays bounded by the largest line.
 *
 * - Instruments: one per `product_id`, `instrumentId` 1..n in order of first appearance
 *   (any received message naming the product counts, `ticker` included), named
 *   `coinbase:spot:<base>-<quote>` in lowercase, Spot, base and quote from the product id.
 * - Grids: Coinbase's increments are not in the capture. Per product, the tick size is the
 *   largest power of ten dividing every price of its first snapshot, the lot size the same for
 *   the sizes, neither coarser than 1 (a coarser grid would reject later values; a finer one
 *   only makes larger integers). Without a snapshot, the prices and sizes of its updates and
 *   trades seen by the scan are used; without any, 1e-8 (reported as an issue). Overrides in
 *   `opts.instruments` win and may be any positive decimal (`'0.25'`). A value off its grid
 *   later is reported and that level or trade skipped.
 * - Decimal strings become integer ticks and lots digit by digit, exactly.
 * - `snapshot` → Status SnapshotStart, Clear, LevelSet per level of non-zero size (bids best
 *   first, then asks best first), Status SnapshotEnd. It has no venue time: exchTs = localTs.
 * - `l2update` → one LevelSet per change (absolute size in lots; 0 removes the level), exchTs
 *   from its `time`. Updates of a product with no snapshot yet are dropped and counted.
 * - `match` → Trade with the taker's side (Coinbase's `side` is the maker order's, so `sell`
 *   → BID, `buy` → ASK), price in ticks, size in lots, exchTs from its `time`. `last_match`
 *   (the trade before the subscription) is counted and skipped unless `includeLastMatch`.
 * - `match.sequence` is per product and shared with messages not in the capture, so a gap is
 *   no data loss and the level2 book (absolute sizes, no sequence) does not depend on it:
 *   gaps are only counted. There is no way to detect a lost `l2update` from the data.
 * - `ticker`, `subscriptions`, `heartbeat` and any other type are counted in `stats.ignored`.
 * - A connection line after the first (a reconnect) emits Status Disconnected for every
 *   product with a book; its updates are dropped until its next snapshot.
 * - localTs is the line's local unix time in µs (truncated); a line whose time goes backwards
 *   takes the previous line's time, so events come in non-decreasing localTs order.
 * - Malformed lines (not a capture line, bad JSON, missing or mistyped fields, non-numeric
 *   values) are reported as `{file, line, message}` and skipped; the import goes on. Blank
 *   lines are skipped silently.
 *
 * The books are not checked for crossing: they show what the data says. Level2 sends absolute
 * sizes in order per product, so a crossed book means lost updates, which the feed gives no
 * way to detect; in the shipped capture `data/coinbase/COINBASE.ws.28.0` no book ever crosses.
 *
 * @param path The capture file.
 * @param opts Options; see `CoinbaseOptions` for the defaults.
 * @returns A promise of the opened import, after the scan.
 * @throws RangeError (a rejected promise) when an override in `opts.instruments` is not a
 * positive decimal; the file system's error when the file cannot be read.
 */
export async function openCoinbase(path: string, opts: CoinbaseOptions = {}): Promise<CoinbaseImport> {
  const overrides = new Map<string, CoinbaseGridOverride>();
  const overrideUnits = new Map<string, { tick?: Unit; lot?: Unit }>();
  for (const [id, o] of Object.entries(opts.instruments ?? {})) {
    const key = id.toUpperCase();
    const tick = o.tickSize === undefined ? undefined : parseUnit(o.tickSize);
    const lot = o.lotSize === undefined ? undefined : parseUnit(o.lotSize);
    if (o.tickSize !== undefined && tick === undefined) throw new RangeError(`instrument override ${id}: tickSize must be a positive decimal, got '${o.tickSize}'`);
    if (o.lotSize !== undefined && lot === undefined) throw new RangeError(`instrument override ${id}: lotSize must be a positive decimal, got '${o.lotSize}'`);
    overrides.set(key, o);
    overrideUnits.set(key, { tick, lot });
  }
  const exchange = opts.exchange ?? 'COINBASE';
  const scanned = await scan(path, overrides);
  const instruments: Instrument[] = [];
  const products: CoinbaseProduct[] = [];
  const units = new Map<string, { tick: Unit; lot: Unit }>();
  const scanIssues: MdParseIssue[] = [];
  for (const s of scanned) {
    const instrumentId = products.length + 1;
    const o = overrideUnits.get(s.productId.toUpperCase()) ?? {};
    const pick = (ov: Unit | undefined, snap: number, fromMsgs: number, what: string): { unit: Unit; source: CoinbaseGridSource } => {
      if (ov !== undefined) return { unit: ov, source: 'override' };
      if (Number.isFinite(snap)) return { unit: { mant: 1, exp: Math.min(snap, 0) }, source: 'snapshot' };
      if (Number.isFinite(fromMsgs)) return { unit: { mant: 1, exp: Math.min(fromMsgs, 0) }, source: 'messages' };
      scanIssues.push({ file: path, line: s.firstLine, message: `${s.productId}: no ${what} to infer its grid from; using ${powerOfTen(DEFAULT_EXP)} — pass a grid override for the product` });
      return { unit: { mant: 1, exp: DEFAULT_EXP }, source: 'default' };
    };
    const tick = pick(o.tick, s.snapTick, s.msgTick, 'price');
    const lot = pick(o.lot, s.snapLot, s.msgLot, 'size');
    const ov = overrides.get(s.productId.toUpperCase());
    const m = PRODUCT_RE.exec(s.productId)!;
    instruments.push(
      makeInstrument({
        instrumentId,
        exchange,
        name: `coinbase:spot:${s.productId.toLowerCase()}`,
        type: InstrumentType.Spot,
        tickSize: tick.source === 'override' ? ov!.tickSize! : powerOfTen(tick.unit.exp),
        lotSize: lot.source === 'override' ? ov!.lotSize! : powerOfTen(lot.unit.exp),
        baseCurrency: m[1]!.toUpperCase(),
        quoteCurrency: m[2]!.toUpperCase(),
      }),
    );
    products.push({ productId: s.productId, instrumentId, tickSource: tick.source, lotSource: lot.source });
    units.set(s.productId, { tick: tick.unit, lot: lot.unit });
  }
  const stats = {} as CoinbaseStats;
  resetStats(stats, products);
  const issues: MdParseIssue[] = [];
  const ctx: PassContext = { path, products, units, scanIssues, includeLastMatch: opts.includeLastMatch ?? false, stats, issues, onIssue: opts.onIssue };
  return {
    exchange,
    path,
    instruments,
    products,
    stats,
    issues,
    events: () => passEvents(() => new CoinbasePass(ctx)),
    batches: () => passBatches(() => new CoinbasePass(ctx)),
  };
}
