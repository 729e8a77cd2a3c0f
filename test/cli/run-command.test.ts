/**
 * `tradeloop run`: usage errors, token resolution, paper mode on the AMZN day (trades,
 * journal, replay), and live mode against a gateway on loopback (token file, console and
 * gateway commands, SIGINT → onStop → cancels → logout).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OrderStatus } from '../../src/api/enums.js';
import { RunUsageError, TOKEN_ENV_VAR, resolveToken } from '../../src/cli/run-command.js';
import { EQ } from '../gateway/fixtures.js';
import { FakeGateway, until } from '../gateway/fake-gateway.js';
import { AMZN, DEMO, DEMO_CONFIG, ROOT } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-run-'));
const TOKEN = 'run-cli-token-9f3a';

/** The environment of a spawned CLI, without a token variable unless given. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!(TOKEN_ENV_VAR in extra)) delete env[TOKEN_ENV_VAR];
  return env;
}

function cli(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: childEnv(extraEnv), input: '' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const STRAT = join(dir, 'live-strat.ts');
writeFileSync(
  STRAT,
  `import { BaseStrategy, MDSub, Side } from ${JSON.stringify(join(ROOT, 'src/index.ts'))};
export default class LiveTest extends BaseStrategy {
  onFrameworkConnected(env) {
    this.env = env;
    env.login('live-test');
    env.subscribeToMarketData('SIM', ['sim:equity:abc'], [MDSub.BBO]);
  }
  onStart() {
    this.env.addCmdHook('echo', (p) => 'echo ' + p.join(' '));
    this.env.addCmdHook('buy', () => this.env.sendNewOrder({ exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100', qty: '2' }));
  }
  onStop() {
    for (const o of this.env.openOrders()) this.env.sendCancelOrder(o.exchange, o.instrumentId, o.clientId);
    this.env.sendStopAck();
  }
}
`,
);

const gateways: FakeGateway[] = [];
const TLS_CERT = join(ROOT, 'test/gateway/fixtures/tls/cert.pem');
const TLS_KEY = join(ROOT, 'test/gateway/fixtures/tls/key.pem');
const TLS_CLIENT_KEY = join(ROOT, 'test/gateway/fixtures/tls/client-key.pem');
afterAll(async () => {
  for (const g of gateways) await g.close();
});

describe('tradeloop run: usage', () => {
  it('answers bad invocations with one line and exit code 2', () => {
    const tokenFile = join(dir, 'missing-token');
    const goodTokenFile = join(dir, 'usage-token');
    writeFileSync(goodTokenFile, TOKEN);
    chmodSync(goodTokenFile, 0o600);
    const cases: Array<[string[], RegExp]> = [
      [['run', '--strategy', DEMO], /give --gateway <url> \(live\) or --paper --data <file>/],
      [['run', '--strategy', DEMO, '--paper'], /--paper needs --data/],
      [['run', '--strategy', DEMO, '--paper', '--data', AMZN, '--gateway', 'ws://127.0.0.1:1/v1'], /not both/],
      [['run', '--strategy', DEMO, '--gateway', 'http://127.0.0.1:1/v1', '--name', 'mm'], /must be a ws:\/\/ or wss:\/\/ URL/],
      [['run', '--strategy', DEMO, '--gateway', 'ws://127.0.0.1:1/v1'], /--gateway needs --name/],
      [['run', '--strategy', DEMO, '--gateway', 'ws://127.0.0.1:1/v1', '--name', 'bad name'], /is not a strategy name/],
      [['run', '--strategy', DEMO, '--gateway', 'ws://127.0.0.1:1/v1', '--name', 'mm'], /no gateway token: give --token-file <file> or set TRADELOOP_TOKEN/],
      [['run', '--strategy', DEMO, '--gateway', 'ws://127.0.0.1:1/v1', '--name', 'mm', '--token-file', tokenFile], /token file not found/],
      [['run', '--strategy', DEMO, '--gateway', 'ws://127.0.0.1:1/v1', '--name', 'mm', '--ca', TLS_CERT], /--ca is for a wss:\/\/ gateway/],
      [['run', '--strategy', DEMO, '--gateway', 'wss://127.0.0.1:1/v1', '--name', 'mm', '--token-file', goodTokenFile, '--ca', join(dir, 'missing.pem')], /--ca: cannot read the certificate file .*missing\.pem: ENOENT/],
      [['run', '--strategy', DEMO, '--gateway', 'wss://127.0.0.1:1/v1', '--name', 'mm', '--token-file', goodTokenFile, '--ca', TLS_KEY], /--ca: .*key\.pem holds no PEM certificate/],
      [['run', '--strategy', DEMO, '--paper', '--data', AMZN, '--ca', TLS_CERT], /--name, tokens, --ca, --cert and --key are for --gateway, not --paper/],
      [['run', '--strategy', DEMO, '--gateway', 'wss://127.0.0.1:1/v1', '--name', 'mm', '--token-file', goodTokenFile, '--cert', TLS_CERT], /give --cert and --key together/],
      [['run', '--strategy', DEMO, '--gateway', 'ws://127.0.0.1:1/v1', '--name', 'mm', '--cert', TLS_CERT, '--key', TLS_KEY], /--cert and --key are for a wss:\/\/ gateway/],
      [['run', '--strategy', DEMO, '--gateway', 'wss://127.0.0.1:1/v1', '--name', 'mm', '--token-file', goodTokenFile, '--cert', TLS_CERT, '--key', TLS_CLIENT_KEY], /--cert\/--key: the key .*client-key\.pem and the certificate .*cert\.pem do not go together/],
      [['run', '--strategy', DEMO, '--paper', '--data', AMZN, '--speed', '0'], /--speed <n>.*positive number/],
      [['run', '--strategy', DEMO, '--paper', '--data', AMZN, '--spin-below-us', '5000'], /--spin-below-us <us>.*integer from 0 to 1000/],
      [['run', '--strategy', 'nope.ts', '--paper', '--data', AMZN], /strategy file not found: nope\.ts/],
      [['run', '--strategy', DEMO, '--paper', '--data', 'missing.csv'], /data file not found: missing\.csv/],
    ];
    for (const [args, msg] of cases) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(msg);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    expect(cli(['run', '--help']).stdout).toMatch(/--token-file <file>/);
  });

  it('resolves the token from --token, --token-file or TRADELOOP_TOKEN, trimmed, and warns about exposure', () => {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    const f = join(dir, 'token');
    writeFileSync(f, `${TOKEN}\n`);
    chmodSync(f, 0o600);
    expect(resolveToken({ tokenFile: f }, {}, warn)).toBe(TOKEN);
    expect(warnings).toEqual([]);
    chmodSync(f, 0o644);
    expect(resolveToken({ tokenFile: f }, { [TOKEN_ENV_VAR]: 'from-env' }, warn)).toBe(TOKEN);
    expect(warnings.at(-1)).toMatch(/readable by group or others \(mode 644\); chmod 600/);
    expect(resolveToken({}, { [TOKEN_ENV_VAR]: ' from-env ' }, warn)).toBe('from-env');
    expect(resolveToken({ token: 'inline' }, {}, warn)).toBe('inline');
    expect(warnings.at(-1)).toMatch(/process list/);
    for (const w of warnings) expect(w).not.toContain(TOKEN);
    const empty = join(dir, 'empty-token');
    writeFileSync(empty, '\n');
    expect(() => resolveToken({ tokenFile: empty }, {}, warn)).toThrow(RunUsageError);
    expect(() => resolveToken({}, {}, warn)).toThrow(/no gateway token/);
  });
});

describe('tradeloop run --paper', () => {
  it('paper-trades the AMZN day at high speed, writes a journal that replays', () => {
    const journal = join(dir, 'paper.jsonl');
    const r = cli(['run', '--paper', '--data', AMZN, '--strategy', DEMO, '--config', DEMO_CONFIG, '--speed', '1000000', '--spin-below-us', '1000', '--journal', journal, '--no-console', '--log-level', 'warn']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/── paper summary ──/);
    const orders = Number(/^orders\s+(\d+)/m.exec(r.stdout)![1]);
    const fills = Number(/^fills\s+(\d+)/m.exec(r.stdout)![1]);
    expect(orders).toBeGreaterThan(100);
    expect(fills).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/order→ack latency\s+p50 400 /); // the config's 200 + 200 µs, in data time
    const lines = readFileSync(journal, 'utf8').trim().split('\n');
    const header = JSON.parse(lines[0]!);
    expect(header).toMatchObject({ k: 'header', mode: 'paper', timeZone: 'America/New_York', data: { format: 'lobster' } });
    expect(header.md).toBeUndefined(); // market data by value
    expect(lines.some((l) => l.includes('"req":"sendNewOrder"'))).toBe(true);
    expect(lines.some((l) => l.includes('"cb":"onOrderExecution"'))).toBe(true);
    expect(lines.some((l) => l.includes('"src":"md"'))).toBe(true);
    const replay = cli(['replay', '--strategy', DEMO, '--config', DEMO_CONFIG, '--journal', journal]);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/replay identical/);
  });
});

describe('tradeloop run --gateway', () => {
  it('logs in with a token file, serves console and gateway commands, stops gracefully on SIGINT', async () => {
    const gw = new FakeGateway({ strategies: { mm: TOKEN }, instruments: [EQ], heartbeatMs: 500 });
    await gw.start();
    gateways.push(gw);
    const tokenFile = join(dir, 'gw-token');
    writeFileSync(tokenFile, TOKEN + '\n');
    chmodSync(tokenFile, 0o600);
    const journal = join(dir, 'live.jsonl');
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', '--strategy', STRAT, '--gateway', gw.url, '--name', 'mm', '--token-file', tokenFile, '--journal', journal, '--log-level', 'debug'], {
      cwd: ROOT,
      env: childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until(() => gw.sent('mm', 'subscribe').length === 1, 30_000, 'login and subscribe');
      expect(gw.logins).toEqual([{ strategy: 'mm', resume: undefined }]);
      expect(gw.sent('mm', 'sync')).toHaveLength(1);
      child.stdin.write('cmd echo from console\n');
      await until(() => stdout.includes('[echo] echo from console'), 10_000, 'console reply');
      expect(await gw.cmd('mm', 'echo', ['from', 'gateway'])).toEqual({ ok: true, text: 'echo from gateway' });
      const bought = await gw.cmd('mm', 'buy', []);
      // Generated ids carry the process start, so a restart never reuses them.
      expect(bought.text).toMatch(/^live-test\.[0-9a-z]+-1$/);
      const cid = bought.text;
      await until(() => gw.orders.get('mm')?.get(cid) !== undefined, 5_000, 'order at the gateway');
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect([...gw.orders.get('mm')!.values()][0]!.status).toBe(OrderStatus.Cancelled); // onStop's cancel went through before logout
    expect(gw.sent('mm', 'logout')).toHaveLength(1);
    expect(stderr).toMatch(/SIGINT: stopping/);
    expect(stderr + stdout).not.toContain(TOKEN);
    expect(existsSync(journal)).toBe(true);
    const entries = readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(entries[0]).toMatchObject({ k: 'header', mode: 'live' });
    expect(entries.filter((e) => e.k === 'ctl').map((e) => e.op)).toEqual(['connect', 'cmd', 'cmd', 'cmd', 'stop', 'end']);
    expect(entries.some((e) => e.cb === 'onOrderCancelled' && e.src === 'venue')).toBe(true);
    expect(JSON.stringify(entries)).not.toContain(TOKEN);
  });

  it('reaches a wss:// gateway that has its own certificate with --ca', async () => {
    const gw = new FakeGateway({ strategies: { mm: TOKEN }, instruments: [EQ], tls: { cert: readFileSync(TLS_CERT), key: readFileSync(TLS_KEY) } });
    await gw.start();
    gateways.push(gw);
    expect(gw.url).toMatch(/^wss:/);
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', '--strategy', STRAT, '--gateway', gw.url, '--name', 'mm', '--ca', TLS_CERT, '--no-console', '--log-level', 'warn'], {
      cwd: ROOT,
      env: childEnv({ [TOKEN_ENV_VAR]: TOKEN }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until(() => gw.sent('mm', 'subscribe').length === 1, 30_000, 'login and subscribe over TLS');
      expect(gw.logins).toEqual([{ strategy: 'mm', resume: undefined }]);
      child.kill('SIGINT');
      expect(await exited, stderr).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(stderr).not.toMatch(/sends the token in clear/);
  });

  it('takes the token from TRADELOOP_TOKEN and exits 1 when the gateway refuses it', async () => {
    const gw = new FakeGateway({ strategies: { mm: TOKEN }, instruments: [EQ] });
    await gw.start();
    gateways.push(gw);
    // spawnSync would block this process, and with it the gateway: spawn and wait.
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', '--strategy', STRAT, '--gateway', gw.url, '--name', 'mm', '--no-console', '--log-level', 'warn'], {
      cwd: ROOT,
      env: childEnv({ [TOKEN_ENV_VAR]: 'not-the-token' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/the gateway ended the session: bad credentials \(4011\)/);
    expect(stderr).not.toContain('not-the-token');
    expect(gw.logins).toHaveLength(0);
    expect(gw.received.filter((r) => r.msg.type === 'login')).toHaveLength(1); // no retry after 4011
  });
});
