/**
 * `tradeloop gateway --config <file>` as a user runs it: from source, in a child process;
 * it prints where it listens, serves a strategy, logs without tokens, and stops cleanly
 * on SIGTERM; SIGHUP re-reads its TLS files. Bad configurations: one line, exit code 2.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteOrderStore } from '../../src/store/sqlite-store.js';
import { ROOT } from '../helpers.js';
import { RawClient, loginOutcome } from './harness.js';

const MAIN = join(ROOT, 'src/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'tl-gwcmd-'));

function config(extra: Record<string, unknown> = {}): string {
  const file = join(dir, `gw-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      listen: { port: 0 },
      tokens: { alpha: { tokenEnv: 'TL_TEST_ALPHA' } },
      store: { path: 'orders.db', synchronous: 'NORMAL' },
      venues: [{ kind: 'synthetic', exchange: 'SYN', events: 100_000, seed: 2, speed: 5 }],
      ...extra,
    }),
  );
  return file;
}

/** Starts `tradeloop gateway --config file` (token of alpha in the environment); resolves once it prints where it listens. */
async function spawnGateway(file: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'gateway', '--config', file], {
    cwd: ROOT,
    env: { ...process.env, TL_TEST_ALPHA: 'alpha-token-xyz' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const t0 = Date.now();
  while (!/listening on (wss?:\S+)/.test(stdout)) {
    if (Date.now() - t0 > 30_000 || child.exitCode !== null) throw new Error(`no listening line; stderr: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, exited, url: /listening on (wss?:\S+)/.exec(stdout)![1]!, stdout: () => stdout, stderr: () => stderr };
}

describe('tradeloop gateway', () => {
  it('listens, serves a strategy, and shuts down cleanly on SIGTERM', async () => {
    const g = await spawnGateway(config());
    const { child, exited, url } = g;
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1$/);
    const c = await RawClient.connect(url);
    expect(await c.login('alpha', 'alpha-token-xyz')).toMatchObject({ type: 'login_ack', venues: [{ exchange: 'SYN' }] });
    const bad = await RawClient.connect(url);
    expect(await bad.login('alpha', 'wrong-token-abc')).toMatchObject({ type: 'error', code: 4011 });
    child.kill('SIGTERM');
    expect(await c.nextType('error')).toMatchObject({ code: 4040 });
    expect((await c.closed).code).toBe(4040);
    expect(await exited).toBe(0);
    expect(g.stdout()).toMatch(/gateway stopped/);
    expect(g.stderr()).toMatch(/"msg":"login"/);
    expect(g.stderr()).toMatch(/login refused: bad credentials/);
    expect(g.stderr()).not.toMatch(/alpha-token-xyz|wrong-token-abc/);
  });

  it('with store.writeBehind, killed with SIGKILL, keeps every acknowledged order: the next start replays the log into SQLite', async () => {
    const file = config({ store: { path: 'orders-wb.db', synchronous: 'NORMAL', writeBehind: true } });
    const g = await spawnGateway(file);
    const acked: string[] = [];
    try {
      const c = await RawClient.connect(g.url);
      expect(await c.login('alpha', 'alpha-token-xyz')).toMatchObject({ type: 'login_ack' });
      // 150: under the default flood limit (burst 200 frames).
      for (let i = 0; i < 150; i++) {
        const clientId = `wb-${i}`;
        c.send({ type: 'new_order', reqId: `r-${i}`, exchange: 'SYN', instrumentId: 1, clientId, side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: ['PostOnly'], price: '50', qty: '1' });
        await c.nextEvent('onNewOrderAck', { clientId });
        acked.push(clientId);
      }
    } finally {
      // At once after the last ack: SQLite is a few milliseconds behind, the log is not.
      // (And on a failure above, no gateway is left running.)
      g.child.kill('SIGKILL');
    }
    expect(await g.exited).toBeNull();
    const again = await spawnGateway(file);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    // How many writes SQLite lacked at the kill (often a few: the worker trails by ≈ 1 ms).
    const replayed = /"replayed":(\d+)/.exec(again.stderr())?.[1] ?? '0';
    console.log(`writeBehind SIGKILL: ${acked.length} acked, ${replayed} writes replayed from the log at the restart`);
    const store = new SqliteOrderStore(join(dir, 'orders-wb.db'), { readonly: true });
    try {
      const orders = await store.listOrders({ strategy: 'alpha' });
      expect(orders.map((o) => o.clientId)).toEqual(acked);
      for (const id of [acked[0]!, acked[acked.length - 1]!]) expect((await store.orderEvents('alpha', id)).map((e) => e.cb)).toContain('onNewOrderAck');
      expect(orders.every((o) => o.acked)).toBe(true);
    } finally {
      await store.close();
    }
  }, 90_000);

  it('answers a bad configuration with one line and exit code 2', () => {
    const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    const cases: Array<[string[], RegExp, Record<string, string>?]> = [
      [['gateway'], /required option '--config <file>'/],
      [['gateway', '--config', join(dir, 'missing.json')], /config file not found/],
      [['gateway', '--config', config()], /tokens\.alpha\.tokenEnv: environment variable TL_TEST_ALPHA is not set/],
      [['gateway', '--config', config({ venues: [{ kind: 'synthetic', exchange: 'SYN', speed: -1 }] })], /venues\[0\]\.speed/, { TL_TEST_ALPHA: 'x' }],
    ];
    for (const [args, re, env] of cases) {
      const r = run(args, env);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('re-reads its TLS files on SIGHUP: a client certificate revoked meanwhile is refused, a broken file changes nothing', async () => {
    const TLS = join(ROOT, 'test/gateway/fixtures/tls');
    const crl = join(dir, `crl-${Date.now()}.pem`);
    copyFileSync(join(TLS, 'client-ca-crl-empty.pem'), crl);
    const file = config({ listen: { port: 0, tls: { certFile: join(TLS, 'cert.pem'), keyFile: join(TLS, 'key.pem'), clientCaFile: join(TLS, 'client-ca-cert.pem'), crlFile: crl } } });
    const g = await spawnGateway(file);
    const { child, exited, url } = g;
    expect(url).toMatch(/^wss:/);
    const login = (who: 'ca-client' | 'revoked-client') =>
      loginOutcome(url, { ca: readFileSync(join(TLS, 'cert.pem')), cert: readFileSync(join(TLS, `${who}-cert.pem`)), key: readFileSync(join(TLS, `${who}-key.pem`)) }, 'alpha', 'alpha-token-xyz');
    const reloads = () => g.stderr().match(/TLS certificates reloaded/g)?.length ?? 0;
    const failures = () => g.stderr().match(/TLS reload failed/g)?.length ?? 0;
    const until = async (what: () => boolean, label: string) => {
      const t = Date.now();
      while (!what()) {
        if (Date.now() - t > 10_000) throw new Error(`${label}; stderr: ${g.stderr()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      expect(await login('revoked-client')).toBe('login_ack');
      // The CA revokes the certificate: the new list in place, then SIGHUP.
      copyFileSync(join(TLS, 'client-ca-crl.pem'), crl);
      child.kill('SIGHUP');
      await until(() => reloads() === 1, 'no reload logged');
      expect(await login('revoked-client')).not.toBe('login_ack');
      expect(await login('ca-client')).toBe('login_ack');
      // A broken list: logged, and the one in force stays.
      writeFileSync(crl, 'not a revocation list\n');
      child.kill('SIGHUP');
      await until(() => failures() === 1, 'no failed reload logged');
      expect(g.stderr()).toContain(`"err":"listen.tls: ${crl} holds no PEM certificate revocation list`);
      expect(g.stderr()).toContain('"msg":"TLS reload failed: the certificates in force stay"');
      expect(await login('revoked-client')).not.toBe('login_ack');
      expect(await login('ca-client')).toBe('login_ack');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
