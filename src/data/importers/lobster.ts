/**
 * Importer for LOBSTER files (NASDAQ limit order book reconstructions): a message file and
 * the orderbook file beside it, read in lockstep and turned into normalized `MdEvent`s.
 *
 * LOBSTER shows only the top N price levels, so the message file lacks orders placed before
 * it starts and everything that happens deeper than level N. The importer keeps an L3 mirror
 * of what it emitted and, after each message, reconciles the mirror's top N levels with the
 * orderbook row through synthetic orders (negative ids): the replayed book equals the file.
 *
 * Speed: both files are parsed straight from their bytes, a chunk at a time, with no string
 * per line (`parseMessageBytes`, `readIntsBytes`). A line that is not in the plain form those
 * read goes through the string parsers (`parseMessage`, `parseRow`), which decide and name
 * any problem, so malformed input is handled exactly as by the string parsers alone.
 * @module
 */
import type { EventBatch } from '../../backtest/backtest.js';
import { ByteLineReader, EventBuffer, importerFastPaths, passBatches, passEvents, type EventPass } from '../lines.js';
import { zonedTimeToUtcMs } from '../../core/daily.js';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InstrumentType } from '../../api/enums.js';
import { makeInstrument, type Instrument } from '../../api/instrument.js';
import { L3Book } from '../../book/l3-book.js';
import { MdStatus, MdType, type MdEvent, type MdParseIssue, type SideCode } from '../events.js';

/** Price of an unoccupied ask level in an orderbook row (bids use its negative). */
export const LOBSTER_EMPTY_PRICE = 9999999999;

/** LOBSTER prices are dollars × 10000; the instrument's tick is 0.01 dollars. */
const RAW_PER_TICK = 100;

/** One parsed line of a message file, in LOBSTER's own units. */
export interface LobsterMessage {
  /** Seconds after midnight (local time of the exchange), up to ns precision. */
  timeSec: number;
  /** 1 add, 2 partial cancel, 3 delete, 4 visible execution, 5 hidden execution, 6 cross, 7 halt. */
  type: number;
  /** LOBSTER order reference number (0 for some trades and halts). */
  orderId: number;
  /** Shares. */
  size: number;
  /** Dollars × 10000; for type 7 the halt code (−1 halted, 0 quoting, 1 resumed). */
  price: number;
  /** 1 buy, −1 sell: the side of the resting order. */
  direction: number;
}

/** What one message produced. */
export interface LobsterMessageStep {
  /** Line number (1-based, header counted) of the message in the message file. */
  line: number;
  /** The message as parsed, in LOBSTER units. */
  msg: LobsterMessage;
  /**
   * Every event of this step in replay order: on the first step the snapshot (SnapshotStart,
   * synthetic OrderAdds, SnapshotEnd), then the message's own events, then reconciliation
   * events. `snapshotCount` and `reconcileCount` say how many of each there are.
   */
  events: MdEvent[];
  /** The orderbook row after this message (askPrice1, askSize1, bidPrice1, bidSize1, …); empty when that row was malformed or missing. */
  row: number[];
  /** Number of leading snapshot events in `events` (non-zero only on the first step). */
  snapshotCount: number;
  /** Number of trailing reconciliation events in `events`. */
  reconcileCount: number;
}

/** Counters of an import pass; reset when a pass starts and updated while it runs. */
export interface LobsterStats {
  /** Messages turned into events (malformed ones excluded). */
  messages: number;
  /** Messages per LOBSTER type (index = type, 1–7). */
  byType: number[];
  /** Events emitted, snapshot and reconciliation included. */
  events: number;
  /** Synthetic orders of the opening snapshot (one per price level). */
  snapshotOrders: number;
  /** Synthetic OrderAdds for qty the row shows and the mirror lacked (depth revealed later). */
  reconciledAdds: number;
  /** Lots added by those reconciliations. */
  reconciledAddQty: number;
  /** Synthetic removals (OrderCancel/OrderDelete) for qty the mirror held and the row does not show (changes that happened deeper than level N). */
  reconciledRemovals: number;
  /** Lots removed by those reconciliations. */
  reconciledRemovedQty: number;
  /** Messages whose unknown order id was rewritten onto synthetic orders. */
  syntheticRewrites: number;
  /** Messages whose order id was unknown with no synthetic qty left at its price: emitted as they are. */
  unknownOrderRefs: number;
  /** Status events from type 7 messages. */
  haltMessages: number;
  /** Issues reported (malformed lines and other problems). */
  issues: number;
}

/** Options of `openLobster`. */
export interface LobsterOptions {
  /** `instrumentId` of the instrument and its events; default 1. */
  instrumentId?: number;
  /** Venue id of the instrument; default `'NASDAQ'`. */
  exchange?: string;
  /** IANA time zone the message times are in; default `'America/New_York'`. */
  timezone?: string;
  /** The orderbook file; default found by name beside the message file. */
  orderbookPath?: string;
  /** Receives each issue; default: collected in `issues`. */
  onIssue?: (issue: MdParseIssue) => void;
}

/** An opened LOBSTER import. Each call of `events()`/`messages()` is a fresh pass over the files; run one pass at a time. */
export interface LobsterImport {
  /** The instrument derived from the file name (`nasdaq:equity:<ticker>`, tick 0.01 USD, lot 1 share). */
  readonly instrument: Instrument;
  /** Number of levels a side in the orderbook file (N in `_message_N.csv`). */
  readonly levels: number;
  /** Trading date `YYYY-MM-DD` from the file name. */
  readonly date: string;
  /** The message file, as given. */
  readonly messagePath: string;
  /** The orderbook file, `undefined` when it does not exist (no snapshot, no reconciliation). */
  readonly orderbookPath: string | undefined;
  /** The flat event stream a backtest replays, snapshot first; each event is a new object. */
  events(): AsyncIterable<MdEvent>;
  /**
   * The same events in batches (a backtest's `MarketSource.batches`): no await and no object
   * per event. A batch is valid until the next one is requested.
   */
  batches(): AsyncIterable<EventBatch>;
  /** The same events grouped per message, with the parsed message and orderbook row. */
  messages(): AsyncIterable<LobsterMessageStep>;
  /**
   * Counters of the current or last pass. A pass converts input a batch ahead of what
   * `events()`/`batches()` have handed out, so mid-pass they may count up to one batch more.
   */
  readonly stats: LobsterStats;
  /** Issues of the current or last pass (empty when `onIssue` was given). */
  readonly issues: MdParseIssue[];
}

/** The parts of a LOBSTER file name `TICKER_YYYY-MM-DD_start_end_(message|orderbook)_N.csv`. */
export interface LobsterFileName {
  /** As written in the name, e.g. `AAPL`. */
  ticker: string;
  /** `YYYY-MM-DD`. */
  date: string;
  /** Requested start, ms after midnight. */
  startMs: number;
  /** Requested end, ms after midnight. */
  endMs: number;
  /** Which of the pair this file is. */
  kind: 'message' | 'orderbook';
  /** Levels a side. */
  levels: number;
}

const NAME_RE = /^([^_]+)_(\d{4}-\d{2}-\d{2})_(\d+)_(\d+)_(message|orderbook)_(\d+)\.csv$/i;

/** Parses a LOBSTER file name (a path is fine); `undefined` when it does not follow the pattern. */
export function parseLobsterFileName(path: string): LobsterFileName | undefined {
  const m = NAME_RE.exec(basename(path));
  if (m === null) return undefined;
  const levels = Number(m[6]);
  if (!(levels >= 1)) return undefined;
  return { ticker: m[1]!, date: m[2]!, startMs: Number(m[3]), endMs: Number(m[4]), kind: m[5]!.toLowerCase() as 'message' | 'orderbook', levels };
}

/** The orderbook file name that goes with a message file (`_message_N.csv` → `_orderbook_N.csv`), whether or not it exists. */
export function lobsterOrderbookPath(messagePath: string): string {
  const name = basename(messagePath).replace(/_message_(\d+)\.csv$/i, '_orderbook_$1.csv');
  return join(dirname(messagePath), name);
}

/** Finds the orderbook file beside a message file (synchronously); `undefined` when it is not there. */
export function findLobsterOrderbook(messagePath: string): string | undefined {
  const p = lobsterOrderbookPath(messagePath);
  return p !== messagePath && existsSync(p) ? p : undefined;
}

/**
 * Midnight of a date in a time zone, as ms since the Unix epoch. The zone's offset is taken
 * at local noon: message times are wall-clock times of a trading session, which never spans
 * a DST switch (those happen at night, on weekends).
 */
export function zoneMidnightMs(date: string, timeZone: string): number {
  // Remembered: working out a zone's offset (Intl formatting) costs more than a small import.
  const key = `${date} ${timeZone}`;
  let ms = midnightCache.get(key);
  if (ms === undefined) {
    ms = zoneMidnightMsUncached(date, timeZone);
    if (midnightCache.size >= 1024) midnightCache.clear();
    midnightCache.set(key, ms);
  }
  return ms;
}

const midnightCache = new Map<string, number>();

function zoneMidnightMsUncached(date: string, timeZone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (m === null) throw new RangeError(`not a YYYY-MM-DD date: '${date}'`);
  const y = Number(m[1]);
  const mo = Number(m[2]) - 1;
  const d = Number(m[3]);
  // Offset at local noon, inside the session.
  const NOON_MS = 12 * 3600_000;
  return zonedTimeToUtcMs(Date.UTC(y, mo, d) + NOON_MS, timeZone) - NOON_MS;
}

const TIME_RE = /^\d+(\.\d+)?$/;

/**
 * The integer in `s[from, to)` (surrounding spaces allowed), or NaN when it is not a plain
 * decimal integer. Hand-rolled: parsing dominates the import, and this avoids a regex and a
 * substring per field.
 */
function toInt(s: string, from = 0, to = s.length): number {
  while (from < to && s.charCodeAt(from) === 32) from++;
  while (to > from && s.charCodeAt(to - 1) === 32) to--;
  let i = from;
  const neg = i < to && s.charCodeAt(i) === 45;
  if (neg) i++;
  if (i >= to) return Number.NaN;
  let v = 0;
  for (; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number.NaN;
    v = v * 10 + c;
  }
  return neg ? -v : v;
}

/** Seconds (decimal string) to integer µs, exact: the fraction beyond µs is truncated. */
function secondsToUs(s: string): number {
  const dot = s.indexOf('.');
  if (dot < 0) return Number(s) * 1e6;
  return Number(s.slice(0, dot)) * 1e6 + Number((s.slice(dot + 1) + '000000').slice(0, 6));
}

function isHeader(line: string): boolean {
  const first = line.split(',', 1)[0]!.trim();
  return first !== '' && !Number.isFinite(Number(first));
}

interface ParsedMessage {
  msg: LobsterMessage;
  tsUs: number;
}

const MESSAGE_INT_FIELDS = ['type', 'order id', 'size', 'price', 'direction'] as const;

/** Parses a message line, or returns the reason it is malformed. */
function parseMessage(line: string): ParsedMessage | string {
  const f = line.split(',');
  if (f.length !== 6) return `expected 6 columns, got ${f.length}`;
  const t = f[0]!.trim();
  if (!TIME_RE.test(t)) return `time is not a non-negative number: '${t}'`;
  const v = [0, 0, 0, 0, 0];
  for (let i = 0; i < 5; i++) {
    v[i] = toInt(f[i + 1]!);
    if (Number.isNaN(v[i])) return `${MESSAGE_INT_FIELDS[i]} is not an integer: '${f[i + 1]!.trim()}'`;
  }
  const [type, orderId, size, price, direction] = v as [number, number, number, number, number];
  if (type < 1 || type > 7) return `unknown message type ${type}`;
  if (direction !== 1 && direction !== -1) return `direction must be 1 or -1, got ${direction}`;
  // Cross trades (auctions) carry negative ids (-1 opening cross, -2 closing, …).
  if (orderId < 0 && type !== 6) return `negative order id ${orderId}`;
  if (type === 7) {
    if (price !== -1 && price !== 0 && price !== 1) return `type 7 (halt) needs price -1, 0 or 1, got ${price}`;
  } else {
    if (!(size > 0)) return `size must be positive, got ${size}`;
    if (!(price > 0)) return `price must be positive, got ${price}`;
  }
  return { msg: { timeSec: Number(t), type, orderId, size, price, direction }, tsUs: secondsToUs(t) };
}

/** Parses an orderbook row of `levels` levels a side, or returns the reason it is malformed. */
function parseRow(line: string, levels: number): number[] | string {
  const n = 4 * levels;
  const row = new Array<number>(n);
  let k = 0;
  let start = 0;
  for (;;) {
    let end = line.indexOf(',', start);
    if (end < 0) end = line.length;
    if (k === n) return `expected ${n} columns (${levels} levels a side), got ${line.split(',').length}`;
    const v = toInt(line, start, end);
    if (Number.isNaN(v)) return `column ${k + 1} is not an integer: '${line.slice(start, end).trim()}'`;
    row[k++] = v;
    if (end === line.length) break;
    start = end + 1;
  }
  if (k !== n) return `expected ${n} columns (${levels} levels a side), got ${k}`;
  return row;
}

/**
 * Occupied levels of one side of a row, best first, in ticks and lots: written to
 * `ticks[0, k)` and `qtys[0, k)` (by index: no array is resized); returns `k`.
 */
function rowLevels(row: ArrayLike<number>, side: SideCode, levels: number, ticks: number[], qtys: number[]): number {
  const base = side === -1 ? 0 : 2;
  let k = 0;
  for (let i = 0; i < levels; i++) {
    const p = row[4 * i + base]!;
    const q = row[4 * i + base + 1]!;
    if (Math.abs(p) >= LOBSTER_EMPTY_PRICE || q <= 0) break;
    ticks[k] = p / RAW_PER_TICK;
    qtys[k] = q;
    k++;
  }
  return k;
}


function emptyStats(): LobsterStats {
  return {
    messages: 0,
    byType: [0, 0, 0, 0, 0, 0, 0, 0],
    events: 0,
    snapshotOrders: 0,
    reconciledAdds: 0,
    reconciledAddQty: 0,
    reconciledRemovals: 0,
    reconciledRemovedQty: 0,
    syntheticRewrites: 0,
    unknownOrderRefs: 0,
    haltMessages: 0,
    issues: 0,
  };
}

/**
 * Opens a LOBSTER message file (with or without a header row) and the orderbook file beside
 * it. Nothing is read until `events()` or `messages()` is iterated; both stream the two files
 * line by line in lockstep, so memory stays bounded by the live orders.
 *
 * - Instrument: `nasdaq:equity:<ticker>`, Equity, tick 0.01, lot 1, in USD; price ticks are
 *   LOBSTER prices / 100. Hidden executions may print at half-cents: fractional Trade ticks.
 * - Times: seconds after midnight on the file's date in `opts.timezone` → µs since the epoch;
 *   `exchTs` = `localTs`.
 * - Types: 1 OrderAdd, 2 OrderCancel (qty removed), 3 OrderDelete, 4 OrderExec (side = resting
 *   side), 5 Trade (hidden; taker = opposite of direction), 6 Trade (cross; same convention),
 *   7 Status (Halted / Quoting / Resumed).
 * - The book before the first message (its row with its effect undone) comes first as a
 *   snapshot of one synthetic order per level (ids −1, −2, …). Messages on orders the mirror
 *   does not know are rewritten onto the synthetic orders at their side and price.
 * - Malformed lines are reported (`{file, line, message}`) and skipped; the import goes on.
 *
 * Throws only when the file name does not follow LOBSTER's pattern or the time zone is invalid.
 */
export function openLobster(messagePath: string, opts: LobsterOptions = {}): LobsterImport {
  const name = parseLobsterFileName(messagePath);
  if (name === undefined || name.kind !== 'message') {
    throw new RangeError(`not a LOBSTER message file name (TICKER_YYYY-MM-DD_start_end_message_N.csv): '${messagePath}'`);
  }
  const instrument = makeInstrument({
    instrumentId: opts.instrumentId ?? 1,
    exchange: opts.exchange ?? 'NASDAQ',
    name: `nasdaq:equity:${name.ticker.toLowerCase()}`,
    type: InstrumentType.Equity,
    tickSize: '0.01',
    lotSize: '1',
    baseCurrency: name.ticker.toUpperCase(),
    quoteCurrency: 'USD',
  });
  const midnightUs = zoneMidnightMs(name.date, opts.timezone ?? 'America/New_York') * 1000;
  const orderbookPath = opts.orderbookPath ?? findLobsterOrderbook(messagePath);
  const stats = emptyStats();
  const issues: MdParseIssue[] = [];
  const ctx: PassContext = { messagePath, orderbookPath, levels: name.levels, instrumentId: instrument.instrumentId, midnightUs, stats, issues, onIssue: opts.onIssue };

  return {
    instrument,
    levels: name.levels,
    date: name.date,
    messagePath,
    orderbookPath,
    stats,
    issues,
    messages: () => ({ [Symbol.asyncIterator]: () => messageSteps(ctx) }),
    events: () => passEvents(() => new LobsterPass(ctx, false)),
    batches: () => passBatches(() => new LobsterPass(ctx, false)),
  };
}

interface PassContext {
  messagePath: string;
  orderbookPath: string | undefined;
  levels: number;
  instrumentId: number;
  midnightUs: number;
  stats: LobsterStats;
  issues: MdParseIssue[];
  onIssue: ((issue: MdParseIssue) => void) | undefined;
}

/** `messages()`: one pass in step mode, each step's events copied out as objects. */
async function* messageSteps(ctx: PassContext): AsyncGenerator<LobsterMessageStep> {
  const pass = new LobsterPass(ctx, true);
  const out = new EventBuffer(64);
  try {
    for (;;) {
      out.length = 0;
      await pass.fill(out, 1);
      const step = pass.lastStep;
      if (step === undefined) return;
      pass.lastStep = undefined;
      yield { ...step, events: out.toEvents() };
    }
  } finally {
    pass.close();
  }
}

/** Synthetic order ids at one price level, oldest first; `ids[0, head)` are known to be gone. */
interface SyntheticQueue {
  ids: number[];
  head: number;
  /** Ids resting at the last compaction (sets when the next one is due). */
  live: number;
}

/** The row of a message whose orderbook row is missing or malformed. */
const NO_ROW: readonly number[] = [];

/** What `LobsterPass.run` stopped for. */
const NEED_MESSAGES = 1;
const NEED_ORDERBOOK = 2;
const PAUSE = 3;
const DONE = 4;

/**
 * One pass over the two files. `run` converts synchronously, straight from the bytes of the
 * readers' current chunks, and stops when a reader needs its next chunk (`fill` awaits it and
 * goes on), when the output holds enough events, or after one message in step mode.
 */
class LobsterPass implements EventPass {
  /** The step just converted, without its events (step mode only; taken by `messageSteps`). */
  lastStep: Omit<LobsterMessageStep, 'events'> | undefined;
  private readonly conv: Converter;
  private readonly msgs: ByteLineReader;
  private readonly book: ByteLineReader | undefined;
  private mLine = 0;
  private oLine = 0;
  private bookEnded: boolean;
  private closed = false;
  /** A message line starts at `msgs.pos` and its orderbook row is still being read. */
  private haveMsg = false;
  /** That message's row starts at `book.pos`. */
  private haveRow = false;
  private done = false;
  /** The current message (reused: step mode copies it). */
  private readonly msg: LobsterMessage = { timeSec: 0, type: 0, orderId: 0, size: 0, price: 0, direction: 0 };
  /** Where the fast parser stopped. */
  private readonly at: ParseCursor = { end: 0, timeEnd: 0 };
  /** The current orderbook row, `4 · levels` columns (reused: step mode copies it). */
  private readonly row: number[];

  constructor(
    private readonly ctx: PassContext,
    private readonly stepMode: boolean,
  ) {
    Object.assign(ctx.stats, emptyStats());
    ctx.issues.length = 0;
    this.conv = new Converter(ctx);
    this.msgs = new ByteLineReader(ctx.messagePath);
    if (ctx.orderbookPath === undefined) {
      this.conv.issue(lobsterOrderbookPath(ctx.messagePath), 0, 'orderbook file not found: no snapshot and no reconciliation of hidden depth');
    } else if (!existsSync(ctx.orderbookPath)) {
      this.conv.issue(ctx.orderbookPath, 0, 'orderbook file not found: no snapshot and no reconciliation of hidden depth');
    } else {
      this.book = new ByteLineReader(ctx.orderbookPath);
    }
    this.bookEnded = this.book === undefined;
    this.row = new Array<number>(4 * ctx.levels).fill(0);
  }

  async fill(out: EventBuffer, min: number): Promise<void> {
    this.conv.out = out;
    while (!this.closed) {
      const r = this.run(out, min);
      if (r === NEED_MESSAGES) await this.msgs.fill();
      else if (r === NEED_ORDERBOOK) await this.book!.fill();
      else return;
    }
  }

  close(): void {
    this.closed = true;
    this.msgs.close();
    this.book?.close();
  }

  private run(out: EventBuffer, min: number): number {
    if (this.done) return DONE;
    const ctx = this.ctx;
    const conv = this.conv;
    const msgs = this.msgs;
    const book = this.book;
    const msg = this.msg;
    const row = this.row;
    const at = this.at;
    const fast = importerFastPaths.enabled;
    for (;;) {
      if (!this.haveMsg) {
        const start = msgs.pos;
        if (start >= msgs.length) return msgs.ended ? this.tail() : NEED_MESSAGES;
        this.mLine++;
        // A line starting with a digit is not blank; only line 1 can be a header.
        if (this.mLine === 1 || !isDigitByte(msgs.bytes[start]!)) {
          const end = msgs.lineEnd(start);
          // Blank lines (a trailing newline too many) carry nothing and take no row.
          if ((this.mLine === 1 && isHeader(msgs.str(start, end))) || msgs.isBlank(start, end)) {
            msgs.pos = msgs.after(end);
            continue;
          }
        }
        this.haveMsg = true;
        this.haveRow = false;
      }

      // The row after this message: the next data line of the orderbook file.
      while (!this.bookEnded && !this.haveRow) {
        const start = book!.pos;
        if (start >= book!.length) {
          if (!book!.ended) return NEED_ORDERBOOK;
          this.bookEnded = true;
          conv.issue(ctx.orderbookPath!, this.oLine + 1, `orderbook file ends before the message file (message line ${this.mLine}): no reconciliation from here on`);
          break;
        }
        this.oLine++;
        if (this.oLine === 1 || !isDigitByte(book!.bytes[start]!)) {
          const end = book!.lineEnd(start);
          if ((this.oLine === 1 && isHeader(book!.str(start, end))) || book!.isBlank(start, end)) {
            book!.pos = book!.after(end);
            continue;
          }
        }
        this.haveRow = true;
      }
      this.haveMsg = false;

      // The message: the fast parser, else the full one (which names the problem).
      const mStart = msgs.pos;
      let tsUs = fast ? parseMessageBytes(msgs.bytes, mStart, msgs.length, msg, at) : -1;
      let timeSec: number | undefined;
      if (tsUs >= 0) {
        if (this.stepMode) timeSec = Number(msgs.str(mStart, at.timeEnd));
        msgs.pos = msgs.after(at.end);
      } else {
        const mEnd = msgs.lineEnd(mStart);
        const parsed = parseMessage(msgs.str(mStart, mEnd));
        msgs.pos = msgs.after(mEnd);
        if (typeof parsed === 'string') {
          // Its row goes with it: the files stay aligned.
          if (this.haveRow) book!.pos = book!.after(book!.lineEnd(book!.pos));
          conv.issue(ctx.messagePath, this.mLine, parsed);
          continue;
        }
        Object.assign(msg, parsed.msg);
        tsUs = parsed.tsUs;
        timeSec = parsed.msg.timeSec;
      }

      let hasRow = false;
      if (this.haveRow) {
        const rStart = book!.pos;
        let rEnd = fast ? readIntsBytes(book!.bytes, rStart, book!.length, row, 4 * ctx.levels) : -1;
        if (rEnd >= 0) hasRow = true;
        else {
          rEnd = book!.lineEnd(rStart);
          const r = parseRow(book!.str(rStart, rEnd), ctx.levels);
          if (typeof r === 'string') conv.issue(ctx.orderbookPath!, this.oLine, r);
          else {
            for (let k = 0; k < r.length; k++) row[k] = r[k]!;
            hasRow = true;
          }
        }
        book!.pos = book!.after(rEnd);
      }

      if (!conv.step(this.mLine, msg, tsUs, hasRow ? row : NO_ROW, this.oLine)) continue;
      if (this.stepMode) {
        this.lastStep = { line: this.mLine, msg: { ...msg, timeSec: timeSec! }, row: hasRow ? row.slice() : [], snapshotCount: conv.snapshotCount, reconcileCount: conv.reconcileCount };
        return PAUSE;
      }
      if (out.length >= min) return PAUSE;
    }
  }

  /** After the last message: rows left in the orderbook file are reported once. */
  private tail(): number {
    const book = this.book;
    while (!this.bookEnded) {
      const start = book!.pos;
      if (start >= book!.length) {
        if (!book!.ended) return NEED_ORDERBOOK;
        this.bookEnded = true;
        break;
      }
      this.oLine++;
      const end = book!.lineEnd(start);
      book!.pos = book!.after(end);
      if (book!.isBlank(start, end)) continue;
      this.conv.issue(this.ctx.orderbookPath!, this.oLine, 'orderbook file has more rows than the message file; the rest is ignored');
      this.bookEnded = true;
    }
    this.done = true;
    this.close();
    return DONE;
  }
}

/** Where `parseMessageBytes` stopped: the line end and the end of the time column. */
interface ParseCursor {
  end: number;
  timeEnd: number;
}

function isDigitByte(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * The fast path of `parseMessage`: reads the message line starting at `b[from]` (the chunk
 * holds whole lines up to `limit`) into `msg` (all but `timeSec`), straight from the bytes.
 * Returns its time in µs after midnight and sets `at.end` to the line end, or returns −1 when
 * the line is not in the plain form read here (then `parseMessage` decides and names the
 * problem). Plain: a `digits[.digits]` time and five `-?digits` integers, comma-separated with
 * no spaces, passing every check of `parseMessage`.
 */
function parseMessageBytes(b: Uint8Array, from: number, limit: number, msg: LobsterMessage, at: ParseCursor): number {
  // Time: seconds (at most 15 digits, exact) and up to 6 fraction digits (µs), the rest truncated.
  let i = from;
  let sec = 0;
  while (i < limit) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) break;
    sec = sec * 10 + d;
    i++;
  }
  if (i === from || i - from > 15) return -1;
  let us = 0;
  if (b[i] === 46) {
    i++;
    const fracFrom = i;
    while (i < limit) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) break;
      if (i - fracFrom < 6) us = us * 10 + d;
      i++;
    }
    if (i === fracFrom) return -1;
    for (let k = i - fracFrom; k < 6; k++) us *= 10;
  }
  if (i >= limit || b[i] !== 44) return -1;
  at.timeEnd = i;
  // Five integer columns: type, order id, size, price, direction.
  const v = MESSAGE_INTS;
  const end = readIntsBytes(b, i + 1, limit, v, 5);
  if (end < 0) return -1;
  const type = v[0]!;
  const orderId = v[1]!;
  const size = v[2]!;
  const price = v[3]!;
  const direction = v[4]!;
  if (type < 1 || type > 7) return -1;
  if (direction !== 1 && direction !== -1) return -1;
  if (orderId < 0 && type !== 6) return -1;
  if (type === 7) {
    if (price !== -1 && price !== 0 && price !== 1) return -1;
  } else if (!(size > 0 && price > 0)) return -1;
  msg.type = type;
  msg.orderId = orderId;
  msg.size = size;
  msg.price = price;
  msg.direction = direction;
  at.end = end;
  return sec * 1e6 + us;
}

/** The integer columns of the message being parsed (type, order id, size, price, direction). */
const MESSAGE_INTS: number[] = [0, 0, 0, 0, 0];

/**
 * Reads exactly `count` comma-separated integers (`-?digits`: no spaces) from `b[from]` up to
 * the line end, in one pass over the bytes, into `out[0, count)`. Returns the index of the line
 * end (`\n`, `\r`, or `limit` for a last line without one), or −1 when the line is not in that
 * form: the callers then apply `toInt`'s full rules through the string parsers. Values are
 * accumulated digit by digit, as `toInt` does.
 */
function readIntsBytes(b: Uint8Array, from: number, limit: number, out: number[], count: number): number {
  let i = from;
  for (let k = 0; k < count; k++) {
    if (k > 0) {
      if (i >= limit || b[i] !== 44) return -1;
      i++;
    }
    const neg = b[i] === 45;
    if (neg) i++;
    const first = i;
    let v = 0;
    while (i < limit) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      i++;
    }
    if (i === first) return -1;
    out[k] = neg ? -v : v;
  }
  if (i === limit) return i;
  const c = b[i];
  return c === 10 || c === 13 ? i : -1;
}

/** The per-pass state: the L3 mirror of what was emitted and the synthetic id counter. */
class Converter {
  /** Where events go; set by the pass before each `fill`. */
  out: EventBuffer = new EventBuffer(1);
  /** Snapshot events of the last step (non-zero on the first only). */
  snapshotCount = 0;
  /** Reconciliation events at the end of the last step. */
  reconcileCount = 0;
  private readonly mirror = new L3Book();
  private nextSyntheticId = -1;
  private started = false;
  private ts = 0;
  /** The event being emitted, as the mirror reads it (the output holds numbers only). */
  private readonly scratch: MdEvent = { type: MdType.Status, instrumentId: 0, exchTs: 0, localTs: 0, side: 0, orderId: 0, priceTick: 0, qty: 0, status: 0 };
  private readonly rowTicks: number[] = [];
  private readonly rowQtys: number[] = [];
  private readonly fixTicks: number[] = [];
  private readonly fixDeltas: number[] = [];
  /**
   * Synthetic order ids per price level, in the order they were added, which is their queue
   * order (orders never move within a level). Ids that left the mirror are dropped lazily.
   * Finds "the first synthetic order at a level" without walking the level's queue.
   */
  private readonly synthBids = new Map<number, SyntheticQueue>();
  private readonly synthAsks = new Map<number, SyntheticQueue>();

  constructor(private readonly ctx: PassContext) {
    this.scratch.instrumentId = ctx.instrumentId;
  }

  issue(file: string, line: number, message: string): void {
    this.ctx.stats.issues++;
    const issue: MdParseIssue = { file, line, message };
    if (this.ctx.onIssue) this.ctx.onIssue(issue);
    else this.ctx.issues.push(issue);
  }

  /** Converts one message with the row after it (empty: none); false when the message was skipped. */
  step(line: number, msg: LobsterMessage, tsUs: number, row: readonly number[], rowLine: number): boolean {
    const bookAffecting = msg.type <= 4;
    if (bookAffecting && msg.price % RAW_PER_TICK !== 0) {
      this.issue(this.ctx.messagePath, line, `price ${msg.price} of a type ${msg.type} message is off the 0.01 grid; message skipped`);
      return false;
    }
    const first = this.out.length;
    this.ts = this.ctx.midnightUs + tsUs;
    this.snapshotCount = 0;
    if (!this.started) {
      this.started = true;
      this.snapshot(msg, row);
      this.snapshotCount = this.out.length - first;
    }
    this.message(msg);
    const beforeReconcile = this.out.length;
    if (row.length > 0) {
      this.reconcile(row, -1, rowLine);
      this.reconcile(row, 1, rowLine);
    }
    this.reconcileCount = this.out.length - beforeReconcile;
    const stats = this.ctx.stats;
    stats.messages++;
    stats.byType[msg.type]!++;
    stats.events += this.out.length - first;
    return true;
  }

  /** Emits an event and applies it to the mirror, so later rewrites see its effect. */
  private emit(type: MdType, side: SideCode, orderId: number, priceTick: number, qty: number, status = 0): void {
    this.out.push(type, this.ctx.instrumentId, this.ts, this.ts, side, orderId, priceTick, qty, status);
    const ev = this.scratch;
    ev.type = type;
    ev.exchTs = ev.localTs = this.ts;
    ev.side = side;
    ev.orderId = orderId;
    ev.priceTick = priceTick;
    ev.qty = qty;
    ev.status = status;
    this.mirror.apply(ev);
    if (type === MdType.OrderAdd && orderId < 0) this.noteSynthetic(side, priceTick, orderId);
  }

  private noteSynthetic(side: SideCode, tick: number, id: number): void {
    const byTick = side === 1 ? this.synthBids : this.synthAsks;
    const q = byTick.get(tick);
    if (q === undefined) {
      byTick.set(tick, { ids: [id], head: 0, live: 1 });
      return;
    }
    q.ids.push(id);
    if (q.ids.length - q.head > 2 * q.live + 64) {
      // Many ids, few still resting: drop the gone ones so the list stays proportional.
      const mirror = this.mirror;
      q.ids = q.ids.slice(q.head).filter((i) => mirror.has(i));
      q.head = 0;
      q.live = q.ids.length;
    }
  }

  /** The first synthetic order (in queue order) resting at a level, or undefined. */
  private firstSyntheticId(side: SideCode, tick: number): number | undefined {
    const byTick = side === 1 ? this.synthBids : this.synthAsks;
    const q = byTick.get(tick);
    if (q === undefined) return undefined;
    const mirror = this.mirror;
    while (q.head < q.ids.length) {
      const id = q.ids[q.head]!;
      if (mirror.has(id)) return id;
      q.head++;
    }
    byTick.delete(tick);
    return undefined;
  }

  /** The book before the first message: its row with the message's effect undone. */
  private snapshot(msg: LobsterMessage, row: readonly number[]): void {
    this.emit(MdType.Status, 0, 0, 0, 0, MdStatus.SnapshotStart);
    if (row.length > 0) {
      for (const side of [1, -1] as const) {
        const ticks: number[] = [];
        const qtys: number[] = [];
        rowLevels(row, side, this.ctx.levels, ticks, qtys);
        const full = ticks.length === this.ctx.levels;
        if (msg.type <= 4 && msg.direction === side) {
          const tick = msg.price / RAW_PER_TICK;
          let i = 0;
          while (i < ticks.length && side * ticks[i]! > side * tick) i++;
          const at = i < ticks.length && ticks[i] === tick;
          if (msg.type === 1) {
            if (at) {
              qtys[i]! -= msg.size;
              if (qtys[i]! <= 0) {
                ticks.splice(i, 1);
                qtys.splice(i, 1);
              }
            }
          } else if (at) {
            qtys[i]! += msg.size;
          } else if (i < ticks.length || !full) {
            // The message removed a whole level inside the shown range.
            ticks.splice(i, 0, tick);
            qtys.splice(i, 0, msg.size);
          }
        }
        for (let i = 0; i < ticks.length; i++) {
          this.emit(MdType.OrderAdd, side, this.nextSyntheticId--, ticks[i]!, qtys[i]!);
          this.ctx.stats.snapshotOrders++;
        }
      }
    }
    this.emit(MdType.Status, 0, 0, 0, 0, MdStatus.SnapshotEnd);
  }

  private message(msg: LobsterMessage): void {
    const side = msg.direction as SideCode;
    const tick = msg.price / RAW_PER_TICK;
    const mirror = this.mirror;
    switch (msg.type) {
      case 1:
        this.emit(MdType.OrderAdd, side, msg.orderId, tick, msg.size);
        return;
      case 2:
      case 3:
      case 4: {
        const o = mirror.order(msg.orderId);
        const type = msg.type === 2 ? MdType.OrderCancel : msg.type === 3 ? MdType.OrderDelete : MdType.OrderExec;
        if (o !== undefined) {
          this.emit(type, o.side, msg.orderId, o.priceTick, msg.size);
          return;
        }
        // Placed before the file or below the shown levels: take the qty from the synthetic
        // orders that stand for it, oldest first.
        let rest = msg.size;
        let rewritten = false;
        while (rest > 0) {
          const synth = this.firstSyntheticAt(side, tick);
          if (synth === undefined) break;
          const take = Math.min(rest, synth.qty);
          const whole = take === synth.qty;
          const t = type === MdType.OrderExec ? MdType.OrderExec : whole ? MdType.OrderDelete : MdType.OrderCancel;
          this.emit(t, side, synth.id, tick, take);
          rest -= take;
          rewritten = true;
        }
        if (rewritten) this.ctx.stats.syntheticRewrites++;
        if (rest > 0) {
          // Nothing stands for it: pass it on (the book ignores the unknown id; an execution
          // still reports its trade) and let reconciliation fix the levels.
          this.ctx.stats.unknownOrderRefs++;
          this.emit(type, side, msg.orderId, tick, rest);
        }
        return;
      }
      case 5:
      case 6:
        this.emit(MdType.Trade, -side as SideCode, 0, tick, msg.size);
        return;
      case 7:
        this.ctx.stats.haltMessages++;
        this.emit(MdType.Status, 0, 0, 0, 0, msg.price === -1 ? MdStatus.Halted : msg.price === 0 ? MdStatus.Quoting : MdStatus.Resumed);
        return;
    }
  }

  private firstSyntheticAt(side: SideCode, tick: number): { id: number; qty: number } | undefined {
    const id = this.firstSyntheticId(side, tick);
    return id === undefined ? undefined : { id, qty: this.mirror.order(id)!.qty };
  }

  /**
   * Makes the mirror's levels within the row's range equal the row on one side. The range is
   * every level when the row shows fewer than N (the side has no more), else down to the row's
   * N-th price: deeper levels are unknown and left alone.
   */
  private reconcile(row: readonly number[], side: SideCode, rowLine: number): void {
    const ticks = this.rowTicks;
    const qtys = this.rowQtys;
    const k = rowLevels(row, side, this.ctx.levels, ticks, qtys);
    for (let i = 0; i < k; i++) {
      const t = ticks[i]!;
      if (!Number.isInteger(t)) {
        this.issue(this.ctx.orderbookPath!, rowLine, `orderbook price ${t * RAW_PER_TICK} is off the 0.01 grid; row not reconciled`);
        return;
      }
    }
    const worstKey = k === this.ctx.levels ? side * ticks[k - 1]! : Number.NEGATIVE_INFINITY;
    const l2 = this.mirror.l2;
    const depth = l2.depth(side);
    // Most rows show what the mirror already holds: check that first, collecting nothing.
    // (With k = N the mirror's next level is worse than the row's worst, so out of range.)
    if (depth === k || (k === this.ctx.levels && depth > k)) {
      let same = true;
      for (let i = 0; i < k && same; i++) same = l2.levelTick(side, i) === ticks[i] && l2.levelQty(side, i) === qtys[i];
      if (same) return;
    }
    // Collect the differences first: the mirror's level indices shift while fixing them.
    // (Written by index with a count: resizing arrays costs more than the loop.)
    const fixTicks = this.fixTicks;
    const fixDeltas = this.fixDeltas;
    let nFix = 0;
    let i = 0;
    let j = 0;
    for (;;) {
      const mIn = j < depth && side * l2.levelTick(side, j) >= worstKey;
      const rIn = i < k;
      if (!mIn && !rIn) break;
      const mKey = mIn ? side * l2.levelTick(side, j) : Number.NEGATIVE_INFINITY;
      const rKey = rIn ? side * ticks[i]! : Number.NEGATIVE_INFINITY;
      if (mIn && (!rIn || mKey > rKey)) {
        fixTicks[nFix] = l2.levelTick(side, j);
        fixDeltas[nFix++] = -l2.levelQty(side, j);
        j++;
      } else if (rIn && (!mIn || rKey > mKey)) {
        fixTicks[nFix] = ticks[i]!;
        fixDeltas[nFix++] = qtys[i]!;
        i++;
      } else {
        const d = qtys[i]! - l2.levelQty(side, j);
        if (d !== 0) {
          fixTicks[nFix] = ticks[i]!;
          fixDeltas[nFix++] = d;
        }
        i++;
        j++;
      }
    }
    const stats = this.ctx.stats;
    for (let f = 0; f < nFix; f++) {
      const tick = fixTicks[f]!;
      const d = fixDeltas[f]!;
      if (d > 0) {
        this.emit(MdType.OrderAdd, side, this.nextSyntheticId--, tick, d);
        stats.reconciledAdds++;
        stats.reconciledAddQty += d;
      } else {
        this.removeQty(side, tick, -d);
      }
    }
  }

  /**
   * Takes `qty` off a level the row shows smaller: synthetic orders first (they are guesses),
   * then real orders from the back of the queue (the newest, which keeps the queue position
   * of the older ones).
   */
  private removeQty(side: SideCode, tick: number, qty: number): void {
    const stats = this.ctx.stats;
    let rest = qty;
    while (rest > 0) {
      const id = this.firstSyntheticId(side, tick) ?? this.mirror.lastOrderIdAt(side, tick);
      if (id === undefined) break;
      const o = this.mirror.order(id)!;
      const take = Math.min(rest, o.qty);
      this.emit(take === o.qty ? MdType.OrderDelete : MdType.OrderCancel, side, id, tick, take);
      stats.reconciledRemovals++;
      stats.reconciledRemovedQty += take;
      rest -= take;
    }
  }
}
