/**
 * `tradeloop gateway --config <file>`: runs the trading gateway (`docs/gateway.md`) until
 * SIGINT or SIGTERM, then shuts down cleanly (sessions told 4040 and closed, venues' resting
 * orders cancelled and recorded, store closed). SIGHUP re-reads the TLS files of
 * `listen.tls` (a renewed certificate, a new revocation list) for the connections to come.
 * @module
 */
import { LiveClock } from '../core/clock.js';
import { createLogger } from '../core/logger.js';
import { gatewayControlTargets } from '../control/target.js';
import { launchTelegram } from '../control/telegram.js';
import { GatewayConfigError, loadGatewayConfig, type GatewayConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/gateway.js';
import { readGatewayTls } from '../gateway/tls.js';
import { DataUsageError } from './data-commands.js';

/** Options of `tradeloop gateway`, as commander parses them. */
export interface GatewayCliOptions {
  /** The gateway's JSON configuration file. */
  config: string;
  /** pino level: trace … silent. Default `info`. */
  logLevel: string;
}

/** A bad argument or configuration: one line, exit code 2 (the CLI treats it as a `DataUsageError`). */
export class GatewayUsageError extends DataUsageError {}

/** What the command needs from the process; tests pass their own. */
export interface GatewayCommandIo {
  /** Standard output (the listening line). */
  out: (text: string) => void;
  /** Resolves when the gateway should stop; default: the first SIGINT or SIGTERM. */
  stopSignal?: Promise<string>;
  /** Environment for `tokenEnv`; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Subscribes the TLS reload; returns the unsubscribe. Default: on each SIGHUP. */
  onReload?: (reload: () => void) => () => void;
}

function sighup(reload: () => void): () => void {
  const on = () => reload();
  process.on('SIGHUP', on);
  return () => process.off('SIGHUP', on);
}

function signals(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/**
 * Runs the gateway; resolves with the exit code once it has shut down (0).
 * @throws GatewayUsageError for a missing or invalid configuration, or data that cannot be opened.
 */
export async function gatewayCommand(o: GatewayCliOptions, io: GatewayCommandIo): Promise<number> {
  let config: GatewayConfig;
  try {
    config = loadGatewayConfig(o.config, io.env);
  } catch (err) {
    if (err instanceof GatewayConfigError) throw new GatewayUsageError(err.message);
    throw err;
  }
  const clock = new LiveClock({ spinBelowUs: config.clock.spinBelowUs });
  const logger = createLogger({ clock, level: o.logLevel });
  // Listen for signals before starting, so a signal during start-up still shuts down cleanly.
  const stop = io.stopSignal ?? signals();
  let gw: Awaited<ReturnType<typeof startGateway>>;
  try {
    gw = await startGateway(config, { clock, logger });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') throw new GatewayUsageError(`cannot listen on ${config.listen.host}:${config.listen.port}: ${e.code}`);
    if (err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError)) throw new GatewayUsageError(err.message.split('\n')[0]!);
    throw err;
  }
  // Telegram steers every connected strategy at once; it starts in the background and a
  // failure (a bad token, an unreachable Bot API) is logged without stopping the gateway.
  const tg = launchTelegram(config.telegram, () => gatewayControlTargets(gw.server), logger, { clock: gw.clock, env: io.env });
  io.out(`gateway listening on ${gw.url} (${gw.venues.map((v) => v.exchange).join(', ')}; ${Object.keys(config.tokens).length} strategies; store ${config.store.path})\n`);
  const tlsFiles = config.listen.tls;
  const unsubscribe = (io.onReload ?? sighup)(() => {
    if (tlsFiles === undefined) {
      logger.warn('TLS reload asked for, but the gateway serves no TLS (listen.tls)');
      return;
    }
    try {
      gw.server.reloadTls(readGatewayTls(tlsFiles));
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'TLS reload failed: the certificates in force stay');
    }
  });
  const sig = await stop;
  unsubscribe();
  logger.info({ signal: sig }, 'shutting down');
  await tg?.stop();
  await gw.close();
  io.out('gateway stopped\n');
  return 0;
}
