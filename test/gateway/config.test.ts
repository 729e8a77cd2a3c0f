/**
 * The gateway configuration file: defaults, token resolution, paths, and one-line errors
 * that name the bad field (and never show a token).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GatewayConfigError, loadGatewayConfig, parseGatewayConfig, rateLimitOf } from '../../src/gateway/config.js';
import { DEFAULT_LIMITS } from '../../src/gateway/protocol.js';
import { ROOT } from '../helpers.js';

const BASE = {
  listen: { port: 0 },
  tokens: { alpha: 'alpha-secret' },
  store: { path: ':memory:' },
  venues: [{ kind: 'synthetic', exchange: 'SYN' }],
};

function error(v: unknown, env: Record<string, string> = {}): string {
  try {
    parseGatewayConfig(v, { file: 'gw.json', env });
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayConfigError);
    const msg = (e as Error).message;
    expect(msg.split('\n')).toHaveLength(1);
    return msg;
  }
  throw new Error('expected an error');
}

describe('gateway config', () => {
  it('fills the defaults', () => {
    const c = parseGatewayConfig(BASE);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 0, path: '/v1' });
    expect(c.tokens).toEqual({ alpha: 'alpha-secret' });
    expect(c.store).toEqual({ path: ':memory:', synchronous: 'FULL', groupCommit: true, writeBehind: false });
    expect(parseGatewayConfig({ ...BASE, store: { path: 'o.db', writeBehind: true, logSizeMb: 16 } }, { baseDir: '/srv' }).store).toEqual({ path: '/srv/o.db', synchronous: 'FULL', groupCommit: true, writeBehind: true, logSizeMb: 16 });
    // Write-behind NORMAL: no group commit unless asked for.
    expect(parseGatewayConfig({ ...BASE, store: { path: 'o.db', writeBehind: true, synchronous: 'NORMAL' } }).store.groupCommit).toBe(false);
    expect(parseGatewayConfig({ ...BASE, store: { path: 'o.db', writeBehind: true, synchronous: 'NORMAL', groupCommit: true } }).store.groupCommit).toBe(true);
    expect(error({ ...BASE, store: { path: ':memory:', writeBehind: true } })).toMatch(/store\.writeBehind: writeBehind needs a file/);
    expect(error({ ...BASE, store: { path: 'o.db', logSizeMb: 16 } })).toMatch(/store\.logSizeMb: logSizeMb needs writeBehind: true/);
    for (const bad of [0, 1.5, 5000]) expect(error({ ...BASE, store: { path: 'o.db', writeBehind: true, logSizeMb: bad } })).toMatch(/store\.logSizeMb/);
    expect(parseGatewayConfig({ ...BASE, store: { path: 'o.db', writeBehind: true, applierPriority: 'low' } }).store.applierPriority).toBe('low');
    expect(error({ ...BASE, store: { path: 'o.db', writeBehind: true, applierPriority: 'high' } })).toMatch(/store\.applierPriority/);
    expect(error({ ...BASE, store: { path: 'o.db', applierPriority: 'low' } })).toMatch(/store\.applierPriority: applierPriority needs writeBehind: true/);
    expect(error({ ...BASE, store: { path: 'o.db', writeBehind: true, walRestartFrames: 5000 } })).toMatch(/store\.walRestartFrames: walRestartFrames is for the plain store/);
    expect(parseGatewayConfig({ ...BASE, store: { path: ':memory:', groupCommit: false } }).store.groupCommit).toBe(false);
    expect(error({ ...BASE, store: { path: ':memory:', groupCommit: 'yes' } })).toMatch(/store\.groupCommit/);
    expect(parseGatewayConfig({ ...BASE, store: { path: ':memory:', walRestartFrames: 5000 } }).store.walRestartFrames).toBe(5000);
    for (const bad of [0, 1.5, '5000']) expect(error({ ...BASE, store: { path: ':memory:', walRestartFrames: bad } })).toMatch(/store\.walRestartFrames/);
    expect(c.listen.tls).toBeUndefined();
    const tls = parseGatewayConfig({ ...BASE, listen: { port: 0, tls: { certFile: 'tls/cert.pem', keyFile: '/abs/key.pem' } } }, { baseDir: '/etc/tradeloop' }).listen.tls;
    expect(tls).toEqual({ certFile: '/etc/tradeloop/tls/cert.pem', keyFile: '/abs/key.pem' });
    const mutual = parseGatewayConfig({ ...BASE, listen: { port: 0, tls: { certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: 'clients.pem' } } }, { baseDir: '/etc/tradeloop' }).listen.tls;
    expect(mutual).toEqual({ certFile: '/etc/tradeloop/c.pem', keyFile: '/etc/tradeloop/k.pem', clientCaFile: '/etc/tradeloop/clients.pem' });
    expect(error({ ...BASE, listen: { port: 0, tls: { certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: '' } } })).toMatch(/listen\.tls\.clientCaFile/);
    const revoking = parseGatewayConfig({ ...BASE, listen: { port: 0, tls: { certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: 'clients.pem', crlFile: 'crl/clients.pem' } } }, { baseDir: '/etc/tradeloop' }).listen.tls;
    expect(revoking?.crlFile).toBe('/etc/tradeloop/crl/clients.pem');
    expect(error({ ...BASE, listen: { port: 0, tls: { certFile: 'c.pem', keyFile: 'k.pem', crlFile: 'crl.pem' } } })).toMatch(/listen\.tls\.crlFile: crlFile needs clientCaFile/);
    expect(error({ ...BASE, listen: { port: 0, tls: { certFile: 'c.pem' } } })).toMatch(/listen\.tls\.keyFile/);
    expect(error({ ...BASE, listen: { port: 0, tls: { certFile: 'c.pem', keyFile: 'k.pem', ca: 'x' } } })).toMatch(/listen\.tls/);
    expect(c.clock).toEqual({ spinBelowUs: 0 });
    expect(parseGatewayConfig({ ...BASE, clock: { spinBelowUs: 300 } }).clock).toEqual({ spinBelowUs: 300 });
    for (const bad of [-1, 1001, 2.5, '300']) expect(error({ ...BASE, clock: { spinBelowUs: bad } })).toMatch(/clock\.spinBelowUs/);
    expect(error({ ...BASE, clock: { spin: 1 } })).toMatch(/clock/);
    expect(c.limits).toEqual(DEFAULT_LIMITS);
    expect(c.rateLimit).toBeUndefined();
    expect(c.sessionTakeover).toBe('replace');
    expect(c).toMatchObject({ cmdTimeoutMs: 10_000, shutdownGraceMs: 200, mdRowsPerFrame: 2000 });
    expect(c.venues[0]).toMatchObject({ kind: 'synthetic', exchange: 'SYN', events: 1_000_000, seed: 1, speed: 1, loop: true, instrument: { exchange: 'SYN' } });
  });

  it('reads the example file (tokens from the environment, paths relative to the file)', () => {
    const c = loadGatewayConfig(join(ROOT, 'docs/gateway.example.json'), { TRADELOOP_TOKEN_PAPER_1: 'from-env' });
    expect(c.tokens).toEqual({ 'demo-mm': 'change-me-demo-mm-token', 'paper-1': 'from-env' });
    expect(c.store.path).toBe(join(ROOT, 'out/gateway/orders.db'));
    expect(c.venues.map((v) => [v.kind, v.exchange])).toEqual([
      ['replay', 'NASDAQ'],
      ['synthetic', 'SYNTH'],
    ]);
    expect(c.venues[0]).toMatchObject({ data: join(ROOT, 'data/lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv'), speed: 1, loop: true });
    expect(c.venues[0]!.sim.bookQueueModel).toBeTypeOf('function');
    expect(rateLimitOf(c.rateLimit, 'demo-mm')).toEqual({ limit: 100, windowMs: 1000 });
    expect(rateLimitOf(c.rateLimit, 'paper-1')).toEqual({ limit: 50, windowMs: 1000 });
    expect(c.limits.heartbeatTimeoutMs).toBe(15_000);
  });

  it('keeps heartbeatTimeoutMs at three heartbeats when only heartbeatMs is given', () => {
    expect(parseGatewayConfig({ ...BASE, heartbeatMs: 20_000 }).limits).toMatchObject({ heartbeatMs: 20_000, heartbeatTimeoutMs: 60_000 });
    expect(parseGatewayConfig({ ...BASE, limits: { heartbeatMs: 1000, heartbeatTimeoutMs: 2500 } }).limits).toMatchObject({ heartbeatMs: 1000, heartbeatTimeoutMs: 2500 });
  });

  it('names the bad field in one line', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /^gw\.json: listen: /],
      [{ ...BASE, listen: {} }, /^gw\.json: listen\.port: .*expected number/],
      [{ ...BASE, listen: { port: 70_000 } }, /listen\.port: Too big/],
      [{ ...BASE, extra: 1 }, /Unrecognized key: "extra"/],
      [{ ...BASE, tokens: {} }, /tokens: configure at least one strategy/],
      [{ ...BASE, tokens: { alpha: 5 } }, /tokens\.alpha: /],
      [{ ...BASE, store: {} }, /store\.path: /],
      [{ ...BASE, venues: [] }, /venues: configure at least one venue/],
      [{ ...BASE, venues: [{ kind: 'live', exchange: 'X' }] }, /venues\[0\]\.kind: /],
      [{ ...BASE, venues: [{ kind: 'synthetic', exchange: 'SYN', speed: 0 }] }, /venues\[0\]\.speed: Too small/],
      [{ ...BASE, venues: [{ kind: 'synthetic', exchange: 'SYN', sim: { makerRate: 'cheap' } }] }, /venues\[0\]\.sim\.makerRate: /],
      [{ ...BASE, venues: [{ kind: 'synthetic', exchange: 'SYN', model: { cancelRate: -1 } }] }, /venues\[0\]: model\.cancelRate must be > 0/],
      [{ ...BASE, venues: [{ kind: 'replay', exchange: 'R' }] }, /venues\[0\]\.data: /],
      [{ ...BASE, venues: [{ kind: 'replay', exchange: 'R', data: 'missing.tlrec' }] }, /venues\[0\]\.data: data file not found: .*missing\.tlrec/],
      [{ ...BASE, venues: [BASE.venues[0], { kind: 'synthetic', exchange: 'SYN' }] }, /venues\[1\]\.exchange: exchange 'SYN' is already hosted by venues\[0\]/],
      [{ ...BASE, limits: { heartbeatMs: 1000, heartbeatTimeoutMs: 500 } }, /limits\.heartbeatTimeoutMs \(500\) must exceed heartbeatMs/],
      [{ ...BASE, limits: { maxFrameBytes: 1.5 } }, /limits\.maxFrameBytes: /],
      [{ ...BASE, heartbeatMs: 1000, limits: { heartbeatMs: 1000 } }, /heartbeatMs: give either/],
      [{ ...BASE, rateLimit: { limit: 3 } }, /rateLimit: give both limit and windowMs/],
      [{ ...BASE, rateLimit: { strategies: { nobody: { limit: 1, windowMs: 1 } } } }, /rateLimit\.strategies\.nobody: strategy 'nobody' has no token/],
      [{ ...BASE, sessionTakeover: 'maybe' }, /sessionTakeover: /],
    ];
    for (const [v, re] of cases) expect(error(v), JSON.stringify(v)).toMatch(re);
  });

  it('reads tokens from the environment and never shows one in an error', () => {
    const v = { ...BASE, tokens: { alpha: { tokenEnv: 'TL_ALPHA' } } };
    expect(parseGatewayConfig(v, { env: { TL_ALPHA: 's3cret' } }).tokens).toEqual({ alpha: 's3cret' });
    expect(error(v)).toBe('gw.json: tokens.alpha.tokenEnv: environment variable TL_ALPHA is not set');
    const long = 'p'.repeat(600);
    const m = error({ ...BASE, tokens: { alpha: long } });
    expect(m).toMatch(/tokens\.alpha: /);
    expect(m).not.toContain(long);
    expect(error({ ...BASE, tokens: { alpha: 'hunter2' }, listen: {} })).not.toContain('hunter2');
  });

  it('binds strategies to client certificate names (clientCertNames), only with client certificates', () => {
    const mutual = { port: 0, tls: { certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: 'clients.pem' } };
    const c = parseGatewayConfig({ ...BASE, listen: mutual, tokens: { alpha: { token: 'a-secret', clientCertNames: ['mm-1', 'mm.example'] }, beta: { tokenEnv: 'TL_B', clientCertNames: ['b'] }, gamma: 'g-secret' } }, { env: { TL_B: 'b-secret' } });
    expect(c.tokens).toEqual({ alpha: 'a-secret', beta: 'b-secret', gamma: 'g-secret' });
    expect(c.clientCertNames).toEqual({ alpha: ['mm-1', 'mm.example'], beta: ['b'] });
    expect(parseGatewayConfig(BASE).clientCertNames).toBeUndefined();
    expect(error({ ...BASE, tokens: { alpha: { token: 'a', clientCertNames: ['mm-1'] } } })).toBe('gw.json: tokens.alpha.clientCertNames: needs listen.tls.clientCaFile (client certificates)');
    expect(error({ ...BASE, listen: mutual, tokens: { alpha: { token: 'a', clientCertNames: [] } } })).toMatch(/tokens\.alpha/);
    expect(error({ ...BASE, tokens: { alpha: { token: 'a', tokenEnv: 'TL_A' } } })).toMatch(/tokens\.alpha: .*give exactly one of token, tokenEnv/);
    expect(error({ ...BASE, tokens: { alpha: {} } })).toMatch(/tokens\.alpha: .*give exactly one of token, tokenEnv/);
  });

  it('reports a missing or broken file in one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-gwcfg-'));
    expect(() => loadGatewayConfig(join(dir, 'nope.json'))).toThrow(/^config file not found: /);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"listen": ');
    expect(() => loadGatewayConfig(bad)).toThrow(/is not valid JSON/);
  });
});
