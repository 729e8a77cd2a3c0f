/**
 * TelegramControl with telegraf against a local fake Bot API server (`apiRoot` pointed at
 * loopback). The bot's send queue runs on a SimClock the test advances; telegraf's own
 * HTTP and long polling run for real.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StratParams } from '../../src/api/events.js';
import { SimClock } from '../../src/core/clock.js';
import { BUILTIN_COMMANDS } from '../../src/control/commands.js';
import { envControlTarget, type ControlTarget } from '../../src/control/target.js';
import {
  DEFAULT_PUBLISH_LIMITS,
  RateLimitedSender,
  TelegramConfigError,
  TelegramControl,
  parseTelegramConfig,
  redactSecret,
  resolveTelegramToken,
  startTelegramFromConfig,
  type PublishLimits,
  type TelegramUser,
} from '../../src/control/telegram.js';
import { Recorder, START_US, arrayLogger, running, type Harness } from '../core/env-fixtures.js';
import { FakeBotApi } from './fake-bot-api.js';

/** Not in telegraf's `bot<digits>:<secret>` shape, so only our own redaction can hide it. */
const TOKEN = 'SECRET-token_zx81-do-not-log';
const ADMIN = 1001;
const TRADER = 1002;
const VIEWER = 1003;
const STRANGER = 6666;
const USERS: TelegramUser[] = [
  { id: ADMIN, role: 'admin', name: 'ann' },
  { id: TRADER, role: 'trader' },
  { id: VIEWER, role: 'viewer' },
];
const FAST: Partial<PublishLimits> = { perChatPerSecond: 1000, groupPerMinute: 60_000, totalPerSecond: 1000 };
const SEC = 1_000_000;

/** A real StratEnv running a strategy with hooks and parameters. */
async function envHarness(params: StratParams = { qty: '5', spread: 2 }, telegram?: (s: string, m: string) => void): Promise<Harness> {
  const strat = new Recorder({
    behaviour: {
      onStart: (_ev, env) => {
        env.addCmdHook('get_x', (p) => `x=${p.join('+')}`);
      },
    },
  });
  return running({ strat, params, telegram });
}

/** Wraps a target and records which method each command reached. */
function spy(t: ControlTarget): ControlTarget & { calls: string[] } {
  const calls: string[] = [];
  const wrapped = { calls } as unknown as ControlTarget & { calls: string[] };
  for (const k of ['status', 'orders', 'positions', 'pnl', 'balance', 'pause', 'resume', 'cancelAll', 'flatten', 'stop', 'resetKillSwitch', 'params', 'setParam', 'runHook', 'hooks'] as const) {
    (wrapped as unknown as Record<string, unknown>)[k] = (...a: unknown[]) => {
      if (k !== 'hooks' && !(k === 'params' && calls.at(-1) === 'setParam')) calls.push(k);
      return (t[k] as (...x: unknown[]) => unknown).apply(t, a);
    };
  }
  Object.defineProperty(wrapped, 'name', { get: () => t.name });
  return wrapped;
}

interface Setup {
  clock: SimClock;
  api: FakeBotApi;
  tg: TelegramControl;
  lines: Array<Record<string, unknown>>;
  h: Harness;
  target: ControlTarget & { calls: string[] };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(opts: { users?: TelegramUser[]; publish?: Partial<PublishLimits>; answerStrangers?: boolean; chats?: number[]; confirmTtlMs?: number } = {}): Promise<Setup> {
  const clock = new SimClock(START_US);
  const api = new FakeBotApi({ token: TOKEN, now: () => clock.now() });
  const apiRoot = await api.start();
  const { logger, lines } = arrayLogger();
  let tg: TelegramControl | undefined;
  const h = await envHarness(undefined, (s, m) => tg?.publish(s, m));
  const target = spy(envControlTarget(h.env));
  tg = new TelegramControl({
    token: TOKEN,
    apiRoot,
    users: opts.users ?? USERS,
    chats: opts.chats,
    answerStrangers: opts.answerStrangers,
    confirmTtlMs: opts.confirmTtlMs,
    publish: opts.publish ?? FAST,
    targets: [target],
    clock,
    logger,
  });
  const t = tg;
  cleanups.push(async () => {
    await t.stop();
    await api.close();
  });
  await tg.start();
  return { clock, api, tg, lines, h, target };
}

/** Sends a message from a user and resolves with the bot's reply in that chat. */
async function ask(s: Setup, from: number, text: string, chatId = from): Promise<string> {
  // A second apart on the fake clock, so that the reply is not held by the per-chat limit.
  await s.tg.settled();
  s.clock.advanceTo(s.clock.now() + SEC);
  const before = s.api.sentTo(chatId).length;
  s.api.push(from, text, { chatId });
  await s.api.waitFor(() => s.api.sentTo(chatId).length > before, 5_000, `a reply to ${text}`);
  return s.api.sentTo(chatId).at(-1)!.text;
}

/** Advances the fake clock in steps until `untilUs`, letting sends complete in between. */
async function drive(s: { clock: SimClock; tg: TelegramControl }, untilUs: number, stepUs = 100_000): Promise<void> {
  await s.tg.settled();
  while (s.clock.now() < untilUs) {
    s.clock.advanceTo(Math.min(untilUs, s.clock.now() + stepUs));
    await s.tg.settled();
  }
}

const logText = (lines: unknown[]) => JSON.stringify(lines);

// ------------------------------------------------------------------ commands

describe('Telegram commands (telegraf against a fake Bot API)', () => {
  it('starts with getMe, deleteWebhook and long polling', async () => {
    const s = await setup();
    await s.api.waitFor(() => s.api.calls.includes('getUpdates'));
    // deleteWebhook twice: by start() (dropping pending updates), then by telegraf's launch().
    expect(s.api.calls.slice(0, 4)).toEqual(['getMe', 'deleteWebhook', 'deleteWebhook', 'getUpdates']);
    expect(s.tg.state).toBe('running');
    expect(s.tg.chats).toEqual([ADMIN]); // default publish chats: the admins' private chats
  });

  it('answers every built-in command for an admin, reaching the StratEnv', async () => {
    // The env's own notices (pause, resume…) go to a channel, not between the replies.
    const s = await setup({ chats: [-100] });
    const expectCall: Record<string, string | undefined> = {
      help: undefined,
      status: 'status',
      orders: 'orders',
      positions: 'positions',
      pnl: 'pnl',
      balance: 'balance',
      params: 'params',
      pause: 'pause',
      resume: 'resume',
      cancelall: 'cancelAll',
      cmd: 'runHook',
      flatten: 'flatten',
      set: 'setParam',
      reset: 'resetKillSwitch',
      stop: 'stop', // last: the strategy stops
    };
    const lines: Record<string, string> = { cmd: '/cmd get_x 1 2', set: '/set spread 3', pause: '/pause lunch' };
    const replies: Record<string, string> = {};
    for (const [name, call] of Object.entries(expectCall)) {
      let reply = await ask(s, ADMIN, lines[name] ?? `/${name}`);
      if (BUILTIN_COMMANDS[name]!.dangerous) {
        expect(reply, name).toMatch(/^Confirm \/\w+.* on rec: send \/confirm \d+ within 60 s\.$/);
        expect(s.target.calls.at(-1), name).not.toBe(call);
        reply = await ask(s, ADMIN, `/confirm ${/confirm (\d+)/.exec(reply)![1]}`);
      }
      replies[name] = reply;
      expect(reply, name).not.toMatch(/needs the|unknown command/);
      if (call) expect(s.target.calls.at(-1), name).toBe(call);
    }
    expect(replies.help).toContain('/stop');
    expect(replies.help).toContain('hooks: get_x');
    expect(replies.status).toMatch(/^rec: running/);
    expect(replies.orders).toBe('no open orders');
    expect(replies.positions).toBe('flat: no open positions');
    expect(replies.params).toBe('qty = "5"\nspread = 2');
    expect(replies.cmd).toBe('x=1+2');
    expect(replies.set).toBe('spread = 3 (onStratParamsUpdate sent)');
    expect(s.h.env.currentParams.spread).toBe(3);
    await s.h.env.idle();
    expect(s.h.strat.names()).toContain('onStop');
  });

  it('accepts /command@thisbot in groups and ignores commands for other bots', async () => {
    const s = await setup();
    expect(await ask(s, VIEWER, '/pnl@tradeloop_test_bot', -500)).toBe('no fills yet: PnL 0');
    s.api.push(VIEWER, '/pnl@some_other_bot', { chatId: -500 });
    expect(await ask(s, VIEWER, '/orders', -500)).toBe('no open orders');
    expect(s.api.sentTo(-500).map((m) => m.text)).toEqual(['no fills yet: PnL 0', 'no open orders']);
  });

  it('checks roles: a viewer cannot pause, a trader cannot stop or set', async () => {
    const s = await setup();
    expect(await ask(s, VIEWER, '/status')).toMatch(/^rec: running/);
    expect(await ask(s, VIEWER, '/pause')).toBe('/pause needs the trader role (yours: viewer)');
    expect(await ask(s, VIEWER, '/cmd get_x')).toBe('/cmd needs the trader role (yours: viewer)');
    expect(await ask(s, TRADER, '/stop')).toBe('/stop needs the admin role (yours: trader)');
    expect(await ask(s, TRADER, '/flatten')).toBe('/flatten needs the admin role (yours: trader)');
    expect(await ask(s, TRADER, '/set spread 1')).toBe('/set needs the admin role (yours: trader)');
    expect(await ask(s, TRADER, '/reset')).toBe('/reset needs the admin role (yours: trader)');
    expect(await ask(s, TRADER, '/cmd get_x a')).toBe('x=a');
    expect(await ask(s, TRADER, '/cancelall')).toMatch(/^Confirm \/cancelall on rec/);
    expect(s.target.calls.filter((c) => !['status', 'runHook'].includes(c))).toEqual([]);
    expect(s.h.env.state).toBe('running');
  });

  it('refuses a user not on the allowlist for every command: no answer, a log line with the user id', async () => {
    const s = await setup();
    const commands = [...Object.keys(BUILTIN_COMMANDS).map((n) => `/${n}`), '/cmd get_x', '/set spread 1', '/confirm 1', 'hello'];
    for (const c of commands) s.api.push(STRANGER, c, { username: 'mallory' });
    const refused = () => s.lines.filter((l) => l.msg === 'telegram: refused a message from a user not on the allowlist');
    await vi.waitFor(() => expect(refused()).toHaveLength(commands.length), { timeout: 5_000 });
    // An allowed user's later command is answered, so the stranger's were all handled.
    expect(await ask(s, ADMIN, '/orders')).toBe('no open orders');
    expect(s.api.sentTo(STRANGER)).toEqual([]);
    expect(s.api.sent.map((m) => m.chatId)).toEqual([ADMIN]);
    expect(refused().every((l) => l.userId === STRANGER && l.username === 'mallory' && l.level === 40)).toBe(true);
    expect(refused().map((l) => l.command)).toEqual(commands.map((c) => c.split(' ')[0]));
    expect(s.target.calls).toEqual(['orders']);
    expect(s.h.env.state).toBe('running');
  });

  it('answers strangers with "not authorized" only when asked to', async () => {
    const s = await setup({ answerStrangers: true });
    expect(await ask(s, STRANGER, '/status')).toBe('not authorized');
    expect(s.target.calls).toEqual([]);
  });

  it('confirmations: per user, and expiring after confirmTtlMs on the clock', async () => {
    const s = await setup({ confirmTtlMs: 30_000 });
    const ask1 = await ask(s, ADMIN, '/stop');
    expect(ask1).toBe('Confirm /stop on rec: send /confirm 1 within 30 s.');
    // Another admin cannot confirm it.
    expect(await ask(s, TRADER, '/confirm 1')).toBe('no pending confirmation 1');
    await drive(s, START_US + 31 * SEC, SEC);
    expect(await ask(s, ADMIN, '/confirm 1')).toBe('confirmation 1 expired; send /stop again');
    expect(s.h.env.state).toBe('running');
    expect(await ask(s, ADMIN, '/stop')).toBe('Confirm /stop on rec: send /confirm 2 within 30 s.');
    await drive(s, s.clock.now() + 28 * SEC, SEC); // + 1 s in ask(): 29 s after asking
    expect(await ask(s, ADMIN, '/confirm 2')).toMatch(/^stopping/);
    await s.h.env.idle();
    expect(s.h.env.state).toBe('stopped');
  });

  it('refuses a bad /set value', async () => {
    const s = await setup();
    const c = await ask(s, ADMIN, '/set spread wide');
    expect(c).toMatch(/^Confirm \/set spread wide/);
    expect(await ask(s, ADMIN, '/confirm')).toBe("refused: spread: expected a number, got 'wide'");
    expect(s.h.env.currentParams.spread).toBe(2);
  });

  it('ignores stale commands (sent while the bot was down)', async () => {
    const s = await setup();
    s.api.push(ADMIN, '/status', { dateS: Math.floor(START_US / SEC) - 600 });
    await vi.waitFor(() => expect(s.lines.some((l) => l.msg === 'telegram: ignored a stale command')).toBe(true), { timeout: 5_000 });
    expect(await ask(s, ADMIN, '/pnl')).toBe('no fills yet: PnL 0');
    expect(s.api.sentTo(ADMIN)).toHaveLength(1);
  });
});

// ------------------------------------------------------------------ publishing

describe('publishTelegram through the rate-limited queue', () => {
  it('publish returns at once; env.publishTelegram reaches the admins as [strategy] msg', async () => {
    const s = await setup({ publish: {} });
    s.h.env.publishTelegram('hello');
    expect(s.tg.queued + (s.api.sent.length ? 1 : 0)).toBeGreaterThanOrEqual(0);
    await s.api.waitFor(() => s.api.sent.length === 1);
    expect(s.api.sent[0]).toMatchObject({ chatId: ADMIN, text: '[rec] hello', at: START_US });
  });

  it('sends at most 1 message per second to one chat: 5 messages take 4 s, 1 s apart', async () => {
    const s = await setup({ publish: {} });
    for (let i = 1; i <= 5; i++) s.tg.publish('demo', `m${i}`);
    expect(s.tg.queued).toBeGreaterThanOrEqual(4); // nothing waited for the network
    await drive(s, START_US + 10 * SEC);
    const sent = s.api.sentTo(ADMIN);
    expect(sent.map((m) => m.text)).toEqual(['[demo] m1', '[demo] m2', '[demo] m3', '[demo] m4', '[demo] m5']);
    expect(sent.map((m) => (m.at - START_US) / SEC)).toEqual([0, 1, 2, 3, 4]);
  });

  it('sends at most 30 messages per second overall, and 20 per minute to a group', async () => {
    const chats = Array.from({ length: 40 }, (_, i) => 2000 + i);
    const s = await setup({ publish: {}, chats: [...chats, -77] });
    s.tg.publish('demo', 'a');
    s.tg.publish('demo', 'b'); // the group's second message waits 3 s
    await drive(s, START_US + 5 * SEC);
    const at = (chat: number) => s.api.sentTo(chat).map((m) => (m.at - START_US) / SEC);
    const firstSecond = s.api.sent.filter((m) => m.at < START_US + SEC);
    expect(firstSecond).toHaveLength(30);
    const perSecond = new Map<number, number>();
    for (const m of s.api.sent) perSecond.set(Math.floor((m.at - START_US) / SEC), (perSecond.get(Math.floor((m.at - START_US) / SEC)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(30);
    expect(s.api.sent).toHaveLength(82);
    for (const c of chats) expect(at(c)[1]! - at(c)[0]!).toBeGreaterThanOrEqual(1);
    expect(at(-77)[1]! - at(-77)[0]!).toBeGreaterThanOrEqual(3);
  });

  it('honours retry_after of a 429 for every chat', async () => {
    const s = await setup({ publish: {}, chats: [ADMIN, 3000] });
    s.api.rateLimitNext(1, 3); // the first sendMessage (to ADMIN) answers 429 retry_after 3
    s.tg.publish('demo', 'first');
    await drive(s, START_US + SEC);
    s.tg.publish('demo', 'second');
    await drive(s, START_US + 8 * SEC);
    expect(s.api.sentTo(ADMIN).map((m) => [(m.at - START_US) / SEC, m.text])).toEqual([
      [3, '[demo] first'],
      [4, '[demo] second'],
    ]);
    // Chat 3000 got "first" at once (sent alongside), "second" only after the pause.
    expect(s.api.sentTo(3000).map((m) => [(m.at - START_US) / SEC, m.text])).toEqual([
      [0, '[demo] first'],
      [3, '[demo] second'],
    ]);
    expect(s.lines.some((l) => l.msg === 'telegram: rate limited (429), pausing sends' && l.retryAfterS === 3)).toBe(true);
  });

  it('drops the oldest publishes beyond queueMax and says so', async () => {
    const s = await setup({ publish: { queueMax: 3 } });
    for (let i = 1; i <= 10; i++) s.tg.publish('demo', `m${i}`);
    await drive(s, START_US + 10 * SEC);
    const texts = s.api.sentTo(ADMIN).map((m) => m.text);
    expect(texts[0]).toBe('[demo] m1');
    expect(texts.slice(-3)).toEqual(['[demo] m8', '[demo] m9', '[demo] m10']);
    expect(texts.length).toBe(4);
    expect(s.lines.some((l) => l.msg === 'telegram: publish queue full, oldest messages dropped')).toBe(true);
  });

  it('puts command replies before waiting publishes', async () => {
    const s = await setup({ publish: {} });
    for (let i = 1; i <= 3; i++) s.tg.publish('demo', `m${i}`);
    s.api.push(ADMIN, '/orders');
    await vi.waitFor(() => expect(s.tg.queued).toBe(3), { timeout: 5_000 });
    await drive(s, START_US + 5 * SEC);
    expect(s.api.sentTo(ADMIN).map((m) => m.text)).toEqual(['[demo] m1', 'no open orders', '[demo] m2', '[demo] m3']);
  });

  it('RateLimitedSender retries a transient failure and drops a permanent one', async () => {
    const clock = new SimClock(START_US);
    const { logger, lines } = arrayLogger();
    const sent: string[] = [];
    const fails: unknown[] = [new Error('socket hang up'), Object.assign(new Error('403: Forbidden: bot was blocked by the user'), { code: 403 })];
    const sender = new RateLimitedSender({
      clock,
      logger,
      send: async (_c, text) => {
        const f = fails.shift();
        if (f) throw f;
        sent.push(`${(clock.now() - START_US) / SEC}:${text}`);
      },
    });
    sender.start();
    sender.enqueue(1, 'a');
    sender.enqueue(2, 'b');
    await drive({ clock, tg: sender as unknown as TelegramControl }, START_US + 5 * SEC);
    expect(sent).toEqual(['2:a']);
    expect(lines.map((l) => l.msg)).toEqual(['telegram: send failed, will retry', 'telegram: message refused, dropped']);
    expect(() => new RateLimitedSender({ clock, logger, send: async () => undefined, limits: { totalPerSecond: 0 } })).toThrow(RangeError);
    expect(DEFAULT_PUBLISH_LIMITS).toEqual({ perChatPerSecond: 1, groupPerMinute: 20, totalPerSecond: 30, queueMax: 1000 });
  });
});

// ------------------------------------------------------------------ the token

describe('the bot token', () => {
  it('never appears in the logs of a run', async () => {
    const s = await setup({ publish: {} });
    s.api.failNext(400, 'Bad Request: chat not found');
    s.tg.publish('demo', 'x');
    await ask(s, ADMIN, '/status');
    s.api.push(STRANGER, '/stop');
    await vi.waitFor(() => expect(s.lines.some((l) => l.userId === STRANGER)).toBe(true), { timeout: 5_000 });
    await s.tg.stop();
    expect(s.lines.some((l) => l.msg === 'telegram: message refused, dropped')).toBe(true);
    expect(logText(s.lines)).not.toContain(TOKEN);
  });

  it('is redacted from errors: a refused token, an unreachable API', async () => {
    const clock = new SimClock(START_US);
    const api = new FakeBotApi({ token: 'the-right-one', now: () => clock.now() });
    const apiRoot = await api.start();
    try {
      const { logger, lines } = arrayLogger();
      const refused = new TelegramControl({ token: TOKEN, apiRoot, users: USERS, targets: [], clock, logger });
      const e1 = await refused.start().then(() => undefined, (e: Error) => e);
      expect(e1?.message).toMatch(/getMe failed: 401: Unauthorized/);
      expect(refused.state).toBe('failed');
      expect(api.unauthorized).toBe(1);

      // node-fetch puts the request URL, token included, in its error message.
      const down = new TelegramControl({ token: TOKEN, apiRoot: 'http://127.0.0.1:1', users: USERS, targets: [], clock, logger });
      const e2 = await down.start().then(() => undefined, (e: Error) => e);
      expect(e2?.message).toMatch(/getMe failed: request to http:\/\/127\.0\.0\.1:1\/bot<redacted>\/getMe failed/);
      for (const text of [e1!.message, e1!.stack ?? '', e2!.message, e2!.stack ?? '', logText(lines)]) expect(text).not.toContain(TOKEN);
      expect(lines).toHaveLength(2);
    } finally {
      await api.close();
    }
  });

  it('comes from token, tokenFile or the environment (default TRADELOOP_TELEGRAM_TOKEN), never named in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-tg-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    expect(resolveTelegramToken({ token: TOKEN })).toBe(TOKEN);
    expect(resolveTelegramToken({ tokenFile: 'token' }, {}, dir)).toBe(TOKEN);
    expect(resolveTelegramToken({}, { TRADELOOP_TELEGRAM_TOKEN: TOKEN })).toBe(TOKEN);
    expect(resolveTelegramToken({ tokenEnv: 'MY_BOT' }, { MY_BOT: ` ${TOKEN} ` })).toBe(TOKEN);
    expect(() => resolveTelegramToken({}, {})).toThrow('set the environment variable TRADELOOP_TELEGRAM_TOKEN');
    expect(() => resolveTelegramToken({ tokenFile: join(dir, 'nope') })).toThrow(/cannot read the token file .*nope: ENOENT/);
    writeFileSync(join(dir, 'empty'), '\n');
    expect(() => resolveTelegramToken({ tokenFile: join(dir, 'empty') })).toThrow(TelegramConfigError);
    expect(redactSecret(`GET https://api.telegram.org/bot${TOKEN}/getMe and ${encodeURIComponent(TOKEN)}`, TOKEN)).toBe('GET https://api.telegram.org/bot<redacted>/getMe and <redacted>');
    expect(redactSecret('https://x/bot123:abc/getMe', undefined)).toBe('https://x/bot<redacted>/getMe');
  });
});

// ------------------------------------------------------------------ configuration

describe('telegram configuration', () => {
  it('validates the section and names the bad field', () => {
    const ok = parseTelegramConfig({ tokenEnv: 'BOT', users: [{ id: 1, role: 'admin' }], publish: { perChatPerSecond: 0.5 } });
    expect(ok.users[0]!.role).toBe('admin');
    expect(() => parseTelegramConfig({ token: 'x', users: [{ id: 1, role: 'admin' }] })).toThrow('telegram.token: put the bot token in a file (tokenFile) or an environment variable (tokenEnv), not in the config');
    expect(() => parseTelegramConfig({ users: [{ id: 1, role: 'boss' }] })).toThrow(/^telegram\.users\[0\]\.role: /);
    expect(() => parseTelegramConfig({ users: [] })).toThrow('telegram.users: list at least one user (an admin)');
    expect(() => parseTelegramConfig({ users: [{ id: 1, role: 'admin' }, { id: 1, role: 'viewer' }] })).toThrow('telegram.users[1].id: user 1 is listed twice');
    expect(() => parseTelegramConfig({ users: [{ id: 1, role: 'admin' }], apiRoot: 'ftp://x' })).toThrow(/^telegram\.apiRoot: /);
    expect(() => parseTelegramConfig({ users: [{ id: 1, role: 'admin' }], publish: { burst: 3 } })).toThrow(/^telegram\.publish/);
  });

  it('startTelegramFromConfig starts a bot, or nothing when absent or disabled', async () => {
    const clock = new SimClock(START_US);
    const api = new FakeBotApi({ token: TOKEN, now: () => clock.now() });
    const apiRoot = await api.start();
    const { logger } = arrayLogger();
    try {
      expect(await startTelegramFromConfig(undefined, [], logger)).toBeUndefined();
      expect(await startTelegramFromConfig({ enabled: false, users: [{ id: 1, role: 'admin' }] }, [], logger)).toBeUndefined();
      const h = await envHarness();
      const tg = await startTelegramFromConfig({ tokenEnv: 'BOT_TOKEN', apiRoot, users: [{ id: ADMIN, role: 'viewer' }] }, [envControlTarget(h.env)], logger, { clock, env: { BOT_TOKEN: TOKEN } });
      expect(tg?.state).toBe('running');
      api.push(ADMIN, '/pnl');
      await api.waitFor(() => api.sent.length === 1);
      expect(api.sent[0]!.text).toBe('no fills yet: PnL 0');
      await tg!.stop();
      expect(tg!.state).toBe('stopped');
      await expect(startTelegramFromConfig({ users: [{ id: 1, role: 'admin' }] }, [], logger, { clock, env: {} })).rejects.toThrow(TelegramConfigError);
    } finally {
      await api.close();
    }
  });
});
