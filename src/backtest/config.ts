/**
 * The runner's config file: the whole object goes to the strategy's constructor; the
 * fields below are also read by the runner. Validated with zod so that a bad value is
 * named with its path.
 * @module
 */
import { z } from 'zod';
import { ConstantLatencyModel } from '../sim/latency.js';
import { MakerTakerFeeModel } from '../sim/fees.js';
import type { SimVenueOptions } from '../sim/venue.js';

const decimalString = z.string().regex(/^[+-]?(\d+\.?\d*|\.\d+)$/, 'a decimal string such as "1000.5"');

/** The `sim` section: the simulated venue of a backtest. */
export const SimConfigSchema = z
  .object({
    /** Constant latency per action, µs (defaults 100 each way). */
    latencyUs: z.object({ entry: z.number().nonnegative().finite().optional(), response: z.number().nonnegative().finite().optional() }).strict().optional(),
    /** Fee rate on maker fills, fraction of notional (default 0.0002; negative = rebate). */
    makerRate: z.number().finite().optional(),
    /** Fee rate on taker fills, fraction of notional (default 0.0005). */
    takerRate: z.number().finite().optional(),
    /** Starting balances per coin. */
    initialBalances: z.record(z.string(), decimalString).optional(),
    /** Allow selling what is not held (default true). */
    allowShort: z.boolean().optional(),
    /** Refuse buys beyond the available cash (default false). */
    checkCash: z.boolean().optional(),
    /** Order-entry rate limit per strategy: `limit` requests per `windowMs` (default none). */
    rateLimit: z.object({ limit: z.number().int().min(1), windowMs: z.number().positive().finite() }).strict().optional(),
  })
  .strict();

/** The fields of the config file the runner reads. Other fields are the strategy's. */
export const RunnerConfigSchema = z
  .object({
    /** Strategy parameters: onStart / onStratParamsUpdate. */
    params: z.record(z.string(), z.unknown()).optional(),
    /** Venue id given to imported instruments (LOBSTER default 'NASDAQ'). */
    exchange: z.string().min(1).optional(),
    /** IANA timezone of daily callbacks. */
    timeZone: z.string().min(1).optional(),
    /** Stop at the first callback error. */
    raiseErrors: z.boolean().optional(),
    sim: SimConfigSchema.optional(),
  })
  .passthrough();

/** Parsed runner fields. */
export type RunnerConfig = z.infer<typeof RunnerConfigSchema>;

/** Validates the runner's fields; throws an `Error` naming the first bad path. */
export function parseRunnerConfig(v: unknown, file = 'config'): RunnerConfig {
  const r = RunnerConfigSchema.safeParse(v);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${file}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  if (r.data.timeZone) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: r.data.timeZone });
    } catch {
      throw new Error(`${file}: timeZone: unknown timezone '${r.data.timeZone}'`);
    }
  }
  return r.data;
}

/** Builds the simulated venue's models from the `sim` section. */
export function simOptions(sim: RunnerConfig['sim']): Omit<SimVenueOptions, 'exchange' | 'instruments' | 'scheduler' | 'depth'> {
  const s = sim ?? {};
  return {
    latency: new ConstantLatencyModel({ entryUs: s.latencyUs?.entry, responseUs: s.latencyUs?.response }),
    fees: new MakerTakerFeeModel({ makerRate: s.makerRate, takerRate: s.takerRate }),
    initialBalances: s.initialBalances,
    allowShort: s.allowShort,
    checkCash: s.checkCash,
    rateLimit: s.rateLimit,
  };
}
