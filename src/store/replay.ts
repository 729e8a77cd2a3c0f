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
}

/** Replays a journal to a fresh strategy instance and compares the result line by line. */
export async function replayJournal(opts: ReplayOptions): Promise<ReplayResult> {
  const { header, entries, lines } = opts.journal;
  const venues = header.venues.map((v) => new ReplayVenue(v.exchange, v.instruments.map(makeInstrument), v.status as GatewayStatus));
  const clock = new SimClock(header.startTs);
  const sink = new MemoryJournalSink();
  const env = new StratEnv({
    strategy: opts.strategy,
    clock,
    venues,
    journal: new Journal(sink),
    logger: opts.logger,
    params: opts.params ?? header.params,
    timeZone: header.timeZone,
    replay: true,
  });

  const settle = async () => {
    if (env.busy) await env.idle();
  };
  /** Runs scheduled actions due at or before `limit`, one at a time. */
  const runThrough = async (limit: number) => {
    while (clock.runNext(limit)) await settle();
  };
  let requests = 0;
  for (const e of entries) {
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
      case 'stop':
        void env.stop();
        break;
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
