/**
 * Reads a journal back: the header, then entries, with decimals revived as `Price`/`Qty`.
 * A malformed line is reported with its line number.
 * @module
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Price, Qty } from '../api/decimal.js';
import type { JournalEntry, JournalHeader } from '../core/journal.js';

const PRICE_FIELDS = new Set(['price', 'newPrice', 'fee', 'avgFillPrice']);
const QTY_FIELDS = new Set(['qty', 'leavesQty', 'newQty', 'fillQty', 'totalBalance', 'availableBalance', 'position']);

/** Rebuilds `Price`/`Qty` values in an event read from JSON (by field name). */
export function reviveDecimals(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reviveDecimals);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === 'string' && PRICE_FIELDS.has(k)) out[k] = Price.of(x);
    else if (typeof x === 'string' && QTY_FIELDS.has(k)) out[k] = Qty.of(x);
    else out[k] = reviveDecimals(x);
  }
  return out;
}

/** A journal line that could not be read. */
export class JournalFormatError extends Error {
  readonly code = 'JOURNAL_FORMAT';
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
  }
}

/** A journal: its header and raw lines (for exact comparison) with parsed entries. */
export interface LoadedJournal {
  header: JournalHeader;
  entries: JournalEntry[];
  /** The lines after the header, as written. */
  lines: string[];
}

/** Loads a whole journal. Throws `JournalFormatError` naming the file and line of the first bad line. */
export async function loadJournal(path: string): Promise<LoadedJournal> {
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let header: JournalHeader | undefined;
  const entries: JournalEntry[] = [];
  const lines: string[] = [];
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new JournalFormatError(path, n, `not JSON: ${(err as Error).message}`);
    }
    const k = (obj as { k?: unknown }).k;
    if (!header) {
      if (k !== 'header') throw new JournalFormatError(path, n, 'the first line is not a journal header');
      header = obj as JournalHeader;
      if (header.v !== 1) throw new JournalFormatError(path, n, `unsupported journal version ${String(header.v)}`);
      continue;
    }
    if (k !== 'in' && k !== 'out' && k !== 'ctl') throw new JournalFormatError(path, n, `unknown entry kind ${JSON.stringify(k)}`);
    const e = obj as JournalEntry;
    if (typeof e.seq !== 'number' || typeof e.ts !== 'number') throw new JournalFormatError(path, n, 'entry without numeric seq and ts');
    entries.push(e);
    lines.push(line);
  }
  if (!header) throw new JournalFormatError(path, n, 'empty journal');
  return { header, entries, lines };
}
