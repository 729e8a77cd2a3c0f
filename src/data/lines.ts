/**
 * Streaming plumbing shared by the importers:
 *
 * - `ByteLineReader` / `LineChunkReader`: a text file read a chunk of whole lines at a time
 *   (the next chunk read in the background), its lines handed out synchronously as bytes or
 *   as text: one await per chunk, not per line, and no `readline` machinery;
 * - `EventBuffer`: a growable batch of events in one `Float64Array` (no object per event),
 *   readable as a backtest `EventBatch`;
 * - `passEvents` / `passBatches`: the async iterables an importer hands out over an
 *   `EventPass` (events one by one, as before, or whole batches);
 * - `JsonFields`: a strict JSON scanner for capture lines. It validates a line and finds the
 *   fields an importer needs without building objects. Lines it cannot vouch for (escapes,
 *   control characters, unexpected shapes) go to `JSON.parse` and the importers' general
 *   code, so malformed input is reported exactly as before.
 *
 * `importerFastPaths` switches the importers' fast paths off, for tests that compare both.
 * `openLines` (one line per await) is kept for callers that want a simple line iterator.
 * @module
 */
import { close as fsClose, open as fsOpen, read as fsRead } from 'node:fs';
import type { EventBatch } from '../backtest/backtest.js';
import type { MdEvent, MdType, SideCode } from './events.js';

// ---------------------------------------------------------------------------------------
// Lines.

/** Bytes read at a time by the line readers (a chunk grows when one line is longer). */
export const LINE_CHUNK_BYTES = 256 << 10;

const LF = 10;
const CR = 13;

/**
 * A file read in chunks that end at a line end: `bytes[0, length)` holds whole lines (the
 * last chunk may end without a line end). Two buffers alternate, so the next chunk is read
 * in the background while the caller works on the current one. The file is opened at once;
 * an error (e.g. a missing file) surfaces from the first `fill`.
 */
class WholeLineChunks {
  /** The current chunk: whole lines in `bytes[0, length)`. Valid until the next `fill`. */
  bytes: Buffer;
  /** Bytes of the current chunk. */
  length = 0;
  /** True once `fill` found the end of the file, or once the reader was closed: nothing more will come. */
  ended = false;
  /** Where the next read goes; holds the start of an unfinished line in `[0, carry)`. */
  private spare: Buffer;
  private carry = 0;
  private fd: Promise<number> | undefined;
  /** The read in flight, resolving to the bytes read. */
  private pending: Promise<number> | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    chunkBytes: number,
  ) {
    const size = Math.max(16, chunkBytes);
    this.bytes = Buffer.allocUnsafe(size);
    this.spare = Buffer.allocUnsafe(size);
    this.fd = new Promise((resolve, reject) => fsOpen(path, 'r', (e, fd) => (e ? reject(e) : resolve(fd))));
    this.readAhead();
  }

  /** Loads the next chunk into `bytes[0, length)`; false at the end of the file (the file is then closed). */
  protected async fillBytes(): Promise<boolean> {
    this.length = 0;
    if (this.ended || this.closed) return false;
    for (;;) {
      const n = await this.pending!;
      this.pending = undefined;
      // Closed while the read was in flight: it is not used.
      if (this.closed) return false;
      const buf = this.spare;
      const total = this.carry + n;
      if (n === 0) {
        // End of file: what is left is the last line.
        this.ended = true;
        this.close();
        if (total === 0) return false;
        this.spare = this.bytes;
        this.bytes = buf;
        this.length = total;
        this.carry = 0;
        return true;
      }
      // A multi-byte UTF-8 sequence never contains byte 10, so a chunk may end after any `\n`.
      const lastNl = buf.lastIndexOf(LF, total - 1);
      if (lastNl < 0) {
        // No line end yet: a line longer than the buffer so far.
        this.carry = total;
        if (this.carry * 2 > buf.length) this.spare = grown(buf, this.carry);
        this.readAhead();
        continue;
      }
      // The chunk ends after the last `\n`; the unfinished line moves to the other buffer,
      // where the next read continues it.
      let other = this.bytes;
      if (other.length < buf.length) other = Buffer.allocUnsafe(buf.length);
      this.carry = total - lastNl - 1;
      buf.copy(other, 0, lastNl + 1, total);
      this.bytes = buf;
      this.length = lastNl + 1;
      this.spare = this.carry * 2 > other.length ? grown(other, this.carry) : other;
      this.readAhead();
      return true;
    }
  }

  /** Stops reading and releases the file (after a read in flight). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ended = true;
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) return;
    (this.pending ?? Promise.resolve(0))
      .catch(() => 0)
      .then(() => fd)
      .then(
        (d) => fsClose(d, () => undefined),
        () => undefined,
      );
  }

  /** Starts reading into `spare` after its carried bytes. */
  private readAhead(): void {
    const buf = this.spare;
    const at = this.carry;
    this.pending = this.fd!.then((fd) => new Promise<number>((resolve, reject) => fsRead(fd, buf, at, buf.length - at, null, (e, n) => (e ? reject(e) : resolve(n)))));
    // Errors surface on the next `fill`; until then they must not count as unhandled.
    this.pending.catch(() => undefined);
  }
}

/** A buffer twice the size of `buf` with its first `keep` bytes. */
function grown(buf: Buffer, keep: number): Buffer {
  const bigger = Buffer.allocUnsafe(buf.length * 2);
  buf.copy(bigger, 0, 0, keep);
  return bigger;
}

/**
 * A text file read as bytes, a chunk of whole lines at a time, for parsers that read ASCII
 * fields straight from the bytes (no string per line). Line ends are those of `readline` with
 * `crlfDelay: Infinity`: `\n`, `\r\n` and a lone `\r`; a last line without an end counts.
 *
 * The caller moves `pos` from line to line: `lineEnd(pos)` finds where the current line ends
 * (or a parser finds it itself), `after(end)` is where the next one starts. At `pos ===
 * length` it calls `await fill()` (false at the end of the file).
 */
export class ByteLineReader extends WholeLineChunks {
  /** Start of the current line in `bytes`. */
  pos = 0;

  constructor(path: string, chunkBytes = LINE_CHUNK_BYTES) {
    super(path, chunkBytes);
  }

  /** Loads the next chunk of lines (`pos` = 0); false at the end of the file. */
  async fill(): Promise<boolean> {
    this.pos = 0;
    return this.fillBytes();
  }

  /** Index of the line end (`\n` or `\r`) of the line containing `from`, or `length` for a last line without one. */
  lineEnd(from: number): number {
    const b = this.bytes;
    const n = this.length;
    let i = from;
    while (i < n) {
      const c = b[i]!;
      if (c === LF || c === CR) return i;
      i++;
    }
    return n;
  }

  /** Start of the line after a line that ends at `end` (as `lineEnd` returns it). */
  after(end: number): number {
    if (end >= this.length) return this.length;
    return this.bytes[end] === CR && this.bytes[end + 1] === LF ? end + 2 : end + 1;
  }

  /** Bytes `[start, end)` decoded as UTF-8. */
  str(start: number, end: number): string {
    return this.bytes.toString('utf8', start, end);
  }

  /** Whether the line `[start, end)` is blank as `String.prototype.trim` sees it. */
  isBlank(start: number, end: number): boolean {
    if (start === end) return true;
    const c = this.bytes[start]!;
    // Printable ASCII is never whitespace: the common case decodes nothing.
    if (c > 32 && c < 127) return false;
    return this.str(start, end).trim() === '';
  }
}

/**
 * A text file (UTF-8) read a chunk of whole lines at a time and handed out line by line
 * synchronously within a chunk. Line ends as in `ByteLineReader`; an empty file has no lines.
 *
 * Use: `while (r.next()) { …r.text.slice(r.start, r.end)… }`, then `await r.fill()` for the
 * next chunk (false at the end of the file). `text` and the line bounds are only valid until
 * the next `fill`.
 */
export class LineChunkReader extends WholeLineChunks {
  /** The decoded text of the current chunk: whole lines only. */
  text = '';
  /** Start of the current line in `text`. */
  start = 0;
  /** End of the current line in `text`, its line end excluded. */
  end = 0;
  /**
   * The chunk has no backslash and no control character other than its line ends, so no
   * line in it has any: `JsonFields` may scan its lines without `jsonFastPathOk`.
   */
  jsonClean = false;
  private pos = 0;
  /** Index of the next `\r` in `text` at or after `pos`, −1 when none. */
  private nextCr = -1;

  constructor(path: string, chunkBytes = LINE_CHUNK_BYTES) {
    super(path, chunkBytes);
  }

  /** Advances to the next line of the current chunk; false when the chunk is used up. */
  next(): boolean {
    const text = this.text;
    const pos = this.pos;
    if (pos >= text.length) return false;
    const nl = text.indexOf('\n', pos);
    let cr = this.nextCr;
    if (cr >= 0 && cr < pos) cr = this.nextCr = text.indexOf('\r', pos);
    this.start = pos;
    if (cr >= 0 && (nl < 0 || cr < nl)) {
      // `\r\n` or a lone `\r`.
      this.end = cr;
      this.pos = text.charCodeAt(cr + 1) === LF ? cr + 2 : cr + 1;
    } else if (nl < 0) {
      // The last line of the file, without a line end.
      this.end = this.pos = text.length;
    } else {
      this.end = nl;
      this.pos = nl + 1;
    }
    return true;
  }

  /** The current line as a string. */
  line(): string {
    return this.text.slice(this.start, this.end);
  }

  /** Loads and decodes the next chunk of lines; false at the end of the file. */
  async fill(): Promise<boolean> {
    this.text = '';
    this.pos = 0;
    this.nextCr = -1;
    this.jsonClean = false;
    if (!(await this.fillBytes())) return false;
    this.text = this.bytes.toString('utf8', 0, this.length);
    this.nextCr = this.text.indexOf('\r');
    this.jsonClean = isJsonCleanChunk(this.text);
    return true;
  }
}

/**
 * A copy of `s` that holds no reference to a larger string it was cut from. A `slice` of a
 * chunk's text keeps the whole chunk in memory; strings an import keeps (names, issue
 * messages that quote a value) are copied with this.
 */
export function detachedString(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/** Whether `text[start, end)` is blank as `String.prototype.trim` sees it. */
export function isBlankSpan(text: string, start: number, end: number): boolean {
  if (start === end) return true;
  const c = text.charCodeAt(start);
  // Printable ASCII is never whitespace: the common case needs no substring.
  if (c > 32 && c < 127) return false;
  return text.slice(start, end).trim() === '';
}

/** An open file read line by line, one await per line. */
export interface LineReader {
  /** The underlying iterator (created at once, so no line is lost before the first read). */
  readonly it: AsyncIterator<string>;
  /** The next line without its end-of-line, or undefined at the end. */
  next(): Promise<string | undefined>;
  /** Stops reading and releases the file. */
  close(): void;
}

/** Opens `path` (UTF-8) for reading line by line, with bounded memory (line ends as in `LineChunkReader`). */
export function openLines(path: string): LineReader {
  const r = new LineChunkReader(path);
  const next = async (): Promise<string | undefined> => {
    while (!r.next()) if (!(await r.fill())) return undefined;
    return r.line();
  };
  const it: AsyncIterator<string> = {
    next: async () => {
      const line = await next();
      return line === undefined ? { done: true, value: undefined } : { done: false, value: line };
    },
    return: async () => {
      r.close();
      return { done: true, value: undefined };
    },
  };
  return { it, next, close: () => r.close() };
}

// ---------------------------------------------------------------------------------------
// Events.

/** Fields per event in `EventBuffer.f`, in `MdEvent` order. */
const STRIDE = 9;

/** Events per batch an importer aims for; the first batches of a pass are smaller (see `passEvents`). */
export const BATCH_EVENTS = 4096;

/**
 * A growable run of events, nine numbers each in one `Float64Array` (`type, instrumentId,
 * exchTs, localTs, side, orderId, priceTick, qty, status`): an importer appends to it without
 * building an object per event, and a consumer reads it as an `EventBatch`.
 */
export class EventBuffer implements EventBatch {
  /** Events held. */
  length = 0;
  private f: Float64Array;

  constructor(capacity = BATCH_EVENTS) {
    this.f = new Float64Array(Math.max(1, capacity) * STRIDE);
  }

  /** Appends one event. */
  push(type: MdType, instrumentId: number, exchTs: number, localTs: number, side: SideCode, orderId: number, priceTick: number, qty: number, status: number): void {
    let o = this.length * STRIDE;
    if (o === this.f.length) {
      const bigger = new Float64Array(this.f.length * 2);
      bigger.set(this.f);
      this.f = bigger;
    }
    const f = this.f;
    f[o++] = type;
    f[o++] = instrumentId;
    f[o++] = exchTs;
    f[o++] = localTs;
    f[o++] = side;
    f[o++] = orderId;
    f[o++] = priceTick;
    f[o++] = qty;
    f[o] = status;
    this.length++;
  }

  /** Decodes event `i` into `into` (all nine fields) and returns it. */
  read(i: number, into: MdEvent): MdEvent {
    const f = this.f;
    const o = i * STRIDE;
    into.type = f[o] as MdType;
    into.instrumentId = f[o + 1]!;
    into.exchTs = f[o + 2]!;
    into.localTs = f[o + 3]!;
    into.side = f[o + 4] as SideCode;
    into.orderId = f[o + 5]!;
    into.priceTick = f[o + 6]!;
    into.qty = f[o + 7]!;
    into.status = f[o + 8]!;
    return into;
  }

  /** Event `i` as a new object, which the caller may keep. */
  toEvent(i: number): MdEvent {
    const f = this.f;
    const o = i * STRIDE;
    return {
      type: f[o] as MdType,
      instrumentId: f[o + 1]!,
      exchTs: f[o + 2]!,
      localTs: f[o + 3]!,
      side: f[o + 4] as SideCode,
      orderId: f[o + 5]!,
      priceTick: f[o + 6]!,
      qty: f[o + 7]!,
      status: f[o + 8]!,
    };
  }

  /** Events `from` … `length − 1` as new objects. */
  toEvents(from = 0): MdEvent[] {
    const out = new Array<MdEvent>(this.length - from);
    for (let i = from; i < this.length; i++) out[i - from] = this.toEvent(i);
    return out;
  }
}

/**
 * One pass of an importer over its files, producing events in batches. Creating it starts
 * the pass (stats reset); `fill` then converts input until `out` holds at least `min` events
 * or the data ends. A pass awaits only to read its files. Once closed, `fill` adds nothing
 * (also a `fill` in flight, after its current read).
 */
export interface EventPass {
  /** Appends the next events to `out` until it holds at least `min` events; appends nothing once the pass is over. */
  fill(out: EventBuffer, min: number): Promise<void>;
  /** Ends the pass early and releases its files. Idempotent. */
  close(): void;
}

/**
 * First batch size of `passEvents`: a consumer that stops after a few events has had only a
 * few lines converted (stats run ahead of it by at most one batch). Batches double from here
 * to `BATCH_EVENTS`.
 */
const FIRST_BATCH_EVENTS = 16;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined }) as IteratorReturnResult<undefined>;

/** The async iterator of `passEvents`: serves events from a buffer, refilling it once per batch. */
class PassEventIterator implements AsyncIterator<MdEvent> {
  private pass: EventPass | undefined;
  private readonly buf = new EventBuffer();
  private i = 0;
  private min = FIRST_BATCH_EVENTS;
  private finished = false;
  /** A `next` still running when another was called: calls are served in order, as an async generator does. */
  private queue: Promise<unknown> | undefined;

  constructor(private readonly start: () => EventPass) {}

  next(): Promise<IteratorResult<MdEvent>> {
    // The hot path: an event of the current batch, no await inside.
    if (this.queue === undefined && this.i < this.buf.length) return Promise.resolve({ done: false, value: this.buf.toEvent(this.i++) });
    const p = (this.queue ?? Promise.resolve()).then(() => this.refill());
    const clear = () => {
      if (this.queue === p) this.queue = undefined;
    };
    this.queue = p;
    p.then(clear, clear);
    return p;
  }

  return(): Promise<IteratorResult<MdEvent>> {
    this.finish();
    return Promise.resolve(DONE);
  }

  private async refill(): Promise<IteratorResult<MdEvent>> {
    if (this.i < this.buf.length) return { done: false, value: this.buf.toEvent(this.i++) };
    if (this.finished) return DONE;
    this.pass ??= this.start();
    this.buf.length = 0;
    this.i = 0;
    try {
      await this.pass.fill(this.buf, this.min);
    } catch (e) {
      this.finish();
      throw e;
    }
    // `return()` while the batch was being read: nothing more is served.
    if (this.finished) return DONE;
    if (this.min < BATCH_EVENTS) this.min *= 2;
    if (this.buf.length === 0) {
      this.finish();
      return DONE;
    }
    return { done: false, value: this.buf.toEvent(this.i++) };
  }

  private finish(): void {
    this.finished = true;
    this.buf.length = 0;
    this.i = 0;
    this.pass?.close();
  }
}

/**
 * The events of passes made by `start`, one by one: each iteration is a new pass and each
 * event a new object the consumer may keep. It awaits once per event (the price of
 * `for await`) but converts input a batch at a time; `passBatches` avoids the per-event await.
 */
export function passEvents(start: () => EventPass): AsyncIterable<MdEvent> {
  return { [Symbol.asyncIterator]: () => new PassEventIterator(start) };
}

/**
 * The events of passes made by `start`, in batches of about `BATCH_EVENTS` (a backtest's
 * `MarketSource.batches`). Each batch is valid until the next one is requested (its buffer
 * is reused).
 */
export function passBatches(start: () => EventPass): AsyncIterable<EventBatch> {
  return {
    async *[Symbol.asyncIterator]() {
      const pass = start();
      const buf = new EventBuffer();
      try {
        for (;;) {
          buf.length = 0;
          await pass.fill(buf, BATCH_EVENTS);
          if (buf.length === 0) return;
          yield buf;
        }
      } finally {
        pass.close();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// JSON, scanned in place.
//
// The JSON importers spend most of their time in `JSON.parse` building arrays of short
// strings (`[["0.35130000","6195.00000000"], …]`) only to read them once. The scanner below
// checks that a line is valid JSON and records where the wanted fields' values are, as
// [start, end) offsets into the line, without building anything. It covers the lines
// `jsonFastPathOk` accepts (no backslash, no control character: then a string is everything
// up to the next quote and the only whitespace is a space); for the others the importers fall
// back to `JSON.parse` and their original code.

/** Escapes and raw control characters: a line with any goes to `JSON.parse`. */
const JSON_SLOW_CHARS = /[\\\u0000-\u001f]/;
/** The same for a chunk of lines, whose line ends (`\n`, `\r`) are not in any line. */
const CHUNK_SLOW_CHARS = ['\\', ...Array.from({ length: 32 }, (_, c) => String.fromCharCode(c)).filter((c) => c !== '\n' && c !== '\r')];

/**
 * Whether `text` has none of `CHUNK_SLOW_CHARS`. One `indexOf` per character: each is a
 * vectorised scan, together some 3× faster than one regular expression with a class.
 */
function isJsonCleanChunk(text: string): boolean {
  for (const c of CHUNK_SLOW_CHARS) if (text.indexOf(c) >= 0) return false;
  return true;
}

/** Nesting deeper than this goes to `JSON.parse` (the scanner recurses). */
const JSON_MAX_DEPTH = 64;

/**
 * @internal Test switch: with `enabled` false, the importers send every line down their
 * general path (string parsers, `JSON.parse`), which their fast paths must match exactly.
 */
export const importerFastPaths = { enabled: true };

/** Whether the scanner may judge `json` (it has no backslash and no control character). */
export function jsonFastPathOk(json: string): boolean {
  return importerFastPaths.enabled && !JSON_SLOW_CHARS.test(json);
}

/**
 * Whether the scanner may judge the line `r.text[from, to)` of a `LineChunkReader`: at once
 * when its chunk is clean, else by checking the line.
 */
export function jsonLineOk(r: LineChunkReader, from: number, to: number): boolean {
  return importerFastPaths.enabled && (r.jsonClean || !JSON_SLOW_CHARS.test(r.text.slice(from, to)));
}

function skipSpaces(s: string, i: number): number {
  while (s.charCodeAt(i) === 32) i++;
  return i;
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** End of the JSON number at `i`, or −1 when there is none (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`). */
function skipNumber(s: string, i: number): number {
  if (s.charCodeAt(i) === 45) i++;
  const c = s.charCodeAt(i);
  if (c === 48) i++;
  else if (c >= 49 && c <= 57) {
    i++;
    while (isDigitCode(s.charCodeAt(i))) i++;
  } else return -1;
  if (s.charCodeAt(i) === 46) {
    i++;
    if (!isDigitCode(s.charCodeAt(i))) return -1;
    while (isDigitCode(s.charCodeAt(i))) i++;
  }
  const e = s.charCodeAt(i);
  if (e === 101 || e === 69) {
    i++;
    const sign = s.charCodeAt(i);
    if (sign === 43 || sign === 45) i++;
    if (!isDigitCode(s.charCodeAt(i))) return -1;
    while (isDigitCode(s.charCodeAt(i))) i++;
  }
  return i;
}

/**
 * End of the JSON value at `i` (no leading space), or −1 when it is not valid JSON. The text
 * ends at `to` (a line end follows, which no value can take in: only a string's closing quote
 * is searched for, and must come before `to`).
 */
function skipValue(s: string, i: number, depth: number, to: number): number {
  const c = s.charCodeAt(i);
  if (c === 34) {
    const q = s.indexOf('"', i + 1);
    return q < 0 || q >= to ? -1 : q + 1;
  }
  if (c === 123) return scanObject(s, i, depth + 1, to);
  if (c === 91) return skipArray(s, i, depth + 1, to);
  if (c === 116) return s.startsWith('true', i) ? i + 4 : -1;
  if (c === 102) return s.startsWith('false', i) ? i + 5 : -1;
  if (c === 110) return s.startsWith('null', i) ? i + 4 : -1;
  return skipNumber(s, i);
}

function skipArray(s: string, i: number, depth: number, to: number): number {
  if (depth > JSON_MAX_DEPTH) return -1;
  i = skipSpaces(s, i + 1);
  if (s.charCodeAt(i) === 93) return i + 1;
  for (;;) {
    i = skipValue(s, i, depth, to);
    if (i < 0) return -1;
    i = skipSpaces(s, i);
    const c = s.charCodeAt(i);
    if (c === 93) return i + 1;
    if (c !== 44) return -1;
    i = skipSpaces(s, i + 1);
  }
}

/**
 * Validates the object at `s[i] === '{'` (its keys are not looked at); returns the index
 * after it, or −1 when it is not valid JSON.
 */
function scanObject(s: string, i: number, depth: number, to: number): number {
  if (depth > JSON_MAX_DEPTH) return -1;
  i = skipSpaces(s, i + 1);
  if (s.charCodeAt(i) === 125) return i + 1;
  for (;;) {
    if (s.charCodeAt(i) !== 34) return -1;
    const ke = s.indexOf('"', i + 1);
    if (ke < 0 || ke >= to) return -1;
    i = skipSpaces(s, ke + 1);
    if (s.charCodeAt(i) !== 58) return -1;
    i = skipValue(s, skipSpaces(s, i + 1), depth, to);
    if (i < 0) return -1;
    i = skipSpaces(s, i);
    const c = s.charCodeAt(i);
    if (c === 125) return i + 1;
    if (c !== 44) return -1;
    i = skipSpaces(s, i + 1);
  }
}

/**
 * The fields an importer wants from a JSON object line, found by one validating scan: for
 * key `keys[k]`, its value is `s.slice(from[k], to[k])` (−1 when absent; the last one wins
 * for a repeated key, as with `JSON.parse`). A key given an arity `n > 0` is also read, in the
 * same pass, as an array of tuples whose first `n` elements are strings (`[["0.1","5"], …]`):
 * `tupleCount[k]` elements (−1 when the value is not such an array), and `tuples[k]` holds
 * `2n` offsets per element, the start and end of each string's text (quotes excluded).
 *
 * One instance is reused line after line (nothing is allocated per line); its spans are
 * valid until its next scan, so a caller copies what it keeps across an await.
 */
export class JsonFields {
  readonly from: Int32Array;
  readonly to: Int32Array;
  readonly tupleCount: Int32Array;
  readonly tuples: number[][];

  /** @param arity per key, the tuple arity to read its value as (0: not a tuple array). */
  constructor(
    readonly keys: readonly string[],
    private readonly arity: readonly number[] = [],
  ) {
    this.from = new Int32Array(keys.length);
    this.to = new Int32Array(keys.length);
    this.tupleCount = new Int32Array(keys.length);
    this.tuples = keys.map(() => []);
  }

  /**
   * Validates that `s[from, to)` (accepted by `jsonFastPathOk` or `jsonLineOk`) is one JSON
   * object and records its fields (offsets into `s`). False when it is not valid JSON or not
   * an object: the caller uses `JSON.parse`. When `to < s.length`, `s[to]` must be a line
   * end (`\n`, `\r`), as in a chunk of lines.
   */
  scan(s: string, from = 0, to = s.length): boolean {
    this.reset();
    const i = skipSpaces(s, from);
    if (s.charCodeAt(i) !== 123) return false;
    const end = this.object(s, i, to);
    return end >= 0 && skipSpaces(s, end) === to;
  }

  /**
   * Records the fields of the object at `s[at]`, inside a line `[…, to)` that `scan`
   * accepted; false when the value there is not an object.
   */
  scanNested(s: string, at: number, to = s.length): boolean {
    this.reset();
    if (at < 0 || s.charCodeAt(at) !== 123) return false;
    return this.object(s, at, to) >= 0;
  }

  /** Whether field `k` is a JSON string (its text is then `stringAt(s, k)`). */
  isString(s: string, k: number): boolean {
    const f = this.from[k]!;
    return f >= 0 && s.charCodeAt(f) === 34;
  }

  /** The text of string field `k`, or undefined when it is absent or not a string. */
  string(s: string, k: number): string | undefined {
    return this.isString(s, k) ? s.slice(this.from[k]! + 1, this.to[k]! - 1) : undefined;
  }

  /** Field `k` as a number, as `JSON.parse` reads it; NaN when it is absent or not a number. */
  number(s: string, k: number): number {
    return jsonNumber(s, this.from[k]!, this.to[k]!);
  }

  /** Whether field `k` is the literal `true` (1), `false` (0), or neither (−1). */
  boolean(s: string, k: number): number {
    const f = this.from[k]!;
    const len = this.to[k]! - f;
    if (len === 4 && s.startsWith('true', f)) return 1;
    if (len === 5 && s.startsWith('false', f)) return 0;
    return -1;
  }

  /** Index of the key `s[ks, ke)` in `keys`, or −1. Compared char by char: a builtin call per candidate costs more. */
  private keyIndex(s: string, ks: number, ke: number): number {
    const keys = this.keys;
    const len = ke - ks;
    const first = s.charCodeAt(ks);
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j]!;
      if (key.length !== len || key.charCodeAt(0) !== first) continue;
      let c = 1;
      while (c < len && key.charCodeAt(c) === s.charCodeAt(ks + c)) c++;
      if (c === len) return j;
    }
    return -1;
  }

  private reset(): void {
    // A loop: cheaper than three `fill` calls for a handful of keys.
    for (let k = 0; k < this.keys.length; k++) this.from[k] = this.to[k] = this.tupleCount[k] = -1;
  }

  private object(s: string, i: number, to: number): number {
    i = skipSpaces(s, i + 1);
    if (s.charCodeAt(i) === 125) return i + 1;
    for (;;) {
      if (s.charCodeAt(i) !== 34) return -1;
      const ks = i + 1;
      const ke = s.indexOf('"', ks);
      if (ke < 0 || ke >= to) return -1;
      i = skipSpaces(s, ke + 1);
      if (s.charCodeAt(i) !== 58) return -1;
      i = skipSpaces(s, i + 1);
      const vs = i;
      const k = this.keyIndex(s, ks, ke);
      if (k >= 0 && (this.arity[k] ?? 0) > 0) {
        // Read as tuples, validating as it goes; anything else is validated generically.
        i = this.readTuples(s, i, k, to);
        if (i < 0) {
          this.tupleCount[k] = -1;
          i = skipValue(s, vs, 1, to);
        }
      } else i = skipValue(s, i, 1, to);
      if (i < 0) return -1;
      if (k >= 0) {
        this.from[k] = vs;
        this.to[k] = i;
      }
      i = skipSpaces(s, i);
      const c = s.charCodeAt(i);
      if (c === 125) return i + 1;
      if (c !== 44) return -1;
      i = skipSpaces(s, i + 1);
    }
  }

  /** Reads the tuple array at `s[i]` into `tuples[k]`; the index after it, or −1 when it is not one. */
  private readTuples(s: string, i: number, k: number, to: number): number {
    if (s.charCodeAt(i) !== 91) return -1;
    const n = this.arity[k]!;
    const out = this.tuples[k]!;
    let w = 0;
    let count = 0;
    i = skipSpaces(s, i + 1);
    if (s.charCodeAt(i) === 93) {
      this.tupleCount[k] = 0;
      return i + 1;
    }
    for (;;) {
      if (s.charCodeAt(i) !== 91) return -1;
      i = skipSpaces(s, i + 1);
      for (let e = 0; e < n; e++) {
        if (e > 0) {
          if (s.charCodeAt(i) !== 44) return -1;
          i = skipSpaces(s, i + 1);
        }
        if (s.charCodeAt(i) !== 34) return -1;
        const q = s.indexOf('"', i + 1);
        if (q < 0 || q >= to) return -1;
        out[w++] = i + 1;
        out[w++] = q;
        i = skipSpaces(s, q + 1);
      }
      // Elements past the n-th are allowed (and validated), as the importers' checks allow them.
      while (s.charCodeAt(i) === 44) {
        i = skipValue(s, skipSpaces(s, i + 1), 2, to);
        if (i < 0) return -1;
        i = skipSpaces(s, i);
      }
      if (s.charCodeAt(i) !== 93) return -1;
      count++;
      i = skipSpaces(s, i + 1);
      const c = s.charCodeAt(i);
      if (c === 93) {
        this.tupleCount[k] = count;
        return i + 1;
      }
      if (c !== 44) return -1;
      i = skipSpaces(s, i + 1);
    }
  }
}

/**
 * The number whose JSON text is `s[from, to)`, as `JSON.parse` gives it; NaN when the value
 * is not a number (or `from` is −1). Plain integers of up to 15 digits are read digit by digit
 * (exact); any other number goes through `Number`, which rounds as `JSON.parse` does.
 */
export function jsonNumber(s: string, from: number, to: number): number {
  if (from < 0) return Number.NaN;
  let i = from;
  const neg = s.charCodeAt(i) === 45;
  if (neg) i++;
  if (!isDigitCode(s.charCodeAt(i))) return Number.NaN;
  if (to - i <= 15) {
    let v = 0;
    for (; i < to; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return Number(s.slice(from, to));
      v = v * 10 + d;
    }
    return neg ? -v : v;
  }
  return Number(s.slice(from, to));
}
