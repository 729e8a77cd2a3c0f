import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BaseStrategy, MDSub, OrderType, Side, TimeInForce, type BestLevelUpdate, type IStratEnv, type Instrument } from '../../src/api/index.js';
import { runBacktest } from '../../src/backtest/backtest.js';
import { parseRunnerConfig, simOptions } from '../../src/backtest/config.js';
import { MemoryJournalSink } from '../../src/core/journal.js';
import { silentLogger } from '../../src/core/logger.js';
import { openMarketData } from '../../src/data/open.js';
import DemoStrategy from '../../demo-strat/strategy.js';
import { AAPL, AMZN, DEMO_CONFIG } from '../helpers.js';

const demoConfig = JSON.parse(readFileSync(DEMO_CONFIG, 'utf8')) as Record<string, unknown>;

async function runDemo(data = AMZN) {
  const rc = parseRunnerConfig(demoConfig);
  const journal = new MemoryJournalSink();
  const replies: string[] = [];
  const source = await openMarketData(data);
  const start = 1340285400000000; // 2012-06-21 09:30:00 EDT
  const r = await runBacktest({
    strategy: new DemoStrategy(demoConfig),
    source,
    logger: silentLogger(),
    params: rc.params,
    sim: simOptions(rc.sim),
    timeZone: rc.timeZone,
    journal,
    commands: [{ atUs: start + 3 * 3600e6, name: 'get_position', params: [], reply: (t) => replies.push(t) }],
  });
  return { r, journal, replies };
}

describe('runBacktest on the AMZN day with the demo market maker', () => {
  it('trades to the end of the day, acks the stop and is deterministic', async () => {
    const a = await runDemo();
    const s = a.r.summary;
    expect(a.r.ok).toBe(true);
    expect(s.strategy).toBe('demo-mm');
    expect(s.fills).toBeGreaterThan(0);
    expect(s.orders).toBeGreaterThanOrEqual(s.fills / 2);
    expect(s.volume).toBeGreaterThan(0);
    expect(s.stopAcked).toBe(true);
    expect(s.callbackErrors).toBe(0);
    // The demo flattens at 15:55 and cancels on stop: it ends flat with nothing open.
    expect(s.instruments[0]!.position).toBe('0');
    expect(a.r.env.openOrders()).toHaveLength(0);
    expect(s.netPnl).toBeCloseTo(s.realizedPnl + s.unrealizedPnl - s.fees, 6);
    expect(s.maxDrawdown).toBeGreaterThanOrEqual(0);
    // The end of the data is 16:00 New York time.
    expect(new Date(s.endTs / 1000).toISOString()).toMatch(/^2012-06-21T20:00/);
    // A command injected at 12:30 ran and answered.
    expect(a.replies).toHaveLength(1);
    expect(a.replies[0]).toMatch(/^-?\d+ @ /);

    const b = await runDemo();
    expect(b.journal.lines).toEqual(a.journal.lines);
    expect(JSON.stringify(b.r.summary)).toBe(JSON.stringify(s));
  });
});

class Taker extends BaseStrategy {
  inst!: Instrument;
  sent = false;
  bids: string[] = [];
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login('taker');
    env.subscribeToMarketData('NASDAQ', ['nasdaq:equity:aapl'], [MDSub.BBO]);
  }
  override onInstruments(i: Instrument[]) {
    this.inst = i[0]!;
  }
  override onBestAskLevelUpdate(ev: BestLevelUpdate) {
    if (this.sent || ev.qty.isZero()) return;
    this.sent = true;
    this.env.sendNewOrder({ exchange: 'NASDAQ', instrumentId: this.inst.instrumentId, side: Side.Buy, price: ev.price, qty: '10', ordType: OrderType.Limit, timeInForce: TimeInForce.IOC });
  }
  override onBestBidLevelUpdate(ev: BestLevelUpdate) {
    this.bids.push(ev.price.toString());
  }
}

describe('runBacktest basics', () => {
  it('fills an aggressive order against the replayed book and reports it', async () => {
    const s = new Taker();
    const r = await runBacktest({ strategy: s, source: await openMarketData(AAPL), logger: silentLogger() });
    expect(r.ok).toBe(true);
    expect(r.summary.fills).toBeGreaterThanOrEqual(1);
    expect(r.summary.instruments[0]!.position).toBe('10');
    expect(r.summary.instruments[0]!.volume).toBe(10);
    expect(s.bids.length).toBeGreaterThan(0);
  });

  it('does not trade a strategy that never logs in', async () => {
    class NoLogin extends BaseStrategy {
      override onFrameworkConnected() {}
    }
    const r = await runBacktest({ strategy: new NoLogin(), source: await openMarketData(AAPL), logger: silentLogger() });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/log in/);
    expect(r.summary.orders).toBe(0);
    expect(r.summary.events).toBe(0);
  });

  it('gives up on a strategy that never acks the stop, after the simulated timeout', async () => {
    class NoAck extends BaseStrategy {
      override onStop() {}
    }
    const r = await runBacktest({ strategy: new NoAck(), source: await openMarketData(AAPL), logger: silentLogger(), stopTimeoutMs: 500 });
    expect(r.summary.stopAcked).toBe(false);
    expect(r.env.state).toBe('stopped');
  });
});
