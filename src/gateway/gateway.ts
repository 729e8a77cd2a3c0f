/**
 * Assembles a gateway from its configuration: the order store, one hosted venue per
 * configured venue (replayed file or synthetic generator), and the server, on one
 * `LiveClock`. `startGateway` is what `tradeloop gateway` runs.
 * @module
 */
import type { Logger } from 'pino';
import { LiveClock, type Scheduler } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { openMarketData } from '../data/open.js';
import { generateMarket } from '../data/synthetic.js';
import type { OrderStore } from '../store/order-store.js';
import { SqliteOrderStore } from '../store/sqlite-store.js';
import { WriteBehindOrderStore } from '../store/write-behind-store.js';
import type { GatewayConfig, VenueConfig } from './config.js';
import { GatewayServer } from './server.js';
import { readGatewayTls } from './tls.js';
import { SimVenueHost } from './venue-host.js';

/** A running (or ready to start) gateway and what it owns. */
export interface Gateway {
  readonly server: GatewayServer;
  readonly store: OrderStore;
  readonly venues: readonly SimVenueHost[];
  readonly clock: Scheduler;
  /** Closes the server (sessions, venues), then the store, then cancels the clock's timers. Idempotent. */
  close(): Promise<void>;
}

/** Options of `createGateway` / `startGateway`. */
export interface GatewayAssemblyOptions {
  /** The clock; default a new `LiveClock` with the config's `clock.spinBelowUs`. */
  clock?: Scheduler;
  logger?: Logger;
  /** The store; default a `SqliteOrderStore` at `config.store.path`. */
  store?: OrderStore;
}

/**
 * Opens the market source of one venue and builds its host (not started).
 * @throws Error (one line) when the data cannot be opened.
 */
export async function openVenueHost(cfg: VenueConfig, clock: Scheduler, logger: Logger): Promise<SimVenueHost> {
  if (cfg.kind === 'replay') {
    let issues = 0;
    const source = await openMarketData(cfg.data, {
      format: cfg.format,
      exchange: cfg.exchange,
      timeZone: cfg.timeZone,
      onIssue: (i) => {
        if (++issues <= 20) logger.warn({ exchange: cfg.exchange }, `${i.file}:${i.line}: ${i.message}`);
      },
    });
    return new SimVenueHost({ exchange: cfg.exchange, source, clock, speed: cfg.speed, loop: cfg.loop, sim: cfg.sim, logger });
  }
  const source = generateMarket({ events: cfg.events, seed: cfg.seed, midPrice: cfg.midPrice, instrument: cfg.instrument, model: cfg.model });
  return new SimVenueHost({ exchange: cfg.exchange, source, clock, speed: cfg.speed, loop: cfg.loop, sim: cfg.sim, logger });
}

/**
 * Builds the store, the venues and the server of a configuration; nothing is started.
 * @throws Error (one line) when a TLS file cannot be read or data cannot be opened.
 */
export async function createGateway(config: GatewayConfig, opts: GatewayAssemblyOptions = {}): Promise<Gateway> {
  // The TLS files first: a wrong path should not cost the time of opening the venues' data.
  const tls = config.listen.tls && readGatewayTls(config.listen.tls);
  const clock = opts.clock ?? new LiveClock({ spinBelowUs: config.clock.spinBelowUs });
  const logger = opts.logger ?? silentLogger();
  const venues: SimVenueHost[] = [];
  for (const v of config.venues) venues.push(await openVenueHost(v, clock, logger));
  const st = config.store;
  const store =
    opts.store ??
    (st.writeBehind
      ? await WriteBehindOrderStore.open(st.path, { synchronous: st.synchronous, ...(st.logSizeMb !== undefined ? { logSizeBytes: st.logSizeMb * 1024 * 1024 } : {}), ...(st.applierPriority !== undefined ? { applierPriority: st.applierPriority } : {}) })
      : new SqliteOrderStore(st.path, { synchronous: st.synchronous, walRestartFrames: st.walRestartFrames }));
  if (store instanceof WriteBehindOrderStore) {
    const r = store.recovery;
    if (r.damaged !== undefined) logger.warn({ store: st.path, replayed: r.replayed, damaged: r.damaged }, 'order store: its log ended early at a damaged record; the records before it were applied');
    else if (r.replayed > 0) logger.info({ store: st.path, replayed: r.replayed }, 'order store: applied the writes its log held and SQLite did not (the last run ended without closing it)');
  }
  const server = new GatewayServer({
    host: config.listen.host,
    port: config.listen.port,
    path: config.listen.path,
    tls,
    tokens: config.tokens,
    ...(config.clientCertNames !== undefined ? { clientCertNames: config.clientCertNames } : {}),
    controlTokens: config.controlTokens,
    store,
    venues,
    clock,
    logger,
    limits: config.limits,
    rateLimit: config.rateLimit,
    sessionTakeover: config.sessionTakeover,
    cmdTimeoutMs: config.cmdTimeoutMs,
    shutdownGraceMs: config.shutdownGraceMs,
    mdRowsPerFrame: config.mdRowsPerFrame,
    maxBufferedBytes: config.maxBufferedBytes,
    groupCommit: config.store.groupCommit,
  });
  let closing: Promise<void> | undefined;
  return {
    server,
    store,
    venues,
    clock,
    close: () =>
      (closing ??= (async () => {
        try {
          await server.close();
        } finally {
          await store.close();
          if (clock instanceof LiveClock) clock.cancelAll();
        }
      })()),
  };
}

/** `createGateway`, then `server.start()`; on a start failure everything is closed again. */
export async function startGateway(config: GatewayConfig, opts: GatewayAssemblyOptions = {}): Promise<Gateway & { url: string }> {
  const gw = await createGateway(config, opts);
  try {
    const { url } = await gw.server.start();
    return Object.assign(gw, { url });
  } catch (err) {
    await gw.close().catch(() => undefined);
    throw err;
  }
}
