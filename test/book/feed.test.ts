import { describe, expect, it } from 'vitest';
import { FeedHandlerStatus, MDSub, Side, makeInstrument, type EventCallbackName } from '../../src/api/index.js';
import { BookFeed } from '../../src/book/feed.js';
import { ASK, BID, MdStatus, MdType, type MdEvent } from '../../src/data/events.js';

const inst = makeInstrument({ instrumentId: 7, exchange: 'SIM', name: 'sim:spot:x-usd', tickSize: '0.5', lotSize: '0.1', baseCurrency: 'X', quoteCurrency: 'USD' });

let ts = 1_000;
function ev(type: MdEvent['type'], f: Partial<MdEvent> = {}): MdEvent {
  ts += 10;
  return { type, instrumentId: 7, exchTs: ts - 3, localTs: ts, side: 0, orderId: 0, priceTick: 0, qty: 0, status: 0, ...f };
}
const add = (orderId: number, side: 1 | -1, priceTick: number, qty: number) => ev(MdType.OrderAdd, { orderId, side, priceTick, qty });

interface Rec {
  cb: EventCallbackName;
  ev: Record<string, unknown>;
}
/** A feed whose callbacks are recorded with Price/Qty values as strings. */
function setup(...subs: MDSub[]) {
  const out: Rec[] = [];
  const feed = new BookFeed(inst, (cb, e) => {
    const plain: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e as object)) plain[k] = typeof v === 'object' && v !== null && 'd' in v ? String(v) : v;
    out.push({ cb, ev: plain });
  });
  feed.setSubscriptions(new Set(subs));
  return { feed, out, take: () => out.splice(0) };
}
const names = (rs: Rec[]) => rs.map((r) => r.cb);

describe('BookFeed', () => {
  it('with nothing subscribed keeps the book and emits nothing', () => {
    const { feed, out } = setup();
    feed.apply(add(1, BID, 10, 5));
    feed.apply(add(2, ASK, 12, 3));
    feed.apply(ev(MdType.OrderExec, { orderId: 2, side: ASK, priceTick: 12, qty: 1 }));
    feed.apply(ev(MdType.Status, { status: MdStatus.SnapshotStart }));
    feed.snapshot();
    expect(out).toEqual([]);
    expect(feed.depth.bestBidTick()).toBe(10);
    expect(feed.depth.levelQty(ASK, 0)).toBe(2);
    expect(feed.book.order(2)?.qty).toBe(2);
  });

  it('PriceLevelBook: add / modify / delete of price levels only', () => {
    const { feed, take } = setup(MDSub.PriceLevelBook);
    feed.apply(add(1, BID, 10, 5));
    const [a] = take();
    expect(a).toEqual({
      cb: 'onAddPriceLevel',
      ev: { exchange: 'SIM', instrumentId: 7, side: Side.Buy, price: '5', qty: '0.5', recvTs: ts },
    });
    feed.apply(add(2, BID, 10, 3));
    expect(take()).toEqual([{ cb: 'onModifyPriceLevel', ev: { exchange: 'SIM', instrumentId: 7, side: Side.Buy, price: '5', newQty: '0.8', recvTs: ts } }]);
    feed.apply(ev(MdType.OrderCancel, { orderId: 1, qty: 5 }));
    expect(take().map((r) => [r.cb, r.ev.newQty])).toEqual([['onModifyPriceLevel', '0.3']]);
    feed.apply(ev(MdType.OrderDelete, { orderId: 2 }));
    expect(take()).toEqual([{ cb: 'onDeletePriceLevel', ev: { exchange: 'SIM', instrumentId: 7, side: Side.Buy, price: '5', recvTs: ts } }]);
    // Trades are not subscribed; an unknown id changes nothing.
    feed.apply(ev(MdType.Trade, { side: ASK, priceTick: 10, qty: 1 }));
    feed.apply(ev(MdType.OrderDelete, { orderId: 99 }));
    expect(take()).toEqual([]);
  });

  it('LevelBook: the same L2 changes with levelId = price in ticks', () => {
    const { feed, take } = setup(MDSub.LevelBook);
    feed.apply(add(1, ASK, 21, 5));
    feed.apply(add(2, ASK, 21, 5));
    feed.apply(ev(MdType.OrderExec, { orderId: 1, side: ASK, priceTick: 21, qty: 5 }));
    feed.apply(ev(MdType.OrderDelete, { orderId: 2 }));
    expect(take().map((r) => [r.cb, r.ev.levelId, r.ev.side, r.ev.price, r.ev.qty ?? r.ev.newQty])).toEqual([
      ['onAddLevel', '21', Side.Sell, '10.5', '0.5'],
      ['onModifyLevel', '21', Side.Sell, '10.5', '1'],
      ['onModifyLevel', '21', Side.Sell, '10.5', '0.5'],
      ['onDeleteLevel', '21', Side.Sell, '10.5', undefined],
    ]);
  });

  it('OrderBook: one event per order change with levelId = order id', () => {
    const { feed, take } = setup(MDSub.OrderBook);
    feed.apply(add(11, BID, 8, 4));
    feed.apply(add(12, BID, 8, 6));
    feed.apply(ev(MdType.OrderCancel, { orderId: 12, qty: 1 }));
    feed.apply(ev(MdType.OrderExec, { orderId: 11, side: BID, priceTick: 8, qty: 4 }));
    feed.apply(ev(MdType.OrderDelete, { orderId: 12 }));
    expect(take().map((r) => [r.cb, r.ev.levelId, r.ev.price, r.ev.qty ?? r.ev.newQty])).toEqual([
      ['onAddLevel', '11', '4', '0.4'],
      ['onAddLevel', '12', '4', '0.6'],
      ['onModifyLevel', '12', '4', '0.5'],
      ['onDeleteLevel', '11', '4', undefined],
      ['onDeleteLevel', '12', '4', undefined],
    ]);
  });

  it('OrderBook on L2-only data (LevelSet) gets the by-price form', () => {
    const { feed, take } = setup(MDSub.OrderBook);
    feed.apply(ev(MdType.LevelSet, { side: ASK, priceTick: 30, qty: 2 }));
    feed.apply(ev(MdType.LevelSet, { side: ASK, priceTick: 30, qty: 2 }));
    feed.apply(ev(MdType.LevelSet, { side: ASK, priceTick: 30, qty: 9 }));
    feed.apply(ev(MdType.LevelSet, { side: ASK, priceTick: 30, qty: 0 }));
    expect(take().map((r) => [r.cb, r.ev.levelId, r.ev.qty ?? r.ev.newQty])).toEqual([
      ['onAddLevel', '30', '0.2'],
      ['onModifyLevel', '30', '0.9'],
      ['onDeleteLevel', '30', undefined],
    ]);
    expect(feed.depth.depth(ASK)).toBe(0);
  });

  it('BBO: sent only when the best price or its qty changes; an empty side is zero', () => {
    const { feed, take } = setup(MDSub.BBO);
    feed.apply(add(1, BID, 10, 5));
    expect(take()).toEqual([{ cb: 'onBestBidLevelUpdate', ev: { exchange: 'SIM', instrumentId: 7, price: '5', qty: '0.5', recvTs: ts } }]);
    feed.apply(add(2, BID, 9, 5)); // below the best
    feed.apply(ev(MdType.OrderCancel, { orderId: 2, qty: 1 }));
    expect(take()).toEqual([]);
    feed.apply(add(3, BID, 10, 1)); // best qty changes
    expect(take().map((r) => [r.cb, r.ev.price, r.ev.qty])).toEqual([['onBestBidLevelUpdate', '5', '0.6']]);
    feed.apply(add(4, ASK, 12, 2));
    feed.apply(add(5, ASK, 11, 2)); // better ask
    expect(take().map((r) => [r.cb, r.ev.price, r.ev.qty])).toEqual([
      ['onBestAskLevelUpdate', '6', '0.2'],
      ['onBestAskLevelUpdate', '5.5', '0.2'],
    ]);
    feed.apply(ev(MdType.OrderDelete, { orderId: 1 }));
    feed.apply(ev(MdType.OrderDelete, { orderId: 3 })); // best bid falls back to tick 9
    expect(take().map((r) => [r.cb, r.ev.price, r.ev.qty])).toEqual([
      ['onBestBidLevelUpdate', '5', '0.1'],
      ['onBestBidLevelUpdate', '4.5', '0.4'],
    ]);
    feed.apply(ev(MdType.OrderDelete, { orderId: 2 }));
    expect(take().map((r) => [r.cb, r.ev.price, r.ev.qty])).toEqual([['onBestBidLevelUpdate', '0', '0']]);
    // A trade or an unknown id is no book change.
    feed.apply(ev(MdType.Trade, { side: BID, priceTick: 11, qty: 1 }));
    feed.apply(ev(MdType.OrderExec, { orderId: 77, side: ASK, priceTick: 11, qty: 1 }));
    expect(take()).toEqual([]);
  });

  it('PublicTrades: OrderExec (taker opposite the resting order, at its price) and Trade', () => {
    const { feed, take } = setup(MDSub.PublicTrades);
    feed.apply(add(1, ASK, 21, 5));
    feed.apply(add(2, BID, 20, 5));
    expect(take()).toEqual([]);
    // The event's price is ignored for a known order: the level's price counts.
    feed.apply(ev(MdType.OrderExec, { orderId: 1, side: ASK, priceTick: 999, qty: 2 }));
    expect(take()).toEqual([
      { cb: 'onPublicTrade', ev: { exchange: 'SIM', instrumentId: 7, side: Side.Buy, price: '10.5', qty: '0.2', execTs: ts - 3, recvTs: ts } },
    ]);
    feed.apply(ev(MdType.OrderExec, { orderId: 2, side: BID, priceTick: 20, qty: 5 }));
    expect(take().map((r) => [r.ev.side, r.ev.price, r.ev.qty])).toEqual([[Side.Sell, '10', '0.5']]);
    // An order unknown to the book still traded: the event's side and price are used.
    feed.apply(ev(MdType.OrderExec, { orderId: 3, side: BID, priceTick: 19, qty: 1 }));
    expect(take().map((r) => [r.ev.side, r.ev.price])).toEqual([[Side.Sell, '9.5']]);
    // A hidden print between ticks: side as given, fractional ticks.
    feed.apply(ev(MdType.Trade, { side: BID, priceTick: 20.5, qty: 3 }));
    expect(take().map((r) => [r.cb, r.ev.side, r.ev.price, r.ev.qty])).toEqual([['onPublicTrade', Side.Buy, '10.25', '0.3']]);
    expect(feed.book.order(1)?.qty).toBe(3);
  });

  it('emits callbacks in a fixed order for an execution: trade, order, price level, level, BBO', () => {
    const { feed, take } = setup(MDSub.PublicTrades, MDSub.OrderBook, MDSub.PriceLevelBook, MDSub.LevelBook, MDSub.BBO);
    feed.apply(add(1, ASK, 21, 5));
    expect(names(take())).toEqual(['onAddLevel', 'onAddPriceLevel', 'onAddLevel', 'onBestAskLevelUpdate']);
    feed.apply(ev(MdType.OrderExec, { orderId: 1, side: ASK, priceTick: 21, qty: 5 }));
    const got = take();
    expect(names(got)).toEqual(['onPublicTrade', 'onDeleteLevel', 'onDeletePriceLevel', 'onDeleteLevel', 'onBestAskLevelUpdate']);
    expect(got[1]!.ev.levelId).toBe('1');
    expect(got[3]!.ev.levelId).toBe('21');
  });

  it('status: snapshot framing and disconnect pass through, halts do not', () => {
    const { feed, take } = setup(MDSub.BBO);
    for (const status of Object.values(MdStatus)) feed.apply(ev(MdType.Status, { status }));
    expect(take()).toEqual([
      { cb: 'onFeedHandlerStatus', ev: { exchange: 'SIM', status: FeedHandlerStatus.SnapshotStart, detail: 'sim:spot:x-usd' } },
      { cb: 'onFeedHandlerStatus', ev: { exchange: 'SIM', status: FeedHandlerStatus.SnapshotEnd, detail: 'sim:spot:x-usd' } },
      { cb: 'onFeedHandlerStatus', ev: { exchange: 'SIM', status: FeedHandlerStatus.Disconnected, detail: 'sim:spot:x-usd' } },
    ]);
  });

  it('Clear deletes every level of the subscribed views', () => {
    const { feed, take } = setup(MDSub.OrderBook, MDSub.PriceLevelBook, MDSub.BBO);
    feed.apply(add(1, BID, 10, 1));
    feed.apply(add(2, BID, 10, 2));
    feed.apply(add(3, ASK, 12, 3));
    take();
    feed.apply(ev(MdType.Clear));
    expect(take().map((r) => [r.cb, r.ev.levelId ?? r.ev.price])).toEqual([
      ['onDeleteLevel', '1'],
      ['onDeleteLevel', '2'],
      ['onDeletePriceLevel', '5'],
      ['onDeleteLevel', '3'],
      ['onDeletePriceLevel', '6'],
      ['onBestBidLevelUpdate', '0'],
      ['onBestAskLevelUpdate', '0'],
    ]);
    expect(feed.book.size).toBe(0);
    expect(feed.depth.depth(BID)).toBe(0);
  });

  it('snapshot: framed adds for every level/order per subscription, then the BBO', () => {
    const { feed, take } = setup();
    feed.apply(add(1, BID, 10, 1));
    feed.apply(add(2, BID, 9, 2));
    feed.apply(add(3, BID, 10, 3));
    feed.apply(add(4, ASK, 12, 4));
    feed.setSubscriptions(new Set([MDSub.OrderBook, MDSub.PriceLevelBook, MDSub.BBO, MDSub.PublicTrades]));
    feed.snapshot(5_000);
    const got = take();
    expect(got.map((r) => [r.cb, r.ev.status ?? r.ev.levelId ?? r.ev.price, r.ev.qty])).toEqual([
      ['onFeedHandlerStatus', FeedHandlerStatus.SnapshotStart, undefined],
      ['onAddPriceLevel', '5', '0.4'],
      ['onAddLevel', '1', '0.1'],
      ['onAddLevel', '3', '0.3'],
      ['onAddPriceLevel', '4.5', '0.2'],
      ['onAddLevel', '2', '0.2'],
      ['onAddPriceLevel', '6', '0.4'],
      ['onAddLevel', '4', '0.4'],
      ['onBestBidLevelUpdate', '5', '0.4'],
      ['onBestAskLevelUpdate', '6', '0.4'],
      ['onFeedHandlerStatus', FeedHandlerStatus.SnapshotEnd, undefined],
    ]);
    expect(got[1]!.ev.recvTs).toBe(5_000);
    // The BBO was just sent: an unrelated change sends none.
    feed.apply(add(5, BID, 8, 1));
    expect(names(take())).toEqual(['onAddLevel', 'onAddPriceLevel']);
    // Without a timestamp the snapshot carries the last event's.
    feed.snapshot();
    expect(take()[1]!.ev.recvTs).toBe(ts);
  });

  it('snapshot of an empty book sends empty best levels; changing subscriptions changes what is sent', () => {
    const { feed, take } = setup(MDSub.BBO, MDSub.LevelBook);
    feed.snapshot();
    expect(take().map((r) => [r.cb, r.ev.price, r.ev.qty])).toEqual([
      ['onFeedHandlerStatus', undefined, undefined],
      ['onBestBidLevelUpdate', '0', '0'],
      ['onBestAskLevelUpdate', '0', '0'],
      ['onFeedHandlerStatus', undefined, undefined],
    ]);
    feed.setSubscriptions(new Set([MDSub.PublicTrades]));
    expect([...feed.subscriptions]).toEqual([MDSub.PublicTrades]);
    feed.apply(add(1, BID, 10, 1));
    expect(take()).toEqual([]);
  });

  it('event objects are fresh per callback', () => {
    const seen: object[] = [];
    const feed = new BookFeed(inst, (_cb, e) => void seen.push(e as object));
    feed.setSubscriptions(new Set([MDSub.PriceLevelBook]));
    feed.apply(add(1, BID, 10, 1));
    feed.apply(add(2, BID, 10, 1));
    expect(seen).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
    expect((seen[0] as { qty: { toString(): string } }).qty.toString()).toBe('0.1');
  });
});
