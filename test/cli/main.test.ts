import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AAPL, DEMO, DEMO_CONFIG, ROOT } from '../helpers.js';

/** Runs the CLI from source (no build step), as a user's shell would. */
function cli(args: string[], input = '') {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'tl-cli-'));
// The demo's config, pointed at the small AAPL sample.
const AAPL_CONFIG = join(dir, 'aapl.json');
writeFileSync(AAPL_CONFIG, JSON.stringify({ ...JSON.parse(readFileSync(DEMO_CONFIG, 'utf8')), instrument: 'nasdaq:equity:aapl', params: { entryQueueMin: 100, exitQueueMin: 100, orderQty: '10' } }));

describe('tradeloop CLI', () => {
  it('prints help for every command', () => {
    for (const args of [['--help'], ['backtest', '--help'], ['replay', '--help'], ['import', '--help'], ['cat', '--help'], ['generate', '--help']]) {
      const r = cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: tradeloop/);
    }
    expect(cli(['backtest', '--help']).stdout).toContain('--journal <file>');
  });

  it('answers bad arguments with one line and exit code 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [['backtest'], /required option '--strategy <file>'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['backtest', '--strategy', 'nope.ts', '--data', AAPL], /strategy file not found: nope\.ts/],
      [['backtest', '--strategy', DEMO, '--data', 'missing.csv'], /data file not found: missing\.csv/],
      [['backtest', '--strategy', DEMO, '--data', AAPL, '--format', 'csv'], /argument 'csv' is invalid/],
      [['backtest', '--strategy', DEMO, '--data', AAPL, '--config', 'missing.json'], /config file not found/],
      [['replay', '--strategy', DEMO, '--journal', 'missing.jsonl'], /journal not found/],
    ];
    for (const [args, msg] of cases) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('refuses a config whose runner fields are invalid, naming the field', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ sim: { makerRate: 'cheap' } }));
    const r = cli(['backtest', '--strategy', DEMO, '--data', AAPL, '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sim\.makerRate/);
  });

  it('refuses a strategy module without a default class export', () => {
    const mod = join(dir, 'nodefault.ts');
    writeFileSync(mod, 'export const x = 1;\n');
    const r = cli(['backtest', '--strategy', mod, '--data', AAPL]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/default export/);
  });

  it('runs a backtest with a .ts strategy, serves console commands, writes summary and journal, and replays it', () => {
    const out = join(dir, 'out');
    const journal = join(dir, 'j.jsonl');
    const r = cli(['backtest', '--strategy', DEMO, '--config', AAPL_CONFIG, '--data', AAPL, '--out', out, '--journal', journal, '--log-level', 'warn'], 'cmd get_position\nhelp\ncmd nosuch\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('── backtest summary ──');
    expect(r.stdout).toMatch(/\[get_position\] -?\d+ @ /);
    expect(r.stdout).toMatch(/\[help\] commands: get_orders, get_pnl, get_position/);
    expect(r.stdout).toMatch(/\[nosuch\] unknown command 'nosuch'/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.strategy).toBe('demo-mm');
    for (const k of ['orders', 'fills', 'volume', 'fees', 'realizedPnl', 'unrealizedPnl', 'maxDrawdown']) expect(typeof summary[k]).toBe('number');
    expect(existsSync(journal)).toBe(true);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('__tradeloopReport');
    expect(html).not.toMatch(/<script[^>]+src=/); // self-contained

    const rep = cli(['replay', '--strategy', DEMO, '--config', AAPL_CONFIG, '--journal', journal]);
    expect(rep.code).toBe(0);
    expect(rep.stdout).toMatch(/replay identical: \d+ journal entries/);

    // A different strategy file against the same journal: exit 1 and the first difference.
    const other = join(dir, 'other.ts');
    writeFileSync(other, readFileSync(DEMO, 'utf8').replace("env.login('demo-mm')", "env.login('other-mm')"));
    const diff = cli(['replay', '--strategy', other, '--config', AAPL_CONFIG, '--journal', journal]);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/replay differs at entry 2 of \d+/);
    expect(diff.stdout).toContain('other-mm');
  });
});
