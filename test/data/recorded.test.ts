import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstrumentType } from '../../src/api/enums.js';
import { makeInstrument, type Instrument } from '../../src/api/instrument.js';
import { runBacktest, type MarketSource } from '../../src/backtest/backtest.js';
import { parseRunnerConfig, simOptions } from '../../src/backtest/config.js';
import { MemoryJournalSink } from '../../src/core/journal.js';
import { silentLogger } from '../../src/core/logger.js';
import { MdStatus, MdType, type MdEvent } from '../../src/data/events.js';
import { openLobster } from '../../src/data/importers/lobster.js';
import { openMarketData, sha256Files } from '../../src/data/open.js';
import {
  F64_LOCAL_TS,
  F64_ORDER_ID,
  F64_PRICE_TICK,
  F64_QTY,
  F64_STRIDE,
  HEADER_OFFSET,
  RECORD_SIZE,
  RECORDED_FIXED_HEADER,
  RECORDED_FORMAT_NAME,
  RecordedFormatError,
  RecordedWriter,
  U32_INSTRUMENT_ID,
  U32_STRIDE,
  U8_STRIDE,
  formatEventJson,
  openRecorded,
  toMarketSource,
  writeRecorded,
  type RecordedIssue,
} from '../../src/data/recorded.js';
import DemoStrategy from '../../demo-strat/strategy.js';
import { AMZN, DEMO_CONFIG } from '../helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'tradeloop-recorded-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const FIELDS = ['type', 'instrumentId', 'exchTs', 'localTs', 'side', 'orderId', 'priceTick', 'qty', 'status'] as const;

/** Index and field of the first difference between two event sequences; undefined when equal. */
function firstDifference(a: readonly MdEvent[], b: readonly MdEvent[]): string | undefined {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    for (const f of FIELDS) if (!Object.is(x[f], y[f])) return `event ${i} field ${f}: ${x[f]} vs ${y[f]}`;
    const kx = Object.keys(x).sort().join();
    const ky = Object.keys(y).sort().join();
    if (kx !== ky) return `event ${i} keys ${kx} vs ${ky}`;
  }
  return undefined;
}

const inst1 = makeInstrument({ instrumentId: 7, exchange: 'SIM', name: 'sim:spot:btc-usdt', type: InstrumentType.Spot, tickSize: '0.1', lotSize: '0.001', baseCurrency: 'BTC', quoteCurrency: 'USDT' });
const inst2 = makeInstrument({ instrumentId: 9, exchange: 'SIM', name: 'sim:perp:eth-usdt', type: InstrumentType.Perpetual, tickSize: '0.01', lotSize: '0.01', minQty: '0.1', baseCurrency: 'ETH', quoteCurrency: 'USDT', multiplier: 10 });

function ev(p: Partial<MdEvent>): MdEvent {
  return { type: MdType.OrderAdd, instrumentId: 7, exchTs: 1_700_000_000_000_000, localTs: 1_700_000_000_000_100, side: 1, orderId: 1, priceTick: 1000, qty: 5, status: 0, ...p };
}

/** A small mixed sequence with edge values: ids up to 2^53, fractional ticks, negative ids. */
function smallEvents(): MdEvent[] {
  return [
    ev({ type: MdType.Status, side: 0, orderId: 0, priceTick: 0, qty: 0, status: MdStatus.SnapshotStart }),
    ev({ orderId: -1, side: -1, priceTick: 1001 }),
    ev({ orderId: Number.MAX_SAFE_INTEGER, instrumentId: 9, localTs: 1_700_000_000_000_200 }),
    ev({ type: MdType.Trade, side: -1, orderId: 0, priceTick: 1000.5, qty: 3, localTs: 1_700_000_000_000_300 }),
    ev({ type: MdType.OrderExec, orderId: -Number.MAX_SAFE_INTEGER, priceTick: 999, qty: 0.25, localTs: 1_700_000_000_000_400 }),
    ev({ type: MdType.LevelSet, side: -1, orderId: 0, priceTick: 1002, qty: 0, localTs: 1_700_000_000_000_500 }),
    ev({ type: MdType.Clear, side: 0, orderId: 0, priceTick: 0, qty: 0, localTs: 1_700_000_000_000_600 }),
  ];
}

async function collectCopies(events: AsyncIterable<MdEvent>): Promise<MdEvent[]> {
  const out: MdEvent[] = [];
  for await (const e of events) out.push({ ...e });
  return out;
}

describe('recorded format: the AMZN day round trip', () => {
  const path = join(tmp, 'amzn.tlrec');
  let original: MdEvent[] = [];
  let instrument: Instrument;

  beforeAll(async () => {
    const lob = openLobster(AMZN);
    instrument = lob.instrument;
    original = [];
    for await (const e of lob.events()) original.push(e);
    // Written straight from the importer's async stream.
    const n = await writeRecorded(path, [lob.instrument], lob.events(), { importer: 'lobster', sources: [{ path: AMZN, sha256: 'abc' }], createdBy: 'test' });
    expect(n).toBe(original.length);
  });

  it('reads back the identical event sequence, fractional ticks and negative synthetic ids included', async () => {
    expect(original.length).toBeGreaterThan(50_000);
    // The data exercises the edge cases the format must keep exact.
    expect(original.some((e) => !Number.isInteger(e.priceTick))).toBe(true);
    expect(original.some((e) => e.orderId < 0)).toBe(true);
    const f = await openRecorded(path);
    expect(f.issues).toEqual([]);
    expect(f.count).toBe(original.length);
    const back = await collectCopies(f.events());
    expect(firstDifference(back, original)).toBeUndefined();
    // A few spot checks through vitest's deep equality as well.
    for (const i of [0, 1, 1000, original.length - 1]) expect(back[i]).toStrictEqual(original[i]);
    const frac = original.findIndex((e) => !Number.isInteger(e.priceTick));
    expect(back[frac]).toStrictEqual(original[frac]);
  });

  it('has the documented header fields at the documented offsets', async () => {
    const f = await openRecorded(path);
    const bytes = readFileSync(path);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('TLREC\0\0\0');
    expect(dv.getUint16(8, true)).toBe(1);
    expect(dv.getUint16(10, true)).toBe(0);
    expect(dv.getUint32(12, true)).toBe(f.header.headerLength);
    expect(f.header.headerLength % 8).toBe(0);
    expect(dv.getUint32(16, true)).toBe(48);
    const jsonLength = dv.getUint32(20, true);
    expect(RECORDED_FIXED_HEADER + jsonLength).toBeLessThanOrEqual(f.header.headerLength);
    expect(f.header.headerLength - (RECORDED_FIXED_HEADER + jsonLength)).toBeLessThan(8);
    expect(Number(dv.getBigUint64(24, true))).toBe(original.length);
    expect(dv.getFloat64(32, true)).toBe(original[0]!.localTs);
    expect(dv.getFloat64(40, true)).toBe(original.at(-1)!.localTs);
    const body = bytes.subarray(f.header.headerLength);
    expect(bytes.subarray(48, 80).toString('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(bytes.subarray(80, 96).every((b) => b === 0)).toBe(true);
    const json = JSON.parse(bytes.subarray(96, 96 + jsonLength).toString('utf8'));
    expect(json.provenance).toEqual({ importer: 'lobster', sources: [{ path: AMZN, sha256: 'abc' }], createdBy: 'test' });

    expect(f.header).toMatchObject({ version: 1, recordSize: 48, count: original.length, firstLocalTs: original[0]!.localTs, lastLocalTs: original.at(-1)!.localTs });
    expect(f.header.bodySha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(f.fileSize).toBe(f.header.headerLength + original.length * RECORD_SIZE);
    expect(statSync(path).size).toBe(f.fileSize);
    expect(f.header.instruments).toEqual([
      { instrumentId: 1, exchange: 'NASDAQ', name: 'nasdaq:equity:amzn', type: 'Equity', tickSize: '0.01', lotSize: '1', minQty: '1', baseCurrency: 'AMZN', quoteCurrency: 'USD', multiplier: 1 },
    ]);
    expect(f.instruments).toHaveLength(1);
    expect(f.instruments[0]).toEqual(instrument);
    expect(f.instruments[0]!.tickSize.toString()).toBe('0.01');
    await expect(f.verify()).resolves.toBeUndefined();
  });

  it('record bytes sit at the documented offsets', async () => {
    const f = await openRecorded(path);
    const bytes = readFileSync(path);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const i = original.findIndex((e) => e.orderId < 0 && e.side === -1);
    const o = f.header.headerLength + i * RECORD_SIZE;
    const e = original[i]!;
    expect(dv.getUint8(o)).toBe(e.type);
    expect(dv.getInt8(o + 1)).toBe(-1);
    expect(dv.getUint8(o + 2)).toBe(e.status);
    expect(dv.getUint8(o + 3)).toBe(0);
    expect(dv.getUint32(o + 4, true)).toBe(e.instrumentId);
    expect(dv.getFloat64(o + 8, true)).toBe(e.exchTs);
    expect(dv.getFloat64(o + 16, true)).toBe(e.localTs);
    expect(dv.getFloat64(o + 24, true)).toBe(e.orderId);
    expect(dv.getFloat64(o + 32, true)).toBe(e.priceTick);
    expect(dv.getFloat64(o + 40, true)).toBe(e.qty);
  });

  it('the iterator reuses one event object: copies are right, retained references are not', async () => {
    const f = await openRecorded(path);
    const seen = new Set<MdEvent>();
    const retained: MdEvent[] = [];
    const copies: MdEvent[] = [];
    for await (const e of f.events()) {
      seen.add(e);
      if (retained.length < 3) {
        retained.push(e);
        copies.push({ ...e });
      }
    }
    expect(seen.size).toBe(1);
    expect(copies).toStrictEqual(original.slice(0, 3));
    // The retained reference holds the last record, not the first three.
    expect(retained[0]).toBe(retained[2]);
    expect({ ...retained[0]! }).toStrictEqual(original.at(-1));
  });

  it('the batch API (views and accessors) and forEach equal the iterator, across chunk boundaries', async () => {
    const f = await openRecorded(path);
    // 1000 records a chunk (the size is rounded down to whole records): many batches.
    const chunkBytes = 1000 * RECORD_SIZE + 17;
    let expectStart = 0;
    let batches = 0;
    let mismatch: string | undefined;
    for await (const b of f.batches({ chunkBytes })) {
      batches++;
      expect(b.start).toBe(expectStart);
      for (let i = 0; i < b.length && mismatch === undefined; i++) {
        const e = original[b.start + i]!;
        const acc = { type: b.type(i), instrumentId: b.instrumentId(i), exchTs: b.exchTs(i), localTs: b.localTs(i), side: b.side(i), orderId: b.orderId(i), priceTick: b.priceTick(i), qty: b.qty(i), status: b.status(i) };
        const views = {
          type: b.u8[i * U8_STRIDE],
          side: b.i8[i * U8_STRIDE + 1],
          status: b.u8[i * U8_STRIDE + 2],
          instrumentId: b.u32[i * U32_STRIDE + U32_INSTRUMENT_ID],
          localTs: b.f64[i * F64_STRIDE + F64_LOCAL_TS],
          orderId: b.f64[i * F64_STRIDE + F64_ORDER_ID],
          priceTick: b.f64[i * F64_STRIDE + F64_PRICE_TICK],
          qty: b.f64[i * F64_STRIDE + F64_QTY],
        };
        mismatch = firstDifference([acc as MdEvent], [e]);
        if (mismatch === undefined) {
          for (const [k, v] of Object.entries(views)) if (!Object.is(v, e[k as keyof MdEvent])) mismatch = `record ${b.start + i} view ${k}`;
        }
      }
      expectStart += b.length;
    }
    expect(mismatch).toBeUndefined();
    expect(expectStart).toBe(original.length);
    expect(batches).toBe(Math.ceil(original.length / 1000));

    const viaForEach: MdEvent[] = [];
    const indices: number[] = [];
    const n = await f.forEach(
      (e, i) => {
        viaForEach.push({ ...e });
        indices.push(i);
      },
      { chunkBytes: 777 * RECORD_SIZE },
    );
    expect(n).toBe(original.length);
    expect(indices[0]).toBe(0);
    expect(indices.at(-1)).toBe(original.length - 1);
    expect(firstDifference(viaForEach, original)).toBeUndefined();
  });

  it('breaking out of a pass closes it; passes are independent and may overlap', async () => {
    const f = await openRecorded(path, { chunkBytes: 100 * RECORD_SIZE });
    let k = 0;
    for await (const e of f.events()) {
      if (++k === 250) {
        expect(e.localTs).toBe(original[249]!.localTs);
        break;
      }
    }
    const a = f.events()[Symbol.asyncIterator]();
    const b = f.events()[Symbol.asyncIterator]();
    const a0 = { ...(await a.next()).value };
    const a1 = { ...(await a.next()).value };
    const b0 = { ...(await b.next()).value };
    expect(a0).toStrictEqual(original[0]);
    expect(a1).toStrictEqual(original[1]);
    expect(b0).toStrictEqual(original[0]);
    await a.return!();
    await b.return!();
    expect(await a.next()).toEqual({ value: undefined, done: true });
  });

  it('makes a MarketSource whose backtest equals the one over the LOBSTER files', async () => {
    const f = await openRecorded(path);
    const src = await toMarketSource(f);
    expect(src.exchange).toBe('NASDAQ');
    expect(src.instruments).toBe(f.instruments);
    expect(src.recorded).toBe(f);
    expect(src.data).toEqual({ path, sha256: await sha256Files([path]), format: RECORDED_FORMAT_NAME });
    const hdr = await toMarketSource(f, 'data/amzn.tlrec', { sha256: 'header' });
    expect(hdr.data).toEqual({
      path: 'data/amzn.tlrec',
      sha256: createHash('sha256').update(readFileSync(path).subarray(0, f.header.headerLength)).digest('hex'),
      format: RECORDED_FORMAT_NAME,
    });

    const config = JSON.parse(readFileSync(DEMO_CONFIG, 'utf8')) as Record<string, unknown>;
    const run = async (source: MarketSource) => {
      const rc = parseRunnerConfig(config);
      const journal = new MemoryJournalSink();
      const r = await runBacktest({ strategy: new DemoStrategy(config), source, logger: silentLogger(), params: rc.params, sim: simOptions(rc.sim), timeZone: rc.timeZone, journal });
      return { r, lines: journal.lines };
    };
    const fromCsv = await run(await openMarketData(AMZN));
    const fromRec = await run(src);
    expect(fromRec.r.ok).toBe(true);
    expect(fromRec.r.summary.fills).toBeGreaterThan(0);
    // Same journal after the header (which names the data file), same summary.
    expect(fromRec.lines.slice(1)).toEqual(fromCsv.lines.slice(1));
    expect(JSON.stringify(fromRec.r.summary)).toBe(JSON.stringify(fromCsv.r.summary));
  });
});

describe('recorded format: writer and small files', () => {
  it('round-trips edge values and two instruments, from a sync iterable', async () => {
    const p = join(tmp, 'small.tlrec');
    const evs = smallEvents();
    expect(await writeRecorded(p, [inst1, inst2], evs, { note: 'x' }, { bufferBytes: 2 * RECORD_SIZE })).toBe(evs.length);
    const f = await openRecorded(p, { chunkBytes: 3 * RECORD_SIZE });
    expect(firstDifference(await collectCopies(f.events()), evs)).toBeUndefined();
    expect(f.instruments.map((i) => [i.instrumentId, i.name, i.minQty.toString(), i.multiplier, i.type])).toEqual([
      [7, 'sim:spot:btc-usdt', '0.001', 1, 'Spot'],
      [9, 'sim:perp:eth-usdt', '0.1', 10, 'Perpetual'],
    ]);
    expect(f.header.provenance).toEqual({ note: 'x' });
    expect(f.header.firstLocalTs).toBe(evs[0]!.localTs);
    expect(f.header.lastLocalTs).toBe(evs.at(-1)!.localTs);
  });

  it('accepts instrument specs as well as instruments', async () => {
    const p = join(tmp, 'spec.tlrec');
    await writeRecorded(p, [{ instrumentId: 7, exchange: 'SIM', name: 'x', tickSize: '0.50', lotSize: '1', baseCurrency: 'A', quoteCurrency: 'B' }], [ev({})]);
    const f = await openRecorded(p);
    expect(f.header.instruments[0]).toEqual({ instrumentId: 7, exchange: 'SIM', name: 'x', type: 'Spot', tickSize: '0.5', lotSize: '1', minQty: '1', baseCurrency: 'A', quoteCurrency: 'B', multiplier: 1 });
  });

  it('writes and reads a file of zero events', async () => {
    const p = join(tmp, 'empty.tlrec');
    expect(await writeRecorded(p, [inst1], [])).toBe(0);
    const f = await openRecorded(p);
    expect(f.issues).toEqual([]);
    expect(f.count).toBe(0);
    expect(f.header).toMatchObject({ count: 0, firstLocalTs: 0, lastLocalTs: 0, bodySha256: createHash('sha256').digest('hex') });
    expect(f.fileSize).toBe(f.header.headerLength);
    expect(await collectCopies(f.events())).toEqual([]);
    let batches = 0;
    for await (const _ of f.batches()) batches++;
    expect(batches).toBe(0);
    expect(await f.forEach(() => undefined)).toBe(0);
    await expect(f.verify()).resolves.toBeUndefined();
    // No instruments at all is a valid file too, but not a backtest source.
    const q = join(tmp, 'none.tlrec');
    await writeRecorded(q, [], []);
    const g = await openRecorded(q);
    expect(g.instruments).toEqual([]);
    await expect(toMarketSource(g)).rejects.toThrow(/no instruments/);
  });

  it('refuses invalid events, deletes the partial file, and refuses bad instrument lists', async () => {
    const p = join(tmp, 'bad.tlrec');
    const cases: Array<[Partial<MdEvent>, RegExp]> = [
      [{ side: 2 as never }, /side 2/],
      [{ type: 256 as never }, /type 256/],
      [{ status: -1 }, /status -1/],
      [{ instrumentId: 8 }, /instrumentId 8 is not one of the file's instruments/],
      [{ qty: Number.NaN }, /finite/],
      [{ localTs: Number.POSITIVE_INFINITY }, /finite/],
    ];
    for (const [bad, re] of cases) {
      await expect(writeRecorded(p, [inst1], [ev({}), ev(bad)])).rejects.toThrow(re);
      expect(existsSync(p)).toBe(false);
    }
    async function* failing(): AsyncIterable<MdEvent> {
      yield ev({});
      throw new Error('source broke');
    }
    await expect(writeRecorded(p, [inst1], failing())).rejects.toThrow('source broke');
    expect(existsSync(p)).toBe(false);
    expect(() => new RecordedWriter(p, [inst1, inst1])).toThrow(/appears twice/);
    const w = new RecordedWriter(p, [inst1]);
    w.write(ev({}));
    expect(w.count).toBe(1);
    expect(w.close()).toBe(1);
    expect(w.close()).toBe(1);
    expect(() => w.write(ev({}))).toThrow(/closed/);
  });

  it('copies fields at once, so a source may reuse its event object', async () => {
    const p = join(tmp, 'reuse.tlrec');
    const shared = ev({});
    function* reusing(): Iterable<MdEvent> {
      for (let i = 0; i < 5; i++) {
        shared.orderId = i + 1;
        shared.localTs = 1000 + i;
        yield shared;
      }
    }
    await writeRecorded(p, [inst1], reusing());
    const back = await collectCopies((await openRecorded(p)).events());
    expect(back.map((e) => [e.orderId, e.localTs])).toEqual([1, 2, 3, 4, 5].map((id, i) => [id, 1000 + i]));
  });
});

describe('recorded format: damaged files', () => {
  let good: Buffer;
  let headerLength: number;
  const goodPath = join(tmp, 'good.tlrec');
  beforeAll(async () => {
    await writeRecorded(goodPath, [inst1, inst2], smallEvents());
    good = readFileSync(goodPath);
    headerLength = (await openRecorded(goodPath)).header.headerLength;
  });
  function variant(name: string, edit: (b: Buffer) => Buffer): string {
    const p = join(tmp, name);
    writeFileSync(p, edit(Buffer.from(good)));
    return p;
  }
  async function formatError(p: string): Promise<RecordedFormatError> {
    const e = await openRecorded(p).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(RecordedFormatError);
    return e as RecordedFormatError;
  }

  it('rejects a bad magic, naming the file and the byte', async () => {
    const p = variant('magic.tlrec', (b) => {
      b[3] = 0x58;
      return b;
    });
    const e = await formatError(p);
    expect(e.file).toBe(p);
    expect(e.offset).toBe(3);
    expect(e.message).toBe(`${p}: bad magic: not a tradeloop recorded file (expected "TLREC\\0\\0\\0") (at byte 3)`);
    const csv = await formatError(AMZN);
    expect(csv.message).toMatch(/bad magic/);
  });

  it('rejects an unknown version, unknown flags and a wrong record size', async () => {
    const v2 = await formatError(variant('v2.tlrec', (b) => (b.writeUInt16LE(2, HEADER_OFFSET.version), b)));
    expect(v2.offset).toBe(8);
    expect(v2.message).toMatch(/unsupported format version 2 \(this reader reads version 1\)/);
    const fl = await formatError(variant('flags.tlrec', (b) => (b.writeUInt16LE(1, HEADER_OFFSET.flags), b)));
    expect(fl.offset).toBe(10);
    const rs = await formatError(variant('rs.tlrec', (b) => (b.writeUInt32LE(40, HEADER_OFFSET.recordSize), b)));
    expect(rs.offset).toBe(16);
    expect(rs.message).toMatch(/record size 40/);
    const hl = await formatError(variant('hl.tlrec', (b) => (b.writeUInt32LE(100, HEADER_OFFSET.headerLength), b)));
    expect(hl.offset).toBe(12);
    const cnt = await formatError(variant('count.tlrec', (b) => (b.writeBigUInt64LE(1n << 60n, HEADER_OFFSET.count), b)));
    expect(cnt.offset).toBe(24);
  });

  it('rejects files truncated inside the header, naming the offset', async () => {
    const short = await formatError(variant('short.tlrec', (b) => b.subarray(0, 50)));
    expect(short.offset).toBe(50);
    expect(short.message).toMatch(/ends inside the fixed header \(50 of 96 bytes\)/);
    const tiny = await formatError(variant('tiny.tlrec', (b) => b.subarray(0, 5)));
    expect(tiny.offset).toBe(5);
    const inJson = await formatError(variant('json-cut.tlrec', (b) => b.subarray(0, 120)));
    expect(inJson.offset).toBe(120);
    expect(inJson.message).toMatch(/truncated: it ends inside the header/);
    const empty = await formatError(variant('zero-bytes.tlrec', (b) => b.subarray(0, 0)));
    expect(empty.offset).toBe(0);
  });

  it('rejects a broken JSON block or instrument list', async () => {
    const broken = await formatError(variant('json.tlrec', (b) => (b.write('#', RECORDED_FIXED_HEADER, 'latin1'), b)));
    expect(broken.offset).toBe(96);
    expect(broken.message).toMatch(/not valid UTF-8 JSON/);
    const p = join(tmp, 'noinst.tlrec');
    const w = new RecordedWriter(p, [inst1]);
    w.close();
    const b = readFileSync(p);
    // Same length JSON without a usable instruments array.
    const json = b.subarray(96, 96 + b.readUInt32LE(20)).toString('utf8').replace('"instruments"', '"instrumentz"');
    b.write(json, 96, 'utf8');
    writeFileSync(p, b);
    expect((await formatError(p)).message).toMatch(/no "instruments" array/);
  });

  it('reports a truncated last record and reads the complete ones; strict mode throws', async () => {
    const cut = headerLength + 3 * RECORD_SIZE + 20;
    const p = variant('cut.tlrec', (b) => b.subarray(0, cut));
    const seen: RecordedIssue[] = [];
    const f = await openRecorded(p, { onIssue: (i) => seen.push(i) });
    expect(f.count).toBe(3);
    expect(f.header.count).toBe(7);
    expect(f.issues).toHaveLength(1);
    expect(seen).toEqual(f.issues);
    expect(f.issues[0]).toMatchObject({ file: p, offset: headerLength + 3 * RECORD_SIZE });
    expect(f.issues[0]!.message).toMatch(/truncated: header says 7 events, the file holds 3 complete records and 20 bytes of record 3/);
    expect(firstDifference(await collectCopies(f.events()), smallEvents().slice(0, 3))).toBeUndefined();
    await expect(f.verify()).rejects.toThrow(/truncated/);
    const strict = await openRecorded(p, { strict: true }).catch((e: unknown) => e as RecordedFormatError);
    expect(strict).toBeInstanceOf(RecordedFormatError);
    expect((strict as RecordedFormatError).offset).toBe(headerLength + 3 * RECORD_SIZE);
  });

  it('reports trailing bytes and an unfinished writer', async () => {
    const extra = await openRecorded(variant('extra.tlrec', (b) => Buffer.concat([b, Buffer.alloc(5)])));
    expect(extra.count).toBe(7);
    expect(extra.issues[0]!.message).toMatch(/5 bytes after the last of the 7 records/);

    const p = join(tmp, 'unfinished.tlrec');
    const w = new RecordedWriter(p, [inst1], {}, { bufferBytes: 2 * RECORD_SIZE });
    for (const e of smallEvents().filter((x) => x.instrumentId === 7)) w.write(e);
    // 6 written, 3 buffers flushed: the file holds 6 complete records, the header no count.
    const f = await openRecorded(p);
    expect(f.header.count).toBeUndefined();
    expect(f.count).toBe(6);
    expect(f.issues[0]).toMatchObject({ offset: 24 });
    expect(f.issues[0]!.message).toMatch(/never finished/);
    expect(await collectCopies(f.events())).toHaveLength(6);
    w.close();
    expect((await openRecorded(p)).issues).toEqual([]);
  });

  it('fails a pass clearly when the file shrinks after opening, and verify() catches a changed record', async () => {
    const p = variant('shrink.tlrec', (b) => b);
    const f = await openRecorded(p);
    truncateSync(p, headerLength + 2 * RECORD_SIZE);
    await expect(collectCopies(f.events())).rejects.toThrow(/file ended early: record 2 is missing .*at byte/);
    const q = variant('flipped.tlrec', (b) => {
      b[headerLength + RECORD_SIZE + 40] ^= 1;
      return b;
    });
    await expect((await openRecorded(q)).verify()).rejects.toThrow(/do not match the header's SHA-256/);
  });

  it('toMarketSource refuses instruments of several exchanges', async () => {
    const p = join(tmp, 'mixed.tlrec');
    const other = makeInstrument({ instrumentId: 3, exchange: 'OTHER', name: 'o', tickSize: '1', lotSize: '1', baseCurrency: 'A', quoteCurrency: 'B' });
    await writeRecorded(p, [inst1, other], []);
    await expect(toMarketSource(await openRecorded(p))).rejects.toThrow(/several exchanges \(SIM, OTHER\)/);
  });
});

describe('formatEventJson', () => {
  const insts = [inst1, inst2];
  it('prints prices and qtys as decimals on the grid, side and type by name', () => {
    const line = formatEventJson(ev({ type: MdType.Trade, side: -1, orderId: 0, priceTick: 1000.5, qty: 3, exchTs: 1_340_285_400_004_241, localTs: 1_340_285_400_004_241 }), insts);
    expect(JSON.parse(line)).toEqual({
      type: 'Trade',
      instrument: 'sim:spot:btc-usdt',
      instrumentId: 7,
      time: '2012-06-21T13:30:00.004241Z',
      exchTs: 1_340_285_400_004_241,
      localTs: 1_340_285_400_004_241,
      side: 'Sell',
      orderId: 0,
      price: '100.05',
      qty: '0.003',
      status: null,
    });
    expect(line).not.toContain('\n');
    const add = JSON.parse(formatEventJson(ev({ instrumentId: 9, orderId: -3, priceTick: 223795, qty: 150 }), new Map(insts.map((i) => [i.instrumentId, i]))));
    expect(add).toMatchObject({ type: 'OrderAdd', instrument: 'sim:perp:eth-usdt', side: 'Buy', orderId: -3, price: '2237.95', qty: '1.5', status: null });
    const st = JSON.parse(formatEventJson(ev({ type: MdType.Status, side: 0, status: MdStatus.Halted }), insts));
    expect(st).toMatchObject({ type: 'Status', side: null, status: 'Halted' });
  });

  it('prints the AMZN mid-point print exactly and falls back to raw numbers for an unknown instrument', async () => {
    const lob = openLobster(AMZN);
    let frac: MdEvent | undefined;
    for await (const e of lob.events()) {
      if (!Number.isInteger(e.priceTick)) {
        frac = e;
        break;
      }
    }
    const j = JSON.parse(formatEventJson(frac!, [lob.instrument]));
    const cents = Math.floor(frac!.priceTick);
    expect(frac!.priceTick - cents).toBe(0.5);
    expect(j.price).toBe(`${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}5`);
    const unknown = JSON.parse(formatEventJson(ev({ instrumentId: 42, priceTick: 12.5, qty: 2 }), insts));
    expect(unknown).toMatchObject({ instrument: null, price: 12.5, qty: 2 });
  });
});
