#!/usr/bin/env node
/**
 * The `tradeloop` command line.
 * @module
 */
import { readConfigFile, runnerConfigOf } from './config-file.js';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';

function intArg(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('must be an integer');
  return n;
}
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { runBacktest } from '../backtest/backtest.js';
import { formatSummary } from '../backtest/summary.js';
import { writeReport } from '../backtest/report.js';
import { simOptions, type RunnerConfig } from '../backtest/config.js';
import { SimClock } from '../core/clock.js';
import { FileJournalSink } from '../core/journal.js';
import { createLogger } from '../core/logger.js';
import { ConsoleChannel } from '../control/console.js';
import { envControlTarget } from '../control/target.js';
import { launchTelegram, type TelegramLaunch } from '../control/telegram.js';
import { DATA_FORMATS, openMarketData, type DataFormat } from '../data/open.js';
import { loadJournal } from '../store/journal-reader.js';
import { ReplayDataError, replayJournal } from '../store/replay.js';
import { RECORDED_FORMAT_NAME } from '../data/recorded.js';
import { loadStrategyClass } from './load-strategy.js';
import { catCommand, DataUsageError, generateCommand, importCommand } from './data-commands.js';
import { ORDER_STATUS_CHOICES, ordersCommand, ordersLimitArg, type OrdersCliOptions } from './orders-command.js';
import { addRunCommand, venueBalances } from './run-command.js';
import { ctlCommand, type CtlCliOptions } from './ctl-command.js';
import { gatewayCommand, type GatewayCliOptions } from './gateway-command.js';

/** A usage error: printed as one line, exit code 2. */
export class UsageError extends Error {}

const usage = (m: string) => new UsageError(m);
const readConfig = (file: string | undefined) => readConfigFile(file, usage);
const runnerConfig = (config: Record<string, unknown>, file?: string): RunnerConfig => runnerConfigOf(config, file, usage);

interface BacktestCliOptions {
  strategy: string;
  data: string;
  format?: DataFormat;
  config?: string;
  journal?: string;
  journalMd?: 'ref' | 'value';
  out?: string;
  logLevel: string;
  raiseErrors?: boolean;
  console: boolean;
  progress: boolean;
}

async function backtestCommand(o: BacktestCliOptions): Promise<number> {
  const config = readConfig(o.config);
  const rc = runnerConfig(config, o.config);
  const params = rc.params ?? {};
  const Strategy = await loadStrategyClass(o.strategy).catch((e: Error) => {
    throw new UsageError(e.message);
  });
  const logClock = new SimClock();
  const logger = createLogger({ clock: { now: () => logClock.now() }, level: o.logLevel });
  let issues = 0;
  const source = await openMarketData(o.data, {
    format: o.format,
    exchange: rc.exchange,
    onIssue: (i) => {
      issues++;
      if (issues <= 20) logger.warn(`${i.file}:${i.line}: ${i.message}`);
    },
  }).catch((e: Error) => {
    throw new UsageError(e.message);
  });
  const strategy = new Strategy(config);
  // A progress bar only for a person watching: never in pipes, CI or logs.
  const total = source.eventCount ?? 0;
  const bar =
    o.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: total ? ' {bar} {percentage}% | {value}/{total} events | {rate} ev/s | ETA {eta_formatted}' : ' {value} events | {rate} ev/s',
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  const t0 = process.hrtime.bigint();
  bar?.start(total, 0, { rate: 0 });
  const consoleCh = o.console ? new ConsoleChannel(process.stdin, (t) => process.stdout.write(t + '\n')) : undefined;
  let tg: TelegramLaunch | undefined;
  const result = await runBacktest({
    strategy,
    source,
    logger,
    params,
    sim: simOptions(rc.sim),
    controls: rc.controls,
    killSwitch: rc.killSwitch,
    timeZone: rc.timeZone,
    raiseErrors: o.raiseErrors ?? rc.raiseErrors === true,
    journal: o.journal ? new FileJournalSink(o.journal) : undefined,
    journalMarketData: o.journalMd,
    // Kill switch trips, pauses and publishTelegram reach the owner on Telegram when configured.
    telegram: rc.telegram && rc.telegram.enabled !== false ? (s, m) => tg?.publish(s, m) : undefined,
    onEnv: (env, venue) => {
      // Log lines carry the simulated time.
      Object.assign(logClock, { now: () => env.now() });
      consoleCh?.attach(env);
      // Telegram runs on its own LiveClock (message ages, send pacing), never on the simulated one.
      tg = launchTelegram(rc.telegram, [envControlTarget(env, { balances: venueBalances(venue) })], logger, { baseDir: o.config ? dirname(resolve(o.config)) : undefined });
    },
    onYield: () => consoleCh?.flush(),
    onProgress: (n) => bar?.update(n, { rate: Math.round(n / (Number(process.hrtime.bigint() - t0) / 1e9)) }),
  });
  bar?.stop();
  consoleCh?.close();
  await tg?.stop();
  if (o.console) process.stdin.destroy();
  if (issues > 20) logger.warn(`${issues} malformed records in total`);
  process.stdout.write(formatSummary(result.summary) + '\n');
  if (o.out) {
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, 'summary.json'), JSON.stringify(result.summary, null, 2) + '\n');
    process.stdout.write(`summary written to ${join(o.out, 'summary.json')}\n`);
    writeReport(join(o.out, 'report.html'), result.recorder.data(), result.summary, { timeZone: rc.timeZone });
    process.stdout.write(`report written to ${join(o.out, 'report.html')}\n`);
  }
  if (o.journal) process.stdout.write(`journal written to ${o.journal}\n`);
  if (!result.ok) {
    process.stderr.write(`backtest failed: ${result.error}\n`);
    return 1;
  }
  return 0;
}

async function replayCommand(o: { strategy: string; journal: string; config?: string; data?: string; logLevel: string }): Promise<number> {
  if (!existsSync(o.journal)) throw new UsageError(`journal not found: ${o.journal}`);
  const config = readConfig(o.config);
  const Strategy = await loadStrategyClass(o.strategy).catch((e: Error) => {
    throw new UsageError(e.message);
  });
  const journal = await loadJournal(o.journal).catch((e: Error) => {
    throw new UsageError(e.message);
  });
  const clock = new SimClock();
  const logger = createLogger({ clock, level: o.logLevel });
  // A journal that refers to its data (md: ref) reopens the header's file unless told where it is now.
  const source = o.data
    ? await openMarketData(o.data, { format: journal.header.data?.format === RECORDED_FORMAT_NAME ? 'recorded' : (journal.header.data?.format as DataFormat | undefined), exchange: journal.header.venues[0]?.exchange }).catch((e: Error) => {
        throw new UsageError(e.message);
      })
    : undefined;
  const r = await replayJournal({ strategy: new Strategy(config), journal, logger, params: o.config ? runnerConfig(config, o.config).params : undefined, source }).catch((e: Error) => {
    if (e instanceof ReplayDataError) throw new UsageError(e.message);
    throw e;
  });
  if (r.identical) {
    process.stdout.write(`replay identical: ${r.entries} journal entries, ${r.requests} requests reproduced\n`);
    return 0;
  }
  const d = r.firstDifference!;
  process.stdout.write(`replay differs at entry ${d.index} of ${r.entries}:\n  expected: ${d.expected ?? '(end of journal)'}\n  actual:   ${d.actual ?? '(no more entries)'}\n`);
  return 1;
}

/** Builds the command tree (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('tradeloop')
    .description('Run callback-driven trading strategies: backtest on recorded order books, replay journals.')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeErr: () => {} });

  program
    .command('backtest')
    .description('run a strategy over recorded market data on a simulated venue')
    .requiredOption('--strategy <file>', 'strategy module (.ts or .js); its default export is the strategy class')
    .requiredOption('--data <file>', 'market data file (LOBSTER: the message file; the orderbook file beside it is found by name)')
    .addOption(new Option('--format <format>', 'data format (default: from the file name)').choices([...DATA_FORMATS]))
    .option('--config <file>', 'JSON config: passed to the constructor; its "params" go to onStratParamsUpdate, "sim" to the venue')
    .option('--journal <file>', 'write the journal (JSON lines) here')
    .addOption(new Option('--journal-md <mode>', 'market data in the journal: by reference to --data (small; replay reads the data file) or every callback by value').choices(['ref', 'value']).default('ref'))
    .option('--out <dir>', 'write summary.json and report.html into this directory')
    .option('--log-level <level>', 'log level: trace, debug, info, warn, error, silent', 'info')
    .option('--raise-errors', 'stop at the first callback error')
    .option('--no-console', 'do not read commands from stdin')
    .option('--no-progress', 'no progress bar (it shows only on a terminal anyway)')
    .action(async (o: BacktestCliOptions) => {
      process.exitCode = await backtestCommand(o);
    });

  program
    .command('import')
    .description('convert a capture to the recorded binary format (malformed records are reported by file:line and skipped)')
    .argument('<format>', `input format: ${['lobster', 'binance', 'coinbase'].join(', ')}`)
    .argument('<inputs...>', 'LOBSTER message file, Binance ws capture or Coinbase capture (companion files are found beside it)')
    .requiredOption('--out <file>', 'recorded file to write (.tlrec)')
    .action(async (format: string, inputs: string[], o: { out: string }) => {
      process.exitCode = await importCommand(format as DataFormat, inputs, o.out, (t) => process.stdout.write(t), (t) => process.stderr.write(t + '\n'));
    });

  program
    .command('cat')
    .description('print a recorded file as JSON lines')
    .argument('<file>', 'recorded file (.tlrec)')
    .option('--limit <n>', 'print at most n events', (v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
      return n;
    })
    .action(async (file: string, o: { limit?: number }) => {
      process.exitCode = await catCommand(file, o.limit, (t) => process.stdout.write(t));
    });

  program
    .command('generate')
    .description('write a synthetic market (seeded zero-intelligence order flow with clustered arrivals) to a recorded file')
    .requiredOption('--events <n>', 'number of events', intArg)
    .option('--seed <n>', 'random seed', intArg, 1)
    .option('--start <iso>', 'time of the first event (default 2024-01-02T14:30:00Z)')
    .requiredOption('--out <file>', 'recorded file to write (.tlrec)')
    .action(async (o: { events: number; seed: number; out: string; start?: string }) => {
      process.exitCode = await generateCommand(o, (t) => process.stdout.write(t));
    });

  program
    .command('replay')
    .description("replay a journal's events to a fresh strategy and check it makes the same requests")
    .requiredOption('--strategy <file>', 'strategy module (.ts or .js)')
    .requiredOption('--journal <file>', 'journal written by a backtest (--journal)')
    .option('--config <file>', 'JSON config passed to the constructor (default params: the journal\'s)')
    .option('--data <file>', "the run's data file, when it has moved (journals with market data by reference)")
    .option('--log-level <level>', 'log level', 'warn')
    .action(async (o: { strategy: string; journal: string; config?: string; data?: string; logLevel: string }) => {
      process.exitCode = await replayCommand(o);
    });

  program
    .command('orders')
    .description('list the orders of an order store (SQLite; opened read-only, except with --recover)')
    .requiredOption('--db <file>', 'order store file (never created)')
    .option('--strategy <name>', 'only this strategy')
    .addOption(new Option('--status <status>', 'only orders in this status').choices([...ORDER_STATUS_CHOICES]))
    .option('--open', 'only orders not yet filled, cancelled or rejected')
    .option('--json', 'one JSON object per line instead of a table')
    .option('--limit <n>', 'at most n orders: the newest, listed oldest first', ordersLimitArg)
    .option('--recover', 'first apply the writes a write-behind log holds and SQLite lacks (after a gateway stopped without closing its store; nothing to do while a gateway has it open)')
    .action(async (o: OrdersCliOptions) => {
      process.exitCode = await ordersCommand(o, (t) => process.stdout.write(t), (t) => process.stderr.write(`tradeloop: ${t}\n`));
    });

  addRunCommand(program);

  program
    .command('ctl')
    .description('run one control command (status, pause, set <key> <value>, cmd <hook>…) on a strategy connected to a gateway (see docs/control.md)')
    .requiredOption('--gateway <url>', 'gateway WebSocket URL, e.g. ws://127.0.0.1:8700/v1')
    .requiredOption('--name <name>', 'the strategy (its login name at the gateway)')
    .option('--token-file <file>', 'file holding a control token of the gateway (else $TRADELOOP_CTL_TOKEN)')
    .option('--ca <file>', 'PEM certificate(s) to trust for a wss:// gateway with its own certificate (default: the system\'s, and $NODE_EXTRA_CA_CERTS)')
    .option('--cert <file>', 'PEM client certificate, for a wss:// gateway that asks for one (with --key)')
    .option('--key <file>', 'PEM private key of --cert')
    .option('--yes', 'run a dangerous command (stop, flatten, cancelall, set, reset) without asking')
    .argument('<command...>', 'the command and its arguments (after -- when an argument starts with -)')
    .action(async (words: string[], o: CtlCliOptions) => {
      process.exitCode = await ctlCommand(words, o, { out: (t) => process.stdout.write(t) });
    });

  program
    .command('gateway')
    .description('run the trading gateway: hosts the configured venues; strategies connect over WebSocket (see docs/gateway.md)')
    .requiredOption('--config <file>', 'gateway configuration (JSON): listen, tokens, store, venues, limits')
    .option('--log-level <level>', 'log level: trace, debug, info, warn, error, silent', 'info')
    .action(async (o: GatewayCliOptions) => {
      process.exitCode = await gatewayCommand(o, { out: (t) => process.stdout.write(t) });
    });
  return program;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      process.stderr.write(`tradeloop: ${err.message.replace(/^error: /, '')}\n`);
      return 2;
    }
    if (err instanceof UsageError || err instanceof DataUsageError) {
      process.stderr.write(`tradeloop: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`tradeloop: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (isEntryPoint()) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
