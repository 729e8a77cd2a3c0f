import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IStrategy } from '../src/api/index.js';
import { runBacktest } from '../src/backtest/backtest.js';
import { silentLogger } from '../src/core/logger.js';
import { openMarketData } from '../src/data/open.js';
import { AMZN, ROOT } from './helpers.js';

/** The README's example strategy must be real code: run it. */
describe('README', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it('starts with the two commands', () => {
    const head = readme.split('\n').slice(0, 8).join('\n');
    expect(head).toContain('npm install && npm start');
    expect(head).toContain('npm install && npm test');
  });

  it('has an example strategy that runs and trades on the AMZN day', async () => {
    const section = readme.slice(readme.indexOf('## Writing a strategy'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toBeDefined();
    const dir = join(ROOT, '.tmp');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'readme-example.ts');
    writeFileSync(file, code!);
    const mod = (await import(file)) as { default: new (c: object) => IStrategy };
    let position = '';
    const r = await runBacktest({
      strategy: new mod.default({ qty: '100' }),
      source: await openMarketData(AMZN),
      logger: silentLogger(),
      commands: [{ atUs: 1340285400000000 + 6 * 3600e6, name: 'get_position', params: [], reply: (t) => (position = t) }],
    });
    expect(r.ok).toBe(true);
    expect(r.summary.strategy).toBe('join-the-bid');
    expect(r.summary.fills).toBeGreaterThan(0);
    expect(position).toBe('100');
  });
});
