import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/backtest.js';
import { latencyModel, parseRunnerConfig, simOptions } from '../../src/backtest/config.js';
import { FileJournalSink, MemoryJournalSink, type JournalSink } from '../../src/core/journal.js';
import { silentLogger } from '../../src/core/logger.js';
import { openMarketData } from '../../src/data/open.js';
import { ConstantLatencyModel, PerActionLatencyModel } from '../../src/sim/latency.js';
import { loadJournal } from '../../src/store/journal-reader.js';
import { replayJournal } from '../../src/store/replay.js';
import DemoStrategy from '../../demo-strat/strategy.js';
import { AMZN, DEMO_CONFIG } from '../helpers.js';

const base = JSON.parse(readFileSync(DEMO_CONFIG, 'utf8')) as Record<string, unknown> & { sim: Record<string, unknown> };

/** The demo config with random, per-action log-normal latencies. */
function randomLatencyConfig(seed: number): Record<string, unknown> {
  return {
    ...base,
    sim: {
      ...base.sim,
      latencyUs: {
        seed,
        default: { entry: { logNormal: { medianUs: 200, p99Us: 1200 } }, response: { logNormal: { medianUs: 200, p99Us: 1000 } } },
        place: { entry: { logNormal: { medianUs: 150, p99Us: 900 } }, response: { logNormal: { medianUs: 180, p99Us: 700 } } },
        cancel: { entry: { logNormal: { medianUs: 120, p99Us: 2000 } }, response: { uniform: { minUs: 100, maxUs: 400 } } },
      },
    },
  };
}

/** Writes every line to all the sinks. */
class TeeSink implements JournalSink {
  constructor(private readonly sinks: JournalSink[]) {}
  writeLine(line: string): void {
    for (const s of this.sinks) s.writeLine(line);
  }
  close(): void {
    for (const s of this.sinks) s.close();
  }
}

async function run(config: Record<string, unknown>, file?: string) {
  const rc = parseRunnerConfig(config);
  const mem = new MemoryJournalSink();
  const r = await runBacktest({
    strategy: new DemoStrategy(config),
    source: await openMarketData(AMZN),
    logger: silentLogger(),
    params: rc.params,
    sim: simOptions(rc.sim),
    timeZone: rc.timeZone,
    journal: file ? new TeeSink([mem, new FileJournalSink(file)]) : mem,
    commands: [{ atUs: 1340285400000000 + 2 * 3600e6, name: 'get_pnl', params: [] }],
  });
  return { r, lines: mem.lines, summary: JSON.stringify(r.summary) };
}

const dir = mkdtempSync(join(tmpdir(), 'tl-determinism-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a backtest with random per-action latencies', () => {
  it('is byte-identical for the same seed, differs for another seed, and replays identically', async () => {
    const file = join(dir, 'journal.jsonl');
    const a = await run(randomLatencyConfig(7), file);
    expect(a.r.ok).toBe(true);
    expect(a.r.summary.fills).toBeGreaterThan(0);
    expect(a.r.summary.stopAcked).toBe(true);
    expect(a.r.summary.callbackErrors).toBe(0);
    expect(a.lines.length).toBeGreaterThan(1000);

    // The latencies are random: order → ack times (place entry + response) vary, and are whole µs.
    const acks = a.r.recorder.data().latency.ack;
    expect(acks.length).toBeGreaterThan(100);
    expect(new Set(acks).size).toBeGreaterThan(50);
    expect(Array.from(acks).every((x) => Number.isInteger(x) && x > 0)).toBe(true);
    expect(a.r.summary.latency.ack.p50).toBeGreaterThan(250);
    expect(a.r.summary.latency.ack.p50).toBeLessThan(450);

    const b = await run(randomLatencyConfig(7));
    expect(b.lines.length).toBe(a.lines.length);
    expect(b.lines).toEqual(a.lines);
    expect(b.summary).toBe(a.summary);
    // What went to the file is what the memory sink got, byte for byte.
    expect(readFileSync(file, 'utf8')).toBe(a.lines.join('\n') + '\n');

    const c = await run(randomLatencyConfig(8));
    expect(c.r.ok).toBe(true);
    expect(c.lines).not.toEqual(a.lines);
    expect(c.summary).not.toBe(a.summary);

    const journal = await loadJournal(file);
    const replay = await replayJournal({ strategy: new DemoStrategy(randomLatencyConfig(7)), journal, logger: silentLogger() });
    expect(replay.firstDifference).toBeUndefined();
    expect(replay.identical).toBe(true);
    expect(replay.requests).toBeGreaterThan(100);
    expect(replay.lines).toEqual(journal.lines);
  }, 120_000);
});

describe('sim.latencyUs in the config', () => {
  const parse = (latencyUs: unknown) => simOptions(parseRunnerConfig({ sim: { latencyUs } }).sim).latency!;
  const fail = (latencyUs: unknown) => {
    try {
      parseRunnerConfig({ sim: { latencyUs } });
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };

  it('keeps the constant { entry, response } form', () => {
    const m = parse({ entry: 200, response: 150 });
    expect(m).toBeInstanceOf(ConstantLatencyModel);
    expect([m.entryUs('place'), m.responseUs('cancel')]).toEqual([200, 150]);
    expect(parse(undefined)).toBeInstanceOf(ConstantLatencyModel);
    expect(latencyModel({}).entryUs('fetch')).toBe(100);
  });

  it('builds a PerActionLatencyModel from the per-action form', () => {
    const cfg = { seed: 7, default: { response: { constantUs: 30 } }, place: { entry: { constantUs: 10 } }, cancel: { entry: { uniform: { minUs: 5, maxUs: 5 } }, response: { constantUs: 40 } } };
    const m = parse(cfg);
    expect(m).toBeInstanceOf(PerActionLatencyModel);
    expect((m as PerActionLatencyModel).seed).toBe(7);
    expect([m.entryUs('place'), m.responseUs('place'), m.entryUs('cancel'), m.responseUs('cancel'), m.entryUs('fetch'), m.responseUs('modify')]).toEqual([10, 30, 5, 40, 100, 30]);
    // Top-level entry/response with per-action keys stand for default.entry/response, numbers or distributions.
    const n = parse({ entry: 60, response: { constantUs: 70 }, modify: { entry: { constantUs: 1 } } });
    expect([n.entryUs('place'), n.responseUs('place'), n.entryUs('modify')]).toEqual([60, 70, 1]);
    // A distribution alone also selects the per-action model, with seed 1.
    const l = parse({ entry: { logNormal: { medianUs: 150, p99Us: 900 } } }) as PerActionLatencyModel;
    expect(l).toBeInstanceOf(PerActionLatencyModel);
    expect(l.seed).toBe(1);
  });

  it('names the bad field', () => {
    expect(fail({ entry: -1 })).toMatch(/^config: sim\.latencyUs\.entry: /);
    expect(fail({ place: { entry: { logNormal: { medianUs: 150, p99Us: 100 } } } })).toBe('config: sim.latencyUs.place.entry.logNormal.p99Us: p99Us must be ≥ medianUs');
    expect(fail({ cancel: { response: { logNormal: { medianUs: 150 } } } })).toMatch(/^config: sim\.latencyUs\.cancel\.response\.logNormal\.p99Us: /);
    expect(fail({ fetch: { entry: { uniform: { minUs: 9, maxUs: 1 } } } })).toBe('config: sim.latencyUs.fetch.entry.uniform.maxUs: maxUs must be ≥ minUs');
    expect(fail({ modify: { response: { constantUs: 1, logNormal: { medianUs: 1, p99Us: 2 } } } })).toBe('config: sim.latencyUs.modify.response: give exactly one of constantUs, logNormal, uniform');
    expect(fail({ place: { entry: { gamma: {} } } })).toMatch(/^config: sim\.latencyUs\.place\.entry: .*gamma/);
    expect(fail({ plce: {} })).toMatch(/^config: sim\.latencyUs: .*plce/);
    expect(fail({ seed: 1.5 })).toMatch(/^config: sim\.latencyUs\.seed: /);
    expect(fail({ entry: 1, default: { entry: { constantUs: 2 } } })).toBe('config: sim.latencyUs.entry: give either latencyUs.entry or latencyUs.default.entry, not both');
    expect(fail({ entry: { logNormal: { medianUs: 5, p99Us: 1 } } })).toBe('config: sim.latencyUs.entry.logNormal.p99Us: p99Us must be ≥ medianUs');
  });
});
