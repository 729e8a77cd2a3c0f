import { describe, expect, it } from 'vitest';
import { BaseStrategy, MDSub, OrderType, Side, TimeInForce, type BestLevelUpdate, type IStratEnv, type Instrument, type OrderExecution } from '../../src/api/index.js';
import { runBacktest } from '../../src/backtest/backtest.js';
import { parseRunnerConfig, simOptions } from '../../src/backtest/config.js';
import { L3Book } from '../../src/book/l3-book.js';
import { silentLogger } from '../../src/core/logger.js';
import { MdStatus, MdType, type MdEvent, type MdType as MdTypeT } from '../../src/data/events.js';
import { openMarketData } from '../../src/data/open.js';
import { L3DataRequiredError, L3FifoQueueModel, PowerProbQueueFunc, ProbabilisticQueueModel, RiskAverseQueueModel, SimVenue, ConstantLatencyModel, MakerTakerFeeModel, type QueuedOrder } from '../../src/sim/index.js';
import { SimClock } from '../../src/core/clock.js';
import { AAPL } from '../helpers.js';
import { EQ, T0 } from './harness.js';

const order = (leavesLots = 5): QueuedOrder => ({ sideCode: 1, priceTick: 100, leavesLots, queueAheadLots: -1 });

describe('ProbabilisticQueueModel', () => {
  const m = new ProbabilisticQueueModel(); // power 3
  it('splits cancels by f(front) against f(back)', () => {
    const o = order();
    m.onPlace(o, 10);
    m.onDepth(o, 20, 10); // 10 added behind
    expect(o.queueAheadLots).toBe(10);
    // front 10, back 10: p(behind) = 1000 / 2000 = 0.5 → 2.5 of 5 cancelled lots were ahead.
    m.onDepth(o, 15, 20);
    expect(o.queueAheadLots).toBe(7.5);
    // trades: 8 leaves 0 ahead and 0.5 over (no whole lot), then 3 fill 3.
    expect(m.onTrade(o, 8)).toBe(0);
    expect(o.queueAheadLots).toBe(0);
    expect(m.onTrade(o, 3)).toBe(3);
  });
  it('puts every cancel ahead when nothing is behind, and almost none when the back is large', () => {
    const a = order();
    m.onPlace(a, 10);
    m.onDepth(a, 6, 10); // back = 0: p = 0
    expect(a.queueAheadLots).toBe(6);
    const b = order();
    m.onPlace(b, 2);
    m.onDepth(b, 42, 2); // 40 behind
    m.onDepth(b, 32, 42); // p = 40³ / (40³ + 2³) ≈ 0.999875 → 10 · 0.000125 ahead
    expect(b.queueAheadLots).toBeCloseTo(2 - 10 * (8 / (64000 + 8)), 12);
    // A decrease larger than what is behind must come from ahead.
    const c = order();
    m.onPlace(c, 4);
    m.onDepth(c, 6, 4); // 2 behind
    m.onDepth(c, 1, 6); // 5 cancelled: front 4, back 2, p = 8/72 → 4 − (64/72)·5 + min(2 − (8/72)·5, 0) < 0 → clamped to level 1 / 0
    expect(c.queueAheadLots).toBeCloseTo(Math.max(0, Math.min(1, 4 - (64 / 72) * 5 + Math.min(2 - (8 / 72) * 5, 0))), 12);
  });
  it('power 1 attributes in proportion; RiskAverse never attributes', () => {
    const p1 = new ProbabilisticQueueModel(new PowerProbQueueFunc(1));
    const o = order();
    p1.onPlace(o, 6);
    p1.onDepth(o, 8, 6); // front 6, back 2
    p1.onDepth(o, 4, 8); // 4 cancelled, 6/8 of them ahead
    expect(o.queueAheadLots).toBe(3);
    const r = order();
    const ra = new RiskAverseQueueModel();
    ra.onPlace(r, 6);
    ra.onDepth(r, 8, 6);
    ra.onDepth(r, 4, 8);
    expect(r.queueAheadLots).toBe(4);
    expect(() => new PowerProbQueueFunc(0)).toThrow(RangeError);
  });
});

/** Drives an L3FifoQueueModel the way the venue does: book first, then onTrade (executions) and onDepth. */
function l3World() {
  const book = new L3Book();
  const m = new L3FifoQueueModel(book);
  const o: QueuedOrder = { sideCode: 1, priceTick: 100, leavesLots: 10, queueAheadLots: -1 };
  let filled = 0;
  const ev = (type: MdTypeT, orderId: number, qty: number, priceTick = 100): MdEvent => ({ type, instrumentId: 1, exchTs: 0, localTs: 0, side: 1, orderId, priceTick, qty, status: 0 });
  const step = (e: MdEvent) => {
    const prev = book.l2.qtyAt(1, 100);
    book.apply(e);
    if (e.type === MdType.OrderExec || e.type === MdType.Trade) filled += m.onTrade(o, e.qty, e);
    if (e.type !== MdType.Trade) m.onDepth(o, book.l2.qtyAt(1, 100), e.type === MdType.OrderExec ? prev - e.qty : prev, e);
  };
  return {
    book,
    m,
    o,
    filled: () => filled,
    add: (id: number, qty: number) => step(ev(MdType.OrderAdd, id, qty)),
    cancel: (id: number, qty: number) => step(ev(MdType.OrderCancel, id, qty)),
    del: (id: number) => step(ev(MdType.OrderDelete, id, 0)),
    exec: (id: number, qty: number) => step(ev(MdType.OrderExec, id, qty)),
    hidden: (qty: number) => step(ev(MdType.Trade, 0, qty)),
  };
}

describe('L3FifoQueueModel', () => {
  it('sits behind the orders resting at placement and advances only by them', () => {
    const w = l3World();
    w.add(1, 5);
    w.add(2, 3);
    w.m.onPlace(w.o, 8);
    expect(w.o.queueAheadLots).toBe(8);
    expect(w.m.aheadOf(w.o)).toEqual([1, 2]);
    w.add(3, 4); // behind us
    w.cancel(3, 4); // a cancel behind: nothing
    expect(w.o.queueAheadLots).toBe(8);
    w.cancel(2, 1); // a partial cancel ahead: −1
    expect(w.o.queueAheadLots).toBe(7);
    w.exec(1, 5); // execution ahead: −5, no fill
    expect(w.o.queueAheadLots).toBe(2);
    expect(w.filled()).toBe(0);
    w.add(4, 6); // late arrival behind us
    w.hidden(3); // a trade without an id fills what exceeds the 2 still ahead, the queue stays
    expect(w.filled()).toBe(1);
    expect(w.o.queueAheadLots).toBe(2);
    w.del(2); // the last order ahead leaves
    expect(w.o.queueAheadLots).toBe(0);
    expect(w.m.aheadOf(w.o)).toEqual([]);
    w.exec(4, 2); // the late arrival executes: FIFO says the aggressor hit us first
    expect(w.filled()).toBe(3);
  });
  it('executions of orders ahead are capped at what they had, and later events on them do nothing', () => {
    const w = l3World();
    w.add(1, 5);
    w.m.onPlace(w.o, 5);
    w.exec(1, 3);
    expect(w.o.queueAheadLots).toBe(2);
    w.exec(1, 2); // order 1 leaves the book
    expect(w.o.queueAheadLots).toBe(0);
    expect(w.filled()).toBe(0);
    w.add(5, 4);
    w.exec(5, 4);
    expect(w.filled()).toBe(4);
  });
  it('refuses L2 data', () => {
    const book = new L3Book();
    book.l2.set(1, 100, 7); // a level without orders by id
    const m = new L3FifoQueueModel(book);
    expect(() => m.onPlace(order(), 7)).toThrow(L3DataRequiredError);
    const o = order();
    m.onPlace({ ...o, priceTick: 99 }, 0); // an empty level is fine…
    const o2 = { ...o, priceTick: 99 };
    m.onPlace(o2, 0);
    const ls: MdEvent = { type: MdType.LevelSet, instrumentId: 1, exchTs: 0, localTs: 0, side: 1, orderId: 0, priceTick: 99, qty: 3, status: 0 };
    expect(() => m.onDepth(o2, 3, 0, ls)).toThrow(/LevelSet/); // …until an L2 update arrives
  });
  it('gets order ids from the venue', () => {
    const book = new L3Book();
    const clock = new SimClock(T0);
    const got: OrderExecution[] = [];
    const venue = new SimVenue({
      exchange: 'SIM',
      instruments: [EQ],
      scheduler: clock,
      depth: () => book.l2,
      latency: new ConstantLatencyModel({ entryUs: 0, responseUs: 0 }),
      fees: new MakerTakerFeeModel({ makerRate: 0, takerRate: 0 }),
      queueModel: () => new L3FifoQueueModel(book),
    });
    venue.setSink((e) => e.cb === 'onOrderExecution' && got.push(e.ev as OrderExecution));
    const md = (type: MdTypeT, side: 1 | -1, orderId: number, tick: number, qty: number) => {
      const ev: MdEvent = { type, instrumentId: EQ.instrumentId, exchTs: clock.now(), localTs: clock.now(), side, orderId, priceTick: tick, qty, status: MdStatus.Halted * 0 };
      book.apply(ev);
      venue.onMarketEvent(ev);
      clock.advanceTo(clock.now());
    };
    md(MdType.OrderAdd, 1, 1, 10000, 50);
    md(MdType.OrderAdd, 1, 2, 10000, 30);
    md(MdType.OrderAdd, -1, 3, 10001, 10);
    venue.submit({ type: 'NewOrder', strategy: 's', clientId: 'a', instrumentId: EQ.instrumentId, side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [], price: '100' as never, priceTick: 10000, qty: '10' as never, qtyLots: 10 });
    clock.advanceTo(clock.now());
    md(MdType.OrderAdd, 1, 4, 10000, 20); // behind us
    md(MdType.OrderDelete, 1, 1, 10000, 0); // 50 ahead cancelled: RiskAverse would still count 50 ahead
    md(MdType.OrderExec, 1, 2, 10000, 30); // the last order ahead executes
    expect(got).toHaveLength(0);
    md(MdType.OrderExec, 1, 4, 10000, 6); // the order behind us executes: we were first
    expect(got.map((g) => g.fillQty.toString())).toEqual(['6']);
  });
});

describe('sim.queueModel config', () => {
  it('parses the four forms and rejects others', () => {
    for (const q of ['riskAverse', 'probabilistic', 'l3Fifo', { probabilistic: { power: 2 } }]) {
      const s = simOptions(parseRunnerConfig({ sim: { queueModel: q } }).sim);
      expect(s.queueModel !== undefined || s.bookQueueModel !== undefined).toBe(true);
    }
    expect(simOptions(parseRunnerConfig({ sim: { queueModel: 'l3Fifo' } }).sim).bookQueueModel).toBeTypeOf('function');
    expect(() => parseRunnerConfig({ sim: { queueModel: 'fifo' } })).toThrow(/sim\.queueModel/);
    expect(() => parseRunnerConfig({ sim: { queueModel: { probabilistic: { power: -1 } } } })).toThrow(/power/);
  });
});

/** Joins the best bid with 100 lots on every 10th bid update, 20 times; never cancels. Records when each order completed. */
class Joiner extends BaseStrategy {
  inst!: Instrument;
  updates = 0;
  placed: string[] = [];
  done = new Map<string, number>();
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login('joiner');
    env.subscribeToMarketData('NASDAQ', ['nasdaq:equity:aapl'], [MDSub.BBO]);
  }
  override onInstruments(i: Instrument[]) {
    this.inst = i[0]!;
  }
  override onBestBidLevelUpdate(ev: BestLevelUpdate) {
    if (ev.qty.isZero() || ++this.updates % 10 !== 0 || this.placed.length >= 20) return;
    this.placed.push(this.env.sendNewOrder({ exchange: 'NASDAQ', instrumentId: this.inst.instrumentId, side: Side.Buy, price: ev.price, qty: '100', ordType: OrderType.Limit, timeInForce: TimeInForce.GTC }));
  }
  override onOrderExecution(ev: OrderExecution) {
    if (ev.leavesQty.isZero()) this.done.set(ev.clientId, ev.execTs);
  }
}

describe('queue models through the backtest on the AAPL sample', () => {
  const run = async (queueModel: unknown) => {
    const s = new Joiner();
    const r = await runBacktest({ strategy: s, source: await openMarketData(AAPL), logger: silentLogger(), sim: simOptions(parseRunnerConfig({ sim: { queueModel } }).sim) });
    expect(r.ok).toBe(true);
    return s;
  };
  it('exact FIFO fills the same orders no later than RiskAverse', async () => {
    const ra = await run('riskAverse');
    const l3 = await run('l3Fifo');
    const prob = await run('probabilistic');
    expect(l3.placed).toEqual(ra.placed);
    expect(ra.placed.length).toBeGreaterThanOrEqual(5);
    let earlier = 0;
    for (const id of ra.placed) {
      const tRa = ra.done.get(id) ?? Number.POSITIVE_INFINITY;
      const tL3 = l3.done.get(id) ?? Number.POSITIVE_INFINITY;
      expect(tL3).toBeLessThanOrEqual(tRa);
      if (tL3 < tRa) earlier++;
      // the probabilistic model sits between the two bounds here
      const tP = prob.done.get(id) ?? Number.POSITIVE_INFINITY;
      expect(tP).toBeLessThanOrEqual(tRa);
    }
    expect(l3.done.size).toBeGreaterThan(0);
    console.log('AAPL joiner', ra.placed.length, 'orders; done RA', ra.done.size, 'L3', l3.done.size, 'prob', prob.done.size, '; L3 strictly earlier', earlier);
  });
});
