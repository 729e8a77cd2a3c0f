/**
 * Importer for LOBSTER files (NASDAQ limit order book reconstructions): a message file and
 * the orderbook file beside it, read in lockstep and turned into normalized `MdEvent`s.
 *
 * LOBSTER shows only the top N price levels, so the message file lacks orders placed before
 * it starts and everything that happens deeper than level N. The importer keeps an L3 mirror
 * of what it emitted and, after each message, reconciles the mirror's top N levels with the
 * orderbook row through synthetic orders (negative ids): the replayed book equals the file.
 * @module
 */
import { openLines } from '../lines.js';
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
  /** The flat event stream a backtest replays, snapshot first. */
  events(): AsyncIterable<MdEvent>;
  /** The same events grouped per message, with the parsed message and orderbook row. */
  messages(): AsyncIterable<LobsterMessageStep>;
  /** Counters of the current or last pass. */
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

/** Occupied levels of one side of a row, best first, in ticks and lots. */
function rowLevels(row: number[], side: SideCode, levels: number, ticks: number[], qtys: number[]): void {
  ticks.length = 0;
  qtys.length = 0;
  const base = side === -1 ? 0 : 2;
  for (let i = 0; i < levels; i++) {
    const p = row[4 * i + base]!;
    const q = row[4 * i + base + 1]!;
    if (Math.abs(p) >= LOBSTER_EMPTY_PRICE || q <= 0) break;
    ticks.push(p / RAW_PER_TICK);
    qtys.push(q);
  }
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
    messages: () => ({ [Symbol.asyncIterator]: () => runPass(ctx) }),
    events: () => ({
      async *[Symbol.asyncIterator]() {
        for await (const step of runPass(ctx)) yield* step.events;
      },
    }),
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

async function* runPass(ctx: PassContext): AsyncGenerator<LobsterMessageStep> {
  Object.assign(ctx.stats, emptyStats());
  ctx.issues.length = 0;
  const conv = new Converter(ctx);
  const msgFile = openLines(ctx.messagePath);
  let bookFile: ReturnType<typeof openLines> | undefined;
  try {
    if (ctx.orderbookPath === undefined) {
      conv.issue(lobsterOrderbookPath(ctx.messagePath), 0, 'orderbook file not found: no snapshot and no reconciliation of hidden depth');
    } else if (!existsSync(ctx.orderbookPath)) {
      conv.issue(ctx.orderbookPath, 0, 'orderbook file not found: no snapshot and no reconciliation of hidden depth');
    } else {
      bookFile = openLines(ctx.orderbookPath);
    }
    let mLine = 0;
    let oLine = 0;
    let bookEnded = bookFile === undefined;
    for (;;) {
      const m = await msgFile.it.next();
      if (m.done) break;
      mLine++;
      const text = m.value;
      if (mLine === 1 && isHeader(text)) continue;
      // Blank lines (a trailing newline too many) carry nothing and take no row.
      if (text.trim() === '') continue;

      // The row after this message: the next data line of the orderbook file.
      let rowText: string | undefined;
      while (!bookEnded) {
        const o = await bookFile!.it.next();
        if (o.done) {
          bookEnded = true;
          conv.issue(ctx.orderbookPath!, oLine + 1, `orderbook file ends before the message file (message line ${mLine}): no reconciliation from here on`);
          break;
        }
        oLine++;
        if ((oLine === 1 && isHeader(o.value)) || o.value.trim() === '') continue;
        rowText = o.value;
        break;
      }

      const parsed = parseMessage(text);
      if (typeof parsed === 'string') {
        conv.issue(ctx.messagePath, mLine, parsed);
        continue;
      }
      let row: number[] = [];
      if (rowText !== undefined) {
        const r = parseRow(rowText, ctx.levels);
        if (typeof r === 'string') conv.issue(ctx.orderbookPath!, oLine, r);
        else row = r;
      }
      const step = conv.step(mLine, parsed, row, oLine);
      if (step !== undefined) yield step;
    }
    if (!bookEnded) {
      for (;;) {
        const o = await bookFile!.it.next();
        if (o.done) break;
        oLine++;
        if (o.value.trim() === '') continue;
        conv.issue(ctx.orderbookPath!, oLine, 'orderbook file has more rows than the message file; the rest is ignored');
        break;
      }
    }
  } finally {
    msgFile.close();
    bookFile?.close();
  }
}

/** The per-pass state: the L3 mirror of what was emitted and the synthetic id counter. */
class Converter {
  private readonly mirror = new L3Book();
  private nextSyntheticId = -1;
  private started = false;
  private out: MdEvent[] = [];
  private ts = 0;
  private readonly rowTicks: number[] = [];
  private readonly rowQtys: number[] = [];

  constructor(private readonly ctx: PassContext) {}

  issue(file: string, line: number, message: string): void {
    this.ctx.stats.issues++;
    const issue: MdParseIssue = { file, line, message };
    if (this.ctx.onIssue) this.ctx.onIssue(issue);
    else this.ctx.issues.push(issue);
  }

  step(line: number, p: ParsedMessage, row: number[], rowLine: number): LobsterMessageStep | undefined {
    const { msg } = p;
    const bookAffecting = msg.type <= 4;
    if (bookAffecting && msg.price % RAW_PER_TICK !== 0) {
      this.issue(this.ctx.messagePath, line, `price ${msg.price} of a type ${msg.type} message is off the 0.01 grid; message skipped`);
      return undefined;
    }
    this.out = [];
    this.ts = this.ctx.midnightUs + p.tsUs;
    let snapshotCount = 0;
    if (!this.started) {
      this.started = true;
      this.snapshot(msg, row);
      snapshotCount = this.out.length;
    }
    this.message(msg);
    const beforeReconcile = this.out.length;
    if (row.length > 0) {
      this.reconcile(row, -1, rowLine);
      this.reconcile(row, 1, rowLine);
    }
    const stats = this.ctx.stats;
    stats.messages++;
    stats.byType[msg.type]!++;
    stats.events += this.out.length;
    return { line, msg, events: this.out, row, snapshotCount, reconcileCount: this.out.length - beforeReconcile };
  }

  /** Emits an event and applies it to the mirror, so later rewrites see its effect. */
  private emit(type: MdType, side: SideCode, orderId: number, priceTick: number, qty: number, status = 0): void {
    const ev: MdEvent = { type, instrumentId: this.ctx.instrumentId, exchTs: this.ts, localTs: this.ts, side, orderId, priceTick, qty, status };
    this.mirror.apply(ev);
    this.out.push(ev);
  }

  /** The book before the first message: its row with the message's effect undone. */
  private snapshot(msg: LobsterMessage, row: number[]): void {
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
    let found: { id: number; qty: number } | undefined;
    this.mirror.forEachOrderAt(side, tick, (o) => {
      if (o.id < 0) {
        found = { id: o.id, qty: o.qty };
        return false;
      }
      return true;
    });
    return found;
  }

  /**
   * Makes the mirror's levels within the row's range equal the row on one side. The range is
   * every level when the row shows fewer than N (the side has no more), else down to the row's
   * N-th price: deeper levels are unknown and left alone.
   */
  private reconcile(row: number[], side: SideCode, rowLine: number): void {
    const ticks = this.rowTicks;
    const qtys = this.rowQtys;
    rowLevels(row, side, this.ctx.levels, ticks, qtys);
    for (const t of ticks) {
      if (!Number.isInteger(t)) {
        this.issue(this.ctx.orderbookPath!, rowLine, `orderbook price ${t * RAW_PER_TICK} is off the 0.01 grid; row not reconciled`);
        return;
      }
    }
    const k = ticks.length;
    const worstKey = k === this.ctx.levels ? side * ticks[k - 1]! : Number.NEGATIVE_INFINITY;
    const l2 = this.mirror.l2;
    // Collect the differences first: the mirror's level indices shift while fixing them.
    const fixTicks: number[] = [];
    const fixDeltas: number[] = [];
    const depth = l2.depth(side);
    let i = 0;
    let j = 0;
    for (;;) {
      const mIn = j < depth && side * l2.levelTick(side, j) >= worstKey;
      const rIn = i < k;
      if (!mIn && !rIn) break;
      const mKey = mIn ? side * l2.levelTick(side, j) : Number.NEGATIVE_INFINITY;
      const rKey = rIn ? side * ticks[i]! : Number.NEGATIVE_INFINITY;
      if (mIn && (!rIn || mKey > rKey)) {
        fixTicks.push(l2.levelTick(side, j));
        fixDeltas.push(-l2.levelQty(side, j));
        j++;
      } else if (rIn && (!mIn || rKey > mKey)) {
        fixTicks.push(ticks[i]!);
        fixDeltas.push(qtys[i]!);
        i++;
      } else {
        const d = qtys[i]! - l2.levelQty(side, j);
        if (d !== 0) {
          fixTicks.push(ticks[i]!);
          fixDeltas.push(d);
        }
        i++;
        j++;
      }
    }
    const stats = this.ctx.stats;
    for (let f = 0; f < fixTicks.length; f++) {
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
      const ids = this.mirror.ordersAt(side, tick);
      if (ids.length === 0) break;
      const synth = ids.find((id) => id < 0);
      const id = synth ?? ids[ids.length - 1]!;
      const o = this.mirror.order(id)!;
      const take = Math.min(rest, o.qty);
      this.emit(take === o.qty ? MdType.OrderDelete : MdType.OrderCancel, side, id, tick, take);
      stats.reconciledRemovals++;
      stats.reconciledRemovedQty += take;
      rest -= take;
    }
  }
}
