/**
 * The importers read well-formed lines through fast paths (bytes and in-place JSON scans) and
 * everything else through their general parsers (`split`, `JSON.parse`). Both must give the
 * same result: these tests import the same files with the fast paths on and off and compare
 * events, stats, issues and instruments, on the shipped data and on seeded random mutations
 * of it (malformed lines, odd but valid JSON, spaces, escapes, CRs, blank lines).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MdEvent } from '../../../src/data/events.js';
import { openBinance } from '../../../src/data/importers/binance.js';
import { openCoinbase } from '../../../src/data/importers/coinbase.js';
import { lobsterOrderbookPath, openLobster } from '../../../src/data/importers/lobster.js';
import { importerFastPaths } from '../../../src/data/lines.js';

const tmp = mkdtempSync(join(tmpdir(), 'tradeloop-fast-paths-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const AAPL = 'data/lobster/AAPL_2012-06-21_34200000_57600000_message_10.csv';
const AMZN = 'data/lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv';
const BINANCE_WS = 'data/binance/BINANCE.ws.1.0';
const BINANCE_HTTP = 'data/binance/BINANCE.http.0.0';
const COINBASE = 'data/coinbase/COINBASE.ws.28.0';

/** xorshift32 in [0, 1). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** Text spliced into lines: delimiters, digits, signs, JSON tokens, escapes, whitespace, non-ASCII. */
const NOISE = [',', '"', '\\', ' ', '  ', '\t', '0', '9', '-', '+', '.', 'e', 'E', '[', ']', '{', '}', ':', 'x', 'é', '\u2028', '1e3', 'true', 'null', '""', '[]', '{}', '\\u0041', '00', '-0'];

/**
 * `count` lines of `lines` (from `first` on) changed at random: a character deleted, replaced
 * or inserted, a line cut short, a space after a JSON `:`/`,`, a string character escaped, a
 * CR added, a blank line inserted. Returns the new lines.
 */
function mutate(lines: string[], count: number, seed: number, first = 0): string[] {
  const r = rng(seed);
  const out = lines.slice();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  for (let n = 0; n < count; n++) {
    const li = first + Math.floor(r() * (out.length - first));
    const s = out[li]!;
    const at = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 9)) {
      case 0:
        out[li] = s.slice(0, at) + s.slice(at + 1);
        break;
      case 1:
        out[li] = s.slice(0, at) + pick(NOISE) + s.slice(at + 1);
        break;
      case 2:
        out[li] = s.slice(0, at) + pick(NOISE) + s.slice(at);
        break;
      case 3:
        out[li] = s.slice(0, at);
        break;
      case 4: {
        // Valid JSON whitespace (or, in CSV, a space the integer parser allows).
        const sep = s.indexOf(pick([':', ',']), at);
        if (sep >= 0) out[li] = s.slice(0, sep + 1) + pick([' ', '  ', '\t']) + s.slice(sep + 1);
        break;
      }
      case 5: {
        // A letter or digit inside a string written as a \u escape: same JSON value.
        const q = s.indexOf('"', at);
        const c = q >= 0 ? s.charCodeAt(q + 1) : NaN;
        if ((c >= 48 && c <= 57) || (c >= 65 && c <= 122)) out[li] = `${s.slice(0, q + 1)}\\u${c.toString(16).padStart(4, '0')}${s.slice(q + 2)}`;
        break;
      }
      case 6:
        out[li] = s + '\r';
        break;
      case 7:
        out.splice(li, 0, pick(['', ' ', '\t']));
        break;
      case 8: {
        // A number written differently: `1` → `1.0`, `1e0`, `01`.
        const m = /\d+/.exec(s.slice(at));
        if (m !== null) {
          const i = at + m.index + m[0].length;
          out[li] = s.slice(0, i) + pick(['.0', 'e0', '.50', 'E+1']) + s.slice(i);
        }
        break;
      }
    }
  }
  return out;
}

interface Outcome {
  events: MdEvent[];
  batchEvents: MdEvent[];
  stats: unknown;
  issues: unknown;
  extra: unknown;
}

interface Opened {
  events(): AsyncIterable<MdEvent>;
  batches(): AsyncIterable<{ length: number; read(i: number, into: MdEvent): MdEvent }>;
  readonly stats: unknown;
  readonly issues: unknown;
}

/** Imports with the fast paths on or off: events (by `events()` and by `batches()`), stats, issues and `extra` (what open found). */
async function outcome(fast: boolean, open: () => Promise<{ src: Opened; extra: unknown }>): Promise<Outcome> {
  importerFastPaths.enabled = fast;
  try {
    const { src, extra } = await open();
    const events: MdEvent[] = [];
    for await (const ev of src.events()) events.push(ev);
    const stats = structuredClone(src.stats);
    const issues = structuredClone(src.issues);
    const batchEvents: MdEvent[] = [];
    for await (const b of src.batches()) {
      for (let i = 0; i < b.length; i++) batchEvents.push(b.read(i, { type: 1, instrumentId: 0, exchTs: 0, localTs: 0, side: 0, orderId: 0, priceTick: 0, qty: 0, status: 0 }));
    }
    return { events, batchEvents, stats, issues, extra };
  } finally {
    importerFastPaths.enabled = true;
  }
}

async function expectSame(open: () => Promise<{ src: Opened; extra: unknown }>): Promise<Outcome> {
  const fast = await outcome(true, open);
  const slow = await outcome(false, open);
  expect(fast.batchEvents).toEqual(fast.events);
  expect(slow.batchEvents).toEqual(slow.events);
  expect(fast.extra).toEqual(slow.extra);
  expect(fast.issues).toEqual(slow.issues);
  expect(fast.stats).toEqual(slow.stats);
  expect(fast.events.length).toBe(slow.events.length);
  expect(fast.events).toEqual(slow.events);
  return fast;
}

const lobster = (path: string) => async () => {
  const src = openLobster(path);
  return { src, extra: src.instrument.name };
};
const binance = (path: string) => async () => {
  const src = await openBinance(path);
  return { src, extra: { instruments: src.instruments.map((i) => [i.name, i.tickSize.toString(), i.lotSize.toString()]), url: src.url } };
};
const coinbase = (path: string) => async () => {
  const src = await openCoinbase(path);
  return { src, extra: { instruments: src.instruments.map((i) => [i.name, i.tickSize.toString(), i.lotSize.toString()]), products: src.products } };
};

const readLines = (path: string) => readFileSync(path, 'utf8').split('\n');

describe('fast paths match the general parsers', () => {
  it('on the shipped files', async () => {
    expect((await expectSame(lobster(AMZN))).events.length).toBeGreaterThan(70_000);
    expect((await expectSame(lobster(AAPL))).issues).toEqual([]);
    expect((await expectSame(binance(BINANCE_WS))).events.length).toBeGreaterThan(5000);
    expect((await expectSame(coinbase(COINBASE))).events.length).toBeGreaterThan(18_000);
  }, 60_000);

  it('on mutated LOBSTER files (message and orderbook lines)', async () => {
    const messages = readLines(AAPL);
    const rows = readLines(lobsterOrderbookPath(AAPL));
    for (let seed = 1; seed <= 12; seed++) {
      const path = join(tmp, `MUT${seed}_2012-06-21_34200000_57600000_message_10.csv`);
      // Mutations from line 0 on: headers, the first message (snapshot) and the rest.
      writeFileSync(path, mutate(messages, 25, seed).join(seed % 3 === 0 ? '\r\n' : '\n'));
      writeFileSync(lobsterOrderbookPath(path), mutate(rows, 25, seed + 100).join('\n'));
      await expectSame(lobster(path));
    }
  }, 60_000);

  it('on mutated Binance captures', async () => {
    const ws = readLines(BINANCE_WS);
    const http = readLines(BINANCE_HTTP);
    for (let seed = 1; seed <= 12; seed++) {
      const dir = mkdtempSync(join(tmp, 'binance-'));
      writeFileSync(join(dir, 'BINANCE.ws.1.0'), mutate(ws, 30, seed).join('\n'));
      // The http lines are few and long: mutate one in three captures only.
      writeFileSync(join(dir, 'BINANCE.http.0.0'), (seed % 3 === 0 ? mutate(http, 1, seed + 7) : http).join('\n'));
      await expectSame(binance(join(dir, 'BINANCE.ws.1.0')));
    }
  }, 60_000);

  it('on mutated Coinbase captures', async () => {
    const lines = readLines(COINBASE).slice(0, 1500);
    for (let seed = 1; seed <= 12; seed++) {
      const dir = mkdtempSync(join(tmp, 'coinbase-'));
      // Some mutations in the first lines (subscriptions, snapshots: the scan), the rest later.
      const early = mutate(lines, seed % 4, seed, 0);
      writeFileSync(join(dir, 'COINBASE.ws.28.0'), mutate(early, 40, seed + 50, 40).join('\n'));
      await expectSame(coinbase(join(dir, 'COINBASE.ws.28.0')));
    }
  }, 60_000);

  it('return() while a batch is being read ends the pass: no hang, nothing more served', async () => {
    for (const open of [lobster(AMZN), binance(BINANCE_WS), coinbase(COINBASE)]) {
      const { src } = await open();
      const it = src.events()[Symbol.asyncIterator]();
      const first = it.next(); // starts the pass, which waits for its first read
      for (let i = 0; i < 5; i++) await Promise.resolve();
      const stop = it.return!();
      await Promise.all([first, stop]);
      expect((await it.next()).done).toBe(true);
      // Later, mid-pass, with batches at full size.
      const it2 = src.events()[Symbol.asyncIterator]();
      for (let i = 0; i < 3000; i++) await it2.next();
      const pending = it2.next();
      await Promise.all([pending, it2.return!()]);
      expect((await it2.next()).done).toBe(true);
    }
  });

  it('LOBSTER messages() steps are the same with and without the fast path', async () => {
    const messages = readLines(AAPL);
    const path = join(tmp, 'STEPS_2012-06-21_34200000_57600000_message_10.csv');
    writeFileSync(path, mutate(messages, 20, 77).join('\n'));
    writeFileSync(lobsterOrderbookPath(path), readFileSync(lobsterOrderbookPath(AAPL)));
    const steps = async (fast: boolean) => {
      importerFastPaths.enabled = fast;
      try {
        const out = [];
        for await (const s of openLobster(path).messages()) out.push(s);
        return out;
      } finally {
        importerFastPaths.enabled = true;
      }
    };
    const a = await steps(true);
    expect(a.length).toBeGreaterThan(900);
    expect(a).toEqual(await steps(false));
  });
});
