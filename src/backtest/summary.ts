/**
 * Run results: counts, PnL and drawdown from the order tracker, marked at the last mid;
 * maker/taker split, Sharpe ratio, inventory and order-latency figures from a
 * {@link Recorder}. Every field with its unit: `docs/results.md`.
 * @module
 */
import type { OrderTracker } from '../core/order-tracker.js';

/** Fills of one liquidity kind (maker or taker), summed over instruments. */
export interface LiquiditySplit {
  /** Number of fills. */
  fills: number;
  /** Filled quantity (instrument units, e.g. shares). */
  volume: number;
  /** Σ price × qty × multiplier, quote currency. */
  notional: number;
  /** Fees charged, quote currency (negative for a net rebate). */
  fees: number;
}

/** Fills split by liquidity: `maker` added liquidity (rested), `taker` removed it. */
export interface LiquidityBreakdown {
  maker: LiquiditySplit;
  taker: LiquiditySplit;
}

/**
 * Sharpe ratio of the net-PnL curve on one-minute returns.
 *
 * The run is cut into minutes from its start (`startTs`, not the clock's minute); the
 * return of minute k is the change of net PnL over it, in quote currency (the last minute
 * may be partial). `perMinute` = mean / sample standard deviation (n − 1) of those
 * returns; `annualized` = `perMinute` × √`periodsPerYear`. The default `periodsPerYear`
 * is 252 × 390 = 98 280 (US equity regular sessions: 252 days of 390 minutes); set
 * {@link RecorderOptions.periodsPerYear} for other markets (525 600 for 24/7). Because the
 * returns are PnL changes, not fractions of capital, the ratio does not depend on the
 * capital behind the strategy. Both are `null` with fewer than two minutes or a constant curve.
 */
export interface SharpeStats {
  /** mean / std of the per-minute returns (dimensionless), or null. */
  perMinute: number | null;
  /** `perMinute` × √`periodsPerYear` (dimensionless), or null. */
  annualized: number | null;
  /** Mean per-minute change of net PnL, quote currency. */
  meanPerMinute: number;
  /** Sample standard deviation of the per-minute change of net PnL, quote currency. */
  stdPerMinute: number;
  /** Number of minute returns. */
  minutes: number;
  /** Minutes per year used to annualise. */
  periodsPerYear: number;
}

/**
 * Inventory over the run period (`startTs` → `endTs`), from the position after each fill.
 * Quantities in instrument units; at run level, |position| is summed over instruments.
 */
export interface InventoryStats {
  /** Largest |position| held at any time. */
  maxAbsPosition: number;
  /** Time-weighted mean of |position| over the run period. */
  avgAbsPosition: number;
  /** Share of the run period spent flat (every position zero), percent 0–100. */
  flatPct: number;
}

/**
 * Distribution of one latency, µs of simulated time. Percentiles use the nearest-rank
 * method (the smallest sample with at least p % of the samples at or below it); all but
 * `count` are null when there are no samples.
 */
export interface LatencyStats {
  /** Number of samples. */
  count: number;
  /** Mean, µs. */
  mean: number | null;
  /** Median, µs. */
  p50: number | null;
  /** 90th percentile, µs. */
  p90: number | null;
  /** 99th percentile, µs. */
  p99: number | null;
  /** Largest sample, µs. */
  max: number | null;
}

/**
 * Order-entry latency: from `sendNewOrder` (the validated order leaving the kernel) to the
 * venue's answer reaching the strategy, in simulated µs. Requests refused by the kernel's
 * own validation never reach the venue and are not counted.
 */
export interface OrderLatency {
  /** `sendNewOrder` → `onNewOrderAck`. */
  ack: LatencyStats;
  /** `sendNewOrder` → `onNewOrderReject` sent by the venue. */
  reject: LatencyStats;
}

/** Recorder figures that go into a {@link RunSummary} (see {@link Recorder.stats}). */
export interface RunStats {
  liquidity: LiquidityBreakdown;
  sharpe: SharpeStats;
  /** Over all instruments. */
  inventory: InventoryStats;
  /** Per instrument, keyed `exchange|instrumentId`. */
  instrumentInventory: Map<string, InventoryStats>;
  latency: OrderLatency;
}

/** Per-instrument figures of a run. PnL and fees in the instrument's quote currency. */
export interface InstrumentSummary {
  exchange: string;
  instrumentId: number;
  name: string;
  position: string;
  avgEntryPrice: string;
  realizedPnl: number;
  unrealizedPnl: number;
  fees: number;
  volume: number;
  notional: number;
  fills: number;
  /** Inventory of this instrument over the run. */
  inventory: InventoryStats;
}

/** What a run prints and writes to `summary.json`. */
export interface RunSummary {
  strategy: string;
  startTs: number;
  endTs: number;
  events: number;
  orders: number;
  fills: number;
  volume: number;
  notional: number;
  fees: number;
  realizedPnl: number;
  unrealizedPnl: number;
  /** realised + unrealised − fees. */
  netPnl: number;
  /** Largest fall of net PnL from its running peak (≥ 0). */
  maxDrawdown: number;
  callbackErrors: number;
  stopAcked: boolean;
  instruments: InstrumentSummary[];
  /** Fills, volume, notional and fees split by maker / taker. */
  liquidity: LiquidityBreakdown;
  /** Sharpe ratio of net PnL on one-minute returns. */
  sharpe: SharpeStats;
  /** Inventory over all instruments (|position| summed). */
  inventory: InventoryStats;
  /** Order-to-ack and order-to-reject latency, µs. */
  latency: OrderLatency;
}

/** Tracks net PnL's running peak and the deepest fall from it. */
export class DrawdownTracker {
  private peak = 0;
  private _max = 0;
  /** Feeds a new net PnL value. */
  update(equity: number): void {
    if (equity > this.peak) this.peak = equity;
    const dd = this.peak - equity;
    if (dd > this._max) this._max = dd;
  }
  /** Largest drawdown so far. */
  get max(): number {
    return this._max;
  }
}

/** Net PnL over every position of the tracker. */
export function netPnl(tracker: OrderTracker): number {
  let sum = 0;
  for (const p of tracker.positions()) sum += p.realizedPnl + p.unrealizedPnl - p.fees;
  return sum;
}

const round = (x: number) => Math.round(x * 1e8) / 1e8;
const roundOrNull = (x: number | null) => (x === null ? null : round(x));

const emptySplit = (): LiquiditySplit => ({ fills: 0, volume: 0, notional: 0, fees: 0 });
const emptyLatency = (): LatencyStats => ({ count: 0, mean: null, p50: null, p90: null, p99: null, max: null });
const FLAT: InventoryStats = { maxAbsPosition: 0, avgAbsPosition: 0, flatPct: 100 };

/** Default annualisation of {@link SharpeStats}: 252 sessions of 390 minutes. */
export const EQUITY_MINUTES_PER_YEAR = 252 * 390;

const roundSplit = (x: LiquiditySplit): LiquiditySplit => ({ fills: x.fills, volume: round(x.volume), notional: round(x.notional), fees: round(x.fees) });
const roundInventory = (x: InventoryStats): InventoryStats => ({ maxAbsPosition: round(x.maxAbsPosition), avgAbsPosition: round(x.avgAbsPosition), flatPct: round(x.flatPct) });
const roundLatency = (x: LatencyStats): LatencyStats => ({ count: x.count, mean: roundOrNull(x.mean), p50: x.p50, p90: x.p90, p99: x.p99, max: x.max });

/**
 * Builds the summary of a run. Without `stats` (no recorder) the maker/taker, Sharpe,
 * inventory and latency fields are present but empty.
 */
export function summarize(args: {
  strategy: string;
  tracker: OrderTracker;
  names: Map<string, string>;
  startTs: number;
  endTs: number;
  events: number;
  maxDrawdown: number;
  callbackErrors: number;
  stopAcked: boolean;
  /** Figures from the run's recorder. */
  stats?: RunStats;
}): RunSummary {
  const st = args.stats;
  const instruments: InstrumentSummary[] = [];
  let volume = 0,
    notional = 0,
    fees = 0,
    realized = 0,
    unrealized = 0,
    fills = 0;
  for (const p of args.tracker.positions()) {
    instruments.push({
      exchange: p.exchange,
      instrumentId: p.instrumentId,
      name: args.names.get(`${p.exchange}|${p.instrumentId}`) ?? String(p.instrumentId),
      position: p.position.toString(),
      avgEntryPrice: p.avgEntryPrice.toString(),
      realizedPnl: round(p.realizedPnl),
      unrealizedPnl: round(p.unrealizedPnl),
      fees: round(p.fees),
      volume: p.volume,
      notional: round(p.notional),
      fills: p.fills,
      inventory: roundInventory(st?.instrumentInventory.get(`${p.exchange}|${p.instrumentId}`) ?? FLAT),
    });
    volume += p.volume;
    notional += p.notional;
    fees += p.fees;
    realized += p.realizedPnl;
    unrealized += p.unrealizedPnl;
    fills += p.fills;
  }
  return {
    strategy: args.strategy,
    startTs: args.startTs,
    endTs: args.endTs,
    events: args.events,
    orders: args.tracker.orderCount,
    fills,
    volume,
    notional: round(notional),
    fees: round(fees),
    realizedPnl: round(realized),
    unrealizedPnl: round(unrealized),
    netPnl: round(realized + unrealized - fees),
    maxDrawdown: round(args.maxDrawdown),
    callbackErrors: args.callbackErrors,
    stopAcked: args.stopAcked,
    instruments,
    liquidity: { maker: roundSplit(st?.liquidity.maker ?? emptySplit()), taker: roundSplit(st?.liquidity.taker ?? emptySplit()) },
    sharpe: st
      ? { ...st.sharpe, perMinute: roundOrNull(st.sharpe.perMinute), annualized: roundOrNull(st.sharpe.annualized), meanPerMinute: round(st.sharpe.meanPerMinute), stdPerMinute: round(st.sharpe.stdPerMinute) }
      : { perMinute: null, annualized: null, meanPerMinute: 0, stdPerMinute: 0, minutes: 0, periodsPerYear: EQUITY_MINUTES_PER_YEAR },
    inventory: roundInventory(st?.inventory ?? FLAT),
    latency: { ack: roundLatency(st?.latency.ack ?? emptyLatency()), reject: roundLatency(st?.latency.reject ?? emptyLatency()) },
  };
}

const fmt = (x: number | null, digits: number) => (x === null ? 'n/a' : x.toFixed(digits));
const fmtLatency = (l: LatencyStats) => (l.count === 0 ? 'none' : `p50 ${l.p50} · p90 ${l.p90} · p99 ${l.p99} · max ${l.max} µs (n=${l.count})`);
const fmtSplit = (x: LiquiditySplit) => `${x.fills} fills · volume ${x.volume} · notional ${x.notional.toFixed(2)} · fees ${x.fees.toFixed(4)}`;

/**
 * The summary as label/value rows, in print order: what {@link formatSummary} aligns and
 * the HTML report tabulates.
 */
export function summaryRows(s: RunSummary): Array<[label: string, value: string]> {
  const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();
  const rows: Array<[string, string]> = [
    ['strategy', s.strategy],
    ['period', `${iso(s.startTs)} → ${iso(s.endTs)}`],
    ['market events', String(s.events)],
    ['orders', String(s.orders)],
    ['fills', String(s.fills)],
    ['volume', String(s.volume)],
    ['notional', s.notional.toFixed(2)],
    ['fees', s.fees.toFixed(4)],
    ['realised PnL', s.realizedPnl.toFixed(4)],
    ['unrealised PnL', s.unrealizedPnl.toFixed(4)],
    ['net PnL', s.netPnl.toFixed(4)],
    ['max drawdown', s.maxDrawdown.toFixed(4)],
  ];
  for (const i of s.instruments) rows.push([`position ${i.name}`, `${i.position} @ ${i.avgEntryPrice}`]);
  if (s.callbackErrors) rows.push(['callback errors', String(s.callbackErrors)]);
  if (!s.stopAcked) rows.push(['stop ack', 'not received']);
  rows.push(['maker', fmtSplit(s.liquidity.maker)]);
  rows.push(['taker', fmtSplit(s.liquidity.taker)]);
  const sh = s.sharpe;
  rows.push(['sharpe (annualised)', sh.annualized === null ? `n/a (${sh.minutes} min)` : `${fmt(sh.annualized, 2)} (per-minute ${fmt(sh.perMinute, 4)} × √${sh.periodsPerYear}, ${sh.minutes} min)`]);
  rows.push(['max |position|', String(s.inventory.maxAbsPosition)]);
  rows.push(['avg |position|', `${s.inventory.avgAbsPosition.toFixed(2)} (time-weighted)`]);
  rows.push(['time flat', `${s.inventory.flatPct.toFixed(1)} %`]);
  rows.push(['order→ack latency', fmtLatency(s.latency.ack)]);
  if (s.latency.reject.count) rows.push(['order→reject latency', fmtLatency(s.latency.reject)]);
  return rows;
}

/** The summary as aligned text lines for the console. */
export function formatSummary(s: RunSummary): string {
  const rows = summaryRows(s);
  const w = Math.max(...rows.map((r) => r[0].length));
  return ['── backtest summary ──', ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`)].join('\n');
}
