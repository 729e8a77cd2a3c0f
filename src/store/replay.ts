/**
 * Replay: feeds a journal's recorded venue and market-data events, and its control actions,
 * to a fresh strategy on a simulated clock, and checks that the new journal is identical
 * (same requests, same env-generated events, same order, same times).
 * @module
 */
import type { Logger } from 'pino';
import { GatewayStatus } from '../api/enums.js';
import type { EventCallbackName, StratParams } from '../api/events.js';
import { makeInstrument, type Instrument } from '../api/instrument.js';
import type { IStrategy } from '../api/strategy.js';
import { SimClock } from '../core/clock.js';
import { StratEnv } from '../core/env.js';
import { Journal, MemoryJournalSink } from '../core/journal.js';
import type { Venue } from '../core/venue.js';
import { reviveDecimals, type LoadedJournal } from './journal-reader.js';
import { EventCursor, feedHub, feedMid, type MarketSource } from '../backtest/backtest.js';
import { BookFeed } from '../book/feed.js';
import { openMarketData, type DataFormat } from '../data/open.js';
import { RECORDED_FORMAT_NAME } from '../data/recorded.js';

/** The first place where a replay departed from its journal. */
export interface ReplayDifference {
  /** 1-based index of the entry after the header. */
  index: number;
  expected: string | undefined;
  actual: string | undefined;
}

/** Outcome of a replay. */
export interface ReplayResult {
  identical: boolean;
  /** Entries compared. */
  entries: number;
  /** Requests (`out` entries) in the journal. */
  requests: number;
  firstDifference?: ReplayDifference;
  /** The replay's own journal lines (after the header). */
  lines: string[];
}

/** A venue that only lists instruments: in a replay, nothing is sent anywhere. */
class ReplayVenue implements Venue {
  constructor(
    readonly exchange: string,
    readonly instruments: readonly Instrument[],
    private readonly initial: GatewayStatus,
  ) {}
  status(): GatewayStatus {
    return this.initial;
  }
  submit(): void {}
  setSink(): void {}
}

/** Options of `replayJournal`. */
export interface ReplayOptions {
  strategy: IStrategy;
  journal: LoadedJournal;
  logger: Logger;
  /** Parameters for the fresh instance; default: the journal's. */
  params?: StratParams;
  /**
   * The run's market data, for a journal that refers to it (`md: 'ref'`). Default: the
   * header's `data.path` reopened with `openMarketData` (its format, the venue's exchange);
   * either way its sha256 must match the header's.
   */
  source?: MarketSource;
}

/** A journal that refers to market data the replay cannot find or that changed. */
export class ReplayDataError extends Error {
  readonly code = 'REPLAY_DATA';
}

async function dataSource(opts: ReplayOptions): Promise<MarketSource> {
  const h = opts.journal.header;
  if (!h.data) throw new ReplayDataError('the journal refers to market data (md: ref) but its header names no data file');
  const src =
    opts.source ??
    (await openMarketData(h.data.path, { format: (h.data.format === RECORDED_FORMAT_NAME ? 'recorded' : h.data.format) as DataFormat, exchange: h.venues[0]?.exchange }).catch((e: Error) => {
      throw new ReplayDataError(`cannot open the journal's data file ${h.data!.path}: ${e.message} (pass the file with --data)`);
    }));
  if (src.data && src.data.sha256 !== h.data.sha256 && src.data.sha256 !== 'header') {
    throw new ReplayDataError(`data file ${src.data.path} is not the one the journal was written from (sha256 ${src.data.sha256.slice(0, 12)}… ≠ ${h.data.sha256.slice(0, 12)}…)`);
  }
  return src;
}

/** Replays a journal to a fresh strategy instance and compares the result line by line. */
export async function replayJournal(opts: ReplayOptions): Promise<ReplayResult> {
  const { header, entries, lines } = opts.journal;
  const venues = header.venues.map((v) => new ReplayVenue(v.exchange, v.instruments.map(makeInstrument), v.status as GatewayStatus));
  const clock = new SimClock(header.startTs);
  const sink = new MemoryJournalSink();
  const byRef = header.md === 'ref';
  const journal = new Journal(sink, { marketData: byRef ? 'ref' : 'value' });
  // By reference: the data is replayed through the same books as the run; entries say how
  // many data events came before them.
  const source = byRef ? await dataSource(opts) : undefined;
  const feeds = new Map<number, BookFeed>();
  const cursor = source ? new EventCursor(source) : undefined;
  // eslint-disable-next-line prefer-const
  let env: StratEnv;
  if (source) {
    for (const inst of source.instruments) feeds.set(inst.instrumentId, new BookFeed(inst, (cb, ev) => env.onMarketData(cb, ev)));
  }
  env = new StratEnv({
    strategy: opts.strategy,
    clock,
    venues,
    marketData: source ? feedHub(feeds) : undefined,
    clientIdSession: header.clientIdSession,
    journal,
    logger: opts.logger,
    params: opts.params ?? header.params,
    timeZone: header.timeZone,
    replay: true,
    // The run's controls, and its mid from the same books (by value there are no books: no mid).
    controls: header.controls,
    killSwitch: header.killSwitch,
    mid: source ? feedMid(feeds) : undefined,
  });

  const settle = async () => {
    if (env.busy) await env.idle();
  };
  /** Runs scheduled actions due at or before `limit`, one at a time. */
  const runThrough = async (limit: number) => {
    while (clock.runNext(limit)) await settle();
  };
  let applied = 0;
  let ended = false;
  /** Applies data events until `n` have been, as the run did: clock first, then the books. */
  const driveData = async (n: number) => {
    while (!ended && applied < n) {
      const ev = cursor!.nextSync() ?? (await cursor!.refill());
      if (ev === undefined) {
        ended = true;
        break;
      }
      journal.dataPos = applied;
      if (ev.localTs > clock.now()) {
        await runThrough(ev.localTs);
        clock.setTime(ev.localTs);
      }
      feeds.get(ev.instrumentId)?.apply(ev);
      await settle();
      applied++;
      journal.dataPos = applied;
    }
  };
  let requests = 0;
  for (const e of entries) {
    if (cursor && e.d !== undefined) await driveData(e.d);
    if (e.k === 'out') {
      requests++;
      continue;
    }
    if (e.k === 'in' && e.src === 'env') {
      // Timers fire by themselves on the clock; reaching their entry lets them.
      if (e.cb === 'timer' || e.cb === 'daily') await runThrough(e.ts);
      continue;
    }
    // Fed entries: whatever was due strictly before them happened before them.
    await runThrough(e.ts - 1);
    clock.setTime(e.ts);
    if (e.k === 'in') {
      const ev = reviveDecimals(e.ev);
      if (e.src === 'venue') env.onVenueEvent({ strategy: '*', cb: e.cb as EventCallbackName, ev: ev as never });
      else env.onMarketData(e.cb as EventCallbackName, ev as never);
      await settle();
      continue;
    }
    switch (e.op) {
      case 'connect':
        await env.connect();
        break;
      case 'stop': {
        const a = e.args as { graceful?: boolean; flatten?: boolean } | undefined;
        void (a?.graceful ? env.gracefulStop({ flatten: a.flatten }) : env.stop());
        break;
      }
      case 'cmd': {
        const a = e.args as { name: string; params: string[] };
        void env.runCommand(a.name, a.params);
        break;
      }
      case 'params':
        env.updateParams(e.args as StratParams);
        break;
      case 'disconnect':
        env.disconnected();
        break;
      case 'end':
        env.end();
        break;
      case 'pause':
        env.pause((e.args as { reason: string }).reason);
        break;
      case 'resume':
        env.resume();
        break;
      case 'kill': {
        const a = e.args as { reason: string; action: 'pause' | 'flatten' };
        env.kill(a.reason, a.action);
        break;
      }
      case 'flatten':
        env.flatten();
        break;
      case 'cancel-all':
        env.cancelAllOpen();
        break;
      case 'params-refused':
        // Regenerated by updateParams from the `params` entry before it.
        break;
    }
    await settle();
  }
  const actual = sink.lines;
  const n = Math.max(actual.length, lines.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== lines[i]) {
      return { identical: false, entries: lines.length, requests, firstDifference: { index: i + 1, expected: lines[i], actual: actual[i] }, lines: actual };
    }
  }
  return { identical: true, entries: lines.length, requests, lines: actual };
}
