import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CancelCode, Liquidity, OrderType, Price, Qty, RejectCode, Side, TimeInForce } from '../../src/api/index.js';
import { ordersCommand, ordersLimitArg, OrdersUsageError, type OrdersCliOptions } from '../../src/cli/orders-command.js';
import { OrderLog } from '../../src/store/order-log.js';
import { SqliteOrderStore } from '../../src/store/sqlite-store.js';
import { WriteBehindOrderStore } from '../../src/store/write-behind-store.js';
import { ROOT } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-orders-'));
const db = join(dir, 'orders.db');
const T0 = Date.UTC(2024, 0, 2, 14, 30) * 1000; // µs

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function run(o: Partial<OrdersCliOptions>) {
  let out = '';
  const err: string[] = [];
  const code = await ordersCommand({ db, ...o }, (s) => (out += s), (s) => err.push(s));
  return { code, out, err };
}

beforeAll(async () => {
  const s = new SqliteOrderStore(db);
  const base = { exchange: 'SIM', instrumentId: 1, orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [], price: '100.25', qty: '10' };
  await s.insertOrder({ ...base, strategy: 'mm', clientId: 'mm-1', side: Side.Buy, createdTs: T0 + 123 });
  await s.insertOrder({ ...base, strategy: 'mm', clientId: 'mm-2', side: Side.Sell, price: '101', createdTs: T0 + 2_000_000 });
  await s.insertOrder({ ...base, strategy: 'arb', clientId: 'arb-1', side: Side.Buy, qty: '0.5', createdTs: T0 + 3_000_000 });
  await s.insertOrder({ ...base, strategy: 'mm', clientId: 'mm-3', side: Side.Buy, createdTs: T0 + 4_000_000 });
  const ack = (clientId: string, side: Side) => ({ exchange: 'SIM', clientId, exchangeId: `x-${clientId}`, instrumentId: 1, side, price: Price.of('100.25'), qty: Qty.of('10'), leavesQty: Qty.of('10'), orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [] });
  await s.recordEvent('mm', 'onNewOrderAck', ack('mm-1', Side.Buy), T0 + 200);
  await s.recordEvent('mm', 'onOrderExecution', { exchange: 'SIM', clientId: 'mm-1', side: Side.Buy, price: Price.of('100.25'), fillQty: Qty.of('4'), leavesQty: Qty.of('6'), execTs: T0 + 300, recvTs: T0 + 300, instrumentId: 1, fee: Price.of('0.01'), liquidity: Liquidity.Maker }, T0 + 300);
  await s.recordEvent('mm', 'onNewOrderAck', ack('mm-2', Side.Sell), T0 + 2_000_100);
  await s.recordEvent('mm', 'onOrderCancelled', { exchange: 'SIM', clientId: 'mm-2', unsolicited: true, engineTs: 1, recvTs: 1, cancelCode: CancelCode.Requested, cancelReason: 'x' }, T0 + 2_000_200);
  await s.recordEvent('arb', 'onNewOrderReject', { exchange: 'SIM', clientId: 'arb-1', rejectCode: RejectCode.PostOnlyWouldTake, rejectReason: 'x' }, T0 + 3_000_100);
  await s.close();
});

describe('ordersCommand', () => {
  it('prints a table, oldest first, with a count', async () => {
    const r = await run({});
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CREATED \(UTC\)\s+STRATEGY\s+CLIENT ID\s+EXCHANGE\s+INSTR\s+SIDE\s+TYPE\s+TIF\s+PRICE\s+QTY\s+FILLED\s+LEAVES\s+AVG PX\s+STATUS$/);
    expect(lines).toHaveLength(6);
    expect(lines[1]).toMatch(/^2024-01-02T14:30:00\.000123Z\s+mm\s+mm-1\s+SIM\s+1\s+Buy\s+Limit\s+GTC\s+100\.25\s+10\s+4\s+6\s+100\.25\s+PartiallyFilled$/);
    expect(lines[2]).toMatch(/mm-2 .* Cancelled$/);
    expect(lines[3]).toMatch(/arb-1 .*\s+0\.5\s+0\s+0\s+-\s+Rejected$/);
    expect(lines[4]).toMatch(/mm-3 .* PendingNew$/);
    expect(lines[5]).toBe('4 orders');
    // Columns line up: every row is as long as the header (the last column is left-aligned, so compare the status start).
    const at = lines[0]!.indexOf('STATUS');
    for (const l of lines.slice(1, 5)) expect(l.slice(at)).toMatch(/^[A-Z][a-zA-Z]+$/);
  });

  it('filters by strategy, status, open and limit', async () => {
    const ids = async (o: Partial<OrdersCliOptions>) => (await run({ ...o, json: true })).out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).clientId as string);
    expect(await ids({ strategy: 'mm' })).toEqual(['mm-1', 'mm-2', 'mm-3']);
    expect(await ids({ status: 'Rejected' })).toEqual(['arb-1']);
    expect(await ids({ open: true })).toEqual(['mm-1', 'mm-3']);
    expect(await ids({ open: true, status: 'PendingNew' })).toEqual(['mm-3']);
    expect(await ids({ limit: 2 })).toEqual(['arb-1', 'mm-3']);
    expect(await ids({ strategy: 'nobody' })).toEqual([]);
    expect((await run({ strategy: 'nobody' })).out).toBe('no orders\n');
  });

  it('prints JSON lines with every stored field', async () => {
    const r = await run({ json: true, strategy: 'mm', limit: 3 });
    const first = JSON.parse(r.out.split('\n')[0]!);
    expect(first).toMatchObject({ strategy: 'mm', clientId: 'mm-1', status: 'PartiallyFilled', price: '100.25', cumQty: '4', leavesQty: '6', avgFillPrice: '100.25', exchangeId: 'x-mm-1', createdTs: T0 + 123, updatedTs: T0 + 300 });
  });

  it('answers a missing or foreign file with one line and exit code 1, and creates nothing', async () => {
    const missing = join(dir, 'nope.db');
    const r = await run({ db: missing });
    expect(r).toEqual({ code: 1, out: '', err: [`order store not found: ${missing}`] });
    expect(existsSync(missing)).toBe(false);
    const text = join(dir, 'text.db');
    writeFileSync(text, 'hello\n'.repeat(200));
    const t = await run({ db: text });
    expect(t.code).toBe(1);
    expect(t.err[0]).toMatch(/not a SQLite database/);
  });

  it('warns of writes a write-behind log holds and SQLite lacks, applies them with --recover, and leaves a running gateway\'s log alone', async () => {
    const wdb = join(dir, 'wb.db');
    const s = await WriteBehindOrderStore.open(wdb, { synchronous: 'NORMAL' });
    await s.insertOrder({ strategy: 'w', clientId: 'w-1', exchange: 'SIM', instrumentId: 1, side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [], price: '100', qty: '1', createdTs: T0 });
    // While it is open: nothing counted, --recover has nothing to do.
    const live = await run({ db: wdb, recover: true });
    expect(live.code).toBe(0);
    expect(live.err).toEqual([expect.stringMatching(/--recover: a gateway has .* open write-behind and applies its log itself/)]);
    await s.close();
    // What a gateway killed before its worker caught up leaves: two committed records SQLite lacks.
    const log = OrderLog.open(`${wdb}-orderlog`);
    log.append(2, `["o","w","w-2","SIM",1,"Buy","Limit","GTC",[],"101","2",${T0 + 1}]`);
    log.append(3, `["o","w","w-3","SIM",1,"Sell","Limit","GTC",[],"102","3",${T0 + 2}]`);
    log.commit();
    log.close();
    const warned = await run({ db: wdb });
    expect(warned.code).toBe(0);
    expect(warned.out).toMatch(/w-1/);
    expect(warned.out).not.toMatch(/w-2/);
    expect(warned.err).toEqual([`warning: 2 writes of ${wdb}-orderlog are not in SQLite yet (the gateway stopped without closing the store); not listed above. The next gateway start applies them, or run again with --recover`]);
    const recovered = await run({ db: wdb, recover: true });
    expect(recovered.err).toEqual(['applied 2 writes from the write-behind log']);
    expect(recovered.out).toMatch(/w-2[\s\S]*w-3/);
    expect(recovered.out).toMatch(/3 orders/);
    // Applied: nothing left to warn of.
    expect((await run({ db: wdb })).err).toEqual([]);
  });

  it('refuses bad arguments as usage errors', async () => {
    await expect(run({ status: 'Bogus' })).rejects.toThrow(OrdersUsageError);
    await expect(run({ status: 'Filled', open: true })).rejects.toThrow(/--open .* --status Filled/);
    await expect(run({ limit: -1 })).rejects.toThrow(/--limit/);
    expect(() => ordersLimitArg('x')).toThrow(/non-negative integer/);
    expect(() => ordersLimitArg('')).toThrow(/non-negative integer/);
    expect(ordersLimitArg('3')).toBe(3);
  });
});

describe('tradeloop orders (CLI)', () => {
  it('lists, and answers bad arguments with exit 2 and a missing store with exit 1, one line each', () => {
    const ok = cli(['orders', '--db', db, '--strategy', 'mm', '--open']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/mm-1 .* PartiallyFilled\n.*mm-3 .* PendingNew\n2 orders\n$/);

    const cases: Array<[string[], number, RegExp]> = [
      [['orders'], 2, /required option '--db <file>'/],
      [['orders', '--db', db, '--limit', '-1'], 2, /--limit.*non-negative integer/],
      [['orders', '--db', db, '--status', 'Bogus'], 2, /argument 'Bogus' is invalid/],
      [['orders', '--db', db, '--open', '--status', 'Cancelled'], 2, /cannot be combined/],
      [['orders', '--db', join(dir, 'missing.db')], 1, /order store not found/],
    ];
    for (const [args, code, msg] of cases) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(existsSync(join(dir, 'missing.db'))).toBe(false);
  });
});
