/**
 * TLS: the PEM reader, and a gateway on `wss://` (`GatewayServerOptions.tls`) with clients that
 * trust its certificate (`ca`), clients that do not, and plain `ws://` clients on its port.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import WebSocket from 'ws';
import { LiveClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { GatewayClient, type DisconnectInfo } from '../../src/gateway/client.js';
import { GatewayServer } from '../../src/gateway/server.js';
import { chainTrusted, peerCertificateNames, pemCertificates, readGatewayTls, readPemFile, readTlsIdentity } from '../../src/gateway/tls.js';
import { ROOT } from '../helpers.js';
import { TOKENS, controlLoginOutcome, loginOutcome, startTestGateway, syntheticHost, type TestGateway } from './harness.js';

const FIXTURES = join(ROOT, 'test/gateway/fixtures/tls');
const CERT = join(FIXTURES, 'cert.pem');
const KEY = join(FIXTURES, 'key.pem');
const OTHER_CERT = join(FIXTURES, 'other-cert.pem');
const CLIENT_CERT = join(FIXTURES, 'client-cert.pem');
const CLIENT_KEY = join(FIXTURES, 'client-key.pem');
const CLIENT_CA = join(FIXTURES, 'client-ca-cert.pem');
const CRL = join(FIXTURES, 'client-ca-crl.pem');
const CRL_EMPTY = join(FIXTURES, 'client-ca-crl-empty.pem');
const dir = mkdtempSync(join(tmpdir(), 'tl-tls-'));

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function tlsGateway(): Promise<TestGateway> {
  const gw = await startTestGateway({ tls: { cert: readPemFile(CERT, 'certificate'), key: readPemFile(KEY, 'private key') }, logger: silentLogger() });
  cleanup.push(() => gw.close());
  return gw;
}

/** Opens a raw WebSocket; resolves once open, rejects with the connection's error. */
function openWs(url: string, opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** The next frame of a raw connection. */
const nextFrame = (ws: WebSocket): Promise<Record<string, unknown>> => new Promise((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)) as Record<string, unknown>)));

/** A raw connection to `gw` with this client pair, logged in as `strategy`: the frames it gets after the login, and its close code. */
async function certSession(gw: TestGateway, certFile: string, keyFile: string, strategy: 'alpha' | 'beta') {
  const ws = await openWs(gw.url, { ca: readPemFile(CERT, 'certificate'), ...readTlsIdentity(certFile, keyFile, strategy) });
  cleanup.push(() => ws.terminate());
  ws.send(JSON.stringify({ v: 1, type: 'login', seq: 1, reqId: 'l', strategy, token: TOKENS[strategy] }));
  expect(await nextFrame(ws)).toMatchObject({ type: 'login_ack' });
  const frames: Array<Record<string, unknown>> = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Record<string, unknown>));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return { ws, frames, closed };
}

describe('readPemFile', () => {
  it('returns the text of a PEM file of the kind asked for, and names the file and the fault otherwise', () => {
    expect(readPemFile(CERT, 'certificate')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(readPemFile(KEY, 'private key')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const missing = join(dir, 'missing.pem');
    expect(() => readPemFile(missing, 'certificate')).toThrow(`cannot read the certificate file ${missing}: ENOENT`);
    expect(() => readPemFile(KEY, 'certificate')).toThrow(`${KEY} holds no PEM certificate`);
    expect(() => readPemFile(CERT, 'private key')).toThrow(`${CERT} holds no PEM private key`);
    const text = join(dir, 'text.pem');
    writeFileSync(text, 'not a certificate\n');
    expect(() => readPemFile(text, 'certificate')).toThrow(/holds no PEM certificate/);
    expect(() => readPemFile(dir, 'certificate')).toThrow(/cannot read the certificate file .*: EISDIR/);
  });
});

describe('a gateway on wss://', () => {
  it('serves a client that trusts its certificate: login, an order and its ack, all over TLS', async () => {
    const gw = await tlsGateway();
    expect(gw.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/v1$/);
    const ws = await openWs(gw.url, { ca: readPemFile(CERT, 'certificate') });
    cleanup.push(() => ws.terminate());
    expect((ws as unknown as { _socket: { encrypted?: boolean } })._socket.encrypted).toBe(true);
    ws.send(JSON.stringify({ v: 1, type: 'login', seq: 1, reqId: 'l', strategy: 'alpha', token: TOKENS.alpha }));
    expect(await nextFrame(ws)).toMatchObject({ type: 'login_ack', reqId: 'l' });
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Record<string, unknown>));
    ws.send(JSON.stringify({ v: 1, type: 'new_order', seq: 2, reqId: 'o', exchange: 'SYN', instrumentId: 1, clientId: 'c1', side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: ['PostOnly'], price: '1', qty: '1' }));
    await expect.poll(() => frames.find((f) => f.cb === 'onNewOrderAck'), { timeout: 5_000 }).toBeTruthy();
    expect((await gw.store.getOrder('alpha', 'c1'))?.acked).toBe(true);
  });

  it('GatewayClient with `ca` logs in; one trusting another certificate, or none, is refused and retries, and the gateway serves on', async () => {
    const gw = await tlsGateway();
    const run = (ca: string | undefined) => {
      const clock = new LiveClock();
      const c = new GatewayClient({ url: gw.url, strategy: 'alpha', token: TOKENS.alpha, clock, logger: silentLogger(), backoff: { initialMs: 20, maxMs: 50 }, ca });
      const seen = { logins: 0, disconnects: [] as DisconnectInfo[] };
      c.on('login', () => seen.logins++);
      c.on('disconnect', (d) => seen.disconnects.push(d));
      c.start();
      cleanup.push(async () => {
        await c.close({ graceMs: 20 });
        clock.cancelAll();
      });
      return seen;
    };
    const other = run(readPemFile(OTHER_CERT, 'certificate'));
    const none = run(undefined);
    await expect.poll(() => other.disconnects.length >= 2 && none.disconnects.length >= 2, { timeout: 5_000 }).toBe(true);
    expect(other.logins + none.logins).toBe(0);
    expect(other.disconnects[0]!.reconnectInMs).toBeGreaterThan(0);
    // A plain ws:// client on the TLS port: its handshake fails, nothing else does.
    await expect(openWs(gw.url.replace('wss://', 'ws://'))).rejects.toThrow();
    const good = run(readPemFile(CERT, 'certificate'));
    await expect.poll(() => good.logins, { timeout: 5_000 }).toBe(1);
    expect(gw.server.connectedStrategies()).toEqual(['alpha']);
  });

  it('with clientCa, serves only clients whose certificate it trusts (mutual TLS): GatewayClient identity, and the handshake refuses the rest', async () => {
    const gw = await startTestGateway({
      tls: { cert: readPemFile(CERT, 'certificate'), key: readPemFile(KEY, 'private key'), clientCa: readPemFile(CLIENT_CERT, 'certificate') },
      logger: silentLogger(),
    });
    cleanup.push(() => gw.close());
    const ca = readPemFile(CERT, 'certificate');
    // Without a certificate, or with one the gateway does not trust (its own server pair): no session.
    await expect(openWs(gw.url, { ca }).then((ws) => new Promise((resolve, reject) => {
      ws.once('close', (code) => reject(new Error(`closed ${code}`)));
      ws.send(JSON.stringify({ v: 1, type: 'login', seq: 1, reqId: 'l', strategy: 'alpha', token: TOKENS.alpha }));
      ws.once('message', resolve);
    }))).rejects.toThrow();
    await expect(openWs(gw.url, { ca, cert: readPemFile(CERT, 'certificate'), key: readPemFile(KEY, 'private key') }).then((ws) => new Promise((resolve, reject) => {
      ws.once('close', (code) => reject(new Error(`closed ${code}`)));
      ws.send(JSON.stringify({ v: 1, type: 'login', seq: 1, reqId: 'l', strategy: 'alpha', token: TOKENS.alpha }));
      ws.once('message', resolve);
    }))).rejects.toThrow();
    expect(gw.server.connectedStrategies()).toEqual([]);
    // With the trusted client certificate: logged in.
    const clock = new LiveClock();
    const identity = readTlsIdentity(CLIENT_CERT, CLIENT_KEY, 'client');
    const c = new GatewayClient({ url: gw.url, strategy: 'alpha', token: TOKENS.alpha, clock, logger: silentLogger(), backoff: { initialMs: 20, maxMs: 50 }, ca, identity });
    let logins = 0;
    c.on('login', () => logins++);
    c.start();
    cleanup.push(async () => {
      await c.close({ graceMs: 20 });
      clock.cancelAll();
    });
    await expect.poll(() => logins, { timeout: 5_000 }).toBe(1);
    expect(gw.server.connectedStrategies()).toEqual(['alpha']);
  });

  it('readTlsIdentity names the pair and the files when the key does not go with the certificate', () => {
    expect(readTlsIdentity(CLIENT_CERT, CLIENT_KEY, 'x').cert).toMatch(/BEGIN CERTIFICATE/);
    expect(() => readTlsIdentity(CLIENT_CERT, KEY, '--cert/--key')).toThrow(/^--cert\/--key: the key .*key\.pem and the certificate .*client-cert\.pem do not go together/);
    expect(() => readTlsIdentity(join(dir, 'nope.pem'), CLIENT_KEY, 'x')).toThrow(/^x: cannot read the certificate file .*nope\.pem/);
  });

  it('with crl, refuses a revoked client certificate; reloadTls swaps the lists for the connections that come next and keeps the old on a bad reload', async () => {
    const base = { cert: readPemFile(CERT, 'certificate'), key: readPemFile(KEY, 'private key'), clientCa: readPemFile(CLIENT_CA, 'certificate') };
    const gw = await startTestGateway({ tls: { ...base, crl: readPemFile(CRL_EMPTY, 'certificate revocation list') }, logger: silentLogger() });
    cleanup.push(() => gw.close());
    const ca = readPemFile(CERT, 'certificate');
    /** How a login with this client pair goes. */
    const login = (name: 'ca-client' | 'revoked-client' | 'client') =>
      loginOutcome(gw.url, { ca, ...readTlsIdentity(join(FIXTURES, `${name}-cert.pem`), join(FIXTURES, `${name}-key.pem`), name) }, 'alpha', TOKENS.alpha);
    // A list that revokes nothing: both certificates of the CA are served.
    expect(await login('ca-client')).toBe('login_ack');
    expect(await login('revoked-client')).toBe('login_ack');
    // The CA's list revoking one of them: refused at the handshake from now on.
    gw.server.reloadTls({ ...base, crl: readPemFile(CRL, 'certificate revocation list') });
    expect(await login('revoked-client')).not.toBe('login_ack');
    expect(await login('ca-client')).toBe('login_ack');
    // A bad reload throws and changes nothing.
    expect(() => gw.server.reloadTls({ ...base, key: readPemFile(CLIENT_KEY, 'private key'), crl: readPemFile(CRL, 'certificate revocation list') })).toThrow();
    expect(() => gw.server.reloadTls({ cert: base.cert, key: base.key })).toThrow(/switched on or off by a restart/);
    expect(await login('revoked-client')).not.toBe('login_ack');
    expect(await login('ca-client')).toBe('login_ack');
    // With lists, an issuer in clientCa without one of its own refuses its clients: OpenSSL finds no list to check them against.
    gw.server.reloadTls({ ...base, clientCa: `${base.clientCa}${readPemFile(CLIENT_CERT, 'certificate')}`, crl: readPemFile(CRL, 'certificate revocation list') });
    expect(await login('client')).not.toBe('login_ack');
    expect(await login('ca-client')).toBe('login_ack');
    gw.server.reloadTls({ ...base, clientCa: `${base.clientCa}${readPemFile(CLIENT_CERT, 'certificate')}` });
    expect(await login('client')).toBe('login_ack');
    expect(await login('revoked-client')).toBe('login_ack');
  });

  it('a reload whose lists revoke the certificate of an open session ends that session (4011), and only that one', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (logs.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) }));
    const base = { cert: readPemFile(CERT, 'certificate'), key: readPemFile(KEY, 'private key'), clientCa: readPemFile(CLIENT_CA, 'certificate') };
    const gw = await startTestGateway({ tls: { ...base, crl: readPemFile(CRL_EMPTY, 'certificate revocation list') }, logger });
    cleanup.push(() => gw.close());
    const session = (name: 'ca-client' | 'revoked-client', strategy: 'alpha' | 'beta') => certSession(gw, join(FIXTURES, `${name}-cert.pem`), join(FIXTURES, `${name}-key.pem`), strategy);
    const good = await session('ca-client', 'alpha');
    const bad = await session('revoked-client', 'beta');
    // A reload with lists that revoke nobody open changes no session.
    gw.server.reloadTls({ ...base, crl: readPemFile(CRL_EMPTY, 'certificate revocation list') });
    gw.server.reloadTls({ ...base, crl: readPemFile(CRL, 'certificate revocation list') });
    expect(await bad.closed).toBe(4011);
    expect(bad.frames.find((f) => f.type === 'error')).toMatchObject({ code: 4011, reason: 'client certificate revoked', fatal: true });
    expect(logs.filter((l) => l.msg === 'session ended: its client certificate is revoked').map((l) => [l.strategy, l.cert])).toEqual([['beta', ['tradeloop-test-client-b']]]);
    // The other session goes on: an order and its ack.
    expect(good.ws.readyState).toBe(WebSocket.OPEN);
    expect(gw.server.connectedStrategies()).toEqual(['alpha']);
    good.ws.send(JSON.stringify({ v: 1, type: 'new_order', seq: 2, reqId: 'o', exchange: 'SYN', instrumentId: 1, clientId: 'after-reload', side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: ['PostOnly'], price: '1', qty: '1' }));
    await expect.poll(() => good.frames.find((f) => f.cb === 'onNewOrderAck')).toMatchObject({ ev: { clientId: 'after-reload' } });
  });

  it('a reload whose clientCa no longer vouches for the certificate of an open session ends that session (4011), and only that one', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (logs.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) }));
    const caIssued = readPemFile(CLIENT_CA, 'certificate'); // issued ca-client's certificate
    const selfSigned = readPemFile(CLIENT_CERT, 'certificate'); // trusted as itself
    const base = { cert: readPemFile(CERT, 'certificate'), key: readPemFile(KEY, 'private key') };
    const gw = await startTestGateway({ tls: { ...base, clientCa: `${caIssued}${selfSigned}` }, logger });
    cleanup.push(() => gw.close());
    const issued = await certSession(gw, join(FIXTURES, 'ca-client-cert.pem'), join(FIXTURES, 'ca-client-key.pem'), 'alpha');
    const own = await certSession(gw, CLIENT_CERT, CLIENT_KEY, 'beta');
    // Both CAs again, in the other order: nobody ends.
    gw.server.reloadTls({ ...base, clientCa: `${selfSigned}${caIssued}` });
    expect(gw.server.connectedStrategies().sort()).toEqual(['alpha', 'beta']);
    // The self-signed client's certificate is dropped from the bundle: its session ends.
    gw.server.reloadTls({ ...base, clientCa: caIssued });
    expect(await own.closed).toBe(4011);
    expect(own.frames.find((f) => f.type === 'error')).toMatchObject({ code: 4011, reason: 'client certificate no longer trusted', fatal: true });
    expect(logs.filter((l) => l.msg === 'session ended: no client CA vouches for its certificate any more').map((l) => l.strategy)).toEqual(['beta']);
    expect(issued.ws.readyState).toBe(WebSocket.OPEN);
    // Then the CA that issued the other one: that session ends too.
    gw.server.reloadTls({ ...base, clientCa: selfSigned });
    expect(await issued.closed).toBe(4011);
    expect(gw.server.connectedStrategies()).toEqual([]);
  });

  it('chainTrusted: a chain is trusted through a CA that is one of its certificates or signed one, each link signed by the next', () => {
    const [issuer] = pemCertificates(readPemFile(CLIENT_CA, 'certificate'));
    const [leaf] = pemCertificates(readPemFile(join(FIXTURES, 'ca-client-cert.pem'), 'certificate'));
    const [own] = pemCertificates(readPemFile(CLIENT_CERT, 'certificate'));
    expect(chainTrusted([leaf!], [issuer!])).toBe(true);
    expect(chainTrusted([leaf!, issuer!], [issuer!])).toBe(true);
    expect(chainTrusted([leaf!], [own!])).toBe(false);
    expect(chainTrusted([own!], [own!])).toBe(true);
    expect(chainTrusted([own!], [issuer!])).toBe(false);
    // A link not signed by the next breaks the chain: the CA above it does not count.
    expect(chainTrusted([own!, issuer!], [issuer!])).toBe(false);
    expect(chainTrusted([], [issuer!])).toBe(false);
    expect(pemCertificates(`${readPemFile(CLIENT_CA, 'certificate')}\n${readPemFile(CLIENT_CERT, 'certificate')}`)).toHaveLength(2);
  });

  it('reloadTls on a gateway without TLS says so', async () => {
    const gw = await startTestGateway({ logger: silentLogger() });
    cleanup.push(() => gw.close());
    expect(() => gw.server.reloadTls({ cert: readPemFile(CERT, 'certificate'), key: readPemFile(KEY, 'private key') })).toThrow(/does not serve TLS/);
  });

  it('readGatewayTls reads the four files and names the one at fault', () => {
    const t = readGatewayTls({ certFile: CERT, keyFile: KEY, clientCaFile: CLIENT_CA, crlFile: CRL });
    expect([t.cert, t.key, t.clientCa, t.crl].map((x) => x?.split('\n')[0])).toEqual(['-----BEGIN CERTIFICATE-----', '-----BEGIN PRIVATE KEY-----', '-----BEGIN CERTIFICATE-----', '-----BEGIN X509 CRL-----']);
    expect(readGatewayTls({ certFile: CERT, keyFile: KEY })).toEqual({ cert: readPemFile(CERT, 'certificate'), key: readPemFile(KEY, 'private key') });
    expect(() => readGatewayTls({ certFile: CERT, keyFile: KEY, clientCaFile: CLIENT_CA, crlFile: CLIENT_CA })).toThrow(`listen.tls: ${CLIENT_CA} holds no PEM certificate revocation list (expected a "-----BEGIN X509 CRL-----" block)`);
    expect(() => readGatewayTls({ certFile: CERT, keyFile: KEY, clientCaFile: CRL })).toThrow(`listen.tls: ${CRL} holds no PEM certificate`);
    expect(() => readGatewayTls({ certFile: CERT, keyFile: KEY, crlFile: CRL })).toThrow('listen.tls: crlFile needs clientCaFile');
    const broken = join(dir, 'broken-crl.pem');
    writeFileSync(broken, '-----BEGIN X509 CRL-----\nbm90IGEgbGlzdA==\n-----END X509 CRL-----\n');
    expect(() => readGatewayTls({ certFile: CERT, keyFile: KEY, clientCaFile: CLIENT_CA, crlFile: broken })).toThrow(`listen.tls: ${broken} is not a valid revocation list`);
    expect(() => readGatewayTls({ certFile: CERT, keyFile: CLIENT_KEY })).toThrow(/^listen\.tls: the key .*client-key\.pem and the certificate .*cert\.pem do not go together/);
  });

  it('clientCertNames binds a strategy to its client certificate: another trusted certificate with the right token is refused like a wrong token', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (logs.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) }));
    const clientCa = `${readPemFile(CLIENT_CA, 'certificate')}${readPemFile(CLIENT_CERT, 'certificate')}`;
    const tokens = { ...TOKENS, constructor: 'ctor-secret' };
    const gw = await startTestGateway({ tls: { cert: readPemFile(CERT, 'certificate'), key: readPemFile(KEY, 'private key'), clientCa }, tokens, clientCertNames: { alpha: ['tradeloop-test-client-a', 'alpha.example'] }, logger });
    cleanup.push(() => gw.close());
    const ca = readPemFile(CERT, 'certificate');
    /** How a login with this client pair goes. */
    const login = (who: 'ca-client' | 'client', strategy: keyof typeof tokens) =>
      loginOutcome(gw.url, { ca, ...readTlsIdentity(join(FIXTURES, `${who}-cert.pem`), join(FIXTURES, `${who}-key.pem`), who) }, strategy, tokens[strategy]);
    expect(await login('ca-client', 'alpha')).toBe('login_ack');
    expect(await login('client', 'alpha')).toBe('error 4011');
    expect(logs.find((l) => l.msg === 'login refused: the client certificate is not one of this strategy')).toMatchObject({ strategy: 'alpha', cert: ['tradeloop-test-client'] });
    // beta is not bound: any certificate the handshake accepted.
    expect(await login('client', 'beta')).toBe('login_ack');
    // A strategy named like an Object.prototype member is not bound by accident.
    expect(await login('client', 'constructor')).toBe('login_ack');
    expect(logs.filter((l) => l.msg === 'connection').map((l) => l.cert)).toEqual([['tradeloop-test-client-a'], ['tradeloop-test-client'], ['tradeloop-test-client'], ['tradeloop-test-client']]);
    // Misconfigurations are refused at construction.
    const clock = new LiveClock();
    cleanup.push(() => clock.cancelAll());
    const opts = { tokens: TOKENS, store: gw.store, clock, venues: [syntheticHost(clock)] };
    expect(() => new GatewayServer({ ...opts, clientCertNames: { alpha: ['x'] } })).toThrow("clientCertNames needs tls.clientCa (client certificates), given for 'alpha'");
    const tls = { cert: ca, key: readPemFile(KEY, 'private key'), clientCa };
    expect(() => new GatewayServer({ ...opts, tls, clientCertNames: { gamma: ['x'] } })).toThrow("clientCertNames: strategy 'gamma' has no token");
    expect(() => new GatewayServer({ ...opts, tls, clientCertNames: { alpha: [] } })).toThrow('clientCertNames.alpha: give at least one name');
  });

  it('controlTokens.<name>.clientCertNames binds a control client to its certificate: the right token with another trusted certificate is refused', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (logs.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) }));
    const clientCa = `${readPemFile(CLIENT_CA, 'certificate')}${readPemFile(CLIENT_CERT, 'certificate')}`;
    const controlTokens = { ops: { token: 'ops-secret', clientCertNames: ['alpha.example', 'tradeloop-test-client-a'] }, watch: { token: 'watch-secret', role: 'viewer' as const } };
    const gw = await startTestGateway({ tls: { cert: readPemFile(CERT, 'certificate'), key: readPemFile(KEY, 'private key'), clientCa }, controlTokens, logger });
    cleanup.push(() => gw.close());
    const ca = readPemFile(CERT, 'certificate');
    const login = (who: 'ca-client' | 'client', token: string) => controlLoginOutcome(gw.url, { ca, ...readTlsIdentity(join(FIXTURES, `${who}-cert.pem`), join(FIXTURES, `${who}-key.pem`), who) }, token);
    expect(await login('ca-client', 'ops-secret')).toBe('control_ack');
    expect(await login('client', 'ops-secret')).toBe('error 4011');
    expect(logs.find((l) => l.msg === 'control login refused: the client certificate is not one of this control client')).toMatchObject({ control: 'ops', cert: ['tradeloop-test-client'] });
    // watch is not bound; a bound name does not bind the others.
    expect(await login('client', 'watch-secret')).toBe('control_ack');
    expect(await login('ca-client', 'watch-secret')).toBe('control_ack');
    expect(logs.filter((l) => l.msg === 'control login').map((l) => [l.control, l.role])).toEqual([
      ['ops', 'admin'],
      ['watch', 'viewer'],
      ['watch', 'viewer'],
    ]);
    // Misconfigurations are refused at construction.
    const clock = new LiveClock();
    cleanup.push(() => clock.cancelAll());
    const opts = { tokens: TOKENS, store: gw.store, clock, venues: [syntheticHost(clock)] };
    expect(() => new GatewayServer({ ...opts, controlTokens: { ops: { token: 'x', clientCertNames: ['n'] } } })).toThrow("control token 'ops': clientCertNames needs tls.clientCa (client certificates)");
    const tls = { cert: ca, key: readPemFile(KEY, 'private key'), clientCa };
    expect(() => new GatewayServer({ ...opts, tls, controlTokens: { ops: { token: 'x', clientCertNames: [] } } })).toThrow("control token 'ops': clientCertNames: give at least one name");
  });

  it('peerCertificateNames: the subject CNs, then the DNS names of the subjectAltName, once each', () => {
    expect(peerCertificateNames({ subject: { CN: 'mm-1' } as never, subjectaltname: 'DNS:mm-1, IP Address:10.0.0.5, DNS:mm.example, email:ops@example.com' })).toEqual(['mm-1', 'mm.example']);
    expect(peerCertificateNames({ subject: { CN: ['a', 'b'] } as never, subjectaltname: undefined as never })).toEqual(['a', 'b']);
    expect(peerCertificateNames({ subject: { O: 'org' } as never, subjectaltname: 'DNS:only.example' })).toEqual(['only.example']);
    expect(peerCertificateNames({} as never)).toEqual([]);
  });
});
