import { Decimal } from 'decimal.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstrumentType } from '../../../src/api/enums.js';
import { L2Book } from '../../../src/book/l2-book.js';
import { ASK, BID, MdStatus, MdType, type MdEvent, type MdParseIssue, type SideCode } from '../../../src/data/events.js';
import { coinbaseIsoToUs, coinbaseToUnits, openCoinbase, type CoinbaseImport, type CoinbaseOptions } from '../../../src/data/importers/coinbase.js';
import { ROOT } from '../../helpers.js';

const CAPTURE = `${ROOT}data/coinbase/COINBASE.ws.28.0`;
const URL = 'wss://ws-feed.pro.coinbase.com';

const tmp = mkdtempSync(join(tmpdir(), 'tradeloop-coinbase-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let fileNo = 0;
/** Writes a capture made of `lines` and returns its path. */
function writeCapture(lines: string[]): string {
  const p = join(tmp, `COINBASE.ws.${++fileNo}.0`);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

async function collect(src: CoinbaseImport): Promise<MdEvent[]> {
  const out: MdEvent[] = [];
  for await (const e of src.events()) out.push(e);
  return out;
}

async function importFile(path: string, opts: CoinbaseOptions = {}): Promise<{ src: CoinbaseImport; events: MdEvent[] }> {
  const src = await openCoinbase(path, opts);
  return { src, events: await collect(src) };
}

// Builders of capture lines (local time in seconds as cryptofeed writes it).
const recv = (t: string, msg: object): string => `${t}: ${JSON.stringify(msg)}`;
const snapshot = (t: string, product: string, bids: [string, string][], asks: [string, string][]): string => recv(t, { type: 'snapshot', product_id: product, bids, asks });
const l2 = (t: string, product: string, changes: [string, string, string][], time = '2021-04-17T16:43:40.000000Z'): string =>
  recv(t, { type: 'l2update', product_id: product, changes, time });
const match = (t: string, product: string, side: string, price: string, size: string, sequence: number, time = '2021-04-17T16:43:40.123456Z', type = 'match'): string =>
  recv(t, { type, trade_id: sequence, maker_order_id: 'm', taker_order_id: 't', side, size, price, product_id: product, sequence, time });

/** The raw capture, parsed independently of the importer (JSON.parse and decimal.js only). */
interface RawProduct {
  id: string;
  snapshotLine: number;
  /** l2update changes after the product's snapshot. */
  changes: number;
  /** Levels of non-zero size in the snapshot. */
  snapshotLevels: number;
  /** l2update messages before it. */
  before: number;
  matches: number;
  /** The book at the end: normalized decimal price string → decimal size, per side. */
  bids: Map<string, Decimal>;
  asks: Map<string, Decimal>;
}

function readRaw(path: string): { order: string[]; products: Map<string, RawProduct>; lines: string[] } {
  const lines = readFileSync(path, 'utf8').split('\n');
  const order: string[] = [];
  const products = new Map<string, RawProduct>();
  lines.forEach((text, i) => {
    const m = /^\d+(?:\.\d+)?: (.*)$/.exec(text);
    if (m === null) return;
    const msg = JSON.parse(m[1]!) as Record<string, unknown>;
    const id = msg.product_id as string | undefined;
    if (id === undefined) return;
    if (!order.includes(id)) order.push(id);
    let p = products.get(id);
    if (p === undefined) {
      p = { id, snapshotLine: 0, changes: 0, snapshotLevels: 0, before: 0, matches: 0, bids: new Map(), asks: new Map() };
      products.set(id, p);
    }
    const key = (s: string): string => new Decimal(s).toString();
    if (msg.type === 'snapshot') {
      p.snapshotLine = i + 1;
      p.bids.clear();
      p.asks.clear();
      for (const [pr, sz] of msg.bids as string[][]) if (!new Decimal(sz!).isZero()) p.bids.set(key(pr!), new Decimal(sz!));
      for (const [pr, sz] of msg.asks as string[][]) if (!new Decimal(sz!).isZero()) p.asks.set(key(pr!), new Decimal(sz!));
      p.snapshotLevels = p.bids.size + p.asks.size;
    } else if (msg.type === 'l2update') {
      if (p.snapshotLine === 0) {
        p.before++;
        return;
      }
      for (const [side, pr, sz] of msg.changes as string[][]) {
        const book = side === 'buy' ? p.bids : p.asks;
        if (new Decimal(sz!).isZero()) book.delete(key(pr!));
        else book.set(key(pr!), new Decimal(sz!));
        p.changes++;
      }
    } else if (msg.type === 'match') {
      p.matches++;
    }
  });
  return { order, products, lines };
}

describe('Coinbase helpers', () => {
  it('converts decimal strings to integer units digit by digit', () => {
    expect(coinbaseToUnits('0.00001305', '0.00000001')).toBe(1305);
    expect(coinbaseToUnits('14.9280', '0.0001')).toBe(149280);
    expect(coinbaseToUnits('14.928', '0.0001')).toBe(149280);
    expect(coinbaseToUnits('2000.000000', '0.000001')).toBe(2_000_000_000);
    expect(coinbaseToUnits('0.0', '0.1')).toBe(0);
    expect(coinbaseToUnits('1200', '100')).toBe(12);
    expect(coinbaseToUnits('0.75', '0.25')).toBe(3);
    // Values a float multiply gets wrong: 0.29 × 100 = 28.999999999999996, 1.005 × 1000 = 1004.9999999999999.
    expect(coinbaseToUnits('0.29', '0.01')).toBe(29);
    expect(coinbaseToUnits('1.005', '0.001')).toBe(1005);
    expect(coinbaseToUnits('60123.45678901', '0.00000001')).toBe(6012345678901);
  });

  it('returns −1 off the grid or beyond 2^53 units, NaN for what is not a plain decimal', () => {
    expect(coinbaseToUnits('14.92805', '0.0001')).toBe(-1);
    expect(coinbaseToUnits('1250', '100')).toBe(-1);
    expect(coinbaseToUnits('0.5', '0.25')).toBe(2);
    expect(coinbaseToUnits('0.6', '0.25')).toBe(-1);
    expect(coinbaseToUnits('90071992547409.93', '0.01')).toBe(-1);
    expect(coinbaseToUnits('90071992547409.91', '0.01')).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of ['', '-1', '1e5', '1.', '.5', '1.2.3', ' 1', 'abc', '0x10']) expect(coinbaseToUnits(bad, '0.01')).toBeNaN();
    expect(() => coinbaseToUnits('1', '0')).toThrow(RangeError);
    expect(() => coinbaseToUnits('1', '-0.01')).toThrow(RangeError);
  });

  it('parses ISO-8601 venue times to µs exactly', () => {
    const base = Date.UTC(2021, 3, 17, 16, 43, 30) * 1000;
    expect(coinbaseIsoToUs('2021-04-17T16:43:30.244075Z')).toBe(base + 244075);
    expect(coinbaseIsoToUs('2021-04-17T16:43:30.244075999Z')).toBe(base + 244075);
    expect(coinbaseIsoToUs('2021-04-17T16:43:30.2Z')).toBe(base + 200000);
    expect(coinbaseIsoToUs('2021-04-17T16:43:30Z')).toBe(base);
    expect(coinbaseIsoToUs('2021-04-17T18:43:30.000001+02:00')).toBe(base + 1);
    expect(coinbaseIsoToUs('2021-04-17T16:59:59.999999Z')).toBe(Date.UTC(2021, 3, 17, 16, 59, 59) * 1000 + 999999);
    expect(coinbaseIsoToUs('2021-04-17T17:00:00.000000Z')).toBe(Date.UTC(2021, 3, 17, 17) * 1000);
    for (const bad of ['2021-04-17 16:43:30Z', '2021-04-17T16:43:30', '2021-02-30T00:00:00Z', '2021-04-17T16:43:60Z', '2021-04-17T16:43:3xZ', '2021-04-17T16:43:30.Z', '2021-04-17T16:43:30.12a4Z', ''])
      expect(coinbaseIsoToUs(bad), bad).toBeNaN();
  });
});

describe('Coinbase capture COINBASE.ws.28.0: acceptance', () => {
  const raw = readRaw(CAPTURE);
  let src: CoinbaseImport;
  let events: MdEvent[];
  beforeAll(async () => {
    ({ src, events } = await importFile(CAPTURE));
  });

  it('has one instrument per product, in order of first appearance, with grids inferred from the snapshots', () => {
    expect(raw.order).toHaveLength(10);
    expect(src.instruments.map((i) => i.instrumentId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(src.instruments.map((i) => i.name)).toEqual(raw.order.map((id) => `coinbase:spot:${id.toLowerCase()}`));
    expect(src.products.map((p) => p.productId)).toEqual(raw.order);
    for (const i of src.instruments) {
      expect(i.exchange).toBe('COINBASE');
      expect(i.type).toBe(InstrumentType.Spot);
      expect(`${i.baseCurrency}-${i.quoteCurrency}`).toBe(src.products[i.instrumentId - 1]!.productId);
    }
    const grid = Object.fromEntries(src.instruments.map((i) => [i.name, `${i.tickSize.toString()} ${i.lotSize.toString()}`]));
    expect(grid['coinbase:spot:band-gbp']).toBe('0.0001 0.01');
    expect(grid['coinbase:spot:skl-btc']).toBe('0.00000001 0.1');
    expect(grid['coinbase:spot:yfi-btc']).toBe('0.00001 0.000001');
    // DASH-BTC writes sizes with 8 decimals, but every size of its snapshot is a multiple of 0.001.
    expect(grid['coinbase:spot:dash-btc']).toBe('0.00000001 0.001');
    expect(src.products.every((p) => p.tickSource === 'snapshot' && p.lotSource === 'snapshot')).toBe(true);
  });

  it('imports without issues, in non-decreasing localTs order, ignoring ticker and subscriptions', () => {
    expect(src.issues).toEqual([]);
    expect(src.stats.issues).toBe(0);
    expect(events.length).toBe(src.stats.events);
    for (let i = 1; i < events.length; i++) expect(events[i]!.localTs >= events[i - 1]!.localTs).toBe(true);
    expect(src.stats.ignored).toEqual({ subscriptions: 3, ticker: 107 });
    expect(src.stats.sentMessages).toBe(3);
    expect(src.stats.connects).toBe(1);
    expect(src.stats.localTsClamped).toBe(0);
    // The shared capture has every snapshot before its product's first update.
    expect([...raw.products.values()].every((p) => p.before === 0)).toBe(true);
    expect(src.stats.droppedUpdates).toBe(0);
  });

  it('per product: a snapshot, then updates and trades whose counts match the raw lines', () => {
    for (const inst of src.instruments) {
      const p = raw.products.get(src.products[inst.instrumentId - 1]!.productId)!;
      const mine = events.filter((e) => e.instrumentId === inst.instrumentId);
      const end = mine.findIndex((e) => e.type === MdType.Status && e.status === MdStatus.SnapshotEnd);
      expect(mine[0]).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotStart });
      expect(mine[1]).toMatchObject({ type: MdType.Clear });
      expect(mine.slice(2, end).every((e) => e.type === MdType.LevelSet)).toBe(true);
      expect(end - 2).toBe(p.snapshotLevels);
      const after = mine.slice(end + 1);
      // No match precedes its product's snapshot in this capture (last_match is skipped).
      expect(mine.slice(0, end).some((e) => e.type === MdType.Trade)).toBe(false);
      expect(after.filter((e) => e.type === MdType.LevelSet).length, p.id).toBe(p.changes);
      expect(after.filter((e) => e.type === MdType.Trade).length, p.id).toBe(p.matches);
      expect(after.every((e) => e.type === MdType.LevelSet || e.type === MdType.Trade)).toBe(true);
      expect(src.stats.products[p.id]).toMatchObject({ instrumentId: inst.instrumentId, snapshots: 1, snapshotLevels: p.snapshotLevels, levelSets: p.changes, trades: p.matches, lastMatches: 1, offGrid: 0 });
    }
    const total = (f: (p: RawProduct) => number): number => [...raw.products.values()].reduce((s, p) => s + f(p), 0);
    expect(src.stats.levelSets).toBe(total((p) => p.changes));
    expect(src.stats.trades).toBe(total((p) => p.matches));
    expect(src.stats.levelSets).toBe(9719);
    expect(src.stats.trades).toBe(97);
  });

  it('per product: the replayed L2 book is never crossed after its snapshot and ends equal to the raw book', () => {
    const books = new Map<number, L2Book>();
    const live = new Set<number>();
    let checks = 0;
    for (const e of events) {
      let b = books.get(e.instrumentId);
      if (b === undefined) books.set(e.instrumentId, (b = new L2Book()));
      if (e.type === MdType.Clear) b.clear();
      else if (e.type === MdType.LevelSet) b.set(e.side, e.priceTick, e.qty);
      else if (e.type === MdType.Status && e.status === MdStatus.SnapshotStart) live.delete(e.instrumentId);
      else if (e.type === MdType.Status && e.status === MdStatus.SnapshotEnd) live.add(e.instrumentId);
      if (live.has(e.instrumentId)) {
        expect(b.isCrossed(), `instrument ${e.instrumentId} crossed at localTs ${e.localTs}`).toBe(false);
        checks++;
      }
    }
    expect(checks).toBeGreaterThan(9719);
    for (const inst of src.instruments) {
      const p = raw.products.get(src.products[inst.instrumentId - 1]!.productId)!;
      const b = books.get(inst.instrumentId)!;
      const tick = new Decimal(inst.tickSize.toString());
      const lot = new Decimal(inst.lotSize.toString());
      for (const [side, want] of [
        [BID, p.bids],
        [ASK, p.asks],
      ] as [SideCode, Map<string, Decimal>][]) {
        expect(b.depth(side), `${p.id} side ${side}`).toBe(want.size);
        const got = new Map<string, Decimal>();
        for (let i = 0; i < b.depth(side); i++) got.set(tick.times(b.levelTick(side, i)).toString(), lot.times(b.levelQty(side, i)));
        for (const [price, size] of want) expect(got.get(price)?.toString(), `${p.id} ${price}`).toBe(size.toString());
      }
      expect(b.bestBidTick()).toBeLessThan(b.bestAskTick());
    }
  });

  it('trades carry the taker side (opposite of Coinbase’s maker side), exact prices, sizes and venue time', () => {
    // The first match of the capture, found independently.
    const idx = raw.lines.findIndex((l) => l.includes('"type":"match"'));
    const text = raw.lines[idx]!;
    const localSec = text.slice(0, text.indexOf(':'));
    const msg = JSON.parse(text.slice(text.indexOf(': ') + 2)) as { product_id: string; side: string; price: string; size: string; time: string };
    const inst = src.instruments[src.products.findIndex((p) => p.productId === msg.product_id)]!;
    const first = events.find((e) => e.type === MdType.Trade)!;
    expect(first.instrumentId).toBe(inst.instrumentId);
    expect(first.side).toBe(msg.side === 'sell' ? BID : ASK);
    expect(new Decimal(inst.tickSize.toString()).times(first.priceTick).toString()).toBe(new Decimal(msg.price).toString());
    expect(new Decimal(inst.lotSize.toString()).times(first.qty).toString()).toBe(new Decimal(msg.size).toString());
    expect(first.exchTs).toBe(new Date(msg.time).getTime() * 1000 + Number(msg.time.slice(23, 26)));
    expect(first.localTs).toBe(Math.trunc(Number(new Decimal(localSec).times(1e6).toFixed(0, Decimal.ROUND_DOWN))));
    // Maker sells fill at the ask; in this capture most of them do so at the best ask.
    const trades = events.filter((e) => e.type === MdType.Trade);
    expect(trades.some((t) => t.side === BID) && trades.some((t) => t.side === ASK)).toBe(true);
  });

  it('a second pass gives the same events and fresh counters', async () => {
    const again = await collect(src);
    expect(again).toEqual(events);
    expect(src.stats.events).toBe(events.length);
    expect(src.stats.trades).toBe(97);
  });

  it('can emit last_match trades on request', async () => {
    const { src: s2, events: ev2 } = await importFile(CAPTURE, { includeLastMatch: true });
    expect(s2.stats.trades).toBe(107);
    expect(ev2.length).toBe(events.length + 10);
  });
});

describe('Coinbase synthetic captures', () => {
  const head = [`${URL} <-> 1618677816.8434298`, `${URL} <- 1618677817.020616: {"type":"subscribe","product_ids":["BTC-USD","ETH-EUR"],"channels":["level2","matches"]}`];

  it('drops and counts updates before the product’s snapshot, per product', async () => {
    const path = writeCapture([
      ...head,
      l2('1618677817.1', 'BTC-USD', [['buy', '100.00', '1.5']]),
      l2('1618677817.2', 'BTC-USD', [
        ['sell', '101.00', '2'],
        ['sell', '102.00', '3'],
      ]),
      snapshot('1618677817.3', 'ETH-EUR', [['10.5', '1.25']], [['10.6', '2']]),
      l2('1618677817.4', 'ETH-EUR', [['buy', '10.4', '0.5']]),
      snapshot('1618677817.5', 'BTC-USD', [['99.99', '1.0']], [['100.01', '0.5']]),
      l2('1618677817.6', 'BTC-USD', [['buy', '100.00', '1.5']]),
    ]);
    const { src, events } = await importFile(path);
    expect(src.products.map((p) => p.productId)).toEqual(['BTC-USD', 'ETH-EUR']);
    expect(src.stats.products['BTC-USD']).toMatchObject({ droppedUpdates: 2, droppedChanges: 3, updates: 1, levelSets: 1, snapshots: 1 });
    expect(src.stats.products['ETH-EUR']).toMatchObject({ droppedUpdates: 0, updates: 1, levelSets: 1 });
    expect(src.stats).toMatchObject({ droppedUpdates: 2, droppedChanges: 3, issues: 0 });
    const btc = events.filter((e) => e.instrumentId === 1);
    expect(btc.map((e) => e.type)).toEqual([MdType.Status, MdType.Clear, MdType.LevelSet, MdType.LevelSet, MdType.Status, MdType.LevelSet]);
    // BTC-USD tick 0.01, lot 0.1 (from its snapshot); 100.00 → 10000 ticks, 1.5 → 15 lots.
    expect(src.instruments[0]!.tickSize.toString()).toBe('0.01');
    expect(src.instruments[0]!.lotSize.toString()).toBe('0.1');
    expect(btc[5]).toMatchObject({ side: BID, priceTick: 10000, qty: 15, localTs: 1618677817_600000, exchTs: Date.UTC(2021, 3, 17, 16, 43, 40) * 1000 });
    expect(btc[2]).toMatchObject({ side: BID, priceTick: 9999, qty: 10, exchTs: 1618677817_500000 });
  });

  it('reports malformed lines by file and line, skips them and imports the rest', async () => {
    const lines = [
      ...head,
      snapshot('1618677817.1', 'BTC-USD', [['100.01', '1.5']], [['100.50', '2.0']]),
      '1618677817.2: {"type":"l2update","product_id":"BTC-USD","changes":[["buy","100.10","1.0"]]', // 4: bad JSON
      'garbage without a time', // 5
      'x1618677817.3: {}', // 6
      recv('1618677817.4', { product_id: 'BTC-USD' }), // 7: no type
      l2('1618677817.5', 'BTC-USD', [['buy', 'abc', '1.0']]), // 8: non-numeric price
      l2('1618677817.6', 'BTC-USD', [['hold', '100.10', '1.0']]), // 9: bad side
      l2('1618677817.7', 'BTC-USD', [['buy', '100.10', '1.0']], 'yesterday'), // 10: bad time
      recv('1618677817.8', { type: 'l2update', product_id: 'BTC-USD', time: '2021-04-17T16:43:40Z' }), // 11: no changes
      l2('1618677817.9', 'BTC-USD', [
        ['buy', '100.10', '1.0'],
        ['sell', '100.40', '-1'],
      ]), // 12: negative size: whole message skipped
      match('1618677818.0', 'BTC-USD', 'buy', '100.00', '', 5), // 13: empty size
      match('1618677818.1', 'BTC-USD', 'sell', '100.50', '0.5', 6, '2021-04-17T16:43:41Z'), // 14: ok
      recv('1618677818.2', { type: 'match', side: 'buy', price: '1', size: '1', time: '2021-04-17T16:43:41Z' }), // 15: no product
      '1618677818.3: [1,2,3]', // 16: not an object
      l2('1618677818.4', 'BTC-USD', [['buy', '100.20', '3.0']]), // 17: ok
      '16186778a8.3: {"type":"heartbeat"}', // 18
      '', // blank: skipped silently
      `${URL} <- 1618677818.5 {"type":"subscribe"}`, // 20: sent line without ': '
    ];
    const path = writeCapture(lines);
    const { src, events } = await importFile(path);
    const byLine = new Map(src.issues.map((i) => [i.line, i]));
    expect(src.issues.every((i) => i.file === path)).toBe(true);
    expect([...byLine.keys()]).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 18, 20]);
    expect(byLine.get(4)!.message).toMatch(/bad JSON/);
    expect(byLine.get(5)!.message).toMatch(/not a capture line/);
    expect(byLine.get(7)!.message).toMatch(/type/);
    expect(byLine.get(8)!.message).toMatch(/price is not a non-negative decimal: 'abc'/);
    expect(byLine.get(9)!.message).toMatch(/'buy' or 'sell'/);
    expect(byLine.get(10)!.message).toMatch(/time/);
    expect(byLine.get(11)!.message).toMatch(/changes/);
    expect(byLine.get(12)!.message).toMatch(/size is not a non-negative decimal: '-1'/);
    expect(byLine.get(13)!.message).toMatch(/size is not a non-negative decimal: ''/);
    expect(byLine.get(15)!.message).toMatch(/product_id/);
    expect(byLine.get(16)!.message).toMatch(/not an object/);
    expect(byLine.get(18)!.message).toMatch(/local time/);
    expect(src.stats.issues).toBe(14);
    // The rest is imported: the snapshot, one trade, one update.
    expect(src.stats).toMatchObject({ snapshots: 1, trades: 1, updates: 1, levelSets: 1 });
    const tail = events.slice(-2);
    expect(tail[0]).toMatchObject({ type: MdType.Trade, side: BID, priceTick: 10050, qty: 5 });
    expect(tail[1]).toMatchObject({ type: MdType.LevelSet, side: BID, priceTick: 10020, qty: 30 });
  });

  it('sends issues to onIssue when given, and keeps none', async () => {
    const path = writeCapture([...head, 'nonsense', snapshot('1618677817.1', 'BTC-USD', [['1.0', '1']], [['2.0', '1']])]);
    const seen: MdParseIssue[] = [];
    const { src, events } = await importFile(path, { onIssue: (i) => seen.push(i) });
    expect(seen).toEqual([{ file: path, line: 3, message: expect.stringMatching(/not a capture line/) }]);
    expect(src.issues).toEqual([]);
    expect(src.stats.issues).toBe(1);
    expect(events.length).toBe(5);
  });

  it('applies overrides, reports values off the grid and skips them', async () => {
    const path = writeCapture([
      ...head,
      snapshot('1618677817.1', 'BTC-USD', [['100.00', '1.5']], [['100.50', '2.0']]),
      l2('1618677817.2', 'BTC-USD', [
        ['buy', '100.27', '1.0'],
        ['buy', '100.30', '1.0'],
      ]),
      match('1618677817.3', 'BTC-USD', 'buy', '100.00', '0.333', 7),
    ]);
    const { src, events } = await importFile(path, { instruments: { 'btc-usd': { tickSize: '0.05' } } });
    expect(src.instruments[0]!.tickSize.toString()).toBe('0.05');
    expect(src.instruments[0]!.lotSize.toString()).toBe('0.1');
    expect(src.products[0]).toMatchObject({ tickSource: 'override', lotSource: 'snapshot' });
    expect(src.issues.map((i) => [i.line, i.message.match(/'[^']*' is not a whole multiple of [0-9.e-]+/)?.[0]])).toEqual([
      [4, "'100.27' is not a whole multiple of 0.05"],
      [5, "'0.333' is not a whole multiple of 0.1"],
    ]);
    expect(src.stats.products['BTC-USD']).toMatchObject({ offGrid: 2, levelSets: 1, trades: 0 });
    expect(events.filter((e) => e.type === MdType.LevelSet).map((e) => e.priceTick)).toEqual([2000, 2010, 2006]);
    await expect(openCoinbase(path, { instruments: { 'BTC-USD': { lotSize: 'tiny' } } })).rejects.toThrow(RangeError);
  });

  it('infers a grid from updates and trades when a product has no snapshot, and never coarser than 1', async () => {
    const path = writeCapture([
      `${URL} <-> 1618677816.8`,
      match('1618677817.1', 'ETH-EUR', 'sell', '2000.5', '0.0125', 1),
      l2('1618677817.2', 'ETH-EUR', [['buy', '1999.25', '3']]),
      snapshot('1618677817.3', 'BTC-USD', [['60000', '1']], [['60010', '2']]),
      recv('1618677817.4', { type: 'ticker', product_id: 'LTC-USD', price: '1' }),
    ]);
    const { src, events } = await importFile(path);
    const grid = src.instruments.map((i) => `${i.name} ${i.tickSize.toString()} ${i.lotSize.toString()}`);
    expect(grid).toEqual(['coinbase:spot:eth-eur 0.01 0.0001', 'coinbase:spot:btc-usd 1 1', 'coinbase:spot:ltc-usd 0.00000001 0.00000001']);
    expect(src.products.map((p) => p.tickSource)).toEqual(['messages', 'snapshot', 'default']);
    // LTC-USD: no price at all; reported at its first line.
    expect(src.issues.map((i) => [i.line, i.message.slice(0, 8)])).toEqual([
      [5, 'LTC-USD:'],
      [5, 'LTC-USD:'],
    ]);
    // The trade before any snapshot is still a trade (maker sold → taker bought).
    expect(events[0]).toMatchObject({ type: MdType.Trade, instrumentId: 1, side: BID, priceTick: 200050, qty: 125 });
    expect(src.stats.products['ETH-EUR']).toMatchObject({ trades: 1, droppedUpdates: 1 });
    expect(src.stats.ignored).toEqual({ ticker: 1 });
  });

  it('on a reconnect marks the books stale, drops updates until the next snapshot', async () => {
    const path = writeCapture([
      ...head,
      snapshot('1618677817.1', 'BTC-USD', [['100.00', '1.0']], [['100.50', '2.0']]),
      snapshot('1618677817.2', 'ETH-EUR', [['10.00', '1.0']], [['10.50', '2.0']]),
      `${URL} <-> 1618677818.0`,
      l2('1618677818.1', 'BTC-USD', [['buy', '100.10', '1.0']]),
      snapshot('1618677818.2', 'BTC-USD', [['100.20', '1.0']], [['100.50', '2.0']]),
      l2('1618677818.3', 'BTC-USD', [['buy', '100.30', '1.0']]),
      l2('1618677818.4', 'ETH-EUR', [['buy', '10.10', '1.0']]),
    ]);
    const { src, events } = await importFile(path);
    expect(src.stats).toMatchObject({ connects: 2, reconnects: 1, droppedUpdates: 2, updates: 1, snapshots: 3 });
    const disc = events.filter((e) => e.type === MdType.Status && e.status === MdStatus.Disconnected);
    expect(disc.map((e) => [e.instrumentId, e.localTs])).toEqual([
      [1, 1618677818_000000],
      [2, 1618677818_000000],
    ]);
  });

  it('keeps localTs non-decreasing when the local clock steps back, and counts match sequence gaps', async () => {
    const path = writeCapture([
      ...head,
      snapshot('1618677817.5', 'BTC-USD', [['100.00', '1.0']], [['100.50', '2.0']]),
      match('1618677817.6', 'BTC-USD', 'buy', '100.00', '1.0', 10, undefined, 'last_match'),
      match('1618677817.4', 'BTC-USD', 'buy', '100.00', '1.0', 11),
      match('1618677817.7', 'BTC-USD', 'buy', '100.00', '1.0', 15),
      match('1618677817.8', 'BTC-USD', 'buy', '100.00', '1.0', 14),
      recv('1618677817.9', { type: 'heartbeat', sequence: 16, last_trade_id: 1, product_id: 'BTC-USD', time: '2021-04-17T16:43:41Z' }),
    ]);
    const { src, events } = await importFile(path);
    const trades = events.filter((e) => e.type === MdType.Trade);
    expect(trades.map((e) => e.localTs)).toEqual([1618677817_600000, 1618677817_700000, 1618677817_800000]);
    expect(trades.every((t) => t.side === ASK)).toBe(true);
    expect(src.stats).toMatchObject({ localTsClamped: 1, matchSeqGaps: 1, matchSeqRegressions: 1, lastMatches: 1, trades: 3, ignored: { heartbeat: 1 } });
  });

  it('stops the scan once every subscribed product has its snapshot; a later unknown product is reported once', async () => {
    const path = writeCapture([
      ...head,
      snapshot('1618677817.1', 'BTC-USD', [['100.00', '1.0']], [['100.50', '2.0']]),
      snapshot('1618677817.2', 'ETH-EUR', [['10.00', '1.0']], [['10.50', '2.0']]),
      snapshot('1618677817.3', 'XRP-USD', [['1.00', '1.0']], [['1.50', '2.0']]),
      l2('1618677817.4', 'XRP-USD', [['buy', '1.10', '1.0']]),
      l2('1618677817.5', 'BTC-USD', [['buy', '100.10', '1.0']]),
    ]);
    const { src } = await importFile(path);
    expect(src.products.map((p) => p.productId)).toEqual(['BTC-USD', 'ETH-EUR']);
    expect(src.issues.map((i) => i.line)).toEqual([5]);
    expect(src.issues[0]!.message).toMatch(/XRP-USD/);
    expect(src.stats.updates).toBe(1);
  });
});
