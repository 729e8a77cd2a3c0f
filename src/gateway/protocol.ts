/**
 * The gateway wire protocol, version 1: JSON text frames over WebSocket between a gateway
 * process (which hosts venues and a market-data feed) and strategy processes.
 *
 * This module holds the zod schemas of every message in both directions, the TypeScript
 * types inferred from them, the error codes, the limits, and the two edge parsers
 * `parseClientFrame` / `parseGatewayFrame`, which never throw. `docs/protocol.md` is the
 * normative description; this file is its executable form.
 *
 * Strictness is asymmetric on purpose: the gateway rejects unknown fields in client frames
 * (a misspelt `execInstr` must not silently drop a PostOnly), while a client ignores unknown
 * fields in gateway frames (so a gateway may add informational fields within v1).
 * @module
 */
import { z } from 'zod';
import { ExecInstr, FeedHandlerStatus, GatewayStatus, InstrumentType, Liquidity, MDSub, OrderStatus, OrderType, RequestType, Side, TimeInForce } from '../api/enums.js';
import type { CancelCode, RejectCode } from '../api/codes.js';
import { CONTROL_OPS } from '../control/target.js';

// ------------------------------------------------------------------ version, codes, limits

/** The protocol version this module speaks; every frame carries it as `v`. */
export const PROTOCOL_VERSION = 1 as const;

/**
 * Stable numeric codes of `error` frames (4000–4099). A fatal error is followed by a
 * WebSocket close whose close code equals the error code (see `PROTOCOL_ERROR_FATAL`).
 */
export enum ProtocolErrorCode {
  /** The frame is not valid UTF-8 or not valid JSON. */
  MalformedJson = 4000,
  /** The frame is valid JSON but not a JSON object (an array, string, number, null...). */
  NotAnObject = 4001,
  /** `type` is missing, not a string, or not a message of this direction. */
  UnknownType = 4002,
  /** `v` is not a version this peer speaks (a missing `v` is `InvalidFields`). Fatal: nothing else can be understood. */
  UnsupportedVersion = 4003,
  /** A field is missing, has the wrong type or format, is unknown (client frames), or nesting/keys are not allowed. `reason` lists `path: message` items. */
  InvalidFields = 4004,
  /** `seq` is not the previous frame's `seq` + 1. Reported once per gap; the receiver resynchronises to the received `seq`. */
  SequenceGap = 4005,
  /** A valid message that is not allowed now: a second `login` on the connection, a `cmd_result` with no pending `cmd`. */
  UnexpectedMessage = 4006,
  /** A request other than `login`, `heartbeat` or `logout` before a successful login. */
  NotLoggedIn = 4010,
  /** Unknown strategy or wrong token. Fatal. */
  BadCredentials = 4011,
  /** The strategy is already logged in on another connection. Fatal for the new connection; the existing session is unaffected. */
  AlreadyLoggedIn = 4012,
  /** No `login` within `loginTimeoutMs` of the connection opening. Fatal. */
  LoginTimeout = 4013,
  /** `login.resume.lastEventSeq` cannot be served: older than the oldest event the gateway still holds, or beyond its last one (its history was reset). Nothing is replayed; reconcile with `sync`. Not fatal. */
  ResumeUnavailable = 4014,
  /** The frame is larger than `maxFrameBytes`. Fatal. */
  FrameTooLarge = 4020,
  /** More frames than `maxMsgsPerSec` allows (after the burst). Fatal. */
  RateLimited = 4021,
  /** More than `maxBadFramesPerMin` frames were refused within one minute. Fatal. */
  TooManyBadFrames = 4022,
  /** Nothing received within `heartbeatTimeoutMs`. Fatal (usually only seen as a close code). */
  HeartbeatTimeout = 4023,
  /** The request names an exchange the gateway does not host (subscribe). */
  UnknownExchange = 4030,
  /** The request names an instrument the venue does not list (subscribe). */
  UnknownInstrument = 4031,
  /** The gateway is shutting down. Fatal. */
  GatewayShutdown = 4040,
  /** The peer failed to handle a valid frame; the request had no effect. Not fatal. */
  InternalError = 4099,
}

/** Whether each error code ends the connection (the peer then closes with that code). */
export const PROTOCOL_ERROR_FATAL: Readonly<Record<ProtocolErrorCode, boolean>> = {
  [ProtocolErrorCode.MalformedJson]: false,
  [ProtocolErrorCode.NotAnObject]: false,
  [ProtocolErrorCode.UnknownType]: false,
  [ProtocolErrorCode.UnsupportedVersion]: true,
  [ProtocolErrorCode.InvalidFields]: false,
  [ProtocolErrorCode.SequenceGap]: false,
  [ProtocolErrorCode.UnexpectedMessage]: false,
  [ProtocolErrorCode.NotLoggedIn]: false,
  [ProtocolErrorCode.BadCredentials]: true,
  [ProtocolErrorCode.AlreadyLoggedIn]: true,
  [ProtocolErrorCode.LoginTimeout]: true,
  [ProtocolErrorCode.ResumeUnavailable]: false,
  [ProtocolErrorCode.FrameTooLarge]: true,
  [ProtocolErrorCode.RateLimited]: true,
  [ProtocolErrorCode.TooManyBadFrames]: true,
  [ProtocolErrorCode.HeartbeatTimeout]: true,
  [ProtocolErrorCode.UnknownExchange]: false,
  [ProtocolErrorCode.UnknownInstrument]: false,
  [ProtocolErrorCode.GatewayShutdown]: true,
  [ProtocolErrorCode.InternalError]: false,
};

/**
 * WebSocket close codes. Application closes (4000–4099) reuse the fatal error code that
 * caused them; the standard codes cover the rest.
 */
export const CloseCode = {
  /** After `logout` (either side), or a client closing on purpose. Do not reconnect. */
  Normal: 1000,
  /** The endpoint went away without a protocol error (process exit). Reconnect with backoff. */
  GoingAway: 1001,
  /** The transport's hard payload cap (ws `maxPayload`) was hit before the frame could be read. */
  MessageTooBig: 1009,
} as const;

/**
 * Limits one endpoint applies to what it receives. Rates are per connection.
 * `DEFAULT_LIMITS` is the gateway's default for client frames; `DEFAULT_CLIENT_LIMITS`
 * a client's default for gateway frames.
 */
export interface ProtocolLimits {
  /** Largest accepted frame in bytes of UTF-8. Larger: `FrameTooLarge`, fatal. Default 65 536 (64 KiB). */
  maxFrameBytes: number;
  /** Deepest accepted JSON nesting (the frame object is depth 1). Deeper: `InvalidFields`. Default 16. */
  maxJsonDepth: number;
  /** Sustained frames per second (token-bucket refill rate). Default 100. */
  maxMsgsPerSec: number;
  /** Frames that may arrive at once above the sustained rate (bucket capacity). Default 200. */
  burstMsgs: number;
  /** Refused frames tolerated within any 60 s window; one more closes with `TooManyBadFrames`. Default 10. */
  maxBadFramesPerMin: number;
  /** Send a `heartbeat` when nothing was sent for this long, in ms. Default 5 000. */
  heartbeatMs: number;
  /** Close with `HeartbeatTimeout` when nothing was received for this long, in ms. Default 15 000 (3 heartbeats). */
  heartbeatTimeoutMs: number;
  /** Close with `LoginTimeout` when no login succeeded this long after the connection opened, in ms. Default 10 000. */
  loginTimeoutMs: number;
}

/** The gateway's limits on client frames. */
export const DEFAULT_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxFrameBytes: 64 * 1024,
  maxJsonDepth: 16,
  maxMsgsPerSec: 100,
  burstMsgs: 200,
  maxBadFramesPerMin: 10,
  heartbeatMs: 5_000,
  heartbeatTimeoutMs: 15_000,
  loginTimeoutMs: 10_000,
});

/**
 * A client's limits on gateway frames: larger frames (a `login_ack` of a venue with
 * thousands of instruments, a `sync_result`, a burst of `md` batches) and no practical rate
 * cap, since the gateway is trusted to pace itself.
 */
export const DEFAULT_CLIENT_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxFrameBytes: 16 * 1024 * 1024,
  maxJsonDepth: 16,
  maxMsgsPerSec: 1_000_000,
  burstMsgs: 1_000_000,
  maxBadFramesPerMin: 1_000,
  heartbeatMs: 5_000,
  heartbeatTimeoutMs: 15_000,
  loginTimeoutMs: 10_000,
});

/**
 * Fills absent limits from `base` (default `DEFAULT_LIMITS`) and checks them: every value
 * must be a positive number (integers for counts and bytes), `heartbeatTimeoutMs` above
 * `heartbeatMs`, `burstMsgs` at least 1. Throws `RangeError` naming the bad field.
 */
export function resolveLimits(partial: Partial<ProtocolLimits> = {}, base: Readonly<ProtocolLimits> = DEFAULT_LIMITS): ProtocolLimits {
  const out: ProtocolLimits = { ...base };
  for (const key of Object.keys(base) as (keyof ProtocolLimits)[]) {
    const v = partial[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v > 0) || Number.isNaN(v)) throw new RangeError(`limits.${key} must be a positive number, got ${String(v)}`);
    out[key] = v;
  }
  for (const key of ['maxFrameBytes', 'maxJsonDepth', 'burstMsgs', 'maxBadFramesPerMin'] as const) {
    if (!Number.isInteger(out[key])) throw new RangeError(`limits.${key} must be an integer, got ${out[key]}`);
  }
  if (out.heartbeatTimeoutMs <= out.heartbeatMs) throw new RangeError(`limits.heartbeatTimeoutMs (${out.heartbeatTimeoutMs}) must exceed heartbeatMs (${out.heartbeatMs})`);
  return out;
}

// ------------------------------------------------------------------ primitives

/** Longest client order id and request id, in characters (same as the kernel's client ids). */
export const MAX_ID_LENGTH = 64;

/** Printable ASCII without the space: ids survive logs, journals and command arguments. */
const PRINTABLE_ID = /^[\x21-\x7e]+$/;
// The patterns and bounds below are shared by the schemas and the hand-written fast paths
// (`fastClientMessage`, the codec's event encoders), so that the two cannot drift apart.
const MAX_DECIMAL_LENGTH = 62;
const DECIMAL_PATTERN = /^-?\d{1,30}(\.\d{1,30})?$/;
const MAX_EXCHANGE_ID_LENGTH = 32;
const EXCHANGE_ID_PATTERN = /^[\w.-]+$/;
const MAX_EXEC_INSTR = 4;
const MAX_TEXT_LENGTH = 4096;
const MAX_VENUE_ORDER_ID_LENGTH = 128;
const EXEC_INSTR_VALUES: ReadonlySet<unknown> = new Set(Object.values(ExecInstr));

/** @internal The rule of `ReqId` and `ClientOrderId` without zod, for the fast paths. */
export function isWireId(x: unknown): x is string {
  return typeof x === 'string' && x.length <= MAX_ID_LENGTH && PRINTABLE_ID.test(x);
}
/** @internal The rule of `ExchangeId` without zod, for the fast paths. */
export function isWireExchangeId(x: unknown): x is string {
  return typeof x === 'string' && x.length <= MAX_EXCHANGE_ID_LENGTH && EXCHANGE_ID_PATTERN.test(x);
}
/** @internal The rule of `DecimalString` without zod, for the fast paths. */
export function isWireDecimal(x: unknown): x is string {
  return typeof x === 'string' && x.length <= MAX_DECIMAL_LENGTH && DECIMAL_PATTERN.test(x);
}
/** @internal The rule of free text (reasons, details: at most 4096 characters) without zod, for the fast paths. */
export function isWireText(x: unknown): x is string {
  return typeof x === 'string' && x.length <= MAX_TEXT_LENGTH;
}
/** @internal The rule of a venue's order id in events (at most 128 characters) without zod, for the fast paths. */
export function isWireVenueOrderId(x: unknown): x is string {
  return typeof x === 'string' && x.length <= MAX_VENUE_ORDER_ID_LENGTH;
}
/** @internal The rule of an `execInstr` list without zod, for the fast paths. */
export function isWireExecInstrList(x: unknown): x is ExecInstr[] {
  if (!Array.isArray(x) || x.length > MAX_EXEC_INSTR) return false;
  for (let i = 0; i < x.length; i++) if (!EXEC_INSTR_VALUES.has(x[i])) return false;
  return true;
}

/** Exact decimal as a string: optional `-`, 1–30 digits, optional `.` and 1–30 digits. No exponent, no `+`, no spaces. */
export const DecimalString = z.string().max(MAX_DECIMAL_LENGTH).regex(DECIMAL_PATTERN, 'expected a decimal string like "123.45"');
/** A decimal string above zero (instrument grids). */
export const PositiveDecimalString = DecimalString.regex(/[1-9]/, 'expected a positive decimal').regex(/^[^-]/, 'expected a positive decimal');
/** Frame sequence number: an integer ≥ 1. */
export const Seq = z.int().min(1);
/** Per-strategy event sequence number: an integer ≥ 1. */
export const EventSeq = z.int().min(1);
/** Request id chosen by the sender: 1–64 printable ASCII characters without spaces. */
export const ReqId = z.string().min(1).max(MAX_ID_LENGTH).regex(PRINTABLE_ID, 'expected printable ASCII without spaces');
/** Timestamp: integer microseconds since the Unix epoch (UTC). */
export const TimestampUs = z.int().min(0);
/** Venue id, e.g. `SIM`, `BYBIT`: 1–32 characters of letters, digits, `_ . -`. */
export const ExchangeId = z.string().min(1).max(MAX_EXCHANGE_ID_LENGTH).regex(EXCHANGE_ID_PATTERN, 'expected letters, digits, _ . -');
/** Venue-defined numeric instrument id (a safe integer). */
export const InstrumentId = z.int();
/** Client order id: 1–64 printable ASCII characters without spaces. */
export const ClientOrderId = z.string().min(1).max(MAX_ID_LENGTH).regex(PRINTABLE_ID, 'expected printable ASCII without spaces');
/** Strategy login name: 1–64 letters, digits, `_ . : -` (as `env.login` accepts). */
export const StrategyName = z.string().min(1).max(64).regex(/^[\w.:-]+$/, 'expected letters, digits, _ . : -');
/** Command hook name: 1–64 letters, digits, `_ . -` (as `env.addCmdHook` accepts). */
export const CmdName = z.string().min(1).max(64).regex(/^[\w.-]+$/, 'expected letters, digits, _ . -');
/** Coin or currency code, e.g. `USDT`, `1000PEPE`: 1–32 letters, digits, `_ . -`. */
export const CoinCode = z.string().min(1).max(32).regex(/^[\w.-]+$/, 'expected letters, digits, _ . -');
/** Human-readable text (reasons, details): at most 4096 characters. */
const Text = z.string().max(MAX_TEXT_LENGTH);
/** Reject code: 1000–2999 (`RejectCode`); unknown codes in range are accepted so that a newer gateway's codes still reach the strategy. */
const RejectCodeSchema = z
  .int()
  .min(1000)
  .max(2999)
  .transform((n) => n as RejectCode);
/** Cancel code: 3000–3999 (`CancelCode`), open-ended for the same reason. */
const CancelCodeSchema = z
  .int()
  .min(3000)
  .max(3999)
  .transform((n) => n as CancelCode);
const SideSchema = z.enum(Side);
const ExecInstrList = z.array(z.enum(ExecInstr)).max(MAX_EXEC_INSTR);

/** An instrument as the gateway lists it (`InstrumentSpec` of `src/api/instrument.ts`); build with `makeInstrument`. */
export const InstrumentSpecSchema = z.object({
  instrumentId: InstrumentId,
  exchange: ExchangeId,
  name: z.string().min(1).max(128),
  type: z.enum(InstrumentType).optional(),
  tickSize: PositiveDecimalString,
  lotSize: PositiveDecimalString,
  minQty: PositiveDecimalString.optional(),
  baseCurrency: CoinCode,
  quoteCurrency: CoinCode,
  multiplier: z.number().positive().optional(),
});

// ------------------------------------------------------------------ events

/** Callbacks a venue addresses to one strategy: sent in `event` frames, numbered by `eventSeq`, recorded and replayed on resume. */
export const VENUE_CALLBACKS = [
  'onNewOrderAck',
  'onNewOrderReject',
  'onModifyOrderAck',
  'onModifyOrderReject',
  'onCancelOrderAck',
  'onCancelOrderReject',
  'onCancelAllAck',
  'onCancelAllReject',
  'onOrderExecution',
  'onOrderCancelled',
  'onOrderStatus',
  'onOrdersInfo',
  'onAccountInfo',
  'onWalletInfo',
  'onPositionInfo',
  'onFundingInfo',
  'onRequestReject',
  'onUnsupportedOp',
  'onRateLimitInfo',
  'onGatewayStatus',
] as const;
/** Market-data callbacks: in v1 the client derives them from `md` frames; the codec covers them for tools and later versions. */
export const MD_CALLBACKS = [
  'onPublicTrade',
  'onAddPriceLevel',
  'onModifyPriceLevel',
  'onDeletePriceLevel',
  'onAddLevel',
  'onModifyLevel',
  'onDeleteLevel',
  'onBestBidLevelUpdate',
  'onBestAskLevelUpdate',
  'onFeedHandlerStatus',
] as const;
/** Every callback whose event the codec can encode and decode: all but the lifecycle ones the environment makes itself. */
export const EVENT_CALLBACKS = [...VENUE_CALLBACKS, ...MD_CALLBACKS] as const;
/** A callback that travels in `event` frames. */
export type VenueCallbackName = (typeof VENUE_CALLBACKS)[number];
/** A callback the codec handles. */
export type EventCallback = (typeof EVENT_CALLBACKS)[number];

/**
 * Builds one event schema per callback with the given decimal schemas: plain
 * `DecimalString`s give the wire schemas (`EVENT_WIRE_SCHEMAS`), string→`Price`/`Qty`
 * transforms give the codec's decoders. One definition, so wire and API cannot drift.
 * Objects strip unknown keys: a newer gateway may add fields.
 */
export function defineEventSchemas<P extends z.ZodType<unknown, string>, Q extends z.ZodType<unknown, string>>(price: P, qty: Q) {
  const orderStatus = z.object({
    exchange: ExchangeId,
    instrumentId: InstrumentId,
    clientOrdId: ClientOrderId,
    exchOrdId: z.string().max(MAX_VENUE_ORDER_ID_LENGTH),
    side: SideSchema,
    price,
    leavesQty: qty,
    status: z.enum(OrderStatus),
    orderType: z.enum(OrderType),
    tif: z.enum(TimeInForce),
    execInstr: ExecInstrList,
  });
  const position = z.object({ exchange: ExchangeId, instrumentId: InstrumentId, position: qty });
  const priceLevel = z.object({ exchange: ExchangeId, instrumentId: InstrumentId, side: SideSchema, price, qty, recvTs: TimestampUs });
  const bestLevel = z.object({ exchange: ExchangeId, instrumentId: InstrumentId, price, qty, recvTs: TimestampUs });
  const level = { exchange: ExchangeId, instrumentId: InstrumentId, side: SideSchema, levelId: z.string().min(1).max(64), price, recvTs: TimestampUs };
  return {
    onNewOrderAck: z.object({
      exchange: ExchangeId,
      clientId: ClientOrderId,
      exchangeId: z.string().max(MAX_VENUE_ORDER_ID_LENGTH),
      instrumentId: InstrumentId,
      side: SideSchema,
      price,
      qty,
      leavesQty: qty,
      orderType: z.enum(OrderType),
      tif: z.enum(TimeInForce),
      execInstr: ExecInstrList,
    }),
    onNewOrderReject: z.object({ exchange: ExchangeId, clientId: ClientOrderId, rejectCode: RejectCodeSchema, rejectReason: Text }),
    onModifyOrderAck: z.object({ exchange: ExchangeId, clientId: ClientOrderId, newPrice: price, newQty: qty, leavesQty: qty }),
    onModifyOrderReject: z.object({ exchange: ExchangeId, clientId: ClientOrderId, rejectCode: RejectCodeSchema, rejectReason: Text }),
    onCancelOrderAck: z.object({ exchange: ExchangeId, clientId: ClientOrderId }),
    // clientId is absent when the reject answers a cancel-all; the transform restores the
    // key (as undefined) because the API type has it as a required `string | undefined`.
    onCancelOrderReject: z
      .object({ exchange: ExchangeId, clientId: ClientOrderId.optional(), rejectCode: RejectCodeSchema, rejectReason: Text })
      .transform((e) => ({ exchange: e.exchange, clientId: e.clientId, rejectCode: e.rejectCode, rejectReason: e.rejectReason })),
    onCancelAllAck: z.object({ exchange: ExchangeId, instrumentId: InstrumentId }),
    onCancelAllReject: z.object({ exchange: ExchangeId, instrumentId: InstrumentId, rejectCode: RejectCodeSchema, rejectReason: Text }),
    onOrderExecution: z.object({
      exchange: ExchangeId,
      clientId: ClientOrderId,
      side: SideSchema,
      price,
      fillQty: qty,
      leavesQty: qty,
      execTs: TimestampUs,
      recvTs: TimestampUs,
      instrumentId: InstrumentId,
      fee: price,
      liquidity: z.enum(Liquidity),
    }),
    onOrderCancelled: z.object({
      exchange: ExchangeId,
      clientId: ClientOrderId,
      unsolicited: z.boolean(),
      engineTs: TimestampUs,
      recvTs: TimestampUs,
      cancelCode: CancelCodeSchema,
      cancelReason: Text,
    }),
    onOrderStatus: orderStatus,
    onOrdersInfo: z.object({ exchange: ExchangeId, orders: z.array(orderStatus).max(100_000) }),
    onAccountInfo: z.object({ exchange: ExchangeId, userId: z.string().max(128) }),
    onWalletInfo: z.object({ exchange: ExchangeId, coin: CoinCode, totalBalance: qty, availableBalance: qty }),
    onPositionInfo: position,
    onFundingInfo: z.object({ exchange: ExchangeId, instrumentId: InstrumentId, fundingRate: DecimalString, nextFundingTs: TimestampUs }),
    onRequestReject: z.object({ exchange: z.union([ExchangeId, z.literal('')]), rejectCode: RejectCodeSchema, detail: Text, rejectedRqstType: z.enum(RequestType) }),
    onUnsupportedOp: z.object({ exchange: ExchangeId, unsupportedMsgType: z.enum(RequestType) }),
    onRateLimitInfo: z.object({ exchange: ExchangeId, rateLimit: z.number().min(0), rateRemaining: z.number().min(0), resetTs: TimestampUs }),
    onGatewayStatus: z.object({ exchange: ExchangeId, status: z.enum(GatewayStatus), detail: Text }),
    onPublicTrade: z.object({ exchange: ExchangeId, instrumentId: InstrumentId, side: SideSchema, price, qty, execTs: TimestampUs, recvTs: TimestampUs }),
    onAddPriceLevel: priceLevel,
    onModifyPriceLevel: z.object({ exchange: ExchangeId, instrumentId: InstrumentId, side: SideSchema, price, newQty: qty, recvTs: TimestampUs }),
    onDeletePriceLevel: z.object({ exchange: ExchangeId, instrumentId: InstrumentId, side: SideSchema, price, recvTs: TimestampUs }),
    onAddLevel: z.object({ ...level, qty }),
    onModifyLevel: z.object({ ...level, newQty: qty }),
    onDeleteLevel: z.object(level),
    onBestBidLevelUpdate: bestLevel,
    onBestAskLevelUpdate: bestLevel,
    onFeedHandlerStatus: z.object({ exchange: ExchangeId, status: z.enum(FeedHandlerStatus), detail: Text }),
  } satisfies Record<EventCallback, z.ZodType>;
}

/** Wire schemas of every event payload: decimals as strings. */
export const EVENT_WIRE_SCHEMAS = defineEventSchemas(DecimalString, DecimalString);
/** Wire form of each callback's event (decimals as strings, timestamps as integer µs). */
export type WireEventMap = { [K in EventCallback]: z.output<(typeof EVENT_WIRE_SCHEMAS)[K]> };
/** Wire form of one order's status (in `onOrdersInfo` and `sync_result`). */
export type WireOrderStatus = WireEventMap['onOrderStatus'];
/** Wire form of one position (in `sync_result`). */
export type WirePosition = WireEventMap['onPositionInfo'];

// ------------------------------------------------------------------ envelope

const envelope = { v: z.literal(PROTOCOL_VERSION), seq: Seq, reqId: ReqId.optional() };
const envelopeWithReqId = { ...envelope, reqId: ReqId };

// ------------------------------------------------------------------ client → gateway

/** Logs the connection in as a strategy; answered by `login_ack` or a fatal `error`. */
export const LoginMsgSchema = z.strictObject({
  ...envelopeWithReqId,
  type: z.literal('login'),
  strategy: StrategyName,
  /** Shared secret from the gateway's config; at most 512 characters. */
  token: z.string().min(1).max(512),
  /** Ask for the events after `lastEventSeq` (0: all the gateway holds). */
  resume: z.strictObject({ lastEventSeq: z.int().min(0) }).optional(),
});
/** Subscribes to market data; answered by `subscribe_ack`, then `md` frames starting with a snapshot. */
export const SubscribeMsgSchema = z.strictObject({
  ...envelopeWithReqId,
  type: z.literal('subscribe'),
  exchange: ExchangeId,
  instrumentIds: z.array(InstrumentId).min(1).max(10_000),
  subs: z.array(z.enum(MDSub)).min(1).max(16),
});
/** A new order (`VenueNewOrder` without the grid values, which the gateway recomputes). */
export const NewOrderMsgSchema = z.strictObject({
  ...envelope,
  type: z.literal('new_order'),
  exchange: ExchangeId,
  instrumentId: InstrumentId,
  clientId: ClientOrderId,
  side: SideSchema,
  orderType: z.enum(OrderType),
  tif: z.enum(TimeInForce),
  execInstr: ExecInstrList,
  /** Required for `Limit`; ignored (may be absent) for `Market`. */
  price: DecimalString.optional(),
  qty: DecimalString,
});
/** A modify of an open order; an absent field keeps its value. */
export const ModifyOrderMsgSchema = z.strictObject({
  ...envelope,
  type: z.literal('modify_order'),
  exchange: ExchangeId,
  instrumentId: InstrumentId,
  clientId: ClientOrderId,
  newPrice: DecimalString.optional(),
  newQty: DecimalString.optional(),
});
/** A cancel of one order. */
export const CancelOrderMsgSchema = z.strictObject({
  ...envelope,
  type: z.literal('cancel_order'),
  exchange: ExchangeId,
  instrumentId: InstrumentId,
  clientId: ClientOrderId,
});
/** A cancel of every open order of the strategy on one instrument. */
export const CancelAllMsgSchema = z.strictObject({
  ...envelope,
  type: z.literal('cancel_all'),
  exchange: ExchangeId,
  instrumentId: InstrumentId,
});
/** The queries of `IStratEnv.fetch…`. */
export const FETCH_KINDS = [
  RequestType.AccountInfo,
  RequestType.WalletInfo,
  RequestType.PositionInfo,
  RequestType.FundingInfo,
  RequestType.OrderStatus,
  RequestType.OrdersInfo,
] as const;
/** A query, answered by the matching `on…Info` event (or `onRequestReject`). */
export const FetchMsgSchema = z.strictObject({
  ...envelope,
  type: z.literal('fetch'),
  exchange: ExchangeId,
  what: z.enum(FETCH_KINDS),
  instrumentId: InstrumentId.optional(),
  coin: CoinCode.optional(),
  clientId: ClientOrderId.optional(),
});
/** Asks for the strategy's open orders and positions on every venue (reconciliation); answered by `sync_result`. */
export const SyncMsgSchema = z.strictObject({ ...envelopeWithReqId, type: z.literal('sync') });
/** Keep-alive; `ts` is the sender's wall clock. */
export const HeartbeatMsgSchema = z.strictObject({ ...envelope, type: z.literal('heartbeat'), ts: TimestampUs });
/** Answer to a gateway `cmd`: `reqId` is the `cmd`'s, `text` what the hook returned (or the error). */
export const CmdResultMsgSchema = z.strictObject({
  ...envelopeWithReqId,
  type: z.literal('cmd_result'),
  ok: z.boolean(),
  text: z.string().max(16_384),
});
/** Ends the session; the gateway closes with 1000. */
export const LogoutMsgSchema = z.strictObject({ ...envelope, type: z.literal('logout') });
/** Most arguments of one `control` operation: the operation and its arguments travel to the strategy in one `cmd` (≤ 64 params). */
export const MAX_CONTROL_ARGS = 63;
/**
 * Logs a connection in as a control client (`tradeloop ctl`) with one of the gateway's
 * control tokens (distinct from strategy tokens); answered by `control_ack` or a fatal
 * `error` 4011. A control connection sends `control`, `heartbeat` and `logout` only.
 */
export const ControlLoginMsgSchema = z.strictObject({
  ...envelopeWithReqId,
  type: z.literal('control_login'),
  /** A control token from the gateway's configuration; at most 512 characters. */
  token: z.string().min(1).max(512),
});
/** One control operation (a `ControlTarget` method, `CONTROL_OPS`) on one connected strategy; answered by `control_result`. */
export const ControlMsgSchema = z.strictObject({
  ...envelopeWithReqId,
  type: z.literal('control'),
  strategy: StrategyName,
  op: z.enum(CONTROL_OPS),
  args: z.array(z.string().max(1024)).max(MAX_CONTROL_ARGS),
});

/** Schema of each client message by `type`. */
export const CLIENT_MESSAGE_SCHEMAS = {
  login: LoginMsgSchema,
  subscribe: SubscribeMsgSchema,
  new_order: NewOrderMsgSchema,
  modify_order: ModifyOrderMsgSchema,
  cancel_order: CancelOrderMsgSchema,
  cancel_all: CancelAllMsgSchema,
  fetch: FetchMsgSchema,
  sync: SyncMsgSchema,
  heartbeat: HeartbeatMsgSchema,
  cmd_result: CmdResultMsgSchema,
  logout: LogoutMsgSchema,
  control_login: ControlLoginMsgSchema,
  control: ControlMsgSchema,
} as const;
/** Every client → gateway message, discriminated on `type`. */
export const ClientMessageSchema = z.discriminatedUnion('type', [
  LoginMsgSchema,
  SubscribeMsgSchema,
  NewOrderMsgSchema,
  ModifyOrderMsgSchema,
  CancelOrderMsgSchema,
  CancelAllMsgSchema,
  FetchMsgSchema,
  SyncMsgSchema,
  HeartbeatMsgSchema,
  CmdResultMsgSchema,
  LogoutMsgSchema,
  ControlLoginMsgSchema,
  ControlMsgSchema,
]);

/** `login` frame. */
export type LoginMsg = z.output<typeof LoginMsgSchema>;
/** `subscribe` frame. */
export type SubscribeMsg = z.output<typeof SubscribeMsgSchema>;
/** `new_order` frame. */
export type NewOrderMsg = z.output<typeof NewOrderMsgSchema>;
/** `modify_order` frame. */
export type ModifyOrderMsg = z.output<typeof ModifyOrderMsgSchema>;
/** `cancel_order` frame. */
export type CancelOrderMsg = z.output<typeof CancelOrderMsgSchema>;
/** `cancel_all` frame. */
export type CancelAllMsg = z.output<typeof CancelAllMsgSchema>;
/** `fetch` frame. */
export type FetchMsg = z.output<typeof FetchMsgSchema>;
/** `sync` frame. */
export type SyncMsg = z.output<typeof SyncMsgSchema>;
/** `heartbeat` frame (either direction). */
export type HeartbeatMsg = z.output<typeof HeartbeatMsgSchema>;
/** `cmd_result` frame. */
export type CmdResultMsg = z.output<typeof CmdResultMsgSchema>;
/** `logout` frame. */
export type LogoutMsg = z.output<typeof LogoutMsgSchema>;
/** `control_login` frame. */
export type ControlLoginMsg = z.output<typeof ControlLoginMsgSchema>;
/** `control` frame. */
export type ControlMsg = z.output<typeof ControlMsgSchema>;
/** Any client → gateway frame. */
export type ClientMessage = z.output<typeof ClientMessageSchema>;
/** `type` of a client frame. */
export type ClientMessageType = ClientMessage['type'];
/** The client frames that become a `VenueRequest`. */
export type RequestMsg = NewOrderMsg | ModifyOrderMsg | CancelOrderMsg | CancelAllMsg | FetchMsg;

// ------------------------------------------------------------------ gateway → client

/** `error.code` as a client reads it: any integer, so that codes added later still parse. */
const ErrorCodeSchema = z.int().transform((n) => n as ProtocolErrorCode);

/** Successful login. */
export const LoginAckMsgSchema = z.object({
  ...envelopeWithReqId,
  type: z.literal('login_ack'),
  /** Opaque id of this session, for logs on both sides. */
  sessionId: z.string().min(1).max(128),
  /** Send a heartbeat when idle this long (ms). */
  heartbeatMs: z.int().min(1),
  /** The gateway closes after this long without a frame from the client (ms). */
  heartbeatTimeoutMs: z.int().min(1),
  /** The gateway's limits on client frames, so a client can pace itself. */
  limits: z.object({ maxFrameBytes: z.int().min(1), maxMsgsPerSec: z.number().positive(), burstMsgs: z.int().min(1) }),
  venues: z
    .array(z.object({ exchange: ExchangeId, status: z.enum(GatewayStatus), instruments: z.array(InstrumentSpecSchema).max(100_000) }))
    .max(256),
  /** Highest `eventSeq` recorded for this strategy when the login was accepted (0: none). */
  lastEventSeq: z.int().min(0),
});
/** A refused frame or a session problem. */
export const ErrorMsgSchema = z.object({
  ...envelope,
  type: z.literal('error'),
  code: ErrorCodeSchema,
  reason: Text,
  /** `seq` of the frame that caused it, when it could be read. */
  refSeq: Seq.optional(),
  /** True when the gateway closes the connection right after this frame. */
  fatal: z.boolean().optional(),
});
/** One `event` frame per venue callback, discriminated on `cb`. */
export const EventMsgSchema = z.discriminatedUnion(
  'cb',
  VENUE_CALLBACKS.map((cb) =>
    z.object({ ...envelope, type: z.literal('event'), eventSeq: EventSeq, cb: z.literal(cb), ev: EVENT_WIRE_SCHEMAS[cb] }),
  ) as unknown as [EventFrameOption, ...EventFrameOption[]],
);
/** Schema of the `event` frame of any venue callback (the options of `EventMsgSchema`). */
export type EventFrameOption = { [K in VenueCallbackName]: EventFrameSchema<K> }[VenueCallbackName];
/** Schema of the `event` frame of one callback. */
export type EventFrameSchema<K extends VenueCallbackName> = z.ZodObject<{
  v: z.ZodLiteral<typeof PROTOCOL_VERSION>;
  seq: typeof Seq;
  reqId: z.ZodOptional<typeof ReqId>;
  type: z.ZodLiteral<'event'>;
  eventSeq: typeof EventSeq;
  cb: z.ZodLiteral<K>;
  ev: (typeof EVENT_WIRE_SCHEMAS)[K];
}>;

/** MdType values 1–255 (clients ignore types they do not know). */
const MdTypeCode = z.int().min(1).max(255);
/**
 * One `MdEvent` as a compact array:
 * `[type, instrumentId, exchTs, localTs, side, orderId, priceTick, qty, status]`.
 * Extra trailing elements are allowed (a later version may append columns) and ignored.
 */
export const MdRowSchema = z.tuple(
  [
    MdTypeCode,
    InstrumentId,
    TimestampUs,
    TimestampUs,
    z.union([z.literal(1), z.literal(-1), z.literal(0)]),
    z.int(),
    z.number(),
    z.number(),
    z.int().min(0),
  ],
  z.unknown(),
);
/** One market event on the wire. */
export type MdRow = [type: number, instrumentId: number, exchTs: number, localTs: number, side: 1 | -1 | 0, orderId: number, priceTick: number, qty: number, status: number];
/** An md row as received: the nine columns, then any appended ones. */
export type MdRowIn = readonly [type: number, instrumentId: number, exchTs: number, localTs: number, side: 1 | -1 | 0, orderId: number, priceTick: number, qty: number, status: number, ...rest: unknown[]];

const isInt = Number.isSafeInteger;
/** Same rules as `MdRowSchema`, without allocation. */
function isMdRow(r: unknown): r is MdRowIn {
  if (!Array.isArray(r) || r.length < 9) return false;
  const [type, instrumentId, exchTs, localTs, side, orderId, priceTick, qty, status] = r as unknown[];
  if (!isInt(type) || (type as number) < 1 || (type as number) > 255) return false;
  if (!isInt(instrumentId) || !isInt(orderId)) return false;
  if (!isInt(exchTs) || (exchTs as number) < 0 || !isInt(localTs) || (localTs as number) < 0) return false;
  if (side !== 1 && side !== -1 && side !== 0) return false;
  if (typeof priceTick !== 'number' || !Number.isFinite(priceTick) || typeof qty !== 'number' || !Number.isFinite(qty)) return false;
  return isInt(status) && (status as number) >= 0;
}

const MAX_MD_ROWS = 200_000;
/** A batch of normalized market events of one exchange, in arrival order. */
export const MdMsgSchema = z.object({
  ...envelope,
  type: z.literal('md'),
  exchange: ExchangeId,
  events: z
    .array(z.custom<MdRowIn>())
    .min(1)
    .max(MAX_MD_ROWS)
    .superRefine((rows, ctx) => {
      // A hand-written check per row (md is the hot path: ~10× faster than the tuple
      // schema); the tuple schema only runs on a bad row, to say what is wrong with it.
      for (let i = 0; i < rows.length; i++) {
        if (isMdRow(rows[i])) continue;
        const r = MdRowSchema.safeParse(rows[i]);
        for (const issue of r.error?.issues ?? [{ path: [], message: 'invalid md row' }]) ctx.addIssue({ code: 'custom', message: issue.message, path: [i, ...issue.path] });
        return;
      }
    }),
});
/** The gateway's own view of a venue changed (not per strategy, not recorded). */
export const GatewayStatusMsgSchema = z.object({
  ...envelope,
  type: z.literal('gateway_status'),
  exchange: ExchangeId,
  status: z.enum(GatewayStatus),
  detail: Text.optional(),
});
/** Answer to `sync`: the strategy's open orders and non-zero positions on every venue, as of `lastEventSeq`. */
export const SyncResultMsgSchema = z.object({
  ...envelopeWithReqId,
  type: z.literal('sync_result'),
  orders: z.array(EVENT_WIRE_SCHEMAS.onOrderStatus).max(100_000),
  positions: z.array(EVENT_WIRE_SCHEMAS.onPositionInfo).max(100_000),
  /** Events up to this `eventSeq` are reflected in the lists; later events follow as usual. */
  lastEventSeq: z.int().min(0),
});
/** Keep-alive from the gateway. */
export const GatewayHeartbeatMsgSchema = z.object({ ...envelope, type: z.literal('heartbeat'), ts: TimestampUs });
/** Runs the strategy's command hook `name`; the client answers with `cmd_result` and the same `reqId`. */
export const CmdMsgSchema = z.object({
  ...envelopeWithReqId,
  type: z.literal('cmd'),
  name: CmdName,
  params: z.array(z.string().max(1024)).max(64),
});
/** A subscription was accepted; the snapshot follows in `md` frames. */
export const SubscribeAckMsgSchema = z.object({ ...envelopeWithReqId, type: z.literal('subscribe_ack') });
/** A control login was accepted: the strategies connected now, and the role of the control token. */
export const ControlAckMsgSchema = z.object({
  ...envelopeWithReqId,
  type: z.literal('control_ack'),
  strategies: z.array(StrategyName).max(100_000),
  /** The control token's role (this gateway always sends it; absent: the client assumes `admin` and the gateway still checks every operation). */
  role: z.enum(['viewer', 'trader', 'admin']).optional(),
});
/** The answer to one `control` frame: the operation's outcome as text (`serveControlOp`'s encoding). */
export const ControlResultMsgSchema = z.object({
  ...envelopeWithReqId,
  type: z.literal('control_result'),
  ok: z.boolean(),
  text: z.string().max(16_384),
});

/** Schema of each gateway message by `type`. */
export const GATEWAY_MESSAGE_SCHEMAS = {
  login_ack: LoginAckMsgSchema,
  error: ErrorMsgSchema,
  event: EventMsgSchema,
  md: MdMsgSchema,
  gateway_status: GatewayStatusMsgSchema,
  sync_result: SyncResultMsgSchema,
  heartbeat: GatewayHeartbeatMsgSchema,
  cmd: CmdMsgSchema,
  subscribe_ack: SubscribeAckMsgSchema,
  control_ack: ControlAckMsgSchema,
  control_result: ControlResultMsgSchema,
} as const;
/** Every gateway → client message, discriminated on `type` (and `event` frames on `cb`). */
export const GatewayMessageSchema = z.discriminatedUnion('type', [
  LoginAckMsgSchema,
  ErrorMsgSchema,
  EventMsgSchema,
  MdMsgSchema,
  GatewayStatusMsgSchema,
  SyncResultMsgSchema,
  GatewayHeartbeatMsgSchema,
  CmdMsgSchema,
  SubscribeAckMsgSchema,
  ControlAckMsgSchema,
  ControlResultMsgSchema,
]);

/** `login_ack` frame. */
export type LoginAckMsg = z.output<typeof LoginAckMsgSchema>;
/** `error` frame. */
export type ErrorMsg = z.output<typeof ErrorMsgSchema>;
/** `event` frame (a union over `cb`). */
export type EventMsg = z.output<typeof EventMsgSchema>;
/** `md` frame. */
export type MdMsg = z.output<typeof MdMsgSchema>;
/** `gateway_status` frame. */
export type GatewayStatusMsg = z.output<typeof GatewayStatusMsgSchema>;
/** `sync_result` frame. */
export type SyncResultMsg = z.output<typeof SyncResultMsgSchema>;
/** `cmd` frame. */
export type CmdMsg = z.output<typeof CmdMsgSchema>;
/** `subscribe_ack` frame. */
export type SubscribeAckMsg = z.output<typeof SubscribeAckMsgSchema>;
/** `control_ack` frame. */
export type ControlAckMsg = z.output<typeof ControlAckMsgSchema>;
/** `control_result` frame. */
export type ControlResultMsg = z.output<typeof ControlResultMsgSchema>;
/** Any gateway → client frame. */
export type GatewayMessage = z.output<typeof GatewayMessageSchema>;
/** `type` of a gateway frame. */
export type GatewayMessageType = GatewayMessage['type'];

/** A message without its envelope (`v`, `seq`): what a sender builds; `serializeFrame` adds the rest. */
export type FrameBody<M> = M extends unknown ? Omit<M, 'v' | 'seq'> : never;

/**
 * Serialises one frame: `{"v":1,"type":…,"seq":…,…body}`. The caller owns the per-connection
 * counter (`seq` starts at 1 and grows by 1 for every frame sent, whatever its type).
 */
export function serializeFrame<B extends { type: string }>(body: B, seq: number): string {
  const { type, ...rest } = body;
  return JSON.stringify({ v: PROTOCOL_VERSION, type, seq, ...rest });
}

/**
 * @internal The text of an `md` frame from already serialized parts, byte-identical to
 * `serializeFrame({ type: 'md', exchange, events }, seq)` when `exchangeJson` is
 * `JSON.stringify(exchange)` and `eventsJson` is `JSON.stringify(events)`. The gateway fans
 * the same rows out to many connections whose frames differ only by `seq`, so it serializes
 * the rows once and only the envelope per connection. Keep in step with `serializeFrame`.
 */
export function serializeMdFrame(seq: number, exchangeJson: string, eventsJson: string): string {
  return `{"v":${PROTOCOL_VERSION},"type":"md","seq":${seq},"exchange":${exchangeJson},"events":${eventsJson}}`;
}

/** Body of an `error` frame from a failure (or any code and reason); `fatal` from `PROTOCOL_ERROR_FATAL` unless given. */
export function errorBody(e: { code: ProtocolErrorCode; reason: string; reqId?: string; refSeq?: number; fatal?: boolean }): FrameBody<ErrorMsg> {
  const body: FrameBody<ErrorMsg> = { type: 'error', code: e.code, reason: e.reason };
  if (e.reqId !== undefined) body.reqId = e.reqId;
  if (e.refSeq !== undefined) body.refSeq = e.refSeq;
  const fatal = e.fatal ?? PROTOCOL_ERROR_FATAL[e.code] ?? false;
  if (fatal) body.fatal = true;
  return body;
}

// ------------------------------------------------------------------ parsing

/** What a WebSocket library hands over: text, or bytes (ws gives a Buffer, an ArrayBuffer or fragments). */
export type RawFrame = string | Uint8Array | ArrayBuffer | readonly Uint8Array[];

/** A frame refused at the edge. */
export interface ParseFailure {
  ok: false;
  code: ProtocolErrorCode;
  /** Readable reason; for `InvalidFields`, `path: message` items separated by `; `. At most 512 characters. */
  reason: string;
  /** The frame's `reqId`, when it could be read (for the `error` frame). */
  reqId?: string;
  /** The frame's `seq`, when it could be read (for the `error` frame and the sequence check). */
  refSeq?: number;
  /** True when the connection must be closed (close code = `code`). */
  fatal: boolean;
}
/** Outcome of parsing one frame. */
export type ParseResult<M> = { ok: true; msg: M } | ParseFailure;

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_REASON = 512;
const MAX_ISSUES = 5;

function fail(code: ProtocolErrorCode, reason: string, from?: { reqId?: string; refSeq?: number }): ParseFailure {
  const f: ParseFailure = { ok: false, code, reason: reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason, fatal: PROTOCOL_ERROR_FATAL[code] };
  if (from?.reqId !== undefined) f.reqId = from.reqId;
  if (from?.refSeq !== undefined) f.refSeq = from.refSeq;
  return f;
}

function byteLength(raw: RawFrame): number {
  if (typeof raw === 'string') return Buffer.byteLength(raw, 'utf8');
  if (raw instanceof Uint8Array || raw instanceof ArrayBuffer) return raw.byteLength;
  let n = 0;
  for (const part of raw) n += part.byteLength;
  return n;
}

function toText(raw: RawFrame): string {
  if (typeof raw === 'string') return raw;
  if (raw instanceof Uint8Array || raw instanceof ArrayBuffer) return UTF8.decode(raw);
  return UTF8.decode(Buffer.concat(raw as Uint8Array[]));
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/**
 * Depth and key check over the parsed value, iterative so that no nesting can overflow the
 * stack. JSON.parse makes `__proto__` an own property (no pollution here), but a later
 * naive merge could; refusing such keys at the edge keeps them out of the process.
 * Paths are only built on failure (a second pass), since large `md` frames hold millions
 * of values.
 */
function scan(root: object, maxDepth: number): string | undefined {
  return scanPass(root, maxDepth, false) === undefined ? undefined : scanPass(root, maxDepth, true);
}

function scanPass(root: object, maxDepth: number, withPaths: boolean): string | undefined {
  const values: unknown[] = [root];
  const depths: number[] = [1];
  const paths: string[] = [''];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    const path = withPaths ? paths.pop()! : '';
    if (v === null || typeof v !== 'object') continue;
    if (depth > maxDepth) return `${path || '(root)'}: nesting deeper than ${maxDepth}`;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (x === null || typeof x !== 'object') continue;
        values.push(x);
        depths.push(depth + 1);
        if (withPaths) paths.push(`${path}[${i}]`);
      }
    } else {
      for (const k of Object.keys(v)) {
        if (FORBIDDEN_KEYS.has(k)) return `${path ? `${path}.` : ''}${k}: key not allowed`;
        const x: unknown = (v as Record<string, unknown>)[k];
        if (x === null || typeof x !== 'object') continue;
        values.push(x);
        depths.push(depth + 1);
        if (withPaths) paths.push(path ? `${path}.${k}` : k);
      }
    }
  }
  return undefined;
}

function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? String(p) : `.${String(p)}`;
  return s === '' ? '(root)' : s;
}

/** Summarises zod issues as `path: message; …` (the first few), e.g. `price: expected a decimal string like "123.45"`. */
export function summarizeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const parts = issues.slice(0, MAX_ISSUES).map((i) => `${formatPath(i.path)}: ${i.message}`);
  if (issues.length > MAX_ISSUES) parts.push(`(${issues.length - MAX_ISSUES} more)`);
  return parts.join('; ');
}

function ownString(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

// ------------------------------------------------------------------ fast path of the hot client frames

/**
 * @internal Test switch: with `enabled` false, client frames and order events always take
 * the zod schemas, which the hand-written fast paths (`fastClientMessage` here, the event
 * encoders and grid checks of the codec) must match exactly.
 */
export const gatewayFastPaths = { enabled: true };

// Taken from the schemas themselves, so that an enum added there cannot be missed here.
const SIDES: ReadonlySet<unknown> = new Set(NewOrderMsgSchema.shape.side.options);
const ORDER_TYPES: ReadonlySet<unknown> = new Set(NewOrderMsgSchema.shape.orderType.options);
const TIFS: ReadonlySet<unknown> = new Set(NewOrderMsgSchema.shape.tif.options);

function ownKeyCount(obj: object): number {
  // for…in, like zod's unknown-key check, and without the array of Object.keys.
  let n = 0;
  for (const _ in obj) n++;
  return n;
}

/** `seq` and `reqId` of the last envelope `fastEnvelope` accepted. */
let envSeq = 0;
let envReqId: string | undefined;

/**
 * The envelope of a frame on a fast path: the depth limit allows `depth`, `v` is this
 * version, `seq` and `reqId` (if any) are valid (into `envSeq`, `envReqId`). Returns how many
 * keys the frame has besides `v`, `seq`, `reqId` and `type` (the fast paths check each of
 * them, and the count proves there is no other); -1 when the envelope is off.
 */
function fastEnvelope(obj: Record<string, unknown>, depth: number, limits: Readonly<ProtocolLimits>): number {
  if (!(limits.maxJsonDepth >= depth) || obj.v !== PROTOCOL_VERSION) return -1;
  const seq = obj.seq;
  if (!isInt(seq) || (seq as number) < 1) return -1;
  const reqId = obj.reqId;
  if (reqId !== undefined && !isWireId(reqId)) return -1;
  envSeq = seq as number;
  envReqId = reqId;
  return ownKeyCount(obj) - (reqId === undefined ? 3 : 4);
}

/**
 * @internal The client message of the hot frames (`new_order`, `cancel_order`,
 * `modify_order`, `cancel_all`, `heartbeat`) by hand-written checks, several times cheaper
 * than zod: the same object zod would build (same keys in the same order, same values), or
 * undefined whenever anything is off (another type, a bad or unknown field, a depth limit
 * the frame could exceed), and the schemas then decide and word the error. So the fast path
 * only ever accepts what the schemas accept; it never refuses. `obj` is a parsed JSON object.
 */
export function fastClientMessage(obj: Record<string, unknown>, limits: Readonly<ProtocolLimits>): ClientMessage | undefined {
  // Flat frames are depth 1 (the root object); new_order's execInstr array makes it 2.
  let keys = fastEnvelope(obj, 1, limits);
  if (keys < 0) return undefined;
  const seq = envSeq;
  const reqId = envReqId;
  const type = obj.type;
  const exchange = obj.exchange;
  const instrumentId = obj.instrumentId;
  switch (type) {
    case 'new_order': {
      const { clientId, side, orderType, tif, execInstr, price, qty } = obj;
      if (!(limits.maxJsonDepth >= 2)) return undefined;
      if (!isWireExchangeId(exchange) || !isInt(instrumentId) || !isWireId(clientId) || !SIDES.has(side) || !ORDER_TYPES.has(orderType) || !TIFS.has(tif)) return undefined;
      if (!isWireExecInstrList(execInstr) || !isWireDecimal(qty)) return undefined;
      if (price !== undefined) {
        if (!isWireDecimal(price)) return undefined;
        keys--;
      }
      if (keys !== 8) return undefined;
      const m: Record<string, unknown> = { v: PROTOCOL_VERSION, seq };
      if (reqId !== undefined) m.reqId = reqId;
      m.type = type;
      m.exchange = exchange;
      m.instrumentId = instrumentId;
      m.clientId = clientId;
      m.side = side;
      m.orderType = orderType;
      m.tif = tif;
      m.execInstr = execInstr.slice();
      if (price !== undefined) m.price = price;
      m.qty = qty;
      return m as NewOrderMsg;
    }
    case 'cancel_order': {
      const clientId = obj.clientId;
      if (keys !== 3 || !isWireExchangeId(exchange) || !isInt(instrumentId) || !isWireId(clientId)) return undefined;
      return reqId === undefined
        ? { v: PROTOCOL_VERSION, seq: seq as number, type, exchange, instrumentId: instrumentId as number, clientId }
        : { v: PROTOCOL_VERSION, seq: seq as number, reqId, type, exchange, instrumentId: instrumentId as number, clientId };
    }
    case 'cancel_all':
      if (keys !== 2 || !isWireExchangeId(exchange) || !isInt(instrumentId)) return undefined;
      return reqId === undefined
        ? { v: PROTOCOL_VERSION, seq: seq as number, type, exchange, instrumentId: instrumentId as number }
        : { v: PROTOCOL_VERSION, seq: seq as number, reqId, type, exchange, instrumentId: instrumentId as number };
    case 'modify_order': {
      const { clientId, newPrice, newQty } = obj;
      if (!isWireExchangeId(exchange) || !isInt(instrumentId) || !isWireId(clientId)) return undefined;
      if (newPrice !== undefined) {
        if (!isWireDecimal(newPrice)) return undefined;
        keys--;
      }
      if (newQty !== undefined) {
        if (!isWireDecimal(newQty)) return undefined;
        keys--;
      }
      if (keys !== 3) return undefined;
      const m: Record<string, unknown> = { v: PROTOCOL_VERSION, seq };
      if (reqId !== undefined) m.reqId = reqId;
      m.type = type;
      m.exchange = exchange;
      m.instrumentId = instrumentId;
      m.clientId = clientId;
      if (newPrice !== undefined) m.newPrice = newPrice;
      if (newQty !== undefined) m.newQty = newQty;
      return m as ModifyOrderMsg;
    }
    case 'heartbeat': {
      const ts = obj.ts;
      if (keys !== 1 || !isInt(ts) || (ts as number) < 0) return undefined;
      return reqId === undefined ? { v: PROTOCOL_VERSION, seq: seq as number, type, ts: ts as number } : { v: PROTOCOL_VERSION, seq: seq as number, reqId, type, ts: ts as number };
    }
    default:
      return undefined;
  }
}

// ------------------------------------------------------------------ hand-written forms of the order events

// Hand-written twins of the wire schemas of the order events, one per callback: each reads
// an event field by field and returns exactly what its `EVENT_WIRE_SCHEMAS` schema would
// (the schema's keys in the schema's order, the same values), or undefined on anything
// unusual (a field that is not of the plain expected kind, a value the schema refuses), for
// the schema to decide and word. The gateway encodes its events with them (`codec.ts`, where
// a decimal may still be a `Price`/`Qty`); a client checks the events it receives with them.
// Several times cheaper than zod.

/** @internal Reads one event's fields into its wire form; undefined when the schema must decide. */
export type OrderEventForm = (ev: Record<string, unknown>) => Record<string, unknown> | undefined;
/** @internal The wire string of a decimal field; undefined for a value of any other kind. */
export type DecimalReader = (x: unknown) => string | undefined;

const ACK_SCHEMA = EVENT_WIRE_SCHEMAS.onNewOrderAck.shape;
const EXEC_SCHEMA = EVENT_WIRE_SCHEMAS.onOrderExecution.shape;
const EVENT_SIDES: ReadonlySet<unknown> = new Set(ACK_SCHEMA.side.options);
const EVENT_ORDER_TYPES: ReadonlySet<unknown> = new Set(ACK_SCHEMA.orderType.options);
const EVENT_TIFS: ReadonlySet<unknown> = new Set(ACK_SCHEMA.tif.options);
const LIQUIDITIES: ReadonlySet<unknown> = new Set(EXEC_SCHEMA.liquidity.options);

function isTs(x: unknown): x is number {
  return isInt(x) && (x as number) >= 0;
}

function isRejectCode(x: unknown): x is number {
  return isInt(x) && (x as number) >= 1000 && (x as number) <= 2999;
}

function isCancelCode(x: unknown): x is number {
  return isInt(x) && (x as number) >= 3000 && (x as number) <= 3999;
}

function rejectOf(ev: Record<string, unknown>): Record<string, unknown> | undefined {
  const { exchange, clientId, rejectCode, rejectReason } = ev;
  if (!isWireExchangeId(exchange) || !isWireId(clientId) || !isRejectCode(rejectCode) || !isWireText(rejectReason)) return undefined;
  return { exchange, clientId, rejectCode, rejectReason };
}

/**
 * @internal The hand-written forms of the order events (acks, rejects, executions,
 * cancels), decimals read by `dec`.
 */
export function orderEventForms(dec: DecimalReader): ReadonlyMap<string, OrderEventForm> {
  return new Map<VenueCallbackName, OrderEventForm>([
    [
      'onNewOrderAck',
      (ev) => {
        const { exchange, clientId, exchangeId, instrumentId, side, orderType, tif, execInstr } = ev;
        if (!isWireExchangeId(exchange) || !isWireId(clientId) || !isWireVenueOrderId(exchangeId) || !isInt(instrumentId)) return undefined;
        if (!EVENT_SIDES.has(side) || !EVENT_ORDER_TYPES.has(orderType) || !EVENT_TIFS.has(tif) || !isWireExecInstrList(execInstr)) return undefined;
        const price = dec(ev.price);
        const qty = dec(ev.qty);
        const leavesQty = dec(ev.leavesQty);
        if (price === undefined || qty === undefined || leavesQty === undefined) return undefined;
        return { exchange, clientId, exchangeId, instrumentId, side, price, qty, leavesQty, orderType, tif, execInstr: execInstr.slice() };
      },
    ],
    ['onNewOrderReject', rejectOf],
    [
      'onModifyOrderAck',
      (ev) => {
        const { exchange, clientId } = ev;
        if (!isWireExchangeId(exchange) || !isWireId(clientId)) return undefined;
        const newPrice = dec(ev.newPrice);
        const newQty = dec(ev.newQty);
        const leavesQty = dec(ev.leavesQty);
        if (newPrice === undefined || newQty === undefined || leavesQty === undefined) return undefined;
        return { exchange, clientId, newPrice, newQty, leavesQty };
      },
    ],
    ['onModifyOrderReject', rejectOf],
    [
      'onCancelOrderAck',
      (ev) => {
        const { exchange, clientId } = ev;
        if (!isWireExchangeId(exchange) || !isWireId(clientId)) return undefined;
        return { exchange, clientId };
      },
    ],
    [
      'onCancelOrderReject',
      (ev) => {
        const { exchange, clientId, rejectCode, rejectReason } = ev;
        // clientId is absent for a cancel-all; the schema's transform keeps the key, undefined.
        if (!isWireExchangeId(exchange) || (clientId !== undefined && !isWireId(clientId)) || !isRejectCode(rejectCode) || !isWireText(rejectReason)) return undefined;
        return { exchange, clientId, rejectCode, rejectReason };
      },
    ],
    [
      'onCancelAllAck',
      (ev) => {
        const { exchange, instrumentId } = ev;
        if (!isWireExchangeId(exchange) || !isInt(instrumentId)) return undefined;
        return { exchange, instrumentId };
      },
    ],
    [
      'onCancelAllReject',
      (ev) => {
        const { exchange, instrumentId, rejectCode, rejectReason } = ev;
        if (!isWireExchangeId(exchange) || !isInt(instrumentId) || !isRejectCode(rejectCode) || !isWireText(rejectReason)) return undefined;
        return { exchange, instrumentId, rejectCode, rejectReason };
      },
    ],
    [
      'onOrderExecution',
      (ev) => {
        const { exchange, clientId, side, execTs, recvTs, instrumentId, liquidity } = ev;
        if (!isWireExchangeId(exchange) || !isWireId(clientId) || !EVENT_SIDES.has(side) || !isTs(execTs) || !isTs(recvTs) || !isInt(instrumentId) || !LIQUIDITIES.has(liquidity)) return undefined;
        const price = dec(ev.price);
        const fillQty = dec(ev.fillQty);
        const leavesQty = dec(ev.leavesQty);
        const fee = dec(ev.fee);
        if (price === undefined || fillQty === undefined || leavesQty === undefined || fee === undefined) return undefined;
        return { exchange, clientId, side, price, fillQty, leavesQty, execTs, recvTs, instrumentId, fee, liquidity };
      },
    ],
    [
      'onOrderCancelled',
      (ev) => {
        const { exchange, clientId, unsolicited, engineTs, recvTs, cancelCode, cancelReason } = ev;
        if (!isWireExchangeId(exchange) || !isWireId(clientId) || typeof unsolicited !== 'boolean' || !isTs(engineTs) || !isTs(recvTs) || !isCancelCode(cancelCode) || !isWireText(cancelReason)) return undefined;
        return { exchange, clientId, unsolicited, engineTs, recvTs, cancelCode, cancelReason };
      },
    ],
  ]);
}

/** @internal The order events' forms on wire payloads (decimals must be strings): what a client receives. */
export const WIRE_EVENT_FORMS = orderEventForms((x) => (isWireDecimal(x) ? x : undefined));

function ownKeyCountAtMost(obj: object, max: number): number {
  let n = 0;
  for (const _ in obj) if (++n > max) return n;
  return n;
}

/**
 * @internal The gateway message of the hot frames a client receives (`md`, `event` frames
 * of the order events, `heartbeat`) by hand-written checks: the same object the schemas would
 * build (same keys in the same order, same values), or undefined whenever anything is off
 * or unusual (another type or callback, a bad field, any key the schema does not know, a
 * depth limit the frame could exceed), and the schemas then decide. So, as on the
 * gateway's side, the fast path only ever accepts what the schemas accept.
 */
export function fastGatewayMessage(obj: Record<string, unknown>, limits: Readonly<ProtocolLimits>): GatewayMessage | undefined {
  // The root is depth 1, an event's payload or md's rows 2, execInstr or a row 3.
  const keys = fastEnvelope(obj, 3, limits);
  if (keys < 0) return undefined;
  const seq = envSeq;
  const reqId = envReqId;
  const type = obj.type;
  if (type === 'event') {
    const { eventSeq, cb, ev } = obj;
    if (keys !== 3 || !isInt(eventSeq) || (eventSeq as number) < 1 || typeof cb !== 'string') return undefined;
    if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) return undefined;
    const form = WIRE_EVENT_FORMS.get(cb);
    if (form === undefined) return undefined;
    const w = form(ev as Record<string, unknown>);
    if (w === undefined) return undefined;
    // Only the schema's keys: an unknown one (dropped by the schema) could hide a forbidden
    // key or a nesting over the limit, which the schemas' path refuses. (A key the form
    // returns as undefined, cancel-all's clientId, is not in the payload.)
    let known = 0;
    for (const k in w) if (w[k] !== undefined) known++;
    if (ownKeyCountAtMost(ev, known) !== known) return undefined;
    return (reqId === undefined ? { v: PROTOCOL_VERSION, seq, type, eventSeq, cb, ev: w } : { v: PROTOCOL_VERSION, seq, reqId, type, eventSeq, cb, ev: w }) as unknown as GatewayMessage;
  }
  if (type === 'md') {
    const { exchange, events } = obj;
    if (keys !== 2 || !isWireExchangeId(exchange) || !Array.isArray(events) || events.length < 1 || events.length > MAX_MD_ROWS) return undefined;
    // Nine columns exactly: appended ones (allowed, ignored) could nest deeper than the limit.
    for (let i = 0; i < events.length; i++) {
      const r: unknown = events[i];
      if (!isMdRow(r) || r.length !== 9) return undefined;
    }
    return (reqId === undefined ? { v: PROTOCOL_VERSION, seq, type, exchange, events } : { v: PROTOCOL_VERSION, seq, reqId, type, exchange, events }) as GatewayMessage;
  }
  if (type === 'heartbeat') {
    const ts = obj.ts;
    if (keys !== 1 || !isInt(ts) || (ts as number) < 0) return undefined;
    return (reqId === undefined ? { v: PROTOCOL_VERSION, seq, type, ts } : { v: PROTOCOL_VERSION, seq, reqId, type, ts }) as GatewayMessage;
  }
  return undefined;
}

function parseFrame<M>(
  raw: RawFrame,
  limits: Readonly<ProtocolLimits>,
  schemas: Readonly<Record<string, z.ZodType>>,
  peer: string,
  fast?: (obj: Record<string, unknown>, limits: Readonly<ProtocolLimits>) => M | undefined,
): ParseResult<M> {
  let from: { reqId?: string; refSeq?: number } | undefined;
  try {
    if (typeof raw !== 'string' && !(raw instanceof Uint8Array) && !(raw instanceof ArrayBuffer) && !Array.isArray(raw)) {
      return fail(ProtocolErrorCode.MalformedJson, `frame is ${kindOf(raw)}, not text or bytes`);
    }
    const bytes = byteLength(raw);
    if (bytes > limits.maxFrameBytes) return fail(ProtocolErrorCode.FrameTooLarge, `frame of ${bytes} bytes exceeds maxFrameBytes ${limits.maxFrameBytes}`);
    let text: string;
    try {
      text = toText(raw);
    } catch {
      return fail(ProtocolErrorCode.MalformedJson, 'frame is not valid UTF-8');
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return fail(ProtocolErrorCode.MalformedJson, `not valid JSON: ${(err as Error).message}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return fail(ProtocolErrorCode.NotAnObject, `frame is ${kindOf(value)}, not a JSON object`);
    }
    const obj = value as Record<string, unknown>;
    if (fast !== undefined && gatewayFastPaths.enabled) {
      const msg = fast(obj, limits);
      if (msg !== undefined) return { ok: true, msg };
    }
    // Read reqId and seq before full validation so that every error can point at its frame.
    from = {};
    const reqId = ownString(obj, 'reqId');
    if (ReqId.safeParse(reqId).success) from.reqId = reqId as string;
    const seq = ownString(obj, 'seq');
    if (Seq.safeParse(seq).success) from.refSeq = seq as number;

    const bad = scan(obj, limits.maxJsonDepth);
    if (bad !== undefined) return fail(ProtocolErrorCode.InvalidFields, bad, from);
    const v = ownString(obj, 'v');
    // A missing `v` is a malformed frame; a different one is a peer that cannot be served.
    if (v === undefined) return fail(ProtocolErrorCode.InvalidFields, `v: missing (this ${peer} speaks v${PROTOCOL_VERSION})`, from);
    if (v !== PROTOCOL_VERSION) {
      return fail(ProtocolErrorCode.UnsupportedVersion, `protocol version ${JSON.stringify(v)} is not supported; this ${peer} speaks v${PROTOCOL_VERSION}`, from);
    }
    const type = ownString(obj, 'type');
    if (typeof type !== 'string') return fail(ProtocolErrorCode.UnknownType, type === undefined ? 'type is missing' : `type is ${kindOf(type)}, not a string`, from);
    const schema = Object.hasOwn(schemas, type) ? schemas[type] : undefined;
    if (schema === undefined) {
      return fail(ProtocolErrorCode.UnknownType, `unknown message type ${JSON.stringify(type.length > 40 ? `${type.slice(0, 40)}…` : type)}`, from);
    }
    const r = schema.safeParse(obj);
    if (!r.success) return fail(ProtocolErrorCode.InvalidFields, `${type}: ${summarizeIssues(r.error.issues)}`, from);
    return { ok: true, msg: r.data as M };
  } catch (err) {
    // Nothing above should throw; this keeps the promise of the signature if a library does.
    return fail(ProtocolErrorCode.InternalError, `frame could not be processed: ${err instanceof Error ? err.message : String(err)}`, from);
  }
}

/**
 * Parses and validates one client → gateway frame. Never throws. Checks, in order: size
 * (`FrameTooLarge`, fatal), UTF-8 and JSON (`MalformedJson`), object (`NotAnObject`), nesting
 * depth and forbidden keys `__proto__`/`constructor`/`prototype` (`InvalidFields`), `v`
 * (missing: `InvalidFields`; another version: `UnsupportedVersion`, fatal), `type`
 * (`UnknownType`), then the message's schema, which
 * also refuses unknown fields (`InvalidFields`). Sequence, login state and rates are the
 * caller's (see `FrameGuard`).
 * @param limits the gateway's limits; default `DEFAULT_LIMITS`.
 */
export function parseClientFrame(raw: RawFrame, limits: Readonly<ProtocolLimits> = DEFAULT_LIMITS): ParseResult<ClientMessage> {
  return parseFrame<ClientMessage>(raw, limits, CLIENT_MESSAGE_SCHEMAS, 'gateway', fastClientMessage);
}

/**
 * Parses and validates one gateway → client frame, for clients. Never throws. Same checks
 * as `parseClientFrame`, except that unknown fields are dropped rather than refused.
 * `event` payloads are validated (decimals stay strings; `decodeEvent` revives them).
 * @param limits the client's limits; default `DEFAULT_CLIENT_LIMITS`.
 */
export function parseGatewayFrame(raw: RawFrame, limits: Readonly<ProtocolLimits> = DEFAULT_CLIENT_LIMITS): ParseResult<GatewayMessage> {
  return parseFrame<GatewayMessage>(raw, limits, GATEWAY_MESSAGE_SCHEMAS, 'client', fastGatewayMessage);
}
