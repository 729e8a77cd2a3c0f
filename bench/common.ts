/**
 * Shared pieces of the bench: the strategies, sources over recorded files and over the
 * synthetic generator, timing helpers. Imports the built package (dist/).
 */
import {
  BaseStrategy,
  MDSub,
  OrderType,
  Side,
  TimeInForce,
  generateMarket,
  openRecorded,
  toMarketSource,
  type AddPriceLevel,
  type BestLevelUpdate,
  type DeletePriceLevel,
  type EventBatch,
  type IStratEnv,
  type MarketSource,
  type MdEvent,
  type ModifyPriceLevel,
} from '../dist/index.js';

/**
 * Watches the BBO and sends an IOC order every `every` best-level updates, alternating a buy
 * at the best ask and a sell at the best bid (so the position goes 0 → 1 → 0). With
 * `MDSub.PriceLevelBook` among `subs` it also receives, and counts, every L2 level change.
 */
export class BenchStrategy extends BaseStrategy {
  private n = 0;
  private buy = true;
  /** L2 level callbacks received (PriceLevelBook). */
  levelCallbacks = 0;
  /** BBO callbacks received. */
  bboCallbacks = 0;
  /** Orders sent. */
  orders = 0;
  constructor(
    private readonly exchange: string,
    private readonly instrumentId: number,
    private readonly subs: MDSub[],
    private readonly every = 1000,
  ) {
    super();
  }
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login('bench');
    env.subscribeToMarketData(this.exchange, [this.instrumentId], this.subs);
  }
  private tick(ev: BestLevelUpdate, isAsk: boolean) {
    this.bboCallbacks++;
    if (++this.n % this.every !== 0 || ev.qty.isZero() || isAsk !== this.buy) return;
    this.env.sendNewOrder({
      exchange: this.exchange,
      instrumentId: this.instrumentId,
      side: this.buy ? Side.Buy : Side.Sell,
      price: ev.price,
      qty: '1',
      ordType: OrderType.Limit,
      timeInForce: TimeInForce.IOC,
    });
    this.orders++;
    this.buy = !this.buy;
  }
  override onBestAskLevelUpdate(ev: BestLevelUpdate) {
    this.tick(ev, true);
  }
  override onBestBidLevelUpdate(ev: BestLevelUpdate) {
    this.tick(ev, false);
  }
  override onAddPriceLevel(_ev: AddPriceLevel) {
    this.levelCallbacks++;
  }
  override onModifyPriceLevel(_ev: ModifyPriceLevel) {
    this.levelCallbacks++;
  }
  override onDeletePriceLevel(_ev: DeletePriceLevel) {
    this.levelCallbacks++;
  }
}

export const BBO_SUBS: MDSub[] = [MDSub.BBO, MDSub.PublicTrades];
export const L2_SUBS: MDSub[] = [MDSub.PriceLevelBook, MDSub.BBO, MDSub.PublicTrades];

/**
 * A recorded file as a backtest source with the batch path (as `openMarketData` builds it),
 * hashing only the header so that opening does not re-read the file.
 */
export async function recordedSource(path: string): Promise<MarketSource> {
  const rec = await openRecorded(path);
  const src = await toMarketSource(rec, path, { sha256: 'header' });
  return { exchange: src.exchange, instruments: src.instruments, events: src.events, data: src.data, eventCount: rec.count, batches: () => rec.batches() };
}

/** Sums the qty field of every record of a recorded file, batch by batch: the physical read limit. */
export async function rawScan(path: string): Promise<{ n: number; sum: number }> {
  const rec = await openRecorded(path);
  let sum = 0;
  let n = 0;
  for await (const b of rec.batches()) {
    const f64 = b.f64;
    const len = b.length;
    for (let i = 0; i < len; i++) sum += f64[i * 6 + 5]!;
    n += len;
  }
  return { n, sum };
}

/** Events of a batch held in an array of (fresh) event objects. */
class ArrayBatch implements EventBatch {
  constructor(
    private readonly evs: MdEvent[],
    readonly length: number,
  ) {}
  read(i: number, into: MdEvent): MdEvent {
    const e = this.evs[i]!;
    into.type = e.type;
    into.instrumentId = e.instrumentId;
    into.exchTs = e.exchTs;
    into.localTs = e.localTs;
    into.side = e.side;
    into.orderId = e.orderId;
    into.priceTick = e.priceTick;
    into.qty = e.qty;
    into.status = e.status;
    return into;
  }
}

/**
 * `events` synthetic events generated on the fly (`generateMarket(...).eventsSync()`), handed
 * to the backtest in batches of `batch` so that memory holds one batch, never the stream.
 */
export function syntheticSource(events: number, seed = 42, batch = 4096): MarketSource {
  const m = generateMarket({ events, seed });
  return {
    exchange: m.exchange,
    instruments: m.instruments,
    events: () => m.events(),
    eventCount: events,
    data: m.data,
    batches: () => ({
      async *[Symbol.asyncIterator]() {
        const it = m.eventsSync();
        const buf: MdEvent[] = new Array<MdEvent>(batch);
        for (;;) {
          let k = 0;
          while (k < batch) {
            const r = it.next();
            if (r.done) break;
            buf[k++] = r.value;
          }
          if (k === 0) return;
          yield new ArrayBatch(buf, k);
          if (k < batch) return;
        }
      },
    }),
  };
}

/** Seconds taken by `fn` (wall time). */
export async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs `fn` at least `minRuns` times and until `minSeconds` have passed; the median seconds of one run. */
export async function medianTime(fn: () => Promise<unknown> | unknown, minRuns = 3, minSeconds = 0): Promise<number> {
  const xs: number[] = [];
  let total = 0;
  while (xs.length < minRuns || total < minSeconds) {
    const s = await time(fn);
    xs.push(s);
    total += s;
  }
  return median(xs);
}

export function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n >= 10 ? n.toFixed(0) : n.toFixed(2);
}
