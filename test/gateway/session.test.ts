/**
 * A gateway session over a fake socket: frame numbering, md splitting, md frames of a batch
 * shared by several sessions (byte for byte what `serializeFrame` makes of each session's
 * rows), and the slow-consumer rule (md paused with Disconnected while the socket does not
 * drain, then a snapshot instead of the batch), which a real loopback socket cannot provoke
 * reliably.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { SimClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { MdStatus, MdType, type MdEvent } from '../../src/data/events.js';
import { ProtocolError, encodeMd, eventBody } from '../../src/gateway/codec.js';
import { DEFAULT_LIMITS, ProtocolErrorCode, VENUE_CALLBACKS, gatewayFastPaths, serializeFrame, type ClientMessage } from '../../src/gateway/protocol.js';
import { EVENT_EXAMPLES } from './fixtures.js';
import { GatewaySession, MdBatch } from '../../src/gateway/session.js';

class FakeSocket extends EventEmitter {
  readyState = 1; // OPEN
  bufferedAmount = 0;
  sent: Array<Record<string, unknown>> = [];
  texts: string[] = [];
  closedWith: [number, string] | undefined;
  send(text: string): void {
    this.texts.push(text);
    this.sent.push(JSON.parse(text) as Record<string, unknown>);
  }
  close(code: number, reason: string): void {
    this.closedWith = [code, reason];
    this.readyState = 3;
  }
  terminate(): void {
    this.readyState = 3;
  }
}

function add(id: number, orderId: number, tick: number): MdEvent {
  return { type: MdType.OrderAdd, instrumentId: id, exchTs: 1, localTs: 1, side: 1, orderId, priceTick: tick, qty: 5, status: 0 };
}

/** What the per-session path sent for these events: the rows of `ids` (all when undefined), `n` per frame, from `seq`. */
function oldFrames(exchange: string, events: readonly MdEvent[], ids: readonly number[] | undefined, n: number, seq: number): string[] {
  const rows = encodeMd(events).filter((r) => ids === undefined || ids.includes(r[1]));
  const out: string[] = [];
  for (let i = 0; i < rows.length; i += n) out.push(serializeFrame({ type: 'md', exchange, events: rows.slice(i, i + n) }, seq + out.length));
  return out;
}

/** Deterministic pseudo-random numbers in [0, 1) (a 32-bit LCG). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32;
}

/** Events over instruments 1..`instruments` with number forms JSON has to agree on (floats, exponents, -0). */
function mixedEvents(count: number, instruments: number, rnd: () => number = lcg(1)): MdEvent[] {
  const odd = [0, -0, 2.5, 0.1 + 0.2, 1e21, 1e-7, 123_456_789];
  return Array.from({ length: count }, (_, i) => ({
    ...add(1 + Math.floor(rnd() * instruments), 1000 + i, odd[i % odd.length]!),
    qty: odd[(i + 3) % odd.length]!,
    exchTs: 1_718_000_000_000_000 + i,
    side: (i % 2 ? 1 : -1) as MdEvent['side'],
  }));
}

/** The raw socket under a FakeSocket: what reached it while corked, and the writes it made of them. */
class FakeRawSocket {
  corked = 0;
  /** One entry per write to the wire: the frames it carried. */
  writes: string[][] = [];
  private pending: string[] = [];
  constructor(ws: FakeSocket, log: string[]) {
    const send = ws.send.bind(ws);
    ws.send = (text: string) => {
      log.push(`send ${(JSON.parse(text) as { seq: number }).seq}`);
      send(text);
      this.pending.push(text);
      if (this.corked === 0) this.flush();
    };
  }
  cork(): void {
    this.corked++;
  }
  uncork(): void {
    if (this.corked > 0 && --this.corked === 0) this.flush();
  }
  private flush(): void {
    if (this.pending.length > 0) this.writes.push(this.pending);
    this.pending = [];
  }
}

function setup(rowsPerFrame = 3, held?: { beforeSend: () => void; log: string[] }) {
  const ws = new FakeSocket();
  const messages: ClientMessage[] = [];
  const clock = new SimClock(1_000_000);
  const socket = held ? new FakeRawSocket(ws, held.log) : undefined;
  const s = new GatewaySession('t-1', ws as unknown as WebSocket, 'test', {
    clock,
    limits: DEFAULT_LIMITS,
    handler: { onMessage: (_s, m) => messages.push(m), onClose: () => undefined },
    logger: silentLogger(),
    mdRowsPerFrame: rowsPerFrame,
    maxBufferedBytes: 1000,
    beforeSend: held?.beforeSend,
    socket,
  });
  s.login('alpha');
  s.ready = true;
  return { ws, s, messages, socket };
}

describe('GatewaySession', () => {
  it('numbers its frames and splits md into frames of mdRowsPerFrame rows', () => {
    const { ws, s } = setup(3);
    s.subscribe('SYN', [1]);
    const evs = [1, 2, 3, 4, 5, 6, 7].map((i) => add(1, i, 100 + i));
    s.deliverMd('SYN', evs, encodeMd(evs), () => []);
    expect(ws.sent.map((f) => [f.seq, f.type, (f.events as unknown[]).length])).toEqual([
      [1, 'md', 3],
      [2, 'md', 3],
      [3, 'md', 1],
    ]);
  });

  it('sends only the rows of subscribed instruments', () => {
    const { ws, s } = setup(100);
    s.subscribe('SYN', [2]);
    const evs = [add(1, 1, 100), add(2, 2, 100), add(3, 3, 100)];
    s.deliverMd('SYN', evs, encodeMd(evs), () => []);
    s.deliverMd('OTHER', evs, encodeMd(evs), () => []);
    expect(ws.sent).toHaveLength(1);
    expect((ws.sent[0]!.events as number[][]).map((r) => r[1])).toEqual([2]);
  });

  it('sends md frames of a shared batch byte for byte as serializeFrame sends the session\'s rows, full and partial', () => {
    const exchange = 'X.y-Z_9';
    const evs = mixedEvents(11, 3);
    const full = setup(3);
    const partial = setup(3);
    const none = setup(3);
    const wider = setup(4);
    full.s.subscribe(exchange, [1, 2, 3]);
    partial.s.subscribe(exchange, [2]);
    none.s.subscribe(exchange, [7]);
    wider.s.subscribe(exchange, [1, 2, 3]);
    const batch = new MdBatch(exchange, evs);
    for (const x of [full, partial, none, wider]) x.s.deliverBatch(batch, () => []);
    expect(full.ws.texts).toEqual(oldFrames(exchange, evs, undefined, 3, 1));
    expect(full.ws.texts).toHaveLength(4);
    expect(wider.ws.texts).toEqual(oldFrames(exchange, evs, undefined, 4, 1));
    expect(partial.ws.texts).toEqual(oldFrames(exchange, evs, [2], 3, 1));
    expect(partial.ws.texts.length).toBeGreaterThan(0);
    expect(none.ws.texts).toEqual([]);
    // The public per-session entry point sends the same bytes.
    const alone = setup(3);
    alone.s.subscribe(exchange, [1, 3]);
    alone.s.deliverMd(exchange, evs, encodeMd(evs), () => []);
    expect(alone.ws.texts).toEqual(oldFrames(exchange, evs, [1, 3], 3, 1));
  });

  it('gives two sessions the same rows of a shared batch, each frame with its own seq', () => {
    const a = setup(4);
    const b = setup(4);
    a.s.subscribe('SYN', [1]);
    b.s.subscribe('SYN', [1]);
    a.s.send({ type: 'heartbeat', ts: 5 });
    a.s.send({ type: 'heartbeat', ts: 6 });
    const evs = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => add(1, i, 100 + i));
    const batch = new MdBatch('SYN', evs);
    a.s.deliverBatch(batch, () => []);
    b.s.deliverBatch(batch, () => []);
    expect(a.ws.texts.slice(2)).toEqual(oldFrames('SYN', evs, undefined, 4, 3));
    expect(b.ws.texts).toEqual(oldFrames('SYN', evs, undefined, 4, 1));
    expect(a.ws.sent.slice(2).map((f) => f.seq)).toEqual([3, 4, 5]);
    expect(b.ws.sent.map((f) => f.seq)).toEqual([1, 2, 3]);
    expect(a.ws.sent.slice(2).map((f) => f.events)).toEqual(b.ws.sent.map((f) => f.events));
    // Later frames go on from each session's own number.
    a.s.send({ type: 'heartbeat', ts: 7 });
    b.s.send({ type: 'heartbeat', ts: 7 });
    expect([a.ws.sent.at(-1)!.seq, b.ws.sent.at(-1)!.seq]).toEqual([6, 4]);
  });

  it('sends sessions on overlapping instrument sets their own rows, also when the batch joins rows serialized once', () => {
    const rowJson = vi.spyOn(MdBatch.prototype, 'rowJson');
    try {
      const evs = mixedEvents(40, 4);
      const subs = [[1, 2, 3], [1, 2], [2, 3], [1, 2], [4], [1, 2, 3, 4], [3, 2, 1]];
      const xs = subs.map((ids) => {
        const x = setup(6);
        x.s.subscribe('SYN', ids);
        return x;
      });
      const batch = new MdBatch('SYN', evs);
      for (const x of xs) x.s.deliverBatch(batch, () => []);
      xs.forEach((x, i) => expect(x.ws.texts).toEqual(oldFrames('SYN', evs, subs[i]!.length === 4 ? undefined : subs[i], 6, 1)));
      // [1, 2] came after [1, 2, 3], which had taken all its rows: they were joined, not re-serialized.
      expect(rowJson).toHaveBeenCalled();
    } finally {
      rowJson.mockRestore();
    }
  });

  it('sends every session of a shared batch what the per-session path sent (random batches and subscriptions)', () => {
    const rnd = lcg(42);
    for (let round = 0; round < 60; round++) {
      const instruments = 1 + Math.floor(rnd() * 5);
      const n = 1 + Math.floor(rnd() * 7);
      const xs = Array.from({ length: 6 }, () => {
        const x = setup(n);
        const ids = [1, 2, 3, 4, 5, 6].filter(() => rnd() < 0.5);
        x.s.subscribe('SYN', ids);
        // Different frame numbers per session.
        for (let h = Math.floor(rnd() * 3); h > 0; h--) x.s.send({ type: 'heartbeat', ts: h });
        return { ...x, ids, expected: [...x.ws.texts] };
      });
      for (let b = 0; b < 3; b++) {
        const evs = mixedEvents(1 + Math.floor(rnd() * 25), instruments, rnd);
        const batch = new MdBatch('SYN', evs);
        for (const x of xs) {
          x.expected.push(...oldFrames('SYN', evs, x.ids, n, x.expected.length + 1));
          x.s.deliverBatch(batch, () => []);
        }
      }
      for (const x of xs) expect(x.ws.texts).toEqual(x.expected);
    }
  });

  it('pauses a slow session of a shared batch, the others get its rows; a closed one uses no frame number', () => {
    const slow = setup(100);
    const fine = setup(100);
    const closed = setup(100);
    for (const x of [slow, fine, closed]) x.s.subscribe('SYN', [1, 2]);
    const evs = [add(1, 1, 100), add(2, 2, 100), add(3, 3, 100)];
    slow.ws.bufferedAmount = 5000;
    closed.ws.readyState = 3;
    const batch = new MdBatch('SYN', evs);
    for (const x of [slow, fine, closed]) x.s.deliverBatch(batch, () => []);
    expect((slow.ws.sent[0]!.events as number[][]).map((r) => [r[0], r[1], r[8]])).toEqual([
      [MdType.Status, 1, MdStatus.Disconnected],
      [MdType.Status, 2, MdStatus.Disconnected],
    ]);
    expect(fine.ws.texts).toEqual(oldFrames('SYN', evs, [1, 2], 100, 1));
    expect(closed.ws.texts).toEqual([]);
    closed.ws.readyState = 1;
    closed.s.deliverBatch(new MdBatch('SYN', evs), () => []);
    expect(closed.ws.texts).toEqual(oldFrames('SYN', evs, [1, 2], 100, 1));
  });

  it('pauses md while the socket does not drain, then sends a snapshot instead of the batch', () => {
    const { ws, s } = setup(100);
    s.subscribe('SYN', [1, 2]);
    const batch = [add(1, 1, 100), add(2, 2, 100)];
    ws.bufferedAmount = 5000;
    s.deliverMd('SYN', batch, encodeMd(batch), () => []);
    // One Disconnected row per subscribed instrument, and nothing else.
    expect(ws.sent).toHaveLength(1);
    expect((ws.sent[0]!.events as number[][]).map((r) => [r[0], r[1], r[8]])).toEqual([
      [MdType.Status, 1, MdStatus.Disconnected],
      [MdType.Status, 2, MdStatus.Disconnected],
    ]);
    // Still above half the limit: dropped.
    ws.bufferedAmount = 600;
    s.deliverMd('SYN', batch, encodeMd(batch), () => []);
    expect(ws.sent).toHaveLength(1);
    // Drained: the books' snapshot replaces the batch (it already holds it).
    ws.bufferedAmount = 0;
    const snapshots: number[] = [];
    s.deliverMd('SYN', batch, encodeMd(batch), (id) => {
      snapshots.push(id);
      return [{ ...add(id, 0, 0), type: MdType.Status, status: MdStatus.SnapshotStart }, add(id, 90 + id, 100), { ...add(id, 0, 0), type: MdType.Status, status: MdStatus.SnapshotEnd }];
    });
    expect(snapshots).toEqual([1, 2]);
    expect(ws.sent).toHaveLength(2);
    expect((ws.sent[1]!.events as number[][]).map((r) => [r[1], r[0], r[5]])).toEqual([
      [1, MdType.Status, 0],
      [1, MdType.OrderAdd, 91],
      [1, MdType.Status, 0],
      [2, MdType.Status, 0],
      [2, MdType.OrderAdd, 92],
      [2, MdType.Status, 0],
    ]);
    // And live again.
    s.deliverMd('SYN', batch, encodeMd(batch), () => []);
    expect(ws.sent).toHaveLength(3);
  });

  it('sends events as serializeFrame(eventBody()) would, numbered with the other frames', () => {
    for (const fast of [true, false]) {
      gatewayFastPaths.enabled = fast;
      try {
        const { ws, s } = setup();
        s.send({ type: 'heartbeat', ts: 5 });
        const expected = [serializeFrame({ type: 'heartbeat', ts: 5 }, 1)];
        VENUE_CALLBACKS.forEach((cb, i) => {
          expect(s.sendEvent(100 + i, cb, EVENT_EXAMPLES[cb] as never)).toBe(true);
          expected.push(serializeFrame(eventBody(100 + i, cb, EVENT_EXAMPLES[cb] as never), i + 2));
        });
        expect(ws.texts).toEqual(expected);
      } finally {
        gatewayFastPaths.enabled = true;
      }
    }
  });

  it('throws on an event without a wire form and uses no frame number for it, open or closed', () => {
    const { ws, s } = setup();
    const bad = { ...EVENT_EXAMPLES.onNewOrderAck, instrumentId: 1.5 };
    expect(() => s.sendEvent(1, 'onNewOrderAck', bad)).toThrow(ProtocolError);
    expect(s.sendEvent(2, 'onCancelOrderAck', EVENT_EXAMPLES.onCancelOrderAck)).toBe(true);
    expect(ws.sent.map((f) => [f.seq, f.eventSeq])).toEqual([[1, 2]]);
    ws.readyState = 3;
    expect(() => s.sendEvent(3, 'onNewOrderAck', bad)).toThrow(ProtocolError);
    expect(s.sendEvent(3, 'onCancelOrderAck', EVENT_EXAMPLES.onCancelOrderAck)).toBe(false);
    ws.readyState = 1;
    expect(s.sendEvent(4, 'onCancelOrderAck', EVENT_EXAMPLES.onCancelOrderAck)).toBe(true);
    expect(ws.sent.map((f) => [f.seq, f.eventSeq])).toEqual([
      [1, 2],
      [2, 4],
    ]);
  });

  it('passes valid frames to the handler and answers bad ones itself', () => {
    const { ws, s, messages } = setup();
    ws.emit('message', Buffer.from(JSON.stringify({ v: 1, type: 'heartbeat', seq: 1, ts: 5 })));
    ws.emit('message', Buffer.from('nope'));
    expect(messages.map((m) => m.type)).toEqual(['heartbeat']);
    expect(ws.sent.map((f) => [f.type, f.code])).toEqual([['error', 4000]]);
    expect(s.isOpen).toBe(true);
  });
});

describe('GatewaySession with its raw socket: frames of one run held, one commit and one write', () => {
  const nextTick = () => new Promise<void>((r) => process.nextTick(r));

  it('holds the frames of one run, then commits once and writes them all at once, in order', async () => {
    const log: string[] = [];
    const { ws, s, socket } = setup(2, { beforeSend: () => log.push('commit'), log });
    expect(s.sendEvent(7, 'onNewOrderAck', EVENT_EXAMPLES.onNewOrderAck)).toBe(true);
    expect(s.sendEvent(8, 'onOrderCancelled', EVENT_EXAMPLES.onOrderCancelled)).toBe(true);
    s.send({ type: 'heartbeat', ts: 5 });
    // Nothing has left yet, nor been committed: the frames wait for the end of the run.
    expect(ws.sent).toEqual([]);
    expect(log).toEqual([]);
    expect(s.heldFrames).toBe(3);
    await Promise.resolve(); // microtasks of the same run add to the same flush
    s.sendError(ProtocolErrorCode.InvalidFields, 'x');
    await nextTick();
    expect(log).toEqual(['commit', 'send 1', 'send 2', 'send 3', 'send 4']);
    expect(ws.sent.map((f) => [f.seq, f.type])).toEqual([
      [1, 'event'],
      [2, 'event'],
      [3, 'heartbeat'],
      [4, 'error'],
    ]);
    expect(socket!.writes.map((w) => w.length)).toEqual([4]);
    expect(socket!.corked).toBe(0);
    // The next run is a new flush.
    s.send({ type: 'heartbeat', ts: 6 });
    await nextTick();
    expect(log.slice(5)).toEqual(['commit', 'send 5']);
    expect(socket!.writes.map((w) => w.length)).toEqual([4, 1]);
  });

  it('md is not held: what was held leaves first (committed), then the md frames, in number order', async () => {
    const log: string[] = [];
    const { ws, s, socket } = setup(2, { beforeSend: () => log.push('commit'), log });
    s.subscribe('SYN', [1]);
    s.sendEvent(7, 'onNewOrderAck', EVENT_EXAMPLES.onNewOrderAck);
    const evs = [1, 2, 3].map((i) => add(1, i, 100 + i));
    s.deliverMd('SYN', evs, encodeMd(evs), () => []);
    expect(log).toEqual(['commit', 'send 1', 'send 2', 'send 3']);
    s.send({ type: 'heartbeat', ts: 5 });
    await nextTick();
    expect(log).toEqual(['commit', 'send 1', 'send 2', 'send 3', 'commit', 'send 4']);
    expect(ws.sent.map((f) => [f.seq, f.type])).toEqual([
      [1, 'event'],
      [2, 'md'],
      [3, 'md'],
      [4, 'heartbeat'],
    ]);
    expect(socket!.writes.map((w) => w.length)).toEqual([1, 1, 1, 1]);
  });

  it('sends nothing it held when the commit fails (the server stops), and numbers on from there', async () => {
    const log: string[] = [];
    let fail = true;
    const { ws, s } = setup(2, {
      beforeSend: () => {
        log.push('commit');
        if (fail) throw new Error('disk I/O error');
      },
      log,
    });
    s.sendEvent(1, 'onNewOrderAck', EVENT_EXAMPLES.onNewOrderAck);
    s.send({ type: 'heartbeat', ts: 5 });
    await nextTick();
    expect(log).toEqual(['commit']);
    expect(ws.sent).toEqual([]);
    expect(s.heldFrames).toBe(0);
    fail = false;
    s.send({ type: 'heartbeat', ts: 6 });
    await nextTick();
    expect(ws.sent.map((f) => f.seq)).toEqual([3]);
  });

  it('close sends what it held (committed) before the close frame; terminate drops it', async () => {
    const log: string[] = [];
    const a = setup(2, { beforeSend: () => log.push('commit'), log });
    a.s.sendEvent(1, 'onNewOrderAck', EVENT_EXAMPLES.onNewOrderAck);
    a.s.fail(ProtocolErrorCode.InvalidFields, 'bye');
    expect(log).toEqual(['commit', 'send 1', 'send 2']);
    expect(a.ws.sent.map((f) => f.type)).toEqual(['event', 'error']);
    expect(a.ws.closedWith?.[0]).toBe(ProtocolErrorCode.InvalidFields);
    await nextTick();
    expect(a.ws.sent).toHaveLength(2);

    const b = setup(2, { beforeSend: () => log.push('commit b'), log });
    b.s.sendEvent(1, 'onNewOrderAck', EVENT_EXAMPLES.onNewOrderAck);
    b.s.terminate();
    await nextTick();
    expect(b.ws.sent).toEqual([]);
    expect(log).not.toContain('commit b');
  });

  it('counts held bytes as unsent for the slow-consumer rule', async () => {
    const { ws, s } = setup(100, { beforeSend: () => undefined, log: [] });
    s.subscribe('SYN', [1]);
    // maxBufferedBytes is 1000: six held events are over it, so md finds the connection not draining.
    for (let i = 0; i < 6; i++) s.sendEvent(i + 1, 'onNewOrderAck', EVENT_EXAMPLES.onNewOrderAck);
    const evs = [add(1, 1, 100)];
    s.deliverMd('SYN', evs, encodeMd(evs), () => []);
    expect(ws.bufferedAmount).toBe(0);
    await new Promise<void>((r) => process.nextTick(r));
    expect(ws.sent.map((f) => f.type)).toEqual(['event', 'event', 'event', 'event', 'event', 'event', 'md']);
    // Paused: a Disconnected row instead of the batch.
    expect((ws.sent[6]!.events as number[][]).map((r) => [r[0], r[8]])).toEqual([[MdType.Status, MdStatus.Disconnected]]);
  });
});

