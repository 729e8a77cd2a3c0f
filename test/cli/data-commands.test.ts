import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/backtest.js';
import { parseRunnerConfig, simOptions } from '../../src/backtest/config.js';
import { MemoryJournalSink } from '../../src/core/journal.js';
import { silentLogger } from '../../src/core/logger.js';
import { openMarketData } from '../../src/data/open.js';
import DemoStrategy from '../../demo-strat/strategy.js';
import { AMZN, DEMO_CONFIG, ROOT } from '../helpers.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 30 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const dir = mkdtempSync(join(tmpdir(), 'tl-data-'));
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('tradeloop import / cat / generate', () => {
  it('imports each capture format to a recorded file that cat prints event by event', () => {
    const cases: Array<[string, string, number]> = [
      ['lobster', 'data/lobster/AAPL_2012-06-21_34200000_57600000_message_10.csv', 1],
      ['binance', 'data/binance/BINANCE.ws.1.0', 4],
      ['coinbase', 'data/coinbase/COINBASE.ws.28.0', 10],
    ];
    for (const [format, input, instruments] of cases) {
      const out = join(dir, `${format}.tlrec`);
      const r = cli(['import', format, input, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const n = Number(/^(\d+) events/.exec(r.stdout)![1]);
      expect(n).toBeGreaterThan(0);
      expect(r.stdout.split('→')[0]!.split(',').length).toBe(instruments);
      const cat = cli(['cat', out]);
      const lines = cat.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(n);
      const first = JSON.parse(lines[0]!);
      expect(first.type).toBe('Status');
      expect(first.status).toBe('SnapshotStart');
      expect(cli(['cat', out, '--limit', '3']).stdout.trimEnd().split('\n')).toHaveLength(3);
    }
  });

  it('reports malformed lines by file and line and imports the rest', () => {
    const src = readFileSync(join(ROOT, 'data/coinbase/COINBASE.ws.28.0'), 'utf8').split('\n');
    src.splice(40, 0, '1618677818.5: {"type":"l2update", broken');
    const bad = join(dir, 'COINBASE.ws.bad');
    writeFileSync(bad, src.join('\n'));
    const r = cli(['import', 'coinbase', bad, '--out', join(dir, 'bad.tlrec')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/COINBASE\.ws\.bad:41: /);
    expect(r.stdout).toMatch(/1 malformed records skipped/);
  });

  it('generates the same file for the same seed and a different one for another seed', () => {
    const a = join(dir, 'a.tlrec');
    const b = join(dir, 'b.tlrec');
    const c = join(dir, 'c.tlrec');
    for (const [out, seed] of [[a, '5'], [b, '5'], [c, '6']] as const) expect(cli(['generate', '--events', '20000', '--seed', seed, '--out', out]).code).toBe(0);
    expect(sha(a)).toBe(sha(b));
    expect(sha(a)).not.toBe(sha(c));
    expect(cli(['cat', a]).stdout.trimEnd().split('\n')).toHaveLength(20000);
  });

  it('refuses bad arguments with exit code 2', () => {
    expect(cli(['import', 'csv', 'x', '--out', 'y']).code).toBe(2);
    expect(cli(['import', 'lobster', 'missing.csv', '--out', 'y']).code).toBe(2);
    expect(cli(['generate', '--events', '-3', '--out', 'y']).code).toBe(2);
    const notRec = join(dir, 'not.tlrec');
    writeFileSync(notRec, 'hello');
    const r = cli(['cat', notRec]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('backtests the recorded AMZN day exactly as the CSV', async () => {
    const out = join(dir, 'amzn.tlrec');
    expect(cli(['import', 'lobster', AMZN, '--out', out]).code).toBe(0);
    const config = JSON.parse(readFileSync(DEMO_CONFIG, 'utf8'));
    const rc = parseRunnerConfig(config);
    const run = async (path: string) => {
      const journal = new MemoryJournalSink();
      const r = await runBacktest({ strategy: new DemoStrategy(config), source: await openMarketData(path), logger: silentLogger(), params: rc.params, sim: simOptions(rc.sim), timeZone: rc.timeZone, journal });
      return { summary: r.summary, lines: journal.lines.slice(1) };
    };
    const csv = await run(AMZN);
    const rec = await run(out);
    expect(rec.summary.fills).toBeGreaterThan(0);
    expect(JSON.stringify(rec.summary)).toBe(JSON.stringify(csv.summary));
    expect(rec.lines).toEqual(csv.lines);
  });
});
