/**
 * Fixtures for the kernel tests: a fake `Venue`, a recording strategy and a `StratEnv`
 * factory on a `SimClock`. Not a test file itself (no `.test.ts`).
 */
import { pino, type Logger } from 'pino';
import { BaseStrategy, GatewayStatus, Liquidity, OrderType, Price, Qty, Side, TimeInForce, makeInstrument } from '../../src/api/index.js';
import type { CallbackResult, EventCallbackName, Instrument, IStratEnv, StrategyEventMap } from '../../src/api/index.js';
import type { NewOrderRequest } from '../../src/api/strategy.js';
import { SimClock } from '../../src/core/clock.js';
import { StratEnv, type MarketDataHub, type StratEnvOptions } from '../../src/core/env.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Venue, VenueEvent, VenueRequest, VenueSink } from '../../src/core/venue.js';

/** 2012-06-21 09:30:00 EDT (13:30:00Z) in µs. */
export const START_US = Date.parse('2012-06-21T13:30:00Z') * 1000;

export const AMZN = makeInstrument({ instrumentId: 1, exchange: 'SIM', name: 'nasdaq:equity:amzn', tickSize: '0.01', lotSize: '1', baseCurrency: 'AMZN', quoteCurrency: 'USD' });
export const BTC = makeInstrument({ instrumentId: 2, exchange: 'SIM', name: 'byt:perp:btc-usdt', tickSize: '0.5', lotSize: '0.001', minQty: '0.01', baseCurrency: 'BTC', quoteCurrency: 'USDT' });

/** A venue that records what it is sent and lets the test push events through its sink. */
export class FakeVenue implements Venue {
  readonly requests: VenueRequest[] = [];
  sink: VenueSink | undefined;
  constructor(
    readonly exchange = 'SIM',
    readonly instruments: readonly Instrument[] = [AMZN, BTC],
    public gw: GatewayStatus = GatewayStatus.ReadyToTrade,
  ) {}
  status(): GatewayStatus {
    return this.gw;
  }
  submit(req: VenueRequest): void {
    this.requests.push(req);
  }
  setSink(sink: VenueSink): void {
    this.sink = sink;
  }
  /** Sends an event to the environment as the venue would; `strategy` defaults to every strategy. */
  emit<K extends EventCallbackName>(cb: K, ev: StrategyEventMap[K], strategy = '*'): void {
    if (!this.sink) throw new Error('FakeVenue: no sink set');
    this.sink({ strategy, cb, ev } as VenueEvent);
  }
}

/** Every callback name of `StrategyEventMap`; a `Record` so that the compiler checks completeness. */
const EVENT_CALLBACKS: Record<EventCallbackName, true> = {
  onStart: true,
  onInstruments: true,
  onStratParamsUpdate: true,
  onStop: true,
  onFrameworkDisconnected: true,
  onNewOrderAck: true,
  onNewOrderReject: true,
  onModifyOrderAck: true,
  onModifyOrderReject: true,
  onCancelOrderAck: true,
  onCancelOrderReject: true,
  onCancelAllAck: true,
  onCancelAllReject: true,
  onOrderExecution: true,
  onOrderCancelled: true,
  onOrderStatus: true,
  onOrdersInfo: true,
  onAccountInfo: true,
  onWalletInfo: true,
  onPositionInfo: true,
  onFundingInfo: true,
  onRequestReject: true,
  onUnsupportedOp: true,
  onRateLimitInfo: true,
  onPublicTrade: true,
  onAddPriceLevel: true,
  onModifyPriceLevel: true,
  onDeletePriceLevel: true,
  onAddLevel: true,
  onModifyLevel: true,
  onDeleteLevel: true,
  onBestBidLevelUpdate: true,
  onBestAskLevelUpdate: true,
  onGatewayStatus: true,
  onFeedHandlerStatus: true,
};
export const ALL_EVENT_CALLBACKS = Object.keys(EVENT_CALLBACKS) as EventCallbackName[];

/** One callback the recorder received. */
export interface Call {
  cb: string;
  ev: unknown;
  /** `env.now()` when it ran. */
  ts: number;
}

type Behaviour = { [K in EventCallbackName]?: (ev: StrategyEventMap[K], env: IStratEnv) => CallbackResult } & {
  onFrameworkConnected?: (env: IStratEnv) => CallbackResult;
};

/**
 * A strategy that records every callback (name, event, time) and then runs an optional
 * behaviour for it. It logs in as `name` unless `login: false`; `onStop` acknowledges at
 * once unless a behaviour for `onStop` is given.
 */
export class Recorder extends BaseStrategy {
  readonly calls: Call[] = [];
  readonly behaviour: Behaviour;
  constructor(
    opts: { login?: boolean; name?: string; behaviour?: Behaviour } = {},
    readonly trace: string[] = [],
  ) {
    super({});
    this.behaviour = opts.behaviour ?? {};
    this.trace.push('constructor');
    const name = opts.name ?? 'rec';
    const login = opts.login ?? true;
    for (const cb of ALL_EVENT_CALLBACKS) {
      (this as unknown as Record<string, (ev: unknown) => CallbackResult>)[cb] = (ev: unknown) => {
        this.calls.push({ cb, ev, ts: this.env.now() });
        this.trace.push(cb);
        const fn = this.behaviour[cb] as ((ev: unknown, env: IStratEnv) => CallbackResult) | undefined;
        if (fn) return fn(ev, this.env);
        if (cb === 'onStop') this.env.sendStopAck();
        return undefined;
      };
    }
    this.onFrameworkConnected = (env: IStratEnv) => {
      this.env = env;
      this.calls.push({ cb: 'onFrameworkConnected', ev: env, ts: env.now() });
      this.trace.push('onFrameworkConnected');
      if (login) env.login(name);
      return this.behaviour.onFrameworkConnected?.(env);
    };
  }
  /** Callback names in the order received. */
  names(): string[] {
    return this.calls.map((c) => c.cb);
  }
  /** Events of one callback, in order. */
  events<K extends EventCallbackName>(cb: K): StrategyEventMap[K][] {
    return this.calls.filter((c) => c.cb === cb).map((c) => c.ev as StrategyEventMap[K]);
  }
}

/** A pino logger whose JSON lines are kept in an array. */
export function arrayLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug', base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

/** A market-data hub that records subscriptions. */
export class FakeHub implements MarketDataHub {
  readonly calls: Array<{ exchange: string; instrumentId: number; subs: string[] }> = [];
  onSubscribe: ((exchange: string, instrumentId: number) => void) | undefined;
  subscribe(exchange: string, instrumentId: number, subs: ReadonlySet<string>): void {
    this.calls.push({ exchange, instrumentId, subs: [...subs].sort() });
    this.onSubscribe?.(exchange, instrumentId);
  }
}

export interface Harness {
  env: StratEnv;
  venue: FakeVenue;
  strat: Recorder;
  clock: SimClock;
  hub: FakeHub;
}

/** Builds a `StratEnv` on a `SimClock` at `START_US` with one fake venue. Does not connect. */
export function harness(
  opts: { strat?: Recorder; venue?: FakeVenue; venues?: FakeVenue[]; clock?: SimClock } & Partial<Omit<StratEnvOptions, 'strategy' | 'clock' | 'venues'>> = {},
): Harness {
  const { strat: s, venue: v, venues: vs, clock: c, ...rest } = opts;
  const strat = s ?? new Recorder();
  const venue = v ?? new FakeVenue();
  const clock = c ?? new SimClock(START_US);
  const hub = new FakeHub();
  const env = new StratEnv({ strategy: strat, clock, venues: vs ?? [venue], logger: silentLogger(), marketData: hub, ...rest });
  return { env, venue, strat, clock, hub };
}

/** Builds and connects; throws when the strategy did not start. */
export async function running(opts: Parameters<typeof harness>[0] = {}): Promise<Harness> {
  const h = harness(opts);
  if (!(await h.env.connect())) throw new Error('strategy did not start');
  return h;
}

/** Runs due clock actions up to `limit` one at a time, letting async callbacks settle in between (as the backtest does). */
export async function runUntil(h: { env: StratEnv; clock: SimClock }, limit: number): Promise<void> {
  while (h.clock.runNext(limit)) await h.env.idle();
  h.clock.setTime(limit);
}

/** A promise with its resolve/reject handles. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending microtasks and promise chains run. */
export const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

export const order = (over: Partial<NewOrderRequest> = {}): NewOrderRequest => ({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100.01', qty: '5', ...over });

/** The venue's ack of a new order, echoing the request. */
export function ackOf(req: VenueRequest, exchangeId = `x-${(req as { clientId?: string }).clientId}`): StrategyEventMap['onNewOrderAck'] {
  if (req.type !== 'NewOrder') throw new Error(`not a new order: ${req.type}`);
  return {
    exchange: 'SIM',
    clientId: req.clientId,
    exchangeId,
    instrumentId: req.instrumentId,
    side: req.side,
    price: req.price,
    qty: req.qty,
    leavesQty: req.qty,
    orderType: req.orderType,
    tif: req.tif,
    execInstr: req.execInstr,
  };
}

export function fillOf(clientId: string, side: Side, price: string, fillQty: string, leavesQty: string, ts = START_US): StrategyEventMap['onOrderExecution'] {
  return {
    exchange: 'SIM',
    clientId,
    side,
    price: Price.of(price),
    fillQty: Qty.of(fillQty),
    leavesQty: Qty.of(leavesQty),
    execTs: ts,
    recvTs: ts,
    instrumentId: 1,
    fee: Price.ZERO,
    liquidity: Liquidity.Maker,
  };
}

export { GatewayStatus, OrderType, Side, TimeInForce };
