/**
 * The strategy-facing contract. Imports nothing from sim, gateway or venues.
 * @module
 */
export * from './enums.js';
export * from './codes.js';
export * from './decimal.js';
export * from './instrument.js';
export type * from './events.js';
export * from './strategy.js';
