/**
 * `tradeloop run --paper` with its control channels wired: a watched `--params` file (an
 * edit reaches onStratParamsUpdate; a value the strategy's schema refuses, or broken JSON,
 * is logged and the old parameters stay), and the config's `telegram` section (commands
 * from Telegram, a kill-switch trip told to the owner; a bad or missing bot token is one
 * log line and the run goes on). The CLI runs as a child process; the Bot API is a local
 * fake.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCommand } from '../../src/cli/data-commands.js';
import { FakeBotApi } from '../control/fake-bot-api.js';
import { until } from '../gateway/fake-gateway.js';
import { AMZN, DEMO, DEMO_CONFIG, ROOT } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-run-ctl-'));
const DATA = join(dir, 'syn.tlrec');
const STRAT = join(dir, 'tunable.ts');
const BOT_TOKEN = 'bot-SECRET_4711-never-log';
const ADMIN = 1001;

writeFileSync(
  STRAT,
  `import { BaseStrategy, OrderType, Side } from ${JSON.stringify(join(ROOT, 'src/index.ts'))};
export default class Tunable extends BaseStrategy {
  // Any object with a zod-compatible safeParse is a paramsSchema.
  static paramsSchema = {
    safeParse(v) {
      return /^\\d+$/.test(String(v.orderQty))
        ? { success: true, data: v }
        : { success: false, error: { issues: [{ path: ['orderQty'], message: 'a whole number of shares' }] } };
    },
  };
  seen = [];
  onFrameworkConnected(env) {
    this.env = env;
    env.login('tunable');
  }
  onStart() {
    this.env.addCmdHook('get_params', () => JSON.stringify(this.seen.at(-1) ?? null) + ' #' + this.seen.length);
    this.env.addCmdHook('buy', () => this.env.sendNewOrder({ exchange: 'SYNTH', instrumentId: 1, side: Side.Buy, qty: '10', ordType: OrderType.Market }));
    this.env.addCmdHook('hello', (p) => { this.env.publishTelegram('hello ' + p.join(' ')); return 'published'; });
  }
  onStratParamsUpdate(p) {
    this.seen.push(p);
  }
}
`,
);

beforeAll(async () => {
  await generateCommand({ events: 300_000, seed: 3, out: DATA }, () => {});
});

interface Child {
  proc: ChildProcessWithoutNullStreams;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
  /** Sends a console line and waits for the reply line of `word` that satisfies `pred`. */
  ask(line: string, word: string, pred?: (reply: string) => boolean): Promise<string>;
}

const children: Child[] = [];
afterAll(() => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
});

function run(args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', '--paper', '--data', DATA, '--strategy', STRAT, '--speed', '1', '--stop-timeout-ms', '2000', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += String(d)));
  proc.stderr.on('data', (d) => (err += String(d)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const c: Child = {
    proc,
    out: () => out,
    err: () => err,
    exited,
    async ask(line, word, pred = () => true) {
      const replies = () => out.split('\n').filter((l) => l.startsWith(`[${word}] `)).map((l) => l.slice(word.length + 3));
      const start = replies().length;
      let asked = start;
      proc.stdin.write(`${line}\n`);
      const t0 = performance.now();
      for (;;) {
        const got = replies();
        const r = got.slice(start).find(pred);
        if (r !== undefined) return r;
        // Answered, but not yet what we wait for (a file edit not applied yet): ask again.
        if (got.length > asked) {
          asked = got.length;
          proc.stdin.write(`${line}\n`);
        }
        if (performance.now() - t0 > 30_000) throw new Error(`timed out waiting for a reply to '${line}'; stdout: ${out.slice(-500)}; stderr: ${err.slice(-1500)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
  children.push(c);
  return c;
}

/** The log lines (pino JSON on stderr). */
function logLines(err: string): Array<Record<string, unknown>> {
  return err
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('tradeloop run --params <file>', () => {
  it('refuses a missing or invalid params file at start: one line, exit 2', () => {
    const notObject = join(dir, 'list.json');
    writeFileSync(notObject, '[1, 2]');
    for (const [file, re] of [
      [join(dir, 'missing.json'), /params file not found: .*missing\.json/],
      [notObject, /list\.json must hold a JSON object of parameters/],
    ] as const) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', '--paper', '--data', DATA, '--strategy', STRAT, '--params', file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, input: '' });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 60_000);

  it('applies an edited params file, and keeps the old parameters when it is refused or broken', async () => {
    const params = join(dir, 'params.json');
    const journal = join(dir, 'params.jsonl');
    writeFileSync(params, JSON.stringify({ orderQty: '100', spread: 2 }));
    const c = run(['--params', params, '--journal', journal, '--log-level', 'info']);
    try {
      // The file gives the initial parameters.
      expect(await c.ask('cmd get_params', 'get_params', (r) => r.endsWith('#1'))).toBe('{"orderQty":"100","spread":2} #1');

      writeFileSync(params, JSON.stringify({ orderQty: '300', spread: 2 }));
      expect(await c.ask('cmd get_params', 'get_params', (r) => r.endsWith('#2'))).toBe('{"orderQty":"300","spread":2} #2');

      // Refused by the strategy's schema: logged with the reason, the old parameters stay.
      writeFileSync(params, JSON.stringify({ orderQty: '1.5', spread: 2 }));
      await until(() => c.err().includes('orderQty: a whole number of shares'), 10_000, 'the refusal in the log');
      // Broken JSON (an editor's half-written file): logged, nothing applied.
      writeFileSync(params, '{"orderQty": "4');
      await until(() => c.err().includes('params file refused, the old parameters stay'), 10_000, 'the parse error in the log');
      expect(await c.ask('cmd get_params', 'get_params')).toBe('{"orderQty":"300","spread":2} #2');

      // Fixed: applied.
      writeFileSync(params, JSON.stringify({ orderQty: '400', spread: 3 }));
      expect(await c.ask('cmd get_params', 'get_params', (r) => r.endsWith('#3'))).toBe('{"orderQty":"400","spread":3} #3');
      c.proc.kill('SIGINT');
      expect(await c.exited).toBe(0);
    } finally {
      if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
    const logs = logLines(c.err());
    expect(logs.some((l) => String(l.msg).startsWith("params file refused by the strategy's paramsSchema, the old parameters stay: orderQty: a whole number of shares"))).toBe(true);
    expect(logs.some((l) => /params file refused, the old parameters stay: .*params\.json is not valid JSON/.test(String(l.msg)))).toBe(true);
    // Journaled: every change and the refusal (with its reason), so a replay reproduces them.
    const ctl = readFileSync(journal, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.k === 'ctl' && String(e.op).startsWith('params'));
    expect(ctl.map((e) => [e.op, e.args])).toEqual([
      ['params', { orderQty: '300', spread: 2 }],
      ['params', { orderQty: '1.5', spread: 2 }],
      ['params-refused', { reason: 'orderQty: a whole number of shares' }],
      ['params', { orderQty: '400', spread: 3 }],
    ]);
  }, 90_000);
});

describe('tradeloop run with a telegram section', () => {
  let api: FakeBotApi;
  let apiRoot: string;
  beforeAll(async () => {
    api = new FakeBotApi({ token: BOT_TOKEN, now: () => Date.now() * 1000 });
    apiRoot = await api.start();
  });
  afterAll(async () => {
    await api.close();
  });

  function config(name: string, extra: Record<string, unknown> = {}): string {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify({ telegram: { tokenEnv: 'TL_TEST_BOT', apiRoot, users: [{ id: ADMIN, role: 'admin' }], publish: { perChatPerSecond: 100 } }, params: { orderQty: '100' }, ...extra }));
    return file;
  }

  /** Sends a Telegram message from the admin and resolves with the bot's next reply in that chat that satisfies `pred`. */
  async function tell(text: string, pred: (t: string) => boolean = () => true): Promise<string> {
    const before = api.sentTo(ADMIN).length;
    api.push(ADMIN, text);
    await api.waitFor(() => api.sentTo(ADMIN).slice(before).some((m) => pred(m.text)), 20_000, `a reply to ${text}`);
    return api.sentTo(ADMIN).slice(before).find((m) => pred(m.text))!.text;
  }

  it('serves Telegram commands, publishes, and tells the owner when the kill switch trips', async () => {
    const c = run(['--config', config('tg.json', { killSwitch: { maxDrawdown: 0.001 } }), '--log-level', 'info'], { TL_TEST_BOT: BOT_TOKEN });
    try {
      expect(await c.ask('cmd hello', 'hello')).toBe('published');
      await api.waitFor(() => api.sentTo(ADMIN).some((m) => m.text === '[tunable] hello '), 20_000, 'the publish');
      expect(await tell('/status', (t) => t.startsWith('tunable: '))).toMatch(/^tunable: running at /);
      expect(await tell('/pause lunch', (t) => t.startsWith('paused'))).toBe('paused (lunch)');
      await api.waitFor(() => api.sentTo(ADMIN).some((m) => m.text.startsWith('[tunable] tunable: trading paused (lunch)')), 20_000, 'the pause notice');
      expect(await tell('/resume', (t) => t.startsWith('resumed'))).toBe('resumed');

      // A taker buy pays the spread and a fee: the drawdown passes 0.001 and the switch trips.
      await c.ask('cmd buy', 'buy');
      await api.waitFor(() => api.sentTo(ADMIN).some((m) => m.text.includes('KILL SWITCH tripped')), 20_000, 'the kill switch notice');
      const notice = api.sentTo(ADMIN).find((m) => m.text.includes('KILL SWITCH tripped'))!.text;
      expect(notice).toMatch(/^\[tunable\] tunable: KILL SWITCH tripped: drawdown .* reached maxDrawdown 0\.001\. Open orders cancelled; risk-increasing orders refused until \/resume$/);
      expect(await tell('/status', (t) => t.startsWith('tunable: '))).toMatch(/PAUSED \(kill switch: drawdown/);
      // The sim venue's account answers /balance.
      expect(await tell('/balance', (t) => /SYN|USD/.test(t))).toMatch(/\(available /);
      c.proc.kill('SIGINT');
      expect(await c.exited).toBe(0);
    } finally {
      if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
    expect(c.err() + c.out()).not.toContain(BOT_TOKEN);
    expect(logLines(c.err()).some((l) => l.msg === 'telegram: bot stopped')).toBe(true);
  }, 90_000);

  it('tradeloop backtest: a kill-switch trip reaches the owner on Telegram, even when the run ends first', async () => {
    const demo = JSON.parse(readFileSync(DEMO_CONFIG, 'utf8')) as Record<string, unknown>;
    const file = join(dir, 'bt-tg.json');
    writeFileSync(file, JSON.stringify({ ...demo, killSwitch: { maxDrawdown: 0.5 }, telegram: { tokenEnv: 'TL_TEST_BOT', apiRoot, users: [{ id: ADMIN, role: 'admin' }] } }));
    const before = api.sentTo(ADMIN).length;
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'backtest', '--strategy', DEMO, '--data', AMZN, '--config', file, '--no-console', '--log-level', 'warn'], {
      cwd: ROOT,
      env: { ...process.env, TL_TEST_BOT: BOT_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let out = '';
    proc.stderr.on('data', (d) => (err += String(d)));
    proc.stdout.on('data', (d) => (out += String(d)));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    expect(code, err).toBe(0);
    expect(out).toMatch(/── backtest summary ──/);
    const sent = api.sentTo(ADMIN).slice(before).map((m) => m.text);
    expect(sent).toEqual([expect.stringMatching(/^\[demo-mm\] demo-mm: KILL SWITCH tripped: drawdown [\d.]+ from peak equity [\d.]+ reached maxDrawdown 0\.5\. /)]);
    expect(err + out).not.toContain(BOT_TOKEN);
  }, 90_000);

  it('a refused or missing bot token is one log line, and the run goes on', async () => {
    for (const env of [{ TL_TEST_BOT: 'not-the-token' }, {} as Record<string, string>]) {
      const c = run(['--config', config('tg-bad.json'), '--log-level', 'info'], env);
      try {
        await until(() => logLines(c.err()).some((l) => l.level === 50), 20_000, 'the error line');
        expect(await c.ask('cmd hello', 'hello')).toBe('published');
        c.proc.kill('SIGINT');
        expect(await c.exited).toBe(0);
      } finally {
        if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
      }
      const errors = logLines(c.err()).filter((l) => Number(l.level) >= 50);
      expect(errors, c.err()).toHaveLength(1);
      expect(String(errors[0]!.msg)).toMatch(env.TL_TEST_BOT ? /^telegram: cannot reach the Bot API or the token was refused/ : /^telegram: no bot token: set the environment variable TL_TEST_BOT or telegram\.tokenFile; running without Telegram$/);
      // What would have gone to Telegram is logged instead.
      expect(logLines(c.err()).some((l) => l.msg === 'telegram unavailable: message not sent' && l.telegram === 'hello ')).toBe(true);
      expect(c.err() + c.out()).not.toContain('not-the-token');
    }
  }, 90_000);
});
