/**
 * The two interfaces of the contract: `IStrategy` (what the environment calls) and
 * `IStratEnv` (what the strategy calls), plus `BaseStrategy` with no-op callbacks.
 * @module
 */
import type { ExecInstr, MDSub, OrderStatus, OrderType, Side, TimeInForce } from './enums.js';
import type { Instrument } from './instrument.js';
import type { DecimalInput, Price, Qty } from './decimal.js';
import type * as E from './events.js';

/** What a callback may return: nothing, or a promise the environment awaits before the next event. */
export type CallbackResult = void | Promise<void>;

/** The callbacks a strategy implements. `BaseStrategy` implements all of them as no-ops. */
export interface IStrategy {
  /** First callback: call `env.login(name)` here; subscriptions may be made here too. */
  onFrameworkConnected(env: IStratEnv): CallbackResult;
  onFrameworkDisconnected(): CallbackResult;
  onStart(ev: E.LifecycleEvent): CallbackResult;
  onInstruments(instruments: Instrument[]): CallbackResult;
  onStratParamsUpdate(params: E.StratParams): CallbackResult;
  /** Stop trading and call `env.sendStopAck()`. */
  onStop(ev: E.LifecycleEvent): CallbackResult;
  onNewOrderAck(ev: E.NewOrderAck): CallbackResult;
  onNewOrderReject(ev: E.NewOrderReject): CallbackResult;
  onModifyOrderAck(ev: E.ModifyOrderAck): CallbackResult;
  onModifyOrderReject(ev: E.ModifyOrderReject): CallbackResult;
  onCancelOrderAck(ev: E.CancelOrderAck): CallbackResult;
  onCancelOrderReject(ev: E.CancelOrderReject): CallbackResult;
  onCancelAllAck(ev: E.CancelAllAck): CallbackResult;
  onCancelAllReject(ev: E.CancelAllReject): CallbackResult;
  onOrderExecution(ev: E.OrderExecution): CallbackResult;
  onOrderCancelled(ev: E.OrderCancelled): CallbackResult;
  onOrderStatus(ev: E.OrderStatusInfo): CallbackResult;
  onOrdersInfo(ev: E.OrdersInfo): CallbackResult;
  onAccountInfo(ev: E.AccountInfo): CallbackResult;
  onWalletInfo(ev: E.WalletInfo): CallbackResult;
  onPositionInfo(ev: E.PositionInfo): CallbackResult;
  onFundingInfo(ev: E.FundingInfo): CallbackResult;
  onRequestReject(ev: E.RequestReject): CallbackResult;
  onUnsupportedOp(ev: E.UnsupportedOp): CallbackResult;
  onRateLimitInfo(ev: E.RateLimitInfo): CallbackResult;
  onPublicTrade(ev: E.PublicTrade): CallbackResult;
  onAddPriceLevel(ev: E.AddPriceLevel): CallbackResult;
  onModifyPriceLevel(ev: E.ModifyPriceLevel): CallbackResult;
  onDeletePriceLevel(ev: E.DeletePriceLevel): CallbackResult;
  onAddLevel(ev: E.AddLevel): CallbackResult;
  onModifyLevel(ev: E.ModifyLevel): CallbackResult;
  onDeleteLevel(ev: E.DeleteLevel): CallbackResult;
  onBestBidLevelUpdate(ev: E.BestLevelUpdate): CallbackResult;
  onBestAskLevelUpdate(ev: E.BestLevelUpdate): CallbackResult;
  onGatewayStatus(ev: E.GatewayStatusEvent): CallbackResult;
  onFeedHandlerStatus(ev: E.FeedHandlerStatusEvent): CallbackResult;
}

/**
 * Every callback as a no-op. Extend it and override what you need; the constructor
 * receives the config object given to the runner (`--config`).
 */
export class BaseStrategy<Config = Record<string, unknown>> implements IStrategy {
  /** The runner's config object, as passed to the constructor. */
  readonly config: Config;
  /** The environment, set before `onFrameworkConnected` is called. */
  env!: IStratEnv;
  constructor(config?: Config) {
    this.config = (config ?? {}) as Config;
  }
  /** Logs in with the class name; override to subscribe as well. */
  onFrameworkConnected(env: IStratEnv): CallbackResult {
    env.login(this.constructor.name);
  }
  onFrameworkDisconnected(): CallbackResult {}
  onStart(_ev: E.LifecycleEvent): CallbackResult {}
  onInstruments(_instruments: Instrument[]): CallbackResult {}
  onStratParamsUpdate(_params: E.StratParams): CallbackResult {}
  /** Acknowledges at once; override to cancel orders first, then call `env.sendStopAck()`. */
  onStop(_ev: E.LifecycleEvent): CallbackResult {
    this.env.sendStopAck();
  }
  onNewOrderAck(_ev: E.NewOrderAck): CallbackResult {}
  onNewOrderReject(_ev: E.NewOrderReject): CallbackResult {}
  onModifyOrderAck(_ev: E.ModifyOrderAck): CallbackResult {}
  onModifyOrderReject(_ev: E.ModifyOrderReject): CallbackResult {}
  onCancelOrderAck(_ev: E.CancelOrderAck): CallbackResult {}
  onCancelOrderReject(_ev: E.CancelOrderReject): CallbackResult {}
  onCancelAllAck(_ev: E.CancelAllAck): CallbackResult {}
  onCancelAllReject(_ev: E.CancelAllReject): CallbackResult {}
  onOrderExecution(_ev: E.OrderExecution): CallbackResult {}
  onOrderCancelled(_ev: E.OrderCancelled): CallbackResult {}
  onOrderStatus(_ev: E.OrderStatusInfo): CallbackResult {}
  onOrdersInfo(_ev: E.OrdersInfo): CallbackResult {}
  onAccountInfo(_ev: E.AccountInfo): CallbackResult {}
  onWalletInfo(_ev: E.WalletInfo): CallbackResult {}
  onPositionInfo(_ev: E.PositionInfo): CallbackResult {}
  onFundingInfo(_ev: E.FundingInfo): CallbackResult {}
  onRequestReject(_ev: E.RequestReject): CallbackResult {}
  onUnsupportedOp(_ev: E.UnsupportedOp): CallbackResult {}
  onRateLimitInfo(_ev: E.RateLimitInfo): CallbackResult {}
  onPublicTrade(_ev: E.PublicTrade): CallbackResult {}
  onAddPriceLevel(_ev: E.AddPriceLevel): CallbackResult {}
  onModifyPriceLevel(_ev: E.ModifyPriceLevel): CallbackResult {}
  onDeletePriceLevel(_ev: E.DeletePriceLevel): CallbackResult {}
  onAddLevel(_ev: E.AddLevel): CallbackResult {}
  onModifyLevel(_ev: E.ModifyLevel): CallbackResult {}
  onDeleteLevel(_ev: E.DeleteLevel): CallbackResult {}
  onBestBidLevelUpdate(_ev: E.BestLevelUpdate): CallbackResult {}
  onBestAskLevelUpdate(_ev: E.BestLevelUpdate): CallbackResult {}
  onGatewayStatus(_ev: E.GatewayStatusEvent): CallbackResult {}
  onFeedHandlerStatus(_ev: E.FeedHandlerStatusEvent): CallbackResult {}
}

/** A new-order request. Decimal fields take a `Price`/`Qty` or a decimal string. */
export interface NewOrderRequest {
  /** Client order id; generated (`<strat>-<n>`) when not given. Must be unique per strategy. */
  clientId?: string;
  exchange: string;
  instrumentId: number;
  side: Side;
  /** Required for limit orders; ignored for market orders. */
  price?: Price | DecimalInput;
  qty: Qty | DecimalInput;
  /** One instruction or several. */
  execInstr?: ExecInstr | ExecInstr[];
  /** Default `Limit`. */
  ordType?: OrderType;
  /** Default `GTC`. */
  timeInForce?: TimeInForce;
  /** Close the whole position: the qty is set to the position's size and `ReduceOnly` applies. */
  closePosition?: boolean;
}

/** A callback run by `setupTimer`/`setupDailyCallback`: return `true` to keep it scheduled. */
export type TimerCallback = () => boolean | void | Promise<boolean | void>;
/** A command hook: receives the words after the command name; what it returns is sent back to the channel. */
export type CmdHookCallback = (params: string[]) => string | void | Promise<string | void>;

/** A structured logger bound to the strategy (pino-compatible levels). */
export interface StratLogger {
  trace(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** The strategy's view of one of its orders, as the order tracker keeps it. Extension. */
export interface OrderView {
  readonly clientId: string;
  readonly exchangeId: string | undefined;
  readonly exchange: string;
  readonly instrumentId: number;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly tif: TimeInForce;
  readonly execInstr: readonly ExecInstr[];
  readonly price: Price;
  readonly qty: Qty;
  readonly filledQty: Qty;
  readonly leavesQty: Qty;
  /** Average fill price; zero before the first fill. */
  readonly avgFillPrice: Price;
  readonly status: OrderStatus;
  /** `env.now()` when the order was sent (µs). */
  readonly createdTs: number;
}

/** Position and PnL of one instrument, in its quote currency. Extension. */
export interface PositionView {
  readonly exchange: string;
  readonly instrumentId: number;
  /** Net position: positive long, negative short. */
  readonly position: Qty;
  /** Average entry price of the open position; zero when flat. */
  readonly avgEntryPrice: Price;
  /** Realised PnL before fees. */
  readonly realizedPnl: number;
  /** Unrealised PnL marked at the mid (or last trade when one side is empty). */
  readonly unrealizedPnl: number;
  /** Fees paid (negative: rebates received). */
  readonly fees: number;
  /** Sum of filled qty. */
  readonly volume: number;
  /** Sum of filled notional. */
  readonly notional: number;
  readonly fills: number;
}

/** What a strategy calls. Requests return at once; outcomes arrive through callbacks. */
export interface IStratEnv {
  /** Registers the strategy; required in `onFrameworkConnected`. */
  login(stratName: string): void;
  /** Subscribes to market data; instruments by id or by name. Refusals arrive as `onRequestReject`. */
  subscribeToMarketData(exchange: string, instruments: ReadonlyArray<number | string>, subs: ReadonlyArray<MDSub>): void;
  /** Sends a new order; returns its client order id. */
  sendNewOrder(req: NewOrderRequest): string;
  /** Changes price, qty or both of an open order. */
  sendModifyOrder(exchange: string, clientOrdId: string, newPrice?: Price | DecimalInput, newQty?: Qty | DecimalInput): void;
  sendCancelOrder(exchange: string, instrumentId: number, clientOrdId: string): void;
  sendCancelAll(exchange: string, instrumentId: number): void;
  fetchAccountInfo(exchange: string): void;
  fetchWalletInfo(exchange: string, coin: string): void;
  fetchPositionInfo(exchange: string, instrumentId: number): void;
  fetchFundingInfo(exchange: string, instrumentId: number): void;
  fetchOrderStatus(exchange: string, instrumentId: number, clientOrdId: string): void;
  fetchOrdersInfo(exchange: string, instrumentId?: number): void;
  /** Calls `callback` every `durationMs` of the environment's clock while it returns `true`. Returns a timer id. */
  setupTimer(durationMs: number, callback: TimerCallback): number;
  /** Calls `callback` every day at `'HH:mm:ss'` in the configured timezone while it returns `true`. Returns a timer id. */
  setupDailyCallback(timeOfDay: string, callback: TimerCallback): number;
  /** Extension: cancels a timer or daily callback by id. */
  cancelTimer(timerId: number): void;
  /** Registers a command reachable from every control channel (console, Telegram, gateway). */
  addCmdHook(name: string, callback: CmdHookCallback): void;
  /** Sends a message to the strategy's Telegram chat(s); logged where Telegram is not configured. */
  publishTelegram(msg: string): void;
  /** Acknowledges `onStop`; afterwards requests are refused until the next `onStart`. */
  sendStopAck(): void;
  /** The environment's clock in µs since the epoch: simulated time in a backtest, wall time live. */
  now(): number;
  /** Structured logger bound to the strategy. */
  readonly log: StratLogger;

  /** Extension: every instrument known to the environment. */
  readonly instruments: readonly Instrument[];
  /** Extension: an instrument by id or name. */
  getInstrument(exchange: string, idOrName: number | string): Instrument | undefined;
  /** Extension: an order of this strategy by client id (open or closed). */
  getOrder(clientOrdId: string): OrderView | undefined;
  /** Extension: the strategy's open orders, optionally of one instrument. */
  openOrders(exchange?: string, instrumentId?: number): OrderView[];
  /** Extension: position and PnL of one instrument as tracked from the strategy's own fills. */
  getPosition(exchange: string, instrumentId: number): PositionView;
}
