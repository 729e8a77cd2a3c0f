import { describe, expect, it } from 'vitest';
import { Dispatcher, type DispatchItem } from '../../src/core/dispatcher.js';

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function make(raiseErrors = false) {
  const errors: Array<{ err: unknown; label: string }> = [];
  const d = new Dispatcher({ raiseErrors, onError: (err, item) => errors.push({ err, label: item.label }) });
  const log: string[] = [];
  const item = (label: string, run: () => unknown = () => undefined, extra: Partial<DispatchItem> = {}): DispatchItem => ({
    label,
    run: () => {
      log.push(label);
      return run();
    },
    ...extra,
  });
  return { d, errors, log, item };
}

describe('Dispatcher', () => {
  it('runs a synchronous item at once when idle, without waiting for a microtask', () => {
    const { d, log, item } = make();
    d.push(item('a'));
    expect(log).toEqual(['a']);
    expect(d.busy).toBe(false);
  });

  it('runs items pushed from inside a callback after it, not nested', () => {
    const { d, log, item } = make();
    d.push(
      item('outer', () => {
        d.push(item('inner'));
        log.push('outer:end');
      }),
    );
    d.push(item('next'));
    expect(log).toEqual(['outer', 'outer:end', 'inner', 'next']);
  });

  it('does not grow the stack with long chains of items pushed from callbacks', () => {
    const { d } = make();
    let n = 0;
    const step = (): DispatchItem => ({
      label: 'step',
      run: () => {
        if (++n < 200_000) d.push(step());
      },
    });
    d.push(step());
    expect(n).toBe(200_000);
  });

  it('an async item holds the queue until it settles; order is kept; idle() resolves only when drained', async () => {
    const { d, log, item } = make();
    const gate = deferred();
    d.push(item('slow', () => gate.promise.then(() => void log.push('slow:end'))));
    d.push(item('b'));
    d.push(item('c', async () => void log.push('c:end')));
    d.push(item('e'));
    let idle = false;
    void d.idle().then(() => (idle = true));
    let idle2 = false;
    void d.idle().then(() => (idle2 = true));
    await flush();
    expect(log).toEqual(['slow']);
    expect(d.busy).toBe(true);
    expect(idle).toBe(false);
    gate.resolve();
    await d.idle();
    expect(log).toEqual(['slow', 'slow:end', 'b', 'c', 'c:end', 'e']);
    expect(idle && idle2).toBe(true);
    expect(d.busy).toBe(false);
  });

  it('idle() resolves at once when nothing runs', async () => {
    const { d } = make();
    let resolved = false;
    void d.idle().then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(true);
  });

  it('calls done with the result, awaited for a promise', async () => {
    const { d, item } = make();
    const results: unknown[] = [];
    d.push(item('sync', () => 1, { done: (r) => results.push(r) }));
    d.push(item('async', async () => 'two', { done: (r) => results.push(r) }));
    d.push(item('none', () => undefined, { done: (r) => results.push(r) }));
    await d.idle();
    expect(results).toEqual([1, 'two', undefined]);
  });

  it('reports a throwing or rejecting callback with its item, skips its done, calls its failed hook and goes on', async () => {
    const { d, errors, log, item } = make();
    const e1 = new Error('sync');
    const e2 = new Error('async');
    const done: string[] = [];
    const failed: unknown[] = [];
    d.push(
      item(
        'throws',
        () => {
          throw e1;
        },
        { done: () => done.push('throws'), failed: (e) => failed.push(e) },
      ),
    );
    d.push(
      item(
        'rejects',
        async () => {
          throw e2;
        },
        { done: () => done.push('rejects'), failed: (e) => failed.push(e) },
      ),
    );
    d.push(item('after', () => undefined, { done: () => done.push('after') }));
    await d.idle();
    expect(log).toEqual(['throws', 'rejects', 'after']);
    expect(errors).toEqual([
      { err: e1, label: 'throws' },
      { err: e2, label: 'rejects' },
    ]);
    expect(failed).toEqual([e1, e2]);
    expect(done).toEqual(['after']);
    expect(d.failed).toBe(false);
    expect(d.failure).toBeUndefined();
  });

  it('reports a throwing done hook as an error of its item', async () => {
    const { d, errors, log, item } = make();
    const e = new Error('done broke');
    d.push(
      item('a', async () => 1, {
        done: () => {
          throw e;
        },
      }),
    );
    d.push(item('b'));
    await d.idle();
    expect(errors).toEqual([{ err: e, label: 'a' }]);
    expect(log).toEqual(['a', 'b']);
  });

  it('with raiseErrors: stops after the first error, drops the queue (telling each dropped item), ignores later pushes', async () => {
    const { d, errors, log, item } = make(true);
    const e = new Error('fatal');
    const dropped: unknown[] = [];
    const gate = deferred();
    d.push(item('first', () => gate.promise));
    d.push(
      item(
        'bad',
        async () => {
          throw e;
        },
        { failed: (x) => dropped.push(['bad', x]) },
      ),
    );
    d.push(item('queued', () => undefined, { failed: (x) => dropped.push(['queued', x]) }));
    gate.resolve();
    await d.idle();
    d.push(item('later'));
    await d.idle();
    expect(log).toEqual(['first', 'bad']);
    expect(errors).toEqual([{ err: e, label: 'bad' }]);
    expect(dropped).toEqual([
      ['bad', e],
      ['queued', e],
    ]);
    expect(d.failed).toBe(true);
    expect(d.failure).toBe(e);
    expect(d.busy).toBe(false);
  });

  it('with raiseErrors: a synchronous throw stops the rest of a synchronous drain', () => {
    const { d, log, item } = make(true);
    d.push(
      item('a', () => {
        d.push(
          item('b', () => {
            throw new Error('x');
          }),
        );
        d.push(item('c'));
      }),
    );
    expect(log).toEqual(['a', 'b']);
    expect(d.failed).toBe(true);
  });

  it('a failing failed-hook does not break dispatch', () => {
    const { d, log, item } = make();
    d.push(
      item(
        'a',
        () => {
          throw new Error('x');
        },
        {
          failed: () => {
            throw new Error('hook');
          },
        },
      ),
    );
    d.push(item('b'));
    expect(log).toEqual(['a', 'b']);
  });
});
