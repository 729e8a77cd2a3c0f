/**
 * `WriteBehindOrderStore`: the {@link OrderStore} whose writes are durable before SQLite has
 * them. Each write is a record appended to a memory-mapped log ({@link OrderLog}), committed
 * with the group it belongs to, before anything that depends on it leaves the process: the
 * same guarantee as `SqliteOrderStore` with `synchronous = NORMAL` (a killed process loses
 * nothing; with `synchronous: 'FULL'` every commit is also flushed to the disk). A worker
 * thread applies the log to the SQLite file within milliseconds, with the same code
 * `SqliteOrderStore` runs, and after a crash the next open replays what it missed.
 *
 * The gateway's own questions (is this client id taken, what state is this open order in,
 * the strategy's next event number) are answered from memory: the open orders, every
 * order's key, and each strategy's last event number. The other reads (event logs, fills,
 * positions, listings) first wait until the worker has applied every committed write, then
 * read SQLite, so that they always see the store's own writes.
 *
 * One writer per store: a second `open` of the same file, in this process or another, fails
 * with {@link OrderStoreLockedError} while the first is open (its memory would not know the
 * other's orders). The lock is the operating system's, on `<log>.lock`: it goes with the
 * process, however the process ends. `tradeloop orders` and other readers open
 * the SQLite file read-only as before; they see a write once the worker applied it (within
 * `applyIntervalMs`, 10 ms by default).
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { EventCallbackName, StrategyEventMap } from '../api/events.js';
import { isTerminal } from '../core/order-tracker.js';
import type { VenueCancelOrder, VenueModifyOrder } from '../core/venue.js';
import { OrderLog } from './order-log.js';
import {
  ORDER_EVENT_CALLBACKS,
  applyOrderEvent,
  applyOrderRequest,
  checkName,
  checkTs,
  freezeOrder,
  initialOrder,
  orderEventClientId,
  orderEventSkipReason,
  orderKey,
  type InsertOrderResult,
  type ListOrdersQuery,
  type NewOrderRecord,
  type OrderStore,
  type RecordRequestResult,
  type StoredEvent,
  type StoredFill,
  type StoredOrder,
  type StoredPosition,
} from './order-store.js';
import { SqliteOrderStore, sqliteDatabase } from './sqlite-store.js';
import { SHARED, SHARED_BYTES, type ApplierPriority, type OrderLogWorkerData, type OrderLogWorkerMessage } from './write-behind-shared.js';

/** Options of {@link WriteBehindOrderStore.open}. */
export interface WriteBehindOrderStoreOptions {
  /**
   * Durability of a commit. Default `'FULL'`.
   * - `'NORMAL'`: a commit is a copy into the mapped log: it survives the process being
   *   killed, not a power loss (as SQLite's NORMAL).
   * - `'FULL'`: each commit also flushes the log's changed pages (`msync`), and SQLite runs
   *   with FULL too.
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** The log file. Default: the database path with `-orderlog` appended. */
  logPath?: string;
  /** Size of a new log file, bytes (see `OrderLogOptions.sizeBytes`). Default 64 MiB. */
  logSizeBytes?: number;
  /**
   * The longest the worker waits between two batches, ms: SQLite (and `tradeloop orders`)
   * lags the log by at most about this much. Reads through the store never see that lag:
   * they wake the worker and wait for it. Default 10.
   */
  applyIntervalMs?: number;
  /**
   * CPU priority of the worker thread once recovery is done (Linux; elsewhere `normal`).
   * Default `'idle'`: SCHED_IDLE (set with `chrt` from util-linux; nice 19 without it), so
   * that the worker runs on CPU time the gateway's thread does not want and its wake-ups never
   * preempt it. On a machine whose every core is kept busy, SQLite then lags the log further
   * (reads through the store still wait for it); `'low'` (nice 19) or `'normal'` trade some
   * order-path latency for a worker that keeps up under load. See {@link WriteBehindOrderStore.applier}.
   */
  applierPriority?: ApplierPriority;
  /** How long a read or a log restart waits for the worker before it fails, ms. Default 30 000. */
  workerWaitMs?: number;
}

/** What the last open found in the log (see {@link WriteBehindOrderStore.recovery}). */
export interface WriteBehindRecovery {
  /** Records SQLite did not have and got from the log (0 after a clean close). */
  readonly replayed: number;
  /** A damaged record that ended the log early (a torn write after a power loss); undefined when the log was whole. */
  readonly damaged?: string;
}

/** Thrown by {@link WriteBehindOrderStore.open} when another store (this process or another) has the file open write-behind. */
export class OrderStoreLockedError extends Error {
  /** Stable code to branch on. */
  readonly code = 'ORDER_STORE_LOCKED';
}

/**
 * Takes the writer lock of a write-behind store: an exclusive transaction on a small SQLite
 * file beside the log, held by the returned connection until it closes. The lock is the
 * operating system's (`fcntl`), so it goes with the process however the process ends: a
 * SIGKILL leaves no stale lock behind.
 * @throws OrderStoreLockedError when another connection holds it.
 */
function lockWriter(lockPath: string, dbPath: string): BetterSqlite3.Database {
  const Database = sqliteDatabase();
  const db = new Database(lockPath, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw new OrderStoreLockedError(`order store ${dbPath} is already open write-behind (its lock ${lockPath} is held, by this process or another): one writer per store`);
    }
    throw err;
  }
}

/** What {@link inspectOrderLog} found beside an order store. */
export interface OrderLogState {
  /** A write-behind store has the file open now (its lock is held): SQLite lags its log by up to `applyIntervalMs`, and nothing was counted. */
  readonly writerOpen: boolean;
  /** Committed records of the log that SQLite does not have: the last writer stopped without closing the store (0 while a writer is open). */
  readonly pending: number;
  /** A damaged record that ends the log early, as the next open would report it. */
  readonly damaged?: string;
}

/**
 * Looks at the write-behind log of an order store without changing either file: is a writer
 * using it now, and does it hold writes SQLite lacks (which the next
 * {@link WriteBehindOrderStore.open} applies)? What `tradeloop orders` checks.
 * @param path the SQLite file.
 * @param logPath the log (default: `path` with `-orderlog` appended).
 * @returns undefined when there is no log.
 */
export async function inspectOrderLog(path: string, logPath = `${path}-orderlog`): Promise<OrderLogState | undefined> {
  if (!existsSync(logPath)) return undefined;
  let lock: BetterSqlite3.Database;
  try {
    // Held while counting: no writer can start (and replay) meanwhile.
    lock = lockWriter(`${logPath}.lock`, path);
  } catch (err) {
    if (err instanceof OrderStoreLockedError) return { writerOpen: true, pending: 0 };
    throw err;
  }
  try {
    const log = OrderLog.open(logPath, { readonly: true });
    try {
      const scan = log.scan();
      const sqlite = new SqliteOrderStore(path, { readonly: true });
      let applied: number;
      try {
        applied = sqlite.orderLogLsn();
      } finally {
        await sqlite.close();
      }
      let pending = 0;
      for (const r of scan.records) if (r.lsn > applied) pending++;
      return { writerOpen: false, pending, ...(scan.damaged ? { damaged: scan.damaged.message } : {}) };
    } finally {
      log.close();
    }
  } finally {
    lock.close();
  }
}

/** `Atomics.waitAsync` (Node ≥ 16; typed in TypeScript's ES2024 lib only). */
function waitAsync(a: BigInt64Array, index: number, value: bigint, timeoutMs: number): Promise<unknown> {
  const r = (Atomics as unknown as { waitAsync(a: BigInt64Array, i: number, v: bigint, t: number): { async: boolean; value: unknown } }).waitAsync(a, index, value, timeoutMs);
  return r.async ? (r.value as Promise<unknown>) : Promise.resolve(r.value);
}

/** The worker, from the built `.js`, or from source through tsx (tests run the `.ts` files). */
function startWorker(data: OrderLogWorkerData): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const target = new URL('./order-log-worker.ts', self).href;
    const boot = `import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(target)}, ${JSON.stringify(self)}));`;
    return new Worker(boot, { eval: true, workerData: data });
  }
  return new Worker(fileURLToPath(new URL('./order-log-worker.js', self)), { workerData: data });
}

/**
 * The order store with a memory-mapped write-ahead log in front of SQLite. Open it with
 * {@link WriteBehindOrderStore.open}. See the module documentation for the guarantees.
 */
export class WriteBehindOrderStore implements OrderStore {
  /** The SQLite file. */
  readonly path: string;
  /** The log file. */
  readonly logPath: string;
  /** What opening found in the log. */
  readonly recovery: WriteBehindRecovery;
  /** The worker thread: the priority it runs at (what `applierPriority` asked for, or less where the OS did not allow it) and its thread id (Linux). */
  readonly applier: { readonly priority: ApplierPriority; readonly tid?: number };
  private readonly log: OrderLog;
  private readonly worker: Worker;
  private readonly reader: SqliteOrderStore;
  /** The connection holding the writer lock (`<log>.lock`) until close. */
  private readonly lock: BetterSqlite3.Database;
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly waitMs: number;
  /** Open orders by key, frozen; oldest first. */
  private readonly open = new Map<string, StoredOrder>();
  /** Every order's key, open or not. */
  private readonly keys = new Set<string>();
  /** Each strategy's last event number, once known. */
  private readonly seqs = new Map<string, number>();
  /** The next record's number. */
  private lsn: number;
  /** The last committed record's number. */
  private committedLsn: number;
  private group = false;
  private closed = false;
  private restarts = 0;
  /** Reads waiting in {@link caughtUp} (the worker is ref'd meanwhile). */
  private waiting = 0;
  private failure: Error | undefined;
  private readonly exited: Promise<void>;

  private constructor(path: string, logPath: string, log: OrderLog, worker: Worker, shared: SharedArrayBuffer, reader: SqliteOrderStore, lock: BetterSqlite3.Database, appliedLsn: number, recovery: WriteBehindRecovery, waitMs: number, applier: WriteBehindOrderStore['applier']) {
    this.path = path;
    this.logPath = logPath;
    this.log = log;
    this.worker = worker;
    this.reader = reader;
    this.lock = lock;
    this.i32 = new Int32Array(shared);
    this.i64 = new BigInt64Array(shared);
    this.lsn = appliedLsn + 1;
    this.committedLsn = appliedLsn;
    this.recovery = recovery;
    this.applier = applier;
    this.waitMs = waitMs;
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    // A forgotten close() must not keep the process alive: what the worker had not applied
    // is in the log, and the next open applies it.
    worker.unref();
    worker.on('message', (m: OrderLogWorkerMessage) => {
      if (m.type === 'failed') this.failure ??= new Error(`order store ${path}: the log worker stopped: ${m.message}`);
    });
    worker.on('error', (err) => {
      this.failure ??= new Error(`order store ${path}: the log worker crashed: ${err.message}`);
    });
    worker.on('exit', () => {
      if (!this.closed) this.failure ??= new Error(`order store ${path}: the log worker exited`);
    });
  }

  /**
   * Opens (creating when missing) the SQLite file and its log, replays into SQLite what the
   * log holds and SQLite does not, and loads the open orders and the orders' keys.
   * @throws OrderStoreFormatError / OrderLogFormatError for foreign files; the worker's error when recovery fails.
   */
  static async open(path: string, opts: WriteBehindOrderStoreOptions = {}): Promise<WriteBehindOrderStore> {
    if (path === ':memory:' || path === '') throw new TypeError('a write-behind store needs a file (use SqliteOrderStore for :memory:)');
    const synchronous = opts.synchronous ?? 'FULL';
    if (synchronous !== 'FULL' && synchronous !== 'NORMAL') throw new TypeError(`synchronous must be FULL or NORMAL, got ${String(synchronous)}`);
    const waitMs = opts.workerWaitMs ?? 30_000;
    const applyIntervalMs = opts.applyIntervalMs ?? 10;
    const priority = opts.applierPriority ?? 'idle';
    if (priority !== 'idle' && priority !== 'low' && priority !== 'normal') throw new TypeError(`applierPriority must be idle, low or normal, got ${String(priority)}`);
    if (!Number.isInteger(applyIntervalMs) || applyIntervalMs < 1 || applyIntervalMs > 60_000) throw new TypeError(`applyIntervalMs must be an integer from 1 to 60000, got ${String(opts.applyIntervalMs)}`);
    const logPath = opts.logPath ?? `${path}-orderlog`;
    // Before anything reads the log: a second writer must not replay a log the first one is
    // still appending to, nor keep its own memory of the orders.
    const lock = lockWriter(`${logPath}.lock`, path);
    try {
      // The schema first, on this thread: a foreign file fails here with its own error.
      await new SqliteOrderStore(path, { synchronous, backgroundCheckpoint: false }).close();
      const log = OrderLog.open(logPath, { sync: synchronous === 'FULL', ...(opts.logSizeBytes !== undefined ? { sizeBytes: opts.logSizeBytes } : {}) });
      const shared = new SharedArrayBuffer(SHARED_BYTES);
      const i32 = new Int32Array(shared);
      Atomics.store(i32, SHARED.END, 0);
      const data: OrderLogWorkerData = { dbPath: path, logPath, synchronous, shared, applyIntervalMs, priority };
      const worker = startWorker(data);
      let ready: Extract<OrderLogWorkerMessage, { type: 'ready' }>;
      try {
        ready = await new Promise((resolve, reject) => {
          worker.on('message', (m: OrderLogWorkerMessage) => {
            if (m.type === 'ready') resolve(m);
            else if (m.type === 'failed') reject(new Error(`order store ${path}: recovery from ${logPath} failed: ${m.message}`));
          });
          worker.once('error', reject);
          worker.once('exit', () => reject(new Error(`order store ${path}: the log worker exited during recovery`)));
        });
      } catch (err) {
        log.close();
        await worker.terminate();
        throw err;
      }
      // Everything committed is in SQLite now: the log starts over.
      log.restart();
      Atomics.store(i32, SHARED.END, log.committedEnd);
      Atomics.add(i32, SHARED.EPOCH, 1);
      const reader = new SqliteOrderStore(path, { readonly: true });
      const store = new WriteBehindOrderStore(path, logPath, log, worker, shared, reader, lock, ready.appliedLsn, { replayed: ready.replayed, ...(ready.damaged !== undefined ? { damaged: ready.damaged } : {}) }, waitMs, { priority: ready.priority, ...(ready.tid !== undefined ? { tid: ready.tid } : {}) });
      for (const [s, c] of reader.orderKeys()) store.keys.add(orderKey(s, c));
      for (const o of await reader.listOrders({ open: true })) store.open.set(orderKey(o.strategy, o.clientId), freezeOrder(o));
      return store;
    } catch (err) {
      lock.close();
      throw err;
    }
  }

  // ------------------------------------------------------------------ writes

  /** @inheritDoc */
  async insertOrder(order: NewOrderRecord): Promise<InsertOrderResult> {
    this.writable();
    const o = initialOrder(order);
    const k = orderKey(o.strategy, o.clientId);
    if (this.keys.has(k)) return { created: false, order: this.open.get(k) ?? (await this.stored(o.strategy, o.clientId))! };
    // The strategy's last number now, as SQLite stores it with the order (first_seq).
    this.lastSeq(o.strategy);
    // Positional, by hand: names through JSON.stringify; enums, decimal strings and integers
    // were checked by initialOrder and need no escaping. The worker reads it (orderRecord).
    const ex = o.execInstr.length === 0 ? '[]' : JSON.stringify(o.execInstr);
    this.write(`["o",${JSON.stringify(o.strategy)},${JSON.stringify(o.clientId)},${JSON.stringify(o.exchange)},${o.instrumentId},"${o.side}","${o.orderType}","${o.tif}",${ex},"${o.price}","${o.qty}",${o.createdTs}]`);
    this.keys.add(k);
    this.open.set(k, freezeOrder(o));
    return { created: true, order: o };
  }

  /** @inheritDoc */
  async recordEvent<K extends EventCallbackName>(strategy: string, cb: K, ev: StrategyEventMap[K], ts: number, json?: string): Promise<number> {
    return this.event(strategy, cb, ev, ts, true, json);
  }

  /** @inheritDoc */
  async appendEvent<K extends EventCallbackName>(strategy: string, cb: K, ev: StrategyEventMap[K], ts: number, json?: string): Promise<number> {
    return this.event(strategy, cb, ev, ts, false, json);
  }

  /** @inheritDoc */
  async recordRequest(req: VenueModifyOrder | VenueCancelOrder, ts: number): Promise<RecordRequestResult> {
    this.writable();
    checkName(req?.strategy, 'strategy');
    checkName(req?.clientId, 'clientId');
    checkTs(ts);
    if (req.type !== 'ModifyOrder' && req.type !== 'CancelOrder') throw new TypeError(`recordRequest takes a ModifyOrder or CancelOrder, got ${String((req as { type?: unknown }).type)}`);
    const k = orderKey(req.strategy, req.clientId);
    const order = this.open.get(k) ?? (this.keys.has(k) ? await this.stored(req.strategy, req.clientId) : undefined);
    if (order === undefined) return { ok: false, reason: `${req.type} for unknown order '${req.clientId}'`, order: undefined };
    const u = applyOrderRequest(order, req, ts);
    if (!u.ok) return { ok: false, reason: u.reason, order };
    this.write(`["r",${JSON.stringify(req)},${ts}]`);
    this.remember(k, u.order);
    return { ok: true, order: u.order };
  }

  private event(strategy: string, cb: EventCallbackName, ev: unknown, ts: number, apply: boolean, given: string | undefined): number {
    this.writable();
    checkName(strategy, 'strategy');
    checkName(cb, 'cb');
    checkTs(ts);
    const json = ev === undefined ? undefined : (given ?? JSON.stringify(ev));
    const seq = this.lastSeq(strategy) + 1;
    let next: [string, StoredOrder] | undefined;
    // The same decision SqliteOrderStore takes: only an open order can move.
    if (apply && ORDER_EVENT_CALLBACKS.has(cb) && orderEventSkipReason(cb, ev) === undefined) {
      const clientId = orderEventClientId(cb, ev);
      const k = clientId === undefined ? undefined : orderKey(strategy, clientId);
      const order = k === undefined ? undefined : this.open.get(k);
      if (order !== undefined) {
        const u = applyOrderEvent(order, cb, ev as never, ts);
        if (u.ok) next = [k!, u.order];
      }
    }
    this.write(`["e",${JSON.stringify(strategy)},${JSON.stringify(cb)},${ts},${apply ? 1 : 0},${seq}${json === undefined ? '' : `,${json}`}]`);
    this.seqs.set(strategy, seq);
    if (next) this.remember(next[0], next[1]);
    return seq;
  }

  /** Appends one record; commits it at once unless a group is open. */
  private write(payload: string): void {
    if (!this.log.append(this.lsn, payload)) {
      this.drain();
      this.log.restart();
      this.restarts++;
      Atomics.store(this.i32, SHARED.END, this.log.committedEnd);
      Atomics.add(this.i32, SHARED.EPOCH, 1);
      if (!this.log.append(this.lsn, payload)) throw new Error(`order store ${this.path}: a record did not fit in the log after it started over`);
    }
    this.lsn++;
    if (!this.group) this.commitLog();
  }

  private commitLog(): void {
    const end = this.log.commit();
    this.committedLsn = this.lsn - 1;
    Atomics.store(this.i32, SHARED.END, end);
  }

  private remember(k: string, o: StoredOrder): void {
    if (isTerminal(o.status)) this.open.delete(k);
    else this.open.set(k, freezeOrder(o));
  }

  private lastSeq(strategy: string): number {
    let s = this.seqs.get(strategy);
    if (s === undefined) {
      // A strategy this store never wrote for: SQLite's number is final.
      s = this.reader.lastEventSeqSync(strategy);
      this.seqs.set(strategy, s);
    }
    return s;
  }

  /** How often the log started over since open (each waited for SQLite to catch up). */
  get logRestarts(): number {
    return this.restarts;
  }

  // ------------------------------------------------------------------ group commit

  /** True while a group is open. */
  get groupOpen(): boolean {
    return this.group;
  }

  /** Opens a group: the next writes commit together at {@link commitGroup}. No-op when one is open. */
  beginGroup(): void {
    this.writable();
    this.group = true;
  }

  /** Commits the open group (no-op when none): one store into the log's header (and with FULL one `msync`). */
  commitGroup(): void {
    if (!this.group) return;
    this.group = false;
    if (this.failure) throw this.failure;
    this.commitLog();
  }

  // ------------------------------------------------------------------ reads

  /** @inheritDoc */
  async eventsSince(strategy: string, afterSeq: number, limit?: number): Promise<StoredEvent[]> {
    await this.caughtUp();
    return this.reader.eventsSince(strategy, afterSeq, limit);
  }

  /** @inheritDoc */
  async orderEvents(strategy: string, clientId: string): Promise<StoredEvent[]> {
    await this.caughtUp();
    return this.reader.orderEvents(strategy, clientId);
  }

  /** @inheritDoc */
  async lastEventSeq(strategy: string): Promise<number> {
    this.live();
    return this.lastSeq(strategy);
  }

  /** @inheritDoc */
  async getOrder(strategy: string, clientId: string): Promise<StoredOrder | undefined> {
    this.live();
    const k = orderKey(strategy, clientId);
    return this.open.get(k) ?? (this.keys.has(k) ? this.stored(strategy, clientId) : undefined);
  }

  /** @inheritDoc */
  async openOrders(strategy: string, exchange?: string, instrumentId?: number): Promise<StoredOrder[]> {
    this.live();
    const out: StoredOrder[] = [];
    for (const o of this.open.values()) {
      if (o.strategy === strategy && (exchange === undefined || o.exchange === exchange) && (instrumentId === undefined || o.instrumentId === instrumentId)) out.push(o);
    }
    return out;
  }

  /** @inheritDoc */
  async listOrders(query?: ListOrdersQuery): Promise<StoredOrder[]> {
    await this.caughtUp();
    return this.reader.listOrders(query);
  }

  /** @inheritDoc */
  async fills(strategy: string, clientId?: string): Promise<StoredFill[]> {
    await this.caughtUp();
    return this.reader.fills(strategy, clientId);
  }

  /** @inheritDoc */
  async positions(strategy: string): Promise<StoredPosition[]> {
    await this.caughtUp();
    return this.reader.positions(strategy);
  }

  /** A terminal order, from SQLite once the worker has it. */
  private async stored(strategy: string, clientId: string): Promise<StoredOrder | undefined> {
    await this.caughtUp();
    return this.reader.getOrder(strategy, clientId);
  }

  /**
   * Resolves once SQLite has every write made so far (the worker is woken at once).
   * @throws the worker's failure, or a timeout after `workerWaitMs`.
   */
  async caughtUp(): Promise<void> {
    this.live();
    // Reads see the open group's writes, as SqliteOrderStore's do: the group commits here
    // (earlier than asked: never less durable) and goes on.
    if (this.group && this.log.pendingBytes > 0) {
      if (this.failure) throw this.failure;
      this.commitLog();
    }
    const target = BigInt(this.committedLsn);
    if (Atomics.load(this.i64, SHARED.APPLIED) >= target && !this.failure) return;
    const deadline = performance.now() + this.waitMs;
    // A pending Atomics.waitAsync does not keep Node's event loop alive, and the worker is
    // unref'd: a script whose last act is this read would end (exit code 13) mid-wait.
    if (this.waiting++ === 0) this.worker.ref();
    try {
      for (;;) {
        if (this.failure) throw this.failure;
        const applied = Atomics.load(this.i64, SHARED.APPLIED);
        if (applied >= target) return;
        if (Atomics.load(this.i32, SHARED.FAILED) === 1) throw this.failure ?? new Error(`order store ${this.path}: the log worker stopped`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`order store ${this.path}: SQLite did not catch up with the log within ${this.waitMs} ms`);
        this.wake();
        await waitAsync(this.i64, SHARED.APPLIED, applied, Math.min(left, 100));
      }
    } finally {
      if (--this.waiting === 0 && !this.closed) this.worker.unref();
    }
  }

  /** The synchronous wait of a log restart: the event loop stops until the worker applied everything (≈ 1 ms). */
  private drain(): void {
    const target = BigInt(this.committedLsn);
    const deadline = performance.now() + this.waitMs;
    for (;;) {
      if (this.failure) throw this.failure;
      const applied = Atomics.load(this.i64, SHARED.APPLIED);
      if (applied >= target) return;
      if (Atomics.load(this.i32, SHARED.FAILED) === 1) throw new Error(`order store ${this.path}: the log worker stopped; the log is full`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`order store ${this.path}: the log is full and SQLite did not catch up within ${this.waitMs} ms`);
      this.wake();
      Atomics.wait(this.i64, SHARED.APPLIED, applied, Math.min(left, 100));
    }
  }

  private wake(): void {
    Atomics.add(this.i32, SHARED.WAKE, 1);
    Atomics.notify(this.i32, SHARED.WAKE);
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Commits an open group, lets the worker apply everything, stops it (its connection
   * writes the store's floors) and starts the log over. Closing twice is a no-op.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    let failed: unknown;
    try {
      this.commitGroup();
      await this.caughtUp();
    } catch (err) {
      failed = err;
    }
    this.closed = true;
    Atomics.store(this.i32, SHARED.CLOSE, 1);
    this.wake();
    // Unref'd, the worker would let the process end before it exits: this await would never return.
    this.worker.ref();
    await this.exited;
    // Everything is in SQLite: the next open has nothing to replay.
    if (failed === undefined && !this.failure) this.log.restart();
    this.log.close();
    try {
      await this.reader.close();
    } finally {
      this.lock.close();
    }
    this.open.clear();
    this.keys.clear();
    if (failed !== undefined) throw failed;
  }

  private live(): void {
    if (this.closed) throw new Error(`order store ${this.path} is closed`);
  }

  private writable(): void {
    this.live();
    if (this.failure) throw this.failure;
  }
}
