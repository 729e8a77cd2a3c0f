import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RejectCode } from '../../src/api/codes.js';
import { Decimal, Price, Qty } from '../../src/api/decimal.js';
import { ExecInstr, OrderType, RequestType, Side, TimeInForce } from '../../src/api/enums.js';
import { makeInstrument } from '../../src/api/instrument.js';
import type { VenueFetch, VenueRequest } from '../../src/core/venue.js';
import { MdStatus, MdType, type MdEvent } from '../../src/data/events.js';
import {
  ProtocolError,
  EVENT_DECODE_SCHEMAS,
  decodeEvent,
  decodeEventBySchema,
  decodeMd,
  decodeRequest,
  encodeEvent,
  encodeEventBySchema,
  encodeMd,
  encodeRequest,
  eventBody,
  eventFrame,
  instrumentToSpec,
  isVenueCallback,
  rejectEvent,
  type DecodeRequestContext,
  type RequestBody,
} from '../../src/gateway/codec.js';
import {
  EVENT_CALLBACKS,
  EVENT_WIRE_SCHEMAS,
  InstrumentSpecSchema,
  ProtocolErrorCode,
  DEFAULT_CLIENT_LIMITS,
  VENUE_CALLBACKS,
  fastGatewayMessage,
  gatewayFastPaths,
  parseClientFrame,
  parseGatewayFrame,
  serializeFrame,
  type EventCallback,
  type FrameBody,
  type ModifyOrderMsg,
  type NewOrderMsg,
  type VenueCallbackName,
} from '../../src/gateway/protocol.js';
import { SeededRng } from '../../src/core/rng.js';
import { EQ, EVENT_EXAMPLES, PERP, TS, compareFastPath } from './fixtures.js';

/** Exact comparison of decoded events: decimals by value and class, everything else by ===. */
function expectSameEvent(a: unknown, b: unknown, path = 'ev'): void {
  if (a instanceof Price || a instanceof Qty) {
    expect(b, path).toBeInstanceOf(a.constructor);
    expect((b as Price).toString(), path).toBe(a.toString());
    return;
  }
  if (Array.isArray(a)) {
    expect(Array.isArray(b), path).toBe(true);
    expect((b as unknown[]).length, path).toBe(a.length);
    a.forEach((x, i) => expectSameEvent(x, (b as unknown[])[i], `${path}[${i}]`));
    return;
  }
  if (a !== null && typeof a === 'object') {
    expect(Object.keys(b as object).sort(), path).toEqual(Object.keys(a).sort());
    for (const [k, v] of Object.entries(a)) expectSameEvent(v, (b as Record<string, unknown>)[k], `${path}.${k}`);
    return;
  }
  expect(b, path).toBe(a);
}

describe('events', () => {
  it('has an example for every codec callback', () => {
    expect(Object.keys(EVENT_EXAMPLES).sort()).toEqual([...EVENT_CALLBACKS].sort());
  });

  for (const cb of EVENT_CALLBACKS) {
    it(`${cb} round-trips through JSON exactly`, () => {
      const ev = EVENT_EXAMPLES[cb];
      const wire = encodeEvent(cb, ev as never);
      const text = JSON.stringify(wire);
      // Decimals are strings on the wire: no float ever.
      for (const v of Object.values(ev)) if (v instanceof Price || v instanceof Qty) expect(text).toContain(`"${v.toString()}"`);
      const back = decodeEvent(cb, JSON.parse(text));
      expectSameEvent(ev, back);
    });
  }

  it('keeps cancel-all rejects without a clientId (key present, undefined)', () => {
    const wire = encodeEvent('onCancelOrderReject', EVENT_EXAMPLES.onCancelOrderReject);
    expect('clientId' in JSON.parse(JSON.stringify(wire))).toBe(false);
    const back = decodeEvent('onCancelOrderReject', JSON.parse(JSON.stringify(wire)));
    expect(Object.hasOwn(back, 'clientId')).toBe(true);
    expect(back.clientId).toBeUndefined();
  });

  it('revives decimals exactly, beyond float precision', () => {
    const ev = { ...EVENT_EXAMPLES.onWalletInfo, totalBalance: Qty.of('123456789012345678.123456789012345678') };
    const back = decodeEvent('onWalletInfo', JSON.parse(JSON.stringify(encodeEvent('onWalletInfo', ev))));
    expect(back.totalBalance.toString()).toBe('123456789012345678.123456789012345678');
  });

  it('encodes decimals of another module copy (a strategy bundling its own tradeloop)', () => {
    const foreign = { d: Price.of('1.5').d };
    const wire = encodeEvent('onCancelAllAck', { exchange: 'SIM', instrumentId: 1 });
    expect(wire).toEqual({ exchange: 'SIM', instrumentId: 1 });
    const ack = encodeEvent('onBestBidLevelUpdate', { ...EVENT_EXAMPLES.onBestBidLevelUpdate, price: foreign as unknown as Price });
    expect(ack.price).toBe('1.5');
  });

  it('refuses invalid events at both ends with ProtocolError', () => {
    const bad = { ...EVENT_EXAMPLES.onOrderExecution, execTs: Number.NaN };
    expect(() => encodeEvent('onOrderExecution', bad)).toThrow(ProtocolError);
    try {
      encodeEvent('onOrderExecution', bad);
    } catch (e) {
      expect((e as ProtocolError).code).toBe(ProtocolErrorCode.InvalidFields);
      expect((e as Error).message).toContain('execTs');
    }
    expect(() => decodeEvent('onNewOrderAck', { exchange: 'SIM' })).toThrow(/onNewOrderAck: clientId/);
    expect(() => decodeEvent('onStart' as EventCallback, {})).toThrow(/no wire form/);
    expect(() => decodeEvent('__proto__' as EventCallback, {})).toThrow(ProtocolError);
    expect(() => decodeEvent('onWalletInfo', { ...encodeEvent('onWalletInfo', EVENT_EXAMPLES.onWalletInfo), totalBalance: 1.5 })).toThrow(/totalBalance/);
  });

  it('accepts reject and cancel codes it does not know yet, in range', () => {
    const wire = { ...encodeEvent('onNewOrderReject', EVENT_EXAMPLES.onNewOrderReject), rejectCode: 2077 };
    expect(decodeEvent('onNewOrderReject', wire).rejectCode).toBe(2077);
    expect(() => decodeEvent('onNewOrderReject', { ...wire, rejectCode: 999 })).toThrow(ProtocolError);
    expect(() => decodeEvent('onOrderCancelled', { ...encodeEvent('onOrderCancelled', EVENT_EXAMPLES.onOrderCancelled), cancelCode: 1000 })).toThrow(ProtocolError);
  });

  it('builds event frames for venue callbacks only, which the client parses and decodes back', () => {
    VENUE_CALLBACKS.forEach((cb, i) => {
      const text = serializeFrame(eventBody(i + 1, cb, EVENT_EXAMPLES[cb] as never), 10 + i);
      const r = parseGatewayFrame(text);
      if (!r.ok || r.msg.type !== 'event') throw new Error(`${cb}: ${JSON.stringify(r)}`);
      expect(r.msg.eventSeq).toBe(i + 1);
      expectSameEvent(EVENT_EXAMPLES[cb], decodeEvent(r.msg.cb, r.msg.ev));
    });
    expect(isVenueCallback('onNewOrderAck')).toBe(true);
    expect(isVenueCallback('onPublicTrade')).toBe(false);
    expect(() => eventBody(1, 'onPublicTrade' as never, EVENT_EXAMPLES.onPublicTrade as never)).toThrow(/not sent in event frames/);
  });
});

describe('market data', () => {
  const events: MdEvent[] = [
    { type: MdType.Status, instrumentId: 1, exchTs: TS, localTs: TS + 5, side: 0, orderId: 0, priceTick: 0, qty: 0, status: MdStatus.SnapshotStart },
    { type: MdType.Clear, instrumentId: 1, exchTs: TS, localTs: TS + 5, side: 0, orderId: 0, priceTick: 0, qty: 0, status: 0 },
    { type: MdType.OrderAdd, instrumentId: 1, exchTs: TS, localTs: TS + 5, side: 1, orderId: -3, priceTick: 10024, qty: 100, status: 0 },
    { type: MdType.LevelSet, instrumentId: 1, exchTs: TS, localTs: TS + 5, side: -1, orderId: 0, priceTick: 10026, qty: 300, status: 0 },
    { type: MdType.Status, instrumentId: 1, exchTs: TS, localTs: TS + 5, side: 0, orderId: 0, priceTick: 0, qty: 0, status: MdStatus.SnapshotEnd },
    { type: MdType.OrderCancel, instrumentId: 1, exchTs: TS + 1, localTs: TS + 6, side: 1, orderId: -3, priceTick: 10024, qty: 40, status: 0 },
    { type: MdType.OrderExec, instrumentId: 1, exchTs: TS + 2, localTs: TS + 7, side: 1, orderId: -3, priceTick: 10024, qty: 60, status: 0 },
    { type: MdType.OrderDelete, instrumentId: 1, exchTs: TS + 2, localTs: TS + 7, side: 1, orderId: 99, priceTick: 10024, qty: 0, status: 0 },
    { type: MdType.Trade, instrumentId: 1, exchTs: TS + 3, localTs: TS + 8, side: -1, orderId: 0, priceTick: 10024.5, qty: 10, status: 0 },
    { type: MdType.Status, instrumentId: 1, exchTs: TS + 4, localTs: TS + 9, side: 0, orderId: 0, priceTick: 0, qty: 0, status: MdStatus.Halted },
  ];

  it('round-trips every MdType through an md frame', () => {
    const rows = encodeMd(events);
    expect(rows[2]).toEqual([1, 1, TS, TS + 5, 1, -3, 10024, 100, 0]);
    const r = parseGatewayFrame(serializeFrame({ type: 'md', exchange: 'SIM', events: rows }, 1));
    if (!r.ok || r.msg.type !== 'md') throw new Error(JSON.stringify(r));
    expect(decodeMd(r.msg.events)).toEqual(events);
  });

  it('skips rows of unknown types and ignores extra columns', () => {
    const rows = [[42, 1, TS, TS, 0, 0, 0, 0, 0], [5, 1, TS, TS, 1, 0, 7.5, 2, 0, 'extra', 9]] as const;
    expect(decodeMd(rows as never)).toEqual([{ type: 5, instrumentId: 1, exchTs: TS, localTs: TS, side: 1, orderId: 0, priceTick: 7.5, qty: 2, status: 0 }]);
  });
});

describe('instruments', () => {
  it('turns an Instrument into a spec that rebuilds it exactly', () => {
    for (const inst of [EQ, PERP]) {
      const spec = instrumentToSpec(inst);
      expect(InstrumentSpecSchema.safeParse(JSON.parse(JSON.stringify(spec))).success).toBe(true);
      const back = makeInstrument(spec);
      expect(back).toEqual(inst);
      expect(back.minQty.toString()).toBe(inst.minQty.toString());
    }
  });
});

describe('requests', () => {
  const ctx = (over: Partial<DecodeRequestContext> = {}): DecodeRequestContext => ({ strategy: 'mm-1', instrument: EQ, ...over });
  const fetch = (f: Omit<VenueFetch, 'type' | 'strategy'>): VenueFetch => ({ type: 'Fetch', strategy: 'mm-1', ...f });

  const requests: { req: VenueRequest; inst?: typeof EQ }[] = [
    {
      req: {
        type: 'NewOrder',
        strategy: 'mm-1',
        clientId: 'mm-1-1',
        instrumentId: 1,
        side: Side.Buy,
        orderType: OrderType.Limit,
        tif: TimeInForce.GTC,
        execInstr: [ExecInstr.PostOnly],
        price: Price.of('100.25'),
        priceTick: 10025,
        qty: Qty.of('10'),
        qtyLots: 10,
      },
    },
    {
      req: {
        type: 'NewOrder',
        strategy: 'mm-1',
        clientId: 'mm-1-2',
        instrumentId: 2,
        side: Side.Sell,
        orderType: OrderType.Market,
        tif: TimeInForce.IOC,
        execInstr: [ExecInstr.ReduceOnly],
        price: Price.ZERO,
        priceTick: Number.NaN,
        qty: Qty.of('0.125'),
        qtyLots: 125,
      },
      inst: PERP,
    },
    {
      req: { type: 'ModifyOrder', strategy: 'mm-1', clientId: 'mm-1-1', instrumentId: 1, newPrice: Price.of('100.3'), newPriceTick: 10030, newQty: Qty.of('12'), newQtyLots: 12 },
    },
    { req: { type: 'CancelOrder', strategy: 'mm-1', clientId: 'mm-1-1', instrumentId: 1 } },
    { req: { type: 'CancelAll', strategy: 'mm-1', instrumentId: 1 } },
    { req: fetch({ what: RequestType.AccountInfo }) },
    { req: fetch({ what: RequestType.WalletInfo, coin: 'USD' }) },
    { req: fetch({ what: RequestType.PositionInfo, instrumentId: 2 }), inst: PERP },
    { req: fetch({ what: RequestType.FundingInfo, instrumentId: 2 }), inst: PERP },
    { req: fetch({ what: RequestType.OrderStatus, instrumentId: 1, clientId: 'mm-1-1' }) },
    { req: fetch({ what: RequestType.OrdersInfo }) },
    { req: fetch({ what: RequestType.OrdersInfo, instrumentId: 1 }) },
  ];

  for (const { req, inst } of requests) {
    const what = req.type === 'Fetch' ? `${req.what}${req.instrumentId !== undefined ? ' of an instrument' : ''}` : '';
    it(`${req.type} ${what} round-trips through a validated frame`, () => {
      const body = encodeRequest('SIM', req);
      const frame = serializeFrame({ ...body, reqId: 'r' }, 3);
      const r = parseClientFrame(frame);
      if (!r.ok) throw new Error(r.reason);
      const back = decodeRequest(r.msg as RequestBody, ctx({ instrument: inst ?? EQ }));
      expect(back).toEqual({ ok: true, request: req });
    });
  }

  it('leaves a market order price out and sends both fields of a modify', () => {
    expect(encodeRequest('SIM', requests[1].req)).not.toHaveProperty('price');
    expect(encodeRequest('SIM', requests[2].req)).toEqual({ type: 'modify_order', exchange: 'SIM', instrumentId: 1, clientId: 'mm-1-1', newPrice: '100.3', newQty: '12' });
  });

  describe('decodeRequest re-checks what depends on the instrument', () => {
    const order: FrameBody<NewOrderMsg> = { type: 'new_order', exchange: 'SIM', instrumentId: 1, clientId: 'c1', side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [], price: '100.25', qty: '10' };
    const code = (msg: RequestBody, c: DecodeRequestContext = ctx()) => {
      const r = decodeRequest(msg, c);
      return r.ok ? 'ok' : r.code;
    };

    it('new_order', () => {
      expect(code(order)).toBe('ok');
      expect(code(order, ctx({ instrument: undefined }))).toBe(RejectCode.UnknownInstrument);
      expect(code(order, ctx({ instrument: PERP }))).toBe(RejectCode.UnknownInstrument);
      expect(code({ ...order, exchange: 'OTHER' })).toBe(RejectCode.UnknownInstrument);
      expect(code({ ...order, price: undefined })).toBe(RejectCode.InvalidPrice);
      expect(code({ ...order, price: '0' })).toBe(RejectCode.InvalidPrice);
      expect(code({ ...order, price: '-1' })).toBe(RejectCode.InvalidPrice);
      expect(code({ ...order, price: '100.255' })).toBe(RejectCode.PriceOffTick);
      expect(code({ ...order, price: '1'.repeat(30) })).toBe(RejectCode.InvalidPrice);
      expect(code({ ...order, qty: '0' })).toBe(RejectCode.InvalidQty);
      expect(code({ ...order, qty: '1.5' })).toBe(RejectCode.QtyOffLot);
      expect(code({ ...order, qty: '0.005', instrumentId: 2, price: '100.5' }, ctx({ instrument: PERP }))).toBe(RejectCode.QtyBelowMin);
      expect(code({ ...order, execInstr: [ExecInstr.PostOnly], tif: TimeInForce.IOC })).toBe(RejectCode.InvalidCombination);
      expect(code({ ...order, execInstr: [ExecInstr.PostOnly], orderType: OrderType.Market })).toBe(RejectCode.InvalidCombination);
      // A market order's price is ignored, even an off-grid one.
      const m = decodeRequest({ ...order, orderType: OrderType.Market, tif: TimeInForce.IOC, price: '1.001' }, ctx());
      expect(m.ok && m.request.price.isZero() && Number.isNaN(m.request.priceTick)).toBe(true);
      // Duplicated instructions collapse.
      const d = decodeRequest({ ...order, execInstr: [ExecInstr.ReduceOnly, ExecInstr.ReduceOnly] }, ctx());
      expect(d.ok && d.request.execInstr).toEqual([ExecInstr.ReduceOnly]);
    });

    it('modify_order fills absent fields from the recorded order', () => {
      const mod: FrameBody<ModifyOrderMsg> = { type: 'modify_order', exchange: 'SIM', instrumentId: 1, clientId: 'c1' };
      const current = { price: Price.of('100.25'), qty: Qty.of('10') };
      expect(code(mod, ctx({ order: current }))).toBe(RejectCode.NothingToModify);
      expect(code({ ...mod, newQty: '12' })).toBe(RejectCode.UnknownOrder);
      const r = decodeRequest({ ...mod, newQty: '12' }, ctx({ order: current }));
      expect(r).toEqual({
        ok: true,
        request: { type: 'ModifyOrder', strategy: 'mm-1', clientId: 'c1', instrumentId: 1, newPrice: current.price, newPriceTick: 10025, newQty: Qty.of('12'), newQtyLots: 12 },
      });
      const p = decodeRequest({ ...mod, newPrice: '100.5' }, ctx({ order: current }));
      expect(p.ok && [p.request.newPriceTick, p.request.newQtyLots]).toEqual([10050, 10]);
      expect(code({ ...mod, newPrice: '100.25', newQty: '10' }, ctx({ order: current }))).toBe(RejectCode.NothingToModify);
      expect(code({ ...mod, newPrice: '100.251', newQty: '10' })).toBe(RejectCode.PriceOffTick);
      expect(code({ ...mod, newPrice: '100.25', newQty: '-3' })).toBe(RejectCode.InvalidQty);
      expect(code({ ...mod, newPrice: '100.25', newQty: '10' }, ctx({ instrument: undefined }))).toBe(RejectCode.UnknownInstrument);
    });

    it('cancel_all and fetch', () => {
      expect(code({ type: 'cancel_all', exchange: 'SIM', instrumentId: 9 })).toBe(RejectCode.UnknownInstrument);
      expect(code({ type: 'cancel_order', exchange: 'SIM', instrumentId: 9, clientId: 'c1' }, ctx({ instrument: undefined }))).toBe('ok');
      expect(code({ type: 'fetch', exchange: 'SIM', what: RequestType.WalletInfo })).toBe(RejectCode.InvalidField);
      expect(code({ type: 'fetch', exchange: 'SIM', what: RequestType.PositionInfo })).toBe(RejectCode.UnknownInstrument);
      expect(code({ type: 'fetch', exchange: 'SIM', what: RequestType.OrderStatus, instrumentId: 1 })).toBe(RejectCode.InvalidField);
      // Fields that do not apply to the query are dropped.
      const r = decodeRequest({ type: 'fetch', exchange: 'SIM', what: RequestType.AccountInfo, coin: 'USD', instrumentId: 1, clientId: 'x' }, ctx());
      expect(r).toEqual({ ok: true, request: { type: 'Fetch', strategy: 'mm-1', what: RequestType.AccountInfo } });
    });
  });

  it('answers refusals with the request reject event, which encodes', () => {
    const rej = { code: RejectCode.PriceOffTick, reason: 'off tick' };
    const cases: [RequestBody, string][] = [
      [{ type: 'new_order', exchange: 'SIM', instrumentId: 1, clientId: 'c1', side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [], price: '1', qty: '1' }, 'onNewOrderReject'],
      [{ type: 'modify_order', exchange: 'SIM', instrumentId: 1, clientId: 'c1', newQty: '2' }, 'onModifyOrderReject'],
      [{ type: 'cancel_order', exchange: 'SIM', instrumentId: 1, clientId: 'c1' }, 'onCancelOrderReject'],
      [{ type: 'cancel_all', exchange: 'SIM', instrumentId: 1 }, 'onCancelAllReject'],
      [{ type: 'fetch', exchange: 'SIM', what: RequestType.FundingInfo }, 'onRequestReject'],
    ];
    for (const [msg, cb] of cases) {
      const e = rejectEvent('mm-1', msg, rej);
      expect(e.strategy).toBe('mm-1');
      expect(e.cb).toBe(cb);
      expect(e.ev).toMatchObject({ exchange: 'SIM', rejectCode: RejectCode.PriceOffTick });
      expect(() => encodeEvent(e.cb as EventCallback, e.ev as never)).not.toThrow();
    }
    expect(rejectEvent('s', cases[4][0], rej).ev).toEqual({ exchange: 'SIM', rejectCode: RejectCode.PriceOffTick, detail: 'off tick', rejectedRqstType: RequestType.FundingInfo });
  });
});

describe('fast paths', () => {
  afterEach(() => {
    gatewayFastPaths.enabled = true;
    vi.restoreAllMocks();
  });

  /** What `f` gives with the fast paths and without them: a value, or the error it throws. */
  function both(f: () => unknown): [unknown, unknown] {
    const run = (fast: boolean): unknown => {
      gatewayFastPaths.enabled = fast;
      try {
        return { value: f() };
      } catch (e) {
        return { threw: `${(e as Error).name}: ${(e as Error).message}`, code: (e as ProtocolError).code };
      }
    };
    return [run(true), run(false)];
  }

  /** The callbacks with hand-written encoders. */
  const ORDER_EVENTS = [
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
  ] as const satisfies readonly VenueCallbackName[];

  it('encodes valid order events without the wire schema', () => {
    for (const cb of ORDER_EVENTS) {
      const spy = vi.spyOn(EVENT_WIRE_SCHEMAS[cb], 'safeParse');
      encodeEvent(cb, EVENT_EXAMPLES[cb] as never);
      eventFrame(3, 4, cb, EVENT_EXAMPLES[cb] as never);
      expect(spy, cb).not.toHaveBeenCalled();
    }
  });

  /** Values at and around every rule of the order events' fields, and of every kind toWire treats apart. */
  const VALUES: unknown[] = [
    Price.of('100.25'),
    Price.of('-0.0075'),
    Qty.of('0'),
    Qty.of('1e-40'),
    Price.of('1e40'),
    Price.of('1'.repeat(30)),
    Price.of(`1${'0'.repeat(30)}`),
    Qty.of(`0.${'0'.repeat(29)}1`),
    new Decimal('5.5'),
    { d: new Decimal('7.25') },
    '100.25',
    '-3',
    '1e5',
    '1.',
    '',
    'SIM',
    'x'.repeat(32),
    'x'.repeat(33),
    'x'.repeat(64),
    'x'.repeat(65),
    'x'.repeat(128),
    'x'.repeat(129),
    'r'.repeat(4096),
    'r'.repeat(4097),
    'a b',
    'a"b\\c',
    '\ud800',
    'é',
    'line\nbreak',
    'Buy',
    'Sell',
    'Limit',
    'Market',
    'GTC',
    'IOC',
    'FOK',
    'Maker',
    'Taker',
    'PostOnly',
    0,
    -0,
    1,
    -1,
    1.5,
    999,
    1000,
    2999,
    3000,
    3999,
    4000,
    TS,
    2 ** 53 - 1,
    2 ** 53,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    false,
    null,
    undefined,
    [],
    ['PostOnly'],
    ['PostOnly', 'PostOnly', 'ReduceOnly', 'ReduceOnly'],
    ['PostOnly', 'PostOnly', 'ReduceOnly', 'ReduceOnly', 'PostOnly'],
    ['Post'],
    [Price.of('1')],
    {},
    { a: 1 },
  ];
  const EXTRA_KEYS = ['extra', 'strategy', 'd', 'toStringTag'];
  /** Whole events of the kinds toWire does not read field by field. */
  const ODD_EVENTS: unknown[] = [null, undefined, 5, 'ev', [], [1], Price.of('1'), new Decimal(1), { d: new Decimal(1) }, { toStringTag: '[object Decimal]', exchange: 'SIM', instrumentId: 1 }];

  /** Encodes `ev` both ways, as a payload and as a whole frame: same value (keys in the same order) or the same error. */
  function compareEvent(cb: VenueCallbackName, ev: unknown, seq = 7, eventSeq = 70): void {
    const label = `${cb} ${String(JSON.stringify(ev))?.slice(0, 200)}`;
    const [fast, slow] = both(() => encodeEvent(cb, ev as never));
    expect(fast, label).toStrictEqual(slow);
    expect(JSON.stringify(fast), label).toBe(JSON.stringify(slow));
    const [fastText, slowText] = both(() => eventFrame(seq, eventSeq, cb, ev as never));
    expect(fastText, label).toStrictEqual(slowText);
    // And without the fast paths, eventFrame is exactly serializeFrame(eventBody()).
    expect(slowText, label).toStrictEqual(both(() => serializeFrame(eventBody(eventSeq, cb, ev as never), seq))[1]);
  }

  it('gives the payloads and frame texts of the schema path for mutated order events (fast-check)', () => {
    const keysOf = (cb: VenueCallbackName) => [...Object.keys(EVENT_EXAMPLES[cb]), ...EXTRA_KEYS];
    fc.assert(
      fc.property(
        fc.constantFrom(...ORDER_EVENTS),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...VALUES), fc.boolean()), { maxLength: 3 }),
        fc.boolean(),
        (cb, edits, stored) => {
          // `stored`: decimals as strings, as events come back from the store.
          const ev: Record<string, unknown> = stored ? JSON.parse(JSON.stringify(EVENT_EXAMPLES[cb])) : { ...EVENT_EXAMPLES[cb] };
          const keys = keysOf(cb);
          for (const [k, value, drop] of edits) {
            const key = keys[k % keys.length]!;
            if (drop) delete ev[key];
            else ev[key] = value;
          }
          compareEvent(cb, ev);
        },
      ),
      { seed: 20240611, numRuns: 20_000 },
    );
  });

  it('gives the schema path for every value in every field, odd events, and odd frame numbers', () => {
    for (const cb of ORDER_EVENTS) {
      const example = EVENT_EXAMPLES[cb] as unknown as Record<string, unknown>;
      compareEvent(cb, example);
      compareEvent(cb, JSON.parse(JSON.stringify(example)));
      for (const key of [...Object.keys(example), ...EXTRA_KEYS]) {
        for (const value of VALUES) compareEvent(cb, { ...example, [key]: value });
        const rest = { ...example };
        delete rest[key];
        compareEvent(cb, rest);
      }
      for (const ev of ODD_EVENTS) compareEvent(cb, ev);
      for (const n of [1, 2 ** 53 - 1, 2 ** 53, 1.5, -0, -1, Number.NaN, undefined]) {
        compareEvent(cb, example, n as number, 5);
        compareEvent(cb, example, 5, n as number);
      }
    }
    // Callbacks without a fast encoder, and those that are not sent in event frames, as before.
    for (const cb of ['onOrderStatus', 'onPublicTrade', 'onStart', '__proto__'] as VenueCallbackName[]) compareEvent(cb, (EVENT_EXAMPLES as Record<string, unknown>)[cb] ?? {});
  });

  // ---- what a client receives: event frames and their payloads

  it('decodes valid order events, and parses their frames, without the schemas', () => {
    for (const cb of ORDER_EVENTS) {
      const wire = JSON.parse(JSON.stringify(encodeEvent(cb, EVENT_EXAMPLES[cb] as never))) as unknown;
      const decode = vi.spyOn(EVENT_DECODE_SCHEMAS[cb], 'safeParse');
      expect(decodeEvent(cb, wire)).toStrictEqual(decodeEventBySchema(cb, wire));
      expect(decode, cb).toHaveBeenCalledTimes(1); // the reference call only
      const frame = eventFrame(3, 4, cb, EVENT_EXAMPLES[cb] as never);
      const obj = JSON.parse(frame) as Record<string, unknown>;
      expect(fastGatewayMessage(obj, DEFAULT_CLIENT_LIMITS), cb).toBeDefined();
    }
  });

  /** Decodes a payload both ways: the same event (keys in the same order) or the same error. */
  function compareDecode(cb: VenueCallbackName, payload: unknown): void {
    const label = `${cb} ${String(JSON.stringify(payload))?.slice(0, 200)}`;
    const [fast, slow] = both(() => decodeEvent(cb, payload));
    expect(fast, label).toStrictEqual(slow);
    expect(JSON.stringify(fast), label).toBe(JSON.stringify(slow));
  }

  /** Parses a frame text both ways: the same result; and the fast path alone accepts only what the schemas accept, as they do. */
  function compareFrame(text: string, limits = DEFAULT_CLIENT_LIMITS, tally?: { fast: number; declined: number }): void {
    compareFastPath(text, limits, parseGatewayFrame, fastGatewayMessage, tally);
  }

  it('decodes mutated wire payloads and parses their frames as the schemas do (fast-check)', () => {
    const tally = { fast: 0, declined: 0 };
    const FRAME_KEYS = ['v', 'seq', 'reqId', 'type', 'eventSeq', 'cb', 'ev', 'extra', '__proto__'];
    fc.assert(
      fc.property(
        fc.constantFrom(...ORDER_EVENTS),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...VALUES), fc.boolean()), { maxLength: 3 }),
        fc.array(fc.tuple(fc.constantFrom(...FRAME_KEYS), fc.constantFrom(...VALUES, 'event', 'heartbeat', 1, 'r-1', 'onNewOrderAck', 'onOrderStatus'), fc.boolean()), { maxLength: 2 }),
        (cb, edits, frameEdits) => {
          const ev = JSON.parse(JSON.stringify(encodeEvent(cb, EVENT_EXAMPLES[cb] as never))) as Record<string, unknown>;
          const keys = [...Object.keys(ev), ...EXTRA_KEYS, '__proto__', 'constructor'];
          for (const [k, value, drop] of edits) {
            const key = keys[k % keys.length]!;
            if (drop) delete ev[key];
            else Object.defineProperty(ev, key, { value, enumerable: true, configurable: true, writable: true });
          }
          compareDecode(cb, ev);
          const frame: Record<string, unknown> = { v: 1, seq: 9, type: 'event', eventSeq: 90, cb, ev };
          for (const [key, value, drop] of frameEdits) {
            if (drop) delete frame[key];
            else Object.defineProperty(frame, key, { value, enumerable: true, configurable: true, writable: true });
          }
          compareFrame(JSON.stringify(frame), DEFAULT_CLIENT_LIMITS, tally);
        },
      ),
      { seed: 20261204, numRuns: 20_000 },
    );
    expect(tally.fast).toBeGreaterThan(2_000);
    expect(tally.declined).toBeGreaterThan(2_000);
  });

  it('parses md frames as the schemas do: mutated rows, columns and frame keys (seeded)', () => {
    const rnd = new SeededRng(20261204);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd.next() * xs.length)]!;
    const CELLS: unknown[] = [0, 1, -1, 2, 255, 256, 1.5, -0.25, 1e21, TS, 2 ** 53, -(2 ** 53 - 1), '1', null, true, [], [1], { a: 1 }, { __proto__: 1 }, [[[[1]]]]];
    const FRAME_KEYS = ['v', 'seq', 'reqId', 'type', 'exchange', 'events', 'extra'];
    const FRAME_VALUES: unknown[] = [1, 2, 0, 'md', 'event', 'SYN', 'S Y', '', 'r-1', [], [[1, 1, 1, 1, 1, 1, 1, 1, 0]], null, {}];
    const tally = { fast: 0, declined: 0 };
    for (let n = 0; n < 6_000; n++) {
      const rows = Array.from({ length: 1 + Math.floor(rnd.next() * 5) }, (_, i) => [1 + (i % 3), 1, TS + i, TS + i + 7, pick([1, -1, 0]), 1000 + i, 100 + i * 0.5, 10 + i, 0] as unknown[]);
      const edits = Math.floor(rnd.next() * 3);
      for (let e = 0; e < edits; e++) {
        const row = pick(rows);
        const r = rnd.next();
        if (r < 0.6) row[Math.floor(rnd.next() * 9)] = pick(CELLS);
        else if (r < 0.8) row.push(pick(CELLS)); // an appended column
        else row.pop();
      }
      const frame: Record<string, unknown> = rnd.next() < 0.3 ? { v: 1, seq: 4, reqId: 'm', type: 'md', exchange: 'SYN', events: rows } : { v: 1, seq: 4, type: 'md', exchange: 'SYN', events: rows };
      if (rnd.next() < 0.3) {
        const key = pick(FRAME_KEYS);
        if (rnd.next() < 0.3) delete frame[key];
        else frame[key] = pick(FRAME_VALUES);
      }
      compareFrame(JSON.stringify(frame), pick([DEFAULT_CLIENT_LIMITS, DEFAULT_CLIENT_LIMITS, { ...DEFAULT_CLIENT_LIMITS, maxJsonDepth: 3 }, { ...DEFAULT_CLIENT_LIMITS, maxJsonDepth: 2 }]), tally);
    }
    expect(tally.fast).toBeGreaterThan(1_000);
    expect(tally.declined).toBeGreaterThan(1_000);
  });

  it('parses every order event frame and heartbeat as the schemas do, with and without reqId, under every depth limit', () => {
    for (const limits of [DEFAULT_CLIENT_LIMITS, { ...DEFAULT_CLIENT_LIMITS, maxJsonDepth: 3 }, { ...DEFAULT_CLIENT_LIMITS, maxJsonDepth: 2 }, { ...DEFAULT_CLIENT_LIMITS, maxJsonDepth: 1 }]) {
      const tally = { fast: 0, declined: 0 };
      for (const cb of ORDER_EVENTS) {
        const text = eventFrame(3, 4, cb, EVENT_EXAMPLES[cb] as never);
        compareFrame(text, limits, tally);
        compareFrame(text.replace('{"v":1,', '{"v":1,"reqId":"r-9",'), limits, tally);
        compareFrame(text.replace('"ev":{', '"ev":{"nested":{"a":{"b":1}},'), limits, tally);
      }
      for (const hb of ['{"v":1,"seq":2,"type":"heartbeat","ts":5}', '{"v":1,"seq":2,"reqId":"h","type":"heartbeat","ts":0}', '{"v":1,"seq":2,"type":"heartbeat","ts":-1}', '{"v":1,"seq":2,"type":"heartbeat","ts":1,"x":1}']) compareFrame(hb, limits, tally);
      if (limits.maxJsonDepth >= 3) expect(tally.fast).toBe(2 * ORDER_EVENTS.length + 2);
      else expect(tally.fast).toBe(0);
    }
  });

  // ---- requests

  const GRIDS = [
    EQ,
    PERP,
    makeInstrument({ instrumentId: 1, exchange: 'SIM', name: 'fine', tickSize: '0.00000001', lotSize: '0.00001', minQty: '0.0001', baseCurrency: 'B', quoteCurrency: 'Q' }),
    makeInstrument({ instrumentId: 1, exchange: 'SIM', name: 'coarse', tickSize: '25', lotSize: '100', minQty: '300', baseCurrency: 'B', quoteCurrency: 'Q' }),
    makeInstrument({ instrumentId: 1, exchange: 'SIM', name: 'odd', tickSize: '0.25', lotSize: '0.3', minQty: '0', baseCurrency: 'B', quoteCurrency: 'Q' }),
    makeInstrument({ instrumentId: 1, exchange: 'SIM', name: '15dp', tickSize: '0.000000000000001', lotSize: '0.000000000000005', baseCurrency: 'B', quoteCurrency: 'Q' }),
    makeInstrument({ instrumentId: 1, exchange: 'SIM', name: '16dp', tickSize: '0.0000000000000001', lotSize: '1000000000000000', baseCurrency: 'B', quoteCurrency: 'Q' }),
    makeInstrument({ instrumentId: 1, exchange: 'SIM', name: 'big', tickSize: '1000000000', lotSize: '123456789012345', baseCurrency: 'B', quoteCurrency: 'Q' }),
  ];
  const FIXED = [
    '0', '0.0', '00', '000.000', '-1', '-0', '', '1e2', ' 1', '1 ', '.5', '5.', '+1', '1..2', '0x10',
    '1', '01', '0.01', '0.010', '100.25', '100.255', '99999999999999', '999999999999999', '9999999999999999', '99999999999999999',
    '90071992547409.91', '90071992547409.92', '9007199254740991', '0.000000000000001', '0.0000000000000001', '123456789012345', '1234567890123450',
    '300', '299.99', '0.0001', '0.00009', '0.3', '0.6', '0.9', '1.2', '0.25', '0.5',
  ];

  function decimalStrings(next: () => number, inst: (typeof GRIDS)[number], n: number): string[] {
    const out: string[] = [];
    const digits = (k: number) => Array.from({ length: k }, () => Math.floor(next() * 10)).join('');
    for (let i = 0; i < n; i++) {
      const r = next();
      if (r < 0.5) {
        // On a grid (tick or lot), sometimes with trailing zeros or leading zeros.
        const step = next() < 0.5 ? inst.tickSize.d : inst.lotSize.d;
        const count = Math.floor(next() ** 4 * 10 ** Math.floor(next() * 17));
        let s = step.mul(count).toFixed();
        if (next() < 0.2) s += s.includes('.') ? '0'.repeat(1 + Math.floor(next() * 3)) : '.000';
        if (next() < 0.1) s = `0${s}`;
        out.push(s);
      } else {
        const int = digits(1 + Math.floor(next() * 16));
        out.push(next() < 0.5 ? int : `${int}.${digits(1 + Math.floor(next() * 16))}`);
      }
    }
    return out;
  }

  it('decodes prices and qtys of orders and modifies exactly as decimal.js does', () => {
    let seed = 99;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let fastTaken = 0;
    const isOnGrid = vi.spyOn(Price.prototype, 'isOnGrid');
    for (const inst of GRIDS) {
      const strings = [...FIXED, ...decimalStrings(next, inst, 1500)];
      const base = { type: 'new_order', exchange: 'SIM', instrumentId: 1, clientId: 'c', side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.GTC, execInstr: [], qty: '1' } as FrameBody<NewOrderMsg>;
      const ctx = { strategy: 's', instrument: inst };
      const order = { price: Price.of('7.5'), qty: Qty.of('300') };
      for (let i = 0; i < strings.length; i++) {
        const price = strings[i]!;
        const qty = strings[(i * 7 + 3) % strings.length]!;
        const label = `${inst.name} price ${price} qty ${qty}`;
        for (const msg of [
          { ...base, price, qty },
          { ...base, price: '7.5', qty: price },
          { ...base, orderType: OrderType.Market, qty },
        ]) {
          const [fast, slow] = both(() => decodeRequest(msg, ctx));
          expect(fast, label).toStrictEqual(slow);
        }
        const modify = { type: 'modify_order', exchange: 'SIM', instrumentId: 1, clientId: 'c', newPrice: price, newQty: qty } as FrameBody<ModifyOrderMsg>;
        for (const msg of [modify, { ...modify, newPrice: undefined }, { ...modify, newQty: undefined }]) {
          const [fast, slow] = both(() => decodeRequest(msg, { ...ctx, order }));
          expect(fast, label).toStrictEqual(slow);
        }
        isOnGrid.mockClear();
        gatewayFastPaths.enabled = true;
        const r = decodeRequest({ ...base, price, qty: '300' }, ctx);
        if (r.ok && isOnGrid.mock.calls.length === 0) fastTaken++;
      }
    }
    // Most on-grid prices of the grids that fit in doubles take the fast path.
    expect(fastTaken).toBeGreaterThan(1000);
  });

  it('decodes odd values and execution instructions as before', () => {
    const base = { ...(parseClientFrame(JSON.stringify({ v: 1, type: 'new_order', seq: 1, exchange: 'SIM', instrumentId: 1, clientId: 'c', side: 'Buy', orderType: 'Limit', tif: 'GTC', execInstr: [], price: '1', qty: '1' })) as { msg: NewOrderMsg }).msg };
    const ctx = { strategy: 's', instrument: EQ };
    const P = ExecInstr.PostOnly;
    const R = ExecInstr.ReduceOnly;
    for (const [execInstr, deduped] of [
      [[], []],
      [[P], [P]],
      [[P, P], [P]],
      [[R, P, R], [R, P]],
      [undefined, []],
    ] as const) {
      const [fast, slow] = both(() => decodeRequest({ ...base, execInstr } as never, ctx));
      expect(fast, String(execInstr)).toStrictEqual(slow);
      const r = decodeRequest({ ...base, execInstr } as unknown as FrameBody<NewOrderMsg>, ctx);
      expect(r.ok && r.request.execInstr, String(execInstr)).toEqual(deduped);
      // A copy, never the frame's own array.
      if (r.ok && Array.isArray(execInstr)) expect(r.request.execInstr).not.toBe(execInstr);
    }
    for (const v of [100, 1.5, null, undefined, {}, 'PostOnly', Price.of('1'), new Decimal(2)]) {
      for (const msg of [{ ...base, price: v }, { ...base, qty: v }, { ...base, execInstr: v }]) {
        const [fast, slow] = both(() => decodeRequest(msg as never, ctx));
        expect(fast, String(v)).toStrictEqual(slow);
      }
    }
    // An instrument whose grid values are not this module's decimals.
    const foreign = { ...EQ, minQty: undefined, tickSize: { d: EQ.tickSize.d } } as never;
    for (const msg of [base, { ...base, qty: '5' }]) {
      const [fast, slow] = both(() => decodeRequest(msg, { strategy: 's', instrument: foreign }));
      expect(fast).toStrictEqual(slow);
    }
  });
});
