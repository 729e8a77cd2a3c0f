/**
 * A small world for SimVenue tests: a SimClock, an L2Book per instrument, and a sink that
 * records every event with the simulated time it was delivered at.
 */
import { ExecInstr, InstrumentType, OrderType, Price, Qty, RequestType, Side, TimeInForce, makeInstrument, type Instrument } from '../../src/api/index.js';
import type { EventCallbackName, StrategyEventMap } from '../../src/api/events.js';
import { L2Book } from '../../src/book/l2-book.js';
import { SimClock } from '../../src/core/clock.js';
import type { VenueFetch } from '../../src/core/venue.js';
import { ASK, BID, MdStatus, MdType, type MdEvent, type MdType as MdTypeT, type SideCode } from '../../src/data/events.js';
import { ConstantLatencyModel, MakerTakerFeeModel, SimVenue, type SimVenueOptions } from '../../src/sim/index.js';

export { ASK, BID };

/** Equity, $0.01 tick, 1-share lot: tick 10000 = $100.00. */
export const EQ = makeInstrument({
  instrumentId: 1,
  exchange: 'SIM',
  name: 'sim:equity:abc',
  type: InstrumentType.Equity,
  tickSize: '0.01',
  lotSize: '1',
  baseCurrency: 'ABC',
  quoteCurrency: 'USD',
});
/** A perpetual, $0.5 tick, 0.001 lot. */
export const PERP = makeInstrument({
  instrumentId: 2,
  exchange: 'SIM',
  name: 'sim:perp:btc-usd',
  type: InstrumentType.Perpetual,
  tickSize: '0.5',
  lotSize: '0.001',
  baseCurrency: 'BTC',
  quoteCurrency: 'USD',
});

export const T0 = 1_000_000_000;
export const ENTRY_US = 100;
export const RESP_US = 50;

/** A delivered event: `t` is the simulated time the sink received it. */
export interface Got {
  t: number;
  strategy: string;
  cb: EventCallbackName;
  ev: any;
}

export interface OrderSpec {
  clientId: string;
  side: Side;
  /** Limit price in ticks (ignored for market orders). */
  tick?: number;
  lots: number;
  orderType?: OrderType;
  tif?: TimeInForce;
  execInstr?: ExecInstr[];
  strategy?: string;
  inst?: Instrument;
}

export class World {
  readonly clock = new SimClock(T0);
  readonly books = new Map<number, L2Book>([
    [EQ.instrumentId, new L2Book()],
    [PERP.instrumentId, new L2Book()],
  ]);
  readonly got: Got[] = [];
  readonly venue: SimVenue;

  constructor(opts: Partial<SimVenueOptions> = {}) {
    this.venue = new SimVenue({
      exchange: 'SIM',
      instruments: [EQ, PERP],
      scheduler: this.clock,
      depth: (id) => this.books.get(id)!,
      latency: new ConstantLatencyModel({ entryUs: ENTRY_US, responseUs: RESP_US }),
      fees: new MakerTakerFeeModel({ makerRate: 0, takerRate: 0 }),
      ...opts,
    });
    this.venue.setSink((e) => this.got.push({ t: this.clock.now(), strategy: e.strategy, cb: e.cb, ev: e.ev }));
  }

  book(inst: Instrument = EQ): L2Book {
    return this.books.get(inst.instrumentId)!;
  }
  now(): number {
    return this.clock.now();
  }
  /** Lets simulated time pass, delivering what is due. */
  wait(us: number): void {
    this.clock.advanceTo(this.clock.now() + us);
  }
  /** Enough time for any request to arrive and be answered. */
  settle(): void {
    this.wait(10 * (ENTRY_US + RESP_US));
  }

  /** A market event: applied to the book first (as the backtest does), then shown to the venue. */
  md(type: MdTypeT, side: SideCode, tick: number, qty: number, inst: Instrument = EQ, status = 0): void {
    const book = this.book(inst);
    if (type === MdType.LevelSet) book.set(side, tick, qty);
    else if (type === MdType.OrderAdd) book.add(side, tick, qty);
    else if (type === MdType.OrderExec || type === MdType.OrderCancel) book.add(side, tick, -qty);
    else if (type === MdType.Clear) book.clear();
    const ev: MdEvent = { type, instrumentId: inst.instrumentId, exchTs: this.now(), localTs: this.now(), side, orderId: 0, priceTick: tick, qty, status };
    this.venue.onMarketEvent(ev);
  }
  level(side: SideCode, tick: number, qty: number, inst: Instrument = EQ): void {
    this.md(MdType.LevelSet, side, tick, qty, inst);
  }
  /** L3 execution of resting orders on `side` (the book shrinks). */
  exec(side: SideCode, tick: number, qty: number, inst: Instrument = EQ): void {
    this.md(MdType.OrderExec, side, tick, qty, inst);
  }
  /** A trade that changes no visible level; `takerSide` is the aggressor's. */
  trade(takerSide: SideCode, tick: number, qty: number, inst: Instrument = EQ): void {
    this.md(MdType.Trade, takerSide, tick, qty, inst);
  }
  status(s: number, inst: Instrument = EQ): void {
    this.md(MdType.Status, 0, 0, 0, inst, s);
  }
  halt(): void {
    this.status(MdStatus.Halted);
  }

  send(o: OrderSpec): void {
    const inst = o.inst ?? EQ;
    const market = o.orderType === OrderType.Market;
    this.venue.submit({
      type: 'NewOrder',
      strategy: o.strategy ?? 's1',
      clientId: o.clientId,
      instrumentId: inst.instrumentId,
      side: o.side,
      orderType: o.orderType ?? OrderType.Limit,
      tif: o.tif ?? TimeInForce.GTC,
      execInstr: o.execInstr ?? [],
      price: market ? Price.ZERO : Price.fromTicks(o.tick!, inst),
      priceTick: market ? Number.NaN : o.tick!,
      qty: Qty.fromLots(o.lots, inst),
      qtyLots: o.lots,
    });
  }
  modify(clientId: string, tick: number, lots: number, inst: Instrument = EQ, strategy = 's1'): void {
    this.venue.submit({
      type: 'ModifyOrder',
      strategy,
      clientId,
      instrumentId: inst.instrumentId,
      newPrice: Price.fromTicks(tick, inst),
      newPriceTick: tick,
      newQty: Qty.fromLots(lots, inst),
      newQtyLots: lots,
    });
  }
  cancel(clientId: string, inst: Instrument = EQ, strategy = 's1'): void {
    this.venue.submit({ type: 'CancelOrder', strategy, clientId, instrumentId: inst.instrumentId });
  }
  cancelAll(inst: Instrument = EQ, strategy = 's1'): void {
    this.venue.submit({ type: 'CancelAll', strategy, instrumentId: inst.instrumentId });
  }
  fetch(what: VenueFetch['what'], extra: Partial<VenueFetch> = {}, strategy = 's1'): void {
    this.venue.submit({ type: 'Fetch', strategy, what, ...extra });
  }

  /** Events of one callback, optionally of one order. */
  of<K extends EventCallbackName>(cb: K, clientId?: string): (Got & { ev: StrategyEventMap[K] })[] {
    return this.got.filter((g) => g.cb === cb && (clientId === undefined || (g.ev as { clientId?: string }).clientId === clientId)) as never;
  }
  /** Fills of an order as [price, fillQty, leavesQty] strings. */
  fills(clientId: string): [string, string, string][] {
    return this.of('onOrderExecution', clientId).map((g) => [g.ev.price.toString(), g.ev.fillQty.toString(), g.ev.leavesQty.toString()]);
  }
  /** Callback names for one order, in delivery order. */
  trail(clientId: string): string[] {
    return this.got.filter((g) => (g.ev as { clientId?: string } | undefined)?.clientId === clientId).map((g) => g.cb);
  }
  /** Standard book: bids 10 @ 10000, 10 @ 9999; asks 3 @ 10001, 4 @ 10002, 5 @ 10003. */
  seed(inst: Instrument = EQ): void {
    const b = this.book(inst);
    b.set(BID, 10000, 10);
    b.set(BID, 9999, 10);
    b.set(ASK, 10001, 3);
    b.set(ASK, 10002, 4);
    b.set(ASK, 10003, 5);
  }
  /** Latest answer to a fetch. */
  last<K extends EventCallbackName>(cb: K): StrategyEventMap[K] {
    const all = this.of(cb);
    if (!all.length) throw new Error(`no ${cb}`);
    return all[all.length - 1]!.ev;
  }
  /** Open orders at the venue, as [clientId, price, leaves]. */
  openOrders(strategy = 's1'): [string, string, string][] {
    this.fetch(RequestType.OrdersInfo, {}, strategy);
    this.settle();
    return this.last('onOrdersInfo').orders.map((o) => [o.clientOrdId, o.price.toString(), o.leavesQty.toString()]);
  }
}
