/**
 * The thread of `WriteBehindOrderStore` that applies its log to SQLite: it owns the store's
 * only SQLite writer. At start it replays the committed records the file does not have yet
 * (after a crash), then follows the log: it sleeps on the shared memory (woken at once when
 * the gateway waits for it, else every `applyIntervalMs`), applies each run of new records in one
 * transaction with the number of the last one (`meta.order_log_lsn`), and publishes that
 * number. Messages to the owner: `ready`, `failed`, `closed`.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { constants as osConstants, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ExecInstr, OrderType, Side, TimeInForce } from '../api/enums.js';
import type { EventCallbackName } from '../api/events.js';
import type { VenueCancelOrder, VenueModifyOrder } from '../core/venue.js';
import { reviveDecimals } from './journal-reader.js';
import { ORDER_LOG_HEADER_BYTES, OrderLog, OrderLogFormatError } from './order-log.js';
import type { NewOrderRecord } from './order-store.js';
import { SqliteOrderStore } from './sqlite-store.js';
import { SHARED, type ApplierPriority, type OrderLogWorkerData, type OrderLogWorkerMessage } from './write-behind-shared.js';

const data = workerData as OrderLogWorkerData;
const port = parentPort!;
const i32 = new Int32Array(data.shared);
const i64 = new BigInt64Array(data.shared);
/** Records applied in one transaction at most. */
const BATCH = 4096;

/**
 * Lowers this thread's CPU priority as asked, once recovery is done (the owner waits for
 * recovery; it never waits for the steady work below unless it reads, and then its own thread
 * idles). Linux only: `idle` is SCHED_IDLE through `chrt` (util-linux; the thread then runs
 * only on a CPU nothing else wants, and its wake-ups never preempt the gateway's thread),
 * falling back to nice 19 (`low`) without `chrt`.
 * @returns what the thread runs at now, and its thread id (undefined off Linux).
 */
function lowerPriority(want: ApplierPriority): { priority: ApplierPriority; tid?: number } {
  if (want === 'normal' || process.platform !== 'linux') return { priority: 'normal' };
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return { priority: 'normal' };
  }
  if (!Number.isSafeInteger(tid) || tid <= 0) return { priority: 'normal' };
  if (want === 'idle') {
    const r = spawnSync('chrt', ['--idle', '-p', '0', String(tid)], { stdio: 'ignore', timeout: 5_000 });
    if (r.status === 0) return { priority: 'idle', tid };
  }
  try {
    setPriority(tid, osConstants.priority.PRIORITY_LOW);
    return { priority: 'low', tid };
  } catch {
    return { priority: 'normal', tid };
  }
}

function post(m: OrderLogWorkerMessage): void {
  port.postMessage(m);
}

/** A record the owner wrote and SQLite does not agree with: the two copies of the state went apart. */
class DivergedError extends Error {}

async function apply(store: SqliteOrderStore, payload: string): Promise<void> {
  const r = JSON.parse(payload) as [string, ...unknown[]];
  switch (r[0]) {
    case 'o': {
      const [, strategy, clientId, exchange, instrumentId, side, orderType, tif, execInstr, price, qty, createdTs] = r as [string, string, string, string, number, Side, OrderType, TimeInForce, ExecInstr[], string, string, number];
      const rec: NewOrderRecord = { strategy, clientId, exchange, instrumentId, side, orderType, tif, execInstr, price, qty, createdTs };
      await store.insertOrder(rec);
      return;
    }
    case 'e': {
      const [, strategy, cb, ts, apply, seq, ev] = r as [string, string, EventCallbackName, number, number, number, unknown];
      // The event's stored text is JSON.stringify of what was logged (the same bytes), its object revived.
      const json = ev === undefined ? undefined : JSON.stringify(ev);
      const live = ev === undefined ? undefined : reviveDecimals(ev);
      const got = apply === 1 ? await store.recordEvent(strategy, cb, live as never, ts, json) : await store.appendEvent(strategy, cb, live as never, ts, json);
      if (got !== seq) throw new DivergedError(`event ${cb} of ${strategy}: the log says seq ${seq}, SQLite gave ${got}`);
      return;
    }
    case 'r': {
      const u = await store.recordRequest(reviveDecimals(r[1]) as VenueModifyOrder | VenueCancelOrder, r[2] as number);
      if (!u.ok) throw new DivergedError(`request refused by SQLite, accepted by the store: ${u.reason}`);
      return;
    }
    default:
      throw new DivergedError(`unknown record kind ${JSON.stringify(r[0])}`);
  }
}

async function main(): Promise<void> {
  // SQLite's own checkpoint, inside this thread's commits: nothing here waits on them, and a
  // checkpointer thread of its own would only be one more thread competing with the gateway's.
  const store = new SqliteOrderStore(data.dbPath, { synchronous: data.synchronous, backgroundCheckpoint: false });
  let log: OrderLog | undefined;
  try {
    log = OrderLog.open(data.logPath, { readonly: true });
    let applied = store.orderLogLsn();
    // Recovery: what the owner committed before it stopped and SQLite did not get.
    const scan = log.scan();
    let last = applied;
    const todo = scan.records.filter((r) => r.lsn > applied);
    for (let k = 0; k < todo.length; k += BATCH) {
      store.beginGroup();
      for (const r of todo.slice(k, k + BATCH)) {
        await apply(store, r.payload);
        last = r.lsn;
      }
      store.setOrderLogLsn(last);
      store.commitGroup();
    }
    // A loop, not Math.max(...): a full log holds a few hundred thousand records.
    for (const r of scan.records) if (r.lsn > applied) applied = r.lsn;
    const prio = lowerPriority(data.priority);
    post({ type: 'ready', appliedLsn: applied, replayed: todo.length, ...(scan.damaged ? { damaged: scan.damaged.message } : {}), ...prio });
    Atomics.store(i64, SHARED.APPLIED, BigInt(applied));

    let epoch = -1;
    let at = ORDER_LOG_HEADER_BYTES;
    for (;;) {
      const wake = Atomics.load(i32, SHARED.WAKE);
      let e1: number;
      let end: number;
      do {
        e1 = Atomics.load(i32, SHARED.EPOCH);
        end = Atomics.load(i32, SHARED.END);
      } while (e1 !== Atomics.load(i32, SHARED.EPOCH));
      if (e1 !== epoch) {
        epoch = e1;
        at = ORDER_LOG_HEADER_BYTES;
      }
      if (end > at) {
        store.beginGroup();
        let n = 0;
        while (at < end && n < BATCH) {
          const r = log.readAt(at, end);
          if (r instanceof OrderLogFormatError) throw r;
          at = r.next;
          if (r.lsn <= applied) continue; // moved by a restart, or applied in recovery
          if (r.lsn !== applied + 1) throw new DivergedError(`record ${r.lsn} follows ${applied}`);
          await apply(store, r.payload);
          applied = r.lsn;
          n++;
        }
        store.setOrderLogLsn(applied);
        store.commitGroup();
        Atomics.store(i64, SHARED.APPLIED, BigInt(applied));
        Atomics.notify(i64, SHARED.APPLIED);
        if (at < end) continue; // a full batch: the rest at once
      }
      if (Atomics.load(i32, SHARED.CLOSE) === 1) break;
      // Few large batches, not many small ones: woken every millisecond (and at normal
      // priority), this thread slowed the gateway's own (p99 order → ack a median 2.5× the
      // echo's against 2.0×, docs/store.md). A read that waits for SQLite wakes it at once
      // (WAKE changed since it was read above).
      Atomics.wait(i32, SHARED.WAKE, wake, data.applyIntervalMs);
    }
  } catch (err) {
    Atomics.store(i32, SHARED.FAILED, 1);
    Atomics.notify(i64, SHARED.APPLIED);
    post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  } finally {
    log?.close();
    await store.close().catch(() => undefined);
  }
  post({ type: 'closed' });
}

void main();
