import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ORDER_LOG_HEADER_BYTES, OrderLog, OrderLogFormatError, OrderLogFullError } from '../../src/store/order-log.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-olog-'));
let n = 0;
const tmp = () => join(dir, `l${++n}.log`);

describe('OrderLog', () => {
  it('creates a file of the given size, full of zeros but the header, and an empty log', () => {
    const p = tmp();
    const log = OrderLog.open(p, { sizeBytes: 16_384 });
    expect(statSync(p).size).toBe(16_384);
    expect(log.committedEnd).toBe(ORDER_LOG_HEADER_BYTES);
    expect(log.scan()).toEqual({ records: [], end: ORDER_LOG_HEADER_BYTES });
    const bytes = readFileSync(p);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('TLOG');
    expect(bytes.subarray(ORDER_LOG_HEADER_BYTES).every((b) => b === 0)).toBe(true);
    log.close();
  });

  it('shows a reader only committed records, in order, with their numbers; a reopened log keeps them', () => {
    const p = tmp();
    const w = OrderLog.open(p, { sizeBytes: 16_384 });
    const r = OrderLog.open(p, { readonly: true });
    expect(w.append(1, '["a"]')).toBe(true);
    expect(w.append(2, '["b","é"]')).toBe(true);
    expect(r.scan().records).toEqual([]);
    expect(w.pendingBytes).toBeGreaterThan(0);
    w.commit();
    expect(r.scan().records.map((x) => [x.lsn, x.payload])).toEqual([
      [1, '["a"]'],
      [2, '["b","é"]'],
    ]);
    w.append(3, '["c"]'); // never committed
    w.close();
    const again = OrderLog.open(p);
    expect(again.scan().records.map((x) => x.lsn)).toEqual([1, 2]);
    again.close();
    r.close();
  });

  it('refuses a record that does not fit (false), and one larger than the file (OrderLogFullError)', () => {
    const w = OrderLog.open(tmp(), { sizeBytes: 16_384 });
    const big = 'x'.repeat(4000);
    let lsn = 0;
    while (w.append(++lsn, big)) w.commit();
    expect(lsn).toBe(5); // 4 records of 4 016 bytes fit after the header
    expect(() => w.append(99, 'y'.repeat(20_000))).toThrow(OrderLogFullError);
    w.close();
  });

  it('starts over: the committed end goes back first, records not yet committed move to the front', () => {
    const p = tmp();
    const w = OrderLog.open(p, { sizeBytes: 16_384 });
    w.append(1, '"one"');
    w.commit();
    w.append(2, '"two"'); // a group in progress
    w.restart();
    const r = OrderLog.open(p, { readonly: true });
    expect(r.scan().records).toEqual([]);
    w.commit();
    expect(r.scan().records.map((x) => [x.lsn, x.payload, x.offset])).toEqual([[2, '"two"', ORDER_LOG_HEADER_BYTES]]);
    r.close();
    w.close();
  });

  it('stops at a damaged record and says where: the records before it are all there is', () => {
    const p = tmp();
    const w = OrderLog.open(p, { sizeBytes: 16_384 });
    w.append(1, '"first"');
    w.append(2, '"second"');
    w.commit();
    const second = w.scan().records[1]!.offset;
    w.close();
    const bytes = readFileSync(p);
    bytes[second + 17] ^= 0xff; // a byte of the second payload
    writeFileSync(p, bytes);
    const r = OrderLog.open(p, { readonly: true });
    const scan = r.scan();
    expect(scan.records.map((x) => x.lsn)).toEqual([1]);
    expect(scan.damaged).toBeInstanceOf(OrderLogFormatError);
    expect(scan.damaged!.offset).toBe(second);
    expect(scan.damaged!.message).toContain(`at byte ${second}: record checksum mismatch`);
    r.close();
  });

  it('refuses a file that is not an order log, and sizes it cannot use', () => {
    const p = tmp();
    writeFileSync(p, Buffer.alloc(16_384, 1));
    expect(() => OrderLog.open(p)).toThrow(/not a tradeloop order log \(bad magic\)/);
    const short = tmp();
    writeFileSync(short, 'hello');
    const e = (() => {
      try {
        OrderLog.open(short);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(OrderLogFormatError);
    expect((e as OrderLogFormatError).code).toBe('ORDER_LOG_FORMAT');
    for (const sizeBytes of [0, 4096, 16_385, 1.5]) expect(() => OrderLog.open(tmp(), { sizeBytes })).toThrow(TypeError);
  });
});
