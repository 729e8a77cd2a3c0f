/**
 * `tradeloop ctl` end to end: a real `GatewayServer` on loopback (synthetic venue), a
 * strategy process as a `RemoteEnv` (it answers the reserved `tradeloop.ctl` hook), and
 * `ctlCommand` speaking the protocol's control frames: status, pause, resume, set (a value
 * the strategy's zod schema refuses, then a good one), cmd; a bad control token; roles;
 * control and strategy frames kept apart on the gateway.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { StratParams } from '../../src/api/events.js';
import { BaseStrategy, type IStratEnv } from '../../src/api/strategy.js';
import { LiveClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { CTL_TOKEN_ENV, CtlUsageError, ctlCommand } from '../../src/cli/ctl-command.js';
import { GatewayClient } from '../../src/gateway/client.js';
import { RemoteEnv } from '../../src/gateway/remote-env.js';
import { RawClient, TOKENS, startTestGateway, type TestGateway } from '../gateway/harness.js';
import { until } from '../gateway/fake-gateway.js';
import { ROOT } from '../helpers.js';

const ADMIN_TOKEN = 'ctl-admin-token-7Qx';
const VIEWER_TOKEN = 'ctl-viewer-token-3Rp';

class Tunable extends BaseStrategy {
  static paramsSchema = z.object({ orderQty: z.string().regex(/^\d+$/, 'a whole number of shares'), spread: z.number().positive() }).passthrough();
  readonly updates: StratParams[] = [];
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login('alpha');
  }
  override onStart() {
    this.env.addCmdHook('echo', (p) => `echo ${p.join(' ')}`);
  }
  override onStratParamsUpdate(p: StratParams) {
    this.updates.push(p);
  }
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const TLS_DIR = join(ROOT, 'test/gateway/fixtures/tls');

async function setup(opts: { tls?: boolean } = {}): Promise<{ gw: TestGateway; strategy: Tunable; remote: RemoteEnv }> {
  const tls = opts.tls ? { cert: readFileSync(join(TLS_DIR, 'cert.pem')), key: readFileSync(join(TLS_DIR, 'key.pem')) } : undefined;
  const gw = await startTestGateway({ controlTokens: { ops: ADMIN_TOKEN, watcher: { token: VIEWER_TOKEN, role: 'viewer' } }, tls });
  cleanup.push(() => gw.close());
  const clock = new LiveClock();
  const strategy = new Tunable();
  const client = new GatewayClient({ url: gw.url, strategy: 'alpha', token: TOKENS.alpha, clock, logger: silentLogger(), ca: tls?.cert });
  const remote = new RemoteEnv({ strategy, client, clock, logger: silentLogger(), params: { orderQty: '100', spread: 2 } });
  cleanup.push(async () => {
    await remote.stop({ timeoutMs: 1_000, drainMs: 100 });
    clock.cancelAll();
  });
  expect(await remote.start()).toBe(true);
  await until(() => gw.server.connectedStrategies().includes('alpha'), 5_000, 'alpha connected');
  return { gw, strategy, remote };
}

/** Runs `tradeloop ctl` in-process; resolves with its exit code and output. */
async function ctl(gw: TestGateway, words: string[], o: { name?: string; yes?: boolean; token?: string; tokenFile?: string; ca?: string } = {}): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await ctlCommand(words, { gateway: gw.url, name: o.name ?? 'alpha', yes: o.yes, tokenFile: o.tokenFile, timeoutMs: 5_000, ca: o.ca }, { out: (t) => (out += t), env: o.tokenFile ? {} : { [CTL_TOKEN_ENV]: o.token ?? ADMIN_TOKEN } });
  return { code, out };
}

describe('tradeloop ctl against a gateway', () => {
  it('reaches a wss:// gateway with --ca, and names the certificate fault without it', async () => {
    const { gw } = await setup({ tls: true });
    expect(gw.url).toMatch(/^wss:/);
    const r = await ctl(gw, ['status'], { ca: join(TLS_DIR, 'cert.pem') });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/running/);
    await expect(ctl(gw, ['status'], { ca: join(TLS_DIR, 'other-cert.pem') })).rejects.toThrow(/cannot reach the gateway at wss:.*self[- ]signed/);
    await expect(ctl(gw, ['status'], { ca: join(TLS_DIR, 'key.pem') })).rejects.toThrow(/--ca: .*key\.pem holds no PEM certificate/);
    const plain = ctlCommand(['status'], { gateway: gw.url.replace('wss:', 'ws:'), name: 'alpha', ca: join(TLS_DIR, 'cert.pem') }, { out: () => {}, env: { [CTL_TOKEN_ENV]: ADMIN_TOKEN } });
    await expect(plain).rejects.toThrow(/--ca is for a wss:\/\/ gateway/);
    // --cert/--key: checked before anything is sent.
    const usage = (extra: Record<string, string>) => ctlCommand(['status'], { gateway: gw.url, name: 'alpha', ca: join(TLS_DIR, 'cert.pem'), ...extra }, { out: () => {}, env: { [CTL_TOKEN_ENV]: ADMIN_TOKEN } });
    await expect(usage({ cert: join(TLS_DIR, 'client-cert.pem') })).rejects.toThrow(/give --cert and --key together/);
    await expect(usage({ cert: join(TLS_DIR, 'client-cert.pem'), key: join(TLS_DIR, 'key.pem') })).rejects.toThrow(/--cert\/--key: the key .*key\.pem and the certificate .*client-cert\.pem do not go together/);
    // A gateway that does not ask for a client certificate accepts one.
    expect((await usage({ cert: join(TLS_DIR, 'client-cert.pem'), key: join(TLS_DIR, 'client-key.pem') }))).toBe(0);
  });

  it('status, pause, resume, set (refused, then accepted), cmd', async () => {
    const { gw, strategy, remote } = await setup();
    const env = remote.env!;

    const status = await ctl(gw, ['status']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/^alpha: running at /);

    const pause = await ctl(gw, ['pause', 'news at 14:00']);
    expect(pause).toEqual({ code: 0, out: 'paused (news at 14:00)\n' });
    expect(env.paused).toBe(true);
    expect((await ctl(gw, ['status'])).out).toMatch(/PAUSED \(news at 14:00\)/);
    expect(await ctl(gw, ['resume'])).toEqual({ code: 0, out: 'resumed\n' });
    expect(env.paused).toBe(false);

    // Dangerous without --yes: nothing is sent.
    const before = strategy.updates.length;
    expect((await ctl(gw, ['set', 'orderQty', '250'])).code).toBe(2);
    // The strategy's schema refuses the value: the old parameters stay.
    const bad = await ctl(gw, ['set', 'orderQty', '12.5'], { yes: true });
    expect(bad.code).toBe(1);
    expect(bad.out).toBe('refused: orderQty: a whole number of shares\n');
    expect(env.currentParams).toEqual({ orderQty: '100', spread: 2 });
    expect(strategy.updates.length).toBe(before);
    // An unknown key and an unconvertible value never reach the strategy.
    expect((await ctl(gw, ['set', 'orderQtty', '5'], { yes: true })).out).toMatch(/^refused: unknown parameter 'orderQtty'/);
    expect((await ctl(gw, ['set', 'spread', 'wide'], { yes: true })).out).toMatch(/^refused: spread: expected a number/);
    // A good one: onStratParamsUpdate with it.
    const good = await ctl(gw, ['set', 'orderQty', '250'], { yes: true });
    expect(good).toEqual({ code: 0, out: 'orderQty = "250" (onStratParamsUpdate sent)\n' });
    expect(strategy.updates.at(-1)).toEqual({ orderQty: '250', spread: 2 });
    expect((await ctl(gw, ['params'])).out).toBe('orderQty = "250"\nspread = 2\n');

    expect(await ctl(gw, ['cmd', 'echo', 'a', 'b'])).toEqual({ code: 0, out: 'echo a b\n' });
    const unknownHook = await ctl(gw, ['cmd', 'nope']);
    expect(unknownHook.code).toBe(1);
  });

  it('refuses a bad control token, a strategy token, a strategy that is not connected; a viewer only reads', async () => {
    const { gw, remote } = await setup();
    await expect(ctl(gw, ['status'], { token: 'not-a-control-token' })).rejects.toThrow(/refused the control token/);
    // A strategy's token is not a control token.
    await expect(ctl(gw, ['status'], { token: TOKENS.alpha })).rejects.toThrow(CtlUsageError);
    await expect(ctl(gw, ['status'], { name: 'beta' })).rejects.toThrow(/strategy beta is not connected to the gateway \(connected: alpha\)/);

    const dir = mkdtempSync(join(tmpdir(), 'tl-ctl-'));
    const file = join(dir, 'viewer.token');
    writeFileSync(file, `${VIEWER_TOKEN}\n`);
    expect((await ctl(gw, ['pnl'], { tokenFile: file })).code).toBe(0);
    const refused = await ctl(gw, ['pause'], { tokenFile: file });
    expect(refused).toEqual({ code: 1, out: '/pause needs the trader role (yours: viewer)\n' });
    expect(remote.env!.paused).toBe(false);
  });

  it('keeps control and strategy connections apart, and checks the role at the gateway', async () => {
    const { gw, remote } = await setup();
    // A strategy connection cannot send control frames.
    const strat = await RawClient.connect(gw.url);
    cleanup.push(() => strat.close());
    expect((await strat.login('beta', TOKENS.beta)).type).toBe('login_ack');
    strat.send({ type: 'control', reqId: 'x1', strategy: 'alpha', op: 'pause', args: [] });
    expect(await strat.nextType('error', { reqId: 'x1' })).toMatchObject({ code: 4006 });

    // A control connection: no strategy requests; the gateway enforces the token's role.
    const viewer = await RawClient.connect(gw.url);
    cleanup.push(() => viewer.close());
    viewer.send({ type: 'control_login', reqId: 'c1', token: VIEWER_TOKEN });
    const ack = await viewer.nextType('control_ack', { reqId: 'c1' });
    expect(ack.role).toBe('viewer');
    expect([...ack.strategies].sort()).toEqual(['alpha', 'beta']);
    viewer.send({ type: 'sync', reqId: 'c2' });
    expect(await viewer.nextType('error', { reqId: 'c2' })).toMatchObject({ code: 4006 });
    viewer.send({ type: 'control', reqId: 'c3', strategy: 'alpha', op: 'pause', args: ['x'] });
    expect(await viewer.nextType('control_result', { reqId: 'c3' })).toMatchObject({ ok: false, text: 'pause needs the trader role (this control token has viewer)' });
    expect(remote.env!.paused).toBe(false);
    viewer.send({ type: 'control', reqId: 'c4', strategy: 'alpha', op: 'params', args: [] });
    expect(JSON.parse((await viewer.nextType('control_result', { reqId: 'c4' })).text)).toEqual({ orderQty: '100', spread: 2 });

    // A bad control token: fatal 4011.
    const bad = await RawClient.connect(gw.url);
    bad.send({ type: 'control_login', reqId: 'b1', token: 'wrong' });
    expect(await bad.nextType('error', { reqId: 'b1' })).toMatchObject({ code: 4011, fatal: true });
    expect((await bad.closed).code).toBe(4011);
  });
});

describe('tradeloop ctl: usage', () => {
  it('answers bad invocations with one line and exit code 2', () => {
    const env = { ...process.env };
    delete env[CTL_TOKEN_ENV];
    const cli = (args: string[], extra: Record<string, string> = {}) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'ctl', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...env, ...extra } });
    const cases: Array<[string[], RegExp, Record<string, string>?]> = [
      [['--gateway', 'ws://127.0.0.1:1/v1', '--name', 'alpha', 'status'], /no control token: pass --token-file or set TRADELOOP_CTL_TOKEN/],
      [['--gateway', 'http://127.0.0.1:1/v1', '--name', 'alpha', 'status'], /--gateway must be a ws:\/\/ or wss:\/\/ URL/],
      [['--gateway', 'ws://127.0.0.1:1/v1', '--name', 'alpha', 'status'], /cannot reach the gateway at ws:\/\/127\.0\.0\.1:1\/v1/, { [CTL_TOKEN_ENV]: ADMIN_TOKEN }],
      [['--gateway', 'ws://127.0.0.1:1/v1', 'status'], /required option '--name <name>'/],
    ];
    for (const [args, re, extra] of cases) {
      const r = cli(args, extra);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toContain(ADMIN_TOKEN);
    }
  }, 60_000);
});
