import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/backtest.js';
import { parseRunnerConfig, simOptions } from '../../src/backtest/config.js';
import { FileJournalSink, MemoryJournalSink } from '../../src/core/journal.js';
import { silentLogger } from '../../src/core/logger.js';
import { openMarketData } from '../../src/data/open.js';
import { JournalFormatError, loadJournal } from '../../src/store/journal-reader.js';
import { ReplayDataError, replayJournal } from '../../src/store/replay.js';
import DemoStrategy from '../../demo-strat/strategy.js';
import { AMZN, DEMO_CONFIG } from '../helpers.js';

const config = JSON.parse(readFileSync(DEMO_CONFIG, 'utf8')) as Record<string, unknown>;
const dir = mkdtempSync(join(tmpdir(), 'tl-replay-'));
const journalPath = join(dir, 'journal.jsonl');

async function record() {
  const rc = parseRunnerConfig(config);
  return runBacktest({
    strategy: new DemoStrategy(config),
    source: await openMarketData(AMZN),
    logger: silentLogger(),
    params: rc.params,
    sim: simOptions(rc.sim),
    timeZone: rc.timeZone,
    journal: new FileJournalSink(journalPath),
    commands: [{ atUs: 1340285400000000 + 3600e6, name: 'get_pnl', params: [] }],
  });
}

describe('replay from the journal', () => {
  it('reproduces every request of a demo run, and names the first difference when the strategy changes', async () => {
    const run = await record();
    expect(run.summary.fills).toBeGreaterThan(0);
    const journal = await loadJournal(journalPath);
    expect(journal.header.mode).toBe('backtest');
    expect(journal.header.data?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const kinds = new Set(journal.entries.map((e) => (e.k === 'in' ? `in:${e.src}` : e.k)));
    // Market data goes by reference to the data file: no md entries, a data position on each.
    expect(journal.header.md).toBe('ref');
    expect(kinds).toEqual(new Set(['in:venue', 'in:env', 'out', 'ctl']));
    expect(journal.entries.every((e) => typeof e.d === 'number')).toBe(true);

    const same = await replayJournal({ strategy: new DemoStrategy(config), journal, logger: silentLogger() });
    expect(same.firstDifference).toBeUndefined();
    expect(same.identical).toBe(true);
    expect(same.requests).toBeGreaterThan(100);

    // Other parameters: the fresh instance quotes differently, and replay says where.
    const params = { ...(config.params as object), orderQty: '200' };
    const other = await replayJournal({ strategy: new DemoStrategy(config), journal, logger: silentLogger(), params });
    expect(other.identical).toBe(false);
    expect(other.firstDifference!.index).toBeGreaterThan(0);
    expect(other.firstDifference!.expected).not.toBe(other.firstDifference!.actual);
  });

  it('replays a journal with market data by value, and refuses data that is not the run\'s', async () => {
    const rc = parseRunnerConfig(config);
    const sink = new MemoryJournalSink();
    await runBacktest({ strategy: new DemoStrategy(config), source: await openMarketData(AMZN), logger: silentLogger(), params: rc.params, sim: simOptions(rc.sim), timeZone: rc.timeZone, journal: sink, journalMarketData: 'value' });
    const byValue = join(dir, 'by-value.jsonl');
    writeFileSync(byValue, sink.lines.join('\n') + '\n');
    const jv = await loadJournal(byValue);
    expect(jv.header.md).toBeUndefined();
    expect(jv.entries.some((e) => e.k === 'in' && e.src === 'md')).toBe(true);
    const r = await replayJournal({ strategy: new DemoStrategy(config), journal: jv, logger: silentLogger() });
    expect(r.identical).toBe(true);

    // The by-reference journal of the first test, pointed at other data.
    const byRef = await loadJournal(journalPath);
    const other = { ...byRef, header: { ...byRef.header, data: { ...byRef.header.data!, sha256: '0'.repeat(64) } } };
    await expect(replayJournal({ strategy: new DemoStrategy(config), journal: other, logger: silentLogger() })).rejects.toThrow(ReplayDataError);
    const missing = { ...byRef, header: { ...byRef.header, data: { ...byRef.header.data!, path: join(dir, 'nowhere.csv') } } };
    await expect(replayJournal({ strategy: new DemoStrategy(config), journal: missing, logger: silentLogger() })).rejects.toThrow(/cannot open the journal's data file .*nowhere\.csv/);
  });

  it('detects a journal edited after the run', async () => {
    const lines = readFileSync(journalPath, 'utf8').trimEnd().split('\n');
    const i = lines.findIndex((l) => l.includes('"req":"sendNewOrder"'));
    lines[i] = lines[i]!.replace(/"qty":"100"/, '"qty":"101"');
    const edited = join(dir, 'edited.jsonl');
    writeFileSync(edited, lines.join('\n') + '\n');
    const r = await replayJournal({ strategy: new DemoStrategy(config), journal: await loadJournal(edited), logger: silentLogger() });
    expect(r.identical).toBe(false);
    expect(r.firstDifference!.index).toBe(i); // lines[0] is the header
    expect(r.firstDifference!.expected).toContain('"qty":"101"');
  });

  it('names the file and line of a malformed journal line', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, readFileSync(journalPath, 'utf8').split('\n').slice(0, 3).join('\n') + '\n{not json\n');
    await expect(loadJournal(bad)).rejects.toThrow(JournalFormatError);
    await expect(loadJournal(bad)).rejects.toThrow(/bad\.jsonl:4: not JSON/);
  });
});
