/**
 * `npm run bench`: throughput figures, each printed with a baseline measured in the same
 * run so that the ratio, not the machine, is the figure. Runs against dist/ (the built
 * package), so it measures what users run.
 */
import { cpus } from 'node:os';
import {
  BaseStrategy,
  MDSub,
  MemoryJournalSink,
  OrderType,
  Side,
  TimeInForce,
  openLobster,
  runBacktest,
  silentLogger,
  type BestLevelUpdate,
  type IStratEnv,
  type Instrument,
  type MarketSource,
  type MdEvent,
} from '../dist/index.js';

const AMZN = new URL('../data/lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv', import.meta.url).pathname;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);

/** Watches the BBO and sends an IOC order every `every` updates. */
class BboWatcher extends BaseStrategy {
  private inst!: Instrument;
  private n = 0;
  constructor(private readonly subs: MDSub[], private readonly every = 1000) {
    super();
  }
  override onFrameworkConnected(env: IStratEnv) {
    this.env = env;
    env.login('bench');
    env.subscribeToMarketData('NASDAQ', [1], this.subs);
  }
  override onInstruments(i: Instrument[]) {
    this.inst = i[0]!;
  }
  override onBestAskLevelUpdate(ev: BestLevelUpdate) {
    if (++this.n % this.every === 0 && !ev.qty.isZero()) {
      this.env.sendNewOrder({ exchange: 'NASDAQ', instrumentId: this.inst.instrumentId, side: Side.Buy, price: ev.price, qty: '1', ordType: OrderType.Limit, timeInForce: TimeInForce.IOC });
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0);
}
async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main() {
  console.log(`tradeloop bench — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, median of ${REPEAT}`);
  const src = openLobster(AMZN);

  // Import: LOBSTER CSV → normalized events.
  const events: MdEvent[] = [];
  const importS: number[] = [];
  for (let r = 0; r < REPEAT; r++) {
    events.length = 0;
    importS.push(await time(async () => {
      for await (const ev of src.events()) events.push(ev);
    }));
  }
  const n = events.length;

  // Baseline: a raw scan of the same events in memory (the floor of any replay).
  let sink = 0;
  const scanS: number[] = [];
  for (let r = 0; r < REPEAT * 20; r++) {
    scanS.push(await time(() => {
      for (let i = 0; i < n; i++) sink += events[i]!.qty + events[i]!.priceTick;
    }));
  }
  const scanRate = n / median(scanS);

  const source: MarketSource = {
    exchange: src.instrument.exchange,
    instruments: [src.instrument],
    events: async function* () {
      yield* events;
    },
  };
  const replay = async (subs: MDSub[], journal: boolean) => {
    const xs: number[] = [];
    for (let r = 0; r < REPEAT; r++) {
      xs.push(await time(() => runBacktest({ strategy: new BboWatcher(subs), source, logger: silentLogger(), journal: journal ? new MemoryJournalSink() : undefined })));
    }
    return n / median(xs);
  };
  const bbo = await replay([MDSub.BBO, MDSub.PublicTrades], false);
  const l2 = await replay([MDSub.PriceLevelBook, MDSub.BBO], false);
  const bboJournal = await replay([MDSub.BBO, MDSub.PublicTrades], true);

  const rows: Array<[string, string, string]> = [
    ['events (AMZN day, normalized)', String(n), ''],
    ['raw scan of the events (baseline)', `${fmt(scanRate)} ev/s`, '1.00'],
    ['import LOBSTER CSV', `${fmt(n / median(importS))} ev/s`, (n / median(importS) / scanRate).toFixed(4)],
    ['replay: book + sim venue + BBO/trades strategy', `${fmt(bbo)} ev/s`, (bbo / scanRate).toFixed(4)],
    ['replay: every L2 level change', `${fmt(l2)} ev/s`, (l2 / scanRate).toFixed(4)],
    ['replay with journal (BBO/trades)', `${fmt(bboJournal)} ev/s`, (bboJournal / scanRate).toFixed(4)],
    ['journaling cost (replay without / with)', `${((bbo / bboJournal - 1) * 100).toFixed(1)} %`, ''],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'figure'.padEnd(w)}  ${'value'.padStart(14)}  ratio to scan`);
  for (const [k, v, ratio] of rows) console.log(`${k.padEnd(w)}  ${v.padStart(14)}  ${ratio}`);
  if (sink === -1) console.log('');
}

void main();
