/**
 * The simulated venue and its models (latency, fees, queue position, account).
 * @module
 */
export { SimVenue, type SimVenueOptions } from './venue.js';
export {
  ConstantLatencyModel,
  PerActionLatencyModel,
  type ConstantLatencyOptions,
  type LatencyAction,
  type LatencyDistribution,
  type LatencyModel,
  type LatencyPair,
  type PerActionLatencyOptions,
} from './latency.js';
export { MakerTakerFeeModel, notional, type FeeModel, type MakerTakerFeeOptions, type MakerTakerRates } from './fees.js';
export { RiskAverseQueueModel, advanceByTrade, type QueueModel, type QueuedOrder } from './queue.js';
export { PowerProbQueueFunc, ProbabilisticQueueModel, type ProbQueueFunc } from './queue-prob.js';
export { L3DataRequiredError, L3FifoQueueModel } from './queue-l3.js';
export { compareQueueModels, summarizeComparison, type PlacementPlan, type QueueComparison, type QueueComparisonOrder } from './queue-compare.js';
export { SimAccount, exactNotional, holdsBase, type AccountOptions } from './account.js';
export { ConsumedLiquidity, type Consumed } from './liquidity.js';
export { SideOrderIndex, type SimOrder } from './order-index.js';
export { FixedWindowRateLimiter, RATE_LIMIT_THRESHOLDS_PCT, type RateLimitOptions, type RateTake } from './rate-limit.js';
