/**
 * The runner config file, as every `tradeloop` command that runs a strategy reads it.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseRunnerConfig, type RunnerConfig } from '../backtest/config.js';

/** Builds the command's usage error (exit 2) from a one-line message. */
export type UsageErrorFactory = (message: string) => Error;

/** Reads a JSON config file (none: `{}`); a missing file, bad JSON or a non-object is a usage error. */
export function readConfigFile(file: string | undefined, usage: UsageErrorFactory): Record<string, unknown> {
  if (!file) return {};
  if (!existsSync(file)) throw usage(`config file not found: ${file}`);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw usage(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw usage(`config file ${file} must hold a JSON object`);
  return v as Record<string, unknown>;
}

/** The runner's fields of a config (`parseRunnerConfig`); a bad field is a usage error naming it. */
export function runnerConfigOf(config: Record<string, unknown>, file: string | undefined, usage: UsageErrorFactory): RunnerConfig {
  try {
    return parseRunnerConfig(config, file);
  } catch (err) {
    throw usage((err as Error).message);
  }
}
