/**
 * `SqliteOrderStore`: the {@link OrderStore} on one SQLite file (better-sqlite3, WAL).
 *
 * Every write is one `BEGIN IMMEDIATE` transaction (or a savepoint of an open group, see
 * `beginGroup`), so a second process writing the same file waits (up to `busyTimeoutMs`)
 * instead of interleaving, and event sequence numbers never collide. Decimals are TEXT (exact); events are JSON with decimals as strings.
 * See `docs/store.md` for the schema and the guarantees.
 * @module
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { ExecInstr, Liquidity, OrderStatus, OrderType, Side, TimeInForce } from '../api/enums.js';
import type { EventCallbackName, StrategyEventMap } from '../api/events.js';
import { isTerminal } from '../core/order-tracker.js';
import type { VenueCancelOrder, VenueModifyOrder } from '../core/venue.js';
import { reviveDecimals } from './journal-reader.js';
import {
  OPEN_STATUSES,
  ORDER_EVENT_CALLBACKS,
  applyFillToPosition,
  applyOrderEvent,
  applyOrderRequest,
  checkName,
  checkTs,
  emptyPosition,
  freezeOrder,
  initialOrder,
  orderEventClientId,
  orderEventSkipReason,
  orderKey,
  type EventEffect,
  type InsertOrderResult,
  type ListOrdersQuery,
  type NewFill,
  type NewOrderRecord,
  type OrderStore,
  type OrderUpdate,
  type RecordRequestResult,
  type StoredEvent,
  type StoredFill,
  type StoredOrder,
  type StoredPosition,
} from './order-store.js';

/** Options of {@link SqliteOrderStore}. */
export interface SqliteOrderStoreOptions {
  /**
   * `PRAGMA synchronous`. Default `'FULL'`.
   * - `'FULL'`: every commit fsyncs the WAL before it returns, so a recorded order or fill
   *   survives a power loss or OS crash: what "written before it is acknowledged" needs.
   *   Costs one fsync per write (well under a millisecond on SSDs, more on network disks).
   * - `'NORMAL'`: commits survive a crash of the process but the last ones may be lost on
   *   power loss (the WAL is fsynced only at checkpoints); several times faster. For tests,
   *   simulations and benchmarks where the gateway's own restart is the only failure.
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** Open read-only (listing, inspection): no schema creation, no pragma writes; the file must exist. Default false. */
  readonly?: boolean;
  /** How long a write waits for another connection's write lock, ms. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * Checkpoint the WAL into the database file on a worker thread with its own connection,
   * instead of SQLite's automatic checkpoint inside a commit. A checkpoint copies up to
   * 1 000 pages and syncs the file: done in the commit that crosses the threshold, it made
   * one order in a hundred wait milliseconds for its ack. The worker runs a `PASSIVE`
   * checkpoint every {@link checkpointEveryCommits} commits; writers never wait for it.
   * Default true for a file (ignored for `':memory:'` and read-only stores).
   */
  backgroundCheckpoint?: boolean;
  /** Commits between two background checkpoints. Default 256. */
  checkpointEveryCommits?: number;
  /**
   * WAL frames (pages) at or above which a background checkpoint also makes the WAL start
   * over (a RESTART checkpoint: the writer waits for it, ≈ 1–3 ms). Default
   * {@link WAL_RESTART_FRAMES} (16 000, ≈ 64 MB; once per ≈ 5 000 orders under steady load).
   */
  walRestartFrames?: number;
  /**
   * Open orders kept in memory (with the strategies' last event numbers), so that recording
   * an event does not read the order row back. Checked against `PRAGMA data_version` in each
   * write transaction: a commit by another connection empties the cache. Default 65 536
   * orders; 0 turns it off, and with it the in-memory index of open orders (`openOrders`
   * then scans the orders from `meta.open_floor` on each call).
   */
  cacheOrders?: number;
}

/** The file is not an order store this version can read (foreign database, newer schema, not SQLite). */
export class OrderStoreFormatError extends Error {
  /** Stable code to branch on. */
  readonly code = 'ORDER_STORE_FORMAT';
}

/** Value of `meta.format`: marks a database as a tradeloop order store. */
export const ORDER_STORE_FORMAT = 'tradeloop-order-store';
/**
 * Schema version this code writes (`meta.schema_version`). It reads version 1 too, and a
 * writable open migrates a version-1 file (docs/store.md, "Schema").
 */
export const ORDER_STORE_SCHEMA_VERSION = 2;

// STRICT tables: a decimal can never silently become a REAL, a timestamp never a string.
// Decimals are TEXT so that '0.1' stays '0.1'. Every statement is idempotent (IF NOT EXISTS).
// Every index is one more page written by each commit that touches its table: version 2 keeps
// only the ones a hot path needs (the idempotency key, and fills by event).
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS orders (
  id             INTEGER PRIMARY KEY,        -- insertion order
  strategy       TEXT NOT NULL,
  client_id      TEXT NOT NULL,
  exchange       TEXT NOT NULL,
  instrument_id  INTEGER NOT NULL,
  side           TEXT NOT NULL,
  order_type     TEXT NOT NULL,
  tif            TEXT NOT NULL,
  exec_instr     TEXT NOT NULL,              -- JSON array
  price          TEXT NOT NULL,
  qty            TEXT NOT NULL,
  status         TEXT NOT NULL,
  leaves_qty     TEXT NOT NULL,
  cum_qty        TEXT NOT NULL,
  avg_fill_price TEXT NOT NULL,
  fill_notional  TEXT NOT NULL,
  fills          INTEGER NOT NULL,
  exchange_id    TEXT,
  acked          INTEGER NOT NULL,
  pending_price  TEXT,                       -- modify in flight: both set, else both NULL
  pending_qty    TEXT,
  created_ts     INTEGER NOT NULL,           -- µs since the epoch
  updated_ts     INTEGER NOT NULL,
  first_seq      INTEGER NOT NULL DEFAULT 0, -- the order's events have seq in (first_seq, last_seq]
  last_seq       INTEGER NOT NULL DEFAULT 0,
  UNIQUE (strategy, client_id)               -- the idempotency key
) STRICT;
-- No index on status: only a listing filters on it. Open orders are kept in memory by the
-- writer (one scan from meta.open_floor when first asked for).

CREATE TABLE IF NOT EXISTS fills (
  strategy      TEXT NOT NULL,
  client_id     TEXT NOT NULL,
  fill_seq      INTEGER NOT NULL,            -- 1, 2, … within the order
  event_seq     INTEGER NOT NULL,            -- the onOrderExecution in events
  exchange      TEXT NOT NULL,
  instrument_id INTEGER NOT NULL,
  side          TEXT NOT NULL,
  price         TEXT NOT NULL,
  qty           TEXT NOT NULL,
  fee           TEXT NOT NULL,
  liquidity     TEXT,
  exec_ts       INTEGER,
  recv_ts       INTEGER,
  ts            INTEGER NOT NULL,
  PRIMARY KEY (strategy, client_id, fill_seq),
  FOREIGN KEY (strategy, client_id) REFERENCES orders (strategy, client_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fills_by_event ON fills (strategy, event_seq);

CREATE TABLE IF NOT EXISTS positions (
  strategy        TEXT NOT NULL,
  exchange        TEXT NOT NULL,
  instrument_id   INTEGER NOT NULL,
  position        TEXT NOT NULL,
  avg_entry_price TEXT NOT NULL,
  realized_pnl    TEXT NOT NULL,
  fees            TEXT NOT NULL,
  volume          TEXT NOT NULL,
  notional        TEXT NOT NULL,
  fills           INTEGER NOT NULL,
  updated_ts      INTEGER NOT NULL,
  PRIMARY KEY (strategy, exchange, instrument_id)
) STRICT, WITHOUT ROWID;

-- A floor per strategy: event numbers at or below last_seq are never handed out again, even
-- when the events are pruned one day. The next number is MAX(last_seq, MAX(events.seq)) + 1;
-- the store writes last_seq when it closes (and a pruner before it deletes), not on every event.
CREATE TABLE IF NOT EXISTS event_seq (
  strategy TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS events (
  strategy  TEXT NOT NULL,
  seq       INTEGER NOT NULL,
  ts        INTEGER NOT NULL,
  cb        TEXT NOT NULL,
  client_id TEXT,                            -- the stored order it is about, if any
  ev        TEXT,                            -- JSON; NULL for an event without payload
  effect    TEXT NOT NULL,                   -- applied | refused | none
  note      TEXT,
  PRIMARY KEY (strategy, seq)                -- eventsSince is a range scan of this key
) STRICT, WITHOUT ROWID;
-- No index by order: orderEvents scans the order's own range (first_seq, last_seq] of the key.
`;

/**
 * Version 1 → 2: the two indexes that cost a page per order (open orders, events by order)
 * give way to the seq range on each order, filled in here from the index before it goes.
 * Orders without events get the strategy's last number (their events all come after it).
 */
const MIGRATE_V1_TO_V2 = `
ALTER TABLE orders ADD COLUMN first_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
CREATE TEMP TABLE strategy_last AS
  SELECT strategy, MAX(s) AS last FROM (
    SELECT strategy, MAX(seq) AS s FROM events GROUP BY strategy
    UNION ALL SELECT strategy, last_seq FROM event_seq
  ) GROUP BY strategy;
UPDATE orders SET
  first_seq = COALESCE((SELECT MIN(e.seq) - 1 FROM events e WHERE e.strategy = orders.strategy AND e.client_id = orders.client_id),
                       (SELECT last FROM strategy_last l WHERE l.strategy = orders.strategy), 0),
  last_seq  = COALESCE((SELECT MAX(e.seq) FROM events e WHERE e.strategy = orders.strategy AND e.client_id = orders.client_id),
                       (SELECT last FROM strategy_last l WHERE l.strategy = orders.strategy), 0);
DROP TABLE temp.strategy_last;
DROP INDEX IF EXISTS events_by_order;
DROP INDEX IF EXISTS orders_open;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
`;

interface OrderRow {
  id: number;
  strategy: string;
  client_id: string;
  exchange: string;
  instrument_id: number;
  side: string;
  order_type: string;
  tif: string;
  exec_instr: string;
  price: string;
  qty: string;
  status: string;
  leaves_qty: string;
  cum_qty: string;
  avg_fill_price: string;
  fill_notional: string;
  fills: number;
  exchange_id: string | null;
  acked: number;
  pending_price: string | null;
  pending_qty: string | null;
  created_ts: number;
  updated_ts: number;
  /** Version 2 (absent in a version-1 file). */
  first_seq?: number;
  last_seq?: number;
}

interface FillRow {
  strategy: string;
  client_id: string;
  fill_seq: number;
  event_seq: number;
  exchange: string;
  instrument_id: number;
  side: string;
  price: string;
  qty: string;
  fee: string;
  liquidity: string | null;
  exec_ts: number | null;
  recv_ts: number | null;
  ts: number;
}

interface PositionRow {
  strategy: string;
  exchange: string;
  instrument_id: number;
  position: string;
  avg_entry_price: string;
  realized_pnl: string;
  fees: string;
  volume: string;
  notional: string;
  fills: number;
  updated_ts: number;
}

interface EventRow {
  strategy: string;
  seq: number;
  ts: number;
  cb: string;
  client_id: string | null;
  ev: string | null;
  effect: string;
  note: string | null;
}

function toOrder(r: OrderRow): StoredOrder {
  return {
    strategy: r.strategy,
    clientId: r.client_id,
    exchange: r.exchange,
    instrumentId: r.instrument_id,
    side: r.side as Side,
    orderType: r.order_type as OrderType,
    tif: r.tif as TimeInForce,
    execInstr: JSON.parse(r.exec_instr) as ExecInstr[],
    price: r.price,
    qty: r.qty,
    status: r.status as OrderStatus,
    leavesQty: r.leaves_qty,
    cumQty: r.cum_qty,
    avgFillPrice: r.avg_fill_price,
    fillNotional: r.fill_notional,
    fills: r.fills,
    exchangeId: r.exchange_id ?? undefined,
    acked: r.acked !== 0,
    pendingModify: r.pending_price !== null && r.pending_qty !== null ? { price: r.pending_price, qty: r.pending_qty } : undefined,
    createdTs: r.created_ts,
    updatedTs: r.updated_ts,
  };
}

function toFill(r: FillRow): StoredFill {
  return {
    strategy: r.strategy,
    clientId: r.client_id,
    fillSeq: r.fill_seq,
    eventSeq: r.event_seq,
    exchange: r.exchange,
    instrumentId: r.instrument_id,
    side: r.side as Side,
    price: r.price,
    qty: r.qty,
    fee: r.fee,
    liquidity: (r.liquidity ?? undefined) as Liquidity | undefined,
    execTs: r.exec_ts ?? undefined,
    recvTs: r.recv_ts ?? undefined,
    ts: r.ts,
  };
}

function toPosition(r: PositionRow): StoredPosition {
  return {
    strategy: r.strategy,
    exchange: r.exchange,
    instrumentId: r.instrument_id,
    position: r.position,
    avgEntryPrice: r.avg_entry_price,
    realizedPnl: r.realized_pnl,
    fees: r.fees,
    volume: r.volume,
    notional: r.notional,
    fills: r.fills,
    updatedTs: r.updated_ts,
  };
}

function toEvent(r: EventRow): StoredEvent {
  return {
    seq: r.seq,
    strategy: r.strategy,
    ts: r.ts,
    cb: r.cb as EventCallbackName,
    // JSON has no `undefined`: an event without payload (onFrameworkDisconnected) is stored as NULL.
    ev: r.ev === null ? undefined : reviveDecimals(JSON.parse(r.ev)),
    clientId: r.client_id ?? undefined,
    effect: r.effect as EventEffect,
    note: r.note ?? undefined,
  } as StoredEvent;
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return -1; // SQLite: a negative LIMIT means none
  if (!Number.isSafeInteger(limit) || limit < 0) throw new TypeError(`limit must be a non-negative integer, got ${String(limit)}`);
  return limit;
}

// Loaded on first use, not at import: `tradeloop` is also what strategies import, and they
// should not load a native addon they never use.
const require = createRequire(import.meta.url);
let DatabaseCtor: typeof BetterSqlite3 | undefined;
/**
 * better-sqlite3's `Database` class, loaded on first use (a native addon: importing the
 * module alone must not load it).
 * @internal
 */
export function sqliteDatabase(): typeof BetterSqlite3 {
  return (DatabaseCtor ??= require('better-sqlite3') as typeof BetterSqlite3);
}

const OPEN_IN = OPEN_STATUSES.map((s) => `'${s}'`).join(', ');

/** Columns of `orders` that `insertParams` fills, in its order. */
const ORDER_COLUMNS = [
  'strategy', 'client_id', 'exchange', 'instrument_id', 'side', 'order_type', 'tif', 'exec_instr', 'price', 'qty', 'status', 'leaves_qty', 'cum_qty',
  'avg_fill_price', 'fill_notional', 'fills', 'exchange_id', 'acked', 'pending_price', 'pending_qty', 'created_ts', 'updated_ts', 'first_seq', 'last_seq',
] as const;

/** @param lastSeq the strategy's last event number when the order is stored: its events come after it. */
function insertParams(o: StoredOrder, lastSeq: number): unknown[] {
  return [
    o.strategy, o.clientId, o.exchange, o.instrumentId, o.side, o.orderType, o.tif, JSON.stringify(o.execInstr), o.price, o.qty, o.status, o.leavesQty, o.cumQty,
    o.avgFillPrice, o.fillNotional, o.fills, o.exchangeId ?? null, o.acked ? 1 : 0, o.pendingModify?.price ?? null, o.pendingModify?.qty ?? null, o.createdTs, o.updatedTs,
    lastSeq, lastSeq,
  ];
}

/**
 * Parameters of the `updateOrder` statement, in its order.
 * @param eventSeq the event that moved the order (its new `last_seq`); null for a request.
 */
function updateParams(o: StoredOrder, eventSeq: number | null): unknown[] {
  return [
    o.price, o.qty, o.status, o.leavesQty, o.cumQty, o.avgFillPrice, o.fillNotional, o.fills, o.exchangeId ?? null, o.acked ? 1 : 0,
    o.pendingModify?.price ?? null, o.pendingModify?.qty ?? null, o.updatedTs, eventSeq, o.strategy, o.clientId,
  ];
}

/** Default WAL frames at or above which the checkpointer also makes the WAL start over (`walRestartFrames`). */
export const WAL_RESTART_FRAMES = 16_000;
/** Size the WAL file is cut back to when it starts over, bytes (`journal_size_limit`). */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** How long the checkpointer tries to find the store between two transactions for a RESTART checkpoint, ms (then it tries again at its next request). */
export const WAL_RESTART_WAIT_MS = 20;

// The checkpointer: its own connection on a worker thread, so that the sync of a checkpoint
// never blocks the event loop. CommonJS source, run with `eval`.
//
// A PASSIVE checkpoint alone never lets the WAL start over while the gateway writes steadily:
// SQLite rewinds it only when a writer begins after a checkpoint caught up with every frame,
// and frames keep coming while the checkpoint syncs. The WAL then grows without end (84 MB
// after 5 000 orders, 344 MB after 20 000; the WAL-index grows with it, and so does the
// time to open the store after a crash, which reads the whole WAL). So past
// `walRestartFrames`, right after the PASSIVE pass, it runs a RESTART checkpoint, which
// takes the write lock between two of the writer's transactions (trying for up to
// WAL_RESTART_WAIT_MS), copies the few frames the PASSIVE pass missed, syncs, and lets the
// next write start the WAL over. The writer waits for it (≈ 1–3 ms: two syncs, and SQLite's
// busy handler retries after 1, then 2 ms), hence a high default: once per ≈ 5 000 orders.
// When it finds no gap, it gives up (that pass was PASSIVE) and tries again at its next
// request.
const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true, timeout: workerData.timeoutMs });
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.close(); return; }
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (r && r.log >= workerData.restartFrames) {
      db.pragma('busy_timeout = ' + workerData.restartWaitMs);
      try {
        const x = db.pragma('wal_checkpoint(RESTART)')[0];
        parentPort.postMessage({ restart: x ? x.busy === 0 : false, log: r.log });
      } finally {
        db.pragma('busy_timeout = ' + workerData.timeoutMs);
      }
    }
  } catch (err) { parentPort.postMessage(String(err && err.message || err)); }
});
`;

function startCheckpointer(path: string, timeoutMs: number, restartFrames: number): Worker {
  const w = new Worker(CHECKPOINTER_SOURCE, { eval: true, workerData: { module: require.resolve('better-sqlite3'), path, timeoutMs, restartFrames, restartWaitMs: WAL_RESTART_WAIT_MS } });
  // A forgotten close() must not keep the process alive.
  w.unref();
  return w;
}

/**
 * The order store on SQLite. One instance per connection; several processes may open the
 * same file (WAL: readers never block the writer, writers queue on the lock).
 *
 * Methods return settled promises: the work (and for writes the commit, unless a group is
 * open) is done before the method returns. See {@link OrderStore}.
 */
export class SqliteOrderStore implements OrderStore {
  /** The file (or `':memory:'`). */
  readonly path: string;
  private readonly db: BetterSqlite3.Database;
  private closed = false;
  private readonly st: {
    getOrder: BetterSqlite3.Statement<[string, string], OrderRow>;
    insertOrder: BetterSqlite3.Statement<unknown[]>;
    updateOrder: BetterSqlite3.Statement<unknown[]>;
    touchOrderSeq: BetterSqlite3.Statement<[number, string, string]>;
    openOrders: BetterSqlite3.Statement<[number, string], OrderRow>;
    openIndex: BetterSqlite3.Statement<[number], { strategy: string; client_id: string; id: number }>;
    openFloor: BetterSqlite3.Statement<[], string | undefined>;
    saveOpenFloor: BetterSqlite3.Statement<[string]>;
    maxOrderId: BetterSqlite3.Statement<[], number | null>;
    seqFloor: BetterSqlite3.Statement<[string], number>;
    maxSeq: BetterSqlite3.Statement<[string], number | null>;
    saveSeqFloor: BetterSqlite3.Statement<[string, number]>;
    dataVersion: BetterSqlite3.Statement<[], number>;
    begin: BetterSqlite3.Statement<[]>;
    commit: BetterSqlite3.Statement<[]>;
    rollback: BetterSqlite3.Statement<[]>;
    insertEvent: BetterSqlite3.Statement<unknown[]>;
    eventsSince: BetterSqlite3.Statement<[string, number, number], EventRow>;
    orderEvents: BetterSqlite3.Statement<[string, number, number, string], EventRow>;
    insertFill: BetterSqlite3.Statement<[Record<string, unknown>]>;
    fills: BetterSqlite3.Statement<[string], FillRow>;
    orderFills: BetterSqlite3.Statement<[string, string], FillRow>;
    getPosition: BetterSqlite3.Statement<[string, string, number], PositionRow>;
    upsertPosition: BetterSqlite3.Statement<[Record<string, unknown>]>;
    positions: BetterSqlite3.Statement<[string], PositionRow>;
  };
  private readonly recordTx: (strategy: string, cb: EventCallbackName, ev: unknown, json: string | null, ts: number, apply: boolean) => number;
  private readonly insertTx: (o: StoredOrder) => InsertOrderResult;
  private readonly requestTx: (req: VenueModifyOrder | VenueCancelOrder, ts: number) => RecordRequestResult;

  // The caches. Valid only while `PRAGMA data_version` is what it was after our last commit:
  // a commit by any other connection changes it, and then both are dropped.
  private readonly cacheLimit: number;
  /** Open orders by `strategy \0 clientId`, frozen; oldest first (Map order) for eviction. */
  private readonly orders = new Map<string, StoredOrder>();
  /** Last event number handed out per strategy. */
  private readonly lastSeqs = new Map<string, number>();
  /**
   * Every open order by strategy (clientId → row id, oldest first), or undefined until built:
   * one scan of the orders from `meta.open_floor` on first use, then kept by this store's own
   * writes; dropped with the caches. It replaces an index that cost a page per order.
   */
  private openIdx: Map<string, Map<string, number>> | undefined;
  /** `meta.schema_version` of the file: 1 only for a version-1 file opened read-only. */
  private version = ORDER_STORE_SCHEMA_VERSION;
  private dataVersion = -1;
  private checkpointer: Worker | undefined;
  private setLsnStmt: BetterSqlite3.Statement<[string]> | undefined;
  private readonly checkpointEvery: number;
  private commitsSinceCheckpoint = 0;
  /** WAL frames at which the background checkpoint makes the WAL start over (`SqliteOrderStoreOptions.walRestartFrames`). */
  readonly walRestartFrames: number;
  /** The caches were checked against `data_version` at the start of the open group. */
  private groupChecked = false;
  /** A group is open (beginGroup): each write is a savepoint inside one transaction. */
  private group = false;

  /**
   * Opens (and when writable, creates) a store.
   * @param path database file, or `':memory:'` for a private in-memory store (tests).
   * @param opts see {@link SqliteOrderStoreOptions}.
   * @throws OrderStoreFormatError when the file is not an order store of a readable version.
   */
  constructor(path: string, opts: SqliteOrderStoreOptions = {}) {
    this.path = path;
    const readonly = opts.readonly === true;
    const inMemory = path === ':memory:' || path === '';
    const background = !readonly && !inMemory && opts.backgroundCheckpoint !== false;
    this.checkpointEvery = opts.checkpointEveryCommits ?? 256;
    const restartFrames = opts.walRestartFrames ?? WAL_RESTART_FRAMES;
    if (!Number.isSafeInteger(restartFrames) || restartFrames < 1) throw new TypeError(`walRestartFrames must be an integer ≥ 1, got ${String(opts.walRestartFrames)}`);
    this.walRestartFrames = restartFrames;
    if (!Number.isSafeInteger(this.checkpointEvery) || this.checkpointEvery < 1) throw new TypeError(`checkpointEveryCommits must be an integer ≥ 1, got ${String(opts.checkpointEveryCommits)}`);
    this.cacheLimit = readonly ? 0 : (opts.cacheOrders ?? 65_536);
    if (!Number.isSafeInteger(this.cacheLimit) || this.cacheLimit < 0) throw new TypeError(`cacheOrders must be an integer ≥ 0, got ${String(opts.cacheOrders)}`);
    const Database = sqliteDatabase();
    this.db = new Database(path, { readonly, fileMustExist: readonly, timeout: opts.busyTimeoutMs ?? 5000 });
    try {
      if (!readonly) {
        // WAL: the CLI and other readers see committed rows while the gateway writes, and a
        // commit appends to one file instead of rewriting pages (faster fsync).
        this.db.pragma('journal_mode = WAL');
        const sync = opts.synchronous ?? 'FULL';
        if (sync !== 'FULL' && sync !== 'NORMAL') throw new TypeError(`synchronous must be FULL or NORMAL, got ${String(sync)}`);
        this.db.pragma(`synchronous = ${sync}`);
        // After the WAL starts over, a file a burst made larger is cut back to this (bytes).
        this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
        this.db.pragma('foreign_keys = ON');
        if (background) this.db.pragma('wal_autocheckpoint = 0');
      }
      this.openSchema(readonly);
    } catch (err) {
      this.db.close();
      const e = err as { code?: unknown; message?: string };
      if (e.code === 'SQLITE_NOTADB') throw new OrderStoreFormatError(`${path} is not a SQLite database`);
      throw err;
    }
    const db = this.db;
    const v1 = this.version === 1;
    // Write statements are not prepared read-only: a version-1 file lacks their columns.
    const w = <T extends unknown[]>(sql: string) => (readonly ? (undefined as unknown as BetterSqlite3.Statement<T>) : db.prepare<T>(sql));
    // Positional parameters on the hot statements: binding a 22-key object costs more than the insert.
    this.st = {
      getOrder: db.prepare('SELECT * FROM orders WHERE strategy = ? AND client_id = ?'),
      insertOrder: w(
        `INSERT INTO orders (${ORDER_COLUMNS.join(', ')}) VALUES (${ORDER_COLUMNS.map(() => '?').join(', ')})
         ON CONFLICT (strategy, client_id) DO NOTHING`,
      ),
      updateOrder: w(
        `UPDATE orders SET price = ?, qty = ?, status = ?, leaves_qty = ?, cum_qty = ?, avg_fill_price = ?,
           fill_notional = ?, fills = ?, exchange_id = ?, acked = ?, pending_price = ?, pending_qty = ?, updated_ts = ?,
           last_seq = COALESCE(?, last_seq)
         WHERE strategy = ? AND client_id = ?`,
      ),
      touchOrderSeq: w('UPDATE orders SET last_seq = ? WHERE strategy = ? AND client_id = ?'),
      // Version 1 has the partial index orders_open (same IN list, so the planner uses it).
      openOrders: v1
        ? db.prepare(`SELECT * FROM orders WHERE ? >= 0 AND strategy = ? AND status IN (${OPEN_IN}) ORDER BY id`)
        : db.prepare(`SELECT * FROM orders WHERE id >= ? AND strategy = ? AND status IN (${OPEN_IN}) ORDER BY id`),
      openIndex: db.prepare(`SELECT strategy, client_id, id FROM orders WHERE id >= ? AND status IN (${OPEN_IN}) ORDER BY id`),
      openFloor: db.prepare("SELECT value FROM meta WHERE key = 'open_floor'").pluck() as BetterSqlite3.Statement<[], string | undefined>,
      saveOpenFloor: w("INSERT INTO meta (key, value) VALUES ('open_floor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
      maxOrderId: db.prepare('SELECT MAX(id) FROM orders').pluck() as BetterSqlite3.Statement<[], number | null>,
      seqFloor: db.prepare('SELECT last_seq FROM event_seq WHERE strategy = ?').pluck() as BetterSqlite3.Statement<[string], number>,
      maxSeq: db.prepare('SELECT MAX(seq) FROM events WHERE strategy = ?').pluck() as BetterSqlite3.Statement<[string], number | null>,
      saveSeqFloor: w('INSERT INTO event_seq (strategy, last_seq) VALUES (?, ?) ON CONFLICT (strategy) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)'),
      dataVersion: db.prepare('PRAGMA data_version').pluck() as BetterSqlite3.Statement<[], number>,
      begin: w('BEGIN IMMEDIATE'),
      commit: w('COMMIT'),
      rollback: w('ROLLBACK'),
      insertEvent: w('INSERT INTO events (strategy, seq, ts, cb, client_id, ev, effect, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      eventsSince: db.prepare('SELECT * FROM events WHERE strategy = ? AND seq > ? ORDER BY seq LIMIT ?'),
      // A range of the primary key: the order's own events (version 1: its index events_by_order).
      orderEvents: v1
        ? db.prepare('SELECT * FROM events WHERE strategy = ? AND ? <= ? AND client_id = ? ORDER BY seq')
        : db.prepare('SELECT * FROM events WHERE strategy = ? AND seq > ? AND seq <= ? AND client_id = ? ORDER BY seq'),
      insertFill: w(
        `INSERT INTO fills (strategy, client_id, fill_seq, event_seq, exchange, instrument_id, side, price, qty, fee, liquidity, exec_ts, recv_ts, ts)
         VALUES (@strategy, @client_id, @fill_seq, @event_seq, @exchange, @instrument_id, @side, @price, @qty, @fee, @liquidity, @exec_ts, @recv_ts, @ts)`,
      ),
      fills: db.prepare('SELECT * FROM fills WHERE strategy = ? ORDER BY event_seq'),
      orderFills: db.prepare('SELECT * FROM fills WHERE strategy = ? AND client_id = ? ORDER BY fill_seq'),
      getPosition: db.prepare('SELECT * FROM positions WHERE strategy = ? AND exchange = ? AND instrument_id = ?'),
      upsertPosition: w(
        `INSERT INTO positions (strategy, exchange, instrument_id, position, avg_entry_price, realized_pnl, fees, volume, notional, fills, updated_ts)
         VALUES (@strategy, @exchange, @instrument_id, @position, @avg_entry_price, @realized_pnl, @fees, @volume, @notional, @fills, @updated_ts)
         ON CONFLICT (strategy, exchange, instrument_id) DO UPDATE SET position = excluded.position, avg_entry_price = excluded.avg_entry_price,
           realized_pnl = excluded.realized_pnl, fees = excluded.fees, volume = excluded.volume, notional = excluded.notional, fills = excluded.fills, updated_ts = excluded.updated_ts`,
      ),
      positions: db.prepare('SELECT * FROM positions WHERE strategy = ? ORDER BY exchange, instrument_id'),
    };

    // Each transaction returns what the caches learn; they are updated only after the commit,
    // so a rolled-back transaction leaves them as they were.
    let pendingOrder: StoredOrder | undefined;
    let pendingSeq = 0;
    const record = db.transaction((strategy: string, cb: EventCallbackName, ev: unknown, json: string | null, ts: number, apply: boolean): number => {
      this.validateCaches();
      let effect: EventEffect = 'none';
      let note: string | undefined;
      let clientId = orderEventClientId(cb, ev);
      let update: OrderUpdate | undefined;
      // Whether an order row may hold this event in its seq range (false: known not to exist).
      let stored = true;
      pendingOrder = undefined;
      if (apply && ORDER_EVENT_CALLBACKS.has(cb)) {
        const skip = orderEventSkipReason(cb, ev);
        if (skip !== undefined) {
          note = skip;
          clientId = undefined; // not about the stored order: orderEvents must not re-send it
        } else if (clientId === undefined) {
          effect = 'refused';
          note = `${cb} without a client id`;
        } else {
          const order = this.readOrder(strategy, clientId);
          if (order === undefined) {
            effect = 'refused';
            note = `${cb} for unknown order '${clientId}'`;
            stored = false;
          } else {
            update = applyOrderEvent(order, cb, ev as never, ts);
            effect = update.ok ? 'applied' : 'refused';
            note = update.ok ? undefined : update.reason;
          }
        }
      }
      const seq = this.nextSeq(strategy);
      this.st.insertEvent.run(strategy, seq, ts, cb, clientId ?? null, json, effect, note ?? null);
      if (update?.ok) {
        this.st.updateOrder.run(...updateParams(update.order, seq));
        if (update.fill) this.storeFill(update.fill, seq);
        pendingOrder = update.order;
      } else if (clientId !== undefined && stored) {
        // Refused or only logged, still about the order: orderEvents must find it.
        this.st.touchOrderSeq.run(seq, strategy, clientId);
      }
      pendingSeq = seq;
      return seq;
    });
    this.recordTx = (...a) => {
      const seq = record.immediate(...a);
      this.committed();
      this.lastSeqs.set(a[0], pendingSeq);
      if (pendingOrder) this.remember(pendingOrder);
      return seq;
    };

    let insertedId = 0;
    const insert = db.transaction((o: StoredOrder): InsertOrderResult => {
      this.validateCaches();
      const info = this.st.insertOrder.run(...insertParams(o, this.nextSeq(o.strategy) - 1));
      if (info.changes === 1) {
        insertedId = Number(info.lastInsertRowid);
        return { created: true, order: o };
      }
      return { created: false, order: this.readOrder(o.strategy, o.clientId)! };
    });
    this.insertTx = (o) => {
      const r = insert.immediate(o);
      this.committed();
      if (r.created) this.openAdd(o.strategy, o.clientId, insertedId);
      this.remember(r.order);
      return r;
    };

    const request = db.transaction((req: VenueModifyOrder | VenueCancelOrder, ts: number): RecordRequestResult => {
      this.validateCaches();
      const order = this.readOrder(req.strategy, req.clientId);
      if (order === undefined) return { ok: false, reason: `${req.type} for unknown order '${req.clientId}'`, order: undefined };
      const u = applyOrderRequest(order, req, ts);
      if (!u.ok) return { ok: false, reason: u.reason, order };
      this.st.updateOrder.run(...updateParams(u.order, null));
      return { ok: true, order: u.order };
    });
    this.requestTx = (req, ts) => {
      const r = request.immediate(req, ts);
      if (r.ok) {
        this.committed();
        this.remember(r.order);
      }
      return r;
    };

    if (background) {
      const w = startCheckpointer(path, opts.busyTimeoutMs ?? 5000, restartFrames);
      this.checkpointer = w;
      // Should the worker fail, SQLite checkpoints inside commits again: slower, never unbounded.
      const fallBack = () => {
        if (this.checkpointer !== w) return;
        this.checkpointer = undefined;
        if (!this.closed) this.db.pragma('wal_autocheckpoint = 1000');
      };
      w.on('error', fallBack);
      w.on('exit', fallBack);
    }
  }

  /** Inside a write transaction: drops the caches when another connection committed since our last commit. */
  private validateCaches(): void {
    // Inside a group this connection holds the write lock since beginGroup checked: nobody
    // else can have committed (one PRAGMA a group instead of one a write).
    if (this.cacheLimit === 0 || this.groupChecked) return;
    const v = this.st.dataVersion.get()!;
    if (v !== this.dataVersion) {
      this.dropCaches();
      this.dataVersion = v;
    }
  }

  private dropCaches(): void {
    this.orders.clear();
    this.lastSeqs.clear();
    this.openIdx = undefined;
  }

  /** After each of our writes: counts commits (a write inside a group commits with it). */
  private committed(): void {
    if (this.group) return;
    if (this.checkpointer !== undefined && ++this.commitsSinceCheckpoint >= this.checkpointEvery) {
      this.commitsSinceCheckpoint = 0;
      this.checkpointer.postMessage('checkpoint');
    }
  }

  /** Inside a transaction: the order from the cache, else from its row. */
  private readOrder(strategy: string, clientId: string): StoredOrder | undefined {
    const hit = this.cacheLimit > 0 ? this.orders.get(orderKey(strategy, clientId)) : undefined;
    if (hit !== undefined) return hit;
    const row = this.st.getOrder.get(strategy, clientId);
    return row === undefined ? undefined : toOrder(row);
  }

  /** Caches an order as committed: open ones only (a terminal order is rarely read again). */
  private remember(o: StoredOrder): void {
    if (this.cacheLimit === 0) return;
    const k = orderKey(o.strategy, o.clientId);
    this.orders.delete(k);
    if (isTerminal(o.status)) {
      this.openIdx?.get(o.strategy)?.delete(o.clientId);
      return;
    }
    this.orders.set(k, freezeOrder(o));
    if (this.orders.size > this.cacheLimit) this.orders.delete(this.orders.keys().next().value!);
  }

  private openAdd(strategy: string, clientId: string, id: number): void {
    if (this.openIdx === undefined) return;
    let m = this.openIdx.get(strategy);
    if (m === undefined) this.openIdx.set(strategy, (m = new Map()));
    m.set(clientId, id);
  }

  /** Every open order's row id by strategy (see {@link openIdx}); drops the caches first when another connection committed. */
  private openIndex(): Map<string, Map<string, number>> {
    const v = this.st.dataVersion.get()!;
    if (v !== this.dataVersion) {
      this.dropCaches();
      this.dataVersion = v;
    }
    if (this.openIdx !== undefined) return this.openIdx;
    const idx = new Map<string, Map<string, number>>();
    for (const r of this.st.openIndex.iterate(this.openFloor())) {
      let m = idx.get(r.strategy);
      if (m === undefined) idx.set(r.strategy, (m = new Map()));
      m.set(r.client_id, r.id);
    }
    this.openIdx = idx;
    return idx;
  }

  /** Row id below which every order is terminal (`meta.open_floor`, written at close); 0 when unknown. */
  private openFloor(): number {
    if (this.version === 1) return 0;
    const f = Number(this.st.openFloor.get() ?? 0);
    return Number.isSafeInteger(f) && f > 0 ? f : 0;
  }

  /** Inside a write transaction: the strategy's next event number. */
  private nextSeq(strategy: string): number {
    const last = (this.cacheLimit > 0 ? this.lastSeqs.get(strategy) : undefined) ?? this.lastSeqInDb(strategy);
    return last + 1;
  }

  private lastSeqInDb(strategy: string): number {
    return Math.max(this.st.seqFloor.get(strategy) ?? 0, this.st.maxSeq.get(strategy) ?? 0);
  }

  /** Checks (or, writable and empty, creates) the schema. */
  private openSchema(readonly: boolean): void {
    const check = () => {
      const hasMeta = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
      if (!hasMeta) {
        const other = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' LIMIT 1").get() as { name: string } | undefined;
        if (other !== undefined) throw new OrderStoreFormatError(`${this.path} is not a tradeloop order store (it has tables but no meta table)`);
        if (readonly) throw new OrderStoreFormatError(`${this.path} is not a tradeloop order store (empty database)`);
        this.db.exec(SCHEMA);
        const put = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
        put.run('format', ORDER_STORE_FORMAT);
        put.run('schema_version', String(ORDER_STORE_SCHEMA_VERSION));
        return;
      }
      const meta = new Map((this.db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
      if (meta.get('format') !== ORDER_STORE_FORMAT) throw new OrderStoreFormatError(`${this.path} is not a tradeloop order store (meta.format is ${JSON.stringify(meta.get('format') ?? null)})`);
      const v = Number(meta.get('schema_version'));
      if (v > ORDER_STORE_SCHEMA_VERSION) throw new OrderStoreFormatError(`${this.path} has order store schema version ${v}; this tradeloop reads up to ${ORDER_STORE_SCHEMA_VERSION}: upgrade tradeloop`);
      if (v !== 1 && v !== 2) throw new OrderStoreFormatError(`${this.path} has unknown order store schema version ${JSON.stringify(meta.get('schema_version'))}`);
      if (readonly) {
        this.version = v;
        return;
      }
      // Migrations, one step per version, inside this transaction: all or nothing.
      if (v === 1) this.db.exec(MIGRATE_V1_TO_V2);
      // Early version-1 files have an index on status that cost a page per order change.
      this.db.exec('DROP INDEX IF EXISTS orders_status');
    };
    // Immediate: two processes opening a new file at once must not both create the schema.
    if (readonly) check();
    else this.db.transaction(check).immediate();
  }

  private storeFill(f: NewFill, eventSeq: number): void {
    this.st.insertFill.run({
      strategy: f.strategy,
      client_id: f.clientId,
      fill_seq: f.fillSeq,
      event_seq: eventSeq,
      exchange: f.exchange,
      instrument_id: f.instrumentId,
      side: f.side,
      price: f.price,
      qty: f.qty,
      fee: f.fee,
      liquidity: f.liquidity ?? null,
      exec_ts: f.execTs ?? null,
      recv_ts: f.recvTs ?? null,
      ts: f.ts,
    });
    const row = this.st.getPosition.get(f.strategy, f.exchange, f.instrumentId);
    const p = applyFillToPosition(row ? toPosition(row) : emptyPosition(f.strategy, f.exchange, f.instrumentId, f.ts), f);
    this.st.upsertPosition.run({
      strategy: p.strategy,
      exchange: p.exchange,
      instrument_id: p.instrumentId,
      position: p.position,
      avg_entry_price: p.avgEntryPrice,
      realized_pnl: p.realizedPnl,
      fees: p.fees,
      volume: p.volume,
      notional: p.notional,
      fills: p.fills,
      updated_ts: p.updatedTs,
    });
  }

  private live(): void {
    if (this.closed) throw new Error(`order store ${this.path} is closed`);
  }

  private eventArgs(strategy: string, cb: EventCallbackName, ev: unknown, ts: number, json: string | undefined): string | null {
    this.writable();
    checkName(strategy, 'strategy');
    checkName(cb, 'cb');
    checkTs(ts);
    // Price/Qty serialise through toJSON as exact decimal strings; reviveDecimals reads them back.
    return ev === undefined ? null : (json ?? JSON.stringify(ev));
  }

  /** A write on a read-only store: refused before any statement runs. */
  private writable(): void {
    this.live();
    if (this.db.readonly) throw new Error(`order store ${this.path} is open read-only`);
  }

  /** @inheritDoc */
  async insertOrder(order: NewOrderRecord): Promise<InsertOrderResult> {
    this.writable();
    return this.insertTx(initialOrder(order));
  }

  /** @inheritDoc */
  async recordEvent<K extends EventCallbackName>(strategy: string, cb: K, ev: StrategyEventMap[K], ts: number, json?: string): Promise<number> {
    return this.recordTx(strategy, cb, ev, this.eventArgs(strategy, cb, ev, ts, json), ts, true);
  }

  /** @inheritDoc */
  async appendEvent<K extends EventCallbackName>(strategy: string, cb: K, ev: StrategyEventMap[K], ts: number, json?: string): Promise<number> {
    return this.recordTx(strategy, cb, ev, this.eventArgs(strategy, cb, ev, ts, json), ts, false);
  }

  /**
   * The last record of a write-behind order log applied to this file (`meta.order_log_lsn`);
   * 0 when none.
   * @internal
   */
  orderLogLsn(): number {
    this.live();
    const v = Number((this.db.prepare("SELECT value FROM meta WHERE key = 'order_log_lsn'").pluck().get() as string | undefined) ?? 0);
    return Number.isSafeInteger(v) && v > 0 ? v : 0;
  }

  /**
   * Sets `meta.order_log_lsn`, in the open group when there is one (so that it commits with
   * the writes it counts).
   * @internal
   */
  setOrderLogLsn(lsn: number): void {
    this.writable();
    // Prepared once: the log worker sets it with every batch.
    this.setLsnStmt ??= this.db.prepare("INSERT INTO meta (key, value) VALUES ('order_log_lsn', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    this.setLsnStmt.run(String(lsn));
  }

  /**
   * Every order's (strategy, clientId), oldest first, without reading the rows: what a
   * write-behind store keeps to answer "is this client id taken?" from memory.
   * @internal
   */
  *orderKeys(): IterableIterator<[string, string]> {
    this.live();
    for (const r of this.db.prepare('SELECT strategy, client_id FROM orders ORDER BY id').raw().iterate() as IterableIterator<[string, string]>) yield r;
  }

  /** @inheritDoc */
  async recordRequest(req: VenueModifyOrder | VenueCancelOrder, ts: number): Promise<RecordRequestResult> {
    this.writable();
    checkName(req?.strategy, 'strategy');
    checkName(req?.clientId, 'clientId');
    checkTs(ts);
    if (req.type !== 'ModifyOrder' && req.type !== 'CancelOrder') throw new TypeError(`recordRequest takes a ModifyOrder or CancelOrder, got ${String((req as { type?: unknown }).type)}`);
    return this.requestTx(req, ts);
  }

  /** @inheritDoc */
  async eventsSince(strategy: string, afterSeq: number, limit?: number): Promise<StoredEvent[]> {
    this.live();
    if (!Number.isSafeInteger(afterSeq)) throw new TypeError(`afterSeq must be an integer, got ${String(afterSeq)}`);
    return this.st.eventsSince.all(strategy, afterSeq, checkLimit(limit)).map(toEvent);
  }

  /** @inheritDoc */
  async orderEvents(strategy: string, clientId: string): Promise<StoredEvent[]> {
    this.live();
    const o = this.st.getOrder.get(strategy, clientId);
    if (this.version === 1) return this.st.orderEvents.all(strategy, 0, 0, clientId).map(toEvent);
    if (o === undefined) return [];
    return this.st.orderEvents.all(strategy, o.first_seq!, o.last_seq!, clientId).map(toEvent);
  }

  /** @inheritDoc */
  async lastEventSeq(strategy: string): Promise<number> {
    this.live();
    return this.lastSeqInDb(strategy);
  }

  /**
   * {@link lastEventSeq} without the promise.
   * @internal
   */
  lastEventSeqSync(strategy: string): number {
    this.live();
    return this.lastSeqInDb(strategy);
  }

  /** @inheritDoc */
  async getOrder(strategy: string, clientId: string): Promise<StoredOrder | undefined> {
    this.live();
    const r = this.st.getOrder.get(strategy, clientId);
    return r === undefined ? undefined : toOrder(r);
  }

  /** @inheritDoc */
  async openOrders(strategy: string, exchange?: string, instrumentId?: number): Promise<StoredOrder[]> {
    this.live();
    const wanted = (o: StoredOrder) => (exchange === undefined || o.exchange === exchange) && (instrumentId === undefined || o.instrumentId === instrumentId);
    if (this.cacheLimit === 0 || this.version === 1) return this.st.openOrders.all(this.openFloor(), strategy).map(toOrder).filter(wanted);
    const out: StoredOrder[] = [];
    // Map order is row-id order: the scan was in id order and later inserts have higher ids.
    for (const clientId of this.openIndex().get(strategy)?.keys() ?? []) {
      const o = this.readOrder(strategy, clientId);
      if (o !== undefined && !isTerminal(o.status) && wanted(o)) out.push(o);
    }
    return out;
  }

  /** @inheritDoc */
  async listOrders(query: ListOrdersQuery = {}): Promise<StoredOrder[]> {
    this.live();
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.strategy !== undefined) {
      where.push('strategy = ?');
      args.push(query.strategy);
    }
    if (query.status !== undefined) {
      where.push('status = ?');
      args.push(query.status);
    }
    if (query.open === true) {
      // Below the floor every order is terminal: a gateway's start reads only the recent rows.
      where.push(`id >= ?`, `status IN (${OPEN_IN})`);
      args.push(this.openFloor());
    }
    args.push(checkLimit(query.limit));
    // The newest `limit` rows, then back to oldest first for reading.
    const sql = `SELECT * FROM (SELECT * FROM orders ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?) ORDER BY id`;
    return (this.db.prepare(sql).all(...args) as OrderRow[]).map(toOrder);
  }

  /** @inheritDoc */
  async fills(strategy: string, clientId?: string): Promise<StoredFill[]> {
    this.live();
    return (clientId === undefined ? this.st.fills.all(strategy) : this.st.orderFills.all(strategy, clientId)).map(toFill);
  }

  /** @inheritDoc */
  async positions(strategy: string): Promise<StoredPosition[]> {
    this.live();
    return this.st.positions.all(strategy).map(toPosition);
  }

  /** True while a group is open ({@link beginGroup}). */
  get groupOpen(): boolean {
    return this.group;
  }

  /**
   * Opens a group: the next writes are savepoints of one `BEGIN IMMEDIATE` transaction (a
   * write that fails still undoes only itself) until {@link commitGroup}; see
   * {@link OrderStore.beginGroup}. The write lock is held meanwhile: other writers wait
   * (`busyTimeoutMs`), so commit soon. No-op when a group is open.
   */
  beginGroup(): void {
    this.writable();
    if (this.group) return;
    this.st.begin.run();
    this.group = true;
    this.validateCaches();
    this.groupChecked = true;
  }

  /**
   * Commits the open group (no-op when none). When the commit fails, the group's writes are
   * rolled back, the caches dropped (they held the rolled-back writes) and the error thrown.
   */
  commitGroup(): void {
    if (!this.group) return;
    this.group = false;
    this.groupChecked = false;
    try {
      this.st.commit.run();
    } catch (err) {
      try {
        if (this.db.inTransaction) this.st.rollback.run();
      } catch {
        // The connection may already have rolled back.
      }
      this.dropCaches();
      this.dataVersion = -1;
      throw err;
    }
    this.committed();
  }

  /** @inheritDoc */
  async close(): Promise<void> {
    if (this.closed) return;
    // An open group is committed: close is an orderly end, not a crash. Should that commit
    // fail, the store still closes, and the error is thrown after.
    let failed: { err: unknown } | undefined;
    try {
      this.commitGroup();
    } catch (err) {
      failed = { err };
    }
    this.closed = true;
    const w = this.checkpointer;
    this.checkpointer = undefined;
    if (w !== undefined) {
      // Its connection first: the last one to close checkpoints the WAL and removes it.
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      // Held by nothing else, an unref'd worker would let the process end before it exits:
      // the await below would never return (exit code 13) and the floors never be written.
      w.ref();
      w.postMessage('close');
      await exited;
    }
    if (!this.db.readonly && (this.lastSeqs.size > 0 || this.openIdx !== undefined)) {
      try {
        this.db.transaction(() => {
          for (const [strategy, seq] of this.lastSeqs) this.st.saveSeqFloor.run(strategy, seq);
          this.validateCaches(); // the open orders as another connection left them are not known here
          // Every order below the oldest open one is terminal, and stays so: the next scan starts there.
          if (this.openIdx !== undefined) {
            let floor = (this.st.maxOrderId.get() ?? 0) + 1;
            for (const m of this.openIdx.values()) for (const id of m.values()) floor = Math.min(floor, id);
            this.st.saveOpenFloor.run(String(floor));
          }
        }).immediate();
      } catch {
        // Only floors: the next numbers come from the events themselves, the open orders from a longer scan.
      }
    }
    this.dropCaches();
    this.db.close();
    if (failed) throw failed.err;
  }
}
