/**
 * The environment a strategy runs in: the same kernel in every mode. It owns the
 * lifecycle, serialized dispatch, request validation, the order tracker, timers, command
 * hooks and the journal; a `Venue` (simulated or live) and a `MarketDataHub` are the
 * world behind it.
 * @module
 */
import type { Logger } from 'pino';
import { ExecInstr, GatewayStatus, MDSub, OrderStatus, OrderType, RequestType, Side, TimeInForce } from '../api/enums.js';
import { RejectCode } from '../api/codes.js';
import { Price, type DecimalInput, type Qty } from '../api/decimal.js';
import type { Instrument, InstrumentSpec } from '../api/instrument.js';
import type { EventCallbackName, StratParams, StrategyEventMap } from '../api/events.js';
import type {
  CmdHookCallback,
  IStratEnv,
  IStrategy,
  NewOrderRequest,
  OrderView,
  PositionView,
  StratLogger,
  TimerCallback,
} from '../api/strategy.js';
import type { Scheduler } from './clock.js';
import { DailySchedule, defaultTimeZone, parseTimeOfDay } from './daily.js';
import { Dispatcher, type DispatchItem } from './dispatcher.js';
import type { InboundSource, Journal } from './journal.js';
import { OrderTracker, type TrackedOrder } from './order-tracker.js';
import * as V from './validate.js';
import type { Venue, VenueEvent, VenueNewOrder, VenueRequest } from './venue.js';
import {
  KillSwitch,
  RequestWindow,
  checkModify,
  checkNewOrder,
  hasLimits,
  isRiskReducing,
  resolveLimits,
  type ControlRejection,
  type ControlState,
  type ControlledOrder,
  type KillAction,
  type KillSwitchConfig,
  type ResolvedLimits,
  type TradingControls,
} from './risk.js';

/** Where subscriptions go: the backtest's books or a live feed. */
export interface MarketDataHub {
  /** Sets the subscriptions of one instrument (the union of everything asked so far). */
  subscribe(exchange: string, instrumentId: number, subs: ReadonlySet<MDSub>): void;
}

/** Lifecycle states of an environment. */
export type EnvState = 'created' | 'connecting' | 'running' | 'stopping' | 'stopped' | 'failed';

/** Options of `StratEnv`. */
export interface StratEnvOptions {
  strategy: IStrategy;
  /** The clock and scheduler (simulated or live). */
  clock: Scheduler;
  venues: Venue[];
  /** Receives subscriptions; omit when market data is fed from elsewhere (replay). */
  marketData?: MarketDataHub;
  journal?: Journal;
  logger: Logger;
  /** Strategy parameters given to onStart/onStratParamsUpdate. */
  params?: StratParams;
  /** IANA timezone of daily callbacks (default the system's). */
  timeZone?: string;
  /** Stop the strategy on the first callback error (default false). */
  raiseErrors?: boolean;
  /** Channel for `publishTelegram` (default: log it). */
  telegram?: (strategy: string, msg: string) => void;
  /**
   * When true, venue and market-data events are not taken from the venues but fed through
   * `feed()` (replay); requests are validated and journaled but never sent.
   */
  replay?: boolean;
  /** Trading controls checked after validation ([docs/controls.md](../../docs/controls.md)); default none. */
  controls?: TradingControls;
  /** Kill switch triggers and action; default: no automatic trigger, and a manual `kill()` pauses. */
  killSwitch?: KillSwitchConfig;
  /**
   * Mid price of an instrument, quote currency, NaN when unknown (a side of the book empty).
   * Read by the price band, the notional of market orders and the prices of a flatten.
   * Default: always NaN (those checks pass, a flatten sends market orders).
   */
  mid?: (exchange: string, instrumentId: number) => number;
  /**
   * Tells the strategy's owner about kill-switch trips, pauses, resumes and flatten failures.
   * Default: the `telegram` channel, else a `warn` log line.
   */
  notify?: (msg: string) => void;
  /**
   * A tag put in the client ids the env makes up: `<login>.<tag>-1`, `<login>.<tag>-2`, …;
   * default none (`<login>-1`). A process that restarts against a gateway's order store must
   * not reuse the ids of its previous life: the live runner passes a tag unique to the
   * process start.
   */
  clientIdSession?: string;
}

/**
 * A schema for strategy parameters: a zod schema (`z.object({...})`) or anything with a
 * compatible `safeParse`. A strategy declares one as a `paramsSchema` property, static on
 * its class or on the instance (the instance's wins); `updateParams` and the start check
 * parameters against it.
 */
export interface ParamsSchema {
  safeParse(v: unknown): { success: true; data: unknown } | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

/** Outcome of `updateParams`: the parameters now in force, or why the new ones were refused (the old ones stay). */
export type ParamsUpdateResult = { ok: true; params: StratParams } | { ok: false; reason: string };

/** Most rounds of closing orders a flatten sends before it gives up (an IOC may fill partly, or find no liquidity). */
export const FLATTEN_MAX_ROUNDS = 5;

/** Maps a venue callback to the tracker update it implies. */
type TrackerUpdate = (t: OrderTracker, ev: never) => unknown;

const TRACKED: Partial<Record<EventCallbackName, TrackerUpdate>> = {
  onNewOrderAck: (t, ev) => t.onAck(ev),
  onNewOrderReject: (t, ev) => t.onReject(ev),
  onModifyOrderAck: (t, ev) => t.onModifyAck(ev),
  onModifyOrderReject: (t, ev) => t.onModifyReject(ev),
  onCancelOrderAck: (t, ev) => t.onCancelAck(ev),
  onCancelOrderReject: (t, ev: { clientId?: string }) => (ev.clientId === undefined ? undefined : t.onCancelReject(ev as never)),
  onOrderExecution: (t, ev) => t.onExecution(ev),
  onOrderCancelled: (t, ev) => t.onCancelled(ev),
};

function decimalArg(v: Price | Qty | DecimalInput | number | undefined): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'number' ? String(v) : typeof v === 'string' ? v : v.toString();
}

function instrumentSpec(i: Instrument): InstrumentSpec {
  return {
    instrumentId: i.instrumentId,
    exchange: i.exchange,
    name: i.name,
    type: i.type,
    tickSize: i.tickSize.toString(),
    lotSize: i.lotSize.toString(),
    minQty: i.minQty.toString(),
    baseCurrency: i.baseCurrency,
    quoteCurrency: i.quoteCurrency,
    multiplier: i.multiplier,
  };
}
export { instrumentSpec };

/** The kernel's implementation of `IStratEnv`. */
export class StratEnv implements IStratEnv {
  /** Orders, positions and PnL from the strategy's own events. */
  readonly tracker: OrderTracker;
  /** Strategy-bound logger. */
  readonly log: StratLogger & Logger;
  readonly instruments: readonly Instrument[];

  private _state: EnvState = 'created';
  private stratName: string | undefined;
  private readonly dispatcher: Dispatcher;
  private readonly venues = new Map<string, Venue>();
  private readonly gwStatus = new Map<string, GatewayStatus>();
  private readonly byId = new Map<string, Instrument>();
  private readonly byName = new Map<string, Instrument>();
  private readonly subs = new Map<string, Set<MDSub>>();
  private readonly hooks = new Map<string, CmdHookCallback>();
  private readonly timers = new Map<number, { handle: number; daily: boolean }>();
  private readonly daily: DailySchedule;
  private params: StratParams;
  private nextTimerId = 0;
  private nextClientId = 0;
  private stopAckResolve: ((acked: boolean) => void) | undefined;
  private errors = 0;
  /** Venue and market-data events that arrived before the strategy started; delivered after onStratParamsUpdate. */
  private held: Array<() => void> = [];
  /** Trip state and equity figures of the kill switch (`equityCheck`, `kill`, `resume`). */
  readonly killSwitch: KillSwitch;
  /** Limits per instrument (`exchange|id`), only for instruments with at least one. */
  private readonly limits = new Map<string, ResolvedLimits>();
  /** Accepted new orders and modifies per instrument, for `maxOrdersPerSec`. */
  private readonly windows = new Map<string, RequestWindow>();
  /** Why trading is paused (pause / kill); undefined while not paused. */
  private pauseReason: string | undefined;
  /** A graceful stop is running: paused until the next start. */
  private stoppingGracefully = false;
  /** A flatten in progress: rounds of closing orders sent, and what runs once it is over. */
  private flat: { rounds: number; done?: () => void } | undefined;
  private nextKernelId = 0;
  private _startError: string | undefined;

  constructor(private readonly opts: StratEnvOptions) {
    this.params = { ...(opts.params ?? {}) };
    this.tracker = new OrderTracker({ multiplier: (ex, id) => this.byId.get(`${ex}|${id}`)?.multiplier ?? 1 });
    this.log = opts.logger.child({}) as StratLogger & Logger;
    this.dispatcher = new Dispatcher({
      raiseErrors: opts.raiseErrors,
      onError: (err, item) => {
        this.errors++;
        const e = err instanceof Error ? { message: err.message, stack: err.stack } : { message: String(err) };
        this.opts.logger.error({ err: e, callback: item.label, ev: item.ev }, `strategy callback ${item.label} failed`);
        if (opts.raiseErrors) this._state = 'failed';
      },
    });
    const all: Instrument[] = [];
    for (const v of opts.venues) {
      this.venues.set(v.exchange, v);
      this.gwStatus.set(v.exchange, v.status());
      this.lastNotifiedGw.set(v.exchange, v.status());
      for (const i of v.instruments) {
        all.push(i);
        this.byId.set(`${i.exchange}|${i.instrumentId}`, i);
        this.byName.set(`${i.exchange}|${i.name}`, i);
      }
      if (!opts.replay) v.setSink((e) => this.onVenueEvent(e));
    }
    this.instruments = Object.freeze(all);
    this.daily = new DailySchedule(opts.clock);
    if (opts.controls) {
      for (const i of all) {
        const l = resolveLimits(opts.controls, i.name);
        if (hasLimits(l)) this.limits.set(`${i.exchange}|${i.instrumentId}`, l);
      }
      // A misspelt instrument name would silently leave it without its limits.
      for (const name of Object.keys(opts.controls.instruments ?? {})) {
        if (!all.some((i) => i.name === name)) opts.logger.warn({ instrument: name }, `controls.instruments names an instrument no venue lists: '${name}'`);
      }
    }
    this.killSwitch = new KillSwitch(opts.killSwitch ?? {}, { timeZone: opts.timeZone ?? defaultTimeZone(), startUs: opts.clock.now() });
  }

  /** Lifecycle state. */
  get state(): EnvState {
    return this._state;
  }
  /** The login name, once logged in. */
  get strategyName(): string | undefined {
    return this.stratName;
  }
  /** Number of callbacks that threw or rejected. */
  get errorCount(): number {
    return this.errors;
  }
  /** True when a callback failed with `raiseErrors` set. */
  get failed(): boolean {
    return this.dispatcher.failed;
  }
  /** The error that stopped the strategy (`raiseErrors`). */
  get failure(): unknown {
    return this.dispatcher.failure;
  }
  /** Current strategy parameters. */
  get currentParams(): StratParams {
    return this.params;
  }
  /** Why the strategy did not start, besides a missing login (e.g. parameters refused by its `paramsSchema`). */
  get startError(): string | undefined {
    return this._startError;
  }
  /** True while trading is paused: kill switch tripped, `pause()`, or a graceful stop. Only risk-reducing orders and cancels pass. */
  get paused(): boolean {
    return this.pauseReason !== undefined || this.stoppingGracefully;
  }
  /** Why trading is paused, if it is. */
  get pausedReason(): string | undefined {
    return this.pauseReason ?? (this.stoppingGracefully ? 'graceful stop' : undefined);
  }
  /** True while a flatten runs (every new order and modify of the strategy is refused meanwhile). */
  get flattening(): boolean {
    return this.flat !== undefined;
  }
  /** Resolves when no callback runs and none waits. */
  idle(): Promise<void> {
    return this.dispatcher.idle();
  }
  /** True while a callback runs or waits. */
  get busy(): boolean {
    return this.dispatcher.busy;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Header fields describing this environment, for the journal. */
  journalVenues(): Array<{ exchange: string; status: string; instruments: InstrumentSpec[] }> {
    return [...this.venues.values()].map((v) => ({ exchange: v.exchange, status: this.gwStatus.get(v.exchange)!, instruments: v.instruments.map(instrumentSpec) }));
  }

  /**
   * Calls onFrameworkConnected, then (after a successful login) onStart, onInstruments and
   * onStratParamsUpdate. Resolves true when the strategy is running, false when it did not
   * log in (the error is logged; nothing trades).
   */
  async connect(): Promise<boolean> {
    if (this._state !== 'created' && this._state !== 'stopped') throw new Error(`connect() in state ${this._state}`);
    this.opts.journal?.ctl(this.now(), 'connect');
    this._state = 'connecting';
    // BaseStrategy documents `env` as set before onFrameworkConnected (its onStop uses it).
    try {
      (this.opts.strategy as { env?: IStratEnv }).env = this;
    } catch {
      /* a strategy with a read-only `env` keeps its own */
    }
    this.push('onFrameworkConnected', 'env', this, () => this.opts.strategy.onFrameworkConnected(this), false);
    await this.dispatcher.idle();
    if (this.stratName === undefined) {
      this._state = 'failed';
      this.held = [];
      this.opts.logger.error('strategy did not call env.login(name) in onFrameworkConnected: it will not start and nothing trades');
      return false;
    }
    if (this.dispatcher.failed) {
      this.held = [];
      return false;
    }
    // Parameters the strategy's schema refuses never reach it: it does not start.
    const p = this.checkParams(this.params);
    if (!p.ok) {
      this._state = 'failed';
      this.held = [];
      this._startError = `strategy parameters refused by its paramsSchema: ${p.reason}`;
      this.opts.logger.error({ params: this.params }, `${this._startError}: it will not start and nothing trades`);
      return false;
    }
    this.params = p.params;
    this.start();
    await this.dispatcher.idle();
    return (this._state as EnvState) === 'running';
  }

  private start(): void {
    this._state = 'running';
    this.stoppingGracefully = false;
    this.dispatch('onStart', 'env', { params: this.params });
    this.dispatch('onInstruments', 'env', [...this.instruments]);
    this.dispatch('onStratParamsUpdate', 'env', this.params);
    const held = this.held;
    this.held = [];
    for (const deliver of held) deliver();
  }

  /** Delivers now, or after the lifecycle callbacks when the strategy has not started yet (API.md order). */
  private deliver(fn: () => void): void {
    if (this._state === 'created' || this._state === 'connecting') this.held.push(fn);
    else fn();
  }

  /**
   * Calls onStop. Resolves true when the strategy calls `sendStopAck()`; the caller bounds
   * the wait (a backtest by simulated time, live by wall time).
   */
  stop(): Promise<boolean> {
    return this.beginStop(undefined);
  }

  /**
   * `/stop`: cancels every open order, optionally flattens (waiting until the positions are
   * closed, or the flatten gave up), then the stop path of `stop()`: onStop → the strategy's
   * `sendStopAck()`. Meanwhile trading is paused (only risk-reducing orders pass). Resolves
   * like `stop()`; journaled as a `stop` entry with `{ graceful: true, flatten }`.
   */
  gracefulStop(opts: { flatten?: boolean } = {}): Promise<boolean> {
    return this.beginStop({ flatten: opts.flatten === true });
  }

  private beginStop(graceful: { flatten: boolean } | undefined): Promise<boolean> {
    if (this._state !== 'running') return Promise.resolve(this._state === 'stopped');
    this.opts.journal?.ctl(this.now(), 'stop', graceful ? { graceful: true, flatten: graceful.flatten } : undefined);
    this._state = 'stopping';
    const acked = new Promise<boolean>((resolve) => (this.stopAckResolve = resolve));
    const onStop = () => this.dispatch('onStop', 'env', { params: this.params });
    if (graceful) {
      this.stoppingGracefully = true;
      this.cancelOpenOrders();
      if (graceful.flatten) {
        this.startFlatten(onStop);
        return acked;
      }
    }
    onStop();
    return acked;
  }

  /** Gives up waiting for a stop ack: the strategy is stopped anyway. */
  forceStopped(): void {
    if (this._state === 'stopping') {
      this._state = 'stopped';
      this.stopAckResolve?.(false);
      this.stopAckResolve = undefined;
    }
  }

  /** Marks the end of the run in the journal and cancels timers. */
  end(): void {
    this.opts.journal?.ctl(this.now(), 'end');
    for (const id of [...this.timers.keys()]) this.cancelTimer(id);
  }

  /** The framework's connection to the gateway was lost. */
  disconnected(): void {
    this.opts.journal?.ctl(this.now(), 'disconnect');
    this.dispatch('onFrameworkDisconnected', 'env', undefined);
  }

  /**
   * New strategy parameters (console, Telegram, params file). Journaled as a `params` entry,
   * then checked against the strategy's `paramsSchema` if it declares one: refused → a
   * `params-refused` entry with the reason, a warn log line, `{ ok: false, reason }`, and the
   * old parameters stay (nothing is dispatched); accepted → the schema's output (defaults
   * filled in) becomes the parameters and onStratParamsUpdate is called with it.
   */
  updateParams(params: StratParams): ParamsUpdateResult {
    this.opts.journal?.ctl(this.now(), 'params', params);
    const r = this.checkParams(params);
    if (!r.ok) {
      this.opts.journal?.ctl(this.now(), 'params-refused', { reason: r.reason });
      this.opts.logger.warn({ params, reason: r.reason }, `strategy parameters refused, the old ones stay: ${r.reason}`);
      return r;
    }
    this.params = r.params;
    this.dispatch('onStratParamsUpdate', 'env', this.params);
    return r;
  }

  /** The strategy's `paramsSchema`: the instance's property, else its class's static one. */
  private paramsSchema(): ParamsSchema | undefined {
    const s = this.opts.strategy as unknown as { paramsSchema?: unknown; constructor?: { paramsSchema?: unknown } };
    const schema = s.paramsSchema ?? s.constructor?.paramsSchema;
    return schema !== null && typeof schema === 'object' && typeof (schema as ParamsSchema).safeParse === 'function' ? (schema as ParamsSchema) : undefined;
  }

  private checkParams(params: StratParams): ParamsUpdateResult {
    const schema = this.paramsSchema();
    if (!schema) return { ok: true, params: { ...params } };
    const r = schema.safeParse(params);
    if (!r.success) {
      return { ok: false, reason: r.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ') };
    }
    const data = r.data;
    if (data === null || typeof data !== 'object' || Array.isArray(data)) return { ok: false, reason: 'the paramsSchema must produce an object' };
    return { ok: true, params: { ...(data as StratParams) } };
  }

  // ---------------------------------------------------------------- trading controls, kill switch

  /**
   * Pauses trading: cancels every open order and refuses new risk-increasing orders
   * (`TradingPaused`) until `resume()`; risk-reducing orders and cancels still pass.
   * Journaled (`pause`), and the owner is told.
   */
  pause(reason = 'paused by command'): void {
    this.opts.journal?.ctl(this.now(), 'pause', { reason });
    this.pauseReason = reason;
    this.cancelOpenOrders();
    this.opts.logger.warn({ reason }, 'trading paused');
    this.notifyOwner(`${this.stratName ?? 'strategy'}: trading paused (${reason}); open orders cancelled, only risk-reducing orders accepted until /resume`);
  }

  /**
   * Re-enables trading after `pause()` or a kill-switch trip, and re-arms the kill switch
   * (equity now is its new peak and day-start reference). Ends a flatten in progress (the
   * orders it sent run their course). Ignored during a graceful stop. Journaled (`resume`).
   */
  resume(): void {
    this.opts.journal?.ctl(this.now(), 'resume');
    if (this._state === 'stopping') {
      this.opts.logger.warn('resume() during a stop ignored');
      return;
    }
    const was = this.pausedReason;
    this.pauseReason = undefined;
    this.killSwitch.reset();
    if (this.flat) this.endFlatten('resumed');
    this.opts.logger.info({ was }, 'trading resumed');
    this.notifyOwner(`${this.stratName ?? 'strategy'}: trading resumed${was ? ` (was: ${was})` : ''}`);
  }

  /**
   * Trips the kill switch (a manual kill, or `equityCheck` on a limit): cancels every open
   * order and pauses; with action `'flatten'` (default: the config's `action`, else
   * `'pause'`) also closes every position. Journaled (`kill`, with reason and action), and
   * the owner is told. `resume()` re-enables trading.
   */
  kill(reason: string, action: KillAction = this.killSwitch.action): void {
    this.opts.journal?.ctl(this.now(), 'kill', { reason, action });
    this.killSwitch.trip(reason);
    this.pauseReason = `kill switch: ${reason}`;
    this.cancelOpenOrders();
    if (action === 'flatten') this.startFlatten();
    this.opts.logger.error({ reason, action }, 'kill switch tripped');
    this.notifyOwner(
      `${this.stratName ?? 'strategy'}: KILL SWITCH tripped: ${reason}. Open orders cancelled${action === 'flatten' ? ', positions being flattened' : ''}; risk-increasing orders refused until /resume`,
    );
  }

  /**
   * Feeds the kill switch the run's equity (net PnL, quote currency: realised + unrealised −
   * fees); the runner calls it after marking. Trips it (`kill`) when the daily loss or the
   * drawdown reaches its limit. Only while running, and never in a replay (the journal's
   * `kill` entries stand for the trips).
   */
  equityCheck(netPnl: number): void {
    if (this.opts.replay || this._state !== 'running') return;
    const reason = this.killSwitch.observe(netPnl, this.now());
    if (reason !== undefined) this.kill(reason);
  }

  /**
   * Closes every position: cancels every open order, waits until none is open, then sends one
   * closing order per non-flat position (`ReduceOnly`, IOC; client id `<strat>-flat-<n>`): a
   * limit at the edge of the instrument's price band around the mid when both are known,
   * else a market order. Repeats while a position is left (a partial fill, no liquidity) up
   * to `FLATTEN_MAX_ROUNDS` rounds, then gives up and tells the owner. Meanwhile every new
   * order and modify of the strategy is refused (`TradingPaused`). It does not pause by
   * itself: once flat, the strategy trades again. Journaled (`flatten`).
   */
  flatten(): void {
    this.opts.journal?.ctl(this.now(), 'flatten');
    this.startFlatten();
  }

  /** Sends a cancel for every open order without one in flight; returns how many. Journaled (`cancel-all`). */
  cancelAllOpen(): number {
    this.opts.journal?.ctl(this.now(), 'cancel-all');
    return this.cancelOpenOrders();
  }

  private cancelOpenOrders(): number {
    if (this._state !== 'running' && this._state !== 'stopping') return 0;
    let n = 0;
    for (const o of this.tracker.openOrders()) {
      if (o.status === OrderStatus.PendingCancel) continue;
      this.sendCancelOrder(o.exchange, o.instrumentId, o.clientId);
      n++;
    }
    return n;
  }

  private startFlatten(done?: () => void): void {
    if (this._state !== 'running' && this._state !== 'stopping') {
      done?.();
      return;
    }
    if (this.flat) {
      // Already flattening: whoever asked last also waits for it.
      const prev = this.flat.done;
      this.flat.done = prev && done ? () => (prev(), done()) : (prev ?? done);
    } else {
      this.flat = { rounds: 0, done };
    }
    this.cancelOpenOrders();
    this.stepFlatten();
  }

  /** Next step of a flatten, after each venue event: wait for no open order, then close what is left. */
  private stepFlatten(): void {
    const f = this.flat;
    if (!f) return;
    if (this._state !== 'running' && this._state !== 'stopping') return this.endFlatten('the strategy stopped');
    if (this.tracker.openOrders().length > 0) return;
    const open = this.tracker.positions().filter((p) => !p.position.isZero());
    if (open.length === 0) return this.endFlatten(undefined);
    if (f.rounds >= FLATTEN_MAX_ROUNDS) {
      return this.endFlatten(`still not flat after ${FLATTEN_MAX_ROUNDS} rounds of closing orders (${open.map((p) => `${this.byId.get(`${p.exchange}|${p.instrumentId}`)?.name ?? p.instrumentId} ${p.position}`).join(', ')})`);
    }
    f.rounds++;
    for (const p of open) this.sendFlattenOrder(p.exchange, p.instrumentId, p.position);
  }

  private endFlatten(problem: string | undefined): void {
    const f = this.flat;
    if (!f) return;
    this.flat = undefined;
    if (problem === undefined) this.opts.logger.info({ rounds: f.rounds }, 'flatten done: every position is flat');
    else if (problem === 'resumed') this.opts.logger.info({ rounds: f.rounds }, 'flatten ended by resume()');
    else {
      this.opts.logger.error({ rounds: f.rounds }, `flatten ended: ${problem}`);
      this.notifyOwner(`${this.stratName ?? 'strategy'}: flatten ended: ${problem}`);
    }
    f.done?.();
  }

  private sendFlattenOrder(exchange: string, instrumentId: number, position: Qty): void {
    const inst = this.byId.get(`${exchange}|${instrumentId}`);
    if (!inst) return;
    const side = position.isPositive() ? Side.Sell : Side.Buy;
    const mid = this.opts.mid?.(exchange, instrumentId) ?? Number.NaN;
    const band = this.limits.get(`${exchange}|${instrumentId}`)?.priceBandBps;
    let price: Price | undefined;
    if (band !== undefined && Number.isFinite(mid) && mid > 0) {
      // As far through the mid as the band allows, rounded back inside it.
      const edge = side === Side.Buy ? mid * (1 + band / 10_000) : mid * (1 - band / 10_000);
      const p = Price.fromNumber(edge, inst, side === Side.Buy ? 'down' : 'up');
      if (p.isPositive()) price = p;
    }
    let clientId: string;
    do clientId = `${this.stratName ?? 'strat'}-flat-${++this.nextKernelId}`;
    while (this.tracker.has(clientId));
    this.newOrder(
      {
        clientId,
        exchange,
        instrumentId,
        side,
        qty: position.abs(),
        ...(price ? { price, ordType: OrderType.Limit } : { ordType: OrderType.Market }),
        timeInForce: TimeInForce.IOC,
        execInstr: [ExecInstr.ReduceOnly],
      },
      true,
    );
  }

  private notifyOwner(msg: string): void {
    if (this.opts.notify) this.opts.notify(msg);
    else if (this.opts.telegram) this.opts.telegram(this.stratName ?? '', msg);
    else this.opts.logger.warn({ notify: msg }, 'owner notification (no channel configured)');
  }

  /** The controls' view of one instrument: limits, position, open orders, mid, clock, rate window. */
  private controlState(exchange: string, instrumentId: number, limits: ResolvedLimits, replacing?: TrackedOrder): ControlState {
    const key = `${exchange}|${instrumentId}`;
    const now = this.now();
    return {
      instrument: this.byId.get(key)!,
      limits,
      position: this.tracker.position(exchange, instrumentId).position,
      openOrders: this.tracker.openOrders(exchange, instrumentId),
      replacing,
      mid: this.opts.mid?.(exchange, instrumentId) ?? Number.NaN,
      nowUs: now,
      recentRequests: this.windows.get(key)?.times(now) ?? [],
    };
  }

  /** Pause and trading controls for a validated request; undefined when it may go. */
  private control(exchange: string, instrumentId: number, order: ControlledOrder, replacing?: TrackedOrder): ControlRejection | undefined {
    if (this.flat) return { ok: false, code: RejectCode.TradingPaused, reason: 'trading paused: a flatten is in progress, the kernel is closing the positions' };
    const limits = this.limits.get(`${exchange}|${instrumentId}`);
    const paused = this.paused;
    if (!limits && !paused) return undefined;
    const state = this.controlState(exchange, instrumentId, limits ?? resolveLimits(undefined, ''), replacing);
    if (paused && !isRiskReducing(order, state)) {
      return {
        ok: false,
        code: RejectCode.TradingPaused,
        reason: `trading paused (${this.pausedReason}): only risk-reducing orders and cancels are accepted; ${order.side.toLowerCase()} ${order.leavesQty} does not reduce the position ${state.position} in ${state.instrument.name}`,
      };
    }
    if (!limits) return undefined;
    return replacing ? checkModify(order, state) : checkNewOrder(order, state);
  }

  /** True when a request may be refused by the pause, a flatten or a limit. */
  private controlsActive(): boolean {
    return this.flat !== undefined || this.paused || this.limits.size > 0;
  }

  /** Counts a request let through, for `maxOrdersPerSec`. */
  private recordRequest(exchange: string, instrumentId: number): void {
    if (this.limits.size === 0) return;
    const key = `${exchange}|${instrumentId}`;
    if (this.limits.get(key)?.maxOrdersPerSec === undefined) return;
    let w = this.windows.get(key);
    if (!w) this.windows.set(key, (w = new RequestWindow()));
    w.record(this.now());
  }

  // ---------------------------------------------------------------- inbound

  /** A venue event (from the venue's sink, or fed by a replay). */
  onVenueEvent(e: VenueEvent): void {
    if (e.strategy !== '*' && e.strategy !== this.stratName) return;
    this.deliver(() => this.dispatch(e.cb, 'venue', e.ev));
  }

  /** A market-data callback from a book feed (or fed by a replay). */
  onMarketData<K extends EventCallbackName>(cb: K, ev: StrategyEventMap[K]): void {
    const s = this._state;
    if (s === 'created' || s === 'failed') return;
    // The hot path of a replay: no closure per event once the strategy runs.
    if (s === 'connecting') this.held.push(() => this.dispatch(cb, 'md', ev));
    else this.dispatch(cb, 'md', ev);
  }

  /**
   * Runs a command hook from a control channel, serialized with the strategy's callbacks.
   * Resolves with the hook's reply, or an error text for an unknown hook.
   */
  runCommand(name: string, params: string[]): Promise<string> {
    this.opts.journal?.ctl(this.now(), 'cmd', { name, params });
    return new Promise((resolve) => {
      const reply = (text: string) => {
        this.opts.journal?.out(this.now(), 'cmdReply', { name, reply: text });
        resolve(text);
      };
      // Looked up and journaled when it runs, in line with the callbacks queued before it.
      this.dispatcher.push({
        label: `cmd:${name}`,
        ev: params,
        run: () => {
          const hook = this.hooks.get(name);
          if (!hook) return `unknown command '${name}' (hooks: ${[...this.hooks.keys()].sort().join(', ') || 'none'})`;
          this.opts.journal?.in(this.now(), 'env', 'cmd', { name, params });
          return hook(params);
        },
        done: (r) => reply(r === undefined ? 'ok' : String(r)),
        failed: (err) => reply(`command '${name}' failed: ${err instanceof Error ? err.message : String(err)}`),
      });
      if (this.dispatcher.failed) resolve(`command '${name}' failed: the strategy has stopped on an error`);
    });
  }

  /** Names of the registered command hooks. */
  commandNames(): string[] {
    return [...this.hooks.keys()].sort();
  }

  private push(label: string, src: InboundSource, ev: unknown, run: () => unknown, journal = true, done?: (r: unknown) => void): void {
    const item: DispatchItem = {
      label,
      ev,
      run: () => {
        if (journal) this.opts.journal?.in(this.now(), src, label, ev);
        return run();
      },
      done,
    };
    this.dispatcher.push(item);
  }

  private dispatch<K extends EventCallbackName>(cb: K, src: InboundSource, ev: StrategyEventMap[K]): void {
    this.dispatcher.push(new CallbackItem(this, cb, src, ev));
  }

  /** Runs one strategy callback (called by `CallbackItem` in dispatch order). */
  runCallback(cb: EventCallbackName, src: InboundSource, ev: unknown): unknown {
    this.opts.journal?.in(this.now(), src, cb, ev);
    // Env-side events (lifecycle, and rejects of requests that never left) must not move
    // the tracker: a DuplicateClientId reject would otherwise "reject" the original order.
    if (src !== 'env') {
      this.beforeCallback(cb, ev);
      // A flatten moves on with the venue's answers: once nothing is open, it closes what is left.
      if (this.flat && src === 'venue') this.stepFlatten();
    }
    if (cb === 'onGatewayStatus' && !this.gatewayTransition(ev as StrategyEventMap['onGatewayStatus'])) return undefined;
    const fn = (this.opts.strategy as unknown as Record<string, (e: unknown) => unknown>)[cb];
    return typeof fn === 'function' ? fn.call(this.opts.strategy, ev) : undefined;
  }

  private lastNotifiedGw = new Map<string, GatewayStatus>();
  /** Venue status changes are delivered only on transitions (API.md). */
  private gatewayTransition(ev: StrategyEventMap['onGatewayStatus']): boolean {
    const prev = this.lastNotifiedGw.get(ev.exchange) ?? GatewayStatus.ReadyToTrade;
    this.lastNotifiedGw.set(ev.exchange, ev.status);
    return prev !== ev.status;
  }

  /** Keeps the kernel's state in step with what the strategy is about to see. */
  private beforeCallback(cb: EventCallbackName, ev: unknown): void {
    const upd = TRACKED[cb];
    if (upd) {
      const r = upd(this.tracker, ev as never) as { ok?: boolean; code?: string; message?: string; closed?: boolean } | undefined;
      // A late answer about an order that has since closed is a normal race, not a venue bug.
      if (r && r.ok === false) this.opts.logger[r.closed ? 'debug' : 'warn']({ code: r.code, callback: cb }, r.message ?? 'order tracker refused an event');
    } else if (cb === 'onGatewayStatus') {
      const g = ev as StrategyEventMap['onGatewayStatus'];
      this.gwStatus.set(g.exchange, g.status);
    }
  }

  // ---------------------------------------------------------------- validation plumbing

  private ctx(): V.ValidationContext {
    return {
      strategy: this.stratName,
      running: this._state === 'running' || this._state === 'stopping',
      gatewayStatus: (ex) => (this.venues.has(ex) ? this.gwStatus.get(ex) : undefined),
      instrument: (ex, id) => this.byId.get(`${ex}|${id}`),
      tracker: this.tracker,
      position: (ex, id) => this.tracker.position(ex, id).position,
    };
  }

  private send(exchange: string, req: VenueRequest): void {
    if (this.opts.replay) return;
    this.venues.get(exchange)!.submit(req);
  }

  private reject<K extends EventCallbackName>(cb: K, ev: StrategyEventMap[K]): void {
    this.dispatch(cb, 'env', ev);
  }

  // ---------------------------------------------------------------- IStratEnv

  now(): number {
    return this.opts.clock.now();
  }

  login(stratName: string): void {
    this.opts.journal?.out(this.now(), 'login', { stratName });
    if (this._state !== 'connecting') {
      this.reject('onRequestReject', { exchange: '', rejectCode: RejectCode.InvalidField, detail: 'login() is only valid in onFrameworkConnected', rejectedRqstType: RequestType.Login });
      return;
    }
    if (typeof stratName !== 'string' || !/^[\w.:-]{1,64}$/.test(stratName)) {
      this.reject('onRequestReject', { exchange: '', rejectCode: RejectCode.NotLoggedIn, detail: `invalid strategy name ${JSON.stringify(stratName)}: 1-64 letters, digits, _ . : -`, rejectedRqstType: RequestType.Login });
      return;
    }
    this.stratName = stratName;
    (this.log as Logger).setBindings({ strat: stratName });
  }

  subscribeToMarketData(exchange: string, instruments: ReadonlyArray<number | string>, subs: ReadonlyArray<MDSub>): void {
    this.opts.journal?.out(this.now(), 'subscribeToMarketData', { exchange, instruments, subs });
    const fail = (code: RejectCode, detail: string) => this.reject('onRequestReject', { exchange, rejectCode: code, detail, rejectedRqstType: RequestType.Subscribe });
    if (this.stratName === undefined) return fail(RejectCode.NotLoggedIn, 'subscribe before login');
    if (!this.venues.has(exchange)) return fail(RejectCode.UnknownExchange, `unknown exchange '${exchange}'`);
    const valid = new Set<string>(Object.values(MDSub));
    if (!Array.isArray(subs) || !subs.every((s) => valid.has(s))) return fail(RejectCode.InvalidField, `invalid subscription list ${JSON.stringify(subs)}; expected MDSub values`);
    if (!Array.isArray(instruments)) return fail(RejectCode.InvalidField, 'instruments must be an array of ids or names');
    for (const ref of instruments) {
      const inst = this.getInstrument(exchange, ref);
      if (!inst) {
        fail(RejectCode.UnknownInstrument, `unknown instrument ${JSON.stringify(ref)} on ${exchange}`);
        continue;
      }
      const key = `${exchange}|${inst.instrumentId}`;
      let set = this.subs.get(key);
      if (!set) this.subs.set(key, (set = new Set()));
      for (const s of subs) set.add(s);
      this.opts.marketData?.subscribe(exchange, inst.instrumentId, set);
    }
  }

  sendNewOrder(req: NewOrderRequest): string {
    return this.newOrder(req, false);
  }

  /** A new order of the strategy, or of the kernel (a flatten: journaled with `kernel: true`, exempt from the pause and the controls). */
  private newOrder(req: NewOrderRequest, kernel: boolean): string {
    let clientId = req?.clientId;
    if (clientId === undefined) {
      do clientId = `${this.stratName ?? 'strat'}${this.opts.clientIdSession === undefined ? '' : `.${this.opts.clientIdSession}`}-${++this.nextClientId}`;
      while (this.tracker.has(clientId));
    }
    const args = {
      ...req,
      clientId,
      price: decimalArg(req?.price as DecimalInput),
      qty: decimalArg(req?.qty as DecimalInput),
    };
    this.opts.journal?.out(this.now(), 'sendNewOrder', kernel ? { ...args, kernel: true } : args);
    const r = V.validateNewOrder({ ...req, clientId }, this.ctx());
    const exchange = typeof req?.exchange === 'string' ? req.exchange : '';
    if (!r.ok) {
      this.reject('onNewOrderReject', { exchange, clientId: String(clientId), rejectCode: r.code, rejectReason: r.reason });
      return String(clientId);
    }
    // Most runs have no controls and are not paused: no per-order work then.
    const c = kernel || !this.controlsActive() ? undefined : this.control(exchange, r.request.instrumentId, controlled(r.request));
    if (c) {
      this.reject('onNewOrderReject', { exchange, clientId: r.request.clientId, rejectCode: c.code, rejectReason: c.reason });
      return r.request.clientId;
    }
    this.tracker.submit(r.request, this.now(), exchange);
    if (!kernel) this.recordRequest(exchange, r.request.instrumentId);
    this.send(exchange, r.request);
    return r.request.clientId;
  }

  sendModifyOrder(exchange: string, clientOrdId: string, newPrice?: Price | DecimalInput, newQty?: Qty | DecimalInput): void {
    this.opts.journal?.out(this.now(), 'sendModifyOrder', { exchange, clientOrdId, newPrice: decimalArg(newPrice), newQty: decimalArg(newQty) });
    const r = V.validateModify(exchange, clientOrdId, newPrice, newQty, this.ctx());
    if (!r.ok) {
      this.reject('onModifyOrderReject', { exchange, clientId: clientOrdId, rejectCode: r.code, rejectReason: r.reason });
      return;
    }
    const before = this.tracker.get(clientOrdId)!;
    const m = r.request;
    const c = !this.controlsActive() ? undefined : this.control(exchange, m.instrumentId, { side: before.side, orderType: before.orderType, price: m.newPrice, qty: m.newQty, leavesQty: m.newQty.sub(before.filledQty) }, before);
    if (c) {
      this.reject('onModifyOrderReject', { exchange, clientId: clientOrdId, rejectCode: c.code, rejectReason: c.reason });
      return;
    }
    this.recordRequest(exchange, m.instrumentId);
    this.tracker.onModifyRequest(clientOrdId, r.request.newPrice, r.request.newQty);
    this.send(exchange, r.request);
  }

  sendCancelOrder(exchange: string, instrumentId: number, clientOrdId: string): void {
    this.opts.journal?.out(this.now(), 'sendCancelOrder', { exchange, instrumentId, clientOrdId });
    const r = V.validateCancel(exchange, instrumentId, clientOrdId, this.ctx());
    if (!r.ok) {
      this.reject('onCancelOrderReject', { exchange, clientId: clientOrdId, rejectCode: r.code, rejectReason: r.reason });
      return;
    }
    this.tracker.onCancelRequest(clientOrdId);
    this.send(exchange, r.request);
  }

  sendCancelAll(exchange: string, instrumentId: number): void {
    this.opts.journal?.out(this.now(), 'sendCancelAll', { exchange, instrumentId });
    const r = V.validateCancelAll(exchange, instrumentId, this.ctx());
    if (!r.ok) {
      this.reject('onCancelAllReject', { exchange, instrumentId, rejectCode: r.code, rejectReason: r.reason });
      return;
    }
    // Orders leave through their own onOrderCancelled (CancelAll); marking them pending here
    // would strand them if the venue refused the cancel-all.
    this.send(exchange, r.request);
  }

  private fetch(what: V.FetchKind, exchange: string, fields: { instrumentId?: number; coin?: string; clientId?: string }): void {
    this.opts.journal?.out(this.now(), `fetch${what}`, { exchange, ...fields });
    const r = V.validateFetch(what, exchange, fields, this.ctx());
    if (!r.ok) {
      this.reject('onRequestReject', { exchange, rejectCode: r.code, detail: r.reason, rejectedRqstType: what });
      return;
    }
    this.send(exchange, r.request);
  }
  fetchAccountInfo(exchange: string): void {
    this.fetch(RequestType.AccountInfo, exchange, {});
  }
  fetchWalletInfo(exchange: string, coin: string): void {
    this.fetch(RequestType.WalletInfo, exchange, { coin });
  }
  fetchPositionInfo(exchange: string, instrumentId: number): void {
    this.fetch(RequestType.PositionInfo, exchange, { instrumentId });
  }
  fetchFundingInfo(exchange: string, instrumentId: number): void {
    this.fetch(RequestType.FundingInfo, exchange, { instrumentId });
  }
  fetchOrderStatus(exchange: string, instrumentId: number, clientOrdId: string): void {
    this.fetch(RequestType.OrderStatus, exchange, { instrumentId, clientId: clientOrdId });
  }
  fetchOrdersInfo(exchange: string, instrumentId?: number): void {
    this.fetch(RequestType.OrdersInfo, exchange, instrumentId === undefined ? {} : { instrumentId });
  }

  setupTimer(durationMs: number, callback: TimerCallback): number {
    const id = ++this.nextTimerId;
    this.opts.journal?.out(this.now(), 'setupTimer', { id, durationMs });
    if (typeof durationMs !== 'number' || !Number.isFinite(durationMs) || durationMs <= 0 || typeof callback !== 'function') {
      this.reject('onRequestReject', { exchange: '', rejectCode: RejectCode.InvalidField, detail: `setupTimer needs a positive finite durationMs and a function, got ${String(durationMs)}`, rejectedRqstType: RequestType.Timer });
      return id;
    }
    const periodUs = Math.round(durationMs * 1000);
    const arm = (dueTs: number) => {
      const handle = this.opts.clock.at(dueTs, () => this.fireTimer(id, 'timer', callback, () => arm(dueTs + periodUs)));
      this.timers.set(id, { handle, daily: false });
    };
    arm(this.now() + periodUs);
    return id;
  }

  setupDailyCallback(timeOfDay: string, callback: TimerCallback): number {
    const id = ++this.nextTimerId;
    this.opts.journal?.out(this.now(), 'setupDailyCallback', { id, timeOfDay });
    const tz = this.opts.timeZone ?? defaultTimeZone();
    try {
      parseTimeOfDay(timeOfDay);
      if (typeof callback !== 'function') throw new TypeError('callback must be a function');
    } catch (err) {
      this.reject('onRequestReject', { exchange: '', rejectCode: RejectCode.InvalidField, detail: `setupDailyCallback: ${(err as Error).message}`, rejectedRqstType: RequestType.DailyCallback });
      return id;
    }
    const handle = this.daily.add(timeOfDay, tz, () => this.fireTimer(id, 'daily', callback, undefined));
    this.timers.set(id, { handle, daily: true });
    return id;
  }

  private fireTimer(id: number, kind: 'timer' | 'daily', callback: TimerCallback, rearm: (() => void) | undefined): void {
    if (!this.timers.has(id)) return;
    if (this._state !== 'running' && this._state !== 'stopping') {
      rearm?.();
      return;
    }
    this.push(kind, 'env', { id }, () => callback(), true, (r) => {
      if (r !== true) this.cancelTimer(id);
      else if (this.timers.has(id)) rearm?.(); // not when the callback cancelled its own timer
    });
  }

  cancelTimer(timerId: number): void {
    const t = this.timers.get(timerId);
    if (!t) return;
    this.timers.delete(timerId);
    if (t.daily) this.daily.remove(t.handle);
    else this.opts.clock.cancel(t.handle);
  }

  addCmdHook(name: string, callback: CmdHookCallback): void {
    this.opts.journal?.out(this.now(), 'addCmdHook', { name });
    if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name) || typeof callback !== 'function') {
      this.reject('onRequestReject', { exchange: '', rejectCode: RejectCode.InvalidField, detail: `invalid command hook name ${JSON.stringify(name)}`, rejectedRqstType: RequestType.CmdHook });
      return;
    }
    this.hooks.set(name, callback);
  }

  publishTelegram(msg: string): void {
    this.opts.journal?.out(this.now(), 'publishTelegram', { msg });
    if (this.opts.telegram) this.opts.telegram(this.stratName ?? '', String(msg));
    else this.opts.logger.info({ telegram: String(msg) }, 'telegram (not configured)');
  }

  sendStopAck(): void {
    this.opts.journal?.out(this.now(), 'sendStopAck', {});
    if (this._state !== 'stopping') {
      this.opts.logger.warn(`sendStopAck() in state ${this._state} ignored`);
      return;
    }
    this._state = 'stopped';
    this.stopAckResolve?.(true);
    this.stopAckResolve = undefined;
  }

  getInstrument(exchange: string, idOrName: number | string): Instrument | undefined {
    return typeof idOrName === 'number' ? this.byId.get(`${exchange}|${idOrName}`) : this.byName.get(`${exchange}|${idOrName}`);
  }

  getOrder(clientOrdId: string): OrderView | undefined {
    return this.tracker.get(clientOrdId);
  }

  openOrders(exchange?: string, instrumentId?: number): OrderView[] {
    return this.tracker.openOrders(exchange, instrumentId);
  }

  getPosition(exchange: string, instrumentId: number): PositionView {
    return this.tracker.position(exchange, instrumentId);
  }
}

/** A validated new order as the controls see it. */
function controlled(req: VenueNewOrder): ControlledOrder {
  return { side: req.side, orderType: req.orderType, price: req.price, qty: req.qty, leavesQty: req.qty };
}

/** One queued strategy callback: a single allocation per event on the replay hot path. */
class CallbackItem implements DispatchItem {
  constructor(
    private readonly env: StratEnv,
    readonly label: EventCallbackName,
    private readonly src: InboundSource,
    readonly ev: unknown,
  ) {}
  run(): unknown {
    return this.env.runCallback(this.label, this.src, this.ev);
  }
}
