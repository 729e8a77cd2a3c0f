/**
 * Opens a recorded market file as a `MarketSource` for a backtest, by format.
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import type { MarketSource } from '../backtest/backtest.js';
import type { MdParseIssue } from './events.js';
import { lobsterOrderbookPath, openLobster } from './importers/lobster.js';

/** Formats `openMarketData` reads. */
export const DATA_FORMATS = ['lobster'] as const;
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
        data: { path, sha256: await sha256Files([path, book]), format },
      };
    }
  }
}
