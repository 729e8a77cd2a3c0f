import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstrumentType } from '../../../src/api/enums.js';
import type { MarketSource } from '../../../src/backtest/backtest.js';
import { L2Book } from '../../../src/book/l2-book.js';
import { ASK, BID, MdStatus, MdType, type MdEvent, type MdParseIssue } from '../../../src/data/events.js';
import { findBinanceHttp, openBinance, splitBinanceSymbol, type BinanceImport } from '../../../src/data/importers/binance.js';
import { ROOT } from '../../helpers.js';

const WS = join(ROOT, 'data/binance/BINANCE.ws.1.0');
const HTTP = join(ROOT, 'data/binance/BINANCE.http.0.0');

const tmp = mkdtempSync(join(tmpdir(), 'tradeloop-binance-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------
// Hand-made captures.

type Lv = [string, string];
const URL_LINE = 'wss://stream.binance.com:9443/stream?streams=aaausdt@depth@100ms/aaausdt@aggTrade <-> 1000.000000';

function depth(t: string, sym: string, E: number, U: number, u: number, b: Lv[], a: Lv[] = []): string {
  const data = { e: 'depthUpdate', E, s: sym, U, u, b, a };
  return `${t}: ${JSON.stringify({ stream: `${sym.toLowerCase()}@depth@100ms`, data })}`;
}
function trade(t: string, sym: string, T: number, p: string, q: string, m: boolean): string {
  const data = { e: 'aggTrade', E: T, s: sym, a: 1, p, q, f: 1, l: 1, T, m, M: true };
  return `${t}: ${JSON.stringify({ stream: `${sym.toLowerCase()}@aggTrade`, data })}`;
}
function ticker(t: string, sym: string): string {
  return `${t}: ${JSON.stringify({ stream: `${sym.toLowerCase()}@bookTicker`, data: { u: 1, s: sym, b: '1.0', B: '1', a: '2.0', A: '1' } })}`;
}
function snap(t: string, sym: string, lastUpdateId: number, bids: Lv[], asks: Lv[]): string {
  return `https://api.binance.com/api/v3/depth?symbol=${sym}&limit=1000 -> ${t}: ${JSON.stringify({ lastUpdateId, bids, asks })}`;
}

let dirs = 0;
/** Writes a capture pair into a fresh directory; returns the ws path. */
function capture(ws: string[], http: string[] | undefined): string {
  const dir = join(tmp, `c${++dirs}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'BINANCE.ws.1.0'), [URL_LINE, ...ws].join('\n') + '\n');
  if (http !== undefined) writeFileSync(join(dir, 'BINANCE.http.0.0'), http.join('\n') + '\n');
  return join(dir, 'BINANCE.ws.1.0');
}

async function collect(src: BinanceImport): Promise<MdEvent[]> {
  const out: MdEvent[] = [];
  for await (const e of src.events()) out.push(e);
  return out;
}

/** A compact trace of one instrument's events: statuses by name, levels as `B/A tick×qty`, trades as `T±tick×qty`. */
function trace(events: MdEvent[], instrumentId = 1): string[] {
  const names: Record<number, string> = { [MdStatus.SnapshotStart]: 'SnapshotStart', [MdStatus.SnapshotEnd]: 'SnapshotEnd', [MdStatus.Disconnected]: 'Disconnected' };
  return events
    .filter((e) => e.instrumentId === instrumentId)
    .map((e) => {
      switch (e.type) {
        case MdType.Status:
          return names[e.status] ?? `Status${e.status}`;
        case MdType.Clear:
          return 'Clear';
        case MdType.LevelSet:
          return `${e.side === BID ? 'B' : 'A'}${e.priceTick}x${e.qty}`;
        case MdType.Trade:
          return `T${e.side === BID ? '+' : '-'}${e.priceTick}x${e.qty}`;
        default:
          return `type${e.type}`;
      }
    });
}

// ---------------------------------------------------------------------------------------
// An independent reading of the raw capture, by Binance's rules, for the acceptance test.

interface RawDiff {
  line: number;
  t: number;
  U: number;
  u: number;
  levels: number;
}

interface Expected {
  applied: number;
  stale: number;
  levelUpdates: number;
  trades: number;
  snapshotLevels: number;
}

function expectedFromRaw(wsText: string, httpText: string): Map<string, Expected> {
  const snaps = new Map<string, { t: number; last: number; levels: number }>();
  for (const l of httpText.split('\n')) {
    if (l.trim() === '') continue;
    const [url, rest] = l.split(' -> ') as [string, string];
    const sym = /symbol=(\w+)/.exec(url)![1]!;
    const colon = rest.indexOf(': ');
    const j = JSON.parse(rest.slice(colon + 2)) as { lastUpdateId: number; bids: unknown[]; asks: unknown[] };
    snaps.set(sym, { t: Number(rest.slice(0, colon)), last: j.lastUpdateId, levels: j.bids.length + j.asks.length });
  }
  const diffs = new Map<string, RawDiff[]>();
  const trades = new Map<string, number>();
  wsText.split('\n').forEach((l, i) => {
    if (i === 0 || l.trim() === '') return;
    const colon = l.indexOf(': ');
    const m = JSON.parse(l.slice(colon + 2)) as { stream: string; data: { s: string; U: number; u: number; b: unknown[]; a: unknown[] } };
    const d = m.data;
    if (m.stream.endsWith('@aggTrade')) trades.set(d.s, (trades.get(d.s) ?? 0) + 1);
    if (!m.stream.includes('@depth')) return;
    if (!diffs.has(d.s)) diffs.set(d.s, []);
    diffs.get(d.s)!.push({ line: i + 1, t: Number(l.slice(0, colon)), U: d.U, u: d.u, levels: d.b.length + d.a.length });
  });
  const out = new Map<string, Expected>();
  for (const [sym, list] of diffs) {
    const s = snaps.get(sym)!;
    const e: Expected = { applied: 0, stale: 0, levelUpdates: 0, trades: trades.get(sym) ?? 0, snapshotLevels: s.levels };
    let last = s.last;
    let first = true;
    for (const d of list) {
      if (d.u <= last) {
        e.stale++;
        continue;
      }
      // The capture has no gaps: every diff after the snapshot continues the sequence.
      expect(first ? d.U <= last + 1 : d.U === last + 1).toBe(true);
      first = false;
      last = d.u;
      e.applied++;
      e.levelUpdates += d.levels;
    }
    out.set(sym, e);
  }
  return out;
}

/** Replays events into one L2 book per instrument; fails when a book is crossed after its SnapshotEnd. Returns the books. */
function replay(events: MdEvent[], n: number): { books: L2Book[]; checks: number } {
  const books = Array.from({ length: n }, () => new L2Book());
  const live = new Array<boolean>(n).fill(false);
  let checks = 0;
  for (const e of events) {
    const i = e.instrumentId - 1;
    const b = books[i]!;
    if (e.type === MdType.Clear) b.clear();
    else if (e.type === MdType.LevelSet) b.set(e.side, e.priceTick, e.qty);
    else if (e.type === MdType.Status) {
      if (e.status === MdStatus.SnapshotEnd) live[i] = true;
      if (e.status === MdStatus.SnapshotStart || e.status === MdStatus.Disconnected) live[i] = false;
    }
    if (live[i]) {
      checks++;
      if (b.isCrossed()) throw new Error(`book ${e.instrumentId} crossed after ${JSON.stringify(e)}`);
    }
  }
  return { books, checks };
}

// ---------------------------------------------------------------------------------------

describe('Binance helpers', () => {
  it('splits symbols by the longest known quote asset', () => {
    expect(splitBinanceSymbol('NKNUSDT')).toEqual({ base: 'NKN', quote: 'USDT' });
    expect(splitBinanceSymbol('blzeth')).toEqual({ base: 'BLZ', quote: 'ETH' });
    expect(splitBinanceSymbol('BTCBUSD')).toEqual({ base: 'BTC', quote: 'BUSD' });
    expect(splitBinanceSymbol('RUNEEUR')).toEqual({ base: 'RUNE', quote: 'EUR' });
    expect(splitBinanceSymbol('USDT')).toBeUndefined();
    expect(splitBinanceSymbol('FOOBAR')).toBeUndefined();
  });

  it('finds the http capture beside the ws capture', () => {
    expect(findBinanceHttp(WS)).toBe(HTTP);
    expect(findBinanceHttp(join(tmp, 'nowhere', 'BINANCE.ws.1.0'))).toBeUndefined();
  });
});

describe('Binance shared capture (2021-10-12, 4 symbols): acceptance', () => {
  let src: BinanceImport;
  let events: MdEvent[];
  let expected: Map<string, Expected>;
  beforeAll(async () => {
    src = await openBinance(WS);
    events = await collect(src);
    expected = expectedFromRaw(readFileSync(WS, 'utf8'), readFileSync(HTTP, 'utf8'));
  });

  it('is a MarketSource with one instrument per symbol, in order of first appearance, grids inferred', () => {
    const ms: MarketSource = src;
    expect(ms.exchange).toBe('BINANCE');
    expect(src.httpPath).toBe(HTTP);
    expect(src.url).toMatch(/^wss:\/\/stream\.binance\.com:9443\/stream\?streams=nknusdt@depth@100ms/);
    expect(src.symbols).toEqual(['NKNUSDT', 'BLZETH', 'LRCBTC', 'RUNEEUR']);
    expect(src.instruments.map((i) => [i.instrumentId, i.name, i.baseCurrency, i.quoteCurrency, i.type, i.exchange])).toEqual([
      [1, 'binance:spot:nkn-usdt', 'NKN', 'USDT', InstrumentType.Spot, 'BINANCE'],
      [2, 'binance:spot:blz-eth', 'BLZ', 'ETH', InstrumentType.Spot, 'BINANCE'],
      [3, 'binance:spot:lrc-btc', 'LRC', 'BTC', InstrumentType.Spot, 'BINANCE'],
      [4, 'binance:spot:rune-eur', 'RUNE', 'EUR', InstrumentType.Spot, 'BINANCE'],
    ]);
    // NKNUSDT has deep snapshot levels at 5 decimals and qtys at 1: the grid fits them all.
    expect(src.instruments.map((i) => [i.tickSize.toString(), i.lotSize.toString()])).toEqual([
      ['0.00001', '0.1'],
      ['0.00000001', '1'],
      ['0.00000001', '1'],
      ['0.001', '0.1'],
    ]);
  });

  it('imports without issues; bookTicker and kline lines are counted as ignored', () => {
    expect(src.issues).toEqual([]);
    expect(src.stats.issues).toBe(0);
    expect(src.stats.ignoredByStream).toEqual({ bookTicker: 84, kline_1m: 2 });
    expect(src.stats.ignored).toBe(86);
    expect(src.stats.wsLines).toBe(267);
    expect(src.stats.events).toBe(events.length);
  });

  it('counts applied diffs, stale diffs, level updates and trades per symbol as the raw lines say', () => {
    for (const s of src.stats.symbols) {
      const e = expected.get(s.symbol)!;
      expect({ sym: s.symbol, applied: s.applied, stale: s.stale, levelUpdates: s.levelUpdates, trades: s.trades, snapshotLevels: s.snapshotLevels }).toEqual({ sym: s.symbol, ...e });
      expect([s.syncs, s.gaps, s.lost, s.synced]).toEqual([1, 0, 0, true]);
      const mine = events.filter((ev) => ev.instrumentId === s.instrumentId);
      expect(mine.filter((ev) => ev.type === MdType.Trade)).toHaveLength(e.trades);
      expect(mine.filter((ev) => ev.type === MdType.LevelSet)).toHaveLength(e.snapshotLevels + e.levelUpdates);
    }
    expect(src.stats.symbols.map((s) => [s.symbol, s.applied, s.stale, s.trades])).toEqual([
      ['NKNUSDT', 149, 1, 1],
      ['BLZETH', 9, 1, 0],
      ['LRCBTC', 13, 2, 1],
      ['RUNEEUR', 1, 1, 0],
    ]);
  });

  it('starts each book with SnapshotStart, Clear, the snapshot levels, SnapshotEnd', () => {
    for (const s of src.stats.symbols) {
      const t = trace(events, s.instrumentId).filter((x) => !x.startsWith('T'));
      expect(t.slice(0, 2)).toEqual(['SnapshotStart', 'Clear']);
      expect(t[s.snapshotLevels + 2]).toBe('SnapshotEnd');
      expect(t.filter((x) => x.startsWith('Snapshot') || x === 'Clear' || x === 'Disconnected')).toHaveLength(3);
    }
  });

  it('emits events in non-decreasing localTs, with exact µs times', () => {
    for (let i = 1; i < events.length; i++) expect(events[i]!.localTs).toBeGreaterThanOrEqual(events[i - 1]!.localTs);
    // The NKNUSDT snapshot arrives at 1633998512.320639: the first event.
    expect(events[0]).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotStart, instrumentId: 1, localTs: 1633998512320639, exchTs: 1633998512320639 });
    // Line 6: "1633998513.0638819" (7 decimals, rounded), E 1633998513068, ask 0.35380000 x 3027.
    const l6 = events.find((e) => e.localTs === 1633998513063882)!;
    expect(l6).toMatchObject({ type: MdType.LevelSet, instrumentId: 1, exchTs: 1633998513068000, side: ASK, priceTick: 35380, qty: 30270 });
    // The NKNUSDT trade: 0.35280000 x 58, buyer not maker → the taker bought.
    expect(events.find((e) => e.type === MdType.Trade && e.instrumentId === 1)).toMatchObject({ side: BID, priceTick: 35280, qty: 580, exchTs: 1633998523963000 });
    // The LRCBTC trade: 0.00000638 x 177.
    expect(events.find((e) => e.type === MdType.Trade && e.instrumentId === 3)).toMatchObject({ side: BID, priceTick: 638, qty: 177 });
  });

  it('never shows a crossed book after SnapshotEnd, and ends with the book the raw lines build', async () => {
    const { books, checks } = replay(events, 4);
    expect(checks).toBeGreaterThan(400);
    // Rebuild the NKNUSDT book from the raw strings (float parsing is fine at this size) and compare.
    const want = new Map<string, number>();
    const httpLine = readFileSync(HTTP, 'utf8').split('\n')[0]!;
    const j = JSON.parse(httpLine.slice(httpLine.indexOf(': ') + 2)) as { lastUpdateId: number; bids: Lv[]; asks: Lv[] };
    for (const [p, q] of j.bids) want.set(`B${Math.round(Number(p) * 1e5)}`, Math.round(Number(q) * 10));
    for (const [p, q] of j.asks) want.set(`A${Math.round(Number(p) * 1e5)}`, Math.round(Number(q) * 10));
    for (const l of readFileSync(WS, 'utf8').split('\n').slice(1)) {
      if (!l.includes('nknusdt@depth')) continue;
      const d = (JSON.parse(l.slice(l.indexOf(': ') + 2)) as { data: { u: number; b: Lv[]; a: Lv[] } }).data;
      if (d.u <= j.lastUpdateId) continue;
      for (const [side, ls] of [['B', d.b], ['A', d.a]] as const) {
        for (const [p, q] of ls) {
          const k = `${side}${Math.round(Number(p) * 1e5)}`;
          if (Number(q) === 0) want.delete(k);
          else want.set(k, Math.round(Number(q) * 10));
        }
      }
    }
    const got = new Map<string, number>();
    const b = books[0]!;
    for (let i = 0; i < b.depth(BID); i++) got.set(`B${b.levelTick(BID, i)}`, b.levelQty(BID, i));
    for (let i = 0; i < b.depth(ASK); i++) got.set(`A${b.levelTick(ASK, i)}`, b.levelQty(ASK, i));
    expect(got).toEqual(want);
    expect(b.bestBidTick()).toBe(35270);
    expect(b.bestAskTick()).toBe(35310);
  });

  it('gives the same events on a second pass', async () => {
    const again = await collect(src);
    expect(again).toEqual(events);
    expect(src.stats.events).toBe(events.length);
  });

  it('with one NKNUSDT diff removed: Disconnected at the next diff, and (no later snapshot) it stays disconnected', async () => {
    const lines = readFileSync(WS, 'utf8').split('\n');
    // Line 50 (1-based) is NKNUSDT U=499869821 u=499869821, well after the sync.
    expect(lines[49]).toContain('"U":499869821,');
    const dir = join(tmp, 'gap-shared');
    mkdirSync(dir);
    writeFileSync(join(dir, 'BINANCE.ws.1.0'), [...lines.slice(0, 49), ...lines.slice(50)].join('\n'));
    writeFileSync(join(dir, 'BINANCE.http.0.0'), readFileSync(HTTP));
    const g = await openBinance(join(dir, 'BINANCE.ws.1.0'));
    const ev = await collect(g);
    const nkn = g.stats.symbols[0]!;
    expect(nkn).toMatchObject({ gaps: 1, syncs: 1, resyncs: 0, synced: false });
    // Applied before the gap: the 34 NKNUSDT diffs of lines 3..49; every later one is lost
    // (150 diffs: 1 stale, 34 applied, 1 removed, 114 lost from the gap on).
    expect(nkn.applied).toBe(34);
    expect(nkn.stale).toBe(1);
    expect(nkn.lost).toBe(114);
    const t = trace(ev, 1);
    const k = t.indexOf('Disconnected');
    expect(k).toBeGreaterThan(0);
    expect(t.slice(k + 1).filter((x) => !x.startsWith('T'))).toEqual([]);
    expect(t.slice(k + 1)).toEqual(['T+35280x580']);
    const disc = ev.find((e) => e.type === MdType.Status && e.status === MdStatus.Disconnected)!;
    expect(disc).toMatchObject({ instrumentId: 1, exchTs: 1633998521072000, localTs: 1633998521067891 });
    // The other symbols are untouched.
    expect(g.stats.symbols.slice(1)).toEqual(src.stats.symbols.slice(1));
    expect(g.issues).toEqual([]);
  });
});

describe('Binance book sync by U/u (hand-made captures)', () => {
  it('drops a stale diff, applies one overlapping lastUpdateId, then requires U = u + 1', async () => {
    const ws = capture(
      [
        depth('1001.0', 'AAAUSDT', 1001000, 95, 100, [['1.00', '5']]), // u <= 100: stale
        depth('1002.5', 'AAAUSDT', 1002400, 98, 103, [['1.01', '2']], [['1.02', '0']]), // buffered: overlaps 101
        depth('1003.0', 'AAAUSDT', 1002900, 104, 104, [], [['1.03', '7.5']]),
      ],
      [snap('1002.6', 'AAAUSDT', 100, [['1.00', '3'], ['0.99', '4']], [['1.02', '1'], ['1.04', '2']])],
    );
    const src = await openBinance(ws);
    const ev = await collect(src);
    expect(src.instruments[0]!.tickSize.toString()).toBe('0.01');
    expect(src.instruments[0]!.lotSize.toString()).toBe('0.1');
    expect(trace(ev)).toEqual([
      'SnapshotStart', 'Clear', 'B100x30', 'B99x40', 'A102x10', 'A104x20', 'SnapshotEnd',
      // The buffered diff follows the snapshot, its deletion first.
      'A102x0', 'B101x20',
      'A103x75',
    ]);
    // Buffered diffs come out at the snapshot's local time, with their own venue time.
    expect(ev[7]).toMatchObject({ localTs: 1002_600_000, exchTs: 1002_400_000 });
    expect(ev[9]).toMatchObject({ localTs: 1003_000_000, exchTs: 1002_900_000 });
    expect(src.stats.symbols[0]).toMatchObject({ diffs: 3, applied: 2, stale: 1, levelUpdates: 3, syncs: 1, gaps: 0, maxBuffered: 1, synced: true });
    const { books } = replay(ev, 1);
    expect(books[0]!.bestBidTick()).toBe(101);
    expect(books[0]!.bestAskTick()).toBe(103);
  });

  it('does not apply a snapshot older than the stream (first U > lastUpdateId + 1); the next one syncs', async () => {
    const ws = capture(
      [
        depth('1001.0', 'AAAUSDT', 1001000, 105, 106, [['1.00', '1']]),
        depth('1002.0', 'AAAUSDT', 1002000, 107, 108, [['1.00', '2']]),
        depth('1004.0', 'AAAUSDT', 1004000, 109, 109, [['1.00', '3']]),
      ],
      [snap('1001.5', 'AAAUSDT', 100, [['1.00', '9']], [['1.11', '9']]), snap('1003.0', 'AAAUSDT', 106, [['1.00', '1']], [['1.11', '9']])],
    );
    const src = await openBinance(ws);
    const ev = await collect(src);
    expect(trace(ev)).toEqual(['SnapshotStart', 'Clear', 'B100x1', 'A111x9', 'SnapshotEnd', 'B100x2', 'B100x3']);
    expect(ev[0]!.localTs).toBe(1003_000_000);
    expect(src.stats.symbols[0]).toMatchObject({ snapshots: 2, unusableSnapshots: 1, syncs: 1, resyncs: 0, applied: 2, stale: 1, gaps: 0 });
  });

  it('on a gap emits Disconnected, then resyncs from the next snapshot with the buffered diffs', async () => {
    const ws = capture(
      [
        depth('1001.0', 'AAAUSDT', 1001000, 101, 101, [['1.00', '2']]),
        depth('1002.0', 'AAAUSDT', 1002000, 103, 104, [['1.00', '3']]), // 102 missing: gap
        depth('1003.0', 'AAAUSDT', 1003000, 105, 106, [['0.99', '1']]), // stale for the 2nd snapshot (107)
        depth('1004.0', 'AAAUSDT', 1004000, 107, 108, [['0.98', '1']]), // buffered, overlaps 108
        trade('1004.5', 'AAAUSDT', 1004400, '1.00', '1', true),
        depth('1006.0', 'AAAUSDT', 1006000, 109, 109, [['0.97', '1']]),
      ],
      [snap('1000.5', 'AAAUSDT', 100, [['1.00', '1']], [['1.11', '1']]), snap('1005.0', 'AAAUSDT', 107, [['1.00', '5']], [['1.11', '5']])],
    );
    const src = await openBinance(ws);
    const ev = await collect(src);
    expect(trace(ev)).toEqual([
      'SnapshotStart', 'Clear', 'B100x1', 'A111x1', 'SnapshotEnd',
      'B100x2',
      'Disconnected',
      'T-100x1',
      'SnapshotStart', 'Clear', 'B100x5', 'A111x5', 'SnapshotEnd',
      'B98x1',
      'B97x1',
    ]);
    expect(ev.find((e) => e.status === MdStatus.Disconnected)).toMatchObject({ localTs: 1002_000_000, exchTs: 1002_000_000 });
    expect(src.stats.symbols[0]).toMatchObject({ diffs: 5, applied: 3, stale: 2, gaps: 1, syncs: 2, resyncs: 1, lost: 0, trades: 1, synced: true });
    const { books } = replay(ev, 1);
    expect(books[0]!.depth(BID)).toBe(3);
  });

  it('after a gap with no snapshot left, the symbol stays disconnected (counted) and trades still flow', async () => {
    const ws = capture(
      [
        depth('1001.0', 'AAAUSDT', 1001000, 101, 101, [['1.00', '2']]),
        depth('1002.0', 'AAAUSDT', 1002000, 103, 104, [['1.00', '3']]),
        depth('1003.0', 'AAAUSDT', 1003000, 105, 106, [['0.99', '1']]),
        trade('1004.0', 'AAAUSDT', 1004000, '1.01', '2', false),
      ],
      [snap('1000.5', 'AAAUSDT', 100, [['1.00', '1']], [['1.11', '1']])],
    );
    const src = await openBinance(ws);
    const ev = await collect(src);
    expect(trace(ev)).toEqual(['SnapshotStart', 'Clear', 'B100x1', 'A111x1', 'SnapshotEnd', 'B100x2', 'Disconnected', 'T+101x2']);
    expect(src.stats.symbols[0]).toMatchObject({ applied: 1, gaps: 1, syncs: 1, resyncs: 0, lost: 2, synced: false });
    expect(src.issues).toEqual([]);
  });

  it('drops a duplicate diff as stale but treats an overlapping one as a gap', async () => {
    const ws = capture(
      [
        depth('1001.0', 'AAAUSDT', 1001000, 101, 102, [['1.00', '2']]),
        depth('1001.1', 'AAAUSDT', 1001100, 101, 102, [['1.00', '9']]), // duplicate
        depth('1002.0', 'AAAUSDT', 1002000, 102, 103, [['1.00', '3']]), // overlaps: gap
      ],
      [snap('1000.5', 'AAAUSDT', 100, [['1.00', '1']], [['1.11', '1']])],
    );
    const src = await openBinance(ws);
    const ev = await collect(src);
    expect(trace(ev).slice(5)).toEqual(['B100x2', 'Disconnected']);
    expect(src.stats.symbols[0]).toMatchObject({ applied: 1, stale: 1, gaps: 1, lost: 1 });
  });

  it('ignores a snapshot that arrives while the book is in sync', async () => {
    const ws = capture(
      [depth('1001.0', 'AAAUSDT', 1001000, 101, 101, [['1.00', '2']]), depth('1003.0', 'AAAUSDT', 1003000, 102, 102, [['1.00', '3']])],
      [snap('1000.5', 'AAAUSDT', 100, [['1.00', '1']], [['1.11', '1']]), snap('1002.0', 'AAAUSDT', 101, [['1.00', '2']], [['1.11', '1']])],
    );
    const src = await openBinance(ws);
    const ev = await collect(src);
    expect(trace(ev)).toEqual(['SnapshotStart', 'Clear', 'B100x1', 'A111x1', 'SnapshotEnd', 'B100x2', 'B100x3']);
    expect(src.stats.symbols[0]).toMatchObject({ snapshots: 2, ignoredSnapshots: 1, syncs: 1 });
  });

  it('never syncs a symbol without a snapshot, and says so when the http file is missing', async () => {
    const ws = capture([depth('1001.0', 'AAAUSDT', 1001000, 101, 101, [['1.00', '2']]), trade('1002.0', 'AAAUSDT', 1002000, '1.00', '1', false)], undefined);
    const src = await openBinance(ws);
    const ev = await collect(src);
    expect(src.httpPath).toBeUndefined();
    expect(trace(ev)).toEqual(['T+1x1']);
    expect(src.stats.symbols[0]).toMatchObject({ diffs: 1, applied: 0, lost: 1, synced: false });
    expect(src.issues).toHaveLength(1);
    expect(src.issues[0]!.message).toMatch(/http snapshot file not found/);
  });
});

describe('Binance several symbols, grids and timestamps', () => {
  it('keeps symbols apart, numbers them by first appearance and merges by local time', async () => {
    const ws = capture(
      [
        ticker('1000.9', 'BBBBTC'),
        depth('1001.0', 'BBBBTC', 1001000, 11, 11, [['0.00000640', '100.00000000']]),
        depth('1001.5', 'CCCETH', 1001500, 51, 51, [], [['0.02010000', '3.50000000']]),
        depth('1002.0', 'BBBBTC', 1002000, 12, 12, [['0.00000641', '10.00000000']]),
        trade('1003.0', 'CCCETH', 1002999, '0.02000000', '1.25000000', true),
      ],
      [
        snap('1000.5', 'CCCETH', 50, [['0.02000000', '1.00000000']], [['0.02010000', '2.00000000']]),
        snap('1001.2', 'BBBBTC', 11, [['0.00000630', '200.00000000']], [['0.00000650', '300.00000000']]),
        snap('1001.3', 'DDDBNB', 7, [['1.00000000', '1.00000000']], []),
      ],
    );
    const src = await openBinance(ws);
    const ev = await collect(src);
    expect(src.instruments.map((i) => [i.instrumentId, i.name, i.tickSize.toString(), i.lotSize.toString()])).toEqual([
      [1, 'binance:spot:bbb-btc', '0.00000001', '1'],
      [2, 'binance:spot:ccc-eth', '0.0001', '0.01'],
      [3, 'binance:spot:ddd-bnb', '1', '1'],
    ]);
    expect(ev.map((e) => `${e.instrumentId}:${trace([e], e.instrumentId)[0]}`)).toEqual([
      '2:SnapshotStart', '2:Clear', '2:B200x100', '2:A201x200', '2:SnapshotEnd',
      '1:SnapshotStart', '1:Clear', '1:B630x200', '1:A650x300', '1:SnapshotEnd',
      '3:SnapshotStart', '3:Clear', '3:B1x1', '3:SnapshotEnd',
      '2:A201x350',
      '1:B641x10',
      '2:T-200x125',
    ]);
    expect(src.stats.symbols.map((s) => [s.symbol, s.applied, s.stale, s.trades])).toEqual([
      ['BBBBTC', 1, 1, 0],
      ['CCCETH', 1, 0, 1],
      ['DDDBNB', 0, 0, 0],
    ]);
    expect(src.stats.ignoredByStream).toEqual({ bookTicker: 1 });
  });

  it('converts decimals digit by digit (no float rounding) and honours overrides', async () => {
    const ws = capture(
      [depth('1001.0', 'AAAUSDT', 1001000, 101, 101, [['1.005', '0.29'], ['1.0049', '1']])],
      [snap('1000.5', 'AAAUSDT', 100, [['0.29', '4.35']], [['1.13', '0.57']])],
    );
    // 1.005 / 0.001 and 0.29 / 0.01 are not integers in floating point.
    expect(1.005 / 0.001).not.toBe(1005);
    expect(0.29 / 0.01).not.toBe(29);
    const issues: MdParseIssue[] = [];
    const src = await openBinance(ws, { instruments: { aaausdt: { tickSize: '0.001', lotSize: '0.01' } }, onIssue: (i) => issues.push(i) });
    const ev = await collect(src);
    expect(trace(ev)).toEqual(['SnapshotStart', 'Clear', 'B290x435', 'A1130x57', 'SnapshotEnd', 'B1005x29']);
    // 1.0049 is off the 0.001 override: reported and that level skipped.
    expect(issues).toEqual([{ file: ws, line: 2, message: expect.stringMatching(/bid level \[1\.0049, 1\] of AAAUSDT: price 1\.0049 is off the tick grid/) }]);
    expect(src.issues).toEqual([]);

    const inferred = await openBinance(ws);
    expect(inferred.instruments[0]!.tickSize.toString()).toBe('0.0001');
    expect(inferred.instruments[0]!.lotSize.toString()).toBe('0.01');
    expect(trace(await collect(inferred)).slice(5)).toEqual(['B10050x29', 'B10049x100']);
  });

  it('accepts a non-power-of-ten tick override and prints off-grid trades at fractional ticks', async () => {
    const ws = capture([trade('1001.0', 'AAAUSDT', 1001000, '1.075', '2', false), trade('1002.0', 'AAAUSDT', 1002000, '1.10', '2', false)], []);
    const src = await openBinance(ws, { instruments: { AAAUSDT: { tickSize: '0.05' } } });
    const ev = await collect(src);
    expect(ev.map((e) => e.priceTick)).toEqual([21.5, 22]);
  });

  it('rounds local times to µs and never lets localTs go back', async () => {
    const ws = capture(
      [
        trade('1001.0000004', 'AAAUSDT', 1001000, '1', '1', false),
        trade('1001.0000015', 'AAAUSDT', 1001000, '1', '1', false),
        trade('1000.9', 'AAAUSDT', 1000900, '1', '1', false),
        trade('1002', 'AAAUSDT', 1002000, '1', '1', false),
      ],
      [],
    );
    const src = await openBinance(ws);
    const ev = await collect(src);
    expect(ev.map((e) => e.localTs)).toEqual([1001_000_000, 1001_000_002, 1001_000_002, 1002_000_000]);
    expect(ev[2]!.exchTs).toBe(1000_900_000);
    expect(src.stats.timeRegressions).toBe(1);
  });
});

describe('Binance malformed input', () => {
  it('reports each malformed line by file:line, skips it and imports the rest', async () => {
    const ws = capture(
      [
        depth('1001.0', 'AAAUSDT', 1001000, 101, 101, [['1.00', '2']]), // line 2
        'garbage without a separator', // 3
        '1001.5: {"stream":"aaausdt@depth@100ms","data":{', // 4: bad JSON
        depth('1001.6', 'AAAUSDT', 1001600, 102, 102, [['1.00', 'abc']]), // 5: non-numeric qty
        '1001.7: ' + JSON.stringify({ stream: 'aaausdt@depth@100ms', data: { e: 'depthUpdate', E: 1, s: 'AAAUSDT', U: 102, b: [], a: [] } }), // 6: no u
        'yesterday: {}', // 7: bad time
        trade('1001.8', 'AAAUSDT', 1001800, '-1.00', '1', false), // 8: negative price
        '1001.9: ' + JSON.stringify({ stream: 'aaausdt@aggTrade', data: { s: 'AAAUSDT', p: '1.00', q: '1', T: 1, m: 'yes' } }), // 9: m not boolean
        '', // 10: blank, not an issue
        depth('1002.0', 'AAAUSDT', 1002000, 102, 102, [['1.00', '3']]), // 11
      ],
      [
        'not a snapshot line', // 1
        snap('1000.5', 'AAAUSDT', 100, [['1.00', '1']], [['1.11', '1']]), // 2
        'https://api.binance.com/api/v3/depth?symbol=AAAUSDT&limit=1000 -> 1003.0: {"lastUpdateId":"x","bids":[],"asks":[]}', // 3
      ],
    );
    const src = await openBinance(ws);
    const ev = await collect(src);
    const http = ws.replace('BINANCE.ws.1.0', 'BINANCE.http.0.0');
    expect(src.issues.map((i) => `${i.file === ws ? 'ws' : i.file === http ? 'http' : i.file}:${i.line}`)).toEqual([
      'http:1', 'http:3', 'ws:3', 'ws:4', 'ws:5', 'ws:6', 'ws:7', 'ws:8', 'ws:9',
    ]);
    const msgs = src.issues.map((i) => i.message);
    expect(msgs[0]).toMatch(/<url> -> <local unix time>: <json>/);
    expect(msgs[1]).toMatch(/lastUpdateId/);
    expect(msgs[2]).toMatch(/^expected '<local unix time>: <json>'/);
    expect(msgs[3]).toMatch(/bad JSON/);
    expect(msgs[4]).toMatch(/qty is not a decimal: 'abc'/);
    expect(msgs[5]).toMatch(/'U'\/'u'/);
    expect(msgs[6]).toMatch(/local time/);
    expect(msgs[7]).toMatch(/'p' \(price\) is not a decimal/);
    expect(msgs[8]).toMatch(/'m'/);
    expect(src.stats.issues).toBe(9);
    // The good lines made it: a sync and two contiguous diffs.
    expect(trace(ev)).toEqual(['SnapshotStart', 'Clear', 'B100x1', 'A111x1', 'SnapshotEnd', 'B100x2', 'B100x3']);
    expect(src.stats.symbols[0]).toMatchObject({ diffs: 2, applied: 2, gaps: 0 });
  });

  it('names a symbol it cannot split, unless base and quote are given', async () => {
    const ws = capture([trade('1001.0', 'FOOBAR', 1001000, '1', '1', false)], []);
    const src = await openBinance(ws);
    await collect(src);
    expect(src.instruments[0]).toMatchObject({ name: 'binance:spot:foobar', baseCurrency: 'FOOBAR', quoteCurrency: 'UNKNOWN' });
    expect(src.issues).toEqual([{ file: ws, line: 2, message: expect.stringMatching(/cannot split symbol FOOBAR/) }]);
    const named = await openBinance(ws, { exchange: 'BINANCE_TEST', instruments: { FOOBAR: { baseCurrency: 'FOO', quoteCurrency: 'BAR' } } });
    await collect(named);
    expect(named.instruments[0]).toMatchObject({ name: 'binance:spot:foo-bar', exchange: 'BINANCE_TEST', baseCurrency: 'FOO', quoteCurrency: 'BAR' });
    expect(named.issues).toEqual([]);
  });
});
