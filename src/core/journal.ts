/**
 * The journal: every inbound event and every outbound request of a strategy, in the order
 * the strategy saw or made them, as JSON lines. A replay feeds the recorded inbound events
 * to a fresh strategy and checks that it makes the same requests (see `docs/journal.md`).
 * @module
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { InstrumentSpec } from '../api/instrument.js';

/** Who produced an inbound event. Replay feeds `venue` and `md` events and regenerates `env` ones. */
export type InboundSource = 'venue' | 'md' | 'env';

/** First line of a journal. */
export interface JournalHeader {
  k: 'header';
  /** Journal format version. */
  v: 1;
  mode: 'backtest' | 'replay' | 'live' | 'paper';
  /** Venues with their instruments and status when the run started. */
  venues: Array<{ exchange: string; status: string; instruments: InstrumentSpec[] }>;
  /** Strategy parameters at start. */
  params: Record<string, unknown>;
  /** Timezone of daily callbacks. */
  timeZone: string;
  /** Data the run read, with its content hash, when known. */
  data?: { path: string; sha256: string; format: string };
  /**
   * How market-data callbacks are journaled: `'value'` (default when absent) writes each as an
   * `in` entry; `'ref'` writes none and gives every entry `d`, the number of data events
   * applied before it, so a replay regenerates them from `data` (which must then be present).
   */
  md?: JournalMarketData;
  /** Clock time when the run started, µs. */
  startTs: number;
}
/** How market-data callbacks are journaled; see `JournalHeader.md`. */
export type JournalMarketData = 'value' | 'ref';

/** An event delivered to the strategy. */
export interface JournalIn {
  k: 'in';
  seq: number;
  ts: number;
  /** Data events applied before this entry (journals with `md: 'ref'` only). */
  d?: number;
  src: InboundSource;
  cb: string;
  ev: unknown;
}
/** A request made by the strategy (valid or not). */
export interface JournalOut {
  k: 'out';
  seq: number;
  ts: number;
  /** Data events applied before this entry (journals with `md: 'ref'` only). */
  d?: number;
  req: string;
  args: unknown;
}
/** A runner or control action: connect, stop, end, command, params. */
export interface JournalCtl {
  k: 'ctl';
  seq: number;
  ts: number;
  /** Data events applied before this entry (journals with `md: 'ref'` only). */
  d?: number;
  op: 'connect' | 'stop' | 'end' | 'cmd' | 'params' | 'disconnect';
  args?: unknown;
}
/** A journal line after the header. */
export type JournalEntry = JournalIn | JournalOut | JournalCtl;

/** Where journal lines go. */
export interface JournalSink {
  writeLine(line: string): void;
  close(): void;
}

/** Buffered append to a file; flushes every `bufferBytes` (default 256 KiB) and on close. */
export class FileJournalSink implements JournalSink {
  private fd: number;
  private buf: string[] = [];
  private size = 0;
  constructor(
    readonly path: string,
    private readonly bufferBytes = 256 * 1024,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'w');
  }
  writeLine(line: string): void {
    this.buf.push(line);
    this.size += line.length + 1;
    if (this.size >= this.bufferBytes) this.flush();
  }
  /** Writes buffered lines to the file. */
  flush(): void {
    if (!this.buf.length) return;
    writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
    this.size = 0;
  }
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** Keeps lines in memory (replay, tests). */
export class MemoryJournalSink implements JournalSink {
  readonly lines: string[] = [];
  writeLine(line: string): void {
    this.lines.push(line);
  }
  close(): void {}
}

/** Options of a `Journal`. */
export interface JournalOptions {
  /**
   * `'value'` (default): every market-data callback is an `in` entry. `'ref'`: none is
   * written; each entry carries `d` = `dataPos` instead, and the run's data file stands in
   * for them (a replay re-reads it). Costs next to nothing on a replay's hot path.
   */
  marketData?: JournalMarketData;
}

/** Numbers journal entries and writes them as JSON lines. Decimals serialise as strings. */
export class Journal {
  private seq = 0;
  private readonly byRef: boolean;
  /**
   * Data events applied so far, set by whoever drives the data (backtest, replay); written
   * as `d` on every entry when market data is journaled by reference.
   */
  dataPos = 0;
  constructor(
    private readonly sink: JournalSink,
    opts: JournalOptions = {},
  ) {
    this.byRef = opts.marketData === 'ref';
  }
  /** How market data is journaled. */
  get marketData(): JournalMarketData {
    return this.byRef ? 'ref' : 'value';
  }
  /** Writes the header line (with `md` when market data goes by reference). */
  header(h: Omit<JournalHeader, 'k' | 'v' | 'md'>): void {
    this.sink.writeLine(JSON.stringify(this.byRef ? { k: 'header', v: 1, ...h, md: 'ref' } : { k: 'header', v: 1, ...h }));
  }
  /** Records an event delivered to the strategy (market data only when journaled by value). */
  in(ts: number, src: InboundSource, cb: string, ev: unknown): void {
    if (this.byRef) {
      if (src === 'md') return;
      this.sink.writeLine(JSON.stringify({ k: 'in', seq: ++this.seq, ts, d: this.dataPos, src, cb, ev }));
      return;
    }
    this.sink.writeLine(JSON.stringify({ k: 'in', seq: ++this.seq, ts, src, cb, ev }));
  }
  /** Records a strategy request. */
  out(ts: number, req: string, args: unknown): void {
    if (this.byRef) this.sink.writeLine(JSON.stringify({ k: 'out', seq: ++this.seq, ts, d: this.dataPos, req, args }));
    else this.sink.writeLine(JSON.stringify({ k: 'out', seq: ++this.seq, ts, req, args }));
  }
  /** Records a runner or control action. */
  ctl(ts: number, op: JournalCtl['op'], args?: unknown): void {
    const e: JournalCtl = this.byRef ? { k: 'ctl', seq: ++this.seq, ts, d: this.dataPos, op } : { k: 'ctl', seq: ++this.seq, ts, op };
    if (args !== undefined) e.args = args;
    this.sink.writeLine(JSON.stringify(e));
  }
  /** Number of entries written after the header. */
  get count(): number {
    return this.seq;
  }
  close(): void {
    this.sink.close();
  }
}
