import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { OrderStatus, Side } from '../../src/api/index.js';
import type { StratParams } from '../../src/api/events.js';
import { SimClock } from '../../src/core/clock.js';
import {
  BUILTIN_COMMANDS,
  ControlCommands,
  ROLES,
  builtinCommand,
  isDangerousCommand,
  parseCommandLine,
  roleAllows,
  type Caller,
  type Role,
} from '../../src/control/commands.js';
import { ConsoleChannel } from '../../src/control/console.js';
import {
  CONTROL_HOOK,
  coerceParamValue,
  envControlTarget,
  gatewayControlTargets,
  remoteControlTarget,
  serveControlOp,
  type ControlResult,
  type ControlTarget,
} from '../../src/control/target.js';
import { CtlUsageError, connectControl, ctlCommand, runCtlCommand } from '../../src/cli/ctl-command.js';
import { Recorder, START_US, ackOf, arrayLogger, fillOf, order, running, type Harness } from '../core/env-fixtures.js';

// ------------------------------------------------------------------ a recording target

class FakeTarget implements ControlTarget {
  readonly calls: string[] = [];
  params_: StratParams = { qty: '100', spread: 2, live: true };
  constructor(
    readonly name: string,
    readonly hookNames: string[] = ['get_pnl', 'echo'],
  ) {}
  private act(what: string): Promise<ControlResult> {
    this.calls.push(what);
    return Promise.resolve({ ok: true, text: `${what} done` });
  }
  status() {
    this.calls.push('status');
    return Promise.resolve(`${this.name}: running`);
  }
  orders() {
    this.calls.push('orders');
    return Promise.resolve('no open orders');
  }
  positions() {
    this.calls.push('positions');
    return Promise.resolve('flat: no open positions');
  }
  pnl() {
    this.calls.push('pnl');
    return Promise.resolve('USD: net 1.00');
  }
  balance() {
    this.calls.push('balance');
    return Promise.resolve('USD 1000');
  }
  pause(reason: string) {
    return this.act(`pause(${reason})`);
  }
  resume() {
    return this.act('resume');
  }
  cancelAll() {
    return this.act('cancelAll');
  }
  flatten() {
    return this.act('flatten');
  }
  stop(o?: { flatten?: boolean }) {
    return this.act(o?.flatten ? 'stop(flatten)' : 'stop');
  }
  resetKillSwitch() {
    return this.act('resetKillSwitch');
  }
  params() {
    this.calls.push('params');
    return Promise.resolve({ ...this.params_ });
  }
  setParam(key: string, value: string) {
    this.calls.push(`set(${key}=${value})`);
    const c = coerceParamValue(this.params_[key], value);
    if (!(key in this.params_)) return Promise.resolve({ ok: false, reason: `unknown parameter '${key}'` });
    if (!c.ok) return Promise.resolve({ ok: false, reason: c.reason });
    this.params_ = { ...this.params_, [key]: c.value };
    return Promise.resolve({ ok: true });
  }
  runHook(name: string, args: string[]) {
    this.calls.push(`hook(${name} ${args.join(' ')})`);
    return Promise.resolve(this.hookNames.includes(name) ? `${name}: ${args.join(',')}` : `unknown command '${name}'`);
  }
  hooks() {
    return Promise.resolve([...this.hookNames]);
  }
}

const admin: Caller = { id: 1, role: 'admin' };
const trader: Caller = { id: 2, role: 'trader' };
const viewer: Caller = { id: 3, role: 'viewer' };
const callerOf = (role: Role): Caller => ({ id: role, role });

/** A ControlCommands over fake targets on a settable clock (ms). */
function setup(names = ['demo'], opts: { confirmations?: boolean; ttl?: number } = {}) {
  const t = { ms: 1_000_000 };
  const targets = names.map((n) => new FakeTarget(n));
  const { logger, lines } = arrayLogger();
  const cc = new ControlCommands({ targets, now: () => t.ms, confirmTtlMs: opts.ttl, confirmations: opts.confirmations, logger });
  return { cc, targets, t, lines, target: targets[0]! };
}

/** Every built-in command with arguments that make it valid, and the call it makes on the target. */
const EXAMPLES: Record<string, { line: string; call?: string }> = {
  help: { line: '/help' },
  status: { line: '/status', call: 'status' },
  orders: { line: '/orders', call: 'orders' },
  positions: { line: '/positions', call: 'positions' },
  pnl: { line: '/pnl', call: 'pnl' },
  balance: { line: '/balance', call: 'balance' },
  params: { line: '/params', call: 'params' },
  pause: { line: '/pause too volatile', call: 'pause(too volatile)' },
  resume: { line: '/resume', call: 'resume' },
  cancelall: { line: '/cancelall', call: 'cancelAll' },
  cmd: { line: '/cmd echo a b', call: 'hook(echo a b)' },
  flatten: { line: '/flatten', call: 'flatten' },
  stop: { line: '/stop', call: 'stop' },
  set: { line: '/set spread 3', call: 'set(spread=3)' },
  reset: { line: '/reset', call: 'resetKillSwitch' },
};

/** Runs a line, confirming it when it asks. */
async function runConfirmed(cc: ControlCommands, line: string, caller: Caller) {
  const r = await cc.execute(line, caller);
  if (r.confirmCode === undefined) return r;
  return cc.execute(`/confirm ${r.confirmCode}`, caller);
}

// ------------------------------------------------------------------ parsing

describe('command parsing', () => {
  it('accepts /cmd, cmd, /cmd@bot and aliases, case-insensitive', () => {
    expect(builtinCommand('/status')?.name).toBe('status');
    expect(builtinCommand('status')?.name).toBe('status');
    expect(builtinCommand('/Status@tradeloop_bot')?.name).toBe('status');
    expect(builtinCommand('/cancel_all')?.name).toBe('cancelall');
    expect(builtinCommand('/start')?.name).toBe('help');
    expect(builtinCommand('/nosuch')).toBeUndefined();
    expect(builtinCommand('toString')).toBeUndefined(); // no prototype keys
    expect(parseCommandLine('/set note "two words"')).toEqual(['/set', 'note', 'two words']);
  });

  it('knows which commands are dangerous', () => {
    const dangerous = Object.values(BUILTIN_COMMANDS)
      .filter((s) => s.dangerous)
      .map((s) => s.name)
      .sort();
    expect(dangerous).toEqual(['cancelall', 'flatten', 'reset', 'set', 'stop']);
    expect(isDangerousCommand('/stop demo')).toBe(true);
    expect(isDangerousCommand('status')).toBe(false);
  });

  it('has an example for every built-in command', () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(
      Object.keys(BUILTIN_COMMANDS)
        .filter((n) => n !== 'confirm')
        .sort(),
    );
  });

  it('answers unknown and empty lines with a pointer to /help', async () => {
    const { cc } = setup();
    expect(await cc.execute('/frobnicate', admin)).toMatchObject({ ok: false, text: expect.stringContaining('/help') });
    expect(await cc.execute('   ', admin)).toMatchObject({ ok: false });
  });
});

// ------------------------------------------------------------------ every command, every role

describe('built-in commands and roles', () => {
  it('runs every built-in command for an admin (confirming the dangerous ones)', async () => {
    for (const [name, ex] of Object.entries(EXAMPLES)) {
      const { cc, target } = setup();
      const r = await runConfirmed(cc, ex.line, admin);
      expect(r.ok, `${name}: ${r.text}`).toBe(true);
      if (ex.call) expect(target.calls, name).toContain(ex.call);
    }
  });

  it('replies with the target text', async () => {
    const { cc, target } = setup();
    expect(await cc.handle('/status', viewer)).toBe('demo: running');
    expect(await cc.handle('/params', viewer)).toBe('live = true\nqty = "100"\nspread = 2');
    expect(await runConfirmed(cc, '/set spread 3', admin)).toMatchObject({ ok: true, text: 'spread = 3 (onStratParamsUpdate sent)' });
    expect(target.params_.spread).toBe(3);
    expect(await cc.handle('/cmd echo x "y z"', trader)).toBe('echo: x,y z');
    expect(await cc.handle('/help', viewer)).not.toContain('/stop');
    const help = await cc.handle('/help', admin);
    for (const n of Object.keys(EXAMPLES)) expect(help).toContain(`/${n}`);
    expect(help).toContain('hooks: get_pnl, echo');
  });

  it('enforces viewer < trader < admin for every command', async () => {
    for (const [name, ex] of Object.entries(EXAMPLES)) {
      const needed = BUILTIN_COMMANDS[name]!.role;
      for (const role of ROLES) {
        const { cc, target, lines } = setup();
        const r = await cc.execute(ex.line, callerOf(role));
        if (roleAllows(role, needed)) {
          expect(r.text, `${role} ${name}`).not.toMatch(/needs the/);
        } else {
          expect(r, `${role} ${name}`).toMatchObject({ ok: false, text: `/${name} needs the ${needed} role (yours: ${role})` });
          expect(target.calls, `${role} ${name}`).toEqual([]);
          expect(lines.some((l) => l.msg === 'control command refused: role too low' && l.user === role)).toBe(true);
        }
      }
    }
  });

  it('maps the roles of the issue: viewer queries, trader hooks/pause/resume/cancel, admin stop/flatten/set/reset', () => {
    const byRole = (r: Role) =>
      Object.values(BUILTIN_COMMANDS)
        .filter((s) => s.role === r)
        .map((s) => s.name)
        .sort();
    expect(byRole('viewer')).toEqual(['balance', 'confirm', 'help', 'orders', 'params', 'pnl', 'positions', 'status']);
    expect(byRole('trader')).toEqual(['cancelall', 'cmd', 'pause', 'resume']);
    expect(byRole('admin')).toEqual(['flatten', 'reset', 'set', 'stop']);
  });

  it('refuses a bad /set value and an unknown key, and gives usage for missing arguments', async () => {
    const { cc, target } = setup(['demo'], { confirmations: false });
    expect(await cc.execute('/set spread abc', admin)).toMatchObject({ ok: false, text: 'refused: expected a number, got \'abc\'' });
    expect(await cc.execute('/set live maybe', admin)).toMatchObject({ ok: false });
    expect(await cc.execute('/set nosuch 1', admin)).toMatchObject({ ok: false, text: expect.stringContaining('unknown parameter') });
    expect(target.params_.spread).toBe(2);
    expect(await cc.execute('/set spread', admin)).toMatchObject({ ok: false, text: expect.stringContaining('usage: /set') });
    expect(await cc.execute('/cmd', trader)).toMatchObject({ ok: false, text: expect.stringContaining('usage: /cmd') });
    expect(await cc.execute('/stop now', admin)).toMatchObject({ ok: false, text: expect.stringContaining('usage: /stop') });
    expect(await cc.execute('/stop flatten', admin)).toMatchObject({ ok: true });
    expect(target.calls).toContain('stop(flatten)');
  });

  it('reports an unknown hook as a failure', async () => {
    const { cc } = setup();
    expect(await cc.execute('/cmd nosuch', trader)).toMatchObject({ ok: false, text: "unknown command 'nosuch'" });
  });

  it('turns a target that throws into a reply', async () => {
    const { cc, target } = setup();
    target.status = () => Promise.reject(new Error('link down'));
    expect(await cc.execute('/status', viewer)).toMatchObject({ ok: false, text: 'error: link down' });
  });
});

// ------------------------------------------------------------------ confirmations

describe('confirmations', () => {
  it('asks, then runs on /confirm <code> from the same user', async () => {
    const { cc, target, lines } = setup();
    const ask = await cc.execute('/stop', admin);
    expect(ask).toMatchObject({ ok: false, confirmCode: '1', text: 'Confirm /stop on demo: send /confirm 1 within 60 s.' });
    expect(target.calls).toEqual([]);
    expect(cc.pendingCount).toBe(1);
    const done = await cc.execute('/confirm 1', admin);
    expect(done).toMatchObject({ ok: true, text: 'stop done' });
    expect(target.calls).toEqual(['stop']);
    expect(await cc.execute('/confirm 1', admin)).toMatchObject({ ok: false, text: 'no pending confirmation 1' });
    expect(lines.filter((l) => l.msg === 'control command').map((l) => l.command)).toEqual(['stop']);
  });

  it('asks for every dangerous command: stop, flatten, cancel all, set, reset', async () => {
    for (const line of ['/stop', '/flatten', '/cancelall', '/set spread 4', '/reset']) {
      const { cc, target } = setup();
      const r = await cc.execute(line, admin);
      expect(r.confirmCode, line).toBeDefined();
      expect(target.calls, line).toEqual([]);
    }
    for (const line of ['/pause', '/resume', '/status', '/cmd echo']) {
      const { cc } = setup();
      expect((await cc.execute(line, admin)).confirmCode, line).toBeUndefined();
    }
  });

  it('expires after confirmTtlMs on the injected clock', async () => {
    const { cc, target, t } = setup(['demo'], { ttl: 30_000 });
    const ask = await cc.execute('/flatten', admin);
    expect(ask.text).toContain('within 30 s');
    t.ms += 30_000; // exactly at the limit: still valid
    const ask2 = await cc.execute('/stop', admin);
    expect(await cc.execute(`/confirm ${ask.confirmCode}`, admin)).toMatchObject({ ok: true });
    t.ms += 30_001;
    expect(await cc.execute(`/confirm ${ask2.confirmCode}`, admin)).toMatchObject({ ok: false, text: `confirmation ${ask2.confirmCode} expired; send /stop again` });
    expect(target.calls).toEqual(['flatten']);
    expect(cc.pendingCount).toBe(0);
  });

  it('binds a confirmation to the user who asked', async () => {
    const { cc, target } = setup();
    const ask = await cc.execute('/cancelall', trader);
    expect(await cc.execute(`/confirm ${ask.confirmCode}`, { id: 99, role: 'admin' })).toMatchObject({ ok: false, text: `no pending confirmation ${ask.confirmCode}` });
    expect(target.calls).toEqual([]);
    expect(await cc.execute(`/confirm ${ask.confirmCode}`, trader)).toMatchObject({ ok: true });
  });

  it('/confirm without a code confirms the only pending command', async () => {
    const { cc, target } = setup();
    expect(await cc.execute('/confirm', admin)).toMatchObject({ ok: false, text: 'nothing to confirm' });
    await cc.execute('/stop', admin);
    await cc.execute('/flatten', admin);
    expect((await cc.execute('/confirm', admin)).text).toBe('several commands wait: /confirm 1 or /confirm 2');
    await cc.execute('/confirm 2', admin);
    expect(await cc.execute('/confirm', admin)).toMatchObject({ ok: true, text: 'stop done' });
    expect(target.calls).toEqual(['flatten', 'stop']);
  });

  it('can be turned off (console, ctl)', async () => {
    const { cc, target } = setup(['demo'], { confirmations: false });
    expect(await cc.execute('/stop', admin)).toMatchObject({ ok: true });
    expect(target.calls).toEqual(['stop']);
  });
});

// ------------------------------------------------------------------ several strategies

describe('strategy selection (gateway)', () => {
  it('queries every strategy without a selector, one with it', async () => {
    const { cc, targets } = setup(['a', 'b']);
    expect(await cc.handle('/status', viewer)).toBe('a: a: running\nb: b: running');
    targets[1]!.orders = () => Promise.resolve('o1\no2');
    expect(await cc.handle('/orders', viewer)).toBe('[a]\nno open orders\n\n[b]\no1\no2');
    targets[0]!.calls.length = 0;
    expect(await cc.handle('/status b', viewer)).toBe('b: running');
    expect(targets[0]!.calls).toEqual([]);
  });

  it('refuses an action without a selector; runs it on one or all', async () => {
    const { cc, targets } = setup(['a', 'b']);
    expect(await cc.execute('/pause', trader)).toMatchObject({ ok: false, text: 'which strategy? /pause <strategy>|all [reason…] — one of: a, b' });
    expect(await cc.handle('/pause b spread too wide', trader)).toBe('pause(spread too wide) done');
    expect(targets.map((t) => t.calls)).toEqual([[], ['pause(spread too wide)']]);
    expect(await cc.handle('/resume all', trader)).toBe('a: resume done\nb: resume done');
    const ask = await cc.execute('/stop all', admin);
    expect(ask.text).toBe('Confirm /stop on a, b: send /confirm 1 within 60 s.');
    await cc.execute('/confirm 1', admin);
    expect(targets.map((t) => t.calls.at(-1))).toEqual(['stop', 'stop']);
  });

  it('needs a strategy for /set and /cmd, and never takes all', async () => {
    const { cc, targets } = setup(['a', 'b'], { confirmations: false });
    expect((await cc.execute('/cmd get_pnl', trader)).text).toContain('which strategy? /cmd <strategy> <hook>');
    expect(await cc.handle('/cmd a get_pnl', trader)).toBe('get_pnl: ');
    expect((await cc.execute('/set all spread 1', admin)).text).toContain('which strategy?');
    expect(await cc.execute('/set b spread 1', admin)).toMatchObject({ ok: true });
    expect(targets[1]!.params_.spread).toBe(1);
  });

  it('accepts the name of the only strategy, and says when none runs', async () => {
    const { cc, target } = setup(['demo']);
    expect(await cc.handle('/pause demo', trader)).toBe('pause() done');
    expect(target.calls).toEqual(['pause()']);
    const none = new ControlCommands({ targets: () => [], now: () => 0 });
    expect(await none.handle('/status', viewer)).toBe('no strategy is running');
  });

  it('re-resolves strategies at confirmation', async () => {
    let live = [new FakeTarget('a'), new FakeTarget('b')];
    const cc = new ControlCommands({ targets: () => live, now: () => 0 });
    await cc.execute('/stop b', admin);
    live = [live[0]!];
    expect(await cc.execute('/confirm 1', admin)).toMatchObject({ ok: false, text: 'b no longer running' });
  });
});

// ------------------------------------------------------------------ over a real StratEnv

/** A running env whose strategy registers hooks and has parameters. */
async function envHarness(params: StratParams = { qty: '5', spread: 2, live: true }): Promise<Harness> {
  const strat = new Recorder({
    behaviour: {
      onStart: (_ev, env) => {
        env.addCmdHook('get_x', (p) => `x=${p.join('+')}`);
        env.addCmdHook('boom', () => {
          throw new Error('bad hook');
        });
      },
    },
  });
  return running({ strat, params });
}

describe('envControlTarget over a StratEnv', () => {
  it('status, orders, positions, pnl from the tracker', async () => {
    const h = await envHarness();
    const t = envControlTarget(h.env);
    expect(t.name).toBe('rec');
    expect(await t.orders()).toBe('no open orders');
    expect(await t.positions()).toBe('flat: no open positions');
    expect(await t.pnl()).toBe('no fills yet: PnL 0');

    const id = h.env.sendNewOrder(order({ qty: '5', price: '100.01' }));
    h.venue.emit('onNewOrderAck', ackOf(h.venue.requests.at(-1)!));
    h.venue.emit('onOrderExecution', fillOf(id, Side.Buy, '100.01', '2', '3'));
    await h.env.idle();
    expect(await t.orders()).toBe(`${id} Buy 3/5 nasdaq:equity:amzn @ 100.01 ${OrderStatus.PartiallyFilled}`);
    expect(await t.positions()).toBe('nasdaq:equity:amzn +2 @ 100.01 (unrealised 0.00, realised 0.00)');
    expect(await t.pnl()).toBe('USD: realised 0.00, unrealised 0.00, fees 0.00, net 0.00');
    const status = await t.status();
    expect(status).toContain('rec: running');
    expect(status).toContain('2012-06-21T13:30:00.000Z');
    expect(status).toContain('open orders 1, positions 1 (nasdaq:equity:amzn +2)');
    expect(status).toContain('orders sent 1, fills 1, USD net 0.00');
    expect(await t.balance()).toMatch(/not available|USD/);
    expect(await envControlTarget(h.env, { balances: () => ({ USD: '1000.5' }) }).balance()).toBe('USD 1000.5');
  });

  it('/cmd reaches an addCmdHook hook through the dispatcher; a failing hook is a failure', async () => {
    const h = await envHarness();
    const cc = new ControlCommands({ targets: [envControlTarget(h.env)], now: () => 0 });
    expect(await cc.execute('/cmd get_x a b', trader)).toEqual({ ok: true, text: 'x=a+b' });
    expect(await cc.execute('/cmd boom', trader)).toMatchObject({ ok: false, text: "command 'boom' failed: bad hook" });
    expect(await cc.execute('/cmd nope', trader)).toMatchObject({ ok: false, text: expect.stringContaining("unknown command 'nope'") });
    expect(await cc.handle('/help', trader)).toContain('hooks: boom, get_x');
  });

  it('/set converts to the parameter type and calls onStratParamsUpdate; bad values and unknown keys are refused', async () => {
    const h = await envHarness();
    const strat = h.strat;
    const cc = new ControlCommands({ targets: [envControlTarget(h.env)], now: () => 0, confirmations: false });
    expect(await cc.execute('/set spread 3.5', admin)).toEqual({ ok: true, text: 'spread = 3.5 (onStratParamsUpdate sent)' });
    expect(await cc.execute('/set qty 7', admin)).toEqual({ ok: true, text: 'qty = "7" (onStratParamsUpdate sent)' });
    expect(await cc.execute('/set live off', admin)).toMatchObject({ ok: true });
    await h.env.idle();
    expect(strat.events('onStratParamsUpdate').at(-1)).toEqual({ qty: '7', spread: 3.5, live: false });
    const before = strat.events('onStratParamsUpdate').length;
    expect(await cc.execute('/set spread wide', admin)).toEqual({ ok: false, text: "refused: spread: expected a number, got 'wide'" });
    expect(await cc.execute('/set sprad 3', admin)).toEqual({ ok: false, text: "refused: unknown parameter 'sprad' (known: live, qty, spread)" });
    await h.env.idle();
    expect(strat.events('onStratParamsUpdate').length).toBe(before);
    expect(await cc.handle('/params', viewer)).toBe('live = false\nqty = "7"\nspread = 3.5');
  });

  it('/set reports a refusal from a validating updateParams', async () => {
    const h = await envHarness();
    Object.defineProperty(h.env, 'updateParams', { value: () => ({ ok: false, reason: 'spread: must be ≤ 10' }) });
    const r = await envControlTarget(h.env).setParam('spread', '50');
    expect(r).toEqual({ ok: false, reason: 'spread: must be ≤ 10' });
  });

  it('/cancelall cancels every open order at the venue', async () => {
    const h = await envHarness();
    const a = h.env.sendNewOrder(order());
    const b = h.env.sendNewOrder(order({ price: '100.00' }));
    for (const r of h.venue.requests.slice(-2)) h.venue.emit('onNewOrderAck', ackOf(r));
    await h.env.idle();
    const cc = new ControlCommands({ targets: [envControlTarget(h.env)], now: () => 0, confirmations: false });
    expect(await cc.execute('/cancelall', trader)).toEqual({ ok: true, text: 'cancel sent for 2 open orders' });
    const cancels = h.venue.requests.filter((r) => r.type === 'CancelOrder').map((r) => (r as { clientId: string }).clientId);
    expect(cancels).toEqual([a, b]);
  });

  it('delegates pause, resume, flatten, stop and reset to the env controls when it has them', async () => {
    const h = await envHarness();
    const env = h.env;
    const calls: string[] = [];
    let tripped: string | undefined = 'daily loss 500 reached dailyLossLimit 400';
    Object.defineProperty(env, 'pause', { value: (r: string) => void calls.push(`pause:${r}`) });
    Object.defineProperty(env, 'resume', { value: () => void (calls.push('resume'), (tripped = undefined)) });
    Object.defineProperty(env, 'flatten', { value: () => void calls.push('flatten') });
    Object.defineProperty(env, 'gracefulStop', { value: (o: { flatten: boolean }) => (calls.push(`gracefulStop:${o.flatten}`), new Promise(() => undefined)) });
    Object.defineProperty(env, 'paused', { get: () => true });
    Object.defineProperty(env, 'pausedReason', { get: () => (tripped ? `kill switch: ${tripped}` : 'by hand') });
    Object.defineProperty(env, 'killSwitch', { get: () => ({ state: tripped ? 'tripped' : 'armed', reason: tripped }) });
    const t = envControlTarget(env);
    expect(await t.status()).toContain('rec: running, PAUSED (kill switch: daily loss 500 reached dailyLossLimit 400)');
    expect(await t.pause('news')).toEqual({ ok: true, text: 'paused (news)' });
    // A trader's resume does not reset a tripped kill switch.
    expect(await t.resume()).toEqual({ ok: false, text: 'the kill switch is tripped (daily loss 500 reached dailyLossLimit 400): an admin must /reset it' });
    expect(await t.resetKillSwitch()).toEqual({ ok: true, text: 'kill switch reset, trading resumed' });
    expect(await t.resetKillSwitch()).toEqual({ ok: true, text: 'the kill switch is not tripped: nothing to reset' });
    expect(await t.resume()).toEqual({ ok: true, text: 'resumed' });
    expect(await t.flatten()).toMatchObject({ ok: true });
    // gracefulStop resolves on the strategy's ack: the reply does not wait for it.
    expect(await t.stop({ flatten: true })).toMatchObject({ ok: true, text: expect.stringContaining('positions being closed') });
    expect(calls).toEqual(['pause:news', 'resume', 'resume', 'flatten', 'gracefulStop:true']);
  });

  it('answers "not supported" for controls the env lacks, and stops with env.stop()', async () => {
    const h = await envHarness();
    for (const k of ['pause', 'resume', 'flatten', 'gracefulStop', 'cancelAllOpen']) Object.defineProperty(h.env, k, { value: undefined });
    Object.defineProperty(h.env, 'killSwitch', { value: undefined });
    const t = envControlTarget(h.env);
    expect(await t.pause('x')).toEqual({ ok: false, text: 'pause is not supported by this environment' });
    expect(await t.resume()).toMatchObject({ ok: false });
    expect(await t.flatten()).toMatchObject({ ok: false });
    expect(await t.resetKillSwitch()).toMatchObject({ ok: false });
    expect(await t.cancelAll()).toEqual({ ok: true, text: 'no open orders' });
    expect(await t.stop()).toMatchObject({ ok: true });
    await h.env.idle();
    expect(h.strat.names()).toContain('onStop');
    expect(h.env.state).toBe('stopped');
    expect(await t.stop()).toEqual({ ok: false, text: 'the strategy is stopped' });
  });
});

// ------------------------------------------------------------------ remote targets

describe('remote targets', () => {
  it('serveControlOp ↔ remoteControlTarget round-trip every operation', async () => {
    const local = new FakeTarget('demo');
    const remote = remoteControlTarget('demo', (op, args) => serveControlOp(local, op, args));
    const cc = new ControlCommands({ targets: [remote], now: () => 0, confirmations: false });
    for (const [name, ex] of Object.entries(EXAMPLES)) {
      const r = await cc.execute(ex.line, admin);
      expect(r.ok, `${name}: ${r.text}`).toBe(true);
      if (ex.call) expect(local.calls, name).toContain(ex.call);
    }
    expect(await remote.setParam('spread', 'x')).toEqual({ ok: false, reason: "expected a number, got 'x'" });
    expect(await remote.stop({ flatten: true })).toMatchObject({ ok: true });
    expect(local.calls.at(-1)).toBe('stop(flatten)');
    expect(await serveControlOp(local, 'bogus', [])).toEqual({ ok: false, text: "unknown control operation 'bogus'" });
  });

  it('gatewayControlTargets sends cmd frames for the reserved hook to each connected strategy', async () => {
    const sent: Array<[string, string, readonly string[]]> = [];
    const local = new FakeTarget('s1');
    const server = {
      connectedStrategies: () => ['s1', 's2'],
      sendCommand: async (s: string, name: string, params: readonly string[] = []) => {
        sent.push([s, name, params]);
        if (s === 's2') throw new Error('strategy s2 did not answer status within 10000 ms');
        const r = await serveControlOp(local, params[0]!, params.slice(1));
        if (!r.ok) throw new Error(r.text);
        return r.text;
      },
    };
    const cc = new ControlCommands({ targets: () => gatewayControlTargets(server), now: () => 0 });
    expect(await cc.execute('/status', viewer)).toEqual({ ok: false, text: 's1: s1: running\ns2: error: strategy s2 did not answer status within 10000 ms' });
    expect(await cc.handle('/pause s1 why', trader)).toBe('pause(why) done');
    expect(sent.at(-1)).toEqual(['s1', CONTROL_HOOK, ['pause', 'why']]);
  });
});

// ------------------------------------------------------------------ console

describe('console channel', () => {
  async function consoleOn(h: Harness) {
    const input = new PassThrough();
    const out: string[] = [];
    const ch = new ConsoleChannel(input, (t) => out.push(t));
    ch.attach(h.env);
    return { ch, out, input };
  }

  it('keeps cmd <hook>, bare hooks and help; routes built-ins as admin without confirmation', async () => {
    const h = await envHarness();
    const { ch, out } = await consoleOn(h);
    expect(await ch.handle(h.env, 'cmd get_x 1')).toBe('x=1');
    expect(await ch.handle(h.env, 'get_x 2')).toBe('x=2');
    expect(await ch.handle(h.env, 'cmd nosuch')).toMatch(/^unknown command 'nosuch'/);
    await ch.handle(h.env, 'help');
    expect(out.at(-1)).toMatch(/^\[help\] commands: boom, get_x \(type: cmd <name> \[args…\]\); built-in: status, orders/);
    expect(await ch.handle(h.env, 'status')).toContain('rec: running');
    expect(out.at(-1)).toMatch(/^\[status\] rec: running/);
    expect(await ch.handle(h.env, '/set spread 9')).toBe('spread = 9 (onStratParamsUpdate sent)');
    expect(out.at(-1)).toBe('[set] spread = 9 (onStratParamsUpdate sent)');
    expect(await ch.handle(h.env, 'set spread nine')).toMatch(/^refused/);
    Object.defineProperty(h.env, 'pause', { value: vi.fn() });
    expect(await ch.handle(h.env, 'pause lunch')).toBe('paused (lunch)');
    expect(h.env.pause).toHaveBeenCalledWith('lunch');
    ch.close();
  });

  it('reads lines from its stream', async () => {
    const h = await envHarness();
    const { ch, out, input } = await consoleOn(h);
    input.write('cmd get_x a\norders\n');
    await vi.waitFor(() => expect(out).toHaveLength(2));
    expect(out).toEqual(['[get_x] x=a', '[orders] no open orders']);
    ch.close();
  });
});

// ------------------------------------------------------------------ tradeloop ctl

describe('tradeloop ctl', () => {
  it('runs a command as admin; dangerous commands need --yes', async () => {
    const t = new FakeTarget('demo');
    expect(await runCtlCommand(t, ['status'])).toEqual({ code: 0, text: 'demo: running' });
    expect(await runCtlCommand(t, ['stop'])).toEqual({ code: 2, text: "'stop' is a dangerous command: add --yes to run it" });
    expect(t.calls).toEqual(['status']);
    expect(await runCtlCommand(t, ['stop'], { yes: true })).toEqual({ code: 0, text: 'stop done' });
    expect(await runCtlCommand(t, ['set', 'spread', 'x'], { yes: true })).toMatchObject({ code: 1 });
    expect(await runCtlCommand(t, ['cmd', 'echo', 'two words'])).toEqual({ code: 0, text: 'echo: two words' });
    expect(await runCtlCommand(t, [])).toMatchObject({ code: 2 });
  });

  it('ctlCommand reads the token, connects, prints and closes', async () => {
    const t = new FakeTarget('demo');
    const out: string[] = [];
    let closed = 0;
    const seen: string[] = [];
    const connect = async (o: { url: string; token: string; name: string }) => {
      seen.push(o.url, o.token, o.name);
      return { target: t, close: async () => void closed++ };
    };
    const code = await ctlCommand(['pnl'], { gateway: 'ws://127.0.0.1:1/gw', name: 'demo' }, { out: (s) => out.push(s), env: { TRADELOOP_CTL_TOKEN: 'sekrit' }, connect, clock: new SimClock(START_US) });
    expect(code).toBe(0);
    expect(out).toEqual(['USD: net 1.00\n']);
    expect(seen).toEqual(['ws://127.0.0.1:1/gw', 'sekrit', 'demo']);
    expect(closed).toBe(1);
    await expect(ctlCommand(['pnl'], { gateway: 'http://x', name: 'demo' }, { out: () => undefined, env: {} })).rejects.toThrow(CtlUsageError);
    await expect(ctlCommand(['pnl'], { gateway: 'ws://x', name: 'demo' }, { out: () => undefined, env: {} })).rejects.toThrow(/no control token/);
  });

  /** A WebSocket server speaking the proposed control frames (or refusing them like a v1 gateway). */
  async function controlServer(mode: 'control' | 'v1', target: ControlTarget) {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const frames: Array<Record<string, unknown>> = [];
    wss.on('connection', (ws: WsSocket) => {
      let seq = 0;
      const send = (b: Record<string, unknown>) => ws.send(JSON.stringify({ v: 1, seq: ++seq, ...b }));
      ws.on('message', async (data) => {
        const f = JSON.parse(String(data)) as Record<string, unknown>;
        frames.push(f);
        if (mode === 'v1' && f.type !== 'logout') return send({ type: 'error', code: 4002, reason: `unknown type '${String(f.type)}'`, reqId: f.reqId });
        if (f.type === 'control_login') {
          if (f.token !== 'tok') return send({ type: 'error', code: 4011, reason: 'bad credentials', reqId: f.reqId, fatal: true });
          return send({ type: 'control_ack', reqId: f.reqId, strategies: [target.name] });
        }
        if (f.type === 'control') {
          const r = await serveControlOp(target, String(f.op), f.args as string[]);
          return send({ type: 'control_result', reqId: f.reqId, ...r });
        }
      });
    });
    const { port } = wss.address() as { port: number };
    return { url: `ws://127.0.0.1:${port}`, frames, close: () => new Promise<void>((r) => wss.close(() => r())) };
  }

  it('connectControl speaks control_login / control over WebSocket', async () => {
    const t = new FakeTarget('demo');
    const srv = await controlServer('control', t);
    const out: string[] = [];
    try {
      const code = await ctlCommand(['pause', 'lunch break'], { gateway: srv.url, name: 'demo' }, { out: (s) => out.push(s), env: { TRADELOOP_CTL_TOKEN: 'tok' } });
      expect(code).toBe(0);
      expect(out).toEqual(['pause(lunch break) done\n']);
      await vi.waitFor(() => expect(srv.frames.map((f) => f.type)).toEqual(['control_login', 'control', 'logout']));
      expect(srv.frames[1]).toMatchObject({ v: 1, seq: 2, strategy: 'demo', op: 'pause', args: ['lunch break'] });
      await expect(ctlCommand(['status'], { gateway: srv.url, name: 'demo' }, { out: () => undefined, env: { TRADELOOP_CTL_TOKEN: 'wrong' } })).rejects.toThrow('refused the control token');
      await expect(ctlCommand(['status'], { gateway: srv.url, name: 'other' }, { out: () => undefined, env: { TRADELOOP_CTL_TOKEN: 'tok' } })).rejects.toThrow('strategy other is not connected');
    } finally {
      await srv.close();
    }
  });

  it('says so when the gateway does not know control frames yet', async () => {
    const srv = await controlServer('v1', new FakeTarget('demo'));
    try {
      await expect(ctlCommand(['status'], { gateway: srv.url, name: 'demo' }, { out: () => undefined, env: { TRADELOOP_CTL_TOKEN: 'tok' } })).rejects.toThrow(/does not accept control clients yet/);
      const clock = new SimClock(START_US);
      await expect(connectControl({ url: 'ws://127.0.0.1:1', token: 't', name: 'd', clock, timeoutMs: 1000 })).rejects.toThrow(/cannot reach the gateway/);
    } finally {
      await srv.close();
    }
  });
});
