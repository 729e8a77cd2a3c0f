import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LiveClock } from '../../src/core/clock.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { createGateway, startGateway } from '../../src/gateway/gateway.js';
import { SqliteOrderStore, WAL_RESTART_FRAMES } from '../../src/store/sqlite-store.js';
import { WriteBehindOrderStore } from '../../src/store/write-behind-store.js';
import { ROOT } from '../helpers.js';
import { controlLoginOutcome, loginOutcome } from './harness.js';

const TLS_DIR = join(ROOT, 'test/gateway/fixtures/tls');

const config = (extra: Record<string, unknown> = {}) =>
  parseGatewayConfig({
    listen: { port: 0 },
    tokens: { alpha: 'alpha-secret' },
    store: { path: ':memory:' },
    venues: [{ kind: 'synthetic', exchange: 'SYN', events: 1000 }],
    ...extra,
  });

/** Median lateness of `n` waits of `waitUs` on the clock, µs. */
async function medianLatenessUs(clock: LiveClock, waitUs: number, n = 21): Promise<number> {
  const late: number[] = [];
  for (let i = 0; i < n; i++) {
    const ts = clock.now() + waitUs;
    await new Promise<void>((r) =>
      clock.at(ts, () => {
        late.push(clock.now() - ts);
        r();
      }),
    );
  }
  late.sort((a, b) => a - b);
  return late[n >> 1]!;
}

describe('createGateway', () => {
  it('builds its LiveClock from the config: sub-millisecond waits stay sub-millisecond with clock.spinBelowUs', async () => {
    const spin = await createGateway(config({ clock: { spinBelowUs: 1000 } }));
    const plain = await createGateway(config());
    try {
      expect(spin.clock).toBeInstanceOf(LiveClock);
      expect((spin.clock as LiveClock).spinBelowUs).toBe(1000);
      expect((plain.clock as LiveClock).spinBelowUs).toBe(0);
      // A 200 µs wait: on Node's timer at least 1 ms, so ≥ 800 µs late; polled, far less.
      expect(await medianLatenessUs(spin.clock as LiveClock, 200)).toBeLessThan(500);
      expect(await medianLatenessUs(plain.clock as LiveClock, 200)).toBeGreaterThan(500);
    } finally {
      await spin.close();
      await plain.close();
    }
  });

  it('opens a write-behind store with store.writeBehind: its log beside the file, of logSizeMb, its worker at applierPriority', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-gw-wb-'));
    const gw = await createGateway(config({ store: { path: join(dir, 'orders.db'), synchronous: 'NORMAL', writeBehind: true, logSizeMb: 2, applierPriority: 'normal' } }));
    try {
      expect(gw.store).toBeInstanceOf(WriteBehindOrderStore);
      expect((gw.store as WriteBehindOrderStore).applier.priority).toBe('normal');
      expect((gw.store as WriteBehindOrderStore).logPath).toBe(join(dir, 'orders.db-orderlog'));
      expect(statSync(join(dir, 'orders.db-orderlog')).size).toBe(2 * 1024 * 1024);
    } finally {
      await gw.close();
    }
  });

  it('opens its store with the config: store.walRestartFrames, else the store default', async () => {
    const set = await createGateway(config({ store: { path: ':memory:', walRestartFrames: 5000 } }));
    const plain = await createGateway(config());
    try {
      expect((set.store as SqliteOrderStore).walRestartFrames).toBe(5000);
      expect((plain.store as SqliteOrderStore).walRestartFrames).toBe(WAL_RESTART_FRAMES);
    } finally {
      await set.close();
      await plain.close();
    }
  });

  it('listens on wss:// with listen.tls, and names a TLS file it cannot use before opening anything', async () => {
    const tls = (certFile: string, keyFile: string) => config({ listen: { port: 0, tls: { certFile, keyFile } } });
    const gw = await startGateway(tls('cert.pem', 'key.pem')).catch((e: Error) => e);
    // Relative paths are relative to the config file: here the working directory, so not found.
    expect(gw).toBeInstanceOf(Error);
    expect((gw as Error).message).toMatch(/cannot read the certificate file .*cert\.pem: ENOENT/);
    const ok = await startGateway(tls(join(TLS_DIR, 'cert.pem'), join(TLS_DIR, 'key.pem')));
    try {
      expect(ok.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/v1$/);
      const ws = new WebSocket(ok.url, { ca: readFileSync(join(TLS_DIR, 'cert.pem')) });
      const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('open', () => ws.send(JSON.stringify({ v: 1, type: 'login', seq: 1, reqId: 'l', strategy: 'alpha', token: 'alpha-secret' })));
        ws.once('message', (d) => resolve(JSON.parse(String(d)) as Record<string, unknown>));
      });
      expect(first).toMatchObject({ type: 'login_ack', reqId: 'l' });
      ws.terminate();
    } finally {
      await ok.close();
    }
    await expect(startGateway(tls(join(TLS_DIR, 'key.pem'), join(TLS_DIR, 'key.pem')))).rejects.toThrow(/key\.pem holds no PEM certificate/);
    // A key that is not the certificate's.
    await expect(startGateway(tls(join(TLS_DIR, 'other-cert.pem'), join(TLS_DIR, 'key.pem')))).rejects.toThrow(/listen\.tls: the key .*key\.pem and the certificate .*other-cert\.pem do not go together \(.*key values mismatch\)/);
    // listen.tls.clientCaFile: read at start, and then only clients with such a certificate log in.
    const mutual = (clientCaFile: string) => config({ listen: { port: 0, tls: { certFile: join(TLS_DIR, 'cert.pem'), keyFile: join(TLS_DIR, 'key.pem'), clientCaFile } } });
    await expect(startGateway(mutual(join(TLS_DIR, 'client-key.pem')))).rejects.toThrow(/client-key\.pem holds no PEM certificate/);
    const m = await startGateway(mutual(join(TLS_DIR, 'client-cert.pem')));
    try {
      const login = (opts: WebSocket.ClientOptions) => loginOutcome(m.url, { ca: readFileSync(join(TLS_DIR, 'cert.pem')), ...opts }, 'alpha', 'alpha-secret');
      expect(await login({})).not.toBe('login_ack');
      expect(await login({ cert: readFileSync(join(TLS_DIR, 'client-cert.pem')), key: readFileSync(join(TLS_DIR, 'client-key.pem')) })).toBe('login_ack');
    } finally {
      await m.close();
    }
    // tokens.<name>.clientCertNames and controlTokens.<name>.clientCertNames reach the server:
    // alpha and the control client ops only with a certificate named so.
    const bound = (names: string[]) =>
      config({
        listen: { port: 0, tls: { certFile: join(TLS_DIR, 'cert.pem'), keyFile: join(TLS_DIR, 'key.pem'), clientCaFile: join(TLS_DIR, 'client-cert.pem') } },
        tokens: { alpha: { token: 'alpha-secret', clientCertNames: names } },
        controlTokens: { ops: { token: 'ops-secret', clientCertNames: names } },
      });
    for (const [names, expected] of [[['someone-else'], 'error 4011'], [['tradeloop-test-client'], 'ack']] as const) {
      const b = await startGateway(bound([...names]));
      try {
        const client = { ca: readFileSync(join(TLS_DIR, 'cert.pem')), cert: readFileSync(join(TLS_DIR, 'client-cert.pem')), key: readFileSync(join(TLS_DIR, 'client-key.pem')) };
        expect(await loginOutcome(b.url, client, 'alpha', 'alpha-secret'), names.join()).toBe(expected === 'ack' ? 'login_ack' : expected);
        expect(await controlLoginOutcome(b.url, client, 'ops-secret'), names.join()).toBe(expected === 'ack' ? 'control_ack' : expected);
      } finally {
        await b.close();
      }
    }
  });
});
