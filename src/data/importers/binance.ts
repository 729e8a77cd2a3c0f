/**
 * Importer for Binance spot captures in the cryptofeed raw layout: a WebSocket capture of
 * combined streams (`BINANCE.ws.*`) and the REST depth snapshots taken beside it
 * (`BINANCE.http.*`), merged by local receive time into normalized `MdEvent`s.
 *
 * Diff depth streams are synced per symbol by Binance's rules for a local order book:
 * buffer the diffs, take the REST snapshot, drop diffs with `u <= lastUpdateId`, apply the
 * first diff only when `U <= lastUpdateId + 1 <= u`, then require each diff's `U` to be the
 * previous `u + 1`; a break is a gap, after which the book waits for the next snapshot of
 * that symbol in the capture.
 *
 * Speed: a well-formed line is read in place in the chunk of the file, its JSON scanned for
 * the needed fields without building objects (`parseWsLineFast`, `parseHttpLineFast`, with
 * `JsonFields`). Any other line goes through `JSON.parse` and the general parsers
 * (`parseWsLine`, `parseHttpLine`), which decide and name any problem.
 * @module
 */
import type { EventBatch } from '../../backtest/backtest.js';
import { EventBuffer, JsonFields, LineChunkReader, detachedString, isBlankSpan, jsonLineOk, passBatches, passEvents, type EventPass } from '../lines.js';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InstrumentType } from '../../api/enums.js';
import { makeInstrument, type Instrument } from '../../api/instrument.js';
import { ASK, BID, MdStatus, MdType, type MdEvent, type MdParseIssue, type SideCode } from '../events.js';

/**
 * Quote assets that `splitBinanceSymbol` recognises at the end of a symbol, longest first so
 * that e.g. `BTCBUSD` splits as BTC/BUSD and not as BTCB/USD.
 */
export const BINANCE_QUOTE_ASSETS: readonly string[] = [
  'FDUSD', 'BIDR', 'BKRW', 'BUSD', 'IDRT', 'TUSD', 'USDC', 'USDP', 'USDS', 'USDT',
  'ARS', 'AUD', 'BNB', 'BRL', 'BTC', 'BVND', 'COP', 'CZK', 'DAI', 'ETH', 'EUR', 'GBP', 'JPY',
  'MXN', 'NGN', 'PAX', 'PLN', 'RON', 'RUB', 'TRX', 'TRY', 'UAH', 'UST', 'VAI', 'XRP', 'ZAR',
  'USD',
].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));

/**
 * Splits a Binance symbol (`NKNUSDT`) into base and quote asset (`NKN`, `USDT`) by the
 * longest known quote asset it ends with (`BINANCE_QUOTE_ASSETS`); case-insensitive, the
 * result is upper case. `undefined` when no known quote asset ends it with a non-empty base.
 */
export function splitBinanceSymbol(symbol: string): { base: string; quote: string } | undefined {
  const s = symbol.toUpperCase();
  for (const q of BINANCE_QUOTE_ASSETS) {
    if (s.length > q.length && s.endsWith(q)) return { base: s.slice(0, s.length - q.length), quote: q };
  }
  return undefined;
}

/**
 * The REST snapshot file beside a WebSocket capture: for `DIR/NAME.ws.A.B`, the first (by
 * name) file `DIR/NAME.http.*`; for a capture not named `*.ws.*`, the first `DIR/BINANCE.http.*`.
 * Reads the directory synchronously; `undefined` when there is none.
 */
export function findBinanceHttp(wsPath: string): string | undefined {
  const dir = dirname(wsPath);
  const m = /^(.*)\.ws\.[^/\\]*$/.exec(basename(wsPath));
  const prefix = `${m === null ? 'BINANCE' : m[1]!}.http.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const hit = names.filter((n) => n.startsWith(prefix)).sort()[0];
  return hit === undefined ? undefined : join(dir, hit);
}

/** Per-symbol instrument settings that replace what the importer infers; decimals as strings. */
export interface BinanceInstrumentOverride {
  /** Price increment; default inferred from the data (see `openBinance`). */
  tickSize?: string;
  /** Qty increment; default inferred from the data (see `openBinance`). */
  lotSize?: string;
  /** Smallest order qty; default `lotSize`. */
  minQty?: string;
  /** Base asset; default from `splitBinanceSymbol`. */
  baseCurrency?: string;
  /** Quote asset; default from `splitBinanceSymbol`. */
  quoteCurrency?: string;
}

/** Options of `openBinance`. */
export interface BinanceOptions {
  /** The REST snapshot capture; default `findBinanceHttp(wsPath)` (the `BINANCE.http.*` file beside it). */
  httpPath?: string;
  /** Venue id of the instruments; default `'BINANCE'`. */
  exchange?: string;
  /** Overrides keyed by Binance symbol (`'NKNUSDT'`, case-insensitive); symbols absent from the data are ignored. */
  instruments?: Record<string, BinanceInstrumentOverride>;
  /** Receives each issue; default: collected in `issues`. */
  onIssue?: (issue: MdParseIssue) => void;
}

/** Counters of one symbol in an import pass. */
export interface BinanceSymbolStats {
  /** Binance symbol, upper case (`'NKNUSDT'`). */
  symbol: string;
  /** `instrumentId` of its instrument and events. */
  instrumentId: number;
  /** Well-formed diff depth messages read. */
  diffs: number;
  /** Diffs applied to the book (each became LevelSet events). */
  applied: number;
  /** LevelSet events from applied diffs (one per level in `b` and `a`). */
  levelUpdates: number;
  /** Diffs dropped as stale: `u <=` the snapshot's `lastUpdateId`, or `u <=` the last applied `u`. */
  stale: number;
  /** Diffs discarded while out of sync with no snapshot of the symbol left in the capture. */
  lost: number;
  /** Sequence breaks after a sync (`U` ≠ previous `u` + 1): each emitted Status Disconnected. */
  gaps: number;
  /** Snapshots applied (SnapshotStart … SnapshotEnd emitted), the first sync included. */
  syncs: number;
  /** Syncs that followed a gap. */
  resyncs: number;
  /** Snapshot lines of the symbol read from the http file. */
  snapshots: number;
  /** Snapshots not applied because the first buffered diff starts after `lastUpdateId + 1` (the snapshot is older than the stream). */
  unusableSnapshots: number;
  /** Snapshots not applied because the book was in sync when they arrived. */
  ignoredSnapshots: number;
  /** LevelSet events emitted from snapshots. */
  snapshotLevels: number;
  /** Trades emitted (from `@aggTrade`). */
  trades: number;
  /** Most diffs held at once while waiting for a snapshot. */
  maxBuffered: number;
  /** Whether the book is in sync at the current point of the pass (at its end: the symbol did not stay disconnected). */
  synced: boolean;
}

/** Counters of an import pass; reset when a pass starts and updated while it runs. */
export interface BinanceStats {
  /** Lines read from the WebSocket capture, header and blank lines included. */
  wsLines: number;
  /** Lines read from the http capture, blank lines included. */
  httpLines: number;
  /** Events emitted. */
  events: number;
  /** Well-formed ws lines of streams the importer does not use (`@bookTicker`, `@kline_1m`, …). */
  ignored: number;
  /** `ignored` per stream kind (the part after `<symbol>@`, e.g. `'bookTicker'`, `'kline_1m'`). */
  ignoredByStream: Record<string, number>;
  /** Lines whose local time was earlier than an event already emitted: their events were emitted at that earlier event's time. */
  timeRegressions: number;
  /** Issues reported. */
  issues: number;
  /** Per symbol, in instrument order (index = instrumentId − 1). */
  symbols: BinanceSymbolStats[];
}

/**
 * An opened Binance capture. It has the shape of a backtest `MarketSource`. Each call of
 * `events()` is a fresh pass over the files; run one pass at a time.
 */
export interface BinanceImport {
  /** Venue id of the instruments (`opts.exchange`, default `'BINANCE'`). */
  readonly exchange: string;
  /** One instrument per symbol, `instrumentId` 1..n in order of first appearance. */
  readonly instruments: Instrument[];
  /** Binance symbols (upper case) in instrument order: `symbols[i]` is instrument `i + 1`. */
  readonly symbols: string[];
  /** The WebSocket capture, as given. */
  readonly wsPath: string;
  /** The http snapshot capture; `undefined` when none was found (no book ever syncs). */
  readonly httpPath: string | undefined;
  /** The stream URL named by the capture's first line, when it has one. */
  readonly url: string | undefined;
  /** The flat event stream a backtest replays, in non-decreasing `localTs`; each event is a new object. */
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
  readonly stats: BinanceStats;
  /** Issues of the current or last pass (empty when `onIssue` was given). */
  readonly issues: MdParseIssue[];
}

// ---------------------------------------------------------------------------------------
// Decimals, digit by digit.

const DEC_MALFORMED = -1;
const DEC_OFF_GRID = -2;
const DEC_TOO_LARGE = -3;

/**
 * Decimal places a non-negative decimal string (`s`, or its part `[from, to)`) needs (up to
 * its last non-zero fraction digit): `'0.35130000'` → 4, `'6195.00000000'` → 0. −1 when it is
 * not `digits[.digits]`.
 */
function decimalsNeeded(s: string, from = 0, to = s.length): number {
  const n = to;
  let i = from;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 46) break;
    if (c < 48 || c > 57) return DEC_MALFORMED;
    i++;
  }
  if (i === from) return DEC_MALFORMED;
  if (i === n) return 0;
  if (i === n - 1) return DEC_MALFORMED;
  let need = 0;
  for (let k = i + 1; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c < 48 || c > 57) return DEC_MALFORMED;
    if (c !== 48) need = k - i;
  }
  return need;
}

/** `decimalsOrZero` of a well-formed zero. */
const DEC_ZERO = -4;

/**
 * `decimalsNeeded` and `isZeroDecimal` in one pass: the decimals a non-zero decimal string
 * (or its part `[from, to)`) needs, `DEC_ZERO` for zero, `DEC_MALFORMED`.
 */
function decimalsOrZero(s: string, from: number, to: number): number {
  let i = from;
  let nonZero = false;
  while (i < to) {
    const c = s.charCodeAt(i);
    if (c === 46) break;
    if (c < 48 || c > 57) return DEC_MALFORMED;
    if (c !== 48) nonZero = true;
    i++;
  }
  if (i === from || i === to - 1) return DEC_MALFORMED;
  let need = 0;
  for (let k = i + 1; k < to; k++) {
    const c = s.charCodeAt(k);
    if (c < 48 || c > 57) return DEC_MALFORMED;
    if (c !== 48) need = k - i;
  }
  return need > 0 ? need : nonZero ? 0 : DEC_ZERO;
}

/** Whether a well-formed decimal string (or its part `[from, to)`) is zero. */
function isZeroDecimal(s: string, from = 0, to = s.length): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c !== 48 && c !== 46) return false;
  }
  return true;
}

/**
 * The value of a decimal string (`s`, or its part `[from, to)`) as an integer count of
 * `10^-scale` units, digit by digit (no float multiplication): `('0.35130000', 4)` → 3513.
 * Negative codes: `DEC_MALFORMED`, `DEC_OFF_GRID` (a non-zero digit beyond `scale`),
 * `DEC_TOO_LARGE` (not a safe integer).
 */
function decimalUnits(s: string, scale: number, from = 0, to = s.length): number {
  const n = to;
  let v = 0;
  let i = from;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) break;
    const d = c - 48;
    if (d < 0 || d > 9) return DEC_MALFORMED;
    v = v * 10 + d;
  }
  if (i === from) return DEC_MALFORMED;
  let k = 0;
  if (i < n) {
    if (i === n - 1) return DEC_MALFORMED;
    for (i++; i < n; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return DEC_MALFORMED;
      if (k < scale) {
        v = v * 10 + d;
        k++;
      } else if (d !== 0) {
        return DEC_OFF_GRID;
      }
    }
  }
  for (; k < scale; k++) v *= 10;
  // Once above 2^53 the value stays above it, so a final check catches any inexact step.
  return Number.isSafeInteger(v) ? v : DEC_TOO_LARGE;
}

/** A decimal grid (tick or lot): `step` = `units × 10^-scale`. */
class Grid {
  readonly scale: number;
  readonly units: number;

  constructor(step: string) {
    const dot = step.indexOf('.');
    this.scale = dot < 0 ? 0 : step.length - dot - 1;
    this.units = decimalUnits(step, this.scale);
  }

  /** Integer steps in a decimal string (or its part `[from, to)`), or a negative `DEC_*` code. */
  steps(s: string, from = 0, to = s.length): number {
    const v = decimalUnits(s, this.scale, from, to);
    if (v < 0) return v;
    if (this.units === 1) return v;
    return v % this.units === 0 ? v / this.units : DEC_OFF_GRID;
  }

  /** Steps in a decimal string, fractional when it is off the grid; NaN when malformed. */
  fractionalSteps(s: string): number {
    const v = this.steps(s);
    if (v !== DEC_OFF_GRID) return v < 0 ? Number.NaN : v;
    const dot = s.indexOf('.');
    const scale = dot < 0 ? 0 : s.length - dot - 1;
    const w = decimalUnits(s, scale);
    return w < 0 ? Number.NaN : w / (this.units * 10 ** (scale - this.scale));
  }
}

/** `10^-decimals` as a decimal string: 0 → `'1'`, 4 → `'0.0001'`. */
function powerOfTenStep(decimals: number): string {
  return decimals <= 0 ? '1' : `0.${'0'.repeat(decimals - 1)}1`;
}

/**
 * Unix time in seconds (a decimal string) to µs, digit by digit, rounded half up on the 7th
 * fraction digit. NaN when not `digits[.digits]`.
 */
function secondsToUsRounded(s: string): number {
  const n = s.length;
  let sec = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) break;
    if (c < 48 || c > 57) return Number.NaN;
    sec = sec * 10 + (c - 48);
  }
  if (i === 0 || i === n - 1) return Number.NaN;
  let us = 0;
  let k = 0;
  let roundUp = false;
  for (i++; i < n; i++, k++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return Number.NaN;
    if (k < 6) us = us * 10 + (c - 48);
    else if (k === 6) roundUp = c >= 53;
  }
  for (; k < 6; k++) us *= 10;
  return sec * 1e6 + us + (roundUp ? 1 : 0);
}

// ---------------------------------------------------------------------------------------
// Line parsing. The same functions serve the pre-scan (silent) and the pass (reporting).

type Level = [string, string];

/**
 * The `[price, qty]` strings of a message's levels as offsets into `text` (no string per
 * level), 4 per level: level `i` of `bids` has its price at `text.slice(bids[4i], bids[4i + 1])`
 * and its qty at `text.slice(bids[4i + 2], bids[4i + 3])`; the same for `asks`.
 *
 * From the fast parser, `text` is the line's JSON (a view into the chunk of the file) and the
 * offset arrays belong to the parser's `JsonFields`: valid until it parses its next line. A
 * record kept longer is copied (`ownLevels`).
 */
interface LevelSpans {
  text: string;
  bids: number[];
  nb: number;
  asks: number[];
  na: number;
  /** `text` and the offsets belong to the record (not to a chunk and a parser). */
  own: boolean;
  /** Decimals the non-zero prices need at most (−1: none is non-zero); for the pre-scan. */
  priceDecimals: number;
  /** The same for the qtys. */
  qtyDecimals: number;
}

/** Sets `lv`'s decimals from its strings; false when one is not a decimal. */
function measureDecimals(lv: LevelSpans): boolean {
  const text = lv.text;
  let pd = -1;
  let qd = -1;
  for (let side = 0; side < 2; side++) {
    const at = side === 0 ? lv.bids : lv.asks;
    const n = side === 0 ? lv.nb : lv.na;
    for (let i = 0; i < 4 * n; i += 4) {
      const p = decimalsOrZero(text, at[i]!, at[i + 1]!);
      const q = decimalsOrZero(text, at[i + 2]!, at[i + 3]!);
      if (p === DEC_MALFORMED || q === DEC_MALFORMED) return false;
      if (p > pd) pd = p;
      if (q > qd) qd = q;
    }
  }
  lv.priceDecimals = pd;
  lv.qtyDecimals = qd;
  return true;
}

/** `LevelSpans` over one new string holding just the level strings: for parsed lines, and copies that must outlive their line. */
function spansOfLevels(bids: readonly Level[], asks: readonly Level[]): LevelSpans {
  const parts: string[] = [];
  let pos = 0;
  const spans = (levels: readonly Level[]): number[] => {
    const at: number[] = [];
    for (const [p, q] of levels) {
      at.push(pos, pos + p.length, pos + p.length, pos + p.length + q.length);
      parts.push(p, q);
      pos += p.length + q.length;
    }
    return at;
  };
  const b = spans(bids);
  const a = spans(asks);
  const lv: LevelSpans = { text: parts.join(''), bids: b, nb: bids.length, asks: a, na: asks.length, own: true, priceDecimals: -1, qtyDecimals: -1 };
  measureDecimals(lv);
  return lv;
}

/** The levels of one side of `lv` as string pairs. */
function levelStrings(text: string, at: number[], n: number): Level[] {
  const out: Level[] = [];
  for (let i = 0; i < 4 * n; i += 4) out.push([text.slice(at[i]!, at[i + 1]!), text.slice(at[i + 2]!, at[i + 3]!)]);
  return out;
}

/** `lv` as the record's own copy (it keeps neither the chunk nor the parser's arrays). */
function ownLevels(lv: LevelSpans): LevelSpans {
  return lv.own ? lv : spansOfLevels(levelStrings(lv.text, lv.bids, lv.nb), levelStrings(lv.text, lv.asks, lv.na));
}

interface DepthRec {
  kind: 'depth';
  line: number;
  localUs: number;
  symbol: string;
  exchUs: number;
  U: number;
  u: number;
  /** Bids (`b`) then asks (`a`). */
  lv: LevelSpans;
}

interface TradeRec {
  kind: 'trade';
  line: number;
  localUs: number;
  symbol: string;
  exchUs: number;
  p: string;
  q: string;
  /** Buyer is the maker. */
  m: boolean;
}

interface IgnoredRec {
  kind: 'ignored';
  line: number;
  localUs: number;
  stream: string;
}

interface HeaderRec {
  kind: 'header';
  url: string;
}

type WsRec = DepthRec | TradeRec | IgnoredRec | HeaderRec;

interface SnapshotRec {
  line: number;
  localUs: number;
  symbol: string;
  lastUpdateId: number;
  /** Bids then asks. */
  lv: LevelSpans;
}

/** The levels of a JSON array of `[price, qty]` string pairs, or the reason they are not. */
function levels(v: unknown, field: string): Level[] | string {
  if (!Array.isArray(v)) return `'${field}' is not an array`;
  for (let i = 0; i < v.length; i++) {
    const l = v[i] as unknown;
    if (!Array.isArray(l) || l.length < 2 || typeof l[0] !== 'string' || typeof l[1] !== 'string') {
      return `'${field}[${i}]' is not a [price, qty] pair of strings`;
    }
    if (decimalsNeeded(l[0]) < 0) return `'${field}[${i}]' price is not a decimal: '${l[0]}'`;
    if (decimalsNeeded(l[1]) < 0) return `'${field}[${i}]' qty is not a decimal: '${l[1]}'`;
  }
  return v as Level[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isMs(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Splits `<time>: <json>` and parses both, or returns the reason it is malformed. */
function timeAndJson(text: string): { localUs: number; json: unknown } | string {
  const sep = text.indexOf(': ');
  if (sep < 0) return "expected '<local unix time>: <json>'";
  const t = text.slice(0, sep).trim();
  const localUs = secondsToUsRounded(t);
  if (Number.isNaN(localUs)) return `local time is not a non-negative number of seconds: '${t.slice(0, 40)}'`;
  let json: unknown;
  try {
    json = JSON.parse(text.slice(sep + 2));
  } catch (e) {
    return `bad JSON: ${(e as Error).message}`;
  }
  return { localUs, json };
}

const DEPTH_STREAM_RE = /^depth(@\d+ms)?$/;

/** Parses one line of the WebSocket capture, or returns the reason it is malformed. */
function parseWsLine(text: string, line: number): WsRec | string {
  if (line === 1) {
    const h = / <-> /.exec(text);
    if (h !== null || /^wss?:\/\//.test(text)) return { kind: 'header', url: h === null ? text.trim() : text.slice(0, h.index).trim() };
  }
  const tj = timeAndJson(text);
  if (typeof tj === 'string') return tj;
  const { localUs, json } = tj;
  if (!isObject(json)) return 'message is not a JSON object';
  // Combined streams wrap the payload: {"stream": "<sym>@<kind>", "data": {...}}; raw streams do not.
  let kind: string;
  let d: Record<string, unknown>;
  if (typeof json.stream === 'string') {
    if (!isObject(json.data)) return "'data' is missing or not an object";
    const at = json.stream.indexOf('@');
    kind = at < 0 ? json.stream : json.stream.slice(at + 1);
    d = json.data;
  } else if (typeof json.e === 'string') {
    kind = json.e === 'depthUpdate' ? 'depth' : json.e;
    d = json;
  } else {
    return "neither 'stream' nor 'e' names the message's stream";
  }
  if (DEPTH_STREAM_RE.test(kind)) {
    if (typeof d.s !== 'string' || d.s === '') return "depth update: 's' (symbol) is missing";
    if (!isMs(d.E)) return "depth update: 'E' (event time, ms) is missing or not an integer";
    if (!Number.isSafeInteger(d.U) || !Number.isSafeInteger(d.u)) return "depth update: 'U'/'u' (update ids) missing or not integers";
    const U = d.U as number;
    const u = d.u as number;
    if (U > u) return `depth update: first update id U=${U} is after the last u=${u}`;
    const b = levels(d.b, 'b');
    if (typeof b === 'string') return `depth update: ${b}`;
    const a = levels(d.a, 'a');
    if (typeof a === 'string') return `depth update: ${a}`;
    return { kind: 'depth', line, localUs, symbol: d.s.toUpperCase(), exchUs: d.E * 1000, U, u, lv: spansOfLevels(b, a) };
  }
  if (kind === 'aggTrade') {
    if (typeof d.s !== 'string' || d.s === '') return "aggTrade: 's' (symbol) is missing";
    if (!isMs(d.T)) return "aggTrade: 'T' (trade time, ms) is missing or not an integer";
    if (typeof d.p !== 'string' || decimalsNeeded(d.p) < 0) return `aggTrade: 'p' (price) is not a decimal string: ${JSON.stringify(d.p)}`;
    if (typeof d.q !== 'string' || decimalsNeeded(d.q) < 0) return `aggTrade: 'q' (qty) is not a decimal string: ${JSON.stringify(d.q)}`;
    if (typeof d.m !== 'boolean') return "aggTrade: 'm' (buyer is maker) is missing or not a boolean";
    return { kind: 'trade', line, localUs, symbol: d.s.toUpperCase(), exchUs: d.T * 1000, p: d.p, q: d.q, m: d.m };
  }
  return { kind: 'ignored', line, localUs, stream: kind };
}

const SYMBOL_RE = /[?&]symbol=([A-Za-z0-9]+)/;

/** Parses one line of the http capture, or returns the reason it is malformed. */
function parseHttpLine(text: string, line: number): SnapshotRec | string {
  const arrow = text.indexOf(' -> ');
  if (arrow < 0) return "expected '<url> -> <local unix time>: <json>'";
  const sym = SYMBOL_RE.exec(text.slice(0, arrow));
  if (sym === null) return "the URL names no 'symbol='";
  const tj = timeAndJson(text.slice(arrow + 4));
  if (typeof tj === 'string') return tj;
  const j = tj.json;
  if (!isObject(j)) return 'snapshot is not a JSON object';
  if (!Number.isSafeInteger(j.lastUpdateId) || (j.lastUpdateId as number) < 0) return "snapshot: 'lastUpdateId' is missing or not an integer";
  const bids = levels(j.bids, 'bids');
  if (typeof bids === 'string') return `snapshot: ${bids}`;
  const asks = levels(j.asks, 'asks');
  if (typeof asks === 'string') return `snapshot: ${asks}`;
  return { line, localUs: tj.localUs, symbol: sym[1]!.toUpperCase(), lastUpdateId: j.lastUpdateId as number, lv: spansOfLevels(bids, asks) };
}

// ---------------------------------------------------------------------------------------
// The fast path of the line parsers: the JSON scanned in place (see `scanJsonObject`). It
// returns what the parsers above return for lines it fully understands, and `undefined` for
// anything else (header line, escapes, other shapes, any check failing); the caller then runs
// the parsers above, which also name the problem.

const K_STREAM = 0;
const K_DATA = 1;
const K_EVENT = 2;
const K_EVENT_TIME = 3;
const K_SYMBOL = 4;
const K_FIRST_ID = 5;
const K_LAST_ID = 6;
const K_BIDS = 7;
const K_ASKS = 8;
const K_TRADE_TIME = 9;
const K_PRICE = 10;
const K_QTY = 11;
const K_MAKER = 12;
/** Fields of a ws message (the top level of a raw stream, or `data` of a combined one); `b` and `a` are read as `[price, qty]` pairs. */
const WS_KEYS = ['stream', 'data', 'e', 'E', 's', 'U', 'u', 'b', 'a', 'T', 'p', 'q', 'm'];
const WS_ARITY = [0, 0, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0];
/**
 * The scanners of one reader of one pass (or pre-scan). Records point into their offset
 * arrays, so each stream of records has its own, and a record is used up before the next
 * line of its file is parsed.
 */
interface WsFields {
  top: JsonFields;
  data: JsonFields;
}

function wsFields(): WsFields {
  return { top: new JsonFields(WS_KEYS, WS_ARITY), data: new JsonFields(WS_KEYS, WS_ARITY) };
}

function httpFields(): JsonFields {
  return new JsonFields(['lastUpdateId', 'bids', 'asks'], [0, 2, 2]);
}

/**
 * `<time>: <json>` at `r.text[from, to)`, the time read as `timeAndJson` reads it (into
 * `out`); returns where the JSON starts, or −1 when the fast path cannot take the line.
 */
function splitTimeFast(r: LineChunkReader, from: number, to: number, out: { localUs: number }): number {
  const text = r.text;
  const sep = text.indexOf(': ', from);
  if (sep < 0 || sep >= to) return -1;
  const localUs = secondsToUsRounded(text.slice(from, sep).trim());
  if (Number.isNaN(localUs)) return -1;
  out.localUs = localUs;
  return jsonLineOk(r, sep + 2, to) ? sep + 2 : -1;
}

const timeOut = { localUs: 0 };

/** The `[price, qty]` pairs of fields `kb` (bids) and `ka` (asks), all decimal strings; undefined otherwise. */
function levelSpansField(json: string, f: JsonFields, kb: number, ka: number): LevelSpans | undefined {
  const nb = f.tupleCount[kb]!;
  const na = f.tupleCount[ka]!;
  if (nb < 0 || na < 0) return undefined;
  const lv: LevelSpans = { text: json, bids: f.tuples[kb]!, nb, asks: f.tuples[ka]!, na, own: false, priceDecimals: -1, qtyDecimals: -1 };
  return measureDecimals(lv) ? lv : undefined;
}

/** `parseWsLine` for the current line of `r` when it is plain and well-formed; undefined for anything else. */
function parseWsLineFast(r: LineChunkReader, line: number, f: WsFields): Exclude<WsRec, HeaderRec> | undefined {
  if (line === 1) return undefined;
  const wsTop = f.top;
  const wsData = f.data;
  // Read in place: `json` is the chunk's text and offsets are into it.
  const json = r.text;
  const to = r.end;
  const start = splitTimeFast(r, r.start, to, timeOut);
  if (start < 0 || !wsTop.scan(json, start, to)) return undefined;
  const localUs = timeOut.localUs;
  let kind: string;
  let d: JsonFields;
  if (wsTop.from[K_STREAM]! >= 0) {
    // Combined stream: {"stream": "<sym>@<kind>", "data": {...}}.
    const stream = wsTop.string(json, K_STREAM);
    if (stream === undefined || !wsData.scanNested(json, wsTop.from[K_DATA]!, to)) return undefined;
    const at = stream.indexOf('@');
    kind = at < 0 ? stream : stream.slice(at + 1);
    d = wsData;
  } else {
    const e = wsTop.string(json, K_EVENT);
    if (e === undefined) return undefined;
    kind = e === 'depthUpdate' ? 'depth' : e;
    d = wsTop;
  }
  if (DEPTH_STREAM_RE.test(kind)) {
    const symbol = d.string(json, K_SYMBOL);
    const E = d.number(json, K_EVENT_TIME);
    const U = d.number(json, K_FIRST_ID);
    const u = d.number(json, K_LAST_ID);
    if (symbol === undefined || symbol === '' || !isMs(E) || !Number.isSafeInteger(U) || !Number.isSafeInteger(u) || U > u) return undefined;
    const lv = levelSpansField(json, d, K_BIDS, K_ASKS);
    if (lv === undefined) return undefined;
    return { kind: 'depth', line, localUs, symbol: symbol.toUpperCase(), exchUs: E * 1000, U, u, lv };
  }
  if (kind === 'aggTrade') {
    const symbol = d.string(json, K_SYMBOL);
    const T = d.number(json, K_TRADE_TIME);
    const p = d.string(json, K_PRICE);
    const q = d.string(json, K_QTY);
    const m = d.boolean(json, K_MAKER);
    if (symbol === undefined || symbol === '' || !isMs(T) || p === undefined || q === undefined || m < 0) return undefined;
    if (decimalsNeeded(p) < 0 || decimalsNeeded(q) < 0) return undefined;
    return { kind: 'trade', line, localUs, symbol: symbol.toUpperCase(), exchUs: T * 1000, p, q, m: m === 1 };
  }
  return { kind: 'ignored', line, localUs, stream: kind };
}

/** `parseHttpLine` for the current line of `r` when it is plain and well-formed; undefined for anything else. */
function parseHttpLineFast(r: LineChunkReader, line: number, httpFields: JsonFields): SnapshotRec | undefined {
  const json = r.text;
  const to = r.end;
  const arrow = json.indexOf(' -> ', r.start);
  if (arrow < 0 || arrow >= to) return undefined;
  const sym = SYMBOL_RE.exec(json.slice(r.start, arrow));
  if (sym === null) return undefined;
  const start = splitTimeFast(r, arrow + 4, to, timeOut);
  if (start < 0 || !httpFields.scan(json, start, to)) return undefined;
  const lastUpdateId = httpFields.number(json, 0);
  if (!Number.isSafeInteger(lastUpdateId) || lastUpdateId < 0) return undefined;
  const lv = levelSpansField(json, httpFields, 1, 2);
  if (lv === undefined) return undefined;
  return { line, localUs: timeOut.localUs, symbol: sym[1]!.toUpperCase(), lastUpdateId, lv };
}

// ---------------------------------------------------------------------------------------
// Files.


// ---------------------------------------------------------------------------------------
// Pre-scan: symbols, grids and the snapshot index, before any event is emitted.

interface SymbolScan {
  symbol: string;
  /** Decimals the prices seen need (−1: no non-zero price seen). */
  priceDecimals: number;
  /** Decimals the non-zero qtys seen need (−1: none seen). */
  qtyDecimals: number;
  /** Where the symbol first appears. */
  file: string;
  line: number;
  /** Its snapshots in file order: http line and lastUpdateId. */
  snapshots: { line: number; lastUpdateId: number }[];
}

/** Raises the symbol's decimals to what the non-zero prices and qtys of `lv` need. */
function needDecimals(scan: SymbolScan, lv: LevelSpans): void {
  scan.priceDecimals = Math.max(scan.priceDecimals, lv.priceDecimals);
  scan.qtyDecimals = Math.max(scan.qtyDecimals, lv.qtyDecimals);
}

function needTradeDecimals(scan: SymbolScan, p: string, q: string): void {
  if (!isZeroDecimal(p)) scan.priceDecimals = Math.max(scan.priceDecimals, decimalsNeeded(p));
  if (!isZeroDecimal(q)) scan.qtyDecimals = Math.max(scan.qtyDecimals, decimalsNeeded(q));
}

interface Prescan {
  url: string | undefined;
  symbols: Map<string, SymbolScan>;
}

async function prescan(wsPath: string, httpPath: string | undefined): Promise<Prescan> {
  const wsSymbols = new Map<string, SymbolScan>();
  const httpSymbols = new Map<string, SymbolScan>();
  let url: string | undefined;
  const get = (m: Map<string, SymbolScan>, symbol: string, file: string, line: number): SymbolScan => {
    let s = m.get(symbol);
    if (s === undefined) {
      // Kept for the import's life: copied off the chunk it was read from.
      s = { symbol: detachedString(symbol), priceDecimals: -1, qtyDecimals: -1, file, line, snapshots: [] };
      m.set(symbol, s);
    }
    return s;
  };
  // Both files are opened at once so that their first reads overlap.
  const ws = new LineChunkReader(wsPath);
  const http = httpPath !== undefined && existsSync(httpPath) ? new LineChunkReader(httpPath) : undefined;
  const wsf = wsFields();
  const httpf = httpFields();
  try {
    let n = 0;
    do {
      while (ws.next()) {
        n++;
        if (isBlankSpan(ws.text, ws.start, ws.end)) continue;
        const r = parseWsLineFast(ws, n, wsf) ?? parseWsLine(ws.line(), n);
        if (typeof r === 'string') continue;
        if (r.kind === 'header') url = detachedString(r.url);
        else if (r.kind === 'depth') needDecimals(get(wsSymbols, r.symbol, wsPath, n), r.lv);
        else if (r.kind === 'trade') needTradeDecimals(get(wsSymbols, r.symbol, wsPath, n), r.p, r.q);
      }
    } while (await ws.fill());
    if (http !== undefined) {
      n = 0;
      do {
        while (http.next()) {
          n++;
          if (isBlankSpan(http.text, http.start, http.end)) continue;
          const r = parseHttpLineFast(http, n, httpf) ?? parseHttpLine(http.line(), n);
          if (typeof r === 'string') continue;
          const s = wsSymbols.get(r.symbol) ?? get(httpSymbols, r.symbol, httpPath!, n);
          needDecimals(s, r.lv);
          s.snapshots.push({ line: n, lastUpdateId: r.lastUpdateId });
        }
      } while (await http.fill());
    }
  } finally {
    ws.close();
    http?.close();
  }
  for (const [k, v] of httpSymbols) wsSymbols.set(k, v);
  return { url, symbols: wsSymbols };
}

// ---------------------------------------------------------------------------------------
// The pass.

/** Decimals used for a symbol with no non-zero price (or qty) in the data: Binance's 8. */
const DEFAULT_DECIMALS = 8;

interface SymbolCtx {
  symbol: string;
  instrumentId: number;
  price: Grid;
  qty: Grid;
  snapshots: { line: number; lastUpdateId: number }[];
}

interface PassContext {
  wsPath: string;
  httpPath: string | undefined;
  httpMissing: boolean;
  symbols: Map<string, SymbolCtx>;
  ordered: SymbolCtx[];
  stats: BinanceStats;
  issues: MdParseIssue[];
  openIssues: MdParseIssue[];
  onIssue: ((issue: MdParseIssue) => void) | undefined;
}

function emptySymbolStats(s: SymbolCtx): BinanceSymbolStats {
  return {
    symbol: s.symbol,
    instrumentId: s.instrumentId,
    diffs: 0,
    applied: 0,
    levelUpdates: 0,
    stale: 0,
    lost: 0,
    gaps: 0,
    syncs: 0,
    resyncs: 0,
    snapshots: 0,
    unusableSnapshots: 0,
    ignoredSnapshots: 0,
    snapshotLevels: 0,
    trades: 0,
    maxBuffered: 0,
    synced: false,
  };
}

/**
 * Opens a Binance spot capture: the WebSocket file `wsPath` and the REST snapshot file beside
 * it. Reads both once (streaming) to find the symbols and infer their grids, then returns;
 * `events()` streams both files again, merged by local time, with memory bounded by the
 * longest line and the diffs buffered while a book waits for its snapshot.
 *
 * - Instruments: one per symbol with depth, aggTrade or snapshot data, `instrumentId` 1..n in
 *   order of first appearance in the ws file (then symbols only in the http file, in its
 *   order); name `binance:spot:<base>-<quote>` in lower case (see `splitBinanceSymbol`; a
 *   symbol it cannot split is named `binance:spot:<symbol>` with quote `'UNKNOWN'` and an issue);
 *   type Spot.
 * - Grids: Binance pads decimals (`'0.35130000'`), so unless overridden the tick (lot) size
 *   is inferred per symbol as the largest power of ten, at most 1, that divides every non-zero
 *   price (qty) of the symbol in the capture: its snapshots, diffs and trades. That is the
 *   coarsest grid every value fits, so no value is ever off it; the venue's real grid may be
 *   finer (levels at 1e-4 on a 1e-5 grid give 1e-4). No values at all: 8 decimals. With an
 *   override, values off the grid are reported and skipped (trade prices become fractional
 *   ticks instead). Decimal strings become ticks and lots digit by digit, exactly.
 * - Depth (`<sym>@depth[@100ms]`: U, u, b, a, E) is synced by Binance's rules (module doc).
 *   A sync emits Status SnapshotStart, Clear, a LevelSet per snapshot level (bids, then asks),
 *   Status SnapshotEnd, then the buffered diffs that follow the snapshot. A diff's levels are
 *   LevelSets of absolute qty (0 deletes), its deletions first so that no intermediate book is
 *   crossed by the order of updates. A diff fully older than the book (`u <=` last `u`) is
 *   dropped as stale; any other break of `U = previous u + 1` is a gap: Status Disconnected,
 *   then the book waits for the symbol's next snapshot in the http file. With none left it stays
 *   disconnected (`stats.symbols[i].lost`, `synced: false`); trades still flow.
 * - `@aggTrade` (p, q, T, m) → Trade with the taker's side: `m` (buyer is maker) → ASK, else BID.
 * - Other streams (`@bookTicker`, `@kline_1m`, …) are counted in `stats.ignored`.
 * - Times: `exchTs` = E (diffs) or T (trades), ms → µs; snapshots have no venue time, their
 *   events use the snapshot's local time for both. `localTs` = the line's local unix time,
 *   seconds → µs rounded half up; buffered diffs are emitted at their snapshot's local time.
 *   ws and http lines are merged by local time (ws first on a tie); a line earlier than what
 *   was already emitted is emitted at that time (`stats.timeRegressions`), so `localTs` never
 *   decreases.
 * - Malformed lines (not `<time>: <json>`, bad JSON, missing fields, non-decimal strings) are
 *   reported as `{file, line, message}` and skipped; the import goes on.
 *
 * Throws only when an override is not a positive decimal.
 */
export async function openBinance(wsPath: string, opts: BinanceOptions = {}): Promise<BinanceImport> {
  const httpPath = opts.httpPath ?? findBinanceHttp(wsPath);
  const exchange = opts.exchange ?? 'BINANCE';
  const overrides = new Map<string, BinanceInstrumentOverride>();
  for (const [k, v] of Object.entries(opts.instruments ?? {})) overrides.set(k.toUpperCase(), v);
  const scan = await prescan(wsPath, httpPath);

  const openIssues: MdParseIssue[] = [];
  const instruments: Instrument[] = [];
  const symbols = new Map<string, SymbolCtx>();
  const ordered: SymbolCtx[] = [];
  for (const s of scan.symbols.values()) {
    const o = overrides.get(s.symbol) ?? {};
    const split = splitBinanceSymbol(s.symbol);
    if (split === undefined && (o.baseCurrency === undefined || o.quoteCurrency === undefined)) {
      openIssues.push({ file: s.file, line: s.line, message: `cannot split symbol ${s.symbol} into base and quote asset; pass instruments.${s.symbol}.baseCurrency/quoteCurrency` });
    }
    const base = o.baseCurrency ?? split?.base ?? s.symbol;
    const quote = o.quoteCurrency ?? split?.quote ?? 'UNKNOWN';
    const name = split === undefined && o.quoteCurrency === undefined ? s.symbol.toLowerCase() : `${base}-${quote}`.toLowerCase();
    const inst = makeInstrument({
      instrumentId: instruments.length + 1,
      exchange,
      name: `binance:spot:${name}`,
      type: InstrumentType.Spot,
      tickSize: o.tickSize ?? powerOfTenStep(s.priceDecimals < 0 ? DEFAULT_DECIMALS : s.priceDecimals),
      lotSize: o.lotSize ?? powerOfTenStep(s.qtyDecimals < 0 ? DEFAULT_DECIMALS : s.qtyDecimals),
      minQty: o.minQty,
      baseCurrency: base,
      quoteCurrency: quote,
    });
    instruments.push(inst);
    const ctx: SymbolCtx = {
      symbol: s.symbol,
      instrumentId: inst.instrumentId,
      price: new Grid(inst.tickSize.toString()),
      qty: new Grid(inst.lotSize.toString()),
      snapshots: s.snapshots,
    };
    symbols.set(s.symbol, ctx);
    ordered.push(ctx);
  }

  const stats: BinanceStats = { wsLines: 0, httpLines: 0, events: 0, ignored: 0, ignoredByStream: {}, timeRegressions: 0, issues: 0, symbols: ordered.map(emptySymbolStats) };
  const issues: MdParseIssue[] = [];
  const ctx: PassContext = {
    wsPath,
    httpPath,
    httpMissing: httpPath === undefined || !existsSync(httpPath),
    symbols,
    ordered,
    stats,
    issues,
    openIssues,
    onIssue: opts.onIssue,
  };
  return {
    exchange,
    instruments,
    symbols: ordered.map((s) => s.symbol),
    wsPath,
    httpPath: ctx.httpMissing ? undefined : httpPath,
    url: scan.url,
    stats,
    issues,
    events: () => passEvents(() => new BinancePass(ctx)),
    batches: () => passBatches(() => new BinancePass(ctx)),
  };
}

/** A symbol's book state during a pass. */
interface BookState {
  readonly sym: SymbolCtx;
  readonly st: BinanceSymbolStats;
  synced: boolean;
  /** When synced: `u` of the last applied diff, or the snapshot's lastUpdateId before the first. */
  lastU: number;
  /** When synced: no diff applied since the snapshot yet (the first-diff rule applies). */
  first: boolean;
  /** Set by a gap until the next successful sync (which counts as a resync). */
  afterGap: boolean;
  /** Index into `sym.snapshots` of the next snapshot not yet read. */
  nextSnapshot: number;
  /** Diffs received while waiting that are newer than the next snapshot. */
  buffer: DepthRec[];
}

/** What `BinancePass.run` stopped for. */
const NEED_WS = 1;
const NEED_HTTP = 2;
const PAUSE = 3;
const DONE = 4;
/** A record slot whose next record is still to be read. */
const PENDING = null;

/**
 * One pass over both files, merged by local time. `run` converts synchronously from the
 * readers' current chunks and stops when a reader needs its next chunk (`fill` awaits it and
 * goes on) or when the output holds enough events.
 */
class BinancePass implements EventPass {
  private readonly conv: Converter;
  private readonly ws: LineChunkReader;
  private readonly http: LineChunkReader | undefined;
  private readonly wsf = wsFields();
  private readonly httpf = httpFields();
  private wsLine = 0;
  private httpLine = 0;
  /** The next ws / http record: `PENDING` until read, `undefined` at the end of its file. */
  private w: Exclude<WsRec, HeaderRec> | undefined | typeof PENDING = PENDING;
  private h: SnapshotRec | undefined | typeof PENDING = PENDING;
  private done = false;
  private closed = false;

  constructor(private readonly ctx: PassContext) {
    const stats = ctx.stats;
    Object.assign(stats, { wsLines: 0, httpLines: 0, events: 0, ignored: 0, ignoredByStream: {}, timeRegressions: 0, issues: 0, symbols: ctx.ordered.map(emptySymbolStats) });
    ctx.issues.length = 0;
    this.conv = new Converter(ctx);
    for (const i of ctx.openIssues) this.conv.issue(i.file, i.line, i.message);
    if (ctx.httpMissing) {
      this.conv.issue(ctx.httpPath ?? join(dirname(ctx.wsPath), 'BINANCE.http.*'), 0, 'http snapshot file not found: no book can be synced; only trades are imported');
    }
    this.ws = new LineChunkReader(ctx.wsPath);
    this.http = ctx.httpMissing ? undefined : new LineChunkReader(ctx.httpPath!);
  }

  async fill(out: EventBuffer, min: number): Promise<void> {
    this.conv.out = out;
    while (!this.closed) {
      const r = this.run(out, min);
      if (r === NEED_WS) await this.ws.fill();
      else if (r === NEED_HTTP) await this.http!.fill();
      else return;
    }
  }

  close(): void {
    this.closed = true;
    this.ws.close();
    this.http?.close();
  }

  private run(out: EventBuffer, min: number): number {
    const conv = this.conv;
    while (!this.done) {
      // The ws record is read before the http one, as issues are reported in that order.
      if (this.w === PENDING) {
        const r = this.nextWs();
        if (r === NEED_WS) return NEED_WS;
        this.w = r;
      }
      if (this.h === PENDING) {
        const r = this.nextHttp();
        if (r === NEED_HTTP) return NEED_HTTP;
        this.h = r;
      }
      const w = this.w;
      const h = this.h;
      if (w === undefined && h === undefined) {
        conv.finish();
        this.done = true;
        this.ws.close();
        this.http?.close();
        break;
      }
      if (h !== undefined && (w === undefined || h.localUs < w.localUs)) {
        conv.snapshot(h);
        this.h = PENDING;
      } else {
        conv.ws(w!);
        this.w = PENDING;
      }
      if (out.length >= min) return PAUSE;
    }
    return DONE;
  }

  /** The next usable ws record, `undefined` at the end, or `NEED_WS` when the chunk is used up. */
  private nextWs(): Exclude<WsRec, HeaderRec> | undefined | typeof NEED_WS {
    const ws = this.ws;
    const ctx = this.ctx;
    for (;;) {
      if (!ws.next()) return ws.ended ? undefined : NEED_WS;
      this.wsLine++;
      ctx.stats.wsLines++;
      if (isBlankSpan(ws.text, ws.start, ws.end)) continue;
      const r = parseWsLineFast(ws, this.wsLine, this.wsf) ?? parseWsLine(ws.line(), this.wsLine);
      if (typeof r === 'string') this.conv.issue(ctx.wsPath, this.wsLine, r);
      else if (r.kind !== 'header') return r;
    }
  }

  /** The next usable snapshot, `undefined` at the end (or without an http file), or `NEED_HTTP`. */
  private nextHttp(): SnapshotRec | undefined | typeof NEED_HTTP {
    const http = this.http;
    if (http === undefined) return undefined;
    const ctx = this.ctx;
    for (;;) {
      if (!http.next()) return http.ended ? undefined : NEED_HTTP;
      this.httpLine++;
      ctx.stats.httpLines++;
      if (isBlankSpan(http.text, http.start, http.end)) continue;
      const r = parseHttpLineFast(http, this.httpLine, this.httpf) ?? parseHttpLine(http.line(), this.httpLine);
      if (typeof r === 'string') this.conv.issue(ctx.httpPath!, this.httpLine, r);
      else return r;
    }
  }
}

/** The per-pass state: the books' sync states and the output of the current line. */
class Converter {
  /** Where events go; set by the pass before each `fill`. */
  out: EventBuffer = new EventBuffer(1);
  private readonly books = new Map<string, BookState>();
  private ts = Number.NEGATIVE_INFINITY;
  private readonly tmpSide: SideCode[] = [];
  private readonly tmpTick: number[] = [];
  private readonly tmpLot: number[] = [];

  constructor(private readonly ctx: PassContext) {
    ctx.ordered.forEach((sym, i) => {
      this.books.set(sym.symbol, { sym, st: ctx.stats.symbols[i]!, synced: false, lastU: 0, first: false, afterGap: false, nextSnapshot: 0, buffer: [] });
    });
  }

  issue(file: string, line: number, message: string): void {
    this.ctx.stats.issues++;
    // The message may quote a value cut from a chunk: copied, so as not to keep the chunk.
    const issue: MdParseIssue = { file, line, message: detachedString(message) };
    if (this.ctx.onIssue) this.ctx.onIssue(issue);
    else this.ctx.issues.push(issue);
  }

  /** Local time for a line's events: never before what was already emitted. */
  private at(localUs: number): number {
    if (localUs < this.ts) {
      this.ctx.stats.timeRegressions++;
      return this.ts;
    }
    this.ts = localUs;
    return localUs;
  }

  private emit(type: MdType, instrumentId: number, exchTs: number, localTs: number, side: SideCode, priceTick: number, qty: number, status: number): void {
    this.out.push(type, instrumentId, exchTs, localTs, side, 0, priceTick, qty, status);
    this.ctx.stats.events++;
  }

  private book(symbol: string, file: string, line: number): BookState | undefined {
    const b = this.books.get(symbol);
    // Only when the file changed between the pre-scan and this pass.
    if (b === undefined) this.issue(file, line, `symbol ${symbol} was not in the capture when it was opened; line skipped`);
    return b;
  }

  ws(r: DepthRec | TradeRec | IgnoredRec): void {
    const stats = this.ctx.stats;
    if (r.kind === 'ignored') {
      stats.ignored++;
      stats.ignoredByStream[r.stream] = (stats.ignoredByStream[r.stream] ?? 0) + 1;
      return;
    }
    const b = this.book(r.symbol, this.ctx.wsPath, r.line);
    if (b === undefined) return;
    const localTs = this.at(r.localUs);
    if (r.kind === 'trade') this.trade(b, r, localTs);
    else {
      b.st.diffs++;
      this.diff(b, r, localTs);
    }
  }

  private trade(b: BookState, r: TradeRec, localTs: number): void {
    const sym = b.sym;
    const tick = sym.price.fractionalSteps(r.p);
    const lots = sym.qty.steps(r.q);
    if (Number.isNaN(tick) || tick < 0) {
      this.issue(this.ctx.wsPath, r.line, `aggTrade price ${r.p} does not fit in ticks of ${sym.symbol}; trade skipped`);
      return;
    }
    if (lots < 0) {
      this.issue(this.ctx.wsPath, r.line, `aggTrade qty ${r.q} is ${lots === DEC_OFF_GRID ? 'off the lot grid' : 'too large'} of ${sym.symbol}; trade skipped`);
      return;
    }
    this.emit(MdType.Trade, sym.instrumentId, r.exchUs, localTs, r.m ? ASK : BID, tick, lots, 0);
    b.st.trades++;
  }

  /** A diff for a book in any state, at `localTs`. */
  private diff(b: BookState, r: DepthRec, localTs: number): void {
    if (b.synced) {
      if (r.u <= b.lastU) {
        b.st.stale++;
        return;
      }
      if (r.U === b.lastU + 1 || (b.first && r.U <= b.lastU + 1)) {
        this.apply(b, r, localTs);
        return;
      }
      // A gap: the book is stale until the next snapshot.
      b.st.gaps++;
      b.synced = false;
      b.afterGap = true;
      b.st.synced = false;
      this.emit(MdType.Status, b.sym.instrumentId, r.exchUs, localTs, 0, 0, 0, MdStatus.Disconnected);
    }
    // Waiting for a snapshot: keep only what the next snapshot can use.
    const next = b.sym.snapshots[b.nextSnapshot];
    if (next === undefined) {
      b.st.lost++;
    } else if (r.u <= next.lastUpdateId) {
      b.st.stale++;
    } else {
      // Kept past its line: copied off the chunk it was read from, which it would keep alive.
      b.buffer.push(r.lv.own ? r : { ...r, symbol: b.sym.symbol, lv: ownLevels(r.lv) });
      if (b.buffer.length > b.st.maxBuffered) b.st.maxBuffered = b.buffer.length;
    }
  }

  private apply(b: BookState, r: DepthRec, localTs: number): void {
    const sym = b.sym;
    const sides = this.tmpSide;
    const ticks = this.tmpTick;
    const lots = this.tmpLot;
    let n = this.convertLevels(sym, r.lv.text, r.lv.bids, r.lv.nb, BID, this.ctx.wsPath, r.line, 0);
    n = this.convertLevels(sym, r.lv.text, r.lv.asks, r.lv.na, ASK, this.ctx.wsPath, r.line, n);
    const iid = sym.instrumentId;
    // Deletions first, then the rest: the final book is the same (a price appears once a side).
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < n; i++) {
        if ((lots[i] === 0) !== (pass === 0)) continue;
        this.emit(MdType.LevelSet, iid, r.exchUs, localTs, sides[i]!, ticks[i]!, lots[i]!, 0);
      }
    }
    b.lastU = r.u;
    b.first = false;
    b.st.applied++;
    b.st.levelUpdates += n;
  }

  /**
   * Converts `count` levels (offsets `at` into `text`, see `LevelSpans`) of one side to ticks
   * and lots, written to `tmpSide/tmpTick/tmpLot` from index `n` on (by index: no array is
   * resized); returns the new count.
   */
  private convertLevels(sym: SymbolCtx, text: string, at: number[], count: number, side: SideCode, file: string, line: number, n: number): number {
    const sides = this.tmpSide;
    const ticks = this.tmpTick;
    const lots = this.tmpLot;
    for (let i = 0; i < count; i++) {
      const t = sym.price.steps(text, at[4 * i]!, at[4 * i + 1]!);
      const l = sym.qty.steps(text, at[4 * i + 2]!, at[4 * i + 3]!);
      if (t < 0 || l < 0) {
        const p = text.slice(at[4 * i]!, at[4 * i + 1]!);
        const q = text.slice(at[4 * i + 2]!, at[4 * i + 3]!);
        const what = t < 0 ? `price ${p} is ${t === DEC_OFF_GRID ? 'off the tick grid' : 'too large'}` : `qty ${q} is ${l === DEC_OFF_GRID ? 'off the lot grid' : 'too large'}`;
        this.issue(file, line, `${side === BID ? 'bid' : 'ask'} level [${p}, ${q}] of ${sym.symbol}: ${what}; level skipped`);
        continue;
      }
      sides[n] = side;
      ticks[n] = t;
      lots[n] = l;
      n++;
    }
    return n;
  }

  snapshot(s: SnapshotRec): void {
    const b = this.book(s.symbol, this.ctx.httpPath!, s.line);
    if (b === undefined) return;
    const localTs = this.at(s.localUs);
    const st = b.st;
    st.snapshots++;
    // Advance the index past this snapshot (by line: robust to lines the pre-scan skipped).
    const snaps = b.sym.snapshots;
    while (b.nextSnapshot < snaps.length && snaps[b.nextSnapshot]!.line <= s.line) b.nextSnapshot++;
    if (b.synced) {
      st.ignoredSnapshots++;
      return;
    }
    const buf = b.buffer;
    let k = 0;
    while (k < buf.length && buf[k]!.u <= s.lastUpdateId) k++;
    st.stale += k;
    if (k < buf.length && buf[k]!.U > s.lastUpdateId + 1) {
      // The stream is already past this snapshot: wait for the next one.
      st.unusableSnapshots++;
      buf.splice(0, k);
      this.pruneBuffer(b);
      return;
    }
    const iid = b.sym.instrumentId;
    this.emit(MdType.Status, iid, localTs, localTs, 0, 0, 0, MdStatus.SnapshotStart);
    this.emit(MdType.Clear, iid, localTs, localTs, 0, 0, 0, 0);
    const sides = this.tmpSide;
    const ticks = this.tmpTick;
    const lots = this.tmpLot;
    let n = this.convertLevels(b.sym, s.lv.text, s.lv.bids, s.lv.nb, BID, this.ctx.httpPath!, s.line, 0);
    n = this.convertLevels(b.sym, s.lv.text, s.lv.asks, s.lv.na, ASK, this.ctx.httpPath!, s.line, n);
    for (let i = 0; i < n; i++) {
      if (lots[i] === 0) continue;
      this.emit(MdType.LevelSet, iid, localTs, localTs, sides[i]!, ticks[i]!, lots[i]!, 0);
      st.snapshotLevels++;
    }
    this.emit(MdType.Status, iid, localTs, localTs, 0, 0, 0, MdStatus.SnapshotEnd);
    b.synced = true;
    st.synced = true;
    b.lastU = s.lastUpdateId;
    b.first = true;
    st.syncs++;
    if (b.afterGap) st.resyncs++;
    b.afterGap = false;
    // The buffered diffs follow, at the snapshot's time; a gap among them desyncs again.
    const pending = buf.splice(0, buf.length);
    for (let i = k; i < pending.length; i++) this.diff(b, pending[i]!, localTs);
  }

  /** After a snapshot was consumed without a sync: drop buffered diffs the next snapshot cannot use. */
  private pruneBuffer(b: BookState): void {
    const next = b.sym.snapshots[b.nextSnapshot];
    const buf = b.buffer;
    if (next === undefined) {
      b.st.lost += buf.length;
      buf.length = 0;
      return;
    }
    let k = 0;
    while (k < buf.length && buf[k]!.u <= next.lastUpdateId) k++;
    b.st.stale += k;
    buf.splice(0, k);
  }

  /** End of the data: diffs still buffered never met a usable snapshot. */
  finish(): void {
    for (const b of this.books.values()) {
      b.st.lost += b.buffer.length;
      b.buffer.length = 0;
    }
  }
}
