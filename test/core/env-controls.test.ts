/**
 * Trading controls, the kill switch, pause/resume/flatten, graceful stop and the parameter
 * schema through a real `StratEnv` (fake venue, simulated clock).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BaseStrategy, CancelCode, ExecInstr, OrderType, RejectCode, Side, TimeInForce } from '../../src/api/index.js';
import type { IStratEnv, ModifyOrderReject, NewOrderReject, StratParams, StrategyEventMap } from '../../src/api/index.js';
import { Journal, MemoryJournalSink, type JournalCtl, type JournalEntry } from '../../src/core/journal.js';
import { silentLogger } from '../../src/core/logger.js';
import type { TradingControls } from '../../src/core/risk.js';
import type { ParamsSchema } from '../../src/core/env.js';
import type { VenueNewOrder } from '../../src/core/venue.js';
import { replayJournal } from '../../src/store/replay.js';
import { type Harness, START_US, ackOf, fillOf, harness, running, runUntil } from './env-fixtures.js';

const SEC = 1_000_000;

/** Trades on command (so that a replay reproduces every request): buy/sell qty price [instrumentId|mkt], modify id price qty, cancel id. */
class Trader extends BaseStrategy {
  readonly rejects: Array<{ cb: string; code: number; reason: string; clientId: string }> = [];
  readonly paramsSeen: StratParams[] = [];
  readonly cbs: string[] = [];
  constructor(readonly ackStop = true) {
    super({});
  }
  override onFrameworkConnected(env: IStratEnv): void {
    this.env = env;
    env.login('trader');
  }
  override onStart(): void {
    const env = this.env;
    const order = (side: Side) => ([qty, price, x]: string[]) =>
      env.sendNewOrder({ exchange: 'SIM', instrumentId: x && x !== 'mkt' ? Number(x) : 1, side, qty: qty!, price, ordType: x === 'mkt' ? OrderType.Market : OrderType.Limit });
    env.addCmdHook('buy', order(Side.Buy));
    env.addCmdHook('sell', order(Side.Sell));
    env.addCmdHook('modify', ([id, price, qty]) => env.sendModifyOrder('SIM', id!, price === '-' ? undefined : price, qty));
    env.addCmdHook('cancel', ([id]) => env.sendCancelOrder('SIM', 1, id!));
  }
  override onStratParamsUpdate(p: StratParams): void {
    this.paramsSeen.push(p);
  }
  override onNewOrderReject(ev: NewOrderReject): void {
    this.rejects.push({ cb: 'new', code: ev.rejectCode, reason: ev.rejectReason, clientId: ev.clientId });
  }
  override onModifyOrderReject(ev: ModifyOrderReject): void {
    this.rejects.push({ cb: 'modify', code: ev.rejectCode, reason: ev.rejectReason, clientId: ev.clientId });
  }
  override onStop(): void {
    this.cbs.push('onStop');
    if (this.ackStop) this.env.sendStopAck();
  }
}

type Opts = Parameters<typeof running>[0];
async function trader(opts: Opts = {}, strat = new Trader()): Promise<Harness & { t: Trader; notes: string[]; sink: MemoryJournalSink }> {
  const notes: string[] = [];
  const sink = new MemoryJournalSink();
  const journal = new Journal(sink);
  const h = await running({ strat: strat as never, notify: (m) => notes.push(m), journal, ...opts });
  return { ...h, t: strat, notes, sink };
}

const cmd = (h: Harness, name: string, ...params: string[]) => h.env.runCommand(name, params);
const lastReject = (h: { t: Trader }) => h.t.rejects.at(-1);

/** Acknowledges the venue's last request (a new order). */
async function ackLast(h: Harness): Promise<VenueNewOrder> {
  const req = h.venue.requests.at(-1)! as VenueNewOrder;
  h.venue.emit('onNewOrderAck', ackOf(req));
  await h.env.idle();
  return req;
}
async function fill(h: Harness, clientId: string, side: Side, qty: string, leaves = '0', price = '100'): Promise<void> {
  h.venue.emit('onOrderExecution', fillOf(clientId, side, price, qty, leaves));
  await h.env.idle();
}
async function cancelled(h: Harness, clientId: string, code = CancelCode.Requested): Promise<void> {
  h.venue.emit('onOrderCancelled', { exchange: 'SIM', clientId, unsolicited: code !== CancelCode.Requested, engineTs: h.env.now(), recvTs: h.env.now(), cancelCode: code, cancelReason: 'gone' });
  await h.env.idle();
}
/** Buys `qty` and fills it: a long position. */
async function goLong(h: Harness, qty: string): Promise<void> {
  const id = await cmd(h, 'buy', qty, '100');
  await ackLast(h);
  await fill(h, id, Side.Buy, qty);
}
const ctlOps = (sink: MemoryJournalSink) => sink.lines.map((l) => JSON.parse(l) as JournalEntry).filter((e): e is JournalCtl => e.k === 'ctl').map((e) => e.op);

const CONTROLS: TradingControls = {
  maxOrderQty: 200,
  maxOrderNotional: 50_000,
  maxOpenOrders: 4,
  maxPosition: 300,
  priceBandBps: 100,
  selfTradePrevention: 'reject',
  instruments: { 'byt:perp:btc-usdt': { maxOrderQty: '0.5' } },
};

// ------------------------------------------------------------------------------------------
describe('trading controls in the env', () => {
  it('refuses a request outside each control with its own code and a reason, and never sends it', async () => {
    const h = await trader({ controls: CONTROLS, mid: () => 100 });
    const sent = () => h.venue.requests.length;

    await cmd(h, 'buy', '500', '100');
    expect(lastReject(h)).toMatchObject({ cb: 'new', code: RejectCode.MaxOrderQty, reason: 'qty 500 exceeds maxOrderQty 200 for nasdaq:equity:amzn' });
    await cmd(h, 'buy', '200', '300');
    expect(lastReject(h)).toMatchObject({ code: RejectCode.MaxOrderNotional, reason: 'notional 60000 (qty 200 at price 300) exceeds maxOrderNotional 50000 for nasdaq:equity:amzn' });
    await cmd(h, 'buy', '10', '101.5');
    expect(lastReject(h)).toMatchObject({ code: RejectCode.PriceBand, reason: 'price 101.5 is 150.0 bps from the mid 100, outside priceBandBps 100 for nasdaq:equity:amzn' });
    // The per-instrument override: 0.5 for BTC.
    await cmd(h, 'buy', '0.6', '100', '2');
    expect(lastReject(h)).toMatchObject({ code: RejectCode.MaxOrderQty, reason: 'qty 0.6 exceeds maxOrderQty 0.5 for byt:perp:btc-usdt' });
    // Request validation runs first: an off-tick price wins over the qty limit.
    await cmd(h, 'buy', '500', '100.001');
    expect(lastReject(h)!.code).toBe(RejectCode.PriceOffTick);
    expect(sent()).toBe(0);
    expect(h.env.tracker.orderCount).toBe(0);

    // Self-trade: a resting sell at 100.5, then a buy that would reach it.
    const sell = await cmd(h, 'sell', '10', '100.5');
    await ackLast(h);
    await cmd(h, 'buy', '10', '100.5');
    expect(lastReject(h)).toMatchObject({ code: RejectCode.SelfTrade, reason: `buy at 100.5 would cross the strategy's own sell '${sell}' at 100.5 on nasdaq:equity:amzn (selfTradePrevention)` });

    // Position: 150 + 150 open buys, then one more share would make 301.
    await cmd(h, 'buy', '150', '99');
    await cmd(h, 'buy', '150', '99.5');
    expect(sent()).toBe(3);
    await cmd(h, 'buy', '1', '99');
    expect(lastReject(h)).toMatchObject({ code: RejectCode.MaxPosition, reason: 'buy 1 would take the position in nasdaq:equity:amzn to 301 (position 0, open buys 300), beyond maxPosition 300' });
    // Open orders: 3 open, a 4th is fine, a 5th is not.
    await cmd(h, 'sell', '1', '100.6');
    expect(sent()).toBe(4);
    await cmd(h, 'sell', '1', '100.7');
    expect(lastReject(h)).toMatchObject({ code: RejectCode.MaxOpenOrders, reason: '4 open orders on nasdaq:equity:amzn reach maxOpenOrders 4' });
    expect(sent()).toBe(4);

    // Modifies: held to what they change.
    await cmd(h, 'modify', sell, '-', '500');
    expect(lastReject(h)).toMatchObject({ cb: 'modify', code: RejectCode.MaxOrderQty, clientId: sell });
    await cmd(h, 'modify', sell, '102', '10');
    expect(lastReject(h)).toMatchObject({ cb: 'modify', code: RejectCode.PriceBand });
    await cmd(h, 'modify', sell, '100.9', '5');
    expect(h.venue.requests.at(-1)).toMatchObject({ type: 'ModifyOrder', clientId: sell });
    expect(h.t.rejects.map((r) => r.code)).toEqual([
      RejectCode.MaxOrderQty, RejectCode.MaxOrderNotional, RejectCode.PriceBand, RejectCode.MaxOrderQty, RejectCode.PriceOffTick,
      RejectCode.SelfTrade, RejectCode.MaxPosition, RejectCode.MaxOpenOrders, RejectCode.MaxOrderQty, RejectCode.PriceBand,
    ]);
  });

  it('accepts without a mid (band, market notional), and checks nothing without controls', async () => {
    const h = await trader({ controls: { priceBandBps: 10, maxOrderNotional: 1000 } });
    await cmd(h, 'buy', '5', '150');
    await cmd(h, 'buy', '500', '', 'mkt');
    expect(h.t.rejects).toEqual([]);
    expect(h.venue.requests).toHaveLength(2);
    const free = await trader();
    await cmd(free, 'buy', '1000000', '1');
    expect(free.t.rejects).toEqual([]);
  });

  it('limits new orders and modifies per rolling second of the env clock; refused requests do not count', async () => {
    const h = await trader({ controls: { maxOrdersPerSec: 2 } });
    const a = await cmd(h, 'buy', '1', '100');
    await ackLast(h);
    h.clock.setTime(START_US + 400_000);
    await cmd(h, 'modify', a, '100.01', '1');
    h.clock.setTime(START_US + 900_000);
    await cmd(h, 'buy', '1', '100');
    expect(lastReject(h)).toMatchObject({ code: RejectCode.MaxOrderRate, reason: '2 new orders and modifies in the last second on nasdaq:equity:amzn reach maxOrdersPerSec 2' });
    await cmd(h, 'buy', '1', '100');
    expect(lastReject(h)!.code).toBe(RejectCode.MaxOrderRate);
    // The first left the window at +1 s: one slot.
    h.clock.setTime(START_US + SEC);
    await cmd(h, 'buy', '1', '100');
    expect(h.t.rejects).toHaveLength(2);
    await cmd(h, 'buy', '1', '100');
    expect(h.t.rejects).toHaveLength(3);
    expect(h.venue.requests.map((r) => r.type)).toEqual(['NewOrder', 'ModifyOrder', 'NewOrder']);
  });
});

// ------------------------------------------------------------------------------------------
describe('pause and resume', () => {
  it('cancels open orders, refuses risk-increasing orders, lets reducing orders and cancels through', async () => {
    const h = await trader();
    await goLong(h, '10');
    const resting = await cmd(h, 'buy', '5', '99');
    await ackLast(h);
    const before = h.venue.requests.length;
    h.env.pause('risk review');
    expect(h.env.paused).toBe(true);
    expect(h.env.pausedReason).toBe('risk review');
    expect(h.venue.requests.slice(before)).toEqual([expect.objectContaining({ type: 'CancelOrder', clientId: resting })]);
    expect(h.notes.at(-1)).toMatch(/trader: trading paused \(risk review\)/);

    await cmd(h, 'buy', '1', '100');
    expect(lastReject(h)).toMatchObject({ code: RejectCode.TradingPaused });
    expect(lastReject(h)!.reason).toMatch(/^trading paused \(risk review\): only risk-reducing orders and cancels are accepted; buy 1 does not reduce the position 10/);
    const s1 = await cmd(h, 'sell', '6', '100');
    expect(h.venue.requests.at(-1)).toMatchObject({ type: 'NewOrder', clientId: s1 });
    await ackLast(h);
    // 6 open + 5 more would flip the long 10 to short 1.
    await cmd(h, 'sell', '5', '100');
    expect(lastReject(h)!.code).toBe(RejectCode.TradingPaused);
    await cmd(h, 'sell', '4', '100.01');
    // A modify that keeps the order reducing passes; one that would flip does not.
    await cmd(h, 'modify', s1, '100.02', '6');
    expect(h.venue.requests.at(-1)).toMatchObject({ type: 'ModifyOrder', clientId: s1 });
    await cmd(h, 'cancel', s1);
    expect(h.venue.requests.at(-1)).toMatchObject({ type: 'CancelOrder', clientId: s1 });

    h.env.resume();
    expect(h.env.paused).toBe(false);
    await cmd(h, 'buy', '1', '100');
    expect(h.venue.requests.at(-1)).toMatchObject({ type: 'NewOrder', side: Side.Buy });
    expect(ctlOps(h.sink)).toEqual(['connect', 'cmd', 'cmd', 'pause', 'cmd', 'cmd', 'cmd', 'cmd', 'cmd', 'cmd', 'resume', 'cmd']);
    expect(h.notes.at(-1)).toBe('trader: trading resumed (was: risk review)');
  });

  it('cancelAllOpen sends one cancel per open order without one in flight', async () => {
    const h = await trader();
    const a = await cmd(h, 'buy', '1', '99');
    const b = await cmd(h, 'buy', '1', '98');
    await cmd(h, 'cancel', a);
    const n = h.venue.requests.length;
    expect(h.env.cancelAllOpen()).toBe(1);
    expect(h.venue.requests.slice(n)).toEqual([expect.objectContaining({ type: 'CancelOrder', clientId: b })]);
    expect(ctlOps(h.sink).at(-1)).toBe('cancel-all');
  });
});

// ------------------------------------------------------------------------------------------
describe('kill switch', () => {
  it('trips on the daily loss: cancels, pauses, tells the owner, journals it', async () => {
    const h = await trader({ killSwitch: { dailyLossLimit: 100 }, timeZone: 'America/New_York' });
    const resting = await cmd(h, 'buy', '5', '99');
    await ackLast(h);
    h.env.equityCheck(-50);
    h.env.equityCheck(-99.99);
    expect(h.env.killSwitch.state).toBe('armed');
    const n = h.venue.requests.length;
    h.env.equityCheck(-100);
    expect(h.env.killSwitch.state).toBe('tripped');
    expect(h.env.killSwitch.reason).toBe('daily loss 100 reached dailyLossLimit 100');
    expect(h.env.paused).toBe(true);
    expect(h.venue.requests.slice(n)).toEqual([expect.objectContaining({ type: 'CancelOrder', clientId: resting })]);
    expect(h.notes).toEqual(['trader: KILL SWITCH tripped: daily loss 100 reached dailyLossLimit 100. Open orders cancelled; risk-increasing orders refused until /resume']);
    const kill = h.sink.lines.map((l) => JSON.parse(l) as JournalEntry).find((e) => e.k === 'ctl' && e.op === 'kill') as JournalCtl;
    expect(kill.args).toEqual({ reason: 'daily loss 100 reached dailyLossLimit 100', action: 'pause' });
    await cmd(h, 'buy', '1', '100');
    expect(lastReject(h)).toMatchObject({ code: RejectCode.TradingPaused });
    expect(lastReject(h)!.reason).toMatch(/^trading paused \(kill switch: daily loss 100 reached dailyLossLimit 100\)/);
    // Once tripped it does not trip again; resume re-arms it from the equity now.
    h.env.equityCheck(-500);
    expect(ctlOps(h.sink).filter((o) => o === 'kill')).toHaveLength(1);
    h.env.resume();
    expect(h.env.killSwitch.state).toBe('armed');
    h.env.equityCheck(-550);
    expect(h.env.killSwitch.state).toBe('armed');
    h.env.equityCheck(-600);
    expect(h.env.killSwitch.reason).toBe('daily loss 100 reached dailyLossLimit 100');
  });

  it('trips on a drawdown from peak equity', async () => {
    const h = await trader({ killSwitch: { maxDrawdown: 300 } });
    h.env.equityCheck(500);
    h.env.equityCheck(250);
    expect(h.env.paused).toBe(false);
    h.env.equityCheck(200);
    expect(h.env.paused).toBe(true);
    expect(h.env.killSwitch.reason).toBe('drawdown 300 from peak equity 500 reached maxDrawdown 300');
  });

  it('trips by hand; with action flatten it closes the position', async () => {
    const h = await trader({ killSwitch: { action: 'flatten' } });
    await goLong(h, '10');
    const n = h.venue.requests.length;
    h.env.kill('manual: operator');
    expect(h.env.killSwitch.reason).toBe('manual: operator');
    expect(h.env.flattening).toBe(true);
    const flat = h.venue.requests.slice(n);
    expect(flat).toEqual([expect.objectContaining({ type: 'NewOrder', clientId: 'trader-flat-1', side: Side.Sell, orderType: OrderType.Market, tif: TimeInForce.IOC, execInstr: [ExecInstr.ReduceOnly] })]);
    expect((flat[0] as VenueNewOrder).qty.toString()).toBe('10');
    expect(h.notes.at(-1)).toMatch(/KILL SWITCH tripped: manual: operator\. Open orders cancelled, positions being flattened/);
    await ackLast(h);
    await fill(h, 'trader-flat-1', Side.Sell, '10');
    expect(h.env.getPosition('SIM', 1).position.isZero()).toBe(true);
    expect(h.env.flattening).toBe(false);
    // Still paused after the flatten: the kill switch holds until /resume.
    expect(h.env.paused).toBe(true);
  });

  it('equityCheck does nothing without limits, and nothing once stopped', async () => {
    const h = await trader();
    h.env.equityCheck(-1e9);
    expect(h.env.paused).toBe(false);
    const k = await trader({ killSwitch: { maxDrawdown: 1 } });
    await k.env.stop();
    k.env.equityCheck(-100);
    expect(k.env.killSwitch.state).toBe('armed');
  });
});

// ------------------------------------------------------------------------------------------
describe('flatten', () => {
  it('cancels, waits until nothing is open, then closes each position; strategy orders are refused meanwhile', async () => {
    const h = await trader({ controls: { priceBandBps: 50 }, mid: () => 100 });
    await goLong(h, '10');
    const resting = await cmd(h, 'sell', '10', '100.2');
    await ackLast(h);
    const n = h.venue.requests.length;
    h.env.flatten();
    expect(h.venue.requests.slice(n)).toEqual([expect.objectContaining({ type: 'CancelOrder', clientId: resting })]);
    expect(h.env.flattening).toBe(true);
    await cmd(h, 'sell', '1', '100');
    expect(lastReject(h)).toMatchObject({ code: RejectCode.TradingPaused, reason: 'trading paused: a flatten is in progress, the kernel is closing the positions' });
    h.venue.emit('onCancelOrderAck', { exchange: 'SIM', clientId: resting });
    await h.env.idle();
    expect(h.venue.requests).toHaveLength(n + 1); // still open until cancelled
    await cancelled(h, resting);
    // A limit IOC at the edge of the band: mid 100 − 50 bps.
    const f1 = h.venue.requests.at(-1) as VenueNewOrder;
    expect(f1).toMatchObject({ type: 'NewOrder', side: Side.Sell, orderType: OrderType.Limit, tif: TimeInForce.IOC, execInstr: [ExecInstr.ReduceOnly] });
    expect(f1.price.toString()).toBe('99.5');
    // Journaled as a kernel order.
    expect(JSON.parse(h.sink.lines.findLast((l) => l.includes('"sendNewOrder"'))!).args).toMatchObject({ clientId: f1.clientId, kernel: true });
    // Partly filled, the rest cancelled: a second round for what is left.
    await ackLast(h);
    await fill(h, f1.clientId, Side.Sell, '4', '6');
    await cancelled(h, f1.clientId, CancelCode.IocRemainder);
    const f2 = h.venue.requests.at(-1) as VenueNewOrder;
    expect(f2.clientId).toBe('trader-flat-2');
    expect(f2.qty.toString()).toBe('6');
    await ackLast(h);
    await fill(h, f2.clientId, Side.Sell, '6');
    expect(h.env.flattening).toBe(false);
    expect(h.env.paused).toBe(false);
    // Flat, not paused: the strategy trades again.
    await cmd(h, 'buy', '1', '100');
    expect(h.venue.requests.at(-1)).toMatchObject({ type: 'NewOrder', side: Side.Buy });
    expect(ctlOps(h.sink).filter((o) => o === 'flatten')).toHaveLength(1);
  });

  it('gives up after FLATTEN_MAX_ROUNDS rounds and tells the owner', async () => {
    const h = await trader();
    await goLong(h, '10');
    h.env.flatten();
    for (let i = 1; i <= 5; i++) {
      const f = h.venue.requests.at(-1) as VenueNewOrder;
      expect(f.clientId).toBe(`trader-flat-${i}`);
      await cancelled(h, f.clientId, CancelCode.NoLiquidity);
    }
    expect(h.env.flattening).toBe(false);
    expect(h.notes.at(-1)).toBe('trader: flatten ended: still not flat after 5 rounds of closing orders (nasdaq:equity:amzn 10)');
  });
});

// ------------------------------------------------------------------------------------------
describe('graceful stop', () => {
  it('cancels every open order, then onStop and the ack', async () => {
    const h = await trader();
    const a = await cmd(h, 'buy', '1', '99');
    const n = h.venue.requests.length;
    const acked = h.env.gracefulStop();
    await h.env.idle();
    expect(h.venue.requests.slice(n)).toEqual([expect.objectContaining({ type: 'CancelOrder', clientId: a })]);
    expect(h.t.cbs).toEqual(['onStop']);
    expect(await acked).toBe(true);
    expect(h.env.state).toBe('stopped');
    const stop = h.sink.lines.map((l) => JSON.parse(l) as JournalEntry).find((e) => e.k === 'ctl' && e.op === 'stop') as JournalCtl;
    expect(stop.args).toEqual({ graceful: true, flatten: false });
  });

  it('with flatten, closes the positions before onStop; paused meanwhile', async () => {
    const h = await trader();
    await goLong(h, '10');
    const acked = h.env.gracefulStop({ flatten: true });
    await h.env.idle();
    expect(h.env.state).toBe('stopping');
    expect(h.env.paused).toBe(true);
    expect(h.t.cbs).toEqual([]);
    const f = h.venue.requests.at(-1) as VenueNewOrder;
    expect(f).toMatchObject({ type: 'NewOrder', side: Side.Sell, orderType: OrderType.Market });
    await ackLast(h);
    await fill(h, f.clientId, Side.Sell, '10');
    expect(h.t.cbs).toEqual(['onStop']);
    expect(await acked).toBe(true);
    expect(h.env.getPosition('SIM', 1).position.isZero()).toBe(true);
    // A plain stop journals no args, as before.
    const p = await trader();
    await p.env.stop();
    expect(p.sink.lines.find((l) => l.includes('"op":"stop"'))).not.toContain('args');
  });
});

// ------------------------------------------------------------------------------------------
describe('strategy parameter schema', () => {
  class WithSchema extends Trader {
    static paramsSchema = z.object({ qty: z.number().int().positive(), side: z.enum(['buy', 'sell']).default('buy') });
  }

  it('validates updateParams: a bad value is refused with a reason and the old parameters stay', async () => {
    const h = await trader({ params: { qty: 5 } }, new WithSchema());
    // The schema's output goes to the strategy: defaults filled in.
    expect(h.t.paramsSeen).toEqual([{ qty: 5, side: 'buy' }]);
    const bad = h.env.updateParams({ qty: -1, side: 'buy' });
    expect(bad).toEqual({ ok: false, reason: 'qty: Too small: expected number to be >0' });
    await h.env.idle();
    expect(h.t.paramsSeen).toHaveLength(1);
    expect(h.env.currentParams).toEqual({ qty: 5, side: 'buy' });
    const good = h.env.updateParams({ qty: 7, side: 'sell' });
    expect(good).toEqual({ ok: true, params: { qty: 7, side: 'sell' } });
    await h.env.idle();
    expect(h.t.paramsSeen.at(-1)).toEqual({ qty: 7, side: 'sell' });
    const ctl = h.sink.lines.map((l) => JSON.parse(l) as JournalEntry).filter((e): e is JournalCtl => e.k === 'ctl' && e.op.startsWith('params'));
    expect(ctl.map((e) => [e.op, e.args])).toEqual([
      ['params', { qty: -1, side: 'buy' }],
      ['params-refused', { reason: 'qty: Too small: expected number to be >0' }],
      ['params', { qty: 7, side: 'sell' }],
    ]);
  });

  it('takes an instance property over the static one, and does not start with parameters it refuses', async () => {
    const s = new WithSchema();
    (s as unknown as { paramsSchema: unknown }).paramsSchema = z.object({ qty: z.string() });
    const h = await trader({ params: { qty: '5' } }, s);
    expect(h.t.paramsSeen).toEqual([{ qty: '5' }]);

    const b = harness({ strat: new WithSchema() as never, params: { qty: 'many' } });
    expect(await b.env.connect()).toBe(false);
    expect(b.env.state).toBe('failed');
    expect(b.env.startError).toBe('strategy parameters refused by its paramsSchema: qty: Invalid input: expected number, received string');
  });

  it('a zod schema is a ParamsSchema', () => {
    const s: ParamsSchema = z.object({ a: z.number() });
    expect(s.safeParse({ a: 1 }).success).toBe(true);
  });

  it('without a schema, updateParams accepts anything as before', async () => {
    const h = await trader({ params: { a: 1 } });
    expect(h.env.updateParams({ b: 'x' })).toEqual({ ok: true, params: { b: 'x' } });
  });
});

// ------------------------------------------------------------------------------------------
describe('replay of controls', () => {
  it('reproduces control rejects, pause/resume, a kill with flatten and a refused parameter change', async () => {
    class Strat extends Trader {
      static paramsSchema = z.object({ qty: z.number() });
    }
    const controls: TradingControls = { maxOrderQty: 50, maxOrdersPerSec: 3, selfTradePrevention: 'reject' };
    const h = await trader({ controls, killSwitch: { action: 'flatten', maxDrawdown: 10 }, params: { qty: 1 } }, new Strat());
    const at = (s: number) => h.clock.setTime(START_US + s * SEC);
    at(1);
    await cmd(h, 'buy', '60', '100');
    const a = await cmd(h, 'buy', '20', '100');
    await ackLast(h);
    await fill(h, a, Side.Buy, '20');
    await cmd(h, 'sell', '5', '99');
    await cmd(h, 'sell', '5', '101');
    at(2);
    h.env.updateParams({ qty: 'x' });
    h.env.updateParams({ qty: 2 });
    h.env.pause('check');
    await h.env.idle();
    await cmd(h, 'buy', '1', '100');
    h.env.resume();
    at(3);
    h.env.equityCheck(20);
    h.env.equityCheck(5);
    expect(h.env.flattening).toBe(true);
    await h.env.idle();
    // The venue answers: the resting sells are cancelled, then the flatten order fills.
    for (const o of h.env.openOrders()) await cancelled(h, o.clientId);
    const f = h.venue.requests.at(-1) as VenueNewOrder;
    await ackLast(h);
    await fill(h, f.clientId, Side.Sell, '20');
    expect(h.env.getPosition('SIM', 1).position.isZero()).toBe(true);
    expect(h.t.rejects.map((x) => x.code)).toEqual([RejectCode.MaxOrderQty, RejectCode.TradingPaused]);
    expect(f.clientId).toBe('trader-flat-1');
    await runUntil(h, START_US + 4 * SEC);
    await h.env.stop();
    h.env.end();

    const sink = new MemoryJournalSink();
    const j = new Journal(sink);
    // The harness connected before a header could be written: the run's header, as a runner writes it.
    j.header({ mode: 'backtest', venues: h.env.journalVenues(), params: { qty: 1 }, timeZone: 'UTC', startTs: START_US, controls, killSwitch: { action: 'flatten', maxDrawdown: 10 } });
    const header = JSON.parse(sink.lines[0]!);
    const entries = h.sink.lines.map((l) => JSON.parse(l) as JournalEntry);
    expect(entries.filter((e) => e.k === 'ctl').map((e) => (e as JournalCtl).op)).toEqual(
      expect.arrayContaining(['params', 'params-refused', 'pause', 'resume', 'kill']),
    );
    const r = await replayJournal({ strategy: new Strat(), journal: { header, entries, lines: h.sink.lines }, logger: silentLogger() });
    expect(r.firstDifference).toBeUndefined();
    expect(r.identical).toBe(true);
    const rejects = new Strat();
    // Without the controls in the header the replay departs at the first control reject.
    const r2 = await replayJournal({ strategy: rejects, journal: { header: { ...header, controls: undefined }, entries, lines: h.sink.lines }, logger: silentLogger() });
    expect(r2.identical).toBe(false);
  });
});

export type { StrategyEventMap };
