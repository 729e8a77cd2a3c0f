/**
 * The runner's config file: the whole object goes to the strategy's constructor; the
 * fields below are also read by the runner. Validated with zod so that a bad value is
 * named with its path.
 * @module
 */
import { z } from 'zod';
import { ConstantLatencyModel, PerActionLatencyModel, type LatencyDistribution, type LatencyModel } from '../sim/latency.js';
import { MakerTakerFeeModel } from '../sim/fees.js';
import { L3FifoQueueModel } from '../sim/queue-l3.js';
import { PowerProbQueueFunc, ProbabilisticQueueModel } from '../sim/queue-prob.js';
import { RiskAverseQueueModel } from '../sim/queue.js';
import type { BacktestSimOptions } from './backtest.js';
import { KillSwitchConfigSchema, TradingControlsSchema } from '../core/risk.js';
import { TelegramConfigSchema } from '../control/telegram.js';

const decimalString = z.string().regex(/^[+-]?(\d+\.?\d*|\.\d+)$/, 'a decimal string such as "1000.5"');

const latencyNumber = z.number().nonnegative();

/**
 * One latency distribution, µs: exactly one of `constantUs`, `logNormal: { medianUs, p99Us }`,
 * `uniform: { minUs, maxUs }`. Errors carry the field's path (e.g. `….logNormal.p99Us`).
 */
export const LatencyDistributionSchema = z
  .object({
    constantUs: latencyNumber.optional(),
    logNormal: z
      .object({ medianUs: z.number().positive(), p99Us: z.number().positive() })
      .strict()
      .refine((v) => v.p99Us >= v.medianUs, { message: 'p99Us must be ≥ medianUs', path: ['p99Us'] })
      .optional(),
    uniform: z
      .object({ minUs: latencyNumber, maxUs: latencyNumber })
      .strict()
      .refine((v) => v.maxUs >= v.minUs, { message: 'maxUs must be ≥ minUs', path: ['maxUs'] })
      .optional(),
  })
  .strict()
  .refine((v) => [v.constantUs, v.logNormal, v.uniform].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of constantUs, logNormal, uniform',
  });

/** Entry and response distributions of one action (each side optional: falls back to `default`). */
const LatencyPairSchema = z.object({ entry: LatencyDistributionSchema.optional(), response: LatencyDistributionSchema.optional() }).strict();

/**
 * `sim.latencyUs`. Either the constant form `{ entry, response }` (numbers, µs; default 100
 * each) or the per-action form `{ seed?, default?, place?, modify?, cancel?, fetch? }`, each
 * action a `{ entry?, response? }` of distributions. Top-level `entry`/`response` may also
 * be distributions; with the per-action keys they stand for `default.entry`/`default.response`.
 */
export const LatencyConfigSchema = z
  .object({
    /** Request → engine latency of every action without its own, µs (number or distribution). */
    entry: z.union([latencyNumber, LatencyDistributionSchema]).optional(),
    /** Engine → strategy latency of every action without its own, µs (number or distribution). */
    response: z.union([latencyNumber, LatencyDistributionSchema]).optional(),
    /** Seed of the random latencies (safe integer, default 1). */
    seed: z.number().int().optional(),
    /** Fallback of every action and side not given. */
    default: LatencyPairSchema.optional(),
    place: LatencyPairSchema.optional(),
    modify: LatencyPairSchema.optional(),
    cancel: LatencyPairSchema.optional(),
    fetch: LatencyPairSchema.optional(),
    /**
     * Market-data feed latency, µs (number or distribution), drawn per event: the strategy
     * sees each event this long after its local time while the engine sees it at its
     * exchange time. Default none: one book for both.
     */
    feed: z.union([latencyNumber, LatencyDistributionSchema]).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    for (const side of ['entry', 'response'] as const) {
      if (v[side] !== undefined && v.default?.[side] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [side], message: `give either latencyUs.${side} or latencyUs.default.${side}, not both` });
      }
    }
  });

/**
 * `sim.queueModel`: `"riskAverse"` (default), `"probabilistic"` (power 3),
 * `{ "probabilistic": { "power": n } }`, or `"l3Fifo"` (exact FIFO; order-by-order data only:
 * the run fails with `L3DataRequiredError` on L2 data).
 */
export const QueueModelConfigSchema = z.union([
  z.enum(['riskAverse', 'probabilistic', 'l3Fifo']),
  z.object({ probabilistic: z.object({ power: z.number().positive().finite().optional() }).strict() }).strict(),
]);

/** The `sim` section: the simulated venue of a backtest. */
export const SimConfigSchema = z
  .object({
    /** Latency, µs: constant `{ entry, response }` (defaults 100 each way) or per action and random (see `LatencyConfigSchema`). */
    latencyUs: LatencyConfigSchema.optional(),
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
    /** Queue-position model (default `"riskAverse"`); see `QueueModelConfigSchema`. */
    queueModel: QueueModelConfigSchema.optional(),
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
    /** Trading controls, checked in the kernel before a request leaves (docs/controls.md). Unknown keys are refused. */
    controls: TradingControlsSchema.optional(),
    /** Kill switch: daily loss limit, max drawdown, action (docs/controls.md). Unknown keys are refused. */
    killSwitch: KillSwitchConfigSchema.optional(),
    /** Telegram control of the strategy and its owner's notices (docs/control.md). A relative `tokenFile` is relative to the config file. */
    telegram: TelegramConfigSchema.optional(),
  })
  .passthrough();

/** Parsed runner fields. */
export type RunnerConfig = z.infer<typeof RunnerConfigSchema>;

/** Validates the runner's fields; throws an `Error` naming the first bad path. */
export function parseRunnerConfig(v: unknown, file = 'config'): RunnerConfig {
  const r = RunnerConfigSchema.safeParse(v);
  if (!r.success) {
    const i = firstIssue(r.error.issues);
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

type Issue = { path: PropertyKey[]; message: string; code?: string; errors?: Issue[][] };

/** The most specific issue: for a failed union (number or distribution), the deepest one of its branches. */
function firstIssue(issues: readonly Issue[]): Issue {
  const i = issues[0]!;
  if (i.code !== 'invalid_union' || !i.errors?.length) return i;
  let best: Issue | undefined;
  for (const branch of i.errors) {
    if (!branch.length) continue;
    const b = firstIssue(branch);
    if (!best || b.path.length > best.path.length) best = b;
  }
  return best ? { ...best, path: [...i.path, ...best.path] } : i;
}

/** The `LatencyModel` of a parsed `sim.latencyUs`: constant for the numbers-only form, else per action. */
export function latencyModel(l: z.infer<typeof LatencyConfigSchema> | undefined): LatencyModel {
  const v = l ?? {};
  const perAction = v.seed !== undefined || v.default !== undefined || v.place !== undefined || v.modify !== undefined || v.cancel !== undefined || v.fetch !== undefined;
  if (!perAction && (v.entry === undefined || typeof v.entry === 'number') && (v.response === undefined || typeof v.response === 'number') && (v.feed === undefined || typeof v.feed === 'number')) {
    return new ConstantLatencyModel({ entryUs: v.entry, responseUs: v.response, feedUs: v.feed });
  }
  type Pair = z.infer<typeof LatencyPairSchema> | undefined;
  const pair = (p: Pair) => (p === undefined ? undefined : { entry: dist(p.entry), response: dist(p.response) });
  return new PerActionLatencyModel({
    seed: v.seed,
    default: { entry: dist(v.entry) ?? dist(v.default?.entry), response: dist(v.response) ?? dist(v.default?.response) },
    place: pair(v.place),
    modify: pair(v.modify),
    cancel: pair(v.cancel),
    fetch: pair(v.fetch),
    feed: dist(v.feed),
  });
}

/** A parsed distribution (or a bare number: constant) as a `LatencyDistribution`. */
function dist(x: number | z.infer<typeof LatencyDistributionSchema> | undefined): LatencyDistribution | undefined {
  if (x === undefined) return undefined;
  if (typeof x === 'number') return { constantUs: x };
  if (x.constantUs !== undefined) return { constantUs: x.constantUs };
  if (x.logNormal !== undefined) return { logNormal: x.logNormal };
  return { uniform: x.uniform! };
}

/** Builds the simulated venue's models from the `sim` section. */
export function simOptions(sim: RunnerConfig['sim']): BacktestSimOptions {
  const s = sim ?? {};
  return {
    latency: latencyModel(s.latencyUs),
    fees: new MakerTakerFeeModel({ makerRate: s.makerRate, takerRate: s.takerRate }),
    initialBalances: s.initialBalances,
    allowShort: s.allowShort,
    checkCash: s.checkCash,
    rateLimit: s.rateLimit,
    ...queueModelOptions(s.queueModel),
  };
}

/** The venue option(s) of a parsed `sim.queueModel`: one model per instrument. */
function queueModelOptions(q: z.infer<typeof QueueModelConfigSchema> | undefined): Pick<BacktestSimOptions, 'queueModel' | 'bookQueueModel'> {
  if (q === undefined || q === 'riskAverse') return { queueModel: () => new RiskAverseQueueModel() };
  if (q === 'l3Fifo') return { bookQueueModel: (_inst, book) => new L3FifoQueueModel(book) };
  const power = q === 'probabilistic' ? 3 : (q.probabilistic.power ?? 3);
  return { queueModel: () => new ProbabilisticQueueModel(new PowerProbQueueFunc(power)) };
}
