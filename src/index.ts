/**
 * tradeloop: one strategy class for backtest, paper and live trading.
 *
 * Strategies need only the contract (`BaseStrategy`, `IStratEnv`, events, enums, codes,
 * `Price`/`Qty`, `Instrument`). The rest is for runners and tools: the kernel, books,
 * the simulated venue, importers, the backtest and replay.
 * @module
 */
export * from './api/index.js';

export { StratEnv, type StratEnvOptions, type MarketDataHub, type EnvState } from './core/env.js';
export * from './core/clock.js';
export * from './core/daily.js';
export * from './core/journal.js';
export * from './core/order-tracker.js';
export * from './core/logger.js';
export type { Venue, VenueEvent, VenueRequest, VenueSink, VenueNewOrder, VenueModifyOrder, VenueCancelOrder, VenueCancelAll, VenueFetch } from './core/venue.js';

export * from './book/l2-book.js';
export * from './book/l3-book.js';
export * from './book/feed.js';
export * from './book/price-cache.js';
export * from './book/types.js';

export * from './data/events.js';
export * from './data/importers/lobster.js';
export * from './data/importers/binance.js';
export * from './data/importers/coinbase.js';
export * from './data/recorded.js';
export * from './data/synthetic.js';
export * from './core/rng.js';
export * from './data/open.js';

export * from './sim/index.js';
export type { DeltaStats, FillCause, HorizonSummary, ModelFillStats, OrderFill, VsL3Stats } from './sim/queue-compare.js';

export * from './backtest/backtest.js';
export * from './backtest/summary.js';
export * from './backtest/recorder.js';
export * from './backtest/report.js';
export * from './backtest/config.js';

export { ConsoleChannel } from './control/console.js';
export * from './store/journal-reader.js';
export * from './store/replay.js';
export {
  ORDER_EVENT_CALLBACKS,
  OPEN_STATUSES,
  orderEventClientId,
  orderEventSkipReason,
  newOrderRecord,
  initialOrder,
  applyOrderEvent,
  applyOrderRequest,
  applyFillToPosition,
  emptyPosition,
  positionsFromFills,
  type OrderStore,
  type NewOrderRecord,
  type StoredOrder,
  type StoredPendingModify,
  type StoredFill,
  type NewFill,
  type StoredPosition,
  type StoredEvent,
  type StoredEventFields,
  type EventEffect,
  type InsertOrderResult,
  type RecordRequestResult,
  type ListOrdersQuery,
  type OrderUpdate,
} from './store/order-store.js';
export { SqliteOrderStore, OrderStoreFormatError, ORDER_STORE_FORMAT, ORDER_STORE_SCHEMA_VERSION, type SqliteOrderStoreOptions } from './store/sqlite-store.js';
