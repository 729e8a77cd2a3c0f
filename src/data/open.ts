/**
 * Opens a recorded market file as a `MarketSource` for a backtest, by format.
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import type { MarketSource } from '../backtest/backtest.js';
import type { MdParseIssue } from './events.js';
import { lobsterOrderbookPath, openLobster } from './importers/lobster.js';
import { findBinanceHttp, openBinance } from './importers/binance.js';
import { openCoinbase } from './importers/coinbase.js';
import { openRecorded, toMarketSource } from './recorded.js';

/** Formats `openMarketData` reads: the importers' inputs and tradeloop's own recorded format. */
export const DATA_FORMATS = ['lobster', 'binance', 'coinbase', 'recorded'] as const;
/** Formats `tradeloop import` converts from. */
export const IMPORT_FORMATS = ['lobster', 'binance', 'coinbase'] as const;
/** One of `DATA_FORMATS`. */
export type DataFormat = (typeof DATA_FORMATS)[number];

/** SHA-256 of the concatenated files, hex. */
export async function sha256Files(paths: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const p of paths) {
    for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  }
  return h.digest('hex');
}

/** Guesses the format from the file name; undefined when unknown. */
export function detectFormat(path: string): DataFormat | undefined {
  if (/_message_\d+\.csv$/i.test(path)) return 'lobster';
  if (/\.tlrec$/i.test(path)) return 'recorded';
  if (/BINANCE\.ws\.[^/]*$/i.test(path)) return 'binance';
  if (/COINBASE\.ws\.[^/]*$/i.test(path)) return 'coinbase';
  return undefined;
}

/** Options of `openMarketData`. */
export interface OpenOptions {
  format?: DataFormat;
  /** Venue id of the instruments (LOBSTER default `'NASDAQ'`). */
  exchange?: string;
  /** Timezone of the data's local times (LOBSTER default `'America/New_York'`). */
  timeZone?: string;
  /** Receives each malformed record (file and line); the import goes on. */
  onIssue?: (issue: MdParseIssue) => void;
}

/** Opens a data file for a backtest. Throws an `Error` with a one-line message on unusable input. */
export async function openMarketData(path: string, opts: OpenOptions = {}): Promise<MarketSource> {
  if (!existsSync(path)) throw new Error(`data file not found: ${path}`);
  const format = opts.format ?? detectFormat(path);
  if (!format) throw new Error(`cannot tell the format of ${path}; pass --format (${DATA_FORMATS.join(', ')})`);
  switch (format) {
    case 'lobster': {
      const book = lobsterOrderbookPath(path);
      if (!existsSync(book)) throw new Error(`LOBSTER orderbook file not found beside the message file: ${book}`);
      const src = openLobster(path, { exchange: opts.exchange, timezone: opts.timeZone, onIssue: opts.onIssue });
      return {
        exchange: src.instrument.exchange,
        instruments: [src.instrument],
        events: () => src.events(),
        // The batch path: a backtest awaits once per batch, not once per event.
        batches: () => src.batches(),
        data: { path, sha256: await sha256Files([path, book]), format },
      };
    }
    case 'binance': {
      const http = findBinanceHttp(path);
      const src = await openBinance(path, { exchange: opts.exchange, onIssue: opts.onIssue });
      return { exchange: src.exchange, instruments: [...src.instruments], events: () => src.events(), batches: () => src.batches(), data: { path, sha256: await sha256Files(http ? [path, http] : [path]), format } };
    }
    case 'coinbase': {
      const src = await openCoinbase(path, { exchange: opts.exchange, onIssue: opts.onIssue });
      return { exchange: src.exchange, instruments: [...src.instruments], events: () => src.events(), batches: () => src.batches(), data: { path, sha256: await sha256Files([path]), format } };
    }
    case 'recorded': {
      const rec = await openRecorded(path, { onIssue: opts.onIssue ? (i) => opts.onIssue!({ file: path, line: 0, message: String((i as { message?: string }).message ?? i) }) : undefined });
      const src = await toMarketSource(rec, path);
      return { ...src, eventCount: rec.count, batches: () => rec.batches() };
    }
  }
}
