/**
 * A gateway session over a fake socket: frame numbering, md splitting, and the
 * slow-consumer rule (md paused with Disconnected while the socket does not drain, then a
 * snapshot instead of the batch), which a real loopback socket cannot provoke reliably.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { SimClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { MdStatus, MdType, type MdEvent } from '../../src/data/events.js';
import { ProtocolError, encodeMd, eventBody } from '../../src/gateway/codec.js';
import { DEFAULT_LIMITS, VENUE_CALLBACKS, gatewayFastPaths, serializeFrame, type ClientMessage } from '../../src/gateway/protocol.js';
import { EVENT_EXAMPLES } from './fixtures.js';
import { GatewaySession } from '../../src/gateway/session.js';

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

function setup(rowsPerFrame = 3) {
  const ws = new FakeSocket();
  const messages: ClientMessage[] = [];
  const clock = new SimClock(1_000_000);
  const s = new GatewaySession('t-1', ws as unknown as WebSocket, 'test', {
    clock,
    limits: DEFAULT_LIMITS,
    handler: { onMessage: (_s, m) => messages.push(m), onClose: () => undefined },
    logger: silentLogger(),
    mdRowsPerFrame: rowsPerFrame,
    maxBufferedBytes: 1000,
  });
  s.login('alpha');
  s.ready = true;
  return { ws, s, messages };
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
