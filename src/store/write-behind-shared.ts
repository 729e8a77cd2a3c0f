/**
 * What `WriteBehindOrderStore` and its log worker share: the slots of their shared memory and
 * the worker's messages.
 * @module
 */

/**
 * Slots of the shared memory: Int32 indexes, except `APPLIED` (a BigInt64 index, bytes
 * 32–39). `END`/`EPOCH`: the log's committed end and how often it started over (owner →
 * worker; read as a seqlock: the owner stores `END` before `EPOCH`). `WAKE`: bumped and
 * notified by the owner when it waits for the worker. `CLOSE`: set by the owner to stop the
 * worker after it drained the log. `FAILED`: set by the worker when it stopped on an error.
 * `APPLIED`: the last record the worker committed to SQLite.
 */
export const SHARED = { END: 0, EPOCH: 1, WAKE: 2, CLOSE: 3, FAILED: 4, APPLIED: 4 } as const;
/** Bytes of the shared memory. */
export const SHARED_BYTES = 64;

/**
 * CPU priority of the log worker's thread (Linux; elsewhere it stays `normal`):
 * `idle` SCHED_IDLE, `low` nice 19, `normal` as the gateway's own thread.
 */
export type ApplierPriority = 'idle' | 'low' | 'normal';

/** `workerData` of the log worker. */
export interface OrderLogWorkerData {
  dbPath: string;
  logPath: string;
  synchronous: 'FULL' | 'NORMAL';
  /** The longest the worker sleeps between two batches unless woken, ms. */
  applyIntervalMs: number;
  /** The priority to lower the thread to once recovery is done. */
  priority: ApplierPriority;
  shared: SharedArrayBuffer;
}

/** Messages from the log worker. */
export type OrderLogWorkerMessage =
  /** Recovery done: `appliedLsn` is the last record SQLite has; `replayed` how many it got now; `damaged` a torn record that ended the log early; `priority` what the thread runs at now, `tid` its thread id. */
  | { type: 'ready'; appliedLsn: number; replayed: number; damaged?: string; priority: ApplierPriority; tid?: number }
  /** It stopped: SQLite refused a write, or the log and SQLite disagree. */
  | { type: 'failed'; message: string }
  | { type: 'closed' };
