/**
 * Valid examples of every protocol message and every codec event, shared by the gateway
 * tests (schema acceptance, mutations, fuzz seeds, round trips).
 */
import { CancelCode, RejectCode } from '../../src/api/codes.js';
import { Price, Qty } from '../../src/api/decimal.js';
import {
  ExecInstr,
  FeedHandlerStatus,
  GatewayStatus,
  InstrumentType,
  Liquidity,
  OrderStatus,
  OrderType,
  RequestType,
  Side,
  TimeInForce,
} from '../../src/api/enums.js';
import type { StrategyEventMap } from '../../src/api/events.js';
import { makeInstrument } from '../../src/api/instrument.js';
import { expect } from 'vitest';
import { gatewayFastPaths, type EventCallback, type ParseResult, type ProtocolLimits } from '../../src/gateway/protocol.js';

/** Equity, $0.01 tick, 1-share lot, min 1. */
export const EQ = makeInstrument({
  instrumentId: 1,
  exchange: 'SIM',
  name: 'sim:equity:abc',
  type: InstrumentType.Equity,
  tickSize: '0.01',
  lotSize: '1',
  baseCurrency: 'ABC',
  quoteCurrency: 'USD',
});
/** Perpetual, $0.5 tick, 0.001 lot, min 0.01. */
export const PERP = makeInstrument({
  instrumentId: 2,
  exchange: 'SIM',
  name: 'sim:perp:btc-usd',
  type: InstrumentType.Perpetual,
  tickSize: '0.5',
  lotSize: '0.001',
  minQty: '0.01',
  baseCurrency: 'BTC',
  quoteCurrency: 'USD',
  multiplier: 1,
});

export const TS = 1_718_000_000_123_456;

const P = (s: string) => Price.of(s);
const Q = (s: string) => Qty.of(s);

const orderStatus: StrategyEventMap['onOrderStatus'] = {
  exchange: 'SIM',
  instrumentId: 2,
  clientOrdId: 'mm-7',
  exchOrdId: 'SIM-42',
  side: Side.Sell,
  price: P('65000.5'),
  leavesQty: Q('0.25'),
  status: OrderStatus.PartiallyFilled,
  orderType: OrderType.Limit,
  tif: TimeInForce.GTC,
  execInstr: [ExecInstr.PostOnly, ExecInstr.ReduceOnly],
};

/** One API event per callback the codec handles. */
export const EVENT_EXAMPLES: { [K in EventCallback]: StrategyEventMap[K] } = {
  onNewOrderAck: {
    exchange: 'SIM',
    clientId: 'mm-1',
    exchangeId: 'SIM-1',
    instrumentId: 1,
    side: Side.Buy,
    price: P('100.25'),
    qty: Q('10'),
    leavesQty: Q('10'),
    orderType: OrderType.Limit,
    tif: TimeInForce.GTC,
    execInstr: [ExecInstr.PostOnly],
  },
  onNewOrderReject: { exchange: 'SIM', clientId: 'mm-2', rejectCode: RejectCode.PriceOffTick, rejectReason: 'price 100.005 is not on the tick grid 0.01' },
  onModifyOrderAck: { exchange: 'SIM', clientId: 'mm-1', newPrice: P('100.3'), newQty: Q('12'), leavesQty: Q('7') },
  onModifyOrderReject: { exchange: 'SIM', clientId: 'mm-1', rejectCode: RejectCode.PostOnlyWouldTake, rejectReason: 'post-only order would take liquidity' },
  onCancelOrderAck: { exchange: 'SIM', clientId: 'mm-1' },
  onCancelOrderReject: { exchange: 'SIM', clientId: undefined, rejectCode: RejectCode.GtwNotReady, rejectReason: 'gateway not ReadyToTrade' },
  onCancelAllAck: { exchange: 'SIM', instrumentId: 1 },
  onCancelAllReject: { exchange: 'SIM', instrumentId: 1, rejectCode: RejectCode.UnknownInstrument, rejectReason: 'unknown instrument' },
  onOrderExecution: {
    exchange: 'SIM',
    clientId: 'mm-1',
    side: Side.Buy,
    price: P('100.25'),
    fillQty: Q('3'),
    leavesQty: Q('7'),
    execTs: TS,
    recvTs: TS + 150,
    instrumentId: 1,
    fee: P('-0.0075'),
    liquidity: Liquidity.Maker,
  },
  onOrderCancelled: {
    exchange: 'SIM',
    clientId: 'mm-3',
    unsolicited: true,
    engineTs: TS,
    recvTs: TS + 90,
    cancelCode: CancelCode.IocRemainder,
    cancelReason: 'IOC remainder',
  },
  onOrderStatus: orderStatus,
  onOrdersInfo: { exchange: 'SIM', orders: [orderStatus, { ...orderStatus, clientOrdId: 'mm-8', side: Side.Buy, execInstr: [], status: OrderStatus.Open }] },
  onAccountInfo: { exchange: 'SIM', userId: 'user-17' },
  onWalletInfo: { exchange: 'SIM', coin: 'USD', totalBalance: Q('100000.123456789'), availableBalance: Q('-12.5') },
  onPositionInfo: { exchange: 'SIM', instrumentId: 2, position: Q('-0.75') },
  onFundingInfo: { exchange: 'SIM', instrumentId: 2, fundingRate: '0.0001', nextFundingTs: TS + 8 * 3600e6 },
  onRequestReject: { exchange: 'SIM', rejectCode: RejectCode.InvalidField, detail: 'WalletInfo needs a coin', rejectedRqstType: RequestType.WalletInfo },
  onUnsupportedOp: { exchange: 'SIM', unsupportedMsgType: RequestType.FundingInfo },
  onRateLimitInfo: { exchange: 'SIM', rateLimit: 100, rateRemaining: 10, resetTs: TS + 1e6 },
  onGatewayStatus: { exchange: 'SIM', status: GatewayStatus.Maintenance, detail: 'trading halt' },
  onPublicTrade: { exchange: 'SIM', instrumentId: 1, side: Side.Sell, price: P('100.245'), qty: Q('200'), execTs: TS, recvTs: TS + 20 },
  onAddPriceLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: P('100.24'), qty: Q('500'), recvTs: TS },
  onModifyPriceLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Buy, price: P('100.24'), newQty: Q('400'), recvTs: TS },
  onDeletePriceLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Sell, price: P('100.26'), recvTs: TS },
  onAddLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Buy, levelId: '123456', price: P('100.24'), qty: Q('100'), recvTs: TS },
  onModifyLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Buy, levelId: '123456', price: P('100.24'), newQty: Q('60'), recvTs: TS },
  onDeleteLevel: { exchange: 'SIM', instrumentId: 1, side: Side.Buy, levelId: '123456', price: P('100.24'), recvTs: TS },
  onBestBidLevelUpdate: { exchange: 'SIM', instrumentId: 1, price: P('100.24'), qty: Q('400'), recvTs: TS },
  onBestAskLevelUpdate: { exchange: 'SIM', instrumentId: 1, price: P('0'), qty: Q('0'), recvTs: TS },
  onFeedHandlerStatus: { exchange: 'SIM', status: FeedHandlerStatus.SnapshotEnd, detail: 'sim:equity:abc' },
};

/** One valid client → gateway frame per type (plain JSON objects). */
export const CLIENT_EXAMPLES: Record<string, Record<string, unknown>> = {
  login: { v: 1, type: 'login', seq: 1, reqId: 'r1', strategy: 'mm-1', token: 's3cret', resume: { lastEventSeq: 41 } },
  subscribe: { v: 1, type: 'subscribe', seq: 2, reqId: 'r2', exchange: 'SIM', instrumentIds: [1, 2], subs: ['PriceLevelBook', 'PublicTrades'] },
  new_order: {
    v: 1,
    type: 'new_order',
    seq: 3,
    reqId: 'r3',
    exchange: 'SIM',
    instrumentId: 1,
    clientId: 'mm-1',
    side: 'Buy',
    orderType: 'Limit',
    tif: 'GTC',
    execInstr: ['PostOnly'],
    price: '100.25',
    qty: '10',
  },
  modify_order: { v: 1, type: 'modify_order', seq: 4, exchange: 'SIM', instrumentId: 1, clientId: 'mm-1', newPrice: '100.3', newQty: '12' },
  cancel_order: { v: 1, type: 'cancel_order', seq: 5, exchange: 'SIM', instrumentId: 1, clientId: 'mm-1' },
  cancel_all: { v: 1, type: 'cancel_all', seq: 6, exchange: 'SIM', instrumentId: 1 },
  fetch: { v: 1, type: 'fetch', seq: 7, exchange: 'SIM', what: 'WalletInfo', coin: 'USD' },
  sync: { v: 1, type: 'sync', seq: 8, reqId: 'r8' },
  heartbeat: { v: 1, type: 'heartbeat', seq: 9, ts: TS },
  cmd_result: { v: 1, type: 'cmd_result', seq: 10, reqId: 'g5', ok: true, text: 'position 100' },
  logout: { v: 1, type: 'logout', seq: 11 },
  control_login: { v: 1, type: 'control_login', seq: 1, reqId: 'ctl-1', token: 'ctl-s3cret' },
  control: { v: 1, type: 'control', seq: 2, reqId: 'ctl-2', strategy: 'mm-1', op: 'setParam', args: ['orderQty', '200'] },
};

const WIRE_ORDER = {
  exchange: 'SIM',
  instrumentId: 2,
  clientOrdId: 'mm-7',
  exchOrdId: 'SIM-42',
  side: 'Sell',
  price: '65000.5',
  leavesQty: '0.25',
  status: 'PartiallyFilled',
  orderType: 'Limit',
  tif: 'GTC',
  execInstr: ['PostOnly'],
};

/** One valid gateway → client frame per type (the `event` one with an onNewOrderAck). */
export const GATEWAY_EXAMPLES: Record<string, Record<string, unknown>> = {
  login_ack: {
    v: 1,
    type: 'login_ack',
    seq: 1,
    reqId: 'r1',
    sessionId: 'gw-1-17',
    heartbeatMs: 5000,
    heartbeatTimeoutMs: 15000,
    limits: { maxFrameBytes: 65536, maxMsgsPerSec: 100, burstMsgs: 200 },
    venues: [
      {
        exchange: 'SIM',
        status: 'ReadyToTrade',
        instruments: [
          { instrumentId: 1, exchange: 'SIM', name: 'sim:equity:abc', type: 'Equity', tickSize: '0.01', lotSize: '1', minQty: '1', baseCurrency: 'ABC', quoteCurrency: 'USD', multiplier: 1 },
        ],
      },
    ],
    lastEventSeq: 41,
  },
  error: { v: 1, type: 'error', seq: 2, code: 4004, reason: 'new_order: price: expected a decimal string like "123.45"', reqId: 'r3', refSeq: 3 },
  event: {
    v: 1,
    type: 'event',
    seq: 3,
    eventSeq: 42,
    cb: 'onNewOrderAck',
    ev: {
      exchange: 'SIM',
      clientId: 'mm-1',
      exchangeId: 'SIM-1',
      instrumentId: 1,
      side: 'Buy',
      price: '100.25',
      qty: '10',
      leavesQty: '10',
      orderType: 'Limit',
      tif: 'GTC',
      execInstr: ['PostOnly'],
    },
  },
  md: {
    v: 1,
    type: 'md',
    seq: 4,
    exchange: 'SIM',
    events: [
      [8, 1, TS, TS + 5, 0, 0, 0, 0, 4],
      [7, 1, TS, TS + 5, 0, 0, 0, 0, 0],
      [6, 1, TS, TS + 5, 1, 0, 10024, 500, 0],
      [6, 1, TS, TS + 5, -1, 0, 10026, 300, 0],
      [8, 1, TS, TS + 5, 0, 0, 0, 0, 5],
      [5, 1, TS + 10, TS + 15, -1, 0, 10024.5, 100, 0],
    ],
  },
  gateway_status: { v: 1, type: 'gateway_status', seq: 5, exchange: 'SIM', status: 'Connecting', detail: 'venue reconnecting' },
  sync_result: { v: 1, type: 'sync_result', seq: 6, reqId: 'r8', orders: [WIRE_ORDER], positions: [{ exchange: 'SIM', instrumentId: 2, position: '-0.75' }], lastEventSeq: 57 },
  heartbeat: { v: 1, type: 'heartbeat', seq: 7, ts: TS },
  cmd: { v: 1, type: 'cmd', seq: 8, reqId: 'g5', name: 'get_position', params: ['SIM', '1'] },
  subscribe_ack: { v: 1, type: 'subscribe_ack', seq: 9, reqId: 'r2' },
  control_ack: { v: 1, type: 'control_ack', seq: 1, reqId: 'ctl-1', strategies: ['mm-1', 'mm-2'], role: 'admin' },
  control_result: { v: 1, type: 'control_result', seq: 2, reqId: 'ctl-2', ok: false, text: 'orderQty: a whole number of shares' },
};

/** What a fast path took and declined, over a comparison run. */
export interface FastPathTally {
  fast: number;
  declined: number;
}

/**
 * Parses `text` with the fast paths on and off: the two must agree exactly (same keys in the
 * same order too; deep equality ignores order). And `fast` alone, on the parsed object, may
 * only ever accept what the schemas accept, giving what they give.
 */
export function compareFastPath<M>(
  text: string,
  limits: Readonly<ProtocolLimits>,
  parse: (text: string, limits: Readonly<ProtocolLimits>) => ParseResult<M>,
  fast: (obj: Record<string, unknown>, limits: Readonly<ProtocolLimits>) => M | undefined,
  tally?: FastPathTally,
): void {
  const label = text.slice(0, 300);
  gatewayFastPaths.enabled = false;
  const slow = parse(text, limits);
  gatewayFastPaths.enabled = true;
  const withFast = parse(text, limits);
  expect(withFast, label).toStrictEqual(slow);
  expect(JSON.stringify(withFast), label).toBe(JSON.stringify(slow));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const direct = fast(value as Record<string, unknown>, limits);
  if (direct === undefined) {
    if (tally) tally.declined++;
    return;
  }
  if (tally) tally.fast++;
  expect(slow.ok, label).toBe(true);
  expect(direct, label).toStrictEqual(slow.ok && slow.msg);
  expect(JSON.stringify(direct), label).toBe(JSON.stringify(slow.ok && slow.msg));
}
