/**
 * The HTML report of a run: one self-contained file (the charting library and the data are
 * inlined; viewing it needs no network) with the summary table and four charts — mid price
 * with the strategy's fills, net PnL, position, and the order-latency histogram.
 * Charts: TradingView Lightweight Charts (Apache-2.0), read from the installed
 * `lightweight-charts` package when the report is written.
 * @module
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RecordingData, Series } from './recorder.js';
import { summaryRows, type InstrumentSummary, type RunSummary } from './summary.js';

/** Options of {@link writeReport}. */
export interface ReportOptions {
  /** IANA timezone the chart axes are shown in (default `'UTC'`). */
  timeZone?: string;
  /** Page title (default: `tradeloop · <strategy>`). */
  title?: string;
}

/** Number of charts a report draws (`window.__tradeloopReport.charts`). */
export const REPORT_CHARTS = 4;

let libCache: string | undefined;
/** The standalone production build of lightweight-charts, as script text. */
function chartLibrary(): string {
  if (libCache === undefined) {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('lightweight-charts/package.json');
    libCache = readFileSync(join(dirname(pkg), 'dist', 'lightweight-charts.standalone.production.js'), 'utf8');
  }
  return libCache;
}

/** Most points per time series in the page: longer runs are shown in coarser buckets. */
const MAX_POINTS = 30_000;

/** A series for the page: bucket start times in seconds (delta-encoded) and the last value of each bucket. */
interface PageSeries {
  /** First time, then differences to the previous one; seconds since the epoch. */
  dt: number[];
  v: number[];
}

/** Last value per `bucket`-second bucket, rounded to `digits` decimals. */
function bucketed(s: Series, bucket: number, digits: number): PageSeries {
  const dt: number[] = [];
  const v: number[] = [];
  const f = 10 ** digits;
  let prev = Number.NaN;
  let abs = 0;
  for (let i = 0; i < s.t.length; i++) {
    const sec = Math.floor(s.t[i]! / 1e6 / bucket) * bucket;
    const x = Math.round(s.v[i]! * f) / f;
    if (sec === prev) {
      v[v.length - 1] = x;
      continue;
    }
    dt.push(dt.length === 0 ? sec : sec - abs);
    v.push(x);
    abs = sec;
    prev = sec;
  }
  return { dt, v };
}

/** A "nice" bin width (1, 2 or 5 × 10^k) of at least `raw`. */
function niceWidth(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** Histogram bins of the ack and reject latencies on a shared grid: [bin start µs, acks, rejects]. */
function latencyBins(ack: readonly number[], reject: readonly number[]): { width: number; bins: Array<[number, number, number]> } {
  let min = Infinity;
  let max = -Infinity;
  for (const a of [ack, reject])
    for (const x of a) {
      if (x < min) min = x;
      if (x > max) max = x;
    }
  if (!Number.isFinite(min)) return { width: 1, bins: [] };
  const n = ack.length + reject.length;
  const width = max === min ? niceWidth(Math.max(1, Math.abs(min) / 10)) : niceWidth((max - min) / Math.min(60, Math.max(5, Math.ceil(Math.sqrt(n)))));
  // At least 11 bins, the data centred (one bin alone would fill the chart).
  const used = Math.floor(max / width) - Math.floor(min / width) + 1;
  const pad = Math.max(1, Math.ceil((11 - used) / 2));
  const first = Math.max(Math.min(0, Math.floor(min / width)), Math.floor(min / width) - pad);
  const count = Math.floor(max / width) + pad - first + 1;
  const bins: Array<[number, number, number]> = [];
  for (let i = 0; i < count; i++) bins.push([(first + i) * width, 0, 0]);
  for (const x of ack) bins[Math.floor(x / width) - first]![1]++;
  for (const x of reject) bins[Math.floor(x / width) - first]![2]++;
  return { width, bins };
}

/**
 * The chart-ready data embedded in the page. Times are seconds, in buckets of `bucket`
 * seconds (1 unless the run is longer than {@link MAX_POINTS} seconds); the page puts the
 * three time charts on the union of their times so that they line up.
 */
function chartData(rec: RecordingData) {
  const spanSec = Math.max(0, (rec.endTs - rec.startTs) / 1e6);
  const bucket = Math.max(1, Math.ceil(spanSec / MAX_POINTS));
  const instruments = rec.instruments.map((r) => {
    const f = r.fills;
    const fills: Array<[s: number, side: number, price: number, qty: number, maker: number]> = [];
    for (let i = 0; i < f.t.length; i++) fills.push([Math.floor(f.t[i]! / 1e6 / bucket) * bucket, f.side[i]!, f.price[i]!, f.qty[i]!, f.maker[i]!]);
    return { name: r.name, exchange: r.exchange, quoteCurrency: r.quoteCurrency, mid: bucketed(r.mid, bucket, 6), position: bucketed(r.position, bucket, 8), fills };
  });
  return { startTs: rec.startTs, endTs: rec.endTs, bucket, instruments, equity: bucketed(rec.equity, bucket, 6), latency: latencyBins(rec.latency.ack, rec.latency.reject) };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
/** JSON safe inside a `<script>` element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** The page's own script: builds the charts from the embedded data. */
const PAGE_SCRIPT = String.raw`
(function () {
  var LC = window.LightweightCharts;
  var D = JSON.parse(document.getElementById('tl-data').textContent);
  var TZ = D.timeZone;
  var fmtTime = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  var fmtDay = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, year: 'numeric', month: 'short', day: '2-digit' });
  var fmtFull = new Intl.DateTimeFormat('en-GB', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  function tick(t, type) { var d = new Date(t * 1000); return type < 3 ? fmtDay.format(d) : fmtTime.format(d); }
  var base = {
    autoSize: true,
    layout: { background: { color: '#ffffff' }, textColor: '#222', attributionLogo: true },
    grid: { vertLines: { color: '#eee' }, horzLines: { color: '#eee' } },
    rightPriceScale: { borderColor: '#ccc' },
  };
  function timeChart(id) {
    return LC.createChart(document.getElementById(id), Object.assign({}, base, {
      localization: { timeFormatter: function (t) { return fmtFull.format(new Date(t * 1000)) + ' ' + TZ; } },
      // A day is ~23 400 one-second points: let fitContent squeeze them into the width.
      timeScale: { timeVisible: true, secondsVisible: true, borderColor: '#ccc', tickMarkFormatter: tick, minBarSpacing: 0.001 },
    }));
  }
  var COLORS = ['#1f77b4', '#9467bd', '#8c564b', '#17becf'];
  var charts = [];
  function decode(p) { var t = [], a = 0; for (var i = 0; i < p.dt.length; i++) { a += p.dt[i]; t.push(a); } return { t: t, v: p.v }; }
  // One time grid for the three time charts (lightweight-charts spaces points by index):
  // the union of every series' times and the fills'.
  var seen = new Set();
  function addTimes(s) { s.t.forEach(function (x) { seen.add(x); }); return s; }
  var insts = D.instruments.map(function (inst) {
    inst.fills.forEach(function (f) { seen.add(f[0]); });
    return { inst: inst, mid: addTimes(decode(inst.mid)), position: addTimes(decode(inst.position)) };
  });
  var equity = addTimes(decode(D.equity));
  var grid = Array.from(seen).sort(function (a, b) { return a - b; });
  /** The series on the grid, each point holding the last value at or before it (whitespace before the first). */
  function onGrid(s) {
    var out = [], j = 0, last;
    for (var i = 0; i < grid.length; i++) {
      while (j < s.t.length && s.t[j] <= grid[i]) last = s.v[j++];
      out.push(last === undefined ? { time: grid[i] } : { time: grid[i], value: last });
    }
    return out;
  }

  // 1. Mid price with the strategy's fills.
  var price = timeChart('chart-price');
  insts.forEach(function (x, k) {
    var inst = x.inst;
    var s = price.addSeries(LC.LineSeries, { color: COLORS[k % COLORS.length], lineWidth: 1, title: inst.name, priceScaleId: k === 0 ? 'right' : k === 1 ? 'left' : 'inst' + k, priceFormat: { type: 'price', precision: 4, minMove: 0.0001 } });
    s.setData(onGrid(x.mid));
    var labels = inst.fills.length <= 40;
    var markers = inst.fills.map(function (f) {
      var buy = f[1] > 0;
      return { time: f[0], position: 'atPriceMiddle', price: f[2], shape: buy ? 'arrowUp' : 'arrowDown', color: buy ? '#2e7d32' : '#c62828', size: 1, text: labels ? (buy ? 'B ' : 'S ') + f[3] + (f[4] ? '' : ' T') : '' };
    });
    if (markers.length) LC.createSeriesMarkers(s, markers);
  });
  if (insts.length > 1) price.applyOptions({ leftPriceScale: { visible: true, borderColor: '#ccc' } });
  charts.push(price);

  // 2. Net PnL.
  var eq = timeChart('chart-equity');
  var eqs = eq.addSeries(LC.BaselineSeries, { baseValue: { type: 'price', price: 0 }, lineWidth: 2, title: 'net PnL', priceFormat: { type: 'price', precision: 2, minMove: 0.01 } });
  eqs.setData(onGrid(equity));
  charts.push(eq);

  // 3. Position (a step line per instrument).
  var pos = timeChart('chart-position');
  insts.forEach(function (x, k) {
    var s = pos.addSeries(LC.LineSeries, { color: COLORS[k % COLORS.length], lineWidth: 2, lineType: 1, title: x.inst.name, priceFormat: { type: 'price', precision: 0, minMove: 1 } });
    s.setData(onGrid(x.position));
  });
  charts.push(pos);

  // 4. Order-latency histogram (numeric horizontal axis: µs).
  var lat = LC.createOptionsChart(document.getElementById('chart-latency'), Object.assign({}, base, {
    localization: { precision: 0, timeFormatter: function (v) { return v + ' µs'; } },
    timeScale: { borderColor: '#ccc' },
  }));
  var bins = D.latency.bins;
  var acks = lat.addSeries(LC.HistogramSeries, { color: '#1f77b4', title: 'acks', lastValueVisible: false, priceLineVisible: false, priceFormat: { type: 'volume' } });
  acks.setData(bins.map(function (b) { return { time: b[0], value: b[1] }; }));
  if (bins.some(function (b) { return b[2] > 0; })) {
    var rej = lat.addSeries(LC.HistogramSeries, { color: 'rgba(198,40,40,0.7)', title: 'rejects', lastValueVisible: false, priceLineVisible: false, priceFormat: { type: 'volume' } });
    rej.setData(bins.map(function (b) { return { time: b[0], value: b[2] }; }));
  }
  lat.timeScale().fitContent();
  charts.push(lat);

  // The three time charts share their grid: show all of it, and scroll and zoom together.
  var timeCharts = [price, eq, pos];
  timeCharts.forEach(function (c) { c.timeScale().fitContent(); });
  var syncing = false;
  timeCharts.forEach(function (c) {
    c.timeScale().subscribeVisibleLogicalRangeChange(function (r) {
      if (syncing || !r) return;
      syncing = true;
      timeCharts.forEach(function (o) { if (o !== c) o.timeScale().setVisibleLogicalRange(r); });
      syncing = false;
    });
  });

  window.__tradeloopReport = { charts: charts.length, drawn: true };
})();
`;

/**
 * Builds the report page.
 * @param rec what the run recorded (`Recorder.data()`).
 * @param summary the run's summary.
 * @param opts see {@link ReportOptions}.
 * @returns the HTML text.
 */
export function renderReport(rec: RecordingData, summary: RunSummary, opts: ReportOptions = {}): string {
  const title = opts.title ?? `tradeloop · ${summary.strategy}`;
  const data = { ...chartData(rec), timeZone: opts.timeZone ?? 'UTC' };
  const rows = summaryRows(summary)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  const cell = (f: (i: InstrumentSummary) => string) => summary.instruments.map((i) => `<td>${escapeHtml(f(i))}</td>`).join('');
  const instFields: Array<[string, (i: InstrumentSummary) => string]> = [
    ['position', (i) => `${i.position} @ ${i.avgEntryPrice}`],
    ['realised PnL', (i) => i.realizedPnl.toFixed(4)],
    ['unrealised PnL', (i) => i.unrealizedPnl.toFixed(4)],
    ['fees', (i) => i.fees.toFixed(4)],
    ['volume', (i) => String(i.volume)],
    ['notional', (i) => i.notional.toFixed(2)],
    ['fills', (i) => String(i.fills)],
    ['max |position|', (i) => String(i.inventory.maxAbsPosition)],
    ['avg |position|', (i) => i.inventory.avgAbsPosition.toFixed(2)],
    ['time flat', (i) => `${i.inventory.flatPct.toFixed(1)} %`],
  ];
  const instRows = [`<tr><th></th>${cell((i) => i.name)}</tr>`, ...instFields.map(([k, f]) => `<tr><th>${escapeHtml(k)}</th>${cell(f)}</tr>`)].join('\n');
  const lat = data.latency;
  const tz = escapeHtml(data.timeZone);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; padding: 16px 24px; color: #222; background: #fafafa; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  h2 { font-size: 15px; margin: 0 0 6px; }
  .grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
  section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px; overflow-x: auto; }
  section.wide { grid-column: 1 / -1; }
  .chart { height: 320px; position: relative; }
  .note { color: #666; font-size: 12px; margin: 4px 0 0; }
  table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 2px 10px 2px 0; vertical-align: top; }
  th { font-weight: 600; white-space: nowrap; }
  .inst th, .inst td { border-bottom: 1px solid #eee; padding-right: 12px; }
  .buy { color: #2e7d32; } .sell { color: #c62828; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<div class="grid">
<section><h2>Summary</h2><table class="summary">
${rows}
</table></section>
<section><h2>Instruments</h2><table class="inst">
${instRows}
</table>
<p class="note">PnL and fees in quote currency; positions in instrument units; times on the axes in ${tz}. Definitions: docs/results.md.</p></section>
<section class="wide"><h2>Mid price and fills</h2><div class="chart" id="chart-price"></div>
<p class="note"><span class="buy">▲ buy</span> · <span class="sell">▼ sell</span> at the fill price; label (up to 40 fills): side, qty, “T” for a taker fill. Points every ${data.bucket} s at most (the mid sampled at most once per second and at every fill), evenly spaced: gaps in time are not drawn to scale. Scroll or zoom one chart and the three follow.</p></section>
<section><h2>Net PnL</h2><div class="chart" id="chart-equity"></div>
<p class="note">Realised + unrealised (marked at mid) − fees.</p></section>
<section><h2>Position</h2><div class="chart" id="chart-position"></div></section>
<section class="wide"><h2>Order latency</h2><div class="chart" id="chart-latency"></div>
<p class="note">sendNewOrder → onNewOrderAck (blue) and → venue onNewOrderReject (red), simulated µs; bins of ${lat.width} µs. ${rec.latency.ack.length} acks, ${rec.latency.reject.length} rejects.</p></section>
</div>
<script id="tl-data" type="application/json">${scriptJson(data)}</script>
<script>${chartLibrary().replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

/**
 * Writes the self-contained HTML report of a run to `path` (its directory is created).
 * @param path file to write, e.g. `out/demo/report.html`.
 * @param rec what the run recorded (`BacktestResult.recorder.data()`).
 * @param summary the run's summary.
 * @param opts see {@link ReportOptions}.
 */
export function writeReport(path: string, rec: RecordingData, summary: RunSummary, opts: ReportOptions = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderReport(rec, summary, opts));
}
