/**
 * Collects what a run's results and HTML report are made of, cheaply: numbers in plain
 * (column) arrays, series sampled at most once per simulated second plus at every fill.
 *
 * The backtest feeds it from three places: market events (mid price), the venue seam
 * ({@link observeVenue}: orders sent, acks, rejects, fills — the same path whether or not
 * a journal is written), and the runner's marks (net PnL). Nothing here reads the wall
 * clock: every time is the simulated time the runner passes in, µs since the epoch.
 * Definitions of every figure: `docs/results.md`.
 * @module
 */
import { Decimal } from '../api/decimal.js';
import { Liquidity, Side } from '../api/enums.js';
import type { NewOrderAck, NewOrderReject, OrderExecution } from '../api/events.js';
import type { Instrument } from '../api/instrument.js';
import type { Venue, VenueEvent, VenueRequest } from '../core/venue.js';
import { EQUITY_MINUTES_PER_YEAR, type InventoryStats, type LatencyStats, type LiquiditySplit, type RunStats, type SharpeStats } from './summary.js';

/** Options of a {@link Recorder}. */
export interface RecorderOptions {
  /** Mid-price sampling interval per instrument, µs of simulated time (one sample per interval, plus one at every fill). Default 1 000 000 (1 s). */
  midIntervalUs?: number;
  /** Net-PnL sampling interval, µs of simulated time (plus one sample after every fill). Default 1 000 000 (1 s). */
  equityIntervalUs?: number;
  /** Minutes per year used to annualise the Sharpe ratio. Default 98 280 (252 × 390, US equities). */
  periodsPerYear?: number;
}

/** A time series as two parallel columns. */
export interface Series {
  /** Times, µs since the epoch (simulated), non-decreasing. */
  t: number[];
  /** Values, one per time. */
  v: number[];
}

/** The strategy's fills of one instrument, as parallel columns (one entry per fill). */
export interface FillColumns {
  /** Time the fill reached the strategy (`recvTs`), µs since the epoch. */
  t: number[];
  /** +1 buy, −1 sell. */
  side: number[];
  /** Fill price, quote currency. */
  price: number[];
  /** Fill quantity, instrument units. */
  qty: number[];
  /** 1 maker (added liquidity), 0 taker. */
  maker: number[];
  /** Fee, quote currency (negative for a rebate). */
  fee: number[];
}

/** Everything recorded about one instrument. */
export interface InstrumentRecording {
  exchange: string;
  instrumentId: number;
  name: string;
  quoteCurrency: string;
  /** Mid price ((best bid + best ask) / 2), quote currency: at most one sample per `midIntervalUs`, plus one at each fill. */
  mid: Series;
  /** Position (signed, instrument units) from the run start and after each fill, and at the run end. */
  position: Series;
  fills: FillColumns;
}

/** A run's recording: plain JSON-serializable data, the input of `writeReport`. */
export interface RecordingData {
  /** Run start, µs since the epoch. */
  startTs: number;
  /** Run end, µs since the epoch. */
  endTs: number;
  instruments: InstrumentRecording[];
  /** Net PnL (realised + unrealised − fees, quote currency) at most once per `equityIntervalUs`, after every fill, and at the start and end. */
  equity: Series;
  /** Net PnL at the end of each minute of the run (minutes counted from `startTs`; the last may be partial). */
  minuteEquity: number[];
  /** Order-entry latency samples, µs of simulated time, in order of arrival. */
  latency: {
    /** `sendNewOrder` → `onNewOrderAck`. */
    ack: number[];
    /** `sendNewOrder` → venue `onNewOrderReject`. */
    reject: number[];
  };
}

const MINUTE_US = 60_000_000;

/**
 * Percentile by nearest rank: the smallest sample such that at least `p` % of the
 * samples are at or below it. NaN for no samples.
 * @param sorted samples in ascending order.
 * @param p percent, 0–100.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil((p * n) / 100);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
}

/** Count, mean, p50/p90/p99 (nearest rank) and max of latency samples in µs. */
export function latencyStats(samples: ArrayLike<number>): LatencyStats {
  const n = samples.length;
  if (n === 0) return { count: 0, mean: null, p50: null, p90: null, p99: null, max: null };
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { count: n, mean: sum / n, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[n - 1]! };
}

/**
 * Sharpe ratio of per-period returns: mean / sample standard deviation (n − 1), and that
 * × √`periodsPerYear`. Null ratios for fewer than two returns or a constant series.
 * @param returns per-minute changes of net PnL, quote currency.
 * @param periodsPerYear periods (minutes) per year; default 98 280 = 252 × 390.
 */
export function sharpeRatio(returns: ArrayLike<number>, periodsPerYear: number = EQUITY_MINUTES_PER_YEAR): SharpeStats {
  const n = returns.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += returns[i]!;
  mean = n > 0 ? mean / n : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (returns[i]! - mean) ** 2;
  const std = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  // A constant curve has a std of rounding noise only: no ratio rather than a huge one.
  const defined = n > 1 && std > 1e-12 * Math.max(1, Math.abs(mean));
  const perMinute = defined ? mean / std : null;
  return {
    perMinute,
    annualized: perMinute === null ? null : perMinute * Math.sqrt(periodsPerYear),
    meanPerMinute: mean,
    stdPerMinute: std,
    minutes: n,
    periodsPerYear,
  };
}

/** Per-minute returns from the net PnL at each minute's end; the curve starts at 0. */
export function minuteReturns(minuteEquity: ArrayLike<number>): number[] {
  const out: number[] = [];
  let prev = 0;
  for (let i = 0; i < minuteEquity.length; i++) {
    out.push(minuteEquity[i]! - prev);
    prev = minuteEquity[i]!;
  }
  return out;
}

/**
 * Time-weighted inventory of a step function |position|(t), from a start time on.
 * Feed it every change in time order; read {@link InventoryMeter.stats} at the end.
 */
export class InventoryMeter {
  private lastTs: number;
  private abs = 0;
  private area = 0;
  private flatUs = 0;
  private max = 0;

  /** @param startTs start of the measured period, µs; |position| is 0 there. */
  constructor(private readonly startTs: number) {
    this.lastTs = startTs;
  }

  /** |position| is `abs` (instrument units, ≥ 0) from `ts` (µs) on. */
  update(ts: number, abs: number): void {
    this.advance(ts);
    this.abs = abs;
    if (abs > this.max) this.max = abs;
  }

  /** Figures over `startTs` → `endTs` (µs). */
  stats(endTs: number): InventoryStats {
    this.advance(endTs);
    const span = endTs - this.startTs;
    return {
      maxAbsPosition: this.max,
      avgAbsPosition: span > 0 ? this.area / span : this.abs,
      flatPct: span > 0 ? (100 * this.flatUs) / span : this.abs === 0 ? 100 : 0,
    };
  }

  private advance(ts: number): void {
    const dt = ts - this.lastTs;
    if (dt <= 0) return;
    this.area += this.abs * dt;
    if (this.abs === 0) this.flatUs += dt;
    this.lastTs = ts;
  }
}

interface InstState {
  readonly rec: InstrumentRecording;
  readonly multiplier: number;
  nextMidTs: number;
  pos: Decimal;
  readonly meter: InventoryMeter;
}

const emptySplit = (): LiquiditySplit => ({ fills: 0, volume: 0, notional: 0, fees: 0 });
const series = (): Series => ({ t: [], v: [] });

/**
 * Records one run. Call {@link Recorder.begin} once, feed it during the run, call
 * {@link Recorder.finish} at the end, then read {@link Recorder.stats} (summary figures)
 * and {@link Recorder.data} (the series, for `writeReport`). `runBacktest` does all of
 * this; pass your own instance (`BacktestOptions.recorder`) to change the options.
 */
export class Recorder {
  private readonly midIntervalUs: number;
  private readonly equityIntervalUs: number;
  private readonly periodsPerYear: number;
  private readonly insts = new Map<string, InstState>();
  private readonly byId = new Map<number, InstState>();
  private mid: (instrumentId: number) => number = () => Number.NaN;
  private startTs = 0;
  private endTs = 0;
  private finished = false;
  private readonly equity = series();
  private nextEquityTs = 0;
  private fillSinceEquity = false;
  private readonly minuteEquity: number[] = [];
  private nextMinuteTs = MINUTE_US;
  private lastEquity = 0;
  private readonly maker = emptySplit();
  private readonly taker = emptySplit();
  private meter = new InventoryMeter(0);
  private nonFlat = 0;
  /** `strategy|clientId` → time the new order was sent, µs. */
  private readonly sent = new Map<string, number>();
  private readonly ackUs: number[] = [];
  private readonly rejectUs: number[] = [];

  /** @param opts see {@link RecorderOptions}. */
  constructor(opts: RecorderOptions = {}) {
    this.midIntervalUs = positive('midIntervalUs', opts.midIntervalUs ?? 1_000_000);
    this.equityIntervalUs = positive('equityIntervalUs', opts.equityIntervalUs ?? 1_000_000);
    this.periodsPerYear = positive('periodsPerYear', opts.periodsPerYear ?? EQUITY_MINUTES_PER_YEAR);
  }

  /**
   * Starts the recording.
   * @param args.startTs run start, µs since the epoch; net PnL is 0 and every position flat there.
   * @param args.instruments instruments that may trade.
   * @param args.mid current mid price of an instrument (quote currency), NaN when a side is empty.
   */
  begin(args: { startTs: number; instruments: readonly Instrument[]; mid?: (instrumentId: number) => number }): void {
    this.startTs = this.endTs = args.startTs;
    if (args.mid) this.mid = args.mid;
    this.meter = new InventoryMeter(args.startTs);
    this.equity.t.push(args.startTs);
    this.equity.v.push(0);
    this.nextEquityTs = this.nextSlot(args.startTs, this.equityIntervalUs);
    this.nextMinuteTs = args.startTs + MINUTE_US;
    for (const i of args.instruments) this.instrument(i.exchange, i.instrumentId, i.name, i.quoteCurrency, i.multiplier);
  }

  /** A market event of `instrumentId` was applied to its book at `ts` (µs): samples the mid when its interval is due. */
  onMarketEvent(instrumentId: number, ts: number): void {
    const s = this.byId.get(instrumentId);
    if (s === undefined || ts < s.nextMidTs) return;
    const m = this.mid(instrumentId);
    if (!Number.isFinite(m)) return;
    s.rec.mid.t.push(ts);
    s.rec.mid.v.push(m);
    s.nextMidTs = this.nextSlot(ts, this.midIntervalUs);
  }

  /** A validated request left the kernel for the venue at `ts` (µs). */
  onRequest(ts: number, req: VenueRequest): void {
    if (req.type === 'NewOrder') this.sent.set(`${req.strategy}|${req.clientId}`, ts);
  }

  /** A venue event reached the kernel at `ts` (µs). */
  onVenueEvent(ts: number, e: VenueEvent): void {
    switch (e.cb) {
      case 'onNewOrderAck':
        return this.answered(ts, e.strategy, (e.ev as NewOrderAck).clientId, this.ackUs);
      case 'onNewOrderReject':
        return this.answered(ts, e.strategy, (e.ev as NewOrderReject).clientId, this.rejectUs);
      case 'onOrderExecution':
        return this.fill(ts, e.ev as OrderExecution);
    }
  }

  /** Net PnL (quote currency) as the runner marked it at `ts` (µs). */
  onEquity(ts: number, netPnl: number): void {
    // A minute's value is the last one marked at or before its end.
    while (ts > this.nextMinuteTs) {
      this.minuteEquity.push(this.lastEquity);
      this.nextMinuteTs += MINUTE_US;
    }
    this.lastEquity = netPnl;
    if (this.fillSinceEquity || ts >= this.nextEquityTs) {
      this.equity.t.push(ts);
      this.equity.v.push(netPnl);
      this.nextEquityTs = this.nextSlot(ts, this.equityIntervalUs);
      this.fillSinceEquity = false;
    }
  }

  /** Ends the recording at `endTs` (µs) with the final net PnL (quote currency). */
  finish(endTs: number, netPnl: number): void {
    if (this.finished) return;
    this.finished = true;
    this.endTs = Math.max(endTs, this.startTs);
    while (this.endTs > this.nextMinuteTs) {
      this.minuteEquity.push(this.lastEquity);
      this.nextMinuteTs += MINUTE_US;
    }
    this.lastEquity = netPnl;
    this.minuteEquity.push(netPnl);
    this.equity.t.push(this.endTs);
    this.equity.v.push(netPnl);
    for (const s of this.insts.values()) {
      s.rec.position.t.push(this.endTs);
      s.rec.position.v.push(s.pos.toNumber());
    }
  }

  /** Summary figures: maker/taker split, Sharpe, inventory, latency. */
  stats(): RunStats {
    const end = this.endTs;
    const instrumentInventory = new Map<string, InventoryStats>();
    for (const [key, s] of this.insts) instrumentInventory.set(key, s.meter.stats(end));
    return {
      liquidity: { maker: { ...this.maker }, taker: { ...this.taker } },
      sharpe: sharpeRatio(minuteReturns(this.minuteEquity), this.periodsPerYear),
      inventory: this.meter.stats(end),
      instrumentInventory,
      latency: { ack: latencyStats(this.ackUs), reject: latencyStats(this.rejectUs) },
    };
  }

  /** The recorded series (live arrays, not copies: read, do not change). */
  data(): RecordingData {
    return {
      startTs: this.startTs,
      endTs: this.endTs,
      instruments: [...this.insts.values()].map((s) => s.rec),
      equity: this.equity,
      minuteEquity: this.minuteEquity,
      latency: { ack: this.ackUs, reject: this.rejectUs },
    };
  }

  private nextSlot(ts: number, interval: number): number {
    return (Math.floor(ts / interval) + 1) * interval;
  }

  private instrument(exchange: string, instrumentId: number, name?: string, quoteCurrency?: string, multiplier?: number): InstState {
    const key = `${exchange}|${instrumentId}`;
    let s = this.insts.get(key);
    if (s) return s;
    s = {
      rec: {
        exchange,
        instrumentId,
        name: name ?? String(instrumentId),
        quoteCurrency: quoteCurrency ?? '',
        mid: series(),
        position: { t: [this.startTs], v: [0] },
        fills: { t: [], side: [], price: [], qty: [], maker: [], fee: [] },
      },
      multiplier: multiplier ?? 1,
      nextMidTs: this.startTs,
      pos: new Decimal(0),
      meter: new InventoryMeter(this.startTs),
    };
    this.insts.set(key, s);
    if (!this.byId.has(instrumentId)) this.byId.set(instrumentId, s);
    return s;
  }

  private answered(ts: number, strategy: string, clientId: string, into: number[]): void {
    const key = `${strategy}|${clientId}`;
    const t0 = this.sent.get(key);
    if (t0 === undefined) return;
    this.sent.delete(key);
    into.push(ts - t0);
  }

  private fill(ts: number, ev: OrderExecution): void {
    const s = this.instrument(ev.exchange, ev.instrumentId);
    const buy = ev.side === Side.Buy;
    const price = ev.price.toNumber();
    const qty = ev.fillQty.toNumber();
    const fee = ev.fee.toNumber();
    const maker = ev.liquidity === Liquidity.Maker;
    const f = s.rec.fills;
    f.t.push(ts);
    f.side.push(buy ? 1 : -1);
    f.price.push(price);
    f.qty.push(qty);
    f.maker.push(maker ? 1 : 0);
    f.fee.push(fee);

    const split = maker ? this.maker : this.taker;
    split.fills += 1;
    split.volume += qty;
    split.notional += price * qty * s.multiplier;
    split.fees += fee;

    const wasFlat = s.pos.isZero();
    s.pos = buy ? s.pos.add(ev.fillQty.d) : s.pos.sub(ev.fillQty.d);
    const isFlat = s.pos.isZero();
    if (wasFlat !== isFlat) this.nonFlat += isFlat ? -1 : 1;
    s.rec.position.t.push(ts);
    s.rec.position.v.push(s.pos.toNumber());
    s.meter.update(ts, s.pos.abs().toNumber());
    let total = 0;
    if (this.nonFlat > 0) for (const x of this.insts.values()) total += x.pos.abs().toNumber();
    this.meter.update(ts, total);

    // The price chart marks the fill on the mid at its time.
    const m = this.mid(ev.instrumentId);
    if (Number.isFinite(m)) {
      s.rec.mid.t.push(ts);
      s.rec.mid.v.push(m);
    }
    this.fillSinceEquity = true;
  }
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a finite number > 0, got ${v}`);
  return v;
}

/**
 * Wraps a venue so that a recorder sees every request sent to it and every event it
 * delivers, at simulated time `now()`; behaviour is otherwise the venue's own. Give the
 * wrapper, not the venue, to `StratEnv`.
 * @param venue the venue to observe.
 * @param now current simulated time, µs.
 * @param rec the recorder.
 */
export function observeVenue(venue: Venue, now: () => number, rec: Recorder): Venue {
  return {
    get exchange() {
      return venue.exchange;
    },
    get instruments() {
      return venue.instruments;
    },
    status: () => venue.status(),
    submit(req) {
      rec.onRequest(now(), req);
      venue.submit(req);
    },
    setSink(sink) {
      venue.setSink((e) => {
        rec.onVenueEvent(now(), e);
        sink(e);
      });
    },
  };
}
