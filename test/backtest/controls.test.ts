/**
 * Trading controls, the kill switch and parameter changes in a backtest of the AMZN day
 * with the demo market maker, each replayed from its journal.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RejectCode, type OrderExecution, type StratParams } from '../../src/api/index.js';
import { runBacktest, type BacktestOptions } from '../../src/backtest/backtest.js';
import { parseRunnerConfig, simOptions } from '../../src/backtest/config.js';
import { MemoryJournalSink, type JournalCtl, type JournalEntry, type JournalHeader, type JournalOut } from '../../src/core/journal.js';
import { silentLogger } from '../../src/core/logger.js';
import { openMarketData } from '../../src/data/open.js';
import { replayJournal } from '../../src/store/replay.js';
import DemoStrategy from '../../demo-strat/strategy.js';
import { AMZN, DEMO_CONFIG } from '../helpers.js';

const config = JSON.parse(readFileSync(DEMO_CONFIG, 'utf8')) as Record<string, unknown>;
const rc = parseRunnerConfig(config);
/** 2012-06-21 12:00:00 New York time, µs. */
const NOON = Date.parse('2012-06-21T16:00:00Z') * 1000;

/** The demo with a parameter schema, recording every fill with the position after it. */
class Demo extends DemoStrategy {
  static paramsSchema = z
    .object({ orderQty: z.string().regex(/^\d+$/, 'a whole number of shares'), entryQueueMin: z.number().nonnegative() })
    .passthrough();
  readonly fills: Array<{ ts: number; clientId: string; position: string }> = [];
  override onOrderExecution(ev: OrderExecution): void {
    this.fills.push({ ts: this.env.now(), clientId: ev.clientId, position: this.env.getPosition(ev.exchange, ev.instrumentId).position.toString() });
    super.onOrderExecution(ev);
  }
}

async function run(over: Partial<BacktestOptions> = {}) {
  const journal = new MemoryJournalSink();
  const strategy = new Demo(config);
  const notes: string[] = [];
  const r = await runBacktest({
    strategy,
    source: await openMarketData(AMZN),
    logger: silentLogger(),
    params: rc.params,
    sim: simOptions(rc.sim),
    timeZone: rc.timeZone,
    journal,
    notify: (m) => notes.push(m),
    ...over,
  });
  const header = JSON.parse(journal.lines[0]!) as JournalHeader;
  const lines = journal.lines.slice(1);
  const entries = lines.map((l) => JSON.parse(l) as JournalEntry);
  const replay = () => replayJournal({ strategy: new Demo(config), journal: { header, entries, lines }, logger: silentLogger() });
  return { r, strategy, notes, header, entries, replay };
}

const ctl = (entries: JournalEntry[], op: JournalCtl['op']) => entries.filter((e): e is JournalCtl => e.k === 'ctl' && e.op === op);
const newOrders = (entries: JournalEntry[]) => entries.filter((e): e is JournalOut => e.k === 'out' && e.req === 'sendNewOrder').map((e) => ({ ts: e.ts, ...(e.args as { qty: string; clientId: string; kernel?: boolean }) }));

describe('a parameter change mid-run', () => {
  it('takes effect, is journaled (a refused one too) and replays identically', async () => {
    const { r, entries, replay, strategy } = await run({
      paramChanges: [
        { atUs: NOON, params: { ...rc.params, orderQty: 'fifty' } },
        { atUs: NOON + 1, params: { ...rc.params, orderQty: '50' } as StratParams },
      ],
    });
    expect(r.ok).toBe(true);
    const params = ctl(entries, 'params');
    expect(params.map((e) => [e.ts, (e.args as { orderQty: string }).orderQty])).toEqual([
      [NOON, 'fifty'],
      [NOON + 1, '50'],
    ]);
    expect(ctl(entries, 'params-refused').map((e) => e.args)).toEqual([{ reason: 'orderQty: a whole number of shares' }]);
    // onStratParamsUpdate: at start, then once (the refused change dispatched nothing).
    const updates = entries.filter((e) => e.k === 'in' && e.cb === 'onStratParamsUpdate');
    expect(updates.map((e) => (e as { ev: { orderQty: string } }).ev.orderQty)).toEqual(['100', '50']);
    // Entry quotes before noon are 100 shares, after it 50 (exits close whatever is held: none is 50 or 100 here).
    const quotes = newOrders(entries);
    const before = new Set(quotes.filter((o) => o.ts < NOON).map((o) => o.qty));
    const after = new Set(quotes.filter((o) => o.ts > NOON + 1).map((o) => o.qty));
    expect(before.has('100')).toBe(true);
    expect(before.has('50')).toBe(false);
    expect(after.has('50')).toBe(true);
    expect(after.has('100')).toBe(false);
    expect(strategy.fills.length).toBeGreaterThan(0);

    const same = await replay();
    expect(same.firstDifference).toBeUndefined();
    expect(same.identical).toBe(true);
  });
});

describe('the kill switch on the AMZN day', () => {
  it('a drawdown trip flattens the position (a limit IOC inside the price band) and refuses new risk; replay is identical', async () => {
    const { r, entries, replay, strategy, notes, header } = await run({ killSwitch: { maxDrawdown: 20, action: 'flatten' }, controls: { priceBandBps: 20 } });
    expect(r.ok).toBe(true);
    expect(header.killSwitch).toEqual({ maxDrawdown: 20, action: 'flatten' });
    expect(header.controls).toEqual({ priceBandBps: 20 });
    const kills = ctl(entries, 'kill');
    expect(kills).toHaveLength(1);
    const kill = kills[0]!;
    expect(kill.args).toMatchObject({ action: 'flatten' });
    expect((kill.args as { reason: string }).reason).toMatch(/^drawdown 2\d\.\d+ from peak equity [\d.]+ reached maxDrawdown 20$/);
    expect(notes).toEqual([expect.stringMatching(/^demo-mm: KILL SWITCH tripped: drawdown/)]);
    expect(r.env.killSwitch.state).toBe('tripped');

    // The kernel's closing orders: after the kill, limit IOC, reduce-only, inside the band.
    const flat = newOrders(entries).filter((o) => o.kernel);
    expect(flat.length).toBeGreaterThan(0);
    expect(flat.every((o) => o.ts >= kill.ts && o.clientId.startsWith('demo-mm-flat-'))).toBe(true);
    expect(flat[0]).toMatchObject({ ordType: 'Limit', timeInForce: 'IOC', execInstr: ['ReduceOnly'] });
    // After its last fill the position is 0, and it never grows again after the kill.
    const flatFills = strategy.fills.filter((f) => f.clientId.includes('-flat-'));
    expect(flatFills.at(-1)!.position).toBe('0');
    const afterKill = strategy.fills.filter((f) => f.ts >= kill.ts).map((f) => Math.abs(Number(f.position)));
    for (let i = 1; i < afterKill.length; i++) expect(afterKill[i]).toBeLessThanOrEqual(afterKill[i - 1]!);
    expect(r.env.flattening).toBe(false);
    expect(r.summary.instruments[0]!.position).toBe('0');
    // The demo keeps trying to quote: refused as paused.
    const paused = entries.filter((e) => e.k === 'in' && e.cb === 'onNewOrderReject' && (e.ev as { rejectCode: number }).rejectCode === RejectCode.TradingPaused);
    expect(paused.length).toBeGreaterThan(100);
    expect(paused.every((e) => e.ts >= kill.ts)).toBe(true);

    const same = await replay();
    expect(same.firstDifference).toBeUndefined();
    expect(same.identical).toBe(true);
  });

  it('a daily-loss trip pauses: open orders cancelled, only reducing orders pass; replay is identical', async () => {
    const { r, entries, replay, strategy } = await run({ killSwitch: { dailyLossLimit: 30 } });
    const kill = ctl(entries, 'kill');
    expect(kill).toHaveLength(1);
    expect((kill[0]!.args as { reason: string }).reason).toMatch(/^daily loss 3\d\.\d+ reached dailyLossLimit 30$/);
    expect(kill[0]!.args).toMatchObject({ action: 'pause' });
    // Fewer fills than the free run, and none that adds to a position after the trip.
    const afterKill = strategy.fills.filter((f) => f.ts >= kill[0]!.ts).map((f) => Math.abs(Number(f.position)));
    for (let i = 1; i < afterKill.length; i++) expect(afterKill[i]).toBeLessThanOrEqual(afterKill[i - 1]!);
    expect(newOrders(entries).some((o) => o.kernel)).toBe(false);
    expect(r.summary.fills).toBeLessThan(67);
    const same = await replay();
    expect(same.firstDifference).toBeUndefined();
    expect(same.identical).toBe(true);
  });
});
