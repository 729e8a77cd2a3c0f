/**
 * `tradeloop run`: a strategy live against a gateway (`--gateway`), or in paper mode on a
 * recorded market played at the wall clock's pace (`--paper --data`). Same kernel, same
 * journal format, same console commands as `tradeloop backtest`. See docs/runner.md.
 * @module
 */
import { readConfigFile, runnerConfigOf } from './config-file.js';
import { existsSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Logger } from 'pino';
import type { StratParams } from '../api/events.js';
import { simOptions, type RunnerConfig } from '../backtest/config.js';
import { formatSummary, summarize, summaryRows } from '../backtest/summary.js';
import { LiveClock, type Clock, type Scheduler } from '../core/clock.js';
import type { StratEnv } from '../core/env.js';
import { FileJournalSink, Journal } from '../core/journal.js';
import { createLogger } from '../core/logger.js';
import { ConsoleChannel } from '../control/console.js';
import { envControlTarget } from '../control/target.js';
import { launchTelegram, type TelegramLaunch } from '../control/telegram.js';
import type { SimVenue } from '../sim/venue.js';
import { DATA_FORMATS, openMarketData, type DataFormat } from '../data/open.js';
import { GatewayClient } from '../gateway/client.js';
import { runPaper } from '../gateway/paper.js';
import { RemoteEnv } from '../gateway/remote-env.js';
import { readPemFile, readTlsIdentity, type TlsIdentity } from '../gateway/tls.js';
import { loadStrategyClass } from './load-strategy.js';

/** A bad invocation of `tradeloop run`: printed as one line, exit code 2. */
export class RunUsageError extends Error {}

/** Environment variable holding the gateway token when neither `--token` nor `--token-file` is given. */
export const TOKEN_ENV_VAR = 'TRADELOOP_TOKEN';

/** Options of `tradeloop run` as commander parses them. */
export interface RunCliOptions {
  strategy: string;
  /** Gateway URL (`ws://` or `wss://`). */
  gateway?: string;
  /** Login name at the gateway. */
  name?: string;
  /** The token itself (visible in the process list: prefer a file or the environment). */
  token?: string;
  /** File whose content (trimmed) is the token. */
  tokenFile?: string;
  /** PEM file of the certificate(s) to trust for a `wss://` gateway (its own, self-signed). */
  ca?: string;
  /** PEM files of this strategy's certificate and key, for a `wss://` gateway that asks for one (`listen.tls.clientCaFile`). Both or neither. */
  cert?: string;
  key?: string;
  config?: string;
  journal?: string;
  logLevel: string;
  raiseErrors?: boolean;
  /** Read console commands from stdin (default true; `--no-console`). */
  console: boolean;
  /** Paper mode. */
  paper?: boolean;
  /** Market data of paper mode. */
  data?: string;
  format?: DataFormat;
  /** Paper mode: data seconds per wall second. Default 1. */
  speed: number;
  /** Paper mode: waits under this many µs check the wall each turn of the loop instead of a ≥ 1 ms timer (`LiveClockOptions.spinBelowUs`). Default 0. */
  spinBelowUs?: number;
  /** Wall ms to wait for `sendStopAck` after onStop. Default 10 000. */
  stopTimeoutMs: number;
  /** JSON file of strategy parameters: the initial ones (instead of the config's `params`), then watched: an edit calls `env.updateParams`. */
  params?: string;
}

/** Where `runCommand` reads and writes (tests replace them). */
export interface RunIo {
  stdin: NodeJS.ReadableStream;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Process environment (the token variable). */
  env: NodeJS.ProcessEnv;
  /** Aborting stops the run gracefully, like SIGINT. */
  signal?: AbortSignal;
  /** Install SIGINT/SIGTERM handlers (default true for the CLI). */
  handleSignals?: boolean;
}

/**
 * The gateway token, from (first found): `--token`, `--token-file`, the `TRADELOOP_TOKEN`
 * environment variable. A file's content is trimmed (a trailing newline is not part of the
 * token). The token is never logged or echoed; a token file readable by group or others
 * gives a warning (like ssh's keys).
 * @throws RunUsageError when none is given, the file is missing or empty.
 */
export function resolveToken(o: { token?: string; tokenFile?: string }, env: NodeJS.ProcessEnv, warn: (msg: string) => void): string {
  if (o.token !== undefined) {
    if (o.token.trim() === '') throw new RunUsageError('--token is empty');
    warn('--token puts the token in the process list and shell history; prefer --token-file or TRADELOOP_TOKEN');
    return o.token.trim();
  }
  if (o.tokenFile !== undefined) {
    if (!existsSync(o.tokenFile)) throw new RunUsageError(`token file not found: ${o.tokenFile}`);
    const mode = statSync(o.tokenFile).mode;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) warn(`token file ${o.tokenFile} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
    const t = readFileSync(o.tokenFile, 'utf8').trim();
    if (t === '') throw new RunUsageError(`token file ${o.tokenFile} is empty`);
    return t;
  }
  const v = env[TOKEN_ENV_VAR];
  if (v !== undefined && v.trim() !== '') return v.trim();
  throw new RunUsageError(`no gateway token: give --token-file <file> or set ${TOKEN_ENV_VAR}`);
}

const usage = (m: string) => new RunUsageError(m);
const readConfig = (file: string | undefined) => readConfigFile(file, usage);
const runnerConfig = (config: Record<string, unknown>, file?: string): RunnerConfig => runnerConfigOf(config, file, usage);

/**
 * `/balance` of a simulated venue: each coin's total and available balance of its account
 * (shared by the strategies of the venue).
 */
export function venueBalances(venue: SimVenue): () => Record<string, string> {
  return () => Object.fromEntries(venue.account.coins().map((c) => [c, `${venue.account.totalBalance(c).toFixed()} (available ${venue.account.availableBalance(c).toFixed()})`]));
}

/** Reads a params file: a JSON object. @throws Error with one line saying why not. */
export function readParamsFile(file: string): StratParams {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseParams(text, file);
}

/** Parses the text of a params file. @throws Error with one line saying why it is not a JSON object. */
function parseParams(text: string, file: string): StratParams {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file} must hold a JSON object of parameters`);
  return v as StratParams;
}

/** Options of `watchParamsFile`. */
export interface ParamsWatchOptions {
  /** Wall clock of the debounce timer (the runner's `LiveClock`). */
  clock: Scheduler;
  logger: Logger;
  /** Quiet time after the last change before the file is read, ms (editors write in several steps). Default 200. */
  debounceMs?: number;
}

/**
 * Watches a params file (`fs.watch` on its directory, so that an editor's rename-over-save
 * is seen) and, once it has been quiet for `debounceMs`, reads it and calls
 * `env.updateParams` when its content changed. A file that cannot be read or parsed, or
 * parameters the strategy's `paramsSchema` refuses, are logged with the reason and the old
 * parameters stay. Returns the stopper.
 */
export function watchParamsFile(file: string, env: () => StratEnv | undefined, o: ParamsWatchOptions): () => void {
  const path = resolvePath(file);
  const name = basename(path);
  const debounceUs = (o.debounceMs ?? 200) * 1000;
  let last: string | undefined;
  try {
    last = readFileSync(path, 'utf8');
  } catch {
    last = undefined;
  }
  let timer: number | undefined;
  let closed = false;
  const apply = () => {
    timer = undefined;
    if (closed) return;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      // Gone for a moment (a rename-over-save): the next event reads it.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') o.logger.warn({ file }, `params file not read, the old parameters stay: ${(err as Error).message}`);
      return;
    }
    if (text === last) return;
    const e = env();
    // Not started yet (connecting, reconciling): applied once it runs. Over: never.
    if (!e || e.state === 'created' || e.state === 'connecting') {
      timer = o.clock.at(o.clock.now() + 1_000_000, apply);
      return;
    }
    if (e.state !== 'running' && e.state !== 'stopping') return;
    last = text;
    let next: StratParams;
    try {
      next = parseParams(text, file);
    } catch (err) {
      o.logger.warn({ file }, `params file refused, the old parameters stay: ${(err as Error).message}`);
      return;
    }
    const r = e.updateParams(next);
    if (r.ok) o.logger.info({ file, params: r.params }, 'params file applied: onStratParamsUpdate sent');
    else o.logger.warn({ file, reason: r.reason }, `params file refused by the strategy's paramsSchema, the old parameters stay: ${r.reason}`);
  };
  let w: FSWatcher;
  try {
    w = watch(dirname(path), { persistent: false }, (_event, changed) => {
      if (closed || (changed !== null && changed !== name)) return;
      if (timer !== undefined) o.clock.cancel(timer);
      timer = o.clock.at(o.clock.now() + debounceUs, apply);
    });
  } catch (err) {
    throw new RunUsageError(`cannot watch the params file ${file}: ${(err as Error).message}`);
  }
  w.on('error', (err) => o.logger.warn({ file, err: err.message }, 'params file watch failed; edits are no longer applied'));
  return () => {
    closed = true;
    if (timer !== undefined) o.clock.cancel(timer);
    w.close();
  };
}

/** The initial parameters: the params file's when given (it replaces the config's `params`), else the config's. */
function initialParams(o: RunCliOptions, rc: RunnerConfig): StratParams {
  if (!o.params) return rc.params ?? {};
  if (!existsSync(o.params)) throw new RunUsageError(`params file not found: ${o.params}`);
  try {
    return readParamsFile(o.params);
  } catch (err) {
    throw new RunUsageError((err as Error).message);
  }
}

/** Telegram of a runner, when its config has a `telegram` section: started in the background (a failure is logged, the run goes on). */
function runnerTelegram(o: RunCliOptions, rc: RunnerConfig, io: RunIo): { enabled: boolean; launch: (env: StratEnv, logger: Logger, venue?: SimVenue) => void; publish: (s: string, m: string) => void; stop: () => Promise<void> } {
  let tg: TelegramLaunch | undefined;
  return {
    enabled: rc.telegram !== undefined && rc.telegram.enabled !== false,
    launch(env, logger, venue) {
      if (tg) return;
      // Its own LiveClock (message ages, send pacing), not the strategy's clock.
      tg = launchTelegram(rc.telegram, [envControlTarget(env, venue ? { balances: venueBalances(venue) } : {})], logger, { baseDir: o.config ? dirname(resolvePath(o.config)) : undefined, env: io.env });
    },
    publish: (s, m) => tg?.publish(s, m),
    stop: async () => {
      await tg?.stop();
    },
  };
}

function spinBelowUs(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0 || n > 1000) throw new InvalidArgumentError('must be an integer from 0 to 1000 (µs)');
  return n;
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

/** The `--ca` file's certificates. @throws RunUsageError naming the file. */
function trustedCa(file: string): string {
  try {
    return readPemFile(file, 'certificate');
  } catch (err) {
    throw new RunUsageError(`--ca: ${(err as Error).message}`);
  }
}

/** The `--cert`/`--key` pair. @throws RunUsageError naming the file. */
function clientIdentity(cert: string, key: string): TlsIdentity {
  try {
    return readTlsIdentity(cert, key, '--cert/--key');
  } catch (err) {
    throw new RunUsageError((err as Error).message);
  }
}

/** Checks the mode options before anything is loaded. */
function checkModes(o: RunCliOptions): void {
  if (o.paper && o.gateway) throw new RunUsageError('give either --gateway (live) or --paper, not both');
  if (!o.paper && !o.gateway) throw new RunUsageError('give --gateway <url> (live) or --paper --data <file>');
  if (o.paper) {
    if (!o.data) throw new RunUsageError('--paper needs --data <file>');
    if (o.name || o.token || o.tokenFile || o.ca || o.cert || o.key) throw new RunUsageError('--name, tokens, --ca, --cert and --key are for --gateway, not --paper');
    return;
  }
  if (!/^wss?:\/\/[^\s/]+/.test(o.gateway!)) throw new RunUsageError(`--gateway must be a ws:// or wss:// URL, got '${o.gateway}'`);
  if (!o.name) throw new RunUsageError('--gateway needs --name <strategy login name>');
  if (o.ca !== undefined && !o.gateway!.startsWith('wss://')) throw new RunUsageError('--ca is for a wss:// gateway');
  if ((o.cert === undefined) !== (o.key === undefined)) throw new RunUsageError('give --cert and --key together');
  if (o.cert !== undefined && !o.gateway!.startsWith('wss://')) throw new RunUsageError('--cert and --key are for a wss:// gateway');
  if (!/^[\w.:-]{1,64}$/.test(o.name)) throw new RunUsageError(`--name '${o.name}' is not a strategy name (1-64 letters, digits, _ . : -)`);
}

/** Installs graceful-stop signal handlers; a second signal exits at once. Returns the uninstaller. */
function onSignals(stop: () => void, stderr: (t: string) => void, what: string): () => void {
  let seen = 0;
  const handler = (sig: NodeJS.Signals) => {
    seen++;
    if (seen === 1) {
      stderr(`tradeloop: ${sig}: stopping (${what}); ${sig} again to exit at once\n`);
      stop();
    } else process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/**
 * Runs `tradeloop run`; resolves with the exit code (0 after a graceful stop, 1 when the
 * strategy failed or the gateway ended the session, 2 for usage errors, thrown as
 * `RunUsageError`).
 */
export async function runCommand(o: RunCliOptions, io: RunIo): Promise<number> {
  checkModes(o);
  const config = readConfig(o.config);
  const rc = runnerConfig(config, o.config);
  const Strategy = await loadStrategyClass(o.strategy).catch((e: Error) => {
    throw new RunUsageError(e.message);
  });
  return o.paper ? paperMode(o, io, config, rc, Strategy) : gatewayMode(o, io, config, rc, Strategy);
}

async function gatewayMode(o: RunCliOptions, io: RunIo, config: Record<string, unknown>, rc: RunnerConfig, Strategy: Awaited<ReturnType<typeof loadStrategyClass>>): Promise<number> {
  const clock = new LiveClock();
  const logger = createLogger({ clock, level: o.logLevel });
  const token = resolveToken(o, io.env, (m) => logger.warn(m));
  const ca = o.ca === undefined ? undefined : trustedCa(o.ca);
  const identity = o.cert === undefined || o.key === undefined ? undefined : clientIdentity(o.cert, o.key);
  const url = o.gateway!;
  if (url.startsWith('ws://') && !/^ws:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/.test(url)) {
    logger.warn({ gateway: url }, 'ws:// to another host sends the token in clear: use wss://');
  }
  const params = initialParams(o, rc);
  const journal = o.journal ? new Journal(new FileJournalSink(o.journal), { marketData: 'value' }) : undefined;
  const consoleCh = o.console ? new ConsoleChannel(io.stdin, (t) => io.stdout(t + '\n')) : undefined;
  const tg = runnerTelegram(o, rc, io);
  const client = new GatewayClient({ url, strategy: o.name!, token, clock, logger, ca, identity });
  const remote = new RemoteEnv({
    strategy: new Strategy(config),
    client,
    clock,
    logger,
    journal,
    params,
    timeZone: rc.timeZone,
    raiseErrors: o.raiseErrors ?? rc.raiseErrors === true,
    controls: rc.controls,
    killSwitch: rc.killSwitch,
    // Kill switch trips, pauses and publishTelegram reach the owner on Telegram when configured.
    telegram: tg.enabled ? tg.publish : undefined,
    onEnv: (env) => {
      consoleCh?.attach(env);
      tg.launch(env, logger);
    },
  });
  const unwatch = o.params ? watchParamsFile(o.params, () => remote.env, { clock, logger }) : undefined;
  let code = 0;
  /** A stop asked for by the user (signal, abort): exit 0 whatever the phase. */
  let userStop = false;
  let stopping: Promise<unknown> | undefined;
  const stop = () => (stopping ??= remote.stop({ timeoutMs: o.stopTimeoutMs }));
  const userStopNow = () => {
    userStop = true;
    void stop();
  };
  const unhook = io.handleSignals === false ? () => {} : onSignals(userStopNow, io.stderr, 'onStop, then logout');
  const onAbort = userStopNow;
  const startTs = clock.now();
  if (io.signal?.aborted) onAbort();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  remote.on('ready', () => consoleCh?.flush());
  remote.on('fatal', (info) => {
    io.stderr(`tradeloop: the gateway ended the session: ${info.reason} (${info.code})\n`);
    code = 1;
    void stop();
  });
  try {
    const started = await remote.start();
    if (!started) {
      if (!userStop) code = 1;
      await stop();
    } else {
      consoleCh?.flush();
      const env = remote.env!;
      if (env.strategyName !== o.name) logger.info({ gatewayName: o.name, strategyName: env.strategyName }, 'the strategy logged in locally under another name than --name; the gateway knows it as --name');
      // Positions marked at the client's mid and the kill switch fed every second, market data or not.
      const mark = () => {
        if (remote.phase === 'stopped' || remote.phase === 'failed') return;
        remote.markToMarket();
        clock.at(clock.now() + 1_000_000, mark);
      };
      clock.at(clock.now() + 1_000_000, mark);
      // Runs until a signal, an abort, a fatal end, or a raiseErrors failure.
      await new Promise<void>((resolve) => {
        remote.on('phase', (p) => {
          if (p === 'stopped') resolve();
        });
        if (remote.phase === 'stopped') resolve();
        const watch = () => {
          if (env.failed) {
            code = 1;
            void stop();
          } else if (remote.phase !== 'stopped') clock.at(clock.now() + 200_000, watch);
        };
        watch();
      });
      await stopping;
    }
  } finally {
    unhook();
    io.signal?.removeEventListener('abort', onAbort);
    unwatch?.();
    consoleCh?.close();
    await tg.stop();
    journal?.close();
    clock.cancelAll();
  }
  const env = remote.env;
  if (env && env.state !== 'created' && env.state !== 'failed') {
    const names = new Map(env.instruments.map((i) => [`${i.exchange}|${i.instrumentId}`, i.name]));
    const summary = summarize({ strategy: env.strategyName ?? o.name!, tracker: env.tracker, names, startTs, endTs: clock.now(), events: remote.mdEvents, maxDrawdown: 0, callbackErrors: env.errorCount, stopAcked: env.state === 'stopped' });
    // Only what the tracker knows: the recorder's figures (latency, inventory, Sharpe) are a backtest's and paper run's.
    const rows = summaryRows(summary).filter(([k]) => !/^(maker|taker|sharpe|max \|position\||avg \|position\||time flat|order→|max drawdown)/.test(k));
    const w = Math.max(...rows.map(([k]) => k.length));
    io.stdout(['── live session summary (this process) ──', ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`)].join('\n') + '\n');
  }
  if (o.journal) io.stdout(`journal written to ${o.journal}\n`);
  return code;
}

async function paperMode(o: RunCliOptions, io: RunIo, config: Record<string, unknown>, rc: RunnerConfig, Strategy: Awaited<ReturnType<typeof loadStrategyClass>>): Promise<number> {
  const logClock: Clock = { now: () => 0 };
  const logger = createLogger({ clock: { now: () => logClock.now() }, level: o.logLevel });
  let issues = 0;
  const source = await openMarketData(o.data!, {
    format: o.format,
    exchange: rc.exchange,
    onIssue: (i) => {
      issues++;
      if (issues <= 20) logger.warn(`${i.file}:${i.line}: ${i.message}`);
    },
  }).catch((e: Error) => {
    throw new RunUsageError(e.message);
  });
  const params = initialParams(o, rc);
  const consoleCh = o.console ? new ConsoleChannel(io.stdin, (t) => io.stdout(t + '\n')) : undefined;
  const tg = runnerTelegram(o, rc, io);
  /** Wall clock of the params file's debounce timer. */
  const wall = new LiveClock();
  let unwatch: (() => void) | undefined;
  const ac = new AbortController();
  const unhook = io.handleSignals === false ? () => {} : onSignals(() => ac.abort(), io.stderr, 'onStop, then the session ends');
  const onAbort = () => ac.abort();
  if (io.signal?.aborted) ac.abort();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const r = await runPaper({
      strategy: new Strategy(config),
      source,
      logger,
      params,
      sim: simOptions(rc.sim),
      timeZone: rc.timeZone,
      raiseErrors: o.raiseErrors ?? rc.raiseErrors === true,
      controls: rc.controls,
      killSwitch: rc.killSwitch,
      telegram: tg.enabled ? tg.publish : undefined,
      journal: o.journal ? new FileJournalSink(o.journal) : undefined,
      speed: o.speed,
      spinBelowUs: o.spinBelowUs,
      signal: ac.signal,
      stopTimeoutMs: o.stopTimeoutMs,
      onEnv: (env, clock, venue) => {
        // Log lines carry the paced (data) time, like a backtest's.
        Object.assign(logClock, { now: () => clock.now() });
        consoleCh?.attach(env);
        tg.launch(env, logger, venue);
        if (o.params) unwatch = watchParamsFile(o.params, () => env, { clock: wall, logger });
      },
      onYield: () => consoleCh?.flush(),
    });
    if (issues > 20) logger.warn(`${issues} malformed records in total`);
    io.stdout(formatSummary(r.summary).replace('── backtest summary ──', '── paper summary ──') + '\n');
    if (o.journal) io.stdout(`journal written to ${o.journal}\n`);
    if (!r.ok) {
      io.stderr(`paper run failed: ${r.error}\n`);
      return 1;
    }
    return 0;
  } finally {
    unhook();
    io.signal?.removeEventListener('abort', onAbort);
    unwatch?.();
    consoleCh?.close();
    await tg.stop();
    wall.cancelAll();
  }
}

/** Registers `tradeloop run` on the program (the only lines `main.ts` needs). */
export function addRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a strategy live against a gateway (--gateway), or paper-trade a recorded market at wall-clock pace (--paper --data)')
    .requiredOption('--strategy <file>', 'strategy module (.ts or .js); its default export is the strategy class')
    .option('--gateway <url>', 'gateway WebSocket URL, e.g. ws://127.0.0.1:7070/v1 (wss:// across hosts)')
    .option('--name <name>', 'login name of the strategy at the gateway')
    .option('--token-file <file>', `file holding the gateway token (else $${TOKEN_ENV_VAR})`)
    .option('--token <token>', 'the gateway token itself (visible in the process list: prefer --token-file)')
    .option('--ca <file>', 'PEM certificate(s) to trust for a wss:// gateway with its own certificate (default: the system\'s, and $NODE_EXTRA_CA_CERTS)')
    .option('--cert <file>', 'PEM certificate of this strategy, for a wss:// gateway that asks for one (with --key)')
    .option('--key <file>', 'PEM private key of --cert')
    .option('--paper', 'paper mode: simulated venue on a recorded market, played at wall-clock pace')
    .option('--data <file>', 'paper mode: market data file (as for backtest)')
    .addOption(new Option('--format <format>', 'paper mode: data format (default: from the file name)').choices([...DATA_FORMATS]))
    .option('--speed <n>', 'paper mode: data seconds per wall second', (v) => positiveNumber(v), 1)
    .option('--spin-below-us <us>', 'paper mode: waits shorter than this (µs, up to 1000) check the wall every turn of the event loop instead of a timer that Node never fires in under 1 ms: a simulated 100 µs latency stays 100 µs, at the cost of a busy core (default 0: timers)', (v) => spinBelowUs(v))
    .option('--config <file>', 'JSON config: passed to the constructor; its "params" go to onStratParamsUpdate, "sim" to the paper venue, "telegram" starts the Telegram channel')
    .option('--params <file>', 'JSON file of strategy parameters (instead of the config\'s "params"), watched: an edit calls onStratParamsUpdate; a refused one is logged and the old ones stay')
    .option('--journal <file>', 'write the journal (JSON lines, market data by value) here')
    .option('--log-level <level>', 'log level: trace, debug, info, warn, error, silent', 'info')
    .option('--raise-errors', 'stop at the first callback error')
    .option('--stop-timeout-ms <ms>', 'wall ms to wait for sendStopAck after onStop', (v) => positiveNumber(v), 10_000)
    .option('--no-console', 'do not read commands from stdin')
    .action(async (o: RunCliOptions) => {
      try {
        process.exitCode = await runCommand(o, { stdin: process.stdin, stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), env: process.env });
        // stdin keeps the process alive once read from.
        if (o.console) process.stdin.destroy();
      } catch (err) {
        if (err instanceof RunUsageError) {
          process.stderr.write(`tradeloop: ${err.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
    });
}
