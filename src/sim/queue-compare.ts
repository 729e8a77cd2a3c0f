/**
 * Compares queue models on the same recorded order-by-order data: the same hypothetical
 * resting orders are placed in one simulated venue per model, all fed from one replayed
 * `L3Book`, and the times at which each order fills are set side by side.
 * @module
 */
import { Price, Qty } from '../api/decimal.js';
import { ExecInstr, OrderType, Side, TimeInForce } from '../api/enums.js';
import type { Instrument } from '../api/instrument.js';
import type { MarketSource } from '../backtest/backtest.js';
import { L3Book } from '../book/l3-book.js';
import { SimClock } from '../core/clock.js';
import type { VenueEvent } from '../core/venue.js';
import { MdStatus, MdType } from '../data/events.js';
import { ConstantLatencyModel } from './latency.js';
import { MakerTakerFeeModel } from './fees.js';
import { L3FifoQueueModel } from './queue-l3.js';
import { PowerProbQueueFunc, ProbabilisticQueueModel } from './queue-prob.js';
import { RiskAverseQueueModel, type QueueModel } from './queue.js';
import { SimVenue } from './venue.js';

/** Which hypothetical orders `compareQueueModels` places. */
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
  /** Exponent n of the probabilistic model's `f(x) = x^n`. Default 3. */
  power?: number;
}

/** One hypothetical order and when it completed under each model (µs since the epoch; `undefined`: not filled by the end of the data). */
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
  /** Time of the fill that completed it under `ProbabilisticQueueModel` (L2), µs. */
  probFillTs: number | undefined;
  /** Same under `L3FifoQueueModel` (exact FIFO), µs. */
  l3FillTs: number | undefined;
  /** Same under `RiskAverseQueueModel`, µs (a reference: the pessimistic bound). */
  riskAverseFillTs: number | undefined;
}

/** Outcome of {@link compareQueueModels}. */
export interface QueueComparison {
  readonly orders: QueueComparisonOrder[];
  /** Fraction of the orders filled whole by the end of the data, per model (0..1). */
  readonly filledFrac: { readonly prob: number; readonly l3: number; readonly riskAverse: number };
  /** Orders filled under both the probabilistic and the L3 model. */
  readonly bothFilled: number;
  /** Median of |probFillTs − l3FillTs| over `bothFilled`, µs (NaN when none). */
  readonly medianAbsDeltaUs: number;
  /** 90th percentile (nearest rank) of the same, µs. */
  readonly p90AbsDeltaUs: number;
  /** Fraction of `bothFilled` where the L2 (probabilistic) model filled strictly earlier than L3 FIFO. */
  readonly probEarlierFrac: number;
  /** Fraction of `bothFilled` where it filled strictly later. */
  readonly probLaterFrac: number;
  /** Orders filled under RiskAverse but later (or never) under L3 FIFO; rare: only trades without an order id advance RiskAverse and not L3. */
  readonly l3LaterThanRiskAverse: number;
}

const STRATEGY = 'cmp';

/**
 * Replays `source` once and places the same resting orders (limit GTC post-only, joining the
 * best bid and/or ask every `everyEvents` events) in three venues that differ only by queue
 * model: `ProbabilisticQueueModel` (L2), `L3FifoQueueModel` (exact) and
 * `RiskAverseQueueModel`. Latency is 0 and orders are never cancelled; each order's fill
 * time is the engine time of the fill that completed it.
 *
 * @throws L3DataRequiredError when the data has no order ids.
 */
export async function compareQueueModels(source: MarketSource, placements: PlacementPlan): Promise<QueueComparison> {
  const every = Math.max(1, Math.floor(placements.everyEvents));
  const lots = placements.lots ?? 100;
  const sides = placements.sides ?? 'both';
  const maxOrders = placements.maxOrders ?? Number.POSITIVE_INFINITY;
  const inst: Instrument | undefined =
    placements.instrumentId === undefined ? source.instruments[0] : source.instruments.find((i) => i.instrumentId === placements.instrumentId);
  if (!inst) throw new RangeError(`instrument ${placements.instrumentId ?? '(first)'} not in the source`);

  const book = new L3Book();
  const clock = new SimClock(0);
  const orders: QueueComparisonOrder[] = [];
  const byId = new Map<string, QueueComparisonOrder>();
  type Key = 'probFillTs' | 'l3FillTs' | 'riskAverseFillTs';
  const makeVenue = (qm: QueueModel, key: Key): SimVenue => {
    const v = new SimVenue({
      exchange: source.exchange,
      instruments: [inst],
      scheduler: clock,
      depth: () => book.l2,
      latency: new ConstantLatencyModel({ entryUs: 0, responseUs: 0 }),
      fees: new MakerTakerFeeModel({ makerRate: 0, takerRate: 0 }),
      queueModel: qm,
    });
    v.setSink((e: VenueEvent) => {
      if (e.cb !== 'onOrderExecution') return;
      const ev = e.ev as { clientId: string; leavesQty: Qty; execTs: number };
      const o = byId.get(ev.clientId);
      if (o && ev.leavesQty.isZero()) o[key] = ev.execTs;
    });
    return v;
  };
  const venues = [
    makeVenue(new ProbabilisticQueueModel(new PowerProbQueueFunc(placements.power ?? 3)), 'probFillTs'),
    makeVenue(new L3FifoQueueModel(book), 'l3FillTs'),
    makeVenue(new RiskAverseQueueModel(), 'riskAverseFillTs'),
  ];

  let snapshotDone = false;
  let stale = false;
  let counted = 0;
  const place = (side: 1 | -1, tick: number, ts: number): void => {
    const o: QueueComparisonOrder = { id: `q${orders.length + 1}`, side, priceTick: tick, lots, placedTs: ts, probFillTs: undefined, l3FillTs: undefined, riskAverseFillTs: undefined };
    orders.push(o);
    byId.set(o.id, o);
    for (const v of venues) {
      v.submit({
        type: 'NewOrder',
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
      });
    }
  };

  for await (const ev of source.events()) {
    if (ev.instrumentId !== inst.instrumentId) continue;
    clock.advanceTo(ev.localTs);
    book.apply(ev);
    for (const v of venues) v.onMarketEvent(ev);
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
  clock.advanceTo(clock.now());
  return summarizeComparison(orders);
}

/** The summary figures of a set of compared orders (see {@link QueueComparison}). */
export function summarizeComparison(orders: QueueComparisonOrder[]): QueueComparison {
  const n = orders.length;
  const frac = (k: number) => (n === 0 ? 0 : k / n);
  const deltas: number[] = [];
  let earlier = 0;
  let later = 0;
  let l3Late = 0;
  for (const o of orders) {
    if (o.riskAverseFillTs !== undefined && (o.l3FillTs === undefined || o.l3FillTs > o.riskAverseFillTs)) l3Late++;
    if (o.probFillTs === undefined || o.l3FillTs === undefined) continue;
    deltas.push(Math.abs(o.probFillTs - o.l3FillTs));
    if (o.probFillTs < o.l3FillTs) earlier++;
    else if (o.probFillTs > o.l3FillTs) later++;
  }
  deltas.sort((a, b) => a - b);
  const m = deltas.length;
  const pct = (p: number) => (m === 0 ? Number.NaN : deltas[Math.min(m - 1, Math.max(0, Math.ceil(p * m) - 1))]!);
  return {
    orders,
    filledFrac: {
      prob: frac(orders.filter((o) => o.probFillTs !== undefined).length),
      l3: frac(orders.filter((o) => o.l3FillTs !== undefined).length),
      riskAverse: frac(orders.filter((o) => o.riskAverseFillTs !== undefined).length),
    },
    bothFilled: m,
    medianAbsDeltaUs: pct(0.5),
    p90AbsDeltaUs: pct(0.9),
    probEarlierFrac: m === 0 ? 0 : earlier / m,
    probLaterFrac: m === 0 ? 0 : later / m,
    l3LaterThanRiskAverse: l3Late,
  };
}
