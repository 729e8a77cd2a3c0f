/** Shared test fixtures: paths of the shipped data and a quiet logger. */
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const AMZN = `${ROOT}data/lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv`;
export const AAPL = `${ROOT}data/lobster/AAPL_2012-06-21_34200000_57600000_message_10.csv`;
export const DEMO = `${ROOT}demo-strat/strategy.ts`;
export const DEMO_CONFIG = `${ROOT}demo-strat/config.json`;
