/**
 * Serialized dispatch: one strategy callback at a time, in arrival order. A callback that
 * returns a promise holds the queue until it settles. Errors are caught, reported with
 * the item that caused them, and dispatch goes on unless `raiseErrors` is set.
 * @module
 */

/** One unit of work for the strategy: a callback invocation. */
export interface DispatchItem {
  /** Readable name for logs and errors, e.g. `'onNewOrderAck'` or `'timer#3'`. */
  readonly label: string;
  /** Runs the callback; may return a promise. */
  run(): unknown;
  /** Called with the callback's (awaited) result when it succeeded. */
  done?(result: unknown): void;
  /** The event object, for error reports. */
  readonly ev?: unknown;
  /**
   * Called when the callback threw or rejected (after `onError`), or when the item is
   * dropped because dispatch stopped (`raiseErrors`), so that a caller waiting for `done`
   * (a command reply) is not left hanging.
   */
  failed?(err: unknown): void;
}

/** Options of a `Dispatcher`. */
export interface DispatcherOptions {
  /** Called for each callback that threw or rejected. */
  onError(err: unknown, item: DispatchItem): void;
  /** Stop dispatching after the first error (default false). */
  raiseErrors?: boolean;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

function notifyFailed(item: DispatchItem, err: unknown): void {
  try {
    item.failed?.(err);
  } catch {
    /* a failure hook must not break dispatch */
  }
}

/** Runs items one at a time; synchronous callbacks run without touching the microtask queue. */
export class Dispatcher {
  private q: DispatchItem[] = [];
  private head = 0;
  private running = false;
  private waiters: Array<() => void> = [];
  private _failed: unknown = undefined;
  private _hasFailed = false;

  constructor(private readonly opts: DispatcherOptions) {}

  /** True while a callback runs or items wait. */
  get busy(): boolean {
    return this.running;
  }
  /** True once a callback failed with `raiseErrors` set; nothing is dispatched after that. */
  get failed(): boolean {
    return this._hasFailed;
  }
  /** The error that stopped dispatch, if any. */
  get failure(): unknown {
    return this._failed;
  }

  /** Queues an item; runs it at once when nothing else is running. */
  push(item: DispatchItem): void {
    if (this._hasFailed) return;
    if (this.running) {
      this.q.push(item);
      return;
    }
    // Nothing queued: run it straight away (the replay hot path), no queue round trip.
    this.running = true;
    if (this.runOne(item)) this.drain();
  }

  /** Resolves when the queue is empty and no callback runs. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private fail(err: unknown, item: DispatchItem): void {
    this.opts.onError(err, item);
    notifyFailed(item, err);
    if (this.opts.raiseErrors && !this._hasFailed) {
      this._hasFailed = true;
      this._failed = err;
      const dropped = this.q.slice(this.head);
      this.q.length = 0;
      this.head = 0;
      for (const d of dropped) notifyFailed(d, err);
    }
  }

  /** Runs one item; false when it returned a promise (dispatch resumes when it settles). */
  private runOne(item: DispatchItem): boolean {
    let r: unknown;
    try {
      r = item.run();
    } catch (err) {
      this.fail(err, item);
      return true;
    }
    if (isThenable(r)) {
      r.then(
        (v) => {
          try {
            item.done?.(v);
          } catch (err) {
            this.fail(err, item);
          }
          this.drain();
        },
        (err) => {
          this.fail(err, item);
          this.drain();
        },
      );
      return false;
    }
    try {
      item.done?.(r);
    } catch (err) {
      this.fail(err, item);
    }
    return true;
  }

  private drain(): void {
    this.running = true;
    while (this.head < this.q.length && !this._hasFailed) {
      if (!this.runOne(this.q[this.head++]!)) return;
    }
    if (this.q.length !== 0) this.q.length = 0;
    this.head = 0;
    this.running = false;
    // Most drains have nobody waiting: no new array per callback.
    if (this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}
