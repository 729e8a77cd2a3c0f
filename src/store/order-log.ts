/**
 * `OrderLog`: the write-ahead log of `WriteBehindOrderStore`, a file mapped into memory.
 *
 * Appending a record is a copy into the mapping and committing is a store of the new end in
 * the header: no system call. The mapping is `MAP_SHARED`, so the bytes are in the kernel's
 * page cache the moment they are copied, and survive the process being killed (SIGKILL, a
 * crash) exactly as a SQLite commit with `synchronous = NORMAL` does. With `sync` the commit
 * also `msync`s the changed pages (one flush, as `FULL`), so they survive a power loss too.
 *
 * Layout (little-endian): a 64-byte header (`magic` u32 'TLOG', `version` u32 1, `end` u32:
 * the committed end, byte offset; the rest reserved), then records from offset 64:
 * `length` u32 (payload bytes), `crc` u32 (CRC-32 of the payload, seeded with the lsn's low 32 bits),
 * `lsn` f64 (the record's log sequence number: 1, 2, … for the life of the store, never
 * reused), then the payload (UTF-8 JSON). Records below `end` are committed; bytes past it
 * are a group not yet committed, or garbage.
 *
 * The log is a circle of one: when a record does not fit, the owner waits until every
 * committed record is applied to SQLite (they are, within a millisecond or two), then the
 * log starts over at offset 64 (`restart`): `end` goes back first, so a crash in between
 * finds an empty log, never a half-moved one.
 * @module
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { crc32 } from 'node:zlib';

/** Bytes of the header. */
export const ORDER_LOG_HEADER_BYTES = 64;
/** Bytes before each record's payload (length, crc, lsn). */
export const ORDER_LOG_RECORD_OVERHEAD_BYTES = 16;
/** Default size of the log file, bytes (64 MiB: ≈ 200 000 orders with their acks between two restarts). */
export const ORDER_LOG_DEFAULT_BYTES = 64 * 1024 * 1024;
/** `magic` of the header: 'TLOG' read as a little-endian u32. */
const MAGIC = 0x474f4c54;
const VERSION = 1;
const OFF_END = 8;

/** The log file is not one this version reads, or a record in it is damaged. */
export class OrderLogFormatError extends Error {
  /** Stable code to branch on. */
  readonly code = 'ORDER_LOG_FORMAT';
  constructor(
    /** The log file. */
    readonly file: string,
    /** Byte offset of what could not be read. */
    readonly offset: number,
    message: string,
  ) {
    super(`${file} at byte ${offset}: ${message}`);
  }
}

/** A record does not fit in the log even when it starts over (a payload larger than the file). */
export class OrderLogFullError extends Error {
  /** Stable code to branch on. */
  readonly code = 'ORDER_LOG_FULL';
}

/** One committed record. */
export interface OrderLogRecord {
  /** Log sequence number. */
  readonly lsn: number;
  /** The payload as written. */
  readonly payload: string;
  /** Byte offset of the record. */
  readonly offset: number;
  /** Byte offset right after it: where the next record starts. */
  readonly next: number;
}

/** What reading the committed records found. */
export interface OrderLogScan {
  readonly records: OrderLogRecord[];
  /** The committed end, byte offset. */
  readonly end: number;
  /** Set when a record below `end` is damaged (a torn write after a power loss): the records before it are all there is. */
  readonly damaged?: OrderLogFormatError;
}

/**
 * A record's checksum: CRC-32 of its payload's UTF-8 bytes, seeded with the low 32 bits of
 * its lsn (so that a record from an earlier lap with the same payload does not pass). From
 * the string: no view of the mapping to allocate on the hot path.
 */
function recordCrc(lsn: number, payload: string): number {
  return crc32(payload, lsn % 0x1_0000_0000);
}

interface MmapIo {
  map(size: number, protection: number, flags: number, fd: number, offset?: number): Buffer;
  sync(buffer: Buffer, offset?: number, size?: number, blockingSync?: boolean, invalidatePages?: boolean): void;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly MAP_SHARED: number;
  readonly PAGESIZE: number;
}

// Loaded on first use, not at import: strategies import `tradeloop` too.
const require = createRequire(import.meta.url);
let mmapIo: MmapIo | undefined;
function mmap(): MmapIo {
  return (mmapIo ??= require('@riaskov/mmap-io') as MmapIo);
}

/** Options of {@link OrderLog.open}. */
export interface OrderLogOptions {
  /** Size of a new log file, bytes (a multiple of 4 096, at least 16 KiB). An existing file keeps its size. Default {@link ORDER_LOG_DEFAULT_BYTES}. */
  sizeBytes?: number;
  /** `msync` the committed pages at each {@link OrderLog.commit} (survives a power loss; one flush a commit). Default false. */
  sync?: boolean;
  /** Map read-only (a reader: the worker that applies the log, a recovery). Default false. */
  readonly?: boolean;
}

/**
 * A write-ahead log in a memory-mapped file. One writer; readers map the same file
 * read-only (see {@link OrderLog.scan}).
 */
export class OrderLog {
  /** The file. */
  readonly path: string;
  /** Size of the file and of the mapping, bytes. */
  readonly sizeBytes: number;
  private readonly buf: Buffer;
  private readonly fd: number;
  private readonly sync: boolean;
  /** Where the next record goes (past the committed end while a group is open). */
  private tail: number;
  /** The committed end. */
  private end: number;
  private closed = false;

  private constructor(path: string, fd: number, buf: Buffer, sync: boolean) {
    this.path = path;
    this.fd = fd;
    this.buf = buf;
    this.sizeBytes = buf.length;
    this.sync = sync;
    this.end = buf.readUInt32LE(OFF_END);
    this.tail = this.end;
  }

  /**
   * Opens the log, creating it when missing. A new file is written full of zeros (not left
   * sparse): a write into a hole of a mapping that the disk cannot back would kill the
   * process (SIGBUS), a write into allocated blocks cannot fail.
   * @throws OrderLogFormatError when the file is not an order log of this version.
   */
  static open(path: string, opts: OrderLogOptions = {}): OrderLog {
    const size = opts.sizeBytes ?? ORDER_LOG_DEFAULT_BYTES;
    if (!Number.isSafeInteger(size) || size < 16_384 || size % 4096 !== 0 || size > 0xffff_f000) throw new TypeError(`sizeBytes must be a multiple of 4096 between 16384 and 4 GiB, got ${String(opts.sizeBytes)}`);
    const readonly = opts.readonly === true;
    const fd = openSync(path, readonly ? 'r' : 'a+');
    closeSync(fd);
    const rw = readonly ? openSync(path, 'r') : openSync(path, 'r+');
    try {
      let len = fstatSync(rw).size;
      if (len === 0 && !readonly) {
        const zeros = Buffer.alloc(Math.min(size, 1 << 20));
        for (let at = 0; at < size; at += zeros.length) writeSync(rw, zeros, 0, Math.min(zeros.length, size - at), at);
        const head = Buffer.alloc(ORDER_LOG_HEADER_BYTES);
        head.writeUInt32LE(MAGIC, 0);
        head.writeUInt32LE(VERSION, 4);
        head.writeUInt32LE(ORDER_LOG_HEADER_BYTES, OFF_END);
        writeSync(rw, head, 0, head.length, 0);
        len = size;
      }
      if (len < 16_384 || len % 4096 !== 0) throw new OrderLogFormatError(path, 0, `not a tradeloop order log (size ${len} bytes)`);
      const m = mmap();
      const buf = m.map(len, readonly ? m.PROT_READ : m.PROT_READ | m.PROT_WRITE, m.MAP_SHARED, rw, 0);
      if (buf.readUInt32LE(0) !== MAGIC) throw new OrderLogFormatError(path, 0, 'not a tradeloop order log (bad magic)');
      const v = buf.readUInt32LE(4);
      if (v !== VERSION) throw new OrderLogFormatError(path, 4, `order log version ${v}; this tradeloop reads version ${VERSION}`);
      const end = buf.readUInt32LE(OFF_END);
      if (end < ORDER_LOG_HEADER_BYTES || end > len) throw new OrderLogFormatError(path, OFF_END, `committed end ${end} outside the file`);
      return new OrderLog(path, rw, buf, opts.sync === true);
    } catch (err) {
      closeSync(rw);
      throw err;
    }
  }

  /** The committed end, byte offset (64 when empty). */
  get committedEnd(): number {
    return this.end;
  }

  /** Bytes appended and not yet committed. */
  get pendingBytes(): number {
    return this.tail - this.end;
  }

  /**
   * Whether a record of this payload fits after what is already appended.
   * @param payloadBytes UTF-8 bytes of the payload.
   */
  fits(payloadBytes: number): boolean {
    return this.tail + ORDER_LOG_RECORD_OVERHEAD_BYTES + payloadBytes <= this.sizeBytes;
  }

  /**
   * Appends a record after the last one (committed or not). It is committed by the next
   * {@link commit}. When it does not fit, nothing is written and false is returned: the
   * caller restarts the log ({@link restart}) once everything committed is applied.
   * @throws OrderLogFullError when it could not fit even in an empty log.
   */
  append(lsn: number, payload: string): boolean {
    this.open();
    const at = this.tail;
    const room = this.sizeBytes - at - ORDER_LOG_RECORD_OVERHEAD_BYTES;
    // A UTF-8 encoding is at most 3 bytes per UTF-16 unit: check the cheap bound first.
    if (payload.length * 3 > room) {
      const n = Buffer.byteLength(payload);
      if (n > this.sizeBytes - ORDER_LOG_HEADER_BYTES - ORDER_LOG_RECORD_OVERHEAD_BYTES - this.pendingBytes) {
        throw new OrderLogFullError(`${this.path}: a record of ${n} bytes does not fit in a log of ${this.sizeBytes} bytes`);
      }
      if (n > room) return false;
    }
    const n = this.buf.write(payload, at + ORDER_LOG_RECORD_OVERHEAD_BYTES, 'utf8');
    this.buf.writeDoubleLE(lsn, at + 8);
    this.buf.writeUInt32LE(n, at);
    this.buf.writeUInt32LE(recordCrc(lsn, payload), at + 4);
    this.tail = at + ORDER_LOG_RECORD_OVERHEAD_BYTES + n;
    return true;
  }

  /**
   * Commits what was appended: stores the new end in the header (with `sync`, then flushes
   * the pages from the first new record to the end, and the header's page).
   * @returns the committed end.
   */
  commit(): number {
    this.open();
    if (this.tail === this.end) return this.end;
    const from = this.end;
    this.buf.writeUInt32LE(this.tail, OFF_END);
    this.end = this.tail;
    if (this.sync) {
      const m = mmap();
      const page = m.PAGESIZE;
      const start = Math.floor(from / page) * page;
      m.sync(this.buf, start, this.end - start, true);
      if (start > 0) m.sync(this.buf, 0, page, true);
    }
    return this.end;
  }

  /**
   * Starts the log over: the committed end goes back to 64 first (a crash now finds an empty
   * log), then the records appended and not yet committed move to the front. Only call it
   * when every committed record has been applied elsewhere.
   */
  restart(): void {
    this.open();
    const pending = this.tail - this.end;
    this.buf.writeUInt32LE(ORDER_LOG_HEADER_BYTES, OFF_END);
    if (this.sync) mmap().sync(this.buf, 0, mmap().PAGESIZE, true);
    if (pending > 0) this.buf.copy(this.buf, ORDER_LOG_HEADER_BYTES, this.end, this.tail);
    this.end = ORDER_LOG_HEADER_BYTES;
    this.tail = ORDER_LOG_HEADER_BYTES + pending;
  }

  /**
   * The committed records from `from` (default: the first) to the committed end, checked.
   * Stops at the first damaged record (reported in `damaged`).
   * @param from byte offset of a record boundary.
   * @param end the committed end to read to (default: the header's).
   */
  scan(from = ORDER_LOG_HEADER_BYTES, end = this.buf.readUInt32LE(OFF_END)): OrderLogScan {
    this.open();
    const records: OrderLogRecord[] = [];
    if (end < ORDER_LOG_HEADER_BYTES || end > this.sizeBytes) return { records, end, damaged: new OrderLogFormatError(this.path, OFF_END, `committed end ${end} outside the file`) };
    let at = from;
    while (at < end) {
      const r = this.readAt(at, end);
      if (r instanceof OrderLogFormatError) return { records, end, damaged: r };
      records.push(r);
      at = r.next;
    }
    return { records, end };
  }

  /**
   * The record at `at`, or the error saying why there is none (outside `end`, a bad length,
   * a bad checksum).
   */
  readAt(at: number, end: number): OrderLogRecord | OrderLogFormatError {
    if (at + ORDER_LOG_RECORD_OVERHEAD_BYTES > end) return new OrderLogFormatError(this.path, at, `record header past the committed end ${end}`);
    const n = this.buf.readUInt32LE(at);
    if (at + ORDER_LOG_RECORD_OVERHEAD_BYTES + n > end) return new OrderLogFormatError(this.path, at, `record of ${n} bytes past the committed end ${end}`);
    const lsn = this.buf.readDoubleLE(at + 8);
    const payload = this.buf.toString('utf8', at + ORDER_LOG_RECORD_OVERHEAD_BYTES, at + ORDER_LOG_RECORD_OVERHEAD_BYTES + n);
    if (!Number.isSafeInteger(lsn) || lsn < 1 || recordCrc(lsn, payload) !== this.buf.readUInt32LE(at + 4)) {
      return new OrderLogFormatError(this.path, at, 'record checksum mismatch (a torn or overwritten record)');
    }
    return { lsn, payload, offset: at, next: at + ORDER_LOG_RECORD_OVERHEAD_BYTES + n };
  }

  /** The header's committed end as it is in the file now (a reader's view). */
  headerEnd(): number {
    this.open();
    return this.buf.readUInt32LE(OFF_END);
  }

  /** Closes the file. The mapping goes when the buffer is collected. Closing twice is a no-op. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private open(): void {
    if (this.closed) throw new Error(`order log ${this.path} is closed`);
  }
}
