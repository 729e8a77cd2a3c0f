/**
 * GatewayClient against a fake gateway on loopback: login, frame numbering, heartbeats,
 * silence detection, backoff, fatal closes, malformed frames, and the token never logged.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveClock } from '../../src/core/clock.js';
import { DEFAULT_BACKOFF, GatewayClient, backoffDelayMs, fnv1a32, type DisconnectInfo, type GatewayClientOptions } from '../../src/gateway/client.js';
import { ProtocolErrorCode, type GatewayMessage } from '../../src/gateway/protocol.js';
import { EQ } from './fixtures.js';
import { FakeGateway, until } from './fake-gateway.js';

const TOKEN = 's3cret-token-value';

/** A trace-level logger whose lines are kept for inspection. */
function captureLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), lines };
}

const open: Array<{ close(): Promise<void> | void }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function gateway(opts: Partial<ConstructorParameters<typeof FakeGateway>[0]> = {}): Promise<FakeGateway> {
  const gw = new FakeGateway({ strategies: { mm: TOKEN }, instruments: [EQ], ...opts });
  await gw.start();
  open.push(gw);
  return gw;
}

function client(gw: FakeGateway, extra: Partial<GatewayClientOptions> = {}) {
  const clock = new LiveClock();
  const log = captureLogger();
  const c = new GatewayClient({ url: gw.url, strategy: 'mm', token: TOKEN, clock, logger: log.logger, backoff: { initialMs: 20, maxMs: 200 }, ...extra });
  open.push({
    close: async () => {
      await c.close({ graceMs: 50 });
      clock.cancelAll();
    },
  });
  const events = { logins: 0, messages: [] as GatewayMessage[], disconnects: [] as DisconnectInfo[], fatal: [] as Array<{ code: number; reason: string }>, connecting: 0, malformed: 0 };
  c.on('login', () => events.logins++);
  c.on('message', (m) => events.messages.push(m));
  c.on('disconnect', (d) => events.disconnects.push(d));
  c.on('fatal', (f) => events.fatal.push(f));
  c.on('connecting', () => events.connecting++);
  c.on('malformed', () => events.malformed++);
  return { c, clock, log, events };
}

describe('backoff', () => {
  it('doubles from initialMs to maxMs and jitters down by at most the jitter fraction', () => {
    const o = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };
    expect([0, 1, 2, 3, 10].map((a) => backoffDelayMs(a, o, 0))).toEqual([500, 1000, 2000, 4000, 30_000]);
    expect(backoffDelayMs(0, o, 0.999_999)).toBe(250);
    expect(backoffDelayMs(3, { ...o, jitter: 0 }, 0.7)).toBe(4000);
    expect(DEFAULT_BACKOFF).toEqual(o);
  });

  it('seeds the jitter from the strategy and URL: reproducible, different per strategy', () => {
    expect(fnv1a32('mm@ws://x')).toBe(fnv1a32('mm@ws://x'));
    expect(fnv1a32('mm@ws://x')).not.toBe(fnv1a32('mm2@ws://x'));
  });
});

describe('GatewayClient', () => {
  it('logs in, numbers its frames 1, 2, 3… and never logs the token', async () => {
    const gw = await gateway({ heartbeatMs: 30 });
    const { c, log, events } = client(gw);
    c.start();
    await until(() => events.logins === 1, 5_000, 'login');
    expect(c.loggedIn).toBe(true);
    expect(c.sessionId).toMatch(/^fake-/);
    expect(c.heartbeatIntervalMs).toBe(30);
    expect(c.send({ type: 'fetch', exchange: 'SIM', what: 'PositionInfo', instrumentId: 1 } as never)).toBe(true);
    await until(() => gw.sent('mm', 'heartbeat').length >= 2, 2_000, 'heartbeats');
    const seqs = gw.received.filter((r) => r.strategy === 'mm' || r.msg.type === 'login').map((r) => r.msg.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(gw.received[0]!.msg).toMatchObject({ type: 'login', strategy: 'mm', token: TOKEN });
    expect(gw.received[0]!.msg).not.toHaveProperty('resume');
    await until(() => events.messages.some((m) => m.type === 'event'), 2_000, 'fetch answer');
    expect(log.lines.join('')).not.toContain(TOKEN);
    expect(log.lines.some((l) => l.includes('"type":"login"'))).toBe(true); // the frame was traced, without its body
  });

  it('refuses to send requests before login and after close', async () => {
    const gw = await gateway();
    const { c, events } = client(gw);
    expect(c.send({ type: 'sync', reqId: 's' })).toBe(false);
    c.start();
    await until(() => events.logins === 1);
    await c.close();
    expect(c.send({ type: 'sync', reqId: 's' })).toBe(false);
    await until(() => gw.sent('mm', 'logout').length === 1, 2_000, 'logout');
  });

  it('logs a malformed frame with where it came from, drops it and goes on', async () => {
    const gw = await gateway();
    const { c, log, events } = client(gw);
    c.start();
    await until(() => events.logins === 1);
    gw.sendRaw('mm', 'this is not json');
    gw.sendRaw('mm', JSON.stringify({ v: 1, type: 'event', seq: 2, eventSeq: 1, cb: 'onNewOrderAck', ev: { exchange: 'SIM' } }));
    gw.sendRaw('mm', JSON.stringify({ v: 2, type: 'heartbeat', seq: 3, ts: 1 }));
    gw.record('mm', 'onAccountInfo', { exchange: 'SIM', userId: 'u1' });
    await until(() => events.messages.some((m) => m.type === 'event'), 2_000, 'valid event after malformed ones');
    expect(events.malformed).toBe(3);
    const warned = log.lines.filter((l) => l.includes('malformed frame from the gateway'));
    expect(warned).toHaveLength(3);
    for (const w of warned) expect(w).toContain(gw.url);
    expect(warned[1]).toContain('InvalidFields');
    expect(warned[2]).toContain('UnsupportedVersion');
    expect(c.loggedIn).toBe(true);
  });

  it('treats a silent gateway as a disconnect and reconnects', async () => {
    const gw = await gateway({ heartbeatMs: 30, heartbeatTimeoutMs: 120 });
    const { c, events } = client(gw);
    c.start();
    await until(() => events.logins === 1);
    gw.mute = true;
    await until(() => events.disconnects.length === 1, 3_000, 'silence detected');
    expect(events.disconnects[0]).toMatchObject({ code: ProtocolErrorCode.HeartbeatTimeout, wasLoggedIn: true });
    expect(events.disconnects[0]!.reconnectInMs).toBeGreaterThanOrEqual(10);
    gw.mute = false;
    await until(() => events.logins === 2, 3_000, 'second login');
    expect(c.loggedIn).toBe(true);
  });

  it('reconnects with growing delays while the gateway is down, then logs in', async () => {
    const gw = await gateway();
    const port = gw.port;
    const { c, events } = client(gw, { backoff: { initialMs: 20, maxMs: 80, factor: 2, jitter: 0 } });
    c.start();
    await until(() => events.logins === 1);
    await gw.close();
    await until(() => events.disconnects.length >= 4, 5_000, 'retries');
    const delays = events.disconnects.map((d) => d.reconnectInMs);
    expect(delays.slice(0, 4)).toEqual([20, 40, 80, 80]);
    const gw2 = new FakeGateway({ strategies: { mm: TOKEN }, instruments: [EQ] });
    await gw2.start(port);
    open.push(gw2);
    await until(() => events.logins === 2, 5_000, 'login after the gateway came back');
    expect(events.fatal).toHaveLength(0);
  });

  it('does not reconnect after bad credentials', async () => {
    const gw = await gateway();
    const { c, events, log } = client(gw, { token: 'wrong-token' });
    c.start();
    await until(() => events.fatal.length === 1, 3_000, 'fatal');
    expect(events.fatal[0]!.code).toBe(ProtocolErrorCode.BadCredentials);
    expect(events.disconnects[0]!.reconnectInMs).toBeUndefined();
    await new Promise((r) => setTimeout(r, 150));
    expect(events.connecting).toBe(1);
    expect(log.lines.join('')).not.toContain('wrong-token');
  });

  it('waits at least heartbeatTimeoutMs after AlreadyLoggedIn', async () => {
    const gw = await gateway({ heartbeatMs: 20, heartbeatTimeoutMs: 300 });
    const first = client(gw);
    first.c.start();
    await until(() => first.events.logins === 1);
    const second = client(gw);
    second.c.start();
    await until(() => second.events.disconnects.length === 1, 3_000, 'refused');
    expect(second.events.disconnects[0]!.code).toBe(ProtocolErrorCode.AlreadyLoggedIn);
    // The default heartbeatTimeoutMs (15 s) applies before a login_ack gave another one.
    expect(second.events.disconnects[0]!.reconnectInMs).toBeGreaterThanOrEqual(15_000);
  });
});
