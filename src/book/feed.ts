/**
 * Turns normalized market events (`MdEvent`) of one instrument into strategy callbacks,
 * according to the strategy's market-data subscriptions.
 * @module
 */
import { FeedHandlerStatus, MDSub, Side } from '../api/enums.js';
import { Price, Qty } from '../api/decimal.js';
import type { Instrument } from '../api/instrument.js';
import type { EventCallbackName, StrategyEventMap } from '../api/events.js';
import { ASK, BID, MdStatus, MdType, type MdEvent, type SideCode } from '../data/events.js';
import { LEVEL_ADDED, LEVEL_DELETED, LEVEL_MODIFIED, LEVEL_NONE, type LevelChange } from './l2-book.js';
import { L3Book, ORDER_ADDED, ORDER_DELETED, ORDER_MODIFIED, ORDER_UNKNOWN } from './l3-book.js';
import { PriceCache } from './price-cache.js';
import { NO_ASK, NO_BID, type DepthView } from './types.js';

/** Receives each callback the feed emits, with its event object. */
export type BookFeedSink = <K extends EventCallbackName>(cb: K, ev: StrategyEventMap[K]) => void;

/** Options of a `BookFeed`. */
export interface BookFeedOptions {
  /** Share `Price`/`Qty` values with other feeds of the same instrument; default a new cache. */
  prices?: PriceCache;
}

function sideOf(code: SideCode): Side {
  // Side code 0 (a trade without an aggressor, e.g. an auction cross) is reported as Buy:
  // the contract has no neutral side, and dropping the trade would lose its volume.
  return code === -1 ? Side.Sell : Side.Buy;
}

/**
 * The market-data feed of one instrument for one subscriber. It owns an `L3Book` (with its L2
 * aggregate) and emits, per event, only the callbacks the subscriber asked for:
 *
 * - `PriceLevelBook`: onAddPriceLevel / onModifyPriceLevel / onDeletePriceLevel per L2 change;
 * - `LevelBook`: onAddLevel / onModifyLevel / onDeleteLevel per L2 change, `levelId` = price in ticks;
 * - `OrderBook`: onAddLevel / onModifyLevel / onDeleteLevel per order change, `levelId` = order id
 *   (for L2-only data, `MdType.LevelSet`, the L2 form with `levelId` = price in ticks);
 * - `BBO`: onBestBidLevelUpdate / onBestAskLevelUpdate when the best price or its qty differs
 *   from what was last sent (an empty side is sent as price 0, qty 0);
 * - `PublicTrades`: onPublicTrade for `OrderExec` (taker = opposite of the resting side, at
 *   the resting order's price) and `Trade` (side as given, price may be fractional ticks).
 *
 * Status events SnapshotStart / SnapshotEnd / Disconnected become onFeedHandlerStatus (detail:
 * the instrument name) whenever anything is subscribed; trading halts are the venue's concern
 * and are ignored. Within one event the callbacks come in this order: trade, order (L3), price
 * level, level by id, best bid/ask.
 *
 * Event objects are new for each callback (a strategy may keep them); `Price`/`Qty` values are
 * shared from a `PriceCache`, which is safe as they are immutable. With nothing subscribed,
 * `apply` only updates the book.
 */
export class BookFeed {
  /** The instrument whose events this feed receives. */
  readonly instrument: Instrument;
  /** The L3 book (orders by id, FIFO per level) kept up to date by `apply`. */
  readonly book: L3Book;
  /** Read-only L2 view (by price) of the book. */
  readonly depth: DepthView;
  /** The `Price`/`Qty` cache used for callback values. */
  readonly prices: PriceCache;

  private readonly sink: BookFeedSink;
  private readonly exchange: string;
  private readonly instrumentId: number;
  private subs: ReadonlySet<MDSub> = new Set();
  private any = false;
  private subL3 = false;
  private subLevel = false;
  private subPrice = false;
  private subBbo = false;
  private subTrades = false;
  // The best level last sent to the subscriber, so BBO callbacks fire only on a change.
  private sentBidTick = NO_BID;
  private sentBidQty = 0;
  private sentAskTick = NO_ASK;
  private sentAskQty = 0;
  // Timestamp for snapshots taken between events (a strategy subscribing mid-stream).
  private lastRecvTs = 0;

  /**
   * @param instrument the instrument; its `exchange` and `instrumentId` go into every event.
   * @param sink receives each callback name with its event.
   * @param opts see `BookFeedOptions`.
   */
  constructor(instrument: Instrument, sink: BookFeedSink, opts: BookFeedOptions = {}) {
    this.instrument = instrument;
    this.sink = sink;
    this.exchange = instrument.exchange;
    this.instrumentId = instrument.instrumentId;
    this.book = new L3Book();
    this.depth = this.book.l2;
    this.prices = opts.prices ?? new PriceCache(instrument);
  }

  /** The current subscriptions (a copy). */
  get subscriptions(): ReadonlySet<MDSub> {
    return new Set(this.subs);
  }

  /**
   * Replaces the subscriptions; from the next event on only their callbacks are emitted.
   * It sends no snapshot: call `snapshot()` for a subscriber that joins mid-stream.
   */
  setSubscriptions(subs: ReadonlySet<MDSub>): void {
    this.subs = new Set(subs);
    this.subL3 = subs.has(MDSub.OrderBook);
    this.subLevel = subs.has(MDSub.LevelBook);
    this.subPrice = subs.has(MDSub.PriceLevelBook);
    this.subBbo = subs.has(MDSub.BBO);
    this.subTrades = subs.has(MDSub.PublicTrades);
    this.any = this.subL3 || this.subLevel || this.subPrice || this.subBbo || this.subTrades;
  }

  /** Applies one event to the book and emits the subscribed callbacks. */
  apply(ev: MdEvent): void {
    this.lastRecvTs = ev.localTs;
    if (!this.any) {
      this.book.apply(ev);
      return;
    }
    const book = this.book;
    switch (ev.type) {
      case MdType.OrderAdd: {
        if (book.add(ev.orderId, ev.side, ev.priceTick, ev.qty) !== ORDER_ADDED) return;
        if (this.subL3) this.emitLevel(LEVEL_ADDED, ev.side, String(ev.orderId), ev.priceTick, ev.qty, ev.localTs);
        this.afterLevelChange(ev.side, ev.priceTick, book.lastLevelChange, book.lastLevelQty, this.subLevel, ev.localTs);
        return;
      }
      case MdType.OrderCancel:
        this.afterReduce(book.cancel(ev.orderId, ev.qty), ev);
        return;
      case MdType.OrderDelete:
        this.afterReduce(book.delete(ev.orderId), ev);
        return;
      case MdType.OrderExec: {
        const code = book.execute(ev.orderId, ev.qty);
        if (this.subTrades && ev.qty > 0) {
          // An unknown order (placed before the data started) still traded: use the event's fields.
          const known = code !== ORDER_UNKNOWN;
          const restingSide = known ? book.lastSide : ev.side;
          const tick = known ? book.lastPriceTick : ev.priceTick;
          this.emitTrade((-restingSide || 0) as SideCode, tick, ev.qty, ev.exchTs, ev.localTs);
        }
        this.afterReduce(code, ev);
        return;
      }
      case MdType.Trade:
        if (this.subTrades) this.emitTrade(ev.side, ev.priceTick, ev.qty, ev.exchTs, ev.localTs);
        return;
      case MdType.LevelSet: {
        const change = book.l2.set(ev.side, ev.priceTick, ev.qty);
        // L2-only data has no order ids: an OrderBook subscriber gets the by-price form.
        this.afterLevelChange(ev.side, ev.priceTick, change, book.l2.lastQty, this.subLevel || this.subL3, ev.localTs);
        return;
      }
      case MdType.Clear:
        this.clear(ev.localTs);
        return;
      case MdType.Status:
        this.status(ev.status);
        return;
      default:
        return;
    }
  }

  /**
   * Sends the whole current state as a snapshot: onFeedHandlerStatus SnapshotStart, an add
   * for every level / order of the subscribed views (bids best to worst, then asks; orders in
   * queue order), both best levels if `BBO` is subscribed, then SnapshotEnd. Emits nothing
   * when nothing is subscribed.
   * @param recvTs timestamp (µs since the epoch) put on the add and BBO events; default the
   *   `localTs` of the last applied event (0 before any).
   */
  snapshot(recvTs = this.lastRecvTs): void {
    if (!this.any) return;
    this.emitStatus(FeedHandlerStatus.SnapshotStart);
    if (this.subPrice || this.subLevel || this.subL3) {
      this.forEachLevel((side, tick, qty) => {
        this.emitL2(LEVEL_ADDED, side, tick, qty, this.subLevel, recvTs);
        this.emitOrdersOrLevel(LEVEL_ADDED, side, tick, qty, recvTs);
      });
    }
    if (this.subBbo) {
      this.sentBidTick = Number.NaN;
      this.sentAskTick = Number.NaN;
      this.checkBbo(BID, recvTs);
      this.checkBbo(ASK, recvTs);
    }
    this.emitStatus(FeedHandlerStatus.SnapshotEnd);
  }

  private afterReduce(code: number, ev: MdEvent): void {
    if (code !== ORDER_MODIFIED && code !== ORDER_DELETED) return;
    const book = this.book;
    const side = book.lastSide;
    const tick = book.lastPriceTick;
    if (this.subL3) {
      this.emitLevel(code === ORDER_DELETED ? LEVEL_DELETED : LEVEL_MODIFIED, side, String(ev.orderId), tick, book.lastOrderQty, ev.localTs);
    }
    this.afterLevelChange(side, tick, book.lastLevelChange, book.lastLevelQty, this.subLevel, ev.localTs);
  }

  private afterLevelChange(side: SideCode, tick: number, change: LevelChange, qty: number, byId: boolean, recvTs: number): void {
    if (change === LEVEL_NONE) return;
    this.emitL2(change, side, tick, qty, byId, recvTs);
    if (this.subBbo) this.checkBbo(side, recvTs);
  }

  /** The L2 forms of one level change: by price (`PriceLevelBook`) and, when `byId`, by id = price. */
  private emitL2(change: LevelChange, side: SideCode, tick: number, qty: number, byId: boolean, recvTs: number): void {
    if (this.subPrice) {
      const price = this.prices.price(tick);
      const s = sideOf(side);
      if (change === LEVEL_ADDED) {
        this.sink('onAddPriceLevel', { exchange: this.exchange, instrumentId: this.instrumentId, side: s, price, qty: this.prices.qty(qty), recvTs });
      } else if (change === LEVEL_MODIFIED) {
        this.sink('onModifyPriceLevel', { exchange: this.exchange, instrumentId: this.instrumentId, side: s, price, newQty: this.prices.qty(qty), recvTs });
      } else {
        this.sink('onDeletePriceLevel', { exchange: this.exchange, instrumentId: this.instrumentId, side: s, price, recvTs });
      }
    }
    if (byId) this.emitLevel(change, side, String(tick), tick, qty, recvTs);
  }

  private emitLevel(change: LevelChange, side: SideCode, levelId: string, tick: number, qty: number, recvTs: number): void {
    const price = this.prices.price(tick);
    const s = sideOf(side);
    if (change === LEVEL_ADDED) {
      this.sink('onAddLevel', { exchange: this.exchange, instrumentId: this.instrumentId, side: s, levelId, price, qty: this.prices.qty(qty), recvTs });
    } else if (change === LEVEL_MODIFIED) {
      this.sink('onModifyLevel', { exchange: this.exchange, instrumentId: this.instrumentId, side: s, levelId, price, newQty: this.prices.qty(qty), recvTs });
    } else if (change === LEVEL_DELETED) {
      this.sink('onDeleteLevel', { exchange: this.exchange, instrumentId: this.instrumentId, side: s, levelId, price, recvTs });
    }
  }

  /**
   * The `OrderBook` form of a whole level for snapshots and clears: one event per order in
   * queue order, or the by-price form for a level without orders (L2-only data) unless
   * `LevelBook` already sent it.
   */
  private emitOrdersOrLevel(change: LevelChange, side: SideCode, tick: number, qty: number, recvTs: number): void {
    if (!this.subL3) return;
    if (this.book.orderCountAt(side, tick) === 0) {
      if (!this.subLevel) this.emitLevel(change, side, String(tick), tick, qty, recvTs);
      return;
    }
    this.book.forEachOrderAt(side, tick, (o) => {
      this.emitLevel(change, side, String(o.id), tick, o.qty, recvTs);
    });
  }

  private forEachLevel(fn: (side: SideCode, tick: number, qty: number) => void): void {
    const d = this.depth;
    for (const side of [BID, ASK] as const) {
      const n = d.depth(side);
      for (let i = 0; i < n; i++) fn(side, d.levelTick(side, i), d.levelQty(side, i));
    }
  }

  private checkBbo(side: SideCode, recvTs: number): void {
    const d = this.depth;
    if (side === BID) {
      const tick = d.bestBidTick();
      const qty = tick === NO_BID ? 0 : d.levelQty(BID, 0);
      if (tick === this.sentBidTick && qty === this.sentBidQty) return;
      this.sentBidTick = tick;
      this.sentBidQty = qty;
      this.sink('onBestBidLevelUpdate', this.bestLevel(tick === NO_BID, tick, qty, recvTs));
    } else if (side === ASK) {
      const tick = d.bestAskTick();
      const qty = tick === NO_ASK ? 0 : d.levelQty(ASK, 0);
      if (tick === this.sentAskTick && qty === this.sentAskQty) return;
      this.sentAskTick = tick;
      this.sentAskQty = qty;
      this.sink('onBestAskLevelUpdate', this.bestLevel(tick === NO_ASK, tick, qty, recvTs));
    }
  }

  private bestLevel(empty: boolean, tick: number, qty: number, recvTs: number): StrategyEventMap['onBestBidLevelUpdate'] {
    return {
      exchange: this.exchange,
      instrumentId: this.instrumentId,
      price: empty ? Price.ZERO : this.prices.price(tick),
      qty: empty ? Qty.ZERO : this.prices.qty(qty),
      recvTs,
    };
  }

  private emitTrade(side: SideCode, tick: number, qty: number, execTs: number, recvTs: number): void {
    this.sink('onPublicTrade', {
      exchange: this.exchange,
      instrumentId: this.instrumentId,
      side: sideOf(side),
      price: this.prices.price(tick),
      qty: this.prices.qty(qty),
      execTs,
      recvTs,
    });
  }

  private clear(recvTs: number): void {
    if (this.subPrice || this.subLevel || this.subL3) {
      this.forEachLevel((side, tick, qty) => {
        this.emitOrdersOrLevel(LEVEL_DELETED, side, tick, qty, recvTs);
        this.emitL2(LEVEL_DELETED, side, tick, qty, this.subLevel, recvTs);
      });
    }
    this.book.clear();
    if (this.subBbo) {
      this.checkBbo(BID, recvTs);
      this.checkBbo(ASK, recvTs);
    }
  }

  private status(status: number): void {
    if (status === MdStatus.SnapshotStart) this.emitStatus(FeedHandlerStatus.SnapshotStart);
    else if (status === MdStatus.SnapshotEnd) this.emitStatus(FeedHandlerStatus.SnapshotEnd);
    else if (status === MdStatus.Disconnected) this.emitStatus(FeedHandlerStatus.Disconnected);
  }

  private emitStatus(status: FeedHandlerStatus): void {
    this.sink('onFeedHandlerStatus', { exchange: this.exchange, status, detail: this.instrument.name });
  }
}
