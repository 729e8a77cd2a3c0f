/**
 * Conversions between the kernel's objects and the wire forms of `protocol.ts`:
 * callback events (`Price`/`Qty` ↔ decimal strings), normalized market events
 * (`MdEvent` ↔ compact arrays), venue requests (`VenueRequest` ↔ request frames) and
 * instruments (`Instrument` → `InstrumentSpec`).
 *
 * Requests travel without their grid values (`priceTick`, `qtyLots`): the gateway
 * recomputes them from its own instrument in `decodeRequest`, so a client can never put an
 * order on a grid the venue does not have, and a client in another language does not need
 * to know the kernel's integer representation.
 * @module
 */
import { RejectCode } from '../api/codes.js';
import { Decimal, DecimalValue, Price, Qty, parsePrice, parseQty } from '../api/decimal.js';
import { ExecInstr, OrderType, RequestType, TimeInForce } from '../api/enums.js';
import type { StrategyEventMap } from '../api/events.js';
import type { Instrument, InstrumentSpec } from '../api/instrument.js';
import { MdType, type MdEvent } from '../data/events.js';
import type { VenueCancelAll, VenueCancelOrder, VenueEvent, VenueFetch, VenueModifyOrder, VenueNewOrder, VenueRequest } from '../core/venue.js';
import {
  DecimalString,
  EVENT_WIRE_SCHEMAS,
  PROTOCOL_VERSION,
  ProtocolErrorCode,
  VENUE_CALLBACKS,
  defineEventSchemas,
  gatewayFastPaths,
  isWireDecimal,
  isWireExchangeId,
  isWireExecInstrList,
  isWireId,
  isWireText,
  isWireVenueOrderId,
  orderEventForms,
  WIRE_EVENT_FORMS,
  serializeFrame,
  summarizeIssues,
  type CancelAllMsg,
  type CancelOrderMsg,
  type EventCallback,
  type EventMsg,
  type FetchMsg,
  type FrameBody,
  type MdRow,
  type ModifyOrderMsg,
  type NewOrderMsg,
  type RequestMsg,
  type VenueCallbackName,
  type WireEventMap,
} from './protocol.js';

/** A wire payload that does not fit its schema (or a callback without a wire form). */
export class ProtocolError extends Error {
  constructor(
    /** The error code an `error` frame would carry (`InvalidFields` for bad payloads). */
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

// ------------------------------------------------------------------ events

const PriceFromString = DecimalString.transform((s) => Price.of(s));
const QtyFromString = DecimalString.transform((s) => Qty.of(s));

/** Decoding schemas: the wire schemas with decimal strings turned into `Price`/`Qty`. */
export const EVENT_DECODE_SCHEMAS = defineEventSchemas(PriceFromString, QtyFromString);

// Compile-time proof that a decoded event is exactly the API's event type, both ways: a
// field added to `events.ts` but not to the schemas (or the reverse) fails the type check.
type Decoded = { [K in EventCallback]: ReturnType<(typeof EVENT_DECODE_SCHEMAS)[K]['parse']> };
type SameAsApi = { [K in EventCallback]: [Decoded[K]] extends [StrategyEventMap[K]] ? ([StrategyEventMap[K]] extends [Decoded[K]] ? true : false) : false };
const decodedMatchesApi: false extends SameAsApi[EventCallback] ? never : true = true;
void decodedMatchesApi;

const VENUE_CALLBACK_SET: ReadonlySet<string> = new Set(VENUE_CALLBACKS);

/** True for the callbacks that travel in `event` frames. */
export function isVenueCallback(cb: string): cb is VenueCallbackName {
  return VENUE_CALLBACK_SET.has(cb);
}

/** Plain JSON form of a value: decimals (this module's or another copy's) as canonical strings, undefined fields dropped. */
function toWire(v: unknown): unknown {
  if (v instanceof DecimalValue) return v.toString();
  if (Array.isArray(v)) return v.map(toWire);
  if (v !== null && typeof v === 'object') {
    if (Decimal.isDecimal(v)) return (v as Decimal).toFixed();
    const d = (v as { d?: unknown }).d;
    if (Decimal.isDecimal(d)) return (d as Decimal).toFixed();
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toWire(x);
    return out;
  }
  return v;
}

function schemaOf<T>(schemas: Record<string, T>, cb: string): T {
  if (!Object.hasOwn(schemas, cb)) throw new ProtocolError(ProtocolErrorCode.InvalidFields, `callback ${JSON.stringify(cb)} has no wire form`);
  return schemas[cb];
}

/**
 * The wire payload of one callback's event: `Price`/`Qty` as decimal strings, timestamps
 * as they are (integer µs), absent optional fields left out. Validated against the wire
 * schema, so a venue bug (a NaN timestamp, an unknown side) is caught at the sender.
 * @throws ProtocolError (`InvalidFields`) when the event does not fit the schema.
 */
export function encodeEvent<K extends EventCallback>(cb: K, ev: StrategyEventMap[K]): WireEventMap[K] {
  if (gatewayFastPaths.enabled) {
    const w = fastEncode(cb, ev);
    if (w !== undefined) return w as WireEventMap[K];
  }
  return encodeEventBySchema(cb, ev);
}

/**
 * @internal `encodeEvent` through the wire schema only, without the hand-written encoders
 * of the order events: the reference those must match (tests).
 */
export function encodeEventBySchema<K extends EventCallback>(cb: K, ev: StrategyEventMap[K]): WireEventMap[K] {
  const schema = schemaOf(EVENT_WIRE_SCHEMAS, cb) as (typeof EVENT_WIRE_SCHEMAS)[EventCallback];
  const r = schema.safeParse(toWire(ev));
  if (!r.success) throw new ProtocolError(ProtocolErrorCode.InvalidFields, `${cb}: ${summarizeIssues(r.error.issues)}`);
  return r.data as WireEventMap[K];
}

/**
 * The API event of one callback from its wire payload, with `Price`/`Qty` revived. A
 * payload that came through `parseGatewayFrame` always decodes.
 * @throws ProtocolError (`InvalidFields`) when the payload does not fit the schema.
 */
export function decodeEvent<K extends EventCallback>(cb: K, payload: unknown): StrategyEventMap[K] {
  if (gatewayFastPaths.enabled) {
    const ev = fastDecode(cb, payload);
    if (ev !== undefined) return ev as unknown as StrategyEventMap[K];
  }
  return decodeEventBySchema(cb, payload);
}

/**
 * @internal `decodeEvent` through the decoding schema only, without the hand-written path of
 * the order events: the reference that one must match (tests).
 */
export function decodeEventBySchema<K extends EventCallback>(cb: K, payload: unknown): StrategyEventMap[K] {
  const schema = schemaOf(EVENT_DECODE_SCHEMAS, cb) as (typeof EVENT_DECODE_SCHEMAS)[EventCallback];
  const r = schema.safeParse(payload);
  if (!r.success) throw new ProtocolError(ProtocolErrorCode.InvalidFields, `${cb}: ${summarizeIssues(r.error.issues)}`);
  return r.data as StrategyEventMap[K];
}

/**
 * Body of the `event` frame for one venue event (the sender adds `v` and `seq`).
 * @param eventSeq the strategy's event number (≥ 1), persistent across reconnects.
 * @throws ProtocolError when `cb` does not travel in event frames or the event is invalid.
 */
export function eventBody<K extends VenueCallbackName>(eventSeq: number, cb: K, ev: StrategyEventMap[K]): FrameBody<EventMsg> {
  if (!isVenueCallback(cb)) throw new ProtocolError(ProtocolErrorCode.InvalidFields, `callback ${cb} is not sent in event frames`);
  return { type: 'event', eventSeq, cb, ev: encodeEvent(cb, ev) } as FrameBody<EventMsg>;
}

/**
 * The text of one whole `event` frame: byte for byte `serializeFrame(eventBody(eventSeq,
 * cb, ev), seq)`, built without the intermediate body for the order events (the gateway's
 * hot path: one per ack, fill, cancel).
 * @param seq the connection's frame number of this frame.
 * @throws ProtocolError like `eventBody`.
 */
export function eventFrame<K extends VenueCallbackName>(seq: number, eventSeq: number, cb: K, ev: StrategyEventMap[K], evJson?: string): string {
  // Safe integers print the same through a template as through JSON.stringify.
  if (gatewayFastPaths.enabled && Number.isSafeInteger(seq) && Number.isSafeInteger(eventSeq)) {
    const json = evJson ?? eventJson(cb, ev);
    if (json !== undefined) return `{"v":${PROTOCOL_VERSION},"type":"event","seq":${seq},"eventSeq":${eventSeq},"cb":"${cb}","ev":${json}}`;
  }
  return serializeFrame(eventBody(eventSeq, cb, ev), seq);
}

/**
 * The JSON of an order event's wire form from its hand-written encoder (what `eventFrame`
 * puts under `ev`); undefined when there is none or it declines. For the order events it is
 * the same text as `JSON.stringify(ev)`, so the gateway encodes an event once for the store
 * and the frame (`OrderStore.recordEvent`'s `json`).
 */
export function eventJson(cb: string, ev: unknown): string | undefined {
  if (!gatewayFastPaths.enabled) return undefined;
  const w = fastEncode(cb, ev);
  return w === undefined ? undefined : JSON.stringify(w);
}

// ------------------------------------------------------------------ fast encoders of the order events

// The hand-written forms of the order events (`orderEventForms`, protocol.ts) encode them
// when they can: exactly what `encodeEventBySchema` gives, several times cheaper than toWire
// + zod. On anything unusual they decline, and the schema decides, so an invalid event
// still throws the schema's message.

type EventFields = Record<string, unknown>;

/** The wire string of a decimal field as toWire + `DecimalString` would give it; undefined for any other kind of value. */
function wireDecimal(x: unknown): string | undefined {
  const s = x instanceof DecimalValue ? x.toString() : x;
  return isWireDecimal(s) ? s : undefined;
}

/**
 * Whether the encoders may read `ev` field by field: an object that toWire would also
 * treat field by field (not a decimal of any copy, which it turns into a string whole).
 */
function isPlainEvent(ev: unknown): ev is EventFields {
  return typeof ev === 'object' && ev !== null && (ev as { d?: unknown }).d === undefined && !(ev instanceof DecimalValue) && !Decimal.isDecimal(ev);
}

const FAST_ENCODERS = orderEventForms(wireDecimal);

// The decoding schemas turn these decimal fields into `Price` (prices and fees) or `Qty`.
const PRICE_FIELDS: ReadonlySet<string> = new Set(['price', 'newPrice', 'fee']);
const QTY_FIELDS: ReadonlySet<string> = new Set(['qty', 'newQty', 'leavesQty', 'fillQty']);

/**
 * The API event of an order event's wire payload by its hand-written form, decimals revived:
 * exactly what `decodeEventBySchema` gives; undefined when there is no form or it declines
 * (then the schema decides). Decimals must be strings, as the schema wants them.
 */
function fastDecode(cb: string, payload: unknown): Record<string, unknown> | undefined {
  const form = WIRE_EVENT_FORMS.get(cb);
  if (form === undefined || typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const w = form(payload as Record<string, unknown>);
  if (w === undefined) return undefined;
  for (const k in w) {
    if (PRICE_FIELDS.has(k)) w[k] = Price.of(w[k] as string);
    else if (QTY_FIELDS.has(k)) w[k] = Qty.of(w[k] as string);
  }
  return w;
}

/** The wire form of an order event by its hand-written encoder; undefined when there is none or it declines. */
function fastEncode(cb: string, ev: unknown): Record<string, unknown> | undefined {
  const encode = FAST_ENCODERS.get(cb);
  return encode !== undefined && isPlainEvent(ev) ? encode(ev) : undefined;
}

// ------------------------------------------------------------------ market data

/** Converts market events to wire rows `[type, instrumentId, exchTs, localTs, side, orderId, priceTick, qty, status]`. */
export function encodeMd(events: readonly MdEvent[]): MdRow[] {
  const rows: MdRow[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    rows[i] = [e.type, e.instrumentId, e.exchTs, e.localTs, e.side, e.orderId, e.priceTick, e.qty, e.status];
  }
  return rows;
}

const KNOWN_MD_TYPES: ReadonlySet<number> = new Set(Object.values(MdType));

/**
 * Rebuilds market events from wire rows that passed `parseGatewayFrame` (no validation
 * here: md is the hot path). Rows of an unknown `MdType` are skipped and extra trailing
 * columns ignored, as the versioning policy asks of clients.
 */
export function decodeMd(rows: ReadonlyArray<readonly [number, number, number, number, number, number, number, number, number, ...unknown[]]>): MdEvent[] {
  const out: MdEvent[] = [];
  for (const r of rows) {
    if (!KNOWN_MD_TYPES.has(r[0])) continue;
    out.push({
      type: r[0] as MdType,
      instrumentId: r[1],
      exchTs: r[2],
      localTs: r[3],
      side: r[4] as MdEvent['side'],
      orderId: r[5],
      priceTick: r[6],
      qty: r[7],
      status: r[8],
    });
  }
  return out;
}

// ------------------------------------------------------------------ instruments

/** The wire form of an instrument (for `login_ack`); `makeInstrument` rebuilds it exactly. */
export function instrumentToSpec(inst: Instrument): InstrumentSpec {
  return {
    instrumentId: inst.instrumentId,
    exchange: inst.exchange,
    name: inst.name,
    type: inst.type,
    tickSize: inst.tickSize.toString(),
    lotSize: inst.lotSize.toString(),
    minQty: inst.minQty.toString(),
    baseCurrency: inst.baseCurrency,
    quoteCurrency: inst.quoteCurrency,
    multiplier: inst.multiplier,
  };
}

// ------------------------------------------------------------------ requests

/** A request frame without its envelope. */
export type RequestBody = FrameBody<RequestMsg>;
/** Request frame body by `VenueRequest` type. */
export interface RequestBodyFor {
  NewOrder: FrameBody<NewOrderMsg>;
  ModifyOrder: FrameBody<ModifyOrderMsg>;
  CancelOrder: FrameBody<CancelOrderMsg>;
  CancelAll: FrameBody<CancelAllMsg>;
  Fetch: FrameBody<FetchMsg>;
}
/** `VenueRequest` by request frame type. */
export interface VenueRequestFor {
  new_order: VenueNewOrder;
  modify_order: VenueModifyOrder;
  cancel_order: VenueCancelOrder;
  cancel_all: VenueCancelAll;
  fetch: VenueFetch;
}

/**
 * The request frame body of a validated venue request (the sender adds `v`, `seq` and
 * optionally `reqId`). The strategy is not sent: it is the connection's login. Grid values
 * are not sent either. A market order's price is left out; a modify always carries both
 * `newPrice` and `newQty` (the kernel's modify has both).
 * @param exchange the venue the request is for (a `VenueRequest` does not name it).
 */
export function encodeRequest<R extends VenueRequest>(exchange: string, req: R): RequestBodyFor[R['type']] {
  return encodeAny(exchange, req) as RequestBodyFor[R['type']];
}

function encodeAny(exchange: string, req: VenueRequest): RequestBody {
  switch (req.type) {
    case 'NewOrder': {
      const body: FrameBody<NewOrderMsg> = {
        type: 'new_order',
        exchange,
        instrumentId: req.instrumentId,
        clientId: req.clientId,
        side: req.side,
        orderType: req.orderType,
        tif: req.tif,
        execInstr: [...req.execInstr],
        qty: req.qty.toString(),
      };
      if (req.orderType !== OrderType.Market) body.price = req.price.toString();
      return body;
    }
    case 'ModifyOrder':
      return { type: 'modify_order', exchange, instrumentId: req.instrumentId, clientId: req.clientId, newPrice: req.newPrice.toString(), newQty: req.newQty.toString() };
    case 'CancelOrder':
      return { type: 'cancel_order', exchange, instrumentId: req.instrumentId, clientId: req.clientId };
    case 'CancelAll':
      return { type: 'cancel_all', exchange, instrumentId: req.instrumentId };
    case 'Fetch': {
      const body: FrameBody<FetchMsg> = { type: 'fetch', exchange, what: req.what };
      if (req.instrumentId !== undefined) body.instrumentId = req.instrumentId;
      if (req.coin !== undefined) body.coin = req.coin;
      if (req.clientId !== undefined) body.clientId = req.clientId;
      return body;
    }
  }
}

/** What `decodeRequest` needs from the gateway besides the frame. */
export interface DecodeRequestContext {
  /** Login name of the connection; becomes `VenueRequest.strategy`. */
  strategy: string;
  /**
   * The venue's instrument named by the frame's `exchange` and `instrumentId`, looked up
   * by the gateway; undefined when the venue does not list it. Needed by `new_order`,
   * `modify_order`, `cancel_all` and fetches that name an instrument (else
   * `UnknownInstrument`); ignored by `cancel_order`.
   */
  instrument?: Instrument;
  /**
   * `modify_order` only: the order's current price and qty as the gateway recorded them,
   * to fill an absent `newPrice`/`newQty` (and to refuse a modify that changes nothing).
   */
  order?: { price: Price; qty: Qty };
}

/** A request the gateway refuses: the `RejectCode` and reason of its reject event (same shape as the kernel's validation `Rejection`). */
export interface RequestRejection {
  ok: false;
  code: RejectCode;
  /** Names the offending value, e.g. `price 100.255 is not on the tick grid 0.01 of sim:equity:abc`. */
  reason: string;
}
/** Outcome of `decodeRequest`: the venue request, or a refusal (same shape as the kernel's `ValidationResult`). */
export type DecodeRequestResult<T> = { ok: true; request: T } | RequestRejection;

type Rejection = RequestRejection;

function reject(code: RejectCode, reason: string): Rejection {
  return { ok: false, code, reason };
}

function isRejection(v: unknown): v is Rejection {
  return typeof v === 'object' && v !== null && (v as Rejection).ok === false;
}

function checkInstrument(msg: { exchange: string; instrumentId?: number }, inst: Instrument | undefined): Instrument | Rejection {
  if (inst === undefined || inst.exchange !== msg.exchange || inst.instrumentId !== msg.instrumentId) {
    return reject(RejectCode.UnknownInstrument, `unknown instrument ${String(msg.instrumentId)} on ${msg.exchange}`);
  }
  return inst;
}

// ---- exact grid arithmetic in doubles (the common case of checkPrice / checkQty)
//
// decimal.js's mod and div dominate the cost of decoding an order. A decimal string of at
// most 15 digits is an integer number of units of 10^-scale, exact in a double; brought to
// a common scale, a price (qty) and a tick (lot) size that both stay safe integers compare,
// divide and take a remainder exactly, so the answer is the one decimal.js gives. Anything
// else (more digits, a sign, an exponent, an off-grid or too small value, a grid of more
// digits) goes the decimal.js way, which also words every refusal.

/** 10^0 … 10^15, all exact doubles. */
const POW10 = Array.from({ length: 16 }, (_, i) => Number(`1e${i}`));
/** Scale of the last successful `parseUnits`. */
let parsedScale = 0;

/**
 * `s` (unsigned digits with at most one inner point, at most 15 digits) as an integer
 * number of 10^-`parsedScale` units; -1 for any other string.
 */
function parseUnits(s: string): number {
  const n = s.length;
  if (n === 0 || n > 16) return -1;
  let units = 0;
  let digits = 0;
  let scale = 0;
  let point = false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      units = units * 10 + (c - 48);
      digits++;
      if (point) scale++;
    } else if (c === 46 && !point && i > 0 && i < n - 1) point = true;
    else return -1;
  }
  if (digits > 15) return -1;
  parsedScale = scale;
  return units;
}

/** A non-negative decimal as `units × 10^-scale`. */
interface Units {
  units: number;
  scale: number;
}
/** Grid values of instruments (tick and lot sizes, minimum qty) in units; null when they have no such exact form. */
const UNITS = new WeakMap<DecimalValue, Units | null>();

function unitsOf(v: DecimalValue): Units | null {
  if (!(v instanceof DecimalValue)) return null;
  let u = UNITS.get(v);
  if (u === undefined) {
    const units = parseUnits(v.toString());
    u = units < 0 ? null : { units, scale: parsedScale };
    UNITS.set(v, u);
  }
  return u;
}

/** `a` and `b` scaled to their common scale, into `scaledA`/`scaledB`; false when either is then not a safe integer (inexact). */
let scaledA = 0;
let scaledB = 0;
function toCommonScale(aUnits: number, aScale: number, b: Units): boolean {
  scaledA = aScale < b.scale ? aUnits * POW10[b.scale - aScale]! : aUnits;
  scaledB = b.scale < aScale ? b.units * POW10[aScale - b.scale]! : b.units;
  // A product past 2^53 rounds to at least 2^53, so this catches every inexact one.
  return Number.isSafeInteger(scaledA) && Number.isSafeInteger(scaledB);
}

/** How many `step`s the value `units × 10^-scale` is, when positive and exactly on the grid; -1 otherwise (or when unsure). */
function stepsOf(units: number, scale: number, step: Units | null): number {
  if (step === null || step.units <= 0 || units <= 0 || !toCommonScale(units, scale, step) || scaledA % scaledB !== 0) return -1;
  return scaledA / scaledB;
}

function fastPrice(s: string, inst: Instrument): { price: Price; ticks: number } | undefined {
  const units = parseUnits(s);
  const ticks = units < 0 ? -1 : stepsOf(units, parsedScale, unitsOf(inst.tickSize));
  // parseUnits took digits and an inner point only, all Price.of would check before new Decimal.
  return ticks < 0 ? undefined : { price: Price.of(new Decimal(s)), ticks };
}

function fastQty(s: string, inst: Instrument): { qty: Qty; lots: number } | undefined {
  const units = parseUnits(s);
  if (units < 0) return undefined;
  const scale = parsedScale;
  const min = unitsOf(inst.minQty);
  if (min === null || !toCommonScale(units, scale, min) || scaledA < scaledB) return undefined;
  const lots = stepsOf(units, scale, unitsOf(inst.lotSize));
  return lots < 0 ? undefined : { qty: Qty.of(new Decimal(s)), lots };
}

function checkPrice(s: string | undefined, inst: Instrument, what: string): { price: Price; ticks: number } | Rejection {
  if (typeof s === 'string' && gatewayFastPaths.enabled) {
    const fast = fastPrice(s, inst);
    if (fast !== undefined) return fast;
  }
  if (s === undefined) return reject(RejectCode.InvalidPrice, `${what} is missing (${inst.name})`);
  const price = parsePrice(s);
  if (price === undefined) return reject(RejectCode.InvalidPrice, `${what} '${s}' is not a decimal number`);
  if (!price.isPositive()) return reject(RejectCode.InvalidPrice, `${what} ${price} is not positive`);
  if (!price.isOnGrid(inst)) return reject(RejectCode.PriceOffTick, `${what} ${price} is not on the tick grid ${inst.tickSize} of ${inst.name}`);
  const ticks = price.toTicks(inst);
  if (!Number.isSafeInteger(ticks)) return reject(RejectCode.InvalidPrice, `${what} ${price} is too large for ${inst.name}`);
  return { price, ticks };
}

function checkQty(s: string | undefined, inst: Instrument, what: string): { qty: Qty; lots: number } | Rejection {
  if (typeof s === 'string' && gatewayFastPaths.enabled) {
    const fast = fastQty(s, inst);
    if (fast !== undefined) return fast;
  }
  if (s === undefined) return reject(RejectCode.InvalidQty, `${what} is missing`);
  const qty = parseQty(s);
  if (qty === undefined) return reject(RejectCode.InvalidQty, `${what} '${s}' is not a decimal number`);
  if (!qty.isPositive()) return reject(RejectCode.InvalidQty, `${what} ${qty} is not positive`);
  if (qty.lt(inst.minQty)) return reject(RejectCode.QtyBelowMin, `${what} ${qty} is below the minimum qty ${inst.minQty} of ${inst.name}`);
  if (!qty.isOnGrid(inst)) return reject(RejectCode.QtyOffLot, `${what} ${qty} is not a multiple of the lot size ${inst.lotSize} of ${inst.name}`);
  const lots = qty.toLots(inst);
  if (!Number.isSafeInteger(lots)) return reject(RejectCode.InvalidQty, `${what} ${qty} is too large for ${inst.name}`);
  return { qty, lots };
}

/**
 * The `VenueRequest` of a request frame (validated by `parseClientFrame`), with grid
 * values recomputed from the gateway's instrument. The gateway re-checks what depends on
 * the instrument — known instrument, price on the tick grid, qty on the lot grid and at
 * least `minQty`, PostOnly combinations, fetch fields — because a client is not trusted.
 * It does not check order state (duplicate client ids, open orders): that is the
 * gateway's order record and the venue's job.
 *
 * A refusal is not a protocol error: the gateway answers it with the request's reject
 * event (`rejectEvent`), recorded like any event, so a resent request gets the same answer.
 */
export function decodeRequest<M extends RequestBody>(msg: M, ctx: DecodeRequestContext): DecodeRequestResult<VenueRequestFor[M['type']]> {
  return decodeAny(msg, ctx) as DecodeRequestResult<VenueRequestFor[M['type']]>;
}

function decodeAny(msg: RequestBody, ctx: DecodeRequestContext): DecodeRequestResult<VenueRequest> {
  const { strategy } = ctx;
  switch (msg.type) {
    case 'new_order': {
      const inst = checkInstrument(msg, ctx.instrument);
      if (isRejection(inst)) return inst;
      // Without a Set for the usual zero or one instruction.
      const given = msg.execInstr;
      const execInstr = Array.isArray(given) && given.length < 2 ? given.slice() : [...new Set(given)];
      let price = Price.ZERO;
      let priceTick = Number.NaN;
      if (msg.orderType === OrderType.Limit) {
        const p = checkPrice(msg.price, inst, 'price');
        if (isRejection(p)) return p;
        ({ price, ticks: priceTick } = p);
      }
      const q = checkQty(msg.qty, inst, 'qty');
      if (isRejection(q)) return q;
      if (execInstr.includes(ExecInstr.PostOnly)) {
        if (msg.orderType === OrderType.Market) return reject(RejectCode.InvalidCombination, 'PostOnly cannot be combined with a Market order');
        if (msg.tif !== TimeInForce.GTC) return reject(RejectCode.InvalidCombination, `PostOnly cannot be combined with time in force ${msg.tif}`);
      }
      return {
        ok: true,
        request: {
          type: 'NewOrder',
          strategy,
          clientId: msg.clientId,
          instrumentId: inst.instrumentId,
          side: msg.side,
          orderType: msg.orderType,
          tif: msg.tif,
          execInstr,
          price,
          priceTick,
          qty: q.qty,
          qtyLots: q.lots,
        },
      };
    }
    case 'modify_order': {
      const inst = checkInstrument(msg, ctx.instrument);
      if (isRejection(inst)) return inst;
      if (msg.newPrice === undefined && msg.newQty === undefined) return reject(RejectCode.NothingToModify, `modify of order '${msg.clientId}' gives neither a new price nor a new qty`);
      const current = ctx.order;
      if (current === undefined && (msg.newPrice === undefined || msg.newQty === undefined)) {
        return reject(RejectCode.UnknownOrder, `modify of order '${msg.clientId}' leaves a field unchanged, but the gateway has no record of the order's current price and qty`);
      }
      const p = msg.newPrice !== undefined ? checkPrice(msg.newPrice, inst, 'new price') : { price: current!.price, ticks: current!.price.toTicks(inst) };
      if (isRejection(p)) return p;
      const q = msg.newQty !== undefined ? checkQty(msg.newQty, inst, 'new qty') : { qty: current!.qty, lots: current!.qty.toLots(inst) };
      if (isRejection(q)) return q;
      if (current !== undefined && p.price.eq(current.price) && q.qty.eq(current.qty)) {
        return reject(RejectCode.NothingToModify, `modify of order '${msg.clientId}' changes nothing: price ${p.price} and qty ${q.qty} are the current ones`);
      }
      return {
        ok: true,
        request: { type: 'ModifyOrder', strategy, clientId: msg.clientId, instrumentId: inst.instrumentId, newPrice: p.price, newPriceTick: p.ticks, newQty: q.qty, newQtyLots: q.lots },
      };
    }
    case 'cancel_order':
      return { ok: true, request: { type: 'CancelOrder', strategy, clientId: msg.clientId, instrumentId: msg.instrumentId } };
    case 'cancel_all': {
      const inst = checkInstrument(msg, ctx.instrument);
      if (isRejection(inst)) return inst;
      return { ok: true, request: { type: 'CancelAll', strategy, instrumentId: inst.instrumentId } };
    }
    case 'fetch': {
      const what = msg.what;
      const out: VenueFetch = { type: 'Fetch', strategy, what };
      const needsInstrument = what === RequestType.PositionInfo || what === RequestType.FundingInfo || what === RequestType.OrderStatus;
      if (needsInstrument || (what === RequestType.OrdersInfo && msg.instrumentId !== undefined)) {
        const inst = checkInstrument(msg, ctx.instrument);
        if (isRejection(inst)) return inst;
        out.instrumentId = inst.instrumentId;
      }
      if (what === RequestType.WalletInfo) {
        if (msg.coin === undefined || msg.coin.trim() === '') return reject(RejectCode.InvalidField, 'WalletInfo needs a coin');
        out.coin = msg.coin;
      }
      if (what === RequestType.OrderStatus) {
        if (msg.clientId === undefined) return reject(RejectCode.InvalidField, 'OrderStatus needs a clientId');
        out.clientId = msg.clientId;
      }
      return { ok: true, request: out };
    }
  }
}

/**
 * The reject event that answers a refused request frame, addressed to `strategy`:
 * `new_order` → onNewOrderReject, `modify_order` → onModifyOrderReject, `cancel_order` →
 * onCancelOrderReject, `cancel_all` → onCancelAllReject, `fetch` → onRequestReject (with
 * `rejectedRqstType` = `what`). The gateway sends it as an `event` frame.
 */
export function rejectEvent(strategy: string, msg: RequestBody, rejection: { code: RejectCode; reason: string }): VenueEvent {
  const { exchange } = msg;
  const rejectCode = rejection.code;
  const rejectReason = rejection.reason;
  switch (msg.type) {
    case 'new_order':
      return { strategy, cb: 'onNewOrderReject', ev: { exchange, clientId: msg.clientId, rejectCode, rejectReason } };
    case 'modify_order':
      return { strategy, cb: 'onModifyOrderReject', ev: { exchange, clientId: msg.clientId, rejectCode, rejectReason } };
    case 'cancel_order':
      return { strategy, cb: 'onCancelOrderReject', ev: { exchange, clientId: msg.clientId, rejectCode, rejectReason } };
    case 'cancel_all':
      return { strategy, cb: 'onCancelAllReject', ev: { exchange, instrumentId: msg.instrumentId, rejectCode, rejectReason } };
    case 'fetch':
      return { strategy, cb: 'onRequestReject', ev: { exchange, rejectCode, detail: rejectReason, rejectedRqstType: msg.what } };
  }
}
