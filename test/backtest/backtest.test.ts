import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BaseStrategy, InstrumentType, MDSub, OrderType, Side, TimeInForce, makeInstrument, type BestLevelUpdate, type IStratEnv, type Instrument } from '../../src/api/index.js';
import { runBacktest, type MarketSource } from '../../src/backtest/backtest.js';
import { MdType, type MdEvent } from '../../src/data/events.js';
import { ConstantLatencyModel } from '../../src/sim/latency.js';
import { loadJournal } from '../../src/store/journal-reader.js';
import { replayJournal } from '../../src/store/replay.js';
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

describe('runBacktest with a market-data feed latency', () => {
  const inst = makeInstrument({ instrumentId: 7, exchange: 'X', name: 'x:spot:abc', type: InstrumentType.Spot, tickSize: '1', lotSize: '1', baseCurrency: 'ABC', quoteCurrency: 'USD' });
  const T = 1_700_000_000_000_000;
  const e = (localTs: number, type: MdType, side: 1 | -1, orderId: number, priceTick: number, qty: number): MdEvent => ({ type, instrumentId: 7, exchTs: localTs, localTs, side, orderId, priceTick, qty, status: 0 });
  // Ask 101 at T; at T + 1 ms it is pulled and the ask moves to 105.
  const events = [e(T, MdType.OrderAdd, -1, 1, 101, 10), e(T, MdType.OrderAdd, 1, 2, 99, 10), e(T + 1000, MdType.OrderDelete, -1, 1, 101, 0), e(T + 1000, MdType.OrderAdd, -1, 3, 105, 10), e(T + 50_000, MdType.OrderAdd, 1, 4, 98, 5)];
  const source = (): MarketSource => ({ exchange: 'X', instruments: [inst], events: async function* () { yield* events.map((x) => ({ ...x })); } });

  class Lifter extends BaseStrategy {
    asks: Array<{ price: string; recvTs: number; now: number }> = [];
    fills = 0;
    cancels = 0;
    override onFrameworkConnected(env: IStratEnv) {
      this.env = env;
      env.login('lifter');
      env.subscribeToMarketData('X', ['x:spot:abc'], [MDSub.BBO]);
    }
    override onBestAskLevelUpdate(ev: BestLevelUpdate) {
      this.asks.push({ price: ev.price.toString(), recvTs: ev.recvTs, now: this.env.now() });
      if (this.asks.length === 1) this.env.sendNewOrder({ exchange: 'X', instrumentId: 7, side: Side.Buy, price: ev.price, qty: '10', ordType: OrderType.Limit, timeInForce: TimeInForce.IOC });
    }
    override onOrderExecution() {
      this.fills++;
    }
    override onOrderCancelled() {
      this.cancels++;
    }
  }

  it('without one, the strategy lifts the ask it sees', async () => {
    const s = new Lifter();
    const r = await runBacktest({ strategy: s, source: source(), logger: silentLogger(), sim: { latency: new ConstantLatencyModel({ entryUs: 100, responseUs: 100 }) } });
    expect(r.ok).toBe(true);
    expect(s.asks[0]).toEqual({ price: '101', recvTs: T, now: T });
    expect(s.fills).toBe(1);
  });

  it('with 2 ms, the strategy sees every event 2 ms late and its order meets the moved book', async () => {
    const s = new Lifter();
    const r = await runBacktest({ strategy: s, source: source(), logger: silentLogger(), sim: { latency: new ConstantLatencyModel({ entryUs: 100, responseUs: 100, feedUs: 2000 }) } });
    expect(r.ok).toBe(true);
    // The pull and the new ask are two events: the side is empty (price 0) in between.
    expect(s.asks.map((a) => a.price)).toEqual(['101', '0', '105']);
    // Callbacks carry the time the strategy received the event, and the clock agrees.
    expect(s.asks[0]).toEqual({ price: '101', recvTs: T + 2000, now: T + 2000 });
    expect(s.asks[2]).toEqual({ price: '105', recvTs: T + 3000, now: T + 3000 });
    // The IOC reached the engine at T + 2.1 ms, after the ask at 101 was gone: no fill.
    expect(s.fills).toBe(0);
    expect(s.cancels).toBe(1);
    expect(r.summary.fills).toBe(0);
  });

  it('draws a random feed latency per event, reproducibly, and the run replays identically', async () => {
    const cfg = parseRunnerConfig({ sim: { latencyUs: { seed: 5, default: { entry: { constantUs: 100 }, response: { constantUs: 100 } }, feed: { logNormal: { medianUs: 300, p99Us: 3000 } } } } });
    const run = async () => {
      const s = new Lifter();
      const journal = new MemoryJournalSink();
      await runBacktest({ strategy: s, source: source(), logger: silentLogger(), sim: simOptions(cfg.sim), journal });
      return { s, lines: journal.lines };
    };
    const a = await run();
    const b = await run();
    expect(b.lines).toEqual(a.lines);
    const delays = a.s.asks.map((x, i) => x.recvTs - (i === 0 ? T : T + 1000));
    expect(delays).toHaveLength(3);
    expect(delays.every((d) => d > 0)).toBe(true);
    // Delayed market data is journaled by value, so the journal replays on its own.
    expect(JSON.parse(a.lines[0]!).md).toBeUndefined();
    const path = join(mkdtempSync(join(tmpdir(), 'tl-feed-')), 'j.jsonl');
    writeFileSync(path, a.lines.join('\n') + '\n');
    const rep = await replayJournal({ strategy: new Lifter(), journal: await loadJournal(path), logger: silentLogger() });
    expect(rep.identical).toBe(true);
  });
});
