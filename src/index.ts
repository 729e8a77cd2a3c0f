/**
 * tradeloop: one strategy class for backtest, paper and live trading.
 * @module
 */
export * from './api/index.js';
