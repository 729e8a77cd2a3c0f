/**
 * The gateway's configuration file (JSON), validated with zod: where it listens, the
 * strategies' tokens, the order store, protocol limits, the gateway-wide rate limit, and the
 * venues it hosts. `loadGatewayConfig` reads a file, `parseGatewayConfig` a parsed value;
 * both give a {@link GatewayConfig} with every default filled in, tokens resolved (from the
 * environment where asked) and paths made absolute, or throw a {@link GatewayConfigError}
 * whose one-line message names the bad field (`gateway.json: venues[0].speed: …`).
 *
 * Tokens never appear in error messages: zod's messages name the field and the expected
 * type, not the value, and a missing `tokenEnv` variable is named by the variable.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { BacktestSimOptions } from '../backtest/backtest.js';
import { SimConfigSchema, simOptions } from '../backtest/config.js';
import type { InstrumentSpec } from '../api/instrument.js';
import { InstrumentType } from '../api/enums.js';
import { DATA_FORMATS, type DataFormat } from '../data/open.js';
import { DEFAULT_SYNTHETIC_MODEL, generateMarket, type SyntheticModel } from '../data/synthetic.js';
import type { RateLimitOptions } from '../sim/rate-limit.js';
import type { Role } from '../control/commands.js';
import { TelegramConfigSchema, type TelegramConfig } from '../control/telegram.js';
import { DEFAULT_LIMITS, ExchangeId, StrategyName, resolveLimits, type ProtocolLimits } from './protocol.js';
import type { GatewayTlsFiles } from './tls.js';

/** A configuration file that cannot be used; the message is one line naming the field. */
export class GatewayConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayConfigError';
  }
}

// ------------------------------------------------------------------ schema

const positiveMs = z.number().positive().finite();

/** A strategy's token: the token itself, or `{ "tokenEnv": "NAME" }` to read it from an environment variable. */
const ENV_NAME = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');
const TokenString = z.string().min(1, 'a token must not be empty').max(512, 'a token is at most 512 characters (the protocol limit)');

/** Names a client certificate must carry (one of them): subject CN or DNS subjectAltName. */
const CertNamesSchema = z.array(z.string().min(1).max(255)).min(1).max(64);

/**
 * A strategy's credentials: its token, or `{ token | tokenEnv, clientCertNames? }`.
 * `clientCertNames` (with `listen.tls.clientCaFile`): the strategy logs in only over a
 * connection whose client certificate carries one of these names (its subject CN, or a DNS
 * name of its subjectAltName).
 */
const TokenSchema = z.union([
  TokenString,
  z
    .strictObject({ token: TokenString.optional(), tokenEnv: ENV_NAME.optional(), clientCertNames: CertNamesSchema.optional() })
    .refine((t) => (t.token === undefined) !== (t.tokenEnv === undefined), 'give exactly one of token, tokenEnv'),
]);

/**
 * A control client's token (`tradeloop ctl`): the token, `{ "tokenEnv": "NAME" }`, or either
 * with a `role` (`viewer`, `trader`, `admin`; default `admin`) and `clientCertNames` (as a
 * strategy's: the control client logs in only with a certificate carrying one of them).
 */
const ControlTokenSchema = z.union([
  TokenString,
  z
    .strictObject({ token: TokenString.optional(), tokenEnv: ENV_NAME.optional(), role: z.enum(['viewer', 'trader', 'admin']).optional(), clientCertNames: CertNamesSchema.optional() })
    .refine((t) => (t.token === undefined) !== (t.tokenEnv === undefined), 'give exactly one of token, tokenEnv'),
]);

/** `limit` requests per `windowMs` (fixed windows aligned to multiples of `windowMs`). */
const RateLimitSchema = z.strictObject({ limit: z.int().min(1), windowMs: positiveMs });

const LimitsSchema = z.strictObject({
  maxFrameBytes: z.int().min(1).optional(),
  maxJsonDepth: z.int().min(1).optional(),
  maxMsgsPerSec: z.number().positive().finite().optional(),
  burstMsgs: z.int().min(1).optional(),
  maxBadFramesPerMin: z.int().min(1).optional(),
  heartbeatMs: positiveMs.optional(),
  heartbeatTimeoutMs: positiveMs.optional(),
  loginTimeoutMs: positiveMs.optional(),
});

const SpeedSchema = z.number().positive().finite();

const ReplayVenueSchema = z.strictObject({
  kind: z.literal('replay'),
  /** Venue id strategies use; the data's instruments are listed under it. */
  exchange: ExchangeId,
  /** Market data file (recorded `.tlrec`, LOBSTER message file, Binance or Coinbase capture); relative to the config file. */
  data: z.string().min(1),
  /** Data format; default from the file name. */
  format: z.enum(DATA_FORMATS).optional(),
  /** Timezone of the data's local times (LOBSTER; default America/New_York). */
  timeZone: z.string().min(1).optional(),
  /** Replay speed: 1 = the data's own pace (its `localTs` gaps), N = N times faster. Default 1. */
  speed: SpeedSchema.default(1),
  /** Start over at the end of the data (default false: the venue closes, `Maintenance`). */
  loop: z.boolean().default(false),
  /** The simulated venue: latency, fees, balances, venue rate limit, queue model (as a backtest's `sim`). */
  sim: SimConfigSchema.optional(),
});

const SyntheticInstrumentSchema = z.strictObject({
  instrumentId: z.int().optional(),
  name: z.string().min(1).max(128).optional(),
  type: z.enum(InstrumentType).optional(),
  tickSize: z.string().regex(/^\d+(\.\d+)?$/, 'expected a decimal string like "0.01"').optional(),
  lotSize: z.string().regex(/^\d+(\.\d+)?$/, 'expected a decimal string like "1"').optional(),
  minQty: z.string().regex(/^\d+(\.\d+)?$/, 'expected a decimal string like "1"').optional(),
  baseCurrency: z.string().min(1).max(32).optional(),
  quoteCurrency: z.string().min(1).max(32).optional(),
  multiplier: z.number().positive().finite().optional(),
});

const SyntheticModelSchema = z.strictObject(
  Object.fromEntries(Object.keys(DEFAULT_SYNTHETIC_MODEL).map((k) => [k, z.number().finite().optional()])) as Record<keyof SyntheticModel, z.ZodOptional<z.ZodNumber>>,
);

const SyntheticVenueSchema = z.strictObject({
  kind: z.literal('synthetic'),
  exchange: ExchangeId,
  /** Events of one pass of the generator (default 1 000 000, ≈ 40 min of simulated time). */
  events: z.int().min(1).default(1_000_000),
  /** Generator seed (default 1). */
  seed: z.int().default(1),
  /** Speed relative to the generator's own clock (default 1). */
  speed: SpeedSchema.default(1),
  /** Start over at the end of a pass (default true). */
  loop: z.boolean().default(true),
  /** Opening mid price (default 100). */
  midPrice: z.number().positive().finite().optional(),
  /** Overrides of the synthetic instrument (its `exchange` is the venue's). */
  instrument: SyntheticInstrumentSchema.optional(),
  /** Overrides of the order-flow model (`SyntheticModel`). */
  model: SyntheticModelSchema.optional(),
  sim: SimConfigSchema.optional(),
});

/** The configuration file as written (before defaults and token resolution). */
export const GatewayConfigSchema = z.strictObject({
  listen: z.strictObject({
    /** Interface to bind. Default `127.0.0.1` (loopback only: use TLS in front for remote strategies). */
    host: z.string().min(1).default('127.0.0.1'),
    /** TCP port; 0 picks a free one (printed at start). */
    port: z.int().min(0).max(65_535),
    /** WebSocket path. Default `/v1`. */
    path: z.string().regex(/^\/[\x21-\x7e]*$/, 'expected a path starting with /').default('/v1'),
    /** TLS (`wss://`): PEM files of the certificate (chain) and its private key, relative to the config file; `clientCaFile`: require client certificates from these issuers; `crlFile` (with it): their revocation lists. Default none (`ws://`). */
    tls: z
      .strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1), clientCaFile: z.string().min(1).optional(), crlFile: z.string().min(1).optional() })
      .refine((t) => t.crlFile === undefined || t.clientCaFile !== undefined, { message: 'crlFile needs clientCaFile (revocation lists apply to client certificates)', path: ['crlFile'] })
      .optional(),
  }),
  /** Strategy name → token, or `{ token | tokenEnv, clientCertNames? }`. At least one. */
  tokens: z.record(StrategyName, TokenSchema).refine((t) => Object.keys(t).length > 0, 'configure at least one strategy'),
  /** Control clients (`tradeloop ctl`): name → token, `{ tokenEnv }`, or either with a `role`. Distinct from strategy tokens. */
  controlTokens: z.record(z.string().min(1).max(64).regex(/^[\w.:-]+$/, 'expected letters, digits, _ . : -'), ControlTokenSchema).optional(),
  /** Telegram control of every connected strategy (`docs/control.md`). */
  telegram: TelegramConfigSchema.optional(),
  store: z.strictObject({
    /** SQLite file of the order store (created if missing); relative to the config file. `:memory:` for throwaway runs. */
    path: z.string().min(1),
    /** `FULL` (default: every commit synced, survives a power loss) or `NORMAL` (survives a process crash only; faster). */
    synchronous: z.enum(['FULL', 'NORMAL']).optional(),
    /** Group commit (default true, false for write-behind with NORMAL): an order and its simulated venue's ack commit together, right before the ack is sent (`GatewayServerOptions.groupCommit`). */
    groupCommit: z.boolean().optional(),
    /** WAL frames at which the background checkpoint makes the WAL start over (default 16 000, ≈ 64 MB; `SqliteOrderStoreOptions.walRestartFrames`). Not with `writeBehind`: its worker checkpoints inside its own commits. */
    walRestartFrames: z.int().min(1).max(10_000_000).optional(),
    /**
     * Write-behind (default false): each write goes to a memory-mapped log next to the SQLite
     * file before it is acknowledged, and a worker thread applies the log to SQLite within
     * milliseconds (`WriteBehindOrderStore`). Same durability for the same `synchronous`,
     * a much shorter order → ack. Needs a file path.
     */
    writeBehind: z.boolean().optional(),
    /** Size of the write-behind log file, MiB (default 64; 1–4 000). */
    logSizeMb: z.int().min(1).max(4000).optional(),
    /** CPU priority of the write-behind worker thread: `idle` (default, SCHED_IDLE), `low` (nice 19) or `normal` (`WriteBehindOrderStoreOptions.applierPriority`). */
    applierPriority: z.enum(['idle', 'low', 'normal']).optional(),
  })
    .refine((st) => !(st.writeBehind === true && st.path === ':memory:'), { message: 'writeBehind needs a file, not :memory:', path: ['writeBehind'] })
    .refine((st) => st.logSizeMb === undefined || st.writeBehind === true, { message: 'logSizeMb needs writeBehind: true', path: ['logSizeMb'] })
    .refine((st) => st.applierPriority === undefined || st.writeBehind === true, { message: 'applierPriority needs writeBehind: true', path: ['applierPriority'] })
    .refine((st) => st.walRestartFrames === undefined || st.writeBehind !== true, { message: 'walRestartFrames is for the plain store: the write-behind worker checkpoints inside its own commits', path: ['walRestartFrames'] }),
  /** The gateway's wall clock (`LiveClockOptions`). */
  clock: z
    .strictObject({
      /** Waits shorter than this, µs (0–1 000), check the wall at each turn of the event loop instead of a ≥ 1 ms timer: a simulated 100 µs latency stays 100 µs, at the cost of a busy core. Default 0. */
      spinBelowUs: z.int().min(0).max(1000).default(0),
    })
    .default({ spinBelowUs: 0 }),
  /** Overrides of the protocol limits on client frames (`ProtocolLimits`). */
  limits: LimitsSchema.optional(),
  /** Shorthand for `limits.heartbeatMs`; without `limits.heartbeatTimeoutMs` the timeout becomes 3 × this. */
  heartbeatMs: positiveMs.optional(),
  /** Gateway-wide order-entry rate limit per strategy, over all venues (new, modify, cancel, cancel-all; fetches are free). */
  rateLimit: z
    .strictObject({
      limit: z.int().min(1).optional(),
      windowMs: positiveMs.optional(),
      /** Per-strategy limits replacing the default one. */
      strategies: z.record(StrategyName, RateLimitSchema).optional(),
    })
    .refine((r) => (r.limit === undefined) === (r.windowMs === undefined), 'give both limit and windowMs, or neither')
    .optional(),
  /** A second login of a logged-in strategy: `replace` (default: the new connection wins) or `refuse` (the protocol's 4012 for the new one). */
  sessionTakeover: z.enum(['replace', 'refuse']).default('replace'),
  /** How long `sendCommand` waits for the strategy's `cmd_result`, ms. Default 10 000. */
  cmdTimeoutMs: positiveMs.default(10_000),
  /** At shutdown, how long venue answers still in flight (latency) are waited for and recorded, ms. Default 200. */
  shutdownGraceMs: z.number().min(0).finite().default(200),
  /** Most market-data rows in one `md` frame. Default 2 000. */
  mdRowsPerFrame: z.int().min(1).max(200_000).default(2_000),
  /** A connection whose unsent bytes exceed this stops getting `md` (Disconnected) until it drains; then a fresh snapshot. Default 16 MiB. */
  maxBufferedBytes: z.int().min(1024).default(16 * 1024 * 1024),
  venues: z.array(z.discriminatedUnion('kind', [ReplayVenueSchema, SyntheticVenueSchema])).min(1, 'configure at least one venue'),
});

/** The configuration file as written. */
export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;

// ------------------------------------------------------------------ resolved form

/** A venue replaying a recorded market file, paced by its `localTs` gaps. */
export interface ReplayVenueConfig {
  kind: 'replay';
  /** Venue id. */
  exchange: string;
  /** Absolute path of the data file. */
  data: string;
  /** Data format; undefined: from the file name. */
  format: DataFormat | undefined;
  /** Timezone of the data's local times (LOBSTER); undefined: the importer's default. */
  timeZone: string | undefined;
  /** Speed multiplier (1 = real time). */
  speed: number;
  /** Start over at the end of the data. */
  loop: boolean;
  /** Simulated venue options built from the `sim` section. */
  sim: BacktestSimOptions;
}

/** A venue driven by the synthetic order-flow generator. */
export interface SyntheticVenueConfig {
  kind: 'synthetic';
  /** Venue id (also the synthetic instrument's exchange). */
  exchange: string;
  /** Events per pass. */
  events: number;
  /** Generator seed. */
  seed: number;
  /** Speed multiplier relative to the generator's clock. */
  speed: number;
  /** Start over at the end of a pass. */
  loop: boolean;
  /** Opening mid price; undefined: the generator's default (100). */
  midPrice: number | undefined;
  /** Instrument overrides (exchange included: the venue's). */
  instrument: Partial<InstrumentSpec>;
  /** Model overrides. */
  model: Partial<SyntheticModel>;
  /** Simulated venue options built from the `sim` section. */
  sim: BacktestSimOptions;
}

/** One hosted venue. */
export type VenueConfig = ReplayVenueConfig | SyntheticVenueConfig;

/** The gateway-wide rate limit: a default and per-strategy overrides (a strategy with neither is not limited). */
export interface GatewayRateLimit {
  /** The limit of strategies without their own; undefined: those are not limited. */
  default: RateLimitOptions | undefined;
  /** Per-strategy limits by strategy name. */
  strategies: Record<string, RateLimitOptions>;
}

/** The validated configuration with defaults filled in, tokens resolved and paths absolute. */
export interface GatewayConfig {
  /** Where the WebSocket server listens: interface (default `127.0.0.1`), TCP port (0: any free one), path (default `/v1`), and TLS (absolute PEM paths; undefined: plain `ws://`). */
  listen: { host: string; port: number; path: string; tls?: GatewayTlsFiles };
  /** Strategy name → token. Never log this. */
  tokens: Record<string, string>;
  /** Strategy name → the names its client certificate must carry (`GatewayServerOptions.clientCertNames`); absent: none bound. */
  clientCertNames?: Record<string, string[]>;
  /** Control client name → token, role (default `admin`) and the names its client certificate must carry, if bound. Never log this. Absent: no control clients. */
  controlTokens?: Record<string, { token: string; role: Role; clientCertNames?: string[] }>;
  /** The `telegram` section (a relative `tokenFile` made absolute); undefined: no Telegram. */
  telegram?: TelegramConfig;
  /** The order store: absolute SQLite path (or `:memory:`), its `synchronous` mode (default `FULL`), group commit (default true), the WAL's restart threshold (undefined: the store's default), write-behind (default false), its log's size (undefined: 64 MiB) and its worker's CPU priority (undefined: `idle`). */
  store: { path: string; synchronous: 'FULL' | 'NORMAL'; groupCommit: boolean; walRestartFrames?: number; writeBehind: boolean; logSizeMb?: number; applierPriority?: 'idle' | 'low' | 'normal' };
  /** The wall clock: waits under `spinBelowUs` µs poll the wall each turn of the event loop (default 0: timers only). */
  clock: { spinBelowUs: number };
  /** Protocol limits on client frames, checked by `resolveLimits`. */
  limits: ProtocolLimits;
  /** Gateway-wide order-entry rate limit; undefined: none. */
  rateLimit: GatewayRateLimit | undefined;
  /** A second login of a logged-in strategy: `replace` (default) or `refuse`. */
  sessionTakeover: 'replace' | 'refuse';
  /** How long `sendCommand` waits for an answer, ms (default 10 000). */
  cmdTimeoutMs: number;
  /** At shutdown, wait for venue answers in flight, ms (default 200). */
  shutdownGraceMs: number;
  /** Most rows per `md` frame (default 2 000). */
  mdRowsPerFrame: number;
  /** Unsent bytes per connection above which `md` pauses, bytes (default 16 MiB). */
  maxBufferedBytes: number;
  /** The hosted venues, one per exchange id. */
  venues: VenueConfig[];
}

/** Options of `parseGatewayConfig`. */
export interface ParseGatewayConfigOptions {
  /** Name used in error messages. Default `'gateway config'`. */
  file?: string;
  /** Directory relative paths are resolved against. Default the current directory. */
  baseDir?: string;
  /** Environment for `tokenEnv`. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

type Issue = { path: PropertyKey[]; message: string; code?: string; errors?: Issue[][] };

/** The most specific issue: for a failed union, the deepest issue of its branches. */
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

function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? String(p) : `.${String(p)}`;
  return s === '' ? '(root)' : s;
}

/**
 * Validates a parsed configuration file and resolves it (defaults, tokens from the
 * environment, absolute paths, limits).
 * @throws GatewayConfigError with a one-line message naming the first bad field.
 */
export function parseGatewayConfig(value: unknown, opts: ParseGatewayConfigOptions = {}): GatewayConfig {
  const file = opts.file ?? 'gateway config';
  const fail = (path: string, message: string): never => {
    throw new GatewayConfigError(`${file}: ${path}: ${message}`);
  };
  const r = GatewayConfigSchema.safeParse(value);
  if (!r.success) {
    const i = firstIssue(r.error.issues as unknown as Issue[]);
    fail(formatPath(i.path), i.message);
  }
  const c = r.data!;
  const env = opts.env ?? process.env;
  const baseDir = opts.baseDir ?? process.cwd();

  const tokens: Record<string, string> = {};
  const clientCertNames: Record<string, string[]> = {};
  for (const [name, t] of Object.entries(c.tokens)) {
    if (typeof t === 'string') {
      tokens[name] = t;
      continue;
    }
    if (t.clientCertNames !== undefined) {
      if (c.listen.tls?.clientCaFile === undefined) fail(`tokens.${name}.clientCertNames`, 'needs listen.tls.clientCaFile (client certificates)');
      clientCertNames[name] = [...t.clientCertNames];
    }
    if (t.token !== undefined) {
      tokens[name] = t.token;
      continue;
    }
    const v = env[t.tokenEnv!];
    if (v === undefined || v === '') fail(`tokens.${name}.tokenEnv`, `environment variable ${t.tokenEnv} is not set`);
    if (v!.length > 512) fail(`tokens.${name}.tokenEnv`, `the token in ${t.tokenEnv} is longer than 512 characters`);
    tokens[name] = v!;
  }

  const controlTokens: Record<string, { token: string; role: Role; clientCertNames?: string[] }> = {};
  const strategyTokens = new Set(Object.values(tokens));
  for (const [name, t] of Object.entries(c.controlTokens ?? {})) {
    const spec = typeof t === 'string' ? { token: t } : t;
    let token = spec.token;
    if (spec.tokenEnv !== undefined) {
      token = env[spec.tokenEnv];
      if (token === undefined || token === '') fail(`controlTokens.${name}.tokenEnv`, `environment variable ${spec.tokenEnv} is not set`);
      if (token!.length > 512) fail(`controlTokens.${name}.tokenEnv`, `the token in ${spec.tokenEnv} is longer than 512 characters`);
    }
    // A strategy's token must not also control every strategy.
    if (strategyTokens.has(token!)) fail(`controlTokens.${name}`, 'a control token must differ from every strategy token');
    const certNames = typeof t === 'string' ? undefined : t.clientCertNames;
    if (certNames !== undefined && c.listen.tls?.clientCaFile === undefined) fail(`controlTokens.${name}.clientCertNames`, 'needs listen.tls.clientCaFile (client certificates)');
    controlTokens[name] = { token: token!, role: (typeof t === 'string' ? undefined : t.role) ?? 'admin', ...(certNames !== undefined ? { clientCertNames: [...certNames] } : {}) };
  }

  let limits: ProtocolLimits;
  try {
    const partial: Partial<ProtocolLimits> = { ...(c.limits ?? {}) };
    if (c.heartbeatMs !== undefined) {
      if (c.limits?.heartbeatMs !== undefined) fail('heartbeatMs', 'give either heartbeatMs or limits.heartbeatMs, not both');
      partial.heartbeatMs = c.heartbeatMs;
    }
    // A shorter heartbeat alone would fall under the default timeout's check the wrong way
    // round for long ones: keep the protocol's ratio (3 heartbeats) unless told otherwise.
    if (partial.heartbeatMs !== undefined && partial.heartbeatTimeoutMs === undefined) partial.heartbeatTimeoutMs = 3 * partial.heartbeatMs;
    limits = resolveLimits(partial, DEFAULT_LIMITS);
  } catch (err) {
    if (err instanceof GatewayConfigError) throw err;
    throw new GatewayConfigError(`${file}: ${(err as Error).message}`);
  }

  const seen = new Map<string, number>();
  const venues: VenueConfig[] = c.venues.map((v, i) => {
    const prev = seen.get(v.exchange);
    if (prev !== undefined) fail(`venues[${i}].exchange`, `exchange '${v.exchange}' is already hosted by venues[${prev}]`);
    seen.set(v.exchange, i);
    let sim: BacktestSimOptions;
    try {
      sim = simOptions(v.sim);
    } catch (err) {
      return fail(`venues[${i}].sim`, (err as Error).message);
    }
    if (v.kind === 'replay') {
      const data = resolve(baseDir, v.data);
      if (!existsSync(data)) fail(`venues[${i}].data`, `data file not found: ${data}`);
      if (v.timeZone !== undefined) {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: v.timeZone });
        } catch {
          fail(`venues[${i}].timeZone`, `unknown timezone '${v.timeZone}'`);
        }
      }
      return { kind: 'replay', exchange: v.exchange, data, format: v.format, timeZone: v.timeZone, speed: v.speed, loop: v.loop, sim };
    }
    const instrument: Partial<InstrumentSpec> = { ...(v.instrument ?? {}), exchange: v.exchange };
    const model: Partial<SyntheticModel> = {};
    for (const [k, x] of Object.entries(v.model ?? {})) if (x !== undefined) model[k as keyof SyntheticModel] = x;
    try {
      // Lazy: builds and checks the options (model ranges, mid price, instrument) without generating.
      generateMarket({ events: v.events, seed: v.seed, midPrice: v.midPrice, instrument, model });
    } catch (err) {
      fail(`venues[${i}]`, (err as Error).message.replace(/^generateMarket: /, ''));
    }
    return { kind: 'synthetic', exchange: v.exchange, events: v.events, seed: v.seed, speed: v.speed, loop: v.loop, midPrice: v.midPrice, instrument, model, sim };
  });

  let rateLimit: GatewayRateLimit | undefined;
  if (c.rateLimit !== undefined) {
    rateLimit = {
      default: c.rateLimit.limit !== undefined ? { limit: c.rateLimit.limit, windowMs: c.rateLimit.windowMs! } : undefined,
      strategies: { ...(c.rateLimit.strategies ?? {}) },
    };
    for (const name of Object.keys(rateLimit.strategies)) {
      if (!Object.hasOwn(tokens, name)) fail(`rateLimit.strategies.${name}`, `strategy '${name}' has no token in tokens`);
    }
  }

  return {
    listen: {
      host: c.listen.host,
      port: c.listen.port,
      path: c.listen.path,
      ...(c.listen.tls
        ? {
            tls: {
              certFile: resolve(baseDir, c.listen.tls.certFile),
              keyFile: resolve(baseDir, c.listen.tls.keyFile),
              ...(c.listen.tls.clientCaFile !== undefined ? { clientCaFile: resolve(baseDir, c.listen.tls.clientCaFile) } : {}),
              ...(c.listen.tls.crlFile !== undefined ? { crlFile: resolve(baseDir, c.listen.tls.crlFile) } : {}),
            },
          }
        : {}),
    },
    tokens,
    ...(Object.keys(clientCertNames).length > 0 ? { clientCertNames } : {}),
    controlTokens,
    telegram: c.telegram && { ...c.telegram, ...(c.telegram.tokenFile !== undefined ? { tokenFile: resolve(baseDir, c.telegram.tokenFile) } : {}) },
    store: {
      path: c.store.path === ':memory:' ? ':memory:' : resolve(baseDir, c.store.path),
      synchronous: c.store.synchronous ?? 'FULL',
      // Write-behind NORMAL commits cost two stores into memory: holding writes for a group
      // (a deadline per group, the commit before each send) costs more than it saves there.
      groupCommit: c.store.groupCommit ?? !(c.store.writeBehind === true && (c.store.synchronous ?? 'FULL') === 'NORMAL'),
      ...(c.store.walRestartFrames !== undefined ? { walRestartFrames: c.store.walRestartFrames } : {}),
      writeBehind: c.store.writeBehind ?? false,
      ...(c.store.logSizeMb !== undefined ? { logSizeMb: c.store.logSizeMb } : {}),
      ...(c.store.applierPriority !== undefined ? { applierPriority: c.store.applierPriority } : {}),
    },
    clock: { spinBelowUs: c.clock.spinBelowUs },
    limits,
    rateLimit,
    sessionTakeover: c.sessionTakeover,
    cmdTimeoutMs: c.cmdTimeoutMs,
    shutdownGraceMs: c.shutdownGraceMs,
    mdRowsPerFrame: c.mdRowsPerFrame,
    maxBufferedBytes: c.maxBufferedBytes,
    venues,
  };
}

/**
 * Reads and validates a configuration file; relative paths in it are resolved against the
 * file's directory.
 * @param env environment for `tokenEnv` (default `process.env`).
 * @throws GatewayConfigError (one line) when the file is missing, not JSON, or invalid.
 */
export function loadGatewayConfig(file: string, env: Readonly<Record<string, string | undefined>> = process.env): GatewayConfig {
  if (!existsSync(file)) throw new GatewayConfigError(`config file not found: ${file}`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GatewayConfigError(`config file ${file} is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseGatewayConfig(value, { file, baseDir: dirname(resolve(file)), env });
}

/** The rate limit that applies to a strategy, if any. */
export function rateLimitOf(rl: GatewayRateLimit | undefined, strategy: string): RateLimitOptions | undefined {
  if (rl === undefined) return undefined;
  return Object.hasOwn(rl.strategies, strategy) ? rl.strategies[strategy] : rl.default;
}
