import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Price, Qty, Side } from '../../src/api/index.js';
import { FileJournalSink, Journal, MemoryJournalSink, type JournalEntry } from '../../src/core/journal.js';
import { AMZN, START_US, Recorder, ackOf, fillOf, running } from './env-fixtures.js';

describe('Journal', () => {
  it('writes a header, then in/out/ctl lines numbered from 1, with the given ts', () => {
    const sink = new MemoryJournalSink();
    const j = new Journal(sink);
    j.header({ mode: 'backtest', venues: [], params: { a: 1 }, timeZone: 'UTC', startTs: 5 });
    j.ctl(5, 'connect');
    j.in(6, 'venue', 'onAccountInfo', { exchange: 'SIM', userId: 'u' });
    j.out(7, 'fetchAccountInfo', { exchange: 'SIM' });
    j.ctl(8, 'params', { a: 2 });
    const lines = sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({ k: 'header', v: 1, mode: 'backtest', venues: [], params: { a: 1 }, timeZone: 'UTC', startTs: 5 });
    expect(lines.slice(1)).toEqual([
      { k: 'ctl', seq: 1, ts: 5, op: 'connect' },
      { k: 'in', seq: 2, ts: 6, src: 'venue', cb: 'onAccountInfo', ev: { exchange: 'SIM', userId: 'u' } },
      { k: 'out', seq: 3, ts: 7, req: 'fetchAccountInfo', args: { exchange: 'SIM' } },
      { k: 'ctl', seq: 4, ts: 8, op: 'params', args: { a: 2 } },
    ]);
    expect(j.count).toBe(4);
    expect(sink.lines.every((l) => !l.includes('\n'))).toBe(true);
  });

  it('serialises decimals as exact strings', () => {
    const sink = new MemoryJournalSink();
    const j = new Journal(sink);
    j.in(1, 'md', 'onPublicTrade', { price: Price.of('0.1').add('0.2'), qty: Qty.of('1e-8'), big: Price.of('123456789012345678901234.5') });
    expect(JSON.parse(sink.lines[0]!).ev).toEqual({ price: '0.3', qty: '0.00000001', big: '123456789012345678901234.5' });
  });

  it('FileJournalSink buffers lines, flushes at its threshold and on close', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tradeloop-journal-'));
    try {
      const path = join(dir, 'sub', 'j.jsonl');
      const sink = new FileJournalSink(path, 20);
      const j = new Journal(sink);
      j.ctl(1, 'connect');
      expect(readFileSync(path, 'utf8')).not.toBe(''); // the first line passed the 20-byte threshold
      j.ctl(2, 'stop');
      j.close();
      j.close(); // idempotent
      const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
      expect(lines.map((l) => JSON.parse(l).op)).toEqual(['connect', 'stop']);
      const big = new FileJournalSink(join(dir, 'b.jsonl'));
      big.writeLine('{"a":1}');
      expect(readFileSync(join(dir, 'b.jsonl'), 'utf8')).toBe('');
      big.close();
      expect(readFileSync(join(dir, 'b.jsonl'), 'utf8')).toBe('{"a":1}\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Journal of a StratEnv run', () => {
  it('records every inbound event and outbound request in order, with increasing seq, the clock ts and decimals as strings', async () => {
    const sink = new MemoryJournalSink();
    const journal = new Journal(sink);
    const strat = new Recorder({
      behaviour: {
        onStart: (_ev, e) => {
          e.addCmdHook('get_x', (p) => `x ${p.join(' ')}`);
          e.setupTimer(1000, () => {
            e.fetchAccountInfo('SIM');
            return false;
          });
        },
        onPublicTrade: (_ev, e) => void e.sendNewOrder({ clientId: 'o1', exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: Price.of('100.01'), qty: '5' }),
        onStop: (_ev, e) => e.sendStopAck(),
      },
    });
    const h = await running({ strat, journal, params: { k: 1 } });
    const t = (s: number) => START_US + s * 1_000_000;

    h.clock.setTime(t(0.5));
    h.env.onMarketData('onPublicTrade', { exchange: 'SIM', instrumentId: 1, side: Side.Sell, price: Price.of('100.01'), qty: Qty.of('3'), execTs: t(0.5), recvTs: t(0.5) });
    await h.env.idle();
    h.clock.setTime(t(0.7));
    h.venue.emit('onNewOrderAck', ackOf(h.venue.requests[0]!));
    h.venue.emit('onOrderExecution', fillOf('o1', Side.Buy, '100.01', '2', '3', t(0.7)));
    h.env.sendNewOrder({ clientId: 'bad', exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: '100.001', qty: '1' });
    await h.env.idle();
    h.clock.advanceTo(t(1));
    await h.env.idle();
    h.clock.setTime(t(2));
    h.env.updateParams({ k: 2 });
    expect(await h.env.runCommand('get_x', ['a'])).toBe('x a');
    h.clock.setTime(t(3));
    expect(await h.env.stop()).toBe(true);
    h.env.end();

    const entries = sink.lines.map((l) => JSON.parse(l) as JournalEntry);
    // seq 1, 2, 3, ... without gaps; ts never goes back.
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1));
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.ts).toBeGreaterThanOrEqual(entries[i - 1]!.ts);

    const brief = entries.map((e) => {
      const when = (e.ts - START_US) / 1_000_000;
      if (e.k === 'in') return `${when} in ${e.src} ${e.cb}`;
      if (e.k === 'out') return `${when} out ${e.req}`;
      return `${when} ctl ${e.op}`;
    });
    expect(brief).toEqual([
      '0 ctl connect',
      '0 out login',
      '0 in env onStart',
      '0 out addCmdHook',
      '0 out setupTimer',
      '0 in env onInstruments',
      '0 in env onStratParamsUpdate',
      '0.5 in md onPublicTrade',
      '0.5 out sendNewOrder',
      '0.7 in venue onNewOrderAck',
      '0.7 in venue onOrderExecution',
      '0.7 out sendNewOrder',
      '0.7 in env onNewOrderReject',
      '1 in env timer',
      '1 out fetchAccountInfo',
      '2 ctl params',
      '2 in env onStratParamsUpdate',
      '2 ctl cmd',
      '2 in env cmd',
      '2 out cmdReply',
      '3 ctl stop',
      '3 in env onStop',
      '3 out sendStopAck',
      '3 ctl end',
    ]);

    // Every callback the strategy saw (but onFrameworkConnected) has its 'in' line, in the same order and at the same time.
    const ins = entries.filter((e) => e.k === 'in' && e.cb.startsWith('on'));
    const seen = strat.calls.filter((c) => c.cb !== 'onFrameworkConnected');
    expect(ins.map((e) => (e as { cb: string }).cb)).toEqual(seen.map((c) => c.cb));
    expect(ins.map((e) => e.ts)).toEqual(seen.map((c) => c.ts));

    // Decimals are strings, events as the strategy saw them.
    const find = (pred: (e: JournalEntry) => boolean) => entries.find(pred) as JournalEntry & { ev?: Record<string, unknown>; args?: Record<string, unknown> };
    expect(find((e) => e.k === 'in' && e.cb === 'onPublicTrade').ev).toMatchObject({ price: '100.01', qty: '3', side: 'Sell' });
    expect(find((e) => e.k === 'in' && e.cb === 'onOrderExecution').ev).toMatchObject({ price: '100.01', fillQty: '2', leavesQty: '3', fee: '0' });
    expect(find((e) => e.k === 'out' && e.req === 'sendNewOrder').args).toMatchObject({ clientId: 'o1', price: '100.01', qty: '5', side: 'Buy' });
    expect(find((e) => e.k === 'in' && e.cb === 'onNewOrderReject').ev).toMatchObject({ clientId: 'bad', rejectCode: 1011 });
    expect(find((e) => e.k === 'in' && e.cb === 'onInstruments').ev).toEqual([
      expect.objectContaining({ name: AMZN.name, tickSize: '0.01', lotSize: '1' }),
      expect.objectContaining({ tickSize: '0.5', lotSize: '0.001', minQty: '0.01' }),
    ]);
    expect(find((e) => e.k === 'in' && e.cb === 'onStart').ev).toEqual({ params: { k: 1 } });
    expect(find((e) => e.k === 'ctl' && e.op === 'cmd').args).toEqual({ name: 'get_x', params: ['a'] });
    expect(find((e) => e.k === 'out' && e.req === 'cmdReply').args).toEqual({ name: 'get_x', reply: 'x a' });
  });
});
