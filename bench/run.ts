/**
 * `npm run bench`: throughput and memory figures, each printed with a baseline measured in
 * the same run, so that the ratio, not the machine, is the figure. Runs against dist/ (the
 * built package), so it measures what users run. See docs/bench.md.
 *
 * Env: BENCH_QUICK=1 skips the 100 M-event RSS run; BENCH_REPEAT (default 3) runs per
 * replay figure (median); BENCH_EVENTS (default 10 000 000) synthetic events;
 * BENCH_ORDERS (default 300 000) orders of the matching comparison.
 */
import { execFile } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { OrderBook, Side as NobSide } from 'nodejs-order-book';
import {
  FileJournalSink,
  L3Book,
  compareQueueModels,
  generateMarket,
  openBinance,
  openCoinbase,
  openLobster,
  openMarketData,
  runBacktest,
  silentLogger,
  writeRecorded,
  type JournalSink,
  type MDSub,
} from '../dist/index.js';
import { BBO_SUBS, BenchStrategy, L2_SUBS, fmt, median, medianTime, rawScan, recordedSource, time } from './common.js';
import { gatewayBench } from './gateway.js';

const ROOT = new URL('..', import.meta.url).pathname;
const AMZN = join(ROOT, 'data/lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv');
const BINANCE = join(ROOT, 'data/binance/BINANCE.ws.1.0');
const COINBASE = join(ROOT, 'data/coinbase/COINBASE.ws.28.0');
const QUICK = process.env.BENCH_QUICK === '1';
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
/** Runs per 10 M-event replay figure (each takes many seconds). */
const SYN_REPEAT = Number(process.env.BENCH_SYN_REPEAT ?? 1);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000_000);
const ORDERS = Number(process.env.BENCH_ORDERS ?? 300_000);

interface Row {
  figure: string;
  value: number;
  unit: string;
  baseline?: string;
  baselineValue?: number;
  baselineUnit?: string;
  /** value / baseline (or as described by the figure). */
  ratio?: number;
  target?: string;
  met?: boolean;
}
const rows: Row[] = [];
const out = (r: Row) => {
  rows.push(r);
  const ratio = r.ratio === undefined ? '' : `  ratio ${r.ratio.toFixed(3)}`;
  const base = r.baseline ? `  (baseline ${r.baseline}: ${fmt(r.baselineValue!)} ${r.baselineUnit ?? r.unit})` : '';
  const tgt = r.target ? `  target ${r.target}: ${r.met ? 'met' : 'MISSED'}` : '';
  console.log(`  ${r.figure.padEnd(46)} ${`${fmt(r.value)} ${r.unit}`.padStart(14)}${ratio}${base}${tgt}`);
};

// ---- replay --------------------------------------------------------------------------

async function replayOnce(path: string, subs: MDSub[], journal?: () => JournalSink): Promise<number> {
  const source = await recordedSource(path);
  const inst = source.instruments[0]!;
  const r = await runBacktest({ strategy: new BenchStrategy(inst.exchange, inst.instrumentId, subs), source, logger: silentLogger(), journal: journal?.() });
  return r.summary.events;
}

async function replayFigures(label: string, path: string, n: number, minRuns: number, minSeconds: number): Promise<{ scan: number; bbo: number; l2: number }> {
  console.log(`\nreplay — ${label} (${fmt(n)} events, ${(statSync(path).size / 1e6).toFixed(0)} MB .tlrec)`);
  let sink = 0;
  const scanS = await medianTime(async () => {
    sink += (await rawScan(path)).sum;
  }, Math.max(3, minRuns), minSeconds);
  const scan = n / scanS;
  out({ figure: `${label}: raw scan of the file's batches`, value: scan, unit: 'ev/s', ratio: 1 });
  const bbo = n / (await medianTime(() => replayOnce(path, BBO_SUBS), minRuns, minSeconds));
  out({ figure: `${label}: replay, BBO strategy`, value: bbo, unit: 'ev/s', baseline: 'raw scan', baselineValue: scan, ratio: bbo / scan, target: '≥ 10 M ev/s', met: bbo >= 10e6 });
  const l2 = n / (await medianTime(() => replayOnce(path, L2_SUBS), minRuns, minSeconds));
  out({ figure: `${label}: replay, every L2 level change`, value: l2, unit: 'ev/s', baseline: 'raw scan', baselineValue: scan, ratio: l2 / scan, target: '≥ 5 M ev/s', met: l2 >= 5e6 });
  if (sink === -1) console.log('');
  return { scan, bbo, l2 };
}

// ---- import --------------------------------------------------------------------------

async function lineRead(path: string): Promise<number> {
  let n = 0;
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of rl) n += line.length > 0 ? 1 : 0;
  return n;
}

/** Events in a stream of batches (the importers' `batches()`). */
async function countBatches(it: AsyncIterable<{ length: number }>): Promise<number> {
  let n = 0;
  for await (const b of it) n += b.length;
  return n;
}

async function importFigure(label: string, path: string, run: () => Promise<number>, target: number, targetText: string): Promise<void> {
  let n = 0;
  const importS = await medianTime(async () => {
    n = await run();
  }, 3, 1.5);
  let lines = 0;
  const lineS = await medianTime(async () => {
    lines = await lineRead(path);
  }, 3, 1.5);
  const rate = n / importS;
  const base = n / lineS; // the same events at the speed the file's lines can be read
  out({ figure: `import ${label} (${fmt(n)} ev, ${fmt(lines)} lines)`, value: rate, unit: 'ev/s', baseline: 'line read of the file', baselineValue: base, ratio: lineS / importS, target: targetText, met: rate >= target });
}


// ---- queue models ---------------------------------------------------------------------

/** What `npm run bench` places to compare the queue models on the AMZN day (see docs/sim.md). */
const QUEUE_PLAN = { everyEvents: 200, lots: 100, powers: [1, 2, 3], horizonsUs: [1e6, 10e6, 60e6, Number.POSITIVE_INFINITY] };

/** L2 probabilistic (n = 1, 2, 3) and RiskAverse against exact L3 FIFO, per cancel horizon: prints a table per horizon. */
async function queueComparison(): Promise<{ plan: typeof QUEUE_PLAN; orders: number; seconds: number; horizons: Awaited<ReturnType<typeof compareQueueModels>>['horizons'] }> {
  const t = performance.now();
  const r = await compareQueueModels(await openMarketData(AMZN), QUEUE_PLAN);
  const seconds = (performance.now() - t) / 1000;
  const pc = (x: number) => `${(x * 100).toFixed(1)} %`;
  const ms = (us: number) => (Number.isNaN(us) ? '—' : (us / 1000).toFixed(1));
  console.log(`    ${fmt(r.orders.length)} orders (${QUEUE_PLAN.lots} lots at the best bid and ask every ${QUEUE_PLAN.everyEvents} events), ${seconds.toFixed(1)} s`);
  for (const h of r.horizons) {
    const label = Number.isFinite(h.horizonUs) ? `cancel after ${h.horizonUs / 1e6} s` : 'never cancelled';
    console.log(`  ${label}: ${fmt(h.orders)} orders${h.censored ? ` (${h.censored} left out: horizon past the end of the data)` : ''}`);
    console.log(`    ${'model'.padEnd(11)} ${'filled'.padStart(7)} ${'queue'.padStart(7)} ${'through'.padStart(7)} ${'cross'.padStart(7)} │ vs L3: ${'only'.padStart(4)} ${'onlyL3'.padStart(6)} │ queue set: ${'n'.padStart(4)} ${'med|Δ|ms'.padStart(8)} ${'p90|Δ|ms'.padStart(8)} ${'earlier'.padStart(7)} ${'later'.padStart(7)}`);
    for (const m of r.models) {
      const s = h.models[m]!;
      const head = `    ${m.padEnd(11)} ${pc(s.filledFrac).padStart(7)} ${pc(s.queueFrac).padStart(7)} ${pc(s.tradeThrough / Math.max(1, h.orders)).padStart(7)} ${pc(s.cross / Math.max(1, h.orders)).padStart(7)}`;
      const v = h.vsL3[m];
      if (!v) {
        console.log(`${head} │ (reference)`);
        continue;
      }
      const q = v.queue;
      console.log(`${head} │        ${String(v.onlyModel).padStart(4)} ${String(v.onlyL3).padStart(6)} │            ${String(q.n).padStart(4)} ${ms(q.medianAbsDeltaUs).padStart(8)} ${ms(q.p90AbsDeltaUs).padStart(8)} ${pc(q.earlierFrac).padStart(7)} ${pc(q.laterFrac).padStart(7)}`);
    }
  }
  return { plan: QUEUE_PLAN, orders: r.orders.length, seconds, horizons: r.horizons };
}

// ---- matching ------------------------------------------------------------------------

interface OrderSeq {
  kind: Uint8Array; // 0 limit, 1 market, 2 cancel
  side: Int8Array; // 1 buy, -1 sell
  price: Float64Array;
  size: Float64Array;
  id: Float64Array;
  idStr: string[];
}

/** A seeded sequence: 60 % limit (some crossing), 10 % market, 30 % cancel of an earlier limit id. */
function orderSequence(n: number, seed = 7): OrderSeq {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const q: OrderSeq = { kind: new Uint8Array(n), side: new Int8Array(n), price: new Float64Array(n), size: new Float64Array(n), id: new Float64Array(n), idStr: new Array<string>(n) };
  let nextId = 1;
  for (let i = 0; i < n; i++) {
    const u = rnd();
    const side = rnd() < 0.5 ? 1 : -1;
    q.side[i] = side;
    if (u < 0.6 || nextId === 1) {
      q.kind[i] = 0;
      // Around a mid of 10 000 ticks; 3 in 23 land on or through the far side.
      const off = Math.floor(rnd() * 23) - 2;
      q.price[i] = side === 1 ? 10_000 - off : 10_000 + off;
      q.size[i] = 1 + Math.floor(rnd() * 100);
      q.id[i] = nextId++;
    } else if (u < 0.7) {
      q.kind[i] = 1;
      q.size[i] = 1 + Math.floor(rnd() * 200);
    } else {
      q.kind[i] = 2;
      q.id[i] = 1 + Math.floor(rnd() * (nextId - 1));
    }
    q.idStr[i] = String(q.id[i]);
  }
  return q;
}

/** Price-time matching on tradeloop's `L3Book`: takes from the best opposite level FIFO, rests the rest of a limit. */
function matchTradeloop(q: OrderSeq): { traded: number; restBid: number; restAsk: number } {
  const book = new L3Book();
  const l2 = book.l2;
  let traded = 0;
  const n = q.kind.length;
  for (let i = 0; i < n; i++) {
    const k = q.kind[i]!;
    if (k === 2) {
      book.delete(q.id[i]!);
      continue;
    }
    const side = q.side[i]! as 1 | -1;
    let left = q.size[i]!;
    const limit = k === 0 ? q.price[i]! : side === 1 ? Number.MAX_VALUE : -Number.MAX_VALUE; // finite: an empty side is ±∞
    while (left > 0) {
      const best = side === 1 ? l2.bestAskTick() : l2.bestBidTick();
      if (side === 1 ? !(best <= limit) : !(best >= limit)) break;
      const oid = book.firstOrderIdAt(side === 1 ? -1 : 1, best)!;
      const x = Math.min(left, book.order(oid)!.qty);
      book.execute(oid, x);
      left -= x;
      traded += x;
    }
    if (k === 0 && left > 0) book.add(q.id[i]!, side, q.price[i]!, left);
  }
  let restBid = 0;
  let restAsk = 0;
  for (let i = 0; i < l2.depth(1); i++) restBid += l2.levelQty(1, i);
  for (let i = 0; i < l2.depth(-1); i++) restAsk += l2.levelQty(-1, i);
  return { traded, restBid, restAsk };
}

/** The same sequence through nodejs-order-book's `OrderBook` (limit / market / cancel). */
function matchNob(q: OrderSeq): { traded: number; restBid: number; restAsk: number } {
  const ob = new OrderBook();
  let traded = 0;
  const n = q.kind.length;
  for (let i = 0; i < n; i++) {
    const k = q.kind[i]!;
    if (k === 2) {
      ob.cancel(q.idStr[i]!);
      continue;
    }
    const side = q.side[i] === 1 ? NobSide.BUY : NobSide.SELL;
    if (k === 0) {
      const r = ob.limit({ id: q.idStr[i]!, side, size: q.size[i]!, price: q.price[i]! });
      traded += q.size[i]! - r.quantityLeft;
    } else {
      const r = ob.market({ side, size: q.size[i]! });
      traded += q.size[i]! - r.quantityLeft;
    }
  }
  const [asks, bids] = ob.depth();
  let restBid = 0;
  let restAsk = 0;
  for (const [, sz] of bids) restBid += sz;
  for (const [, sz] of asks) restAsk += sz;
  return { traded, restBid, restAsk };
}
// ---- main ----------------------------------------------------------------------------

async function main() {
  const cpu = cpus();
  const machine = { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, node: process.version, platform: `${process.platform} ${process.arch}` };
  const date = new Date().toISOString();
  console.log(`tradeloop bench — ${date}\nmachine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${machine.platform}`);
  console.log(`replay figures: median of ≥ ${REPEAT} runs; ratios are to a baseline measured in this run`);
  const tmp = mkdtempSync(join(tmpdir(), 'tradeloop-bench-'));
  const t0 = Date.now();
  try {
    // Data: 10 M synthetic events and the AMZN day, each to a temp .tlrec.
    const synPath = join(tmp, 'synthetic.tlrec');
    const m = generateMarket({ events: EVENTS, seed: 42 });
    let synN = 0;
    const genS = await time(async () => {
      synN = await writeRecorded(synPath, m.instruments, m.eventsSync(), { bench: 'synthetic' });
    });
    console.log(`\nprepared ${fmt(synN)} synthetic events in ${genS.toFixed(1)} s (generate + write); `);
    const amznPath = join(tmp, 'amzn.tlrec');
    const amznSrc = await openMarketData(AMZN);
    const amznN = await writeRecorded(amznPath, amznSrc.instruments, amznSrc.events(), { bench: 'AMZN' });

    const syn = await replayFigures(`synthetic ${fmt(synN)}`, synPath, synN, SYN_REPEAT, 0);
    const amzn = await replayFigures('AMZN day', amznPath, amznN, REPEAT, 2);

    // Journaling: the BBO replay with a FileJournalSink vs without, interleaved runs.
    console.log('\njournaling — BBO replay with FileJournalSink to a temp file vs without');
    const journalPath = join(tmp, 'journal.jsonl');
    const j1Path = join(tmp, 'synthetic-1m.tlrec');
    const j1 = generateMarket({ events: 1_000_000, seed: 43 });
    const j1N = await writeRecorded(j1Path, j1.instruments, j1.eventsSync(), { bench: 'synthetic 1 M' });
    for (const [label, path, n] of [
      ['AMZN day', amznPath, amznN],
      [`synthetic ${fmt(j1N)}`, j1Path, j1N],
    ] as const) {
      // Interleaved off/on pairs, median of each.
      const offS: number[] = [];
      const onS: number[] = [];
      const tEnd = Date.now() + 4000;
      while (offS.length < REPEAT || Date.now() < tEnd) {
        offS.push(await time(() => replayOnce(path, BBO_SUBS)));
        onS.push(await time(() => replayOnce(path, BBO_SUBS, () => new FileJournalSink(journalPath))));
      }
      const off = median(offS);
      const on = median(onS);
      const mb = statSync(journalPath).size / 1e6;
      out({ figure: `${label}: journaling cost (time on / off − 1)`, value: (on / off - 1) * 100, unit: '%', baseline: 'replay without journal', baselineValue: n / off, baselineUnit: 'ev/s', ratio: off / on, target: '< 15 %', met: on / off - 1 < 0.15 });
      console.log(`    (${fmt(n / on)} ev/s with journal; journal ${mb.toFixed(0)} MB, ${offS.length} pairs)`);
      rmSync(journalPath, { force: true });
    }

    // Import.
    console.log('\nimport — importer events/s vs reading the same file line by line');
    // Through batches(), as a backtest reads them: the per-event await of events() alone costs
    // 100-175 ns an event here.
    await importFigure('LOBSTER AMZN', AMZN, () => countBatches(openLobster(AMZN).batches()), 3e6, '≥ 3 M ev/s');
    await importFigure('Binance', BINANCE, async () => countBatches((await openBinance(BINANCE)).batches()), 1e6, '≥ 1 M ev/s');
    await importFigure('Coinbase', COINBASE, async () => countBatches((await openCoinbase(COINBASE)).batches()), 1e6, '≥ 1 M ev/s');

    // Matching.
    console.log(`\nmatching — ${fmt(ORDERS)} seeded orders (60 % limit, 10 % market, 30 % cancel)`);
    const seq = orderSequence(ORDERS);
    const a = matchTradeloop(seq);
    const b = matchNob(seq);
    const same = a.traded === b.traded && a.restBid === b.restBid && a.restAsk === b.restAsk;
    console.log(`    check: traded ${a.traded} vs ${b.traded}, resting bid ${a.restBid} vs ${b.restBid}, ask ${a.restAsk} vs ${b.restAsk} — ${same ? 'identical' : 'DIFFERENT'}`);
    const tlS = await medianTime(() => matchTradeloop(seq), 5, 1);
    const nobS = await medianTime(() => matchNob(seq), 1, 2);
    out({ figure: 'matching: L3Book price-time matcher (bench)', value: ORDERS / tlS, unit: 'orders/s', baseline: 'nodejs-order-book', baselineValue: ORDERS / nobS, ratio: nobS / tlS, target: '≥ 50× nodejs-order-book', met: nobS / tlS >= 50 });

    // Queue models: L2 probabilistic vs exact L3 FIFO on the AMZN day, per cancel horizon.
    console.log('\nqueue models — the same resting orders on the AMZN day: L2 probabilistic (n = 1, 2, 3) and RiskAverse vs exact L3 FIFO, per cancel horizon');
    const queueModels = await queueComparison();

    // Gateway: order → ack over loopback beside a bare ws JSON echo (same run, interleaved), md fan-out.
    console.log('\ngateway — order → ack round trip over loopback vs a bare ws JSON echo (interleaved blocks); md fan-out to 1, 10, 50 strategies');
    const gateway = await gatewayBench({ log: (line) => console.log(line) });
    const echo = gateway.echo;
    out({ figure: 'gateway: bare ws JSON echo p50', value: echo.p50Us, unit: 'µs' });
    out({ figure: 'gateway: bare ws JSON echo p99', value: echo.p99Us, unit: 'µs' });
    out({ figure: 'gateway: bare ws JSON echo p99.9', value: echo.p999Us, unit: 'µs' });
    for (const o of gateway.orderAck) {
      const label = `gateway: order → ack, ${o.synchronous === 'MEMORY' ? 'in-memory SQLite store (no file)' : o.synchronous === 'NONE' ? 'no store (orders in a Map: the gateway alone)' : o.synchronous === 'WRITE_BEHIND' ? 'write-behind store (NORMAL: memory-mapped log before the ack, SQLite behind)' : `${o.synchronous} store`}`;
      out({ figure: `${label} p50`, value: o.stats.p50Us, unit: 'µs', baseline: 'echo p50', baselineValue: echo.p50Us, ratio: o.stats.p50Us / echo.p50Us });
      out({ figure: `${label} p99`, value: o.stats.p99Us, unit: 'µs', baseline: 'echo p99', baselineValue: echo.p99Us, ratio: o.ratioP99ToEcho, ...(o.synchronous === 'NORMAL' || o.synchronous === 'FULL' || o.synchronous === 'WRITE_BEHIND' ? { target: '≤ 2× echo p99', met: o.ratioP99ToEcho <= 2 } : {}) });
      out({ figure: `${label} p99.9`, value: o.stats.p999Us, unit: 'µs', baseline: 'echo p99.9', baselineValue: echo.p999Us, ratio: o.stats.p999Us / echo.p999Us });
      out({ figure: `${label}: in the store at its ack`, value: (100 * o.storedBeforeAck) / o.acks, unit: '%', target: 'every order', met: o.storedBeforeAck === o.acks });
      if (o.synchronous === 'NORMAL' && o.cancelAll250.n > 0) out({ figure: `${label}: cancel_all of 250 open orders → ack and 250 cancels, p50`, value: o.cancelAll250.p50Ms, unit: 'ms' });
      if (o.synchronous !== 'FULL') {
        const parts = [
          ['toInsert', 'client send → insert (loopback, parse, checks)'],
          ['insert', 'insert (written; commits with the ack)'],
          ['venue', 'venue (submit, engine, ack back)'],
          ['recordAck', 'ack (written)'],
          ['toClient', 'group commit, encode, send, loopback, client parse'],
        ] as const;
        for (const [k, name] of parts) out({ figure: `${label}, part: ${name} p50`, value: o.segments[k][0], unit: 'µs' });
      }
    }
    const x = gateway.crossProcess;
    if (x) {
      const label = 'gateway: order → ack, NORMAL store, strategy in its own process';
      out({ figure: 'gateway: bare ws JSON echo, client in its own process, p99', value: x.echo.p99Us, unit: 'µs' });
      out({ figure: `${label} p50`, value: x.orderAck.p50Us, unit: 'µs', baseline: 'that echo p50', baselineValue: x.echo.p50Us, ratio: x.orderAck.p50Us / x.echo.p50Us });
      out({ figure: `${label} p99`, value: x.orderAck.p99Us, unit: 'µs', baseline: 'that echo p99', baselineValue: x.echo.p99Us, ratio: x.ratioP99ToEcho });
      out({ figure: `${label}: in the store at its ack`, value: (100 * x.storedBeforeAck) / x.acks, unit: '%', target: 'every order', met: x.storedBeforeAck === x.acks });
    }
    const sa = gateway.strategyAck;
    if (sa) {
      const label = 'gateway: sendNewOrder → onNewOrderAck, strategy on a RemoteEnv, NORMAL store';
      out({ figure: `${label} p50`, value: sa.p50Us, unit: 'µs', baseline: 'echo p50', baselineValue: echo.p50Us, ratio: sa.p50Us / echo.p50Us });
      out({ figure: `${label} p99`, value: sa.p99Us, unit: 'µs', baseline: 'echo p99', baselineValue: echo.p99Us, ratio: sa.p99Us / echo.p99Us });
    }
    const sc = gateway.strategyCancel;
    if (sc) {
      const label = 'gateway: sendCancelOrder → onOrderCancelled, strategy on a RemoteEnv, NORMAL store';
      out({ figure: `${label} p50`, value: sc.p50Us, unit: 'µs', baseline: 'echo p50', baselineValue: echo.p50Us, ratio: sc.p50Us / echo.p50Us });
      out({ figure: `${label} p99`, value: sc.p99Us, unit: 'µs', baseline: 'echo p99', baselineValue: echo.p99Us, ratio: sc.p99Us / echo.p99Us });
    }
    out({ figure: 'gateway: md fan-out, venue alone (no subscriber)', value: gateway.fanoutBaselinePerSec, unit: 'ev/s' });
    for (const f of gateway.fanout) {
      out({ figure: `gateway: md fan-out, ${f.clients} strateg${f.clients === 1 ? 'y' : 'ies'}, per client`, value: f.perClientPerSec, unit: 'ev/s', baseline: 'venue alone', baselineValue: gateway.fanoutBaselinePerSec, ratio: f.perClientPerSec / gateway.fanoutBaselinePerSec });
      console.log(`    (${fmt(f.totalPerSec)} ev/s to all; slowest client ${fmt(f.minClientPerSec)} ev/s; venue published ${fmt(f.publishedPerSec)} ev/s meanwhile; ${f.framesPerClientPerSec.toFixed(0)} md frames/s per client; slow-consumer pauses ${f.slowConsumerPauses})`);
    }

    // Peak RSS, each replay in its own process.
    console.log('\npeak RSS — replay (BBO strategy) in a child process, process.resourceUsage().maxRSS');
    const rss: Array<{ source: string; events: number; seconds: number; maxRssMB: number }> = [];
    const specs = [synPath, `synthetic:${EVENTS}`, ...(QUICK ? [] : [`synthetic:${EVENTS * 10}`])];
    // The children run concurrently (2 cores; their RSS does not depend on it): their ev/s is informative only.
    const run = (spec: string) =>
      new Promise<(typeof rss)[number]>((resolve, reject) => {
        // Old space capped at 96 MB: V8 otherwise lets a long run's heap grow into garbage it
        // has not yet collected (a 100 M run peaked at 321 MB with the default limit, 170 MB
        // capped). With the cap a leak would end the run with an out-of-memory error, so a
        // run that completes proves the live set stays flat.
        execFile(process.execPath, ['--max-old-space-size=96', '--import', 'tsx', join(ROOT, 'bench/rss.ts'), spec], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 }, (err, stdout) => {
          if (err) reject(err);
          else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as (typeof rss)[number]);
        });
      });
    const results = await Promise.all(specs.map(run));
    for (const [k, r] of results.entries()) {
      rss.push(r);
      const label = specs[k] === synPath ? `${fmt(r.events)} events from the .tlrec` : `${fmt(r.events)} events generated on the fly`;
      const big = r.events >= 100e6;
      out({ figure: `peak RSS, ${label}`, value: r.maxRssMB, unit: 'MB', ...(big ? { target: '< 300 MB at 100 M', met: r.maxRssMB < 300 } : {}) });
      console.log(`    (${r.seconds.toFixed(1)} s, ${fmt(r.events / r.seconds)} ev/s, run concurrently)`);
    }
    if (QUICK) console.log('    100 M run skipped (BENCH_QUICK=1)');
    const onFly = rss.filter((r) => r.source.startsWith('synthetic:'));
    if (onFly.length === 2) {
      out({ figure: 'peak RSS growth 10× events (100 M / 10 M)', value: onFly[1]!.maxRssMB / onFly[0]!.maxRssMB, unit: '×', ratio: onFly[1]!.maxRssMB / onFly[0]!.maxRssMB });
    }

    const json = { date, machine, quick: QUICK, repeat: REPEAT, events: { synthetic: synN, amzn: amznN }, replay: { synthetic: syn, amzn }, rss, matching: { orders: ORDERS, identical: same, tradeloop: ORDERS / tlS, nodejsOrderBook: ORDERS / nobS }, queueModels, gateway, rows, seconds: (Date.now() - t0) / 1000 };
    mkdirSync(join(ROOT, 'out'), { recursive: true });
    writeFileSync(join(ROOT, 'out/bench.json'), JSON.stringify(json, null, 2) + '\n');
    console.log(`\nwrote out/bench.json; ${((Date.now() - t0) / 1000).toFixed(0)} s in all`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
