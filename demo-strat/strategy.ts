/**
 * Demo: a queue-aware market maker.
 *
 * Flat, it joins the best bid and the best ask while the size queued there (ahead of it)
 * is at least `entryQueueMin`: a thick queue protects a resting order from being run over.
 * When that queue thins below the threshold, the level is likely to break, so it cancels.
 * Once filled it stops quoting and closes the position: passively at the touch while the
 * queue on the closing side is at least `exitQueueMin`, otherwise aggressively (IOC across
 * the spread). It stops opening new positions at `stopQuotingAt` (exchange time) and
 * flattens there.
 */
import {
  BaseStrategy,
  ExecInstr,
  MDSub,
  OrderType,
  Price,
  Qty,
  Side,
  TimeInForce,
  type BestLevelUpdate,
  type IStratEnv,
  type Instrument,
  type NewOrderReject,
  type OrderCancelled,
  type OrderExecution,
  type StratParams,
} from 'tradeloop';

/** Constructor config (the runner's --config file). */
export interface DemoConfig {
  exchange?: string;
  instrument?: string;
  [k: string]: unknown;
}

interface Params {
  /** Shares per quote. */
  orderQty: string;
  /** Join a level only while at least this many shares queue there. */
  entryQueueMin: number;
  /** Close passively only while at least this many shares queue on the closing side. */
  exitQueueMin: number;
  /** State log period, ms of the environment's clock. */
  logEveryMs: number;
  /** Local time (HH:mm:ss) at which quoting stops and the position is flattened. */
  stopQuotingAt: string;
}

const DEFAULTS: Params = { orderQty: '100', entryQueueMin: 500, exitQueueMin: 300, logEveryMs: 30 * 60_000, stopQuotingAt: '15:55:00' };

interface Touch {
  price: Price;
  qty: Qty;
}

export default class QueueAwareMarketMaker extends BaseStrategy<DemoConfig> {
  private p: Params = { ...DEFAULTS };
  private inst: Instrument | undefined;
  private exchange = this.config.exchange ?? 'NASDAQ';
  private bid: Touch | undefined;
  private ask: Touch | undefined;
  /** Client id of the resting order per side (entry quotes or the passive exit). */
  private working: Record<Side, string | undefined> = { [Side.Buy]: undefined, [Side.Sell]: undefined };
  private quoting = true;
  private stopping = false;
  private rejects = 0;

  override onFrameworkConnected(env: IStratEnv): void {
    this.env = env;
    env.login('demo-mm');
    env.subscribeToMarketData(this.exchange, [this.config.instrument ?? 'nasdaq:equity:amzn'], [MDSub.BBO, MDSub.PublicTrades]);
  }

  override onStart(): void {
    const env = this.env;
    env.addCmdHook('get_orders', () => {
      const open = env.openOrders();
      return open.length ? open.map((o) => `${o.clientId} ${o.side} ${o.leavesQty}@${o.price} ${o.status}`).join('\n') : 'no open orders';
    });
    env.addCmdHook('get_pnl', () => {
      const pos = this.position();
      return pos ? `realised ${pos.realizedPnl.toFixed(2)} unrealised ${pos.unrealizedPnl.toFixed(2)} fees ${pos.fees.toFixed(2)}` : 'no instrument';
    });
    env.addCmdHook('get_position', () => {
      const pos = this.position();
      return pos ? `${pos.position} @ ${pos.avgEntryPrice}` : 'no instrument';
    });
    env.setupTimer(this.p.logEveryMs, () => {
      const pos = this.position();
      env.log.info({ bid: this.bid?.price.toString(), ask: this.ask?.price.toString(), position: pos?.position.toString(), realizedPnl: pos?.realizedPnl, fills: pos?.fills, open: env.openOrders().length }, 'state');
      return true;
    });
    env.setupDailyCallback(this.p.stopQuotingAt, () => {
      env.log.info('end of day: quoting stops, flattening');
      this.quoting = false;
      this.cancelAll();
      this.manage();
      return true;
    });
  }

  override onInstruments(instruments: Instrument[]): void {
    this.inst = instruments.find((i) => i.name === (this.config.instrument ?? 'nasdaq:equity:amzn') && i.exchange === this.exchange);
    if (!this.inst) this.env.log.error({ instruments: instruments.map((i) => i.name) }, 'configured instrument not found');
  }

  override onStratParamsUpdate(params: StratParams): void {
    this.p = { ...DEFAULTS, ...(params as Partial<Params>) };
  }

  override onBestBidLevelUpdate(ev: BestLevelUpdate): void {
    this.bid = ev.qty.isZero() ? undefined : { price: ev.price, qty: ev.qty };
    this.manage();
  }

  override onBestAskLevelUpdate(ev: BestLevelUpdate): void {
    this.ask = ev.qty.isZero() ? undefined : { price: ev.price, qty: ev.qty };
    this.manage();
  }

  override onOrderExecution(ev: OrderExecution): void {
    this.env.log.info({ side: ev.side, price: ev.price.toString(), qty: ev.fillQty.toString(), liquidity: ev.liquidity }, 'fill');
    if (ev.leavesQty.isZero()) this.forget(ev.clientId);
    this.manage();
  }

  override onOrderCancelled(ev: OrderCancelled): void {
    this.forget(ev.clientId);
    this.manage();
  }

  override onNewOrderReject(ev: NewOrderReject): void {
    this.rejects++;
    this.env.log.debug({ code: ev.rejectCode, reason: ev.rejectReason }, 'order rejected');
    this.forget(ev.clientId);
  }

  override onStop(): void {
    this.stopping = true;
    if (this.inst && this.env.openOrders().length) {
      this.env.sendCancelAll(this.exchange, this.inst.instrumentId);
    } else {
      this.env.sendStopAck();
    }
  }

  override onCancelAllAck(): void {
    if (this.stopping) this.env.sendStopAck();
  }

  private position() {
    return this.inst ? this.env.getPosition(this.exchange, this.inst.instrumentId) : undefined;
  }

  private forget(clientId: string): void {
    for (const s of [Side.Buy, Side.Sell]) if (this.working[s] === clientId) this.working[s] = undefined;
  }

  private cancel(side: Side): void {
    const id = this.working[side];
    if (!id || !this.inst) return;
    const o = this.env.getOrder(id);
    if (o && o.status !== 'PendingCancel' && o.status !== 'PendingNew') this.env.sendCancelOrder(this.exchange, this.inst.instrumentId, id);
  }

  private cancelAll(): void {
    this.cancel(Side.Buy);
    this.cancel(Side.Sell);
  }

  private place(side: Side, price: Price, qty: Qty, aggressive: boolean): void {
    if (!this.inst) return;
    this.working[side] = this.env.sendNewOrder({
      exchange: this.exchange,
      instrumentId: this.inst.instrumentId,
      side,
      price,
      qty,
      ordType: OrderType.Limit,
      timeInForce: aggressive ? TimeInForce.IOC : TimeInForce.GTC,
      execInstr: aggressive ? undefined : ExecInstr.PostOnly,
    });
  }

  /** Keeps one resting order per side in line with the touch and the queue thresholds. */
  private manage(): void {
    if (!this.inst || this.stopping || !this.bid || !this.ask) return;
    const pos = this.env.getPosition(this.exchange, this.inst.instrumentId).position;
    if (pos.isZero()) {
      if (this.quoting) {
        this.quote(Side.Buy, this.bid);
        this.quote(Side.Sell, this.ask);
      }
      return;
    }
    // Holding a position: no entry quote on the side that would add to it.
    const closeSide = pos.isPositive() ? Side.Sell : Side.Buy;
    const addSide = closeSide === Side.Sell ? Side.Buy : Side.Sell;
    this.cancel(addSide);
    const closeTouch = closeSide === Side.Sell ? this.ask : this.bid;
    const crossTouch = closeSide === Side.Sell ? this.bid : this.ask;
    const working = this.working[closeSide] ? this.env.getOrder(this.working[closeSide]!) : undefined;
    const passiveOk = this.quoting && closeTouch.qty.gte(Qty.of(String(this.p.exitQueueMin)));
    if (working) {
      const stale = !working.price.eq(closeTouch.price) || !passiveOk;
      if (stale && working.orderType === OrderType.Limit && working.tif === TimeInForce.GTC) this.cancel(closeSide);
      return;
    }
    const qty = pos.abs();
    if (passiveOk) this.place(closeSide, closeTouch.price, qty, false);
    else this.place(closeSide, crossTouch.price, qty, true);
  }

  private quote(side: Side, touch: Touch): void {
    const id = this.working[side];
    const thick = touch.qty.gte(Qty.of(String(this.p.entryQueueMin)));
    if (id) {
      const o = this.env.getOrder(id);
      if (o && (!o.price.eq(touch.price) || !thick)) this.cancel(side);
      return;
    }
    if (thick) this.place(side, touch.price, Qty.of(this.p.orderQty), false);
  }
}
