/**
 * Child process of the bench: replays one source through book + sim venue + the BBO strategy
 * and prints one JSON line `{ source, events, seconds, maxRssMB }`.
 *
 *   node --import tsx bench/rss.ts <file.tlrec | synthetic:<events>>
 *
 * `synthetic:N` generates N events on the fly (`generateMarket(...).eventsSync()` in
 * batches of 4096), so no file is needed and the stream is never held.
 */
import { runBacktest, silentLogger, type MarketSource } from '../dist/index.js';
import { BBO_SUBS, BenchStrategy, recordedSource, syntheticSource, time } from './common.js';

const arg = process.argv[2];
if (!arg) {
  console.error('usage: node --import tsx bench/rss.ts <file.tlrec | synthetic:<events>>');
  process.exit(2);
}
const m = /^synthetic:(\d+)$/.exec(arg);
const source: MarketSource = m ? syntheticSource(Number(m[1])) : await recordedSource(arg);
const inst = source.instruments[0]!;
let events = 0;
const seconds = await time(async () => {
  const r = await runBacktest({ strategy: new BenchStrategy(inst.exchange, inst.instrumentId, BBO_SUBS), source, logger: silentLogger() });
  events = r.summary.events;
});
// maxRSS is in KiB.
console.log(JSON.stringify({ source: arg, events, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
