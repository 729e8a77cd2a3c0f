/**
 * `tradeloop gateway` with its control channels configured: the `telegram` section steers
 * every connected strategy (through the reserved `tradeloop.ctl` hook the strategy's
 * `RemoteEnv` answers), and `controlTokens` (here from the environment) let
 * `tradeloop ctl` in. The gateway runs in-process (`gatewayCommand`); the Bot API is a
 * local fake.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StratParams } from '../../src/api/events.js';
import { BaseStrategy, type IStratEnv } from '../../src/api/strategy.js';
import { LiveClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { CTL_TOKEN_ENV, ctlCommand } from '../../src/cli/ctl-command.js';
import { gatewayCommand } from '../../src/cli/gateway-command.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { GatewayClient } from '../../src/gateway/client.js';
import { RemoteEnv } from '../../src/gateway/remote-env.js';
import { FakeBotApi } from '../control/fake-bot-api.js';
import { until } from '../gateway/fake-gateway.js';

const BOT_TOKEN = 'gw-bot-SECRET-2718';
const CTL_TOKEN = 'gw-ctl-token-3141';
const ADMIN = 2001;
const VIEWER = 2002;

class Quoter extends BaseStrategy {
  readonly updates: StratParams[] = [];
  constructor(private readonly login: string) {
    super({});
  }
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login(this.login);
  }
  override onStratParamsUpdate(p: StratParams) {
    this.updates.push(p);
  }
}

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('tradeloop gateway with telegram and controlTokens', () => {
  it('steers every connected strategy from Telegram, and lets tradeloop ctl in', async () => {
    const api = new FakeBotApi({ token: BOT_TOKEN, now: () => Date.now() * 1000 });
    const apiRoot = await api.start();
    cleanup.push(() => api.close());
    const dir = mkdtempSync(join(tmpdir(), 'tl-gwctl-'));
    const file = join(dir, 'gw.json');
    writeFileSync(
      file,
      JSON.stringify({
        listen: { port: 0 },
        tokens: { alpha: 'alpha-secret-1', beta: 'beta-secret-2' },
        controlTokens: { ops: { tokenEnv: 'TL_GW_CTL' } },
        store: { path: ':memory:' },
        venues: [{ kind: 'synthetic', exchange: 'SYN', events: 100_000, seed: 2, speed: 5 }],
        telegram: { tokenEnv: 'TL_GW_BOT', apiRoot, users: [{ id: ADMIN, role: 'admin' }, { id: VIEWER, role: 'viewer' }], publish: { perChatPerSecond: 100 } },
      }),
    );
    let out = '';
    let stop!: (sig: string) => void;
    const stopSignal = new Promise<string>((resolve) => (stop = resolve));
    const running = gatewayCommand({ config: file, logLevel: 'silent' }, { out: (t) => (out += t), stopSignal, env: { TL_GW_BOT: BOT_TOKEN, TL_GW_CTL: CTL_TOKEN } });
    await until(() => /listening on (ws:\S+)/.test(out), 30_000, 'the listening line');
    const url = /listening on (ws:\S+)/.exec(out)![1]!;

    const strategies: Record<string, { strategy: Quoter; remote: RemoteEnv }> = {};
    for (const [name, token] of [['alpha', 'alpha-secret-1'], ['beta', 'beta-secret-2']] as const) {
      const clock = new LiveClock();
      const strategy = new Quoter(name);
      const remote = new RemoteEnv({ strategy, client: new GatewayClient({ url, strategy: name, token, clock, logger: silentLogger() }), clock, logger: silentLogger(), params: { orderQty: '100' } });
      cleanup.push(async () => {
        await remote.stop({ timeoutMs: 1_000, drainMs: 100 });
        clock.cancelAll();
      });
      expect(await remote.start()).toBe(true);
      strategies[name] = { strategy, remote };
    }

    const tell = async (from: number, text: string): Promise<string> => {
      const before = api.sentTo(from).length;
      api.push(from, text);
      await api.waitFor(() => api.sentTo(from).length > before, 20_000, `a reply to ${text}`);
      return api.sentTo(from).at(-1)!.text;
    };
    await api.waitFor(() => api.calls.includes('getUpdates'), 20_000, 'the bot polling');

    // A query answers for every strategy; an action needs a name (or all).
    const status = await tell(ADMIN, '/status');
    expect(status).toMatch(/^\[alpha\]\nalpha: running at /m);
    expect(status).toMatch(/^\[beta\]\nbeta: running at /m);
    expect(await tell(ADMIN, '/pause lunch')).toMatch(/^which strategy\? \/pause <strategy>\|all/);
    expect(await tell(ADMIN, '/pause beta lunch')).toBe('paused (lunch)');
    expect(strategies.beta!.remote.env!.paused).toBe(true);
    expect(strategies.alpha!.remote.env!.paused).toBe(false);
    expect(await tell(VIEWER, '/resume beta')).toBe('/resume needs the trader role (yours: viewer)');
    expect(await tell(ADMIN, '/resume beta')).toBe('resumed');

    // /set asks for a confirmation, then reaches the strategy's onStratParamsUpdate.
    expect(await tell(ADMIN, '/set alpha orderQty 250')).toMatch(/^Confirm \/set orderQty 250 on alpha: send \/confirm (\d+) within 60 s\.$/);
    expect(await tell(ADMIN, '/confirm')).toBe('orderQty = "250" (onStratParamsUpdate sent)');
    expect(strategies.alpha!.strategy.updates.at(-1)).toEqual({ orderQty: '250' });

    // tradeloop ctl with the control token of the config (read from the environment).
    let ctlOut = '';
    const code = await ctlCommand(['params'], { gateway: url, name: 'alpha', timeoutMs: 5_000 }, { out: (t) => (ctlOut += t), env: { [CTL_TOKEN_ENV]: CTL_TOKEN } });
    expect([code, ctlOut]).toEqual([0, 'orderQty = "250"\n']);

    stop('SIGTERM');
    expect(await running).toBe(0);
    expect(out).toMatch(/gateway stopped/);
  }, 60_000);
});

describe('gateway config: controlTokens and telegram', () => {
  const BASE = { listen: { port: 0 }, tokens: { alpha: 'alpha-secret' }, store: { path: ':memory:' }, venues: [{ kind: 'synthetic', exchange: 'SYN' }] };
  const MUTUAL = { port: 0, tls: { certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: 'clients.pem' } };
  it('resolves control tokens (default role admin, from the environment) and a relative tokenFile', () => {
    const c = parseGatewayConfig(
      { ...BASE, controlTokens: { ops: 'ops-token', desk: { tokenEnv: 'TL_DESK', role: 'trader' } }, telegram: { tokenFile: 'bot.token', users: [{ id: 1, role: 'admin' }] } },
      { env: { TL_DESK: 'desk-token' }, baseDir: '/etc/tradeloop' },
    );
    expect(c.controlTokens).toEqual({ ops: { token: 'ops-token', role: 'admin' }, desk: { token: 'desk-token', role: 'trader' } });
    expect(c.telegram?.tokenFile).toBe('/etc/tradeloop/bot.token');
    expect(parseGatewayConfig(BASE).controlTokens).toEqual({});
  });

  it('binds a control client to client certificate names (clientCertNames), only with client certificates', () => {
    const c = parseGatewayConfig({ ...BASE, listen: MUTUAL, controlTokens: { ops: { token: 'ops-token', clientCertNames: ['ops-1', 'ops.example'] }, watch: { tokenEnv: 'TL_W', role: 'viewer' } } }, { env: { TL_W: 'w-token' } });
    expect(c.controlTokens).toEqual({ ops: { token: 'ops-token', role: 'admin', clientCertNames: ['ops-1', 'ops.example'] }, watch: { token: 'w-token', role: 'viewer' } });
  });

  it('refuses bad control tokens with one line naming the field, never the token', () => {
    const bad = (controlTokens: unknown, env: Record<string, string> = {}) => () => parseGatewayConfig({ ...BASE, controlTokens }, { file: 'gw.json', env });
    expect(bad({ ops: 'alpha-secret' })).toThrow('gw.json: controlTokens.ops: a control token must differ from every strategy token');
    expect(bad({ ops: { tokenEnv: 'TL_NOPE' } })).toThrow('gw.json: controlTokens.ops.tokenEnv: environment variable TL_NOPE is not set');
    expect(bad({ ops: { token: 'x', tokenEnv: 'Y' } })).toThrow(/^gw\.json: controlTokens\.ops: give exactly one of token, tokenEnv$/);
    expect(bad({ ops: { token: 'x', role: 'boss' } })).toThrow(/^gw\.json: controlTokens\.ops\.role: /);
    expect(bad({ ops: 'alpha-secret' })).not.toThrow(/alpha-secret/);
    expect(bad({ ops: { token: 'x', clientCertNames: ['ops-1'] } })).toThrow('gw.json: controlTokens.ops.clientCertNames: needs listen.tls.clientCaFile (client certificates)');
    expect(() => parseGatewayConfig({ ...BASE, listen: MUTUAL, controlTokens: { ops: { token: 'x', clientCertNames: [] } } }, { file: 'gw.json' })).toThrow(/^gw\.json: controlTokens\.ops/);
    expect(() => parseGatewayConfig({ ...BASE, telegram: { token: 'x', users: [{ id: 1, role: 'admin' }] } }, { file: 'gw.json' })).toThrow(/^gw\.json: telegram\.token: put the bot token in a file/);
  });
});
