/**
 * The hosted simulated venue: paced replay of a recorded file (N× speed), the silent book
 * build and snapshot of each pass, looping, end of data, feed disconnects.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Price, Qty } from '../../src/api/decimal.js';
import { CancelCode } from '../../src/api/codes.js';
import { GatewayStatus, OrderType, Side, TimeInForce } from '../../src/api/enums.js';
import { L3Book } from '../../src/book/l3-book.js';
import { LiveClock } from '../../src/core/clock.js';
import type { VenueEvent } from '../../src/core/venue.js';
import { MdStatus, MdType, type MdEvent } from '../../src/data/events.js';
import { openMarketData } from '../../src/data/open.js';
import { writeRecorded } from '../../src/data/recorded.js';
import { generateMarket } from '../../src/data/synthetic.js';
import { SimVenueHost } from '../../src/gateway/venue-host.js';
import { ConstantLatencyModel } from '../../src/sim/latency.js';
import { sleep } from './harness.js';

const clocks: LiveClock[] = [];
const hosts: SimVenueHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
  for (const c of clocks.splice(0)) c.cancelAll();
});

const dir = mkdtempSync(join(tmpdir(), 'tl-vh-'));

/** A recorded file of `events` synthetic events; returns its path and the events. */
async function recordedFile(events: number, seed = 3): Promise<{ path: string; events: MdEvent[] }> {
  const m = generateMarket({ events, seed });
  const all = [...m.eventsSync()].map((e) => ({ ...e }));
  const path = join(dir, `syn-${events}-${seed}.tlrec`);
  await writeRecorded(path, m.instruments, all);
  return { path, events: all };
}

interface Observed {
  batches: MdEvent[][];
  statuses: Array<[GatewayStatus, string]>;
  venueEvents: VenueEvent[];
}

function observe(h: SimVenueHost): Observed {
  const o: Observed = { batches: [], statuses: [], venueEvents: [] };
  h.addListener({
    onMd: (_x, events) => o.batches.push(events.map((e) => ({ ...e }))),
    onStatus: (_x, status, detail) => o.statuses.push([status, detail]),
    onVenueEvent: (e) => o.venueEvents.push(e),
  });
  return o;
}

function waitFor(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (pred()) return resolve();
      if (performance.now() - t0 > timeoutMs) return reject(new Error('timeout'));
      setTimeout(tick, 5);
    };
    tick();
  });
}

function dump(book: L3Book): unknown {
  const out: unknown[] = [];
  for (const side of [1, -1] as const) {
    for (let i = 0; i < book.l2.depth(side); i++) {
      const tick = book.l2.levelTick(side, i);
      out.push([side, tick, book.l2.levelQty(side, i), book.ordersAt(side, tick)]);
    }
  }
  return out;
}

const key = (e: MdEvent) => [e.type, e.instrumentId, e.side, e.orderId, e.priceTick, e.qty, e.status].join(',');

describe('SimVenueHost', () => {
  it('replays a recorded file at N× its pace, batching events that are due together', async () => {
    const { path, events } = await recordedFile(3000);
    const source = await openMarketData(path);
    const clock = new LiveClock();
    clocks.push(clock);
    const speed = 40;
    const h = new SimVenueHost({ exchange: 'SYNTH', source, clock, speed });
    hosts.push(h);
    const o = observe(h);
    const t0 = performance.now();
    await h.start();
    expect(h.gatewayStatus().status).toBe(GatewayStatus.ReadyToTrade);
    await waitFor(() => o.statuses.some(([s]) => s === GatewayStatus.Maintenance));
    const wallMs = performance.now() - t0;

    // First the host's own snapshot of the silently built book.
    const snap = o.batches[0]!;
    expect(snap[0]).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotStart });
    expect(snap[1]!.type).toBe(MdType.Clear);
    expect(snap.at(-1)).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotEnd });
    // Then the rest of the data, in order, each event once.
    const live = o.batches.slice(1).flat();
    const prefix = events.length - live.length;
    expect(prefix).toBeGreaterThan(0);
    expect(events[prefix - 1]).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotEnd });
    expect(live.map(key)).toEqual(events.slice(prefix).map(key));
    // Batched, not one message per event.
    expect(o.batches.length).toBeGreaterThan(5);
    expect(o.batches.length).toBeLessThan(live.length / 2);
    // Paced: gateway times follow the data's gaps divided by the speed, never going back.
    for (let i = 1; i < live.length; i++) expect(live[i]!.localTs).toBeGreaterThanOrEqual(live[i - 1]!.localTs);
    const dataSpanUs = events.at(-1)!.localTs - events[0]!.localTs;
    const mappedSpanUs = live.at(-1)!.localTs - snap[0]!.localTs;
    // Late wake-ups under a loaded CPU stretch the span a little; the pace must still be the data's / speed.
    expect(Math.abs(mappedSpanUs - dataSpanUs / speed)).toBeLessThan(Math.max(50_000, 0.05 * (dataSpanUs / speed)));
    expect(wallMs).toBeGreaterThan((dataSpanUs / speed / 1000) * 0.9);
    expect(wallMs).toBeLessThan((dataSpanUs / speed / 1000) * 1.5 + 1000);
    // The venue's book is the file's book.
    const ref = new L3Book();
    for (const e of events) ref.apply(e);
    expect(dump(h.books.get(1)!)).toEqual(dump(ref));
    // And a snapshot rebuilds it exactly.
    const rebuilt = new L3Book();
    for (const e of h.snapshot(1)) rebuilt.apply(e);
    expect(dump(rebuilt)).toEqual(dump(ref));
    expect(h.gatewayStatus()).toEqual({ status: GatewayStatus.Maintenance, detail: expect.stringMatching(/end of the market data/) });
  });

  it('lists the instruments under the configured exchange', async () => {
    const { path } = await recordedFile(200);
    const clock = new LiveClock();
    clocks.push(clock);
    const h = new SimVenueHost({ exchange: 'PAPER', source: await openMarketData(path), clock });
    hosts.push(h);
    expect(h.instruments.map((i) => [i.exchange, i.instrumentId, i.tickSize.toString()])).toEqual([['PAPER', 1, '0.01']]);
    expect(h.venue.exchange).toBe('PAPER');
    expect(h.gatewayStatus().status).toBe(GatewayStatus.Connecting);
  });

  it('loops: each pass starts with a fresh snapshot and times keep moving forward', async () => {
    const clock = new LiveClock();
    clocks.push(clock);
    const h = new SimVenueHost({ exchange: 'SYNTH', source: generateMarket({ events: 400, seed: 5 }), clock, speed: 200, loop: true });
    hosts.push(h);
    const o = observe(h);
    await h.start();
    await waitFor(() => h.passCount >= 3);
    const rows = o.batches.flat();
    const starts = rows.filter((r) => r.type === MdType.Status && r.status === MdStatus.SnapshotStart);
    expect(starts.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.localTs).toBeGreaterThanOrEqual(rows[i - 1]!.localTs);
    expect(o.statuses.filter(([s]) => s === GatewayStatus.Connecting).length).toBeGreaterThanOrEqual(2);
    expect(o.statuses.at(-1)![0]).toBe(GatewayStatus.ReadyToTrade);
  });

  it('keeps the event loop serving timers and sockets when it falls far behind (a source with an await per event)', async () => {
    const clock = new LiveClock();
    clocks.push(clock);
    // 5 M synthetic events at a million times their pace: a backlog from the first event,
    // generated as it is read, so only a host that never yields pays for all of them.
    const h = new SimVenueHost({ exchange: 'SYNTH', source: generateMarket({ events: 5_000_000, seed: 1 }), clock, speed: 1e6 });
    hosts.push(h);
    await h.start();
    const t0 = performance.now();
    const firedAfterMs = await new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - t0), 20));
    // Without yielding it fires only once the data runs out (≈ 5 s here); with it, after a
    // few batches (≈ 0.2 s here, twice that on a loaded CI machine).
    expect(firedAfterMs).toBeLessThan(1_500);
  });

  it('ends the session at the end of the data: resting orders are cancelled (SessionEnd)', async () => {
    const clock = new LiveClock();
    clocks.push(clock);
    const m = generateMarket({ events: 1500, seed: 9 });
    const h = new SimVenueHost({ exchange: 'SYNTH', source: m, clock, speed: 50, sim: { latency: new ConstantLatencyModel({ entryUs: 50, responseUs: 50 }) } });
    hosts.push(h);
    const o = observe(h);
    await h.start();
    const inst = h.instruments[0]!;
    const tick = h.books.get(1)!.l2.bestBidTick() - 100;
    h.venue.submit({
      type: 'NewOrder',
      strategy: 's1',
      clientId: 'c1',
      instrumentId: 1,
      side: Side.Buy,
      orderType: OrderType.Limit,
      tif: TimeInForce.GTC,
      execInstr: [],
      price: Price.fromTicks(tick, inst),
      priceTick: tick,
      qty: Qty.of('5'),
      qtyLots: 5,
    });
    await waitFor(() => o.venueEvents.some((e) => e.cb === 'onOrderCancelled'));
    expect(o.venueEvents.map((e) => e.cb)).toEqual(['onNewOrderAck', 'onOrderCancelled']);
    expect(o.venueEvents[1]!.ev).toMatchObject({ clientId: 'c1', unsolicited: true, cancelCode: CancelCode.SessionEnd });
    expect(h.gatewayStatus().status).toBe(GatewayStatus.Maintenance);
  });

  it('disconnectFeed: Disconnected to subscribers, books keep following the market, then a snapshot', async () => {
    const clock = new LiveClock();
    clocks.push(clock);
    const h = new SimVenueHost({ exchange: 'SYNTH', source: generateMarket({ events: 100_000, seed: 11 }), clock, speed: 20, loop: true });
    hosts.push(h);
    const o = observe(h);
    await h.start();
    await sleep(50);
    const before = o.batches.length;
    const back = h.disconnectFeed(100);
    expect(h.feedIsDown).toBe(true);
    expect(() => h.disconnectFeed()).toThrow(/already down/);
    expect(o.batches[before]).toEqual([expect.objectContaining({ type: MdType.Status, status: MdStatus.Disconnected, instrumentId: 1 })]);
    expect(h.gatewayStatus()).toEqual({ status: GatewayStatus.Connecting, detail: 'market data feed disconnected' });
    expect(h.snapshot(1)).toEqual([expect.objectContaining({ type: MdType.Status, status: MdStatus.Disconnected })]);
    const bookAtDrop = dump(h.books.get(1)!);
    await back;
    // Nothing was published while down (the next batch is the snapshot); the books moved on.
    // Live data may follow the snapshot before this test resumes: the snapshot plus what
    // followed must rebuild the venue's book.
    expect(o.batches.length).toBeGreaterThanOrEqual(before + 2);
    expect(dump(h.books.get(1)!)).not.toEqual(bookAtDrop);
    const snap = o.batches[before + 1]!;
    expect(snap[0]).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotStart });
    expect(snap.at(-1)).toMatchObject({ type: MdType.Status, status: MdStatus.SnapshotEnd });
    const rebuilt = new L3Book();
    for (const b of o.batches.slice(before + 1)) for (const e of b) rebuilt.apply(e);
    expect(dump(rebuilt)).toEqual(dump(h.books.get(1)!));
    expect(h.gatewayStatus().status).toBe(GatewayStatus.ReadyToTrade);
    expect(o.statuses.slice(-2).map(([s]) => s)).toEqual([GatewayStatus.Connecting, GatewayStatus.ReadyToTrade]);
  });

  it('refuses a bad speed', () => {
    const clock = new LiveClock();
    expect(() => new SimVenueHost({ exchange: 'X', source: generateMarket({ events: 10, seed: 1 }), clock, speed: 0 })).toThrow(RangeError);
  });
});
