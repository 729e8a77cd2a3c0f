/**
 * The simulated venue and its models (latency, fees, queue position, account).
 * @module
 */
export { SimVenue, type SimVenueOptions } from './venue.js';
export { ConstantLatencyModel, type ConstantLatencyOptions, type LatencyAction, type LatencyModel } from './latency.js';
export { MakerTakerFeeModel, notional, type FeeModel, type MakerTakerFeeOptions, type MakerTakerRates } from './fees.js';
export { RiskAverseQueueModel, type QueueModel, type QueuedOrder } from './queue.js';
export { SimAccount, exactNotional, holdsBase, type AccountOptions } from './account.js';
export { ConsumedLiquidity, type Consumed } from './liquidity.js';
export { SideOrderIndex, type SimOrder } from './order-index.js';
export { FixedWindowRateLimiter, RATE_LIMIT_THRESHOLDS_PCT, type RateLimitOptions, type RateTake } from './rate-limit.js';
