/**
 * `tradeloop orders`: lists the orders of an order store (`docs/store.md`).
 * @module
 */
import { existsSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { OrderStatus } from '../api/enums.js';
import { isTerminal } from '../core/order-tracker.js';
import type { StoredOrder } from '../store/order-store.js';
import { OrderStoreFormatError, SqliteOrderStore } from '../store/sqlite-store.js';
import { inspectOrderLog, WriteBehindOrderStore } from '../store/write-behind-store.js';
import { DataUsageError } from './data-commands.js';

/** Options of `tradeloop orders`, as commander parses them. */
export interface OrdersCliOptions {
  /** Order store file (SQLite). Required; never created. */
  db: string;
  /** Only this strategy's orders. */
  strategy?: string;
  /** Only orders in this status (an `OrderStatus` value). */
  status?: string;
  /** Only orders that are not filled, cancelled or rejected. */
  open?: boolean;
  /** One JSON object per line instead of a table. */
  json?: boolean;
  /** At most this many orders: the newest, listed oldest first. Default all. */
  limit?: number;
  /**
   * First apply what a write-behind log holds and SQLite lacks (after a gateway stopped
   * without closing its store): opens the store for writing. Nothing to do while a gateway
   * has it open (the gateway applies its own log; a note says so). Without it, such writes
   * are only counted, in a warning.
   */
  recover?: boolean;
}

/** A bad argument of `tradeloop orders`: one line, exit code 2 (the CLI treats it as a `DataUsageError`). */
export class OrdersUsageError extends DataUsageError {}

/** The values `--status` accepts. */
export const ORDER_STATUS_CHOICES: readonly string[] = Object.values(OrderStatus);

/** Commander parser of `--limit`: a non-negative integer. */
export function ordersLimitArg(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

/** µs since the epoch as ISO-8601 UTC with microseconds, e.g. `2024-01-02T14:30:00.000123Z`. */
function isoUs(us: number): string {
  const ms = Math.floor(us / 1000);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(us);
  return d.toISOString().replace(/\.(\d{3})Z$/, (_, m: string) => `.${m}${String(us - ms * 1000).padStart(3, '0')}Z`);
}

const COLUMNS: ReadonlyArray<{ title: string; right?: boolean; get: (o: StoredOrder) => string }> = [
  { title: 'CREATED (UTC)', get: (o) => isoUs(o.createdTs) },
  { title: 'STRATEGY', get: (o) => o.strategy },
  { title: 'CLIENT ID', get: (o) => o.clientId },
  { title: 'EXCHANGE', get: (o) => o.exchange },
  { title: 'INSTR', right: true, get: (o) => String(o.instrumentId) },
  { title: 'SIDE', get: (o) => o.side },
  { title: 'TYPE', get: (o) => o.orderType + (o.execInstr.length ? `/${o.execInstr.join('+')}` : '') },
  { title: 'TIF', get: (o) => o.tif },
  { title: 'PRICE', right: true, get: (o) => o.price },
  { title: 'QTY', right: true, get: (o) => o.qty },
  { title: 'FILLED', right: true, get: (o) => o.cumQty },
  { title: 'LEAVES', right: true, get: (o) => o.leavesQty },
  { title: 'AVG PX', right: true, get: (o) => (o.cumQty === '0' ? '-' : o.avgFillPrice) },
  { title: 'STATUS', get: (o) => o.status },
];

/** Formats orders as an aligned text table with a header line. */
export function formatOrdersTable(orders: readonly StoredOrder[]): string {
  const cells = orders.map((o) => COLUMNS.map((c) => c.get(o)));
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((s, i) => (COLUMNS[i]!.right ? s.padStart(widths[i]!) : s.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS.map((c) => c.title)), ...cells.map(line)].join('\n') + '\n';
}

/**
 * Runs `tradeloop orders`: prints the orders of a store as a table (or JSON lines with
 * `json`). Opens the file read-only, so it is safe while a gateway writes to it. When a
 * write-behind log beside it holds writes SQLite lacks and no gateway has it open, warns
 * (stderr) how many, or applies them first with `recover`.
 * @param write receives stdout text.
 * @param fail receives one error line (without newline) for stderr.
 * @returns the exit code: 0, or 1 when the store is missing or unreadable.
 * @throws OrdersUsageError for bad arguments (exit code 2).
 */
export async function ordersCommand(o: OrdersCliOptions, write: (s: string) => void, fail: (s: string) => void): Promise<number> {
  if (typeof o.db !== 'string' || o.db === '') throw new OrdersUsageError('--db <file> is required');
  if (o.status !== undefined && !ORDER_STATUS_CHOICES.includes(o.status)) throw new OrdersUsageError(`--status must be one of ${ORDER_STATUS_CHOICES.join(', ')}, got '${o.status}'`);
  if (o.open && o.status !== undefined && isTerminal(o.status as OrderStatus)) throw new OrdersUsageError(`--open lists live orders only; it cannot be combined with --status ${o.status}`);
  if (o.limit !== undefined && (!Number.isSafeInteger(o.limit) || o.limit < 0)) throw new OrdersUsageError(`--limit must be a non-negative integer, got ${o.limit}`);
  if (o.strategy !== undefined && o.strategy === '') throw new OrdersUsageError('--strategy must not be empty');
  // Never create a store by listing it: a typo in the path must not leave an empty database behind.
  if (!existsSync(o.db)) {
    fail(`order store not found: ${o.db}`);
    return 1;
  }
  // A write-behind log beside the file: writes SQLite may not have yet.
  let pending = 0;
  try {
    const state = await inspectOrderLog(o.db);
    if (o.recover && state?.writerOpen) fail(`--recover: a gateway has ${o.db} open write-behind and applies its log itself; listed as SQLite has it now`);
    if (state !== undefined && !state.writerOpen && state.pending > 0) {
      if (o.recover) {
        const wb = await WriteBehindOrderStore.open(o.db);
        const { replayed, damaged } = wb.recovery;
        await wb.close();
        fail(`applied ${replayed} write${replayed === 1 ? '' : 's'} from the write-behind log${damaged ? ` (it ended early at a damaged record: ${damaged})` : ''}`);
      } else pending = state.pending;
    }
  } catch (err) {
    fail(`cannot read the write-behind log of ${o.db}: ${(err as Error).message}`);
    return 1;
  }
  let store: SqliteOrderStore;
  try {
    store = new SqliteOrderStore(o.db, { readonly: true });
  } catch (err) {
    fail(err instanceof OrderStoreFormatError ? err.message : `cannot open order store ${o.db}: ${(err as Error).message}`);
    return 1;
  }
  try {
    const orders = await store.listOrders({ strategy: o.strategy, status: o.status as OrderStatus | undefined, open: o.open === true, limit: o.limit });
    if (o.json) {
      write(orders.map((x) => JSON.stringify(x) + '\n').join(''));
    } else if (orders.length === 0) {
      write('no orders\n');
    } else {
      write(formatOrdersTable(orders));
      write(`${orders.length} order${orders.length === 1 ? '' : 's'}\n`);
    }
    if (pending > 0) fail(`warning: ${pending} write${pending === 1 ? '' : 's'} of ${o.db}-orderlog ${pending === 1 ? 'is' : 'are'} not in SQLite yet (the gateway stopped without closing the store); not listed above. The next gateway start applies ${pending === 1 ? 'it' : 'them'}, or run again with --recover`);
    return 0;
  } finally {
    await store.close();
  }
}
