/**
 * Compares queue models on the same recorded order-by-order data: the same hypothetical
 * resting orders are placed in one simulated venue per model (and per cancel horizon), all
 * fed from one replayed `L3Book`, and the time and cause of each order's fill are set side
 * by side.
 * @module
 */
import { Price, Qty } from '../api/decimal.js';
import { ExecInstr, OrderType, Side, TimeInForce } from '../api/enums.js';
import type { OrderExecution } from '../api/events.js';
import type { Instrument } from '../api/instrument.js';
import type { MarketSource } from '../backtest/backtest.js';
import { L3Book } from '../book/l3-book.js';
import { SimClock, type Scheduler } from '../core/clock.js';
import type { VenueEvent } from '../core/venue.js';
import { MdStatus, MdType, type MdEvent } from '../data/events.js';
import { ConstantLatencyModel } from './latency.js';
import { MakerTakerFeeModel } from './fees.js';
import type { SimOrder } from './order-index.js';
import { L3FifoQueueModel } from './queue-l3.js';
import { PowerProbQueueFunc, ProbabilisticQueueModel } from './queue-prob.js';
import { RiskAverseQueueModel, type QueueModel, type QueuedOrder } from './queue.js';
import { SimVenue } from './venue.js';

/** Which hypothetical orders `compareQueueModels` places, and under which models and horizons. */
export interface PlacementPlan {
  /** Place every this many market events of the instrument (≥ 1), counted after the first snapshot. */
  everyEvents: number;
  /** Size of each order, lots. Default 100. */
  lots?: number;
  /** Join the best bid, the best ask or both. Default `'both'`. */
  sides?: 'both' | 'bid' | 'ask';
  /** Stop placing after this many orders. Default: no limit. */
  maxOrders?: number;
  /** Instrument to trade. Default: the source's first. */
  instrumentId?: number;
  /** Exponents n of the probabilistic model's `f(x) = x^n`, one venue each (model `prob<n>`). Default `[3]`. */
  powers?: readonly number[];
  /**
   * Cancel horizons, µs (≥ 0): under horizon H each order is cancelled H after it starts
   * resting if it has not filled whole by then; `Infinity`: never cancelled. One set of venues
   * per horizon, so a cancelled order also stops using up trades that later orders at its
   * level would get. Default `[Infinity]`.
   */
  horizonsUs?: readonly number[];
}

/**
 * What completed an order:
 * - `queue`: a trade *at* its price while other orders were visible there (an `OrderExec` of a
 *   resting order, or a hidden `Trade` with visible qty at the level), and the queue model
 *   decided the order was reached: the real test of a queue model;
 * - `tradeThrough`: a trade printed beyond its price (the level was swept), or at its price
 *   when nothing visible was left there;
 * - `cross`: the opposite best reached its price.
 *
 * Only `queue` depends on the queue model: a trade-through or a cross fills an order that is
 * still resting under every model at the same event.
 */
export type FillCause = 'queue' | 'tradeThrough' | 'cross';

/** The fill that completed an order under one model. */
export interface OrderFill {
  /** Engine time of the fill, µs since the epoch. */
  readonly ts: number;
  readonly cause: FillCause;
}

/** One hypothetical order and how it completed under each model and horizon. */
export interface QueueComparisonOrder {
  /** Client id, `q1`, `q2`, … in placement order. */
  readonly id: string;
  /** 1 bid, −1 ask. */
  readonly side: 1 | -1;
  /** Price in ticks. */
  readonly priceTick: number;
  /** Size, lots. */
  readonly lots: number;
  /** Engine time the order started resting, µs. */
  readonly placedTs: number;
  /**
   * One entry per horizon (in `horizonsUs` order): model name → the fill that completed the
   * order; absent when it did not fill whole before its horizon (it was cancelled) or the end
   * of the data. Partial fills are not reported.
   */
  readonly fills: Array<{ [model: string]: OrderFill | undefined }>;
}

/** Fill counts of one model under one horizon. */
export interface ModelFillStats {
  /** Orders filled whole within the horizon. */
  readonly filled: number;
  /** `filled` / orders. */
  readonly filledFrac: number;
  /** Of `filled`, by cause. */
  readonly queue: number;
  readonly tradeThrough: number;
  readonly cross: number;
  /** `queue` / orders: the probability of a fill at the order's own price, through the queue. */
  readonly queueFrac: number;
}

/** |model − L3 FIFO| fill-time figures over a set of orders both filled. */
export interface DeltaStats {
  /** Orders in the set. */
  readonly n: number;
  /** Median of |Δ fill time|, µs (NaN when `n` = 0). */
  readonly medianAbsDeltaUs: number;
  /** 90th percentile (nearest rank), µs (NaN when `n` = 0). */
  readonly p90AbsDeltaUs: number;
  /** Fraction where the model filled strictly earlier than L3 FIFO (0 when `n` = 0). */
  readonly earlierFrac: number;
  /** Fraction where it filled strictly later. */
  readonly laterFrac: number;
}

/** One model against L3 FIFO (the truth on order-by-order data) under one horizon. */
export interface VsL3Stats {
  /** Filled under the model and not under L3 FIFO. */
  readonly onlyModel: number;
  /** Filled under L3 FIFO and not under the model. */
  readonly onlyL3: number;
  /** `(onlyModel + onlyL3)` / orders: fill/no-fill disagreement, each such order is a queue fill of one side. */
  readonly disagreeFrac: number;
  /** Over the orders both filled. */
  readonly both: DeltaStats;
  /** Over the orders both filled where at least one of the two fills is a `queue` fill (the others were filled by the same trade-through or cross, Δ = 0). */
  readonly queue: DeltaStats;
}

/** The figures of one cancel horizon. */
export interface HorizonSummary {
  /** µs; `Infinity` (null in JSON): never cancelled. */
  readonly horizonUs: number;
  /** Orders counted: those whose horizon ended within the data (all of them for `Infinity`). */
  readonly orders: number;
  /** Orders left out because their horizon ran past the end of the data. */
  readonly censored: number;
  /** Per model (see {@link QueueComparison.models}). */
  readonly models: { readonly [model: string]: ModelFillStats };
  /** Every model but `l3` against `l3`. */
  readonly vsL3: { readonly [model: string]: VsL3Stats };
}

/** Outcome of {@link compareQueueModels}. */
export interface QueueComparison {
  /** Model names: `prob<n>` per power (L2 probabilistic), `l3` (exact FIFO), `riskAverse`. */
  readonly models: readonly string[];
  /** Cancel horizons, µs, as given (`Infinity`: never cancelled). */
  readonly horizonsUs: readonly number[];
  /** Engine time of the last market event, µs. */
  readonly endTs: number;
  readonly orders: QueueComparisonOrder[];
  /** One per horizon, in `horizonsUs` order. */
  readonly horizons: HorizonSummary[];
}

const STRATEGY = 'cmp';

/** The replayed event a venue action was scheduled from (venue events are delivered later). */
interface EventCtx {
  readonly type: number;
  readonly side: number;
  readonly priceTick: number;
}

/**
 * Delegates to a queue model and records the orders it completes, with `queue` or, when the
 * trade was at a price with nothing visible left, `tradeThrough`.
 */
class CauseRecorder implements QueueModel {
  /** clientId → cause of a completion by this model's trade advance, until the fill is delivered. */
  readonly completed = new Map<string, FillCause>();
  constructor(
    private readonly inner: QueueModel,
    private readonly book: L3Book,
  ) {}
  onPlace(order: QueuedOrder, levelQtyLots: number): void {
    this.inner.onPlace(order, levelQtyLots);
  }
  onTrade(order: QueuedOrder, tradeQtyLots: number, ev?: MdEvent): number {
    const n = this.inner.onTrade(order, tradeQtyLots, ev);
    if (n > 0 && n >= order.leavesLots) {
      // An OrderExec executed a visible order at the level; a Trade leaves the book as it was.
      const levelHeld = ev?.type === MdType.OrderExec || this.book.l2.qtyAt(order.sideCode, order.priceTick) > 0;
      this.completed.set((order as SimOrder).clientId, levelHeld ? 'queue' : 'tradeThrough');
    }
    return n;
  }
  onDepth(order: QueuedOrder, newLevelQtyLots: number, prevLevelQtyLots: number, ev?: MdEvent): void {
    this.inner.onDepth(order, newLevelQtyLots, prevLevelQtyLots, ev);
  }
}

/** True when the event is a trade printed beyond the price of a resting order on `side` (it was swept). */
function tradedThrough(ctx: EventCtx | undefined, side: 1 | -1, tick: number): boolean {
  if (!ctx) return false;
  const beyond = side > 0 ? ctx.priceTick < tick : ctx.priceTick > tick;
  if (ctx.type === MdType.OrderExec) return ctx.side === side && beyond;
  // Trade: side is the taker's; an unknown aggressor (0) may have hit either side.
  if (ctx.type === MdType.Trade) return ctx.side !== side && beyond;
  return false;
}

/**
 * Replays `source` once and places the same resting orders (limit GTC post-only, joining the
 * best bid and/or ask every `everyEvents` events) in venues that differ only by queue model —
 * `ProbabilisticQueueModel` (L2) with each power, `L3FifoQueueModel` (exact) and
 * `RiskAverseQueueModel` — one set per cancel horizon. Latency is 0; under horizon H an
 * order is cancelled H µs after it starts resting, before any market event at that time, so
 * only fills at an engine time < placedTs + H count. Each order's fill is the engine time and
 * cause ({@link FillCause}) of the fill that completed it.
 *
 * Deterministic: no randomness, and the result depends only on the data and the plan.
 *
 * @throws L3DataRequiredError when the data has no order ids.
 * @throws RangeError for an unknown instrument, a negative or NaN horizon, or a power ≤ 0.
 */
export async function compareQueueModels(source: MarketSource, placements: PlacementPlan): Promise<QueueComparison> {
  const every = Math.max(1, Math.floor(placements.everyEvents));
  const lots = placements.lots ?? 100;
  const sides = placements.sides ?? 'both';
  const maxOrders = placements.maxOrders ?? Number.POSITIVE_INFINITY;
  const powers = [...(placements.powers ?? [3])];
  const horizons = [...(placements.horizonsUs ?? [Number.POSITIVE_INFINITY])];
  for (const h of horizons) if (!(h >= 0)) throw new RangeError(`cancel horizon ${h} µs: must be ≥ 0`);
  for (const p of powers) if (!(p > 0) || !Number.isFinite(p)) throw new RangeError(`power ${p}: must be finite and > 0`);
  const inst: Instrument | undefined =
    placements.instrumentId === undefined ? source.instruments[0] : source.instruments.find((i) => i.instrumentId === placements.instrumentId);
  if (!inst) throw new RangeError(`instrument ${placements.instrumentId ?? '(first)'} not in the source`);

  const book = new L3Book();
  const models = [...powers.map((p) => `prob${p}`), 'l3', 'riskAverse'];
  if (new Set(models).size !== models.length) throw new RangeError(`duplicate power in ${JSON.stringify(powers)}`);
  const newModel = (k: number): QueueModel =>
    k < powers.length ? new ProbabilisticQueueModel(new PowerProbQueueFunc(powers[k]!)) : k === powers.length ? new L3FifoQueueModel(book) : new RiskAverseQueueModel();

  const clock = new SimClock(0);
  const orders: QueueComparisonOrder[] = [];
  const byId = new Map<string, QueueComparisonOrder>();

  // The event being replayed, so that a fill delivered later can be told a trade-through from a cross.
  let cur: MdEvent | undefined;
  let curCtx: EventCtx | undefined;
  let delivering: EventCtx | undefined;
  const scheduler: Scheduler = {
    simulated: true,
    now: () => clock.now(),
    cancel: (h) => clock.cancel(h),
    at: (ts, fn) => {
      if (!cur) return clock.at(ts, fn);
      const ctx = (curCtx ??= { type: cur.type, side: cur.side, priceTick: cur.priceTick });
      return clock.at(ts, () => {
        delivering = ctx;
        try {
          fn();
        } finally {
          delivering = undefined;
        }
      });
    },
  };

  // venues[h][m]
  const venues: SimVenue[][] = horizons.map((_, h) =>
    models.map((model, m) => {
      const rec = new CauseRecorder(newModel(m), book);
      const v = new SimVenue({
        exchange: source.exchange,
        instruments: [inst],
        scheduler,
        depth: () => book.l2,
        latency: new ConstantLatencyModel({ entryUs: 0, responseUs: 0 }),
        fees: new MakerTakerFeeModel({ makerRate: 0, takerRate: 0 }),
        queueModel: rec,
      });
      v.setSink((e: VenueEvent) => {
        if (e.cb !== 'onOrderExecution') return;
        const ev = e.ev as OrderExecution;
        if (!ev.leavesQty.isZero()) return;
        const o = byId.get(ev.clientId);
        if (!o) return;
        const cause = rec.completed.get(o.id) ?? (tradedThrough(delivering, o.side, o.priceTick) ? 'tradeThrough' : 'cross');
        rec.completed.delete(o.id);
        o.fills[h]![model] = { ts: ev.execTs, cause };
      });
      return v;
    }),
  );

  const place = (side: 1 | -1, tick: number, ts: number): void => {
    const o: QueueComparisonOrder = { id: `q${orders.length + 1}`, side, priceTick: tick, lots, placedTs: ts, fills: horizons.map(() => ({})) };
    orders.push(o);
    byId.set(o.id, o);
    const req = {
      type: 'NewOrder' as const,
      strategy: STRATEGY,
      clientId: o.id,
      instrumentId: inst.instrumentId,
      side: side > 0 ? Side.Buy : Side.Sell,
      orderType: OrderType.Limit,
      tif: TimeInForce.GTC,
      execInstr: [ExecInstr.PostOnly],
      price: Price.fromTicks(tick, inst),
      priceTick: tick,
      qty: Qty.fromLots(lots, inst),
      qtyLots: lots,
    };
    for (const row of venues) for (const v of row) v.submit(req);
    horizons.forEach((hUs, h) => {
      if (hUs === Number.POSITIVE_INFINITY) return;
      // Scheduled after the placement (same time when hUs = 0), before any event at ts + hUs.
      clock.at(ts + hUs, () => {
        venues[h]!.forEach((v, m) => {
          if (o.fills[h]![models[m]!] === undefined) v.submit({ type: 'CancelOrder', strategy: STRATEGY, clientId: o.id, instrumentId: inst.instrumentId });
        });
      });
    });
  };

  let snapshotDone = false;
  let stale = false;
  let counted = 0;
  let lastEngineTs = 0;
  for await (const ev of source.events()) {
    if (ev.instrumentId !== inst.instrumentId) continue;
    clock.advanceTo(ev.localTs);
    lastEngineTs = Math.max(lastEngineTs, ev.localTs, ev.exchTs);
    book.apply(ev);
    cur = ev;
    curCtx = undefined;
    for (const row of venues) for (const v of row) v.onMarketEvent(ev);
    cur = undefined;
    if (ev.type === MdType.Status) {
      if (ev.status === MdStatus.SnapshotStart || ev.status === MdStatus.Disconnected) stale = true;
      if (ev.status === MdStatus.SnapshotEnd) {
        stale = false;
        snapshotDone = true;
      }
    }
    if (!snapshotDone || stale) continue;
    if (++counted % every !== 0 || orders.length >= maxOrders) continue;
    const bid = book.l2.bestBidTick();
    const ask = book.l2.bestAskTick();
    if (!Number.isFinite(bid) || !Number.isFinite(ask) || bid >= ask) continue;
    if (sides !== 'ask') place(1, bid, clock.now());
    if (sides !== 'bid' && orders.length < maxOrders) place(-1, ask, clock.now());
    clock.advanceTo(clock.now()); // zero latency: the orders rest before the next event
  }
  const endTs = clock.now();
  clock.advanceTo(lastEngineTs); // deliver what the last events produced
  return { models, horizonsUs: horizons, endTs, orders, horizons: summarizeComparison(orders, models, horizons, endTs) };
}

/** Nearest-rank percentile of sorted values; NaN when empty. */
function pct(sorted: readonly number[], p: number): number {
  const m = sorted.length;
  return m === 0 ? Number.NaN : sorted[Math.min(m - 1, Math.max(0, Math.ceil(p * m) - 1))]!;
}

function deltaStats(pairs: ReadonlyArray<readonly [number, number]>): DeltaStats {
  const abs = pairs.map(([a, b]) => Math.abs(a - b)).sort((x, y) => x - y);
  const n = pairs.length;
  let earlier = 0;
  let later = 0;
  for (const [a, b] of pairs) {
    if (a < b) earlier++;
    else if (a > b) later++;
  }
  return { n, medianAbsDeltaUs: pct(abs, 0.5), p90AbsDeltaUs: pct(abs, 0.9), earlierFrac: n === 0 ? 0 : earlier / n, laterFrac: n === 0 ? 0 : later / n };
}

/**
 * The per-horizon figures of a set of compared orders (see {@link HorizonSummary}). Under a
 * finite horizon H, orders with `placedTs + H > endTs` are left out (censored).
 */
export function summarizeComparison(orders: readonly QueueComparisonOrder[], models: readonly string[], horizonsUs: readonly number[], endTs: number): HorizonSummary[] {
  return horizonsUs.map((hUs, h) => {
    const counted = hUs === Number.POSITIVE_INFINITY ? orders : orders.filter((o) => o.placedTs + hUs <= endTs);
    const n = counted.length;
    const frac = (k: number) => (n === 0 ? 0 : k / n);
    const perModel: { [model: string]: ModelFillStats } = {};
    for (const model of models) {
      const c = { queue: 0, tradeThrough: 0, cross: 0 };
      for (const o of counted) {
        const f = o.fills[h]![model];
        if (f) c[f.cause]++;
      }
      const filled = c.queue + c.tradeThrough + c.cross;
      perModel[model] = { filled, filledFrac: frac(filled), ...c, queueFrac: frac(c.queue) };
    }
    const vsL3: { [model: string]: VsL3Stats } = {};
    for (const model of models) {
      if (model === 'l3') continue;
      let onlyModel = 0;
      let onlyL3 = 0;
      const both: Array<[number, number]> = [];
      const queue: Array<[number, number]> = [];
      for (const o of counted) {
        const a = o.fills[h]![model];
        const b = o.fills[h]!['l3'];
        if (a && !b) onlyModel++;
        else if (b && !a) onlyL3++;
        else if (a && b) {
          both.push([a.ts, b.ts]);
          if (a.cause === 'queue' || b.cause === 'queue') queue.push([a.ts, b.ts]);
        }
      }
      vsL3[model] = { onlyModel, onlyL3, disagreeFrac: frac(onlyModel + onlyL3), both: deltaStats(both), queue: deltaStats(queue) };
    }
    return { horizonUs: hUs, orders: n, censored: orders.length - n, models: perModel, vsL3 };
  });
}
