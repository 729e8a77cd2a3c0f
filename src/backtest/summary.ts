/**
 * Run results: counts, PnL and drawdown from the order tracker, marked at the last mid.
 * @module
 */
import type { OrderTracker } from '../core/order-tracker.js';

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

/** Builds the summary of a run. */
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
}): RunSummary {
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
  };
}

/** The summary as aligned text lines for the console. */
export function formatSummary(s: RunSummary): string {
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
  const w = Math.max(...rows.map((r) => r[0].length));
  return ['── backtest summary ──', ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`)].join('\n');
}
