import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InstrumentType, MDSub } from '../../../src/api/index.js';
import { BookFeed } from '../../../src/book/feed.js';
import type { L2Book } from '../../../src/book/l2-book.js';
import { L3Book } from '../../../src/book/l3-book.js';
import { ASK, BID, MdStatus, MdType, type MdEvent, type MdParseIssue, type SideCode } from '../../../src/data/events.js';
import {
  LOBSTER_EMPTY_PRICE,
  findLobsterOrderbook,
  lobsterOrderbookPath,
  openLobster,
  parseLobsterFileName,
  zoneMidnightMs,
  type LobsterMessageStep,
} from '../../../src/data/importers/lobster.js';

const AAPL = 'data/lobster/AAPL_2012-06-21_34200000_57600000_message_10.csv';
const AMZN = 'data/lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv';
const E = LOBSTER_EMPTY_PRICE;

const tmp = mkdtempSync(join(tmpdir(), 'tradeloop-lobster-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes a 1-level message file and (unless `book` is undefined) its orderbook file; returns the message path. */
function writePair(name: string, messages: string[], book: string[] | undefined): string {
  const m = join(tmp, `${name}_message_1.csv`);
  writeFileSync(m, messages.join('\n') + '\n');
  if (book !== undefined) writeFileSync(lobsterOrderbookPath(m), book.join('\n') + '\n');
  return m;
}

async function collect(steps: AsyncIterable<LobsterMessageStep>): Promise<LobsterMessageStep[]> {
  const out: LobsterMessageStep[] = [];
  for await (const s of steps) out.push(s);
  return out;
}

/** The book as a LOBSTER orderbook row of `levels` levels a side (LOBSTER prices: ticks × 100). */
function bookRow(l2: L2Book, levels: number): number[] {
  const row: number[] = [];
  for (let i = 0; i < levels; i++) {
    row.push(i < l2.depth(ASK) ? l2.levelTick(ASK, i) * 100 : E, l2.levelQty(ASK, i));
    row.push(i < l2.depth(BID) ? l2.levelTick(BID, i) * 100 : -E, l2.levelQty(BID, i));
  }
  return row;
}

/** One side of a row: tick → qty, and the key (side × tick) of its worst shown level, −∞ when the side is not full. */
function rowSide(row: number[], side: SideCode, levels: number): { qty: Map<number, number>; worstKey: number } {
  const qty = new Map<number, number>();
  const base = side === ASK ? 0 : 2;
  let last = Number.NaN;
  let k = 0;
  for (let i = 0; i < levels; i++) {
    const p = row[4 * i + base]!;
    if (Math.abs(p) === E) break;
    last = p / 100;
    qty.set(last, row[4 * i + base + 1]!);
    k++;
  }
  return { qty, worstKey: k === levels ? side * last : Number.NEGATIVE_INFINITY };
}

describe('LOBSTER file names and time', () => {
  it('parses names and finds the orderbook file beside the message file', () => {
    expect(parseLobsterFileName(AAPL)).toEqual({ ticker: 'AAPL', date: '2012-06-21', startMs: 34200000, endMs: 57600000, kind: 'message', levels: 10 });
    expect(parseLobsterFileName('x/readme.txt')).toBeUndefined();
    expect(lobsterOrderbookPath(AAPL)).toBe('data/lobster/AAPL_2012-06-21_34200000_57600000_orderbook_10.csv');
    expect(findLobsterOrderbook(AMZN)).toBe('data/lobster/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv');
    expect(findLobsterOrderbook(join(tmp, 'NONE_2012-06-21_0_1_message_1.csv'))).toBeUndefined();
  });

  it('takes midnight in the exchange time zone (EDT in June, EST in January)', () => {
    expect(zoneMidnightMs('2012-06-21', 'America/New_York')).toBe(Date.UTC(2012, 5, 21, 4));
    expect(zoneMidnightMs('2012-01-10', 'America/New_York')).toBe(Date.UTC(2012, 0, 10, 5));
    expect(zoneMidnightMs('2012-06-21', 'UTC')).toBe(Date.UTC(2012, 5, 21));
    expect(zoneMidnightMs('2012-06-21', 'Asia/Tokyo')).toBe(Date.UTC(2012, 5, 20, 15));
  });

  it('refuses a file that is not named like a LOBSTER message file', () => {
    expect(() => openLobster('data/lobster/LOBSTER_SampleFiles_ReadMe.txt')).toThrow(RangeError);
    expect(() => openLobster('data/lobster/AAPL_2012-06-21_34200000_57600000_orderbook_10.csv')).toThrow(RangeError);
  });
});

describe('LOBSTER AAPL (10 levels, no header): acceptance', () => {
  it('replays to every orderbook row, and each message explains the change between rows', async () => {
    const imp = openLobster(AAPL);
    expect(imp.instrument).toMatchObject({
      instrumentId: 1,
      exchange: 'NASDAQ',
      name: 'nasdaq:equity:aapl',
      type: InstrumentType.Equity,
      baseCurrency: 'AAPL',
      quoteCurrency: 'USD',
    });
    expect(imp.instrument.tickSize.toString()).toBe('0.01');
    expect(imp.levels).toBe(10);

    const book = new L3Book();
    const rowMismatches: string[] = [];
    const effectMismatches: string[] = [];
    let prev: number[] | undefined;
    let n = 0;
    let reconcileEvents = 0;
    const steps = await collect(imp.messages());
    for (const step of steps) {
      n++;
      for (const e of step.events) book.apply(e);
      expect(step.row).toHaveLength(40);
      // 1. The replayed book equals the row on all 10 levels a side.
      const got = bookRow(book.l2, 10);
      if (got.join() !== step.row.join()) rowMismatches.push(`line ${step.line}: ${got.join()} != ${step.row.join()}`);

      // 2. Within the levels both rows show, this row = previous row + the message's own
      //    effect (from its LOBSTER fields) + the importer's reconciliation events.
      const recon = step.events.slice(step.events.length - step.reconcileCount);
      reconcileEvents += recon.length;
      for (const e of recon) expect(e.orderId < 0 || e.type !== MdType.OrderAdd).toBe(true);
      if (prev !== undefined) {
        for (const side of [BID, ASK] as const) {
          const before = rowSide(prev, side, 10);
          const after = rowSide(step.row, side, 10);
          const expected = new Map(before.qty);
          const bump = (tick: number, d: number) => expected.set(tick, (expected.get(tick) ?? 0) + d);
          const { type, size, price, direction } = step.msg;
          if (direction === side && type >= 1 && type <= 4) bump(price / 100, type === 1 ? size : -size);
          for (const e of recon) {
            if (e.side !== side) continue;
            bump(e.priceTick, e.type === MdType.OrderAdd ? e.qty : -e.qty);
          }
          const window = Math.max(before.worstKey, after.worstKey);
          const visible = (m: Map<number, number>) =>
            [...m.entries()].filter(([t, q]) => q !== 0 && side * t >= window).sort((a, b) => a[0] - b[0]);
          const want = JSON.stringify(visible(expected));
          const have = JSON.stringify(visible(after.qty));
          if (want !== have) effectMismatches.push(`line ${step.line} side ${side} type ${type}: expected ${want}, row ${have}`);
        }
      }
      prev = step.row;
    }
    expect(rowMismatches).toEqual([]);
    expect(effectMismatches).toEqual([]);
    // The file holds 999 messages (998 newlines: the last line has none).
    expect(n).toBe(999);
    expect(imp.stats.messages).toBe(999);
    expect(imp.stats.byType).toEqual([0, 471, 0, 369, 98, 61, 0, 0]);
    expect(imp.issues).toEqual([]);
    // Every message was matched to a known order or a synthetic one.
    expect(book.unknownIdCount).toBe(0);
    expect(imp.stats.unknownOrderRefs).toBe(0);
    expect(book.duplicateIdCount).toBe(0);
    // Hidden depth is rare: a handful of levels revealed or changed below level 10.
    expect(reconcileEvents).toBe(imp.stats.reconciledAdds + imp.stats.reconciledRemovals);
    expect(reconcileEvents).toBeGreaterThan(0);
    expect(reconcileEvents).toBeLessThan(20);

    // Message 13 deletes the best ask; the row then lacks the 1160 lots at 587.65 that the
    // opening snapshot had 11th: they left below level 10, so the importer removes them.
    const s13 = steps.find((s) => s.line === 13)!;
    expect(s13.reconcileCount).toBe(1);
    expect(s13.events.at(-1)).toMatchObject({ type: MdType.OrderDelete, side: ASK, priceTick: 58765, qty: 1160 });
    expect(s13.events.at(-1)!.orderId).toBeLessThan(0);
  });

  it('opens with a snapshot of the book before message 1 (its row with the add undone)', async () => {
    const imp = openLobster(AAPL);
    const [first] = await collect(imp.messages());
    const step = first!;
    expect(step.line).toBe(1);
    expect(step.msg).toEqual({ timeSec: 34200.004241176, type: 1, orderId: 16113575, size: 18, price: 5853300, direction: 1 });
    const snap = step.events.slice(0, step.snapshotCount);
    expect(snap[0]).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotStart });
    expect(snap.at(-1)).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotEnd });
    const adds = snap.slice(1, -1);
    expect(adds.every((e) => e.type === MdType.OrderAdd)).toBe(true);
    expect(adds.map((e) => e.orderId)).toEqual(adds.map((_, i) => -(i + 1)));
    // Row 1 shows 10 bids, one of them the order message 1 added: 9 bids before it, 10 asks.
    expect(adds.filter((e) => e.side === BID)).toHaveLength(9);
    expect(adds.filter((e) => e.side === ASK)).toHaveLength(10);
    expect(adds.some((e) => e.priceTick === 58533)).toBe(false);
    expect(adds[0]).toMatchObject({ side: BID, priceTick: 58530, qty: 150 });
    // 34200.004241176 s after midnight EDT (UTC−4) on 2012-06-21, in µs.
    const ts = Date.UTC(2012, 5, 21, 13, 30, 0) * 1000 + 4241;
    expect(step.events.every((e) => e.exchTs === ts && e.localTs === ts && e.instrumentId === 1)).toBe(true);
    expect(step.events.slice(step.snapshotCount)).toEqual([
      { type: MdType.OrderAdd, instrumentId: 1, exchTs: ts, localTs: ts, side: BID, orderId: 16113575, priceTick: 58533, qty: 18, status: 0 },
    ]);
  });

  it('the flat event stream equals the steps, and a feed reports every trade', async () => {
    const imp = openLobster(AAPL);
    const flat: MdEvent[] = [];
    for await (const e of imp.events()) flat.push(e);
    const steps = await collect(imp.messages());
    expect(flat).toEqual(steps.flatMap((s) => s.events));
    expect(imp.stats.events).toBe(flat.length);
    // Hidden executions print between ticks now and then; the taker is opposite the direction.
    const trades = flat.filter((e) => e.type === MdType.Trade);
    expect(trades).toHaveLength(61);
    expect(trades[0]).toMatchObject({ side: BID, priceTick: 58579, qty: 100, orderId: 0 });

    let tradedQty = 0;
    let trades2 = 0;
    const feed = new BookFeed(imp.instrument, (cb, ev) => {
      if (cb === 'onPublicTrade') {
        trades2++;
        tradedQty += (ev as { qty: { toNumber(): number } }).qty.toNumber();
      }
    });
    feed.setSubscriptions(new Set([MDSub.PublicTrades]));
    for (const e of flat) feed.apply(e);
    const execSize = steps.filter((s) => s.msg.type === 4 || s.msg.type === 5).reduce((a, s) => a + s.msg.size, 0);
    expect(tradedQty).toBe(execSize);
    expect(trades2).toBeGreaterThanOrEqual(98 + 61);
    const last = steps.at(-1)!.row;
    expect(feed.depth.bestAskTick() * 100).toBe(last[0]);
    expect(feed.depth.bestBidTick() * 100).toBe(last[2]);
  });
});

describe('LOBSTER AMZN (1 level, header row, whole day)', () => {
  it('imports fully; at every row the best bid/ask equal the row and the book is not crossed', async () => {
    const imp = openLobster(AMZN);
    expect(imp.instrument.name).toBe('nasdaq:equity:amzn');
    const book = new L3Book();
    let n = 0;
    let events = 0;
    let crossed = 0;
    const mismatches: string[] = [];
    const byType = new Map<number, number>();
    const statuses: number[] = [];
    for await (const step of imp.messages()) {
      n++;
      for (const e of step.events) {
        book.apply(e);
        events++;
        byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
        if (e.type === MdType.Status) statuses.push(e.status);
      }
      const r = step.row;
      const l2 = book.l2;
      const ask = l2.depth(ASK) ? l2.bestAskTick() * 100 : E;
      const bid = l2.depth(BID) ? l2.bestBidTick() * 100 : -E;
      if (ask !== r[0] || l2.bestAskQty() !== r[1] || bid !== r[2] || l2.bestBidQty() !== r[3]) {
        if (mismatches.length < 5) mismatches.push(`line ${step.line}: ${ask},${l2.bestAskQty()},${bid},${l2.bestBidQty()} != ${r.join()}`);
      }
      if (l2.isCrossed()) crossed++;
    }
    expect(mismatches).toEqual([]);
    expect(crossed).toBe(0);
    expect(imp.issues).toEqual([]);
    // 57,515 messages (the header is line 1; the last line has no newline).
    expect(n).toBe(57515);
    expect(imp.stats.byType).toEqual([0, 27845, 16, 18235, 8974, 2445, 0, 0]);
    expect(events).toBe(imp.stats.events);
    expect(byType.get(MdType.Trade)).toBe(2445);
    expect(byType.get(MdType.OrderExec)).toBeGreaterThanOrEqual(8974);
    // This day had no halt: the only statuses are the snapshot's framing.
    expect(imp.stats.haltMessages).toBe(0);
    expect(statuses).toEqual([MdStatus.SnapshotStart, MdStatus.SnapshotEnd]);
    // With one level shown, most of the book is hidden: reconciliation does real work here.
    expect(imp.stats.reconciledAdds).toBeGreaterThan(0);
    expect(imp.stats.reconciledRemovals).toBeGreaterThan(0);
    // The day runs 9:30–16:00 New York time.
    expect(imp.stats.snapshotOrders).toBeGreaterThan(0);
  });
});

describe('LOBSTER rewrites, reconciliation and halts (hand-made 2-level file)', () => {
  // Before the file: asks 101.00×100 (id 900) and 101.01×50; bids 100.00×30 (id 901),
  // 99.99×20 (id 555) and, unseen below level 2, 99.98×40.
  const rows = [
    `1010000,100,1000000,40,1010100,50,999900,20`,
    `1010000,100,1000000,10,1010100,50,999900,20`,
    `1010000,100,1000000,10,1010100,50,999800,40`,
    `1010000,40,1000000,10,1010100,50,999800,40`,
    `1010100,50,1000000,10,${E},0,999800,40`,
    `1010100,50,1000000,10,${E},0,999800,40`,
    `1010100,50,1000000,4,${E},0,999800,40`,
    `1010100,50,1000000,4,${E},0,999800,40`,
    `1010100,50,1000000,4,${E},0,999800,40`,
    `1010100,50,1000000,4,${E},0,999800,40`,
  ];
  const messages = [
    '34200.1,1,1,10,1000000,1', // add a bid
    '34200.2,4,901,30,1000000,1', // execution of an order from before the file
    '34200.3,3,555,20,999900,1', // delete from before the file; 99.98 comes into view
    '34200.4,2,900,60,1010000,-1', // partial cancel from before the file
    '34200.5,4,777,40,1010000,-1', // execution of the rest of the synthetic qty
    '34200.6,3,888,5,999000,1', // deep: nothing stands for it
    '34200.7,5,0,7,1000050,-1', // hidden execution at a half-cent; 6 lots left unseen
    '34200.8,7,0,0,-1,-1',
    '34200.9,7,0,0,0,-1',
    '34201.0,7,0,0,1,-1',
  ];

  it('rewrites unknown ids onto synthetic orders and reconciles hidden depth', async () => {
    // CRLF rows and no trailing newline in the message file, as LOBSTER's own files have.
    const path = join(tmp, 'HAND_2012-06-21_34200000_57600000_message_2.csv');
    writeFileSync(path, messages.join('\n'));
    writeFileSync(lobsterOrderbookPath(path), rows.join('\r\n') + '\r\n');
    const imp2 = openLobster(path, { instrumentId: 42, exchange: 'LOBSTER' });
    expect(imp2.instrument.exchange).toBe('LOBSTER');
    const steps = await collect(imp2.messages());
    expect(imp2.issues).toEqual([]);
    const pick = (e: MdEvent) => [e.type, e.side, e.orderId, e.priceTick, e.qty, e.status];
    const snap = steps[0]!.events.slice(0, steps[0]!.snapshotCount).map(pick);
    expect(snap).toEqual([
      [MdType.Status, 0, 0, 0, 0, MdStatus.SnapshotStart],
      [MdType.OrderAdd, BID, -1, 10000, 30, 0],
      [MdType.OrderAdd, BID, -2, 9999, 20, 0],
      [MdType.OrderAdd, ASK, -3, 10100, 100, 0],
      [MdType.OrderAdd, ASK, -4, 10101, 50, 0],
      [MdType.Status, 0, 0, 0, 0, MdStatus.SnapshotEnd],
    ]);
    const own = steps.map((s) => s.events.slice(s.snapshotCount).map(pick));
    expect(own).toEqual([
      [[MdType.OrderAdd, BID, 1, 10000, 10, 0]],
      [[MdType.OrderExec, BID, -1, 10000, 30, 0]],
      [
        [MdType.OrderDelete, BID, -2, 9999, 20, 0],
        [MdType.OrderAdd, BID, -5, 9998, 40, 0], // revealed depth
      ],
      [[MdType.OrderCancel, ASK, -3, 10100, 60, 0]],
      [[MdType.OrderExec, ASK, -3, 10100, 40, 0]],
      [[MdType.OrderDelete, BID, 888, 9990, 5, 0]], // passed on as it is
      [
        [MdType.Trade, BID, 0, 10000.5, 7, 0],
        [MdType.OrderCancel, BID, 1, 10000, 6, 0], // qty gone where the file cannot show it
      ],
      [[MdType.Status, 0, 0, 0, 0, MdStatus.Halted]],
      [[MdType.Status, 0, 0, 0, 0, MdStatus.Quoting]],
      [[MdType.Status, 0, 0, 0, 0, MdStatus.Resumed]],
    ]);
    expect(steps.map((s) => s.reconcileCount)).toEqual([0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    expect(imp2.stats).toMatchObject({
      messages: 10,
      snapshotOrders: 4,
      reconciledAdds: 1,
      reconciledAddQty: 40,
      reconciledRemovals: 1,
      reconciledRemovedQty: 6,
      syntheticRewrites: 4,
      unknownOrderRefs: 1,
      haltMessages: 3,
      issues: 0,
    });
    expect(steps.every((s) => s.events.every((e) => e.instrumentId === 42))).toBe(true);

    const book = new L3Book();
    for (const s of steps) for (const e of s.events) book.apply(e);
    expect(bookRow(book.l2, 2)).toEqual(rows.at(-1)!.split(',').map(Number));
    expect(book.ordersAt(BID, 10000)).toEqual([1]);
    expect(book.unknownIdCount).toBe(1);
  });

  it('an execution larger than the synthetic qty takes all of it and passes the rest on', async () => {
    const path = join(tmp, 'MORE_2012-06-21_34200000_57600000_message_1.csv');
    writeFileSync(path, ['34200.1,4,5,7,1000000,1'].join('\n'));
    writeFileSync(lobsterOrderbookPath(path), `${E},0,${-E},0\n`);
    const imp = openLobster(path);
    const [step] = await collect(imp.messages());
    // The undone execution puts 7 lots at 100.00 into the snapshot, all synthetic.
    expect(step!.events.slice(step!.snapshotCount).map((e) => [e.type, e.orderId, e.qty])).toEqual([[MdType.OrderExec, -1, 7]]);
    const path2 = join(tmp, 'MORE_2012-06-21_34200000_57600000_message_2.csv');
    writeFileSync(path2, ['34200.1,1,1,5,1000000,1', '34200.2,4,9,8,1000000,1'].join('\n'));
    writeFileSync(lobsterOrderbookPath(path2), [`${E},0,1000000,5,${E},0,${-E},0`, `${E},0,${-E},0,${E},0,${-E},0`].join('\n'));
    const steps = await collect(openLobster(path2).messages());
    // Order 9 is unknown and no synthetic qty rests at 100.00: passed on; reconciliation
    // then removes order 1's 5 lots, which the row no longer shows.
    expect(steps[1]!.events.map((e) => [e.type, e.orderId, e.qty])).toEqual([
      [MdType.OrderExec, 9, 8],
      [MdType.OrderDelete, 1, 5],
    ]);
  });
});

describe('LOBSTER malformed input', () => {
  const messages = [
    'Time,Type,OrderId,Size,Price,Direction', // 1: header
    '34200.5,1,101,10,1000000,1', // 2
    '34200.6,1,102,5,1000100,-1', // 3
    'oops', // 4: column count
    '34200.7,9,103,1,1000000,1', // 5: unknown type
    '34200.8,1,104,1,1000000,0', // 6: direction
    '34200.9,1,105,abc,1000000,1', // 7: not numeric
    '34201.0,1,106,3,1000050,1', // 8: off the 0.01 grid
    '34201.1,4,101,4,1000000,1', // 9
    '', // 10: blank, ignored
    '34201.5,3,102,5,1000100,-1', // 11
    '34201.6,1,107,2,1000000,1', // 12: its row is malformed
  ];
  // No header in this one: the files are matched by data line.
  const rows = [
    `${E},0,1000000,10`,
    `1000100,5,1000000,10`,
    `1000100,5,1000000,10`,
    `1000100,5,1000000,10`,
    `1000100,5,1000000,10`,
    `1000100,5,1000000,10`,
    `1000100,5,1000000,10`,
    `1000100,5,1000000,6`,
    `${E},0,1000000,6`,
    `1000100,5`,
  ];

  it('reports bad lines with file and line, and imports the good ones', async () => {
    const path = writePair('BAD_2012-06-21_34200000_57600000', messages, rows);
    const ob = lobsterOrderbookPath(path);
    const imp = openLobster(path);
    const events: MdEvent[] = [];
    for await (const e of imp.events()) events.push(e);
    expect(imp.issues.map((i) => [i.file, i.line])).toEqual([
      [path, 4],
      [path, 5],
      [path, 6],
      [path, 7],
      [path, 8],
      [ob, 10],
    ]);
    expect(imp.issues[0]!.message).toMatch(/6 columns/);
    expect(imp.issues[1]!.message).toMatch(/type 9/);
    expect(imp.issues[2]!.message).toMatch(/direction/);
    expect(imp.issues[3]!.message).toMatch(/size.*abc/);
    expect(imp.issues[4]!.message).toMatch(/grid/);
    expect(imp.issues[5]!.message).toMatch(/4 columns/);
    expect(imp.stats.issues).toBe(6);
    expect(imp.stats.messages).toBe(5);
    expect(events.map((e) => [e.type, e.orderId, e.qty])).toEqual([
      [MdType.Status, 0, 0],
      [MdType.Status, 0, 0],
      [MdType.OrderAdd, 101, 10],
      [MdType.OrderAdd, 102, 5],
      [MdType.OrderExec, 101, 4],
      [MdType.OrderDelete, 102, 5],
      [MdType.OrderAdd, 107, 2],
    ]);
    const book = new L3Book();
    for (const e of events) book.apply(e);
    expect(book.l2.bestBidTick()).toBe(10000);
    expect(book.l2.bestBidQty()).toBe(8);
    expect(book.l2.depth(ASK)).toBe(0);
  });

  it('hands issues to onIssue instead of collecting them', async () => {
    const path = writePair('CB_2012-06-21_34200000_57600000', messages, rows);
    const got: MdParseIssue[] = [];
    const imp = openLobster(path, { onIssue: (i) => got.push(i) });
    for await (const _ of imp.events()) {
      /* drain */
    }
    expect(got).toHaveLength(6);
    expect(imp.issues).toEqual([]);
    expect(imp.stats.issues).toBe(6);
  });

  it('a missing or short orderbook file is an issue, not an error', async () => {
    const lone = writePair('LONE_2012-06-21_34200000_57600000', ['34200.5,1,1,10,1000000,1', '34200.6,5,0,1,1000000,1'], undefined);
    const imp = openLobster(lone);
    expect(imp.orderbookPath).toBeUndefined();
    const steps = await collect(imp.messages());
    expect(steps).toHaveLength(2);
    expect(steps[0]!.row).toEqual([]);
    expect(imp.issues).toHaveLength(1);
    expect(imp.issues[0]).toMatchObject({ line: 0, file: lobsterOrderbookPath(lone) });

    const short = writePair('SHORT_2012-06-21_34200000_57600000', ['34200.5,1,1,10,1000000,1', '34200.6,1,2,1,1000000,1'], [`${E},0,1000000,10`]);
    const imp2 = openLobster(short);
    const steps2 = await collect(imp2.messages());
    expect(steps2.map((s) => s.row.length)).toEqual([4, 0]);
    expect(imp2.issues).toMatchObject([{ file: lobsterOrderbookPath(short), line: 2 }]);

    const long = writePair('LONG_2012-06-21_34200000_57600000', ['34200.5,1,1,10,1000000,1'], [`${E},0,1000000,10`, `${E},0,1000000,10`]);
    const imp3 = openLobster(long);
    await collect(imp3.messages());
    expect(imp3.issues).toMatchObject([{ file: lobsterOrderbookPath(long), line: 2 }]);
  });

  it('a second pass starts afresh', async () => {
    const path = writePair('TWICE_2012-06-21_34200000_57600000', messages, rows);
    const imp = openLobster(path);
    const a = await collect(imp.messages());
    const b = await collect(imp.messages());
    expect(b).toEqual(a);
    expect(imp.issues).toHaveLength(6);
    expect(imp.stats.messages).toBe(5);
  });

  it('stopping early closes the files', async () => {
    const imp = openLobster(AMZN);
    let n = 0;
    for await (const _ of imp.events()) if (++n === 10) break;
    expect(n).toBe(10);
    expect(imp.stats.messages).toBeLessThan(20);
  });
});
