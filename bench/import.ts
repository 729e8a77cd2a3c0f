/**
 * Importer throughput, measured the way `bench/run.ts` measures "Import": open + full iteration
 * of the importer's event stream, vs reading the same input file line by line with `readline`
 * over `createReadStream` in the same run. Also times the batch path (`batches()`) when the
 * importer has one.
 *
 *   node --import tsx bench/import.ts            # all three importers
 *   IMPORT_ONLY=lobster node --import tsx bench/import.ts
 *   IMPORT_SECONDS=3 node --import tsx bench/import.ts   # minimum seconds per figure (default 1.5)
 *   IMPORT_FROM=/path/to/other/src/index.ts node --import tsx bench/import.ts   # another copy of the sources (before/after)
 *
 * Figures are medians of repeated runs (≥ 3 and ≥ IMPORT_SECONDS each). Besides wall time (what
 * bench/run.ts reports), the median process CPU time per run is printed: on a shared machine it
 * is the steadier of the two.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as current from '../src/index.js';
import type { EventBatch } from '../src/backtest/backtest.js';
import type { MdEvent } from '../src/data/events.js';

// Not from ./common.js: that module loads dist/, and this script measures src/.
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n >= 10 ? n.toFixed(0) : n.toFixed(2);
}

const ROOT = new URL('..', import.meta.url).pathname;
const AMZN = join(ROOT, 'data/lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv');
const BINANCE = join(ROOT, 'data/binance/BINANCE.ws.1.0');
const COINBASE = join(ROOT, 'data/coinbase/COINBASE.ws.28.0');
const ONLY = process.env.IMPORT_ONLY;
/** The importers measured: these sources, or the copy named by IMPORT_FROM (e.g. an older checkout). */
const lib = (process.env.IMPORT_FROM ? await import(process.env.IMPORT_FROM) : current) as typeof current;
const { openBinance, openCoinbase, openLobster } = lib;
const SECONDS = Number(process.env.IMPORT_SECONDS ?? 1.5);

/** What bench/run.ts uses as the baseline: non-empty lines via readline. */
async function lineRead(path: string): Promise<number> {
  let n = 0;
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of rl) n += line.length > 0 ? 1 : 0;
  return n;
}

async function countEvents(it: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of it) n++;
  return n;
}

const scratch: MdEvent = { type: 1, instrumentId: 0, exchTs: 0, localTs: 0, side: 0, orderId: 0, priceTick: 0, qty: 0, status: 0 };
let sink = 0;

/** Reads every event of every batch, as a backtest's cursor does. */
async function countBatches(it: AsyncIterable<EventBatch>): Promise<number> {
  let n = 0;
  for await (const b of it) {
    for (let i = 0; i < b.length; i++) sink += b.read(i, scratch).qty;
    n += b.length;
  }
  return n;
}

interface Opened {
  events(): AsyncIterable<MdEvent>;
  batches?(): AsyncIterable<EventBatch>;
}

/** Median wall and CPU seconds of `fn` over ≥ `minRuns` runs and ≥ `minSeconds` in all. */
async function medianTimes(fn: () => Promise<unknown>, minRuns: number, minSeconds: number): Promise<{ wall: number; cpu: number }> {
  const walls: number[] = [];
  const cpus: number[] = [];
  let total = 0;
  while (walls.length < minRuns || total < minSeconds) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await fn();
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    walls.push(wall);
    cpus.push((c.user + c.system) / 1e6);
    total += wall;
  }
  return { wall: median(walls), cpu: median(cpus) };
}

async function figure(label: string, path: string, open: () => Opened | Promise<Opened>): Promise<void> {
  let n = 0;
  const ev = await medianTimes(async () => {
    n = await countEvents((await open()).events());
  }, 3, SECONDS);
  let nb = 0;
  const probe = await open();
  const batch =
    typeof probe.batches === 'function'
      ? await medianTimes(async () => {
          nb = await countBatches((await open()).batches!());
        }, 3, SECONDS)
      : undefined;
  let lines = 0;
  const line = await medianTimes(async () => {
    lines = await lineRead(path);
  }, 3, SECONDS);
  const row = (name: string, t: { wall: number; cpu: number }, note: string) =>
    console.log(`  ${name.padEnd(10)} ${fmt(n / t.wall).padStart(9)} ev/s  ${(t.wall * 1e3).toFixed(2).padStart(7)} ms wall  ${(t.cpu * 1e3).toFixed(2).padStart(7)} ms cpu (${fmt(n / t.cpu)} ev/cpu-s)  ${note}`);
  console.log(`${label} (${fmt(n)} ev, ${fmt(lines)} lines)`);
  row('events()', ev, `ratio vs line read ${(line.wall / ev.wall).toFixed(3)}`);
  if (batch !== undefined) {
    if (nb !== n) console.log(`  !! batches() gave ${nb} events, events() ${n}`);
    row('batches()', batch, `ratio vs line read ${(line.wall / batch.wall).toFixed(3)}`);
  }
  row('line read', line, '(readline of the input file, same number of events)');
}

console.log(`node ${process.version}; ${process.env.IMPORT_FROM ?? 'src/'}; medians of ≥ 3 runs and ≥ ${SECONDS} s per figure`);
if (!ONLY || ONLY === 'lobster') await figure('LOBSTER AMZN', AMZN, () => openLobster(AMZN));
if (!ONLY || ONLY === 'binance') await figure('Binance', BINANCE, () => openBinance(BINANCE));
if (!ONLY || ONLY === 'coinbase') await figure('Coinbase', COINBASE, () => openCoinbase(COINBASE));
if (sink === -1) console.log('');
