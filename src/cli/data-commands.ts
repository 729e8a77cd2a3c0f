/**
 * `tradeloop import`, `cat` and `generate`: data files in and out of the recorded format.
 * @module
 */
import { existsSync } from 'node:fs';
import type { MdParseIssue } from '../data/events.js';
import { IMPORT_FORMATS, openMarketData, type DataFormat } from '../data/open.js';
import { formatEventJson, openRecorded, writeRecorded } from '../data/recorded.js';
import { generateMarket } from '../data/synthetic.js';

/** Input the user got wrong: printed as one line, exit code 2. */
export class DataUsageError extends Error {}

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/** Converts a capture to the recorded format; malformed records are reported by file:line and skipped. Returns the exit code. */
export async function importCommand(format: DataFormat, inputs: string[], out: string, write: (s: string) => void, warn: (s: string) => void): Promise<number> {
  if (!(IMPORT_FORMATS as readonly string[]).includes(format)) throw new DataUsageError(`unknown import format '${format}' (one of ${IMPORT_FORMATS.join(', ')})`);
  if (inputs.length !== 1) throw new DataUsageError(`import ${format} takes one input file (the LOBSTER message file, the Binance ws capture or the Coinbase capture); companion files are found beside it`);
  const input = inputs[0]!;
  if (!existsSync(input)) throw new DataUsageError(`input file not found: ${input}`);
  let issues = 0;
  const onIssue = (i: MdParseIssue) => {
    issues++;
    if (issues <= 20) warn(`${i.file}:${i.line}: ${i.message}`);
  };
  const src = await openMarketData(input, { format, onIssue }).catch((e: Error) => {
    throw new DataUsageError(e.message);
  });
  const t0 = process.hrtime.bigint();
  const n = await writeRecorded(out, src.instruments, src.events(), { sources: src.data ? [{ path: src.data.path, sha256: src.data.sha256 }] : [], importer: format, createdBy: 'tradeloop import' });
  const s = seconds(t0);
  if (issues > 20) warn(`${issues} malformed records in total`);
  write(`${n} events from ${input} (${src.instruments.map((i) => i.name).join(', ')}) → ${out} in ${s.toFixed(2)} s (${Math.round(n / s)} events/s), ${issues} malformed records skipped\n`);
  return 0;
}

/** Prints a recorded file as JSON lines. */
export async function catCommand(file: string, limit: number | undefined, write: (s: string) => void): Promise<number> {
  if (!existsSync(file)) throw new DataUsageError(`file not found: ${file}`);
  const rec = await openRecorded(file).catch((e: Error) => {
    throw new DataUsageError(e.message);
  });
  const byId = new Map(rec.instruments.map((i) => [i.instrumentId, i]));
  let n = 0;
  let buf = '';
  for await (const ev of rec.events()) {
    if (limit !== undefined && n >= limit) break;
    buf += formatEventJson(ev, byId) + '\n';
    if (buf.length > 1 << 16) {
      write(buf);
      buf = '';
    }
    n++;
  }
  write(buf);
  return 0;
}

/** Writes a synthetic market of `events` events from `seed` to a recorded file. */
export async function generateCommand(o: { events: number; seed: number; out: string; start?: string }, write: (s: string) => void): Promise<number> {
  if (!Number.isSafeInteger(o.events) || o.events < 1) throw new DataUsageError(`--events must be a positive integer, got ${o.events}`);
  if (!Number.isSafeInteger(o.seed)) throw new DataUsageError(`--seed must be an integer, got ${o.seed}`);
  let startTs: number | undefined;
  if (o.start !== undefined) {
    const ms = Date.parse(o.start);
    if (Number.isNaN(ms)) throw new DataUsageError(`--start must be an ISO date-time, got '${o.start}'`);
    startTs = ms * 1000;
  }
  const m = generateMarket({ events: o.events, seed: o.seed, startTs });
  const t0 = process.hrtime.bigint();
  const n = await writeRecorded(o.out, m.instruments, m.eventsSync(), { importer: 'synthetic', createdBy: 'tradeloop generate', synthetic: { seed: o.seed, events: o.events, optionsSha256: m.data?.sha256 } });
  const s = seconds(t0);
  write(`${n} synthetic events (seed ${o.seed}) → ${o.out} in ${s.toFixed(2)} s (${Math.round(n / s)} events/s)\n`);
  return 0;
}
