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
export { SimClock, LiveClock, type Clock, type Scheduler } from './core/clock.js';
export { DailySchedule, nextDailyTs, parseTimeOfDay, defaultTimeZone } from './core/daily.js';
export { Journal, FileJournalSink, MemoryJournalSink, type JournalSink, type JournalEntry, type JournalHeader, type JournalIn, type JournalOut, type JournalCtl, type InboundSource } from './core/journal.js';
export { OrderTracker, OrderAction, TRANSITIONS } from './core/order-tracker.js';
export { createLogger, silentLogger, type LoggerOptions } from './core/logger.js';
export type { Venue, VenueEvent, VenueRequest, VenueSink, VenueNewOrder, VenueModifyOrder, VenueCancelOrder, VenueCancelAll, VenueFetch } from './core/venue.js';

export { L2Book } from './book/l2-book.js';
export { L3Book } from './book/l3-book.js';
export { BookFeed } from './book/feed.js';
export { PriceCache } from './book/price-cache.js';
export { NO_ASK, NO_BID, type DepthView } from './book/types.js';

export { MdType, MdStatus, BID, ASK, type MdEvent, type SideCode, type MdParseIssue } from './data/events.js';
export { openLobster, type LobsterOptions, type LobsterImport } from './data/importers/lobster.js';
export { openMarketData, type OpenOptions, type DataFormat } from './data/open.js';

export * from './sim/index.js';

export { runBacktest, type BacktestOptions, type BacktestResult, type MarketSource, type ScheduledCommand } from './backtest/backtest.js';
export { formatSummary, type RunSummary, type InstrumentSummary } from './backtest/summary.js';
export { parseRunnerConfig, simOptions, type RunnerConfig } from './backtest/config.js';

export { ConsoleChannel } from './control/console.js';
export { loadJournal, reviveDecimals, JournalFormatError, type LoadedJournal } from './store/journal-reader.js';
export { replayJournal, type ReplayOptions, type ReplayResult, type ReplayDifference } from './store/replay.js';
