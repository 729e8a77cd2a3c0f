/**
 * Loads a strategy class from a `.ts` or `.js` module: its default export.
 * TypeScript loads without a build step through tsx's loader hooks.
 * @module
 */
import { existsSync } from 'node:fs';
import { resolve, extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { IStrategy } from '../api/strategy.js';

/** A strategy class: constructed with the runner's config object. */
export type StrategyClass = new (config: Record<string, unknown>) => IStrategy;

let tsRegistered = false;

/** A strategy module that cannot be used; the message says why. */
export class StrategyLoadError extends Error {
  readonly code = 'STRATEGY_LOAD';
}

/** Imports `file` and returns its default export, checked to be a class. */
export async function loadStrategyClass(file: string): Promise<StrategyClass> {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new StrategyLoadError(`strategy file not found: ${file}`);
  const ext = extname(abs);
  if (['.ts', '.mts', '.cts', '.tsx'].includes(ext) && !tsRegistered) {
    const { register } = await import('tsx/esm/api');
    register();
    tsRegistered = true;
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
  } catch (err) {
    throw new StrategyLoadError(`cannot load strategy ${file}: ${(err as Error).message}`);
  }
  const cls = mod.default;
  if (typeof cls !== 'function' || !cls.prototype) {
    throw new StrategyLoadError(`strategy module ${file} must have a default export that is the strategy class (e.g. export default class MyStrat extends BaseStrategy)`);
  }
  return cls as StrategyClass;
}
