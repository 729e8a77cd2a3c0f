/**
 * The recorded format: normalized `MdEvent`s as fixed-width little-endian records after a
 * small header, built for replay speed. A file is written once by `RecordedWriter` /
 * `writeRecorded` (typically from an importer) and replayed many times through
 * `openRecorded`: large chunked reads decoded in place, no per-event allocation.
 *
 * Byte layout, compatibility rules and how to read a file from another language:
 * `docs/recorded-format.md`.
 *
 * **Reused event object.** `RecordedFile.events()` and `forEach` hand out ONE mutable
 * `MdEvent` per pass, overwritten by every record. A consumer that keeps an event beyond the
 * current step must copy it (`{ ...ev }`). Likewise a `RecordBatch` and its typed-array views
 * are only valid until the next batch is requested.
 * @module
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, read, unlinkSync, writeSync, close as fsClose, open as fsOpen, fstat } from 'node:fs';
import { MdStatus, MdType, type MdEvent, type SideCode } from './events.js';
import { Price, Qty } from '../api/decimal.js';
import { makeInstrument, type Instrument, type InstrumentSpec } from '../api/instrument.js';
import type { MarketSource } from '../backtest/backtest.js';

// ---- format constants -----------------------------------------------------------------

/** The 8 magic bytes at offset 0: ASCII `TLREC` and three NUL bytes. */
export const RECORDED_MAGIC: Uint8Array = Uint8Array.of(0x54, 0x4c, 0x52, 0x45, 0x43, 0, 0, 0);
/** Format version this module writes and the only one it reads. */
export const RECORDED_VERSION = 1;
/** Size in bytes of the fixed part of the header (before the JSON block). */
export const RECORDED_FIXED_HEADER = 96;
/** Size in bytes of one record (version 1). */
export const RECORD_SIZE = 48;
/** `count` value of a file whose writer has not finished (u64 all ones). */
export const RECORDED_COUNT_OPEN = 0xffff_ffff_ffff_ffffn;
/** Conventional file extension of recorded files. */
export const RECORDED_EXTENSION = '.tlrec';
/** Format name in `MarketSource.data.format`. */
export const RECORDED_FORMAT_NAME = 'tradeloop-recorded';

/** Byte offsets of the fields in the fixed header (see docs/recorded-format.md). */
export const HEADER_OFFSET = {
  magic: 0,
  version: 8,
  flags: 10,
  headerLength: 12,
  recordSize: 16,
  jsonLength: 20,
  count: 24,
  firstLocalTs: 32,
  lastLocalTs: 40,
  bodySha256: 48,
  reserved: 80,
  json: 96,
} as const;

/** Byte offsets of the fields inside one record. */
export const RECORD_OFFSET = {
  /** u8 `MdType`. */
  type: 0,
  /** i8 side: 1 bid, −1 ask, 0 none. */
  side: 1,
  /** u8 `MdStatus` (0 unless a Status event). */
  status: 2,
  /** u8 reserved, 0. */
  reserved: 3,
  /** u32 instrument id. */
  instrumentId: 4,
  /** f64 venue timestamp, µs since the epoch. */
  exchTs: 8,
  /** f64 local timestamp, µs since the epoch. */
  localTs: 16,
  /** f64 order id. */
  orderId: 24,
  /** f64 price in ticks (fractional for mid-point trades). */
  priceTick: 32,
  /** f64 qty in lots. */
  qty: 40,
} as const;

/** Record stride in `RecordBatch.u8` / `i8` elements (bytes). */
export const U8_STRIDE = RECORD_SIZE;
/** Record stride in `RecordBatch.u32` elements. */
export const U32_STRIDE = RECORD_SIZE / 4;
/** Record stride in `RecordBatch.f64` elements. */
export const F64_STRIDE = RECORD_SIZE / 8;
/** Index of `instrumentId` within a record's `u32` elements. */
export const U32_INSTRUMENT_ID = 1;
/** Index of `exchTs` within a record's `f64` elements. */
export const F64_EXCH_TS = 1;
/** Index of `localTs` within a record's `f64` elements. */
export const F64_LOCAL_TS = 2;
/** Index of `orderId` within a record's `f64` elements. */
export const F64_ORDER_ID = 3;
/** Index of `priceTick` within a record's `f64` elements. */
export const F64_PRICE_TICK = 4;
/** Index of `qty` within a record's `f64` elements. */
export const F64_QTY = 5;

/** Default read chunk: 4 MiB (rounded down to whole records). */
export const DEFAULT_CHUNK_BYTES = 4 << 20;
/** Default write buffer: 4 MiB (rounded down to whole records). */
export const DEFAULT_WRITE_BUFFER_BYTES = 4 << 20;

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const MAX_U32 = 0xffff_ffff;

function requireLittleEndianHost(): void {
  if (!LITTLE_ENDIAN_HOST) throw new Error('tradeloop recorded files are read and written through typed arrays and need a little-endian host');
}

// ---- errors, header, provenance ------------------------------------------------------

/** An unreadable recorded file: names the file and the byte offset of the problem. */
export class RecordedFormatError extends Error {
  /** The file, as given to `openRecorded`. */
  readonly file: string;
  /** Byte offset in the file where the problem is. */
  readonly offset: number;
  constructor(file: string, offset: number, message: string) {
    super(`${file}: ${message} (at byte ${offset})`);
    this.name = 'RecordedFormatError';
    this.file = file;
    this.offset = offset;
  }
}

/** A problem that leaves the file readable (a truncated last record, an unfinished writer). */
export interface RecordedIssue {
  file: string;
  /** Byte offset in the file where the problem starts. */
  offset: number;
  message: string;
}

/** One source file a recording was made from. */
export interface RecordedSourceFile {
  path: string;
  /** SHA-256 of the file, hex. */
  sha256?: string;
}

/**
 * Free-form provenance stored in the header's JSON block. The named fields are conventions
 * (`tradeloop record` fills them); any other JSON-serialisable field is kept as is.
 */
export interface RecordedProvenance {
  /** The files the events were imported from. */
  sources?: RecordedSourceFile[];
  /** Importer and its options, e.g. `'lobster'`. */
  importer?: string;
  /** Program that wrote the file, e.g. `'tradeloop 0.1.0'`. */
  createdBy?: string;
  [key: string]: unknown;
}

/** The decoded header of a recorded file. */
export interface RecordedHeader {
  /** Format version (1). */
  version: number;
  /** Bytes before the first record: fixed part + JSON block + zero padding; a multiple of 8. */
  headerLength: number;
  /** Bytes per record (48). */
  recordSize: number;
  /** Events the writer wrote; `undefined` when the writer never finished (see `RecordedFile.issues`). */
  count: number | undefined;
  /** `localTs` of the first record, µs since the epoch; 0 when there are none or the writer never finished. */
  firstLocalTs: number;
  /** `localTs` of the last record, µs since the epoch; 0 when there are none or the writer never finished. */
  lastLocalTs: number;
  /** SHA-256 (hex) of the `count × recordSize` record bytes, as the writer computed it; all zeros when unfinished. */
  bodySha256: string;
  /** The instruments of the events, as stored. */
  instruments: InstrumentSpec[];
  /** The provenance block, as stored. */
  provenance: RecordedProvenance;
}

function instrumentToSpec(i: Instrument | InstrumentSpec): InstrumentSpec {
  const isSpec = typeof i.tickSize === 'string';
  if (isSpec) {
    const s = i as InstrumentSpec;
    // Normalised through makeInstrument so that what is stored is what a reader rebuilds.
    return instrumentToSpec(makeInstrument(s));
  }
  const inst = i as Instrument;
  return {
    instrumentId: inst.instrumentId,
    exchange: inst.exchange,
    name: inst.name,
    type: inst.type,
    tickSize: inst.tickSize.toString(),
    lotSize: inst.lotSize.toString(),
    minQty: inst.minQty.toString(),
    baseCurrency: inst.baseCurrency,
    quoteCurrency: inst.quoteCurrency,
    multiplier: inst.multiplier,
  };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

// ---- writer ---------------------------------------------------------------------------

/** Options of `RecordedWriter` and `writeRecorded`. */
export interface RecordedWriterOptions {
  /** Write buffer size in bytes, rounded down to whole records (at least one); default 4 MiB. */
  bufferBytes?: number;
}

/**
 * Streams events into a recorded file. The header goes out at construction with its `count`
 * set to the "unfinished" marker; events are encoded into a buffer that is written to the
 * file descriptor (synchronously) whenever it fills; `close()` flushes and patches `count`,
 * first/last `localTs` and the SHA-256 of the records into the header.
 *
 * Each event is checked before it is encoded (RangeError otherwise): `type` and `status`
 * integers 0–255, `side` −1/0/1, `instrumentId` one of the header's instruments, and the
 * five number fields finite. Numbers are stored as f64, so every value an `MdEvent` holds
 * (integers up to 2^53, fractional ticks, negative ids) reads back exactly.
 *
 * The writer copies each event's fields at once: the source may reuse its event object.
 */
export class RecordedWriter {
  /** The file being written. */
  readonly path: string;
  private fd: number | undefined;
  private readonly headerLength: number;
  private readonly ids: Set<number>;
  private lastId = Number.NaN;
  private readonly u8: Uint8Array;
  private readonly i8: Int8Array;
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly capacity: number;
  private used = 0;
  private written = 0;
  private filePos: number;
  private firstTs = 0;
  private lastTs = 0;
  private readonly hash = createHash('sha256');

  /**
   * Creates (or truncates) `path` and writes the header.
   * @param path the file to write (conventionally `*.tlrec`).
   * @param instruments every instrument the events refer to (ids unique); `Instrument`s or specs.
   * @param provenance free-form JSON-serialisable description of where the events come from; default `{}`.
   * @param opts see `RecordedWriterOptions`.
   */
  constructor(path: string, instruments: ReadonlyArray<Instrument | InstrumentSpec>, provenance: RecordedProvenance = {}, opts: RecordedWriterOptions = {}) {
    requireLittleEndianHost();
    this.path = path;
    const specs = instruments.map(instrumentToSpec);
    this.ids = new Set();
    for (const s of specs) {
      if (!Number.isInteger(s.instrumentId) || s.instrumentId < 0 || s.instrumentId > MAX_U32) {
        throw new RangeError(`instrument ${s.name}: instrumentId ${s.instrumentId} does not fit a u32`);
      }
      if (this.ids.has(s.instrumentId)) throw new RangeError(`instrument id ${s.instrumentId} appears twice`);
      this.ids.add(s.instrumentId);
    }
    const json = Buffer.from(JSON.stringify({ instruments: specs, provenance }), 'utf8');
    this.headerLength = align8(RECORDED_FIXED_HEADER + json.length);
    if (this.headerLength > MAX_U32) throw new RangeError('header JSON block too large');
    const header = new Uint8Array(this.headerLength);
    header.set(RECORDED_MAGIC, HEADER_OFFSET.magic);
    const dv = new DataView(header.buffer);
    dv.setUint16(HEADER_OFFSET.version, RECORDED_VERSION, true);
    dv.setUint16(HEADER_OFFSET.flags, 0, true);
    dv.setUint32(HEADER_OFFSET.headerLength, this.headerLength, true);
    dv.setUint32(HEADER_OFFSET.recordSize, RECORD_SIZE, true);
    dv.setUint32(HEADER_OFFSET.jsonLength, json.length, true);
    dv.setBigUint64(HEADER_OFFSET.count, RECORDED_COUNT_OPEN, true);
    header.set(json, HEADER_OFFSET.json);

    const bytes = Math.max(RECORD_SIZE, Math.floor((opts.bufferBytes ?? DEFAULT_WRITE_BUFFER_BYTES) / RECORD_SIZE) * RECORD_SIZE);
    const buf = new ArrayBuffer(bytes);
    this.u8 = new Uint8Array(buf);
    this.i8 = new Int8Array(buf);
    this.u32 = new Uint32Array(buf);
    this.f64 = new Float64Array(buf);
    this.capacity = bytes / RECORD_SIZE;

    this.fd = openSync(path, 'w');
    try {
      writeFully(this.fd, header, 0);
    } catch (e) {
      closeSync(this.fd);
      this.fd = undefined;
      throw e;
    }
    this.filePos = this.headerLength;
  }

  /** Events written so far. */
  get count(): number {
    return this.written;
  }

  /** Appends one event (its fields are copied at once). Throws RangeError on an invalid event; the file is unchanged then. */
  write(ev: MdEvent): void {
    if (this.fd === undefined) throw new Error(`${this.path}: writer is closed`);
    const { type, side, status, instrumentId } = ev;
    if (!(type >= 0 && type <= 255 && Number.isInteger(type))) throw new RangeError(`event ${this.written}: type ${type} is not a u8`);
    if (side !== 1 && side !== -1 && side !== 0) throw new RangeError(`event ${this.written}: side ${side} is not 1, -1 or 0`);
    if (!(status >= 0 && status <= 255 && Number.isInteger(status))) throw new RangeError(`event ${this.written}: status ${status} is not a u8`);
    if (instrumentId !== this.lastId) {
      if (!this.ids.has(instrumentId)) throw new RangeError(`event ${this.written}: instrumentId ${instrumentId} is not one of the file's instruments`);
      this.lastId = instrumentId;
    }
    const { exchTs, localTs, orderId, priceTick, qty } = ev;
    if (!(Number.isFinite(exchTs) && Number.isFinite(localTs) && Number.isFinite(orderId) && Number.isFinite(priceTick) && Number.isFinite(qty))) {
      throw new RangeError(`event ${this.written}: exchTs, localTs, orderId, priceTick and qty must be finite numbers`);
    }
    const i = this.used;
    const b = i * RECORD_SIZE;
    const u8 = this.u8;
    u8[b] = type;
    this.i8[b + 1] = side;
    u8[b + 2] = status;
    u8[b + 3] = 0;
    this.u32[i * U32_STRIDE + U32_INSTRUMENT_ID] = instrumentId;
    const f = i * F64_STRIDE;
    const f64 = this.f64;
    f64[f + F64_EXCH_TS] = exchTs;
    f64[f + F64_LOCAL_TS] = localTs;
    f64[f + F64_ORDER_ID] = orderId;
    f64[f + F64_PRICE_TICK] = priceTick;
    f64[f + F64_QTY] = qty;
    if (this.written === 0) this.firstTs = localTs;
    this.lastTs = localTs;
    this.written++;
    if (++this.used === this.capacity) this.flush();
  }

  private flush(): void {
    if (this.used === 0) return;
    const chunk = this.u8.subarray(0, this.used * RECORD_SIZE);
    this.hash.update(chunk);
    writeFully(this.fd!, chunk, this.filePos);
    this.filePos += chunk.length;
    this.used = 0;
  }

  /** Flushes, completes the header and closes the file. Returns the number of events. Idempotent. */
  close(): number {
    if (this.fd === undefined) return this.written;
    const fd = this.fd;
    try {
      this.flush();
      const patch = new Uint8Array(HEADER_OFFSET.reserved - HEADER_OFFSET.count);
      const dv = new DataView(patch.buffer);
      dv.setBigUint64(0, BigInt(this.written), true);
      dv.setFloat64(HEADER_OFFSET.firstLocalTs - HEADER_OFFSET.count, this.firstTs, true);
      dv.setFloat64(HEADER_OFFSET.lastLocalTs - HEADER_OFFSET.count, this.lastTs, true);
      patch.set(this.hash.digest(), HEADER_OFFSET.bodySha256 - HEADER_OFFSET.count);
      writeFully(fd, patch, HEADER_OFFSET.count);
    } finally {
      this.fd = undefined;
      closeSync(fd);
    }
    return this.written;
  }

  /** Closes the file and deletes it (after a failure). Idempotent; does nothing after `close()`. */
  abort(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } finally {
      unlinkSync(this.path);
    }
  }
}

function writeFully(fd: number, data: Uint8Array, position: number): void {
  let off = 0;
  while (off < data.length) {
    off += writeSync(fd, data, off, data.length - off, position + off);
  }
}

/**
 * Writes `events` to a new recorded file at `path` and returns how many were written. On any
 * error (an invalid event, a failing source, I/O) the partial file is deleted and the error
 * rethrown.
 * @param path the file to write (conventionally `*.tlrec`); replaced if it exists.
 * @param instruments every instrument the events refer to.
 * @param events the events in replay order; sync or async; may reuse one object.
 * @param provenance free-form provenance for the header; default `{}`.
 * @param opts see `RecordedWriterOptions`.
 */
export async function writeRecorded(
  path: string,
  instruments: ReadonlyArray<Instrument | InstrumentSpec>,
  events: AsyncIterable<MdEvent> | Iterable<MdEvent>,
  provenance: RecordedProvenance = {},
  opts: RecordedWriterOptions = {},
): Promise<number> {
  const w = new RecordedWriter(path, instruments, provenance, opts);
  try {
    if (Symbol.iterator in events) {
      for (const ev of events) w.write(ev);
    } else {
      for await (const ev of events) w.write(ev);
    }
    return w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
}

// ---- reader ---------------------------------------------------------------------------

/**
 * One chunk of records, read straight from the file: typed-array views over a reused buffer
 * plus index-based accessors. Record `i` (0 ≤ i < `length`) of the batch is record
 * `start + i` of the file. Fields of record `i`:
 *
 * - `u8[i * U8_STRIDE]` type, `i8[i * U8_STRIDE + 1]` side, `u8[i * U8_STRIDE + 2]` status;
 * - `u32[i * U32_STRIDE + U32_INSTRUMENT_ID]` instrumentId;
 * - `f64[i * F64_STRIDE + F64_EXCH_TS | F64_LOCAL_TS | F64_ORDER_ID | F64_PRICE_TICK | F64_QTY]`.
 *
 * The views span the whole buffer, which may hold stale records past `length`. **A batch is
 * valid only until the next batch is requested**: the reader refills its buffers.
 */
export class RecordBatch {
  /** Bytes of the buffer. */
  readonly u8: Uint8Array;
  /** The same bytes as signed integers (for `side`). */
  readonly i8: Int8Array;
  /** The buffer as u32 (for `instrumentId`). */
  readonly u32: Uint32Array;
  /** The buffer as f64 (timestamps, ids, prices, qtys). */
  readonly f64: Float64Array;
  /** Records in the buffer. */
  readonly capacity: number;
  private len = 0;
  private first = 0;

  /** @param capacity records the buffer holds (≥ 1). */
  constructor(capacity: number) {
    requireLittleEndianHost();
    const buf = new ArrayBuffer(capacity * RECORD_SIZE);
    this.u8 = new Uint8Array(buf);
    this.i8 = new Int8Array(buf);
    this.u32 = new Uint32Array(buf);
    this.f64 = new Float64Array(buf);
    this.capacity = capacity;
  }

  /** Valid records in this batch. */
  get length(): number {
    return this.len;
  }
  /** Index in the file (0-based) of the batch's first record. */
  get start(): number {
    return this.first;
  }
  /** @internal Sets the batch's extent after a read. */
  setExtent(start: number, length: number): void {
    this.first = start;
    this.len = length;
  }

  /** `MdType` of record `i`. */
  type(i: number): MdType {
    return this.u8[i * U8_STRIDE] as MdType;
  }
  /** Side of record `i`: 1, −1 or 0. */
  side(i: number): SideCode {
    return this.i8[i * U8_STRIDE + 1] as SideCode;
  }
  /** `MdStatus` of record `i` (0 unless a Status event). */
  status(i: number): number {
    return this.u8[i * U8_STRIDE + 2]!;
  }
  /** Instrument id of record `i`. */
  instrumentId(i: number): number {
    return this.u32[i * U32_STRIDE + U32_INSTRUMENT_ID]!;
  }
  /** Venue timestamp of record `i`, µs since the epoch. */
  exchTs(i: number): number {
    return this.f64[i * F64_STRIDE + F64_EXCH_TS]!;
  }
  /** Local timestamp of record `i`, µs since the epoch. */
  localTs(i: number): number {
    return this.f64[i * F64_STRIDE + F64_LOCAL_TS]!;
  }
  /** Order id of record `i` (0 none, negative synthetic). */
  orderId(i: number): number {
    return this.f64[i * F64_STRIDE + F64_ORDER_ID]!;
  }
  /** Price of record `i` in ticks (fractional for mid-point trades). */
  priceTick(i: number): number {
    return this.f64[i * F64_STRIDE + F64_PRICE_TICK]!;
  }
  /** Qty of record `i` in lots. */
  qty(i: number): number {
    return this.f64[i * F64_STRIDE + F64_QTY]!;
  }

  /** Decodes record `i` into `into` (overwriting all nine fields) and returns it. Allocates nothing. */
  read(i: number, into: MdEvent): MdEvent {
    const b = i * U8_STRIDE;
    const f = i * F64_STRIDE;
    const u8 = this.u8;
    const f64 = this.f64;
    into.type = u8[b] as MdType;
    into.instrumentId = this.u32[i * U32_STRIDE + U32_INSTRUMENT_ID]!;
    into.exchTs = f64[f + F64_EXCH_TS]!;
    into.localTs = f64[f + F64_LOCAL_TS]!;
    into.side = this.i8[b + 1] as SideCode;
    into.orderId = f64[f + F64_ORDER_ID]!;
    into.priceTick = f64[f + F64_PRICE_TICK]!;
    into.qty = f64[f + F64_QTY]!;
    into.status = u8[b + 2]!;
    return into;
  }
}

/** A fresh, zeroed `MdEvent` (all fields present, in the canonical order). */
export function emptyMdEvent(): MdEvent {
  return { type: 0 as MdType, instrumentId: 0, exchTs: 0, localTs: 0, side: 0, orderId: 0, priceTick: 0, qty: 0, status: 0 };
}

/** Options of `openRecorded`. */
export interface RecordedOpenOptions {
  /** Read chunk in bytes, rounded down to whole records (at least one); default 4 MiB. */
  chunkBytes?: number;
  /** Turn issues (truncated last record, unfinished writer, trailing bytes) into a thrown `RecordedFormatError`; default false. */
  strict?: boolean;
  /** Receives each issue as it is found at open; they are also in `RecordedFile.issues`. */
  onIssue?: (issue: RecordedIssue) => void;
}

/** Options of one pass (`events`, `batches`, `forEach`). */
export interface RecordedPassOptions {
  /** Read chunk in bytes for this pass; default the file's `chunkBytes`. */
  chunkBytes?: number;
}

/**
 * An opened recorded file. Every call of `events()` / `batches()` / `forEach()` is a fresh,
 * independent pass with its own file descriptor (passes may overlap). A pass reads the file
 * in large chunks, double-buffered: the next chunk is read while the current one is consumed.
 */
export interface RecordedFile {
  /** The file, as given. */
  readonly path: string;
  /** The decoded header. */
  readonly header: RecordedHeader;
  /** The header's instruments, built with `makeInstrument`. */
  readonly instruments: Instrument[];
  /** Records a pass yields: the header's count, or fewer when the file is truncated. */
  readonly count: number;
  /** Size of the file in bytes when it was opened. */
  readonly fileSize: number;
  /** Problems found at open that leave the file readable; empty for a sound file. */
  readonly issues: RecordedIssue[];
  /**
   * The events in file order. **Yields ONE reused `MdEvent` object**, overwritten on every
   * step: copy it (`{ ...ev }`) to keep it. The code here allocates nothing per event; the
   * async-iterator protocol still costs a microtask per event, which the batch API avoids.
   */
  events(opts?: RecordedPassOptions): AsyncIterable<MdEvent>;
  /** The records chunk by chunk; each batch is valid only until the next one is requested. */
  batches(opts?: RecordedPassOptions): AsyncIterable<RecordBatch>;
  /**
   * Calls `fn` for every event synchronously within each chunk, with ONE reused `MdEvent`
   * (copy it to keep it) and its index in the file. Resolves to the number of events.
   */
  forEach(fn: (ev: MdEvent, index: number) => void, opts?: RecordedPassOptions): Promise<number>;
  /**
   * Recomputes the SHA-256 of the records and compares it with the header's. Throws
   * `RecordedFormatError` on a mismatch or when the file is unfinished or truncated.
   */
  verify(): Promise<void>;
}

function fsOpenP(path: string): Promise<number> {
  return new Promise((resolve, reject) => fsOpen(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}
function fsCloseP(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsClose(fd, (err) => (err ? reject(err) : resolve())));
}
function fsSizeP(fd: number): Promise<number> {
  return new Promise((resolve, reject) => fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size))));
}
function fsReadP(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}
/** Reads exactly `length` bytes unless the file ends first; returns the bytes read. */
async function readFully(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const n = await fsReadP(fd, buf, offset + got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Opens a recorded file: reads and checks its header and sizes it; no record is read until a
 * pass starts. Throws `RecordedFormatError` (naming the file and the byte offset) when the
 * file cannot be read as version 1: wrong magic, unknown version or flags, a record size
 * other than 48, a header shorter than it says, a broken JSON block or instrument list, a
 * count beyond 2^53. A body that does not match the header is an issue, not an error
 * (unless `strict`): a truncated last record or missing records (the complete ones are
 * readable), trailing bytes (ignored), or a writer that never finished (`count` undefined;
 * the complete records are readable).
 */
export async function openRecorded(path: string, opts: RecordedOpenOptions = {}): Promise<RecordedFile> {
  const fd = await fsOpenP(path);
  let fileSize: number;
  let fixed: Uint8Array;
  let jsonBytes: Uint8Array;
  try {
    fileSize = await fsSizeP(fd);
    fixed = new Uint8Array(RECORDED_FIXED_HEADER);
    const got = await readFully(fd, fixed, 0, RECORDED_FIXED_HEADER, 0);
    checkMagic(path, fixed, got);
    if (got < RECORDED_FIXED_HEADER) {
      throw new RecordedFormatError(path, got, `file ends inside the fixed header (${got} of ${RECORDED_FIXED_HEADER} bytes)`);
    }
    const dv = new DataView(fixed.buffer);
    const version = dv.getUint16(HEADER_OFFSET.version, true);
    if (version !== RECORDED_VERSION) {
      throw new RecordedFormatError(path, HEADER_OFFSET.version, `unsupported format version ${version} (this reader reads version ${RECORDED_VERSION})`);
    }
    const flags = dv.getUint16(HEADER_OFFSET.flags, true);
    if (flags !== 0) throw new RecordedFormatError(path, HEADER_OFFSET.flags, `unknown header flags 0x${flags.toString(16)} (version 1 has none)`);
    const recordSize = dv.getUint32(HEADER_OFFSET.recordSize, true);
    if (recordSize !== RECORD_SIZE) {
      throw new RecordedFormatError(path, HEADER_OFFSET.recordSize, `record size ${recordSize}, version ${RECORDED_VERSION} records are ${RECORD_SIZE} bytes`);
    }
    const headerLength = dv.getUint32(HEADER_OFFSET.headerLength, true);
    const jsonLength = dv.getUint32(HEADER_OFFSET.jsonLength, true);
    if (headerLength % 8 !== 0 || headerLength < RECORDED_FIXED_HEADER + jsonLength) {
      throw new RecordedFormatError(path, HEADER_OFFSET.headerLength, `header length ${headerLength} is not a multiple of 8 holding the ${jsonLength}-byte JSON block`);
    }
    if (fileSize < headerLength) {
      throw new RecordedFormatError(path, fileSize, `file is truncated: it ends inside the header (${fileSize} of ${headerLength} bytes)`);
    }
    jsonBytes = new Uint8Array(jsonLength);
    const gotJson = await readFully(fd, jsonBytes, 0, jsonLength, RECORDED_FIXED_HEADER);
    if (gotJson < jsonLength) throw new RecordedFormatError(path, RECORDED_FIXED_HEADER + gotJson, 'file ends inside the header JSON block');
  } finally {
    await fsCloseP(fd);
  }

  const dv = new DataView(fixed.buffer);
  const headerLength = dv.getUint32(HEADER_OFFSET.headerLength, true);
  const rawCount = dv.getBigUint64(HEADER_OFFSET.count, true);
  const finished = rawCount !== RECORDED_COUNT_OPEN;
  if (finished && rawCount > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RecordedFormatError(path, HEADER_OFFSET.count, `event count ${rawCount} is beyond 2^53 - 1`);
  }
  const headerCount = finished ? Number(rawCount) : undefined;
  const { instruments: specs, provenance } = parseJsonBlock(path, jsonBytes);
  let instruments: Instrument[];
  try {
    instruments = specs.map((s) => makeInstrument(s));
  } catch (e) {
    throw new RecordedFormatError(path, RECORDED_FIXED_HEADER, `bad instrument in the header: ${(e as Error).message}`);
  }

  const header: RecordedHeader = {
    version: RECORDED_VERSION,
    headerLength,
    recordSize: RECORD_SIZE,
    count: headerCount,
    firstLocalTs: dv.getFloat64(HEADER_OFFSET.firstLocalTs, true),
    lastLocalTs: dv.getFloat64(HEADER_OFFSET.lastLocalTs, true),
    bodySha256: hex(fixed.subarray(HEADER_OFFSET.bodySha256, HEADER_OFFSET.bodySha256 + 32)),
    instruments: specs,
    provenance,
  };

  // Size the body against the header.
  const issues: RecordedIssue[] = [];
  const report = (offset: number, message: string) => {
    const issue = { file: path, offset, message };
    if (opts.strict) throw new RecordedFormatError(path, offset, message);
    issues.push(issue);
    opts.onIssue?.(issue);
  };
  const bodyBytes = fileSize - headerLength;
  const complete = Math.floor(bodyBytes / RECORD_SIZE);
  const stray = bodyBytes - complete * RECORD_SIZE;
  let count: number;
  if (headerCount === undefined) {
    count = complete;
    report(HEADER_OFFSET.count, `the writer never finished (count not set): reading the ${complete} complete records; first/last localTs and SHA-256 in the header are unset`);
    if (stray > 0) report(headerLength + complete * RECORD_SIZE, `truncated last record: ${stray} of ${RECORD_SIZE} bytes; ignored`);
  } else if (complete < headerCount) {
    count = complete;
    const at = headerLength + complete * RECORD_SIZE;
    report(
      at,
      stray > 0
        ? `file is truncated: header says ${headerCount} events, the file holds ${complete} complete records and ${stray} bytes of record ${complete}; reading the ${complete} complete ones`
        : `file is truncated: header says ${headerCount} events, the file holds ${complete}; reading those`,
    );
  } else {
    count = headerCount;
    if (bodyBytes > headerCount * RECORD_SIZE) {
      report(headerLength + headerCount * RECORD_SIZE, `${bodyBytes - headerCount * RECORD_SIZE} bytes after the last of the ${headerCount} records; ignored`);
    }
  }

  const defaultChunk = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const recordsPerChunk = (bytes: number | undefined) => Math.max(1, Math.floor((bytes ?? defaultChunk) / RECORD_SIZE));
  const passOf = (o: RecordedPassOptions | undefined) => new ChunkReader(path, headerLength, count, recordsPerChunk(o?.chunkBytes));

  return {
    path,
    header,
    instruments,
    count,
    fileSize,
    issues,
    events: (o) => ({ [Symbol.asyncIterator]: () => new EventIterator(passOf(o)) }),
    batches: (o) => ({
      async *[Symbol.asyncIterator]() {
        const reader = passOf(o);
        try {
          for (;;) {
            const b = await reader.next();
            if (b === undefined) return;
            yield b;
          }
        } finally {
          await reader.close();
        }
      },
    }),
    async forEach(fn, o) {
      const reader = passOf(o);
      const ev = emptyMdEvent();
      let n = 0;
      try {
        for (;;) {
          const b = await reader.next();
          if (b === undefined) return n;
          const len = b.length;
          for (let i = 0; i < len; i++) fn(b.read(i, ev), n++);
        }
      } finally {
        await reader.close();
      }
    },
    async verify() {
      if (headerCount === undefined || count < headerCount) {
        throw new RecordedFormatError(path, HEADER_OFFSET.count, 'cannot verify an unfinished or truncated file');
      }
      const h = createHash('sha256');
      const reader = passOf(undefined);
      try {
        for (;;) {
          const b = await reader.next();
          if (b === undefined) break;
          h.update(b.u8.subarray(0, b.length * RECORD_SIZE));
        }
      } finally {
        await reader.close();
      }
      const actual = h.digest('hex');
      if (actual !== header.bodySha256) {
        throw new RecordedFormatError(path, HEADER_OFFSET.bodySha256, `records do not match the header's SHA-256 (header ${header.bodySha256}, records ${actual})`);
      }
    },
  };
}

function checkMagic(path: string, fixed: Uint8Array, got: number): void {
  for (let i = 0; i < RECORDED_MAGIC.length; i++) {
    if (i >= got) throw new RecordedFormatError(path, got, `file ends inside the magic (${got} bytes): not a tradeloop recorded file`);
    if (fixed[i] !== RECORDED_MAGIC[i]) throw new RecordedFormatError(path, i, 'bad magic: not a tradeloop recorded file (expected "TLREC\\0\\0\\0")');
  }
}

function parseJsonBlock(path: string, bytes: Uint8Array): { instruments: InstrumentSpec[]; provenance: RecordedProvenance } {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new RecordedFormatError(path, RECORDED_FIXED_HEADER, `header JSON block is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  const o = doc as { instruments?: unknown; provenance?: unknown } | null;
  if (o === null || typeof o !== 'object' || !Array.isArray(o.instruments)) {
    throw new RecordedFormatError(path, RECORDED_FIXED_HEADER, 'header JSON block has no "instruments" array');
  }
  for (const [k, s] of o.instruments.entries()) {
    const spec = s as Partial<InstrumentSpec> | null;
    const ok =
      spec !== null &&
      typeof spec === 'object' &&
      Number.isInteger(spec.instrumentId) &&
      typeof spec.exchange === 'string' &&
      typeof spec.name === 'string' &&
      typeof spec.tickSize === 'string' &&
      typeof spec.lotSize === 'string' &&
      typeof spec.baseCurrency === 'string' &&
      typeof spec.quoteCurrency === 'string';
    if (!ok) throw new RecordedFormatError(path, RECORDED_FIXED_HEADER, `header instrument ${k} lacks instrumentId, exchange, name, tickSize, lotSize, baseCurrency or quoteCurrency`);
  }
  const provenance = o.provenance !== null && typeof o.provenance === 'object' && !Array.isArray(o.provenance) ? (o.provenance as RecordedProvenance) : {};
  return { instruments: o.instruments as InstrumentSpec[], provenance };
}

/**
 * One pass over the records: two `RecordBatch` buffers, the next chunk read (in libuv's
 * thread pool) while the current one is consumed.
 */
class ChunkReader {
  private fd: number | undefined;
  private opening: Promise<number> | undefined;
  private readonly bufs: [RecordBatch, RecordBatch];
  private cur = 0;
  private nextIndex = 0;
  private pending: Promise<RecordBatch | undefined> | undefined;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly headerLength: number,
    private readonly total: number,
    perChunk: number,
  ) {
    const cap = Math.max(1, Math.min(perChunk, total));
    this.bufs = [new RecordBatch(cap), new RecordBatch(cap)];
  }

  /** The next batch, or undefined at the end. The previous batch's buffer may be refilled from now on. */
  async next(): Promise<RecordBatch | undefined> {
    if (this.closed) return undefined;
    const p = this.pending ?? this.load(this.bufs[this.cur]!);
    this.pending = undefined;
    const batch = await p;
    if (batch === undefined) return undefined;
    this.cur ^= 1;
    // Prefetch into the other buffer: the caller has given up the previous batch.
    if (this.nextIndex < this.total) {
      const pre = this.load(this.bufs[this.cur]!);
      // Errors surface on the next call; keep them from being reported as unhandled meanwhile.
      pre.catch(() => undefined);
      this.pending = pre;
    }
    return batch;
  }

  private async load(into: RecordBatch): Promise<RecordBatch | undefined> {
    const start = this.nextIndex;
    const n = Math.min(into.capacity, this.total - start);
    if (n <= 0) return undefined;
    this.nextIndex = start + n;
    if (this.fd === undefined) {
      this.opening ??= fsOpenP(this.path);
      this.fd = await this.opening;
    }
    const position = this.headerLength + start * RECORD_SIZE;
    const bytes = n * RECORD_SIZE;
    const got = await readFully(this.fd, into.u8, 0, bytes, position);
    if (got < bytes) {
      throw new RecordedFormatError(this.path, position + got, `file ended early: record ${start + Math.floor(got / RECORD_SIZE)} is missing (was the file truncated after it was opened?)`);
    }
    into.setExtent(start, n);
    return into;
  }

  /** Ends the pass and closes the descriptor (after any read in flight). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pending !== undefined) await this.pending.catch(() => undefined);
    this.pending = undefined;
    if (this.fd === undefined && this.opening !== undefined) this.fd = await this.opening.catch(() => undefined);
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      await fsCloseP(fd);
    }
  }
}

/**
 * The event iterator: decodes into one reused `MdEvent` and answers `next()` within a chunk
 * with one shared, already-resolved promise, so no object is made per event.
 */
class EventIterator implements AsyncIterator<MdEvent> {
  private readonly ev: MdEvent = emptyMdEvent();
  private readonly step: Promise<IteratorResult<MdEvent>>;
  private readonly done: Promise<IteratorResult<MdEvent>> = Promise.resolve({ value: undefined, done: true });
  private batch: RecordBatch | undefined;
  private i = 0;
  private n = 0;
  private finished = false;

  constructor(private readonly reader: ChunkReader) {
    this.step = Promise.resolve({ value: this.ev, done: false });
  }

  next(): Promise<IteratorResult<MdEvent>> {
    if (this.i < this.n) {
      this.batch!.read(this.i++, this.ev);
      return this.step;
    }
    return this.refill();
  }

  private async refill(): Promise<IteratorResult<MdEvent>> {
    if (this.finished) return this.done;
    let b: RecordBatch | undefined;
    try {
      b = await this.reader.next();
    } catch (e) {
      this.finished = true;
      await this.reader.close();
      throw e;
    }
    if (b === undefined || b.length === 0) {
      this.finished = true;
      this.batch = undefined;
      this.n = 0;
      await this.reader.close();
      return this.done;
    }
    this.batch = b;
    this.n = b.length;
    this.i = 1;
    b.read(0, this.ev);
    return this.step;
  }

  async return(): Promise<IteratorResult<MdEvent>> {
    this.finished = true;
    this.i = this.n = 0;
    this.batch = undefined;
    await this.reader.close();
    return this.done;
  }
}

// ---- market source and human output --------------------------------------------------

/** Options of `toMarketSource`. */
export interface RecordedSourceOptions {
  /**
   * What `data.sha256` is the hash of: `'file'` the whole file (the same as `sha256sum`;
   * reads the file once more, ≈ 1–2 GB/s), `'header'` the header bytes only (instant; they
   * embed the writer's SHA-256 of the records, so the hash still changes with the content,
   * but a damaged body goes unnoticed unless `verify()` is run). Default `'file'`.
   */
  sha256?: 'file' | 'header';
}

/** A `MarketSource` over a recorded file; `recorded` gives a runner the batch API (`batches`, `forEach`). */
export interface RecordedMarketSource extends MarketSource {
  /** The opened file the source reads. */
  readonly recorded: RecordedFile;
}

/**
 * A `MarketSource` for `runBacktest` over an opened recorded file. `exchange` is the
 * instruments' (all must share one; at least one is required). `data` is
 * `{ path, sha256, format: 'tradeloop-recorded' }`, see `RecordedSourceOptions.sha256`.
 * `events()` yields the reused event object (the backtest, `BookFeed` and `SimVenue` read
 * its fields and keep none of it).
 * @param recorded the opened file.
 * @param path path reported in the provenance; default `recorded.path`.
 * @param opts see `RecordedSourceOptions`.
 */
export async function toMarketSource(recorded: RecordedFile, path: string = recorded.path, opts: RecordedSourceOptions = {}): Promise<RecordedMarketSource> {
  const exchanges = [...new Set(recorded.instruments.map((i) => i.exchange))];
  if (exchanges.length !== 1) {
    throw new Error(
      exchanges.length === 0
        ? `${recorded.path}: no instruments in the header; a backtest needs at least one`
        : `${recorded.path}: instruments on several exchanges (${exchanges.join(', ')}); a backtest source has one`,
    );
  }
  const mode = opts.sha256 ?? 'file';
  const h = createHash('sha256');
  const fd = await fsOpenP(recorded.path);
  try {
    const limit = mode === 'file' ? Number.POSITIVE_INFINITY : recorded.header.headerLength;
    const buf = new Uint8Array(Math.min(DEFAULT_CHUNK_BYTES, Math.max(1, limit)));
    let pos = 0;
    while (pos < limit) {
      const n = await fsReadP(fd, buf, 0, Math.min(buf.length, limit - pos), pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    await fsCloseP(fd);
  }
  return {
    exchange: exchanges[0]!,
    instruments: recorded.instruments,
    events: () => recorded.events(),
    data: { path, sha256: h.digest('hex'), format: RECORDED_FORMAT_NAME },
    recorded,
  };
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MdType).map(([k, v]) => [v, k]));
const STATUS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MdStatus).map(([k, v]) => [v, k]));

/** ISO-8601 UTC time with µs, e.g. `2012-06-21T13:30:00.004241Z`, of µs since the epoch. */
function isoUs(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString(); // …SS.mmmZ
  const micro = String(Math.round(us - ms * 1000)).padStart(3, '0');
  return `${iso.slice(0, -1)}${micro}Z`;
}

/**
 * One event as a single JSON line for people (`tradeloop cat`), every key always present:
 * `type` by name (`"OrderAdd"`; the number when unknown), `instrument` (name; null when the id
 * is not among `instruments`), `instrumentId`, `time` (ISO-8601 UTC with µs of `localTs`),
 * `exchTs` and `localTs` (µs since the epoch), `side` (`"Buy"` for 1, `"Sell"` for −1, null
 * for 0), `orderId`, `price` and `qty` as exact decimal strings on the instrument's grid
 * (`Price.fromTicks`, `Qty.fromLots`; fractional ticks give e.g. `"223.795"`; raw ticks and
 * lots as numbers when the instrument is unknown), `status` by name (null when 0).
 * No trailing newline.
 * @param instruments the file's instruments, as an array or a map by id.
 */
export function formatEventJson(ev: MdEvent, instruments: ReadonlyArray<Instrument> | ReadonlyMap<number, Instrument>): string {
  const inst = Array.isArray(instruments)
    ? (instruments as ReadonlyArray<Instrument>).find((i) => i.instrumentId === ev.instrumentId)
    : (instruments as ReadonlyMap<number, Instrument>).get(ev.instrumentId);
  const out = {
    type: TYPE_NAMES[ev.type] ?? ev.type,
    instrument: inst?.name ?? null,
    instrumentId: ev.instrumentId,
    time: Number.isFinite(ev.localTs) ? isoUs(ev.localTs) : null,
    exchTs: ev.exchTs,
    localTs: ev.localTs,
    side: ev.side === 1 ? 'Buy' : ev.side === -1 ? 'Sell' : null,
    orderId: ev.orderId,
    price: inst ? Price.fromTicks(ev.priceTick, inst).toString() : ev.priceTick,
    qty: inst ? Qty.fromLots(ev.qty, inst).toString() : ev.qty,
    status: ev.status === 0 ? null : (STATUS_NAMES[ev.status] ?? ev.status),
  };
  return JSON.stringify(out);
}
