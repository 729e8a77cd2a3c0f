import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SeededRng } from '../../src/core/rng.js';
import { encodeEvent } from '../../src/gateway/codec.js';
import {
  CLIENT_MESSAGE_SCHEMAS,
  ClientMessageSchema,
  DEFAULT_CLIENT_LIMITS,
  DEFAULT_LIMITS,
  GATEWAY_MESSAGE_SCHEMAS,
  GatewayMessageSchema,
  MD_CALLBACKS,
  PROTOCOL_ERROR_FATAL,
  PROTOCOL_VERSION,
  ProtocolErrorCode,
  VENUE_CALLBACKS,
  errorBody,
  fastClientMessage,
  gatewayFastPaths,
  parseClientFrame,
  parseGatewayFrame,
  resolveLimits,
  serializeFrame,
  serializeMdFrame,
  type ParseFailure,
  type ParseResult,
  type ProtocolLimits,
} from '../../src/gateway/protocol.js';
import { MAX_CLIENT_ID_LENGTH } from '../../src/core/validate.js';
import { CLIENT_EXAMPLES, EVENT_EXAMPLES, GATEWAY_EXAMPLES, TS, compareFastPath } from './fixtures.js';

const json = (o: unknown) => JSON.stringify(o);

function failure<M>(r: ParseResult<M>): ParseFailure {
  if (r.ok) throw new Error(`expected a failure, got ${json(r.msg)}`);
  return r;
}

function without(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const c = { ...o };
  delete c[key];
  return c;
}

function field(schema: z.ZodType, key: string): z.ZodType | undefined {
  return (schema as unknown as { shape?: Record<string, z.ZodType> }).shape?.[key];
}

function isOptional(schema: z.ZodType, key: string): boolean {
  return field(schema, key)!.safeParse(undefined).success;
}

/** Values of the wrong type or format for most fields; those a field does accept are skipped. */
function wrongValues(schema: z.ZodType, key: string): unknown[] {
  const f = field(schema, key);
  const values = [{}, [], null, true, 'zz z', -1.5, 2 ** 53].filter((v) => f === undefined || !f.safeParse(v).success);
  expect(values.length).toBeGreaterThanOrEqual(4);
  return values;
}

/** The code a frame gets when `key` is missing (or, with `wrong`, has a wrong value). */
function expectedCode(key: string, wrong = false): ProtocolErrorCode {
  if (key === 'v') return wrong ? ProtocolErrorCode.UnsupportedVersion : ProtocolErrorCode.InvalidFields;
  if (key === 'type') return ProtocolErrorCode.UnknownType;
  return ProtocolErrorCode.InvalidFields;
}

describe('constants', () => {
  it('speaks version 1 and keeps error codes in 4000–4099 with a fatal flag each', () => {
    expect(PROTOCOL_VERSION).toBe(1);
    const codes = Object.values(ProtocolErrorCode).filter((v): v is number => typeof v === 'number');
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) {
      expect(c).toBeGreaterThanOrEqual(4000);
      expect(c).toBeLessThanOrEqual(4099);
      expect(typeof PROTOCOL_ERROR_FATAL[c as ProtocolErrorCode]).toBe('boolean');
    }
  });

  it('keeps the documented numbers stable', () => {
    expect(ProtocolErrorCode.MalformedJson).toBe(4000);
    expect(ProtocolErrorCode.NotAnObject).toBe(4001);
    expect(ProtocolErrorCode.UnknownType).toBe(4002);
    expect(ProtocolErrorCode.UnsupportedVersion).toBe(4003);
    expect(ProtocolErrorCode.InvalidFields).toBe(4004);
    expect(ProtocolErrorCode.SequenceGap).toBe(4005);
    expect(ProtocolErrorCode.NotLoggedIn).toBe(4010);
    expect(ProtocolErrorCode.BadCredentials).toBe(4011);
    expect(ProtocolErrorCode.AlreadyLoggedIn).toBe(4012);
    expect(ProtocolErrorCode.FrameTooLarge).toBe(4020);
    expect(ProtocolErrorCode.RateLimited).toBe(4021);
    expect(ProtocolErrorCode.UnknownExchange).toBe(4030);
    expect(ProtocolErrorCode.InternalError).toBe(4099);
  });

  it('has client ids as long as the kernel accepts', () => {
    const ex = { ...CLIENT_EXAMPLES.cancel_order, clientId: 'x'.repeat(MAX_CLIENT_ID_LENGTH) };
    expect(parseClientFrame(json(ex)).ok).toBe(true);
    expect(failure(parseClientFrame(json({ ...ex, clientId: 'x'.repeat(MAX_CLIENT_ID_LENGTH + 1) }))).code).toBe(ProtocolErrorCode.InvalidFields);
  });
});

describe('limits', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_LIMITS).toEqual({
      maxFrameBytes: 65536,
      maxJsonDepth: 16,
      maxMsgsPerSec: 100,
      burstMsgs: 200,
      maxBadFramesPerMin: 10,
      heartbeatMs: 5000,
      heartbeatTimeoutMs: 15000,
      loginTimeoutMs: 10000,
    });
    expect(DEFAULT_CLIENT_LIMITS.maxFrameBytes).toBe(16 * 1024 * 1024);
  });

  it('resolves partial limits and refuses nonsense', () => {
    expect(resolveLimits({ maxMsgsPerSec: 10 })).toEqual({ ...DEFAULT_LIMITS, maxMsgsPerSec: 10 });
    expect(() => resolveLimits({ maxFrameBytes: 0 })).toThrow(/maxFrameBytes/);
    expect(() => resolveLimits({ burstMsgs: 1.5 })).toThrow(/burstMsgs/);
    expect(() => resolveLimits({ heartbeatMs: 20_000 })).toThrow(/heartbeatTimeoutMs/);
    expect(() => resolveLimits({ loginTimeoutMs: Number.NaN })).toThrow(/loginTimeoutMs/);
  });
});

describe('client frames', () => {
  it('has an example for every message type', () => {
    expect(Object.keys(CLIENT_EXAMPLES).sort()).toEqual(Object.keys(CLIENT_MESSAGE_SCHEMAS).sort());
  });

  for (const [type, example] of Object.entries(CLIENT_EXAMPLES)) {
    describe(type, () => {
      const schema = CLIENT_MESSAGE_SCHEMAS[type as keyof typeof CLIENT_MESSAGE_SCHEMAS];

      it('accepts the example, as text and as bytes', () => {
        const r = parseClientFrame(json(example));
        expect(r).toEqual({ ok: true, msg: example });
        expect(parseClientFrame(Buffer.from(json(example)))).toEqual(r);
        expect(ClientMessageSchema.safeParse(example).success).toBe(true);
      });

      for (const key of Object.keys(example)) {
        it(`without ${key}: ${isOptional(schema, key) ? 'accepted' : `code ${expectedCode(key)}`}`, () => {
          const r = parseClientFrame(json(without(example, key)));
          if (isOptional(schema, key)) expect(r.ok).toBe(true);
          else expect(failure(r).code).toBe(expectedCode(key));
        });
        it(`with a wrong ${key}: code ${expectedCode(key, true)}`, () => {
          for (const bad of wrongValues(schema, key)) {
            const f = failure(parseClientFrame(json({ ...example, [key]: bad })));
            expect(f.code).toBe(expectedCode(key, true));
            if (key !== 'seq' && key !== 'v') expect(f.refSeq).toBe(example.seq);
            if (key !== 'reqId' && example.reqId !== undefined && key !== 'v') expect(f.reqId).toBe(example.reqId);
          }
        });
      }

      it('refuses an unknown field, naming it', () => {
        const f = failure(parseClientFrame(json({ ...example, postOnly: true })));
        expect(f.code).toBe(ProtocolErrorCode.InvalidFields);
        expect(f.reason).toContain('postOnly');
        expect(f.fatal).toBe(false);
      });

      it('refuses a frame without v (not fatal)', () => {
        expect(failure(parseClientFrame(json(without(example, 'v'))))).toMatchObject({ code: ProtocolErrorCode.InvalidFields, fatal: false, reason: 'v: missing (this gateway speaks v1)' });
      });

      it('refuses another version (fatal)', () => {
        const f = failure(parseClientFrame(json({ ...example, v: 2 })));
        expect(f).toMatchObject({ code: ProtocolErrorCode.UnsupportedVersion, fatal: true, refSeq: example.seq });
        expect(f.reason).toContain('v1');
      });
    });
  }

  it('refuses bad sequence numbers', () => {
    for (const seq of [0, -1, 1.5, '1', 2 ** 53]) {
      const f = failure(parseClientFrame(json({ ...CLIENT_EXAMPLES.heartbeat, seq })));
      expect(f.code).toBe(ProtocolErrorCode.InvalidFields);
      expect(f.refSeq).toBeUndefined();
      expect(f.reason).toMatch(/^heartbeat: seq: /);
    }
  });

  it('refuses non-canonical decimals and huge numbers', () => {
    for (const price of ['1e5', ' 1', '+1', '.5', '1.', '0x10', 'Infinity', 'NaN', '1'.repeat(31), 100.25]) {
      const f = failure(parseClientFrame(json({ ...CLIENT_EXAMPLES.new_order, price })));
      expect(f.code).toBe(ProtocolErrorCode.InvalidFields);
      expect(f.reason).toContain('price');
    }
    const big = failure(parseClientFrame(json(CLIENT_EXAMPLES.cancel_all).replace('"instrumentId":1', '"instrumentId":123456789012345678901234567890')));
    expect(big.code).toBe(ProtocolErrorCode.InvalidFields);
  });

  it('summarises zod issues as path: message', () => {
    const f = failure(parseClientFrame(json({ ...CLIENT_EXAMPLES.subscribe, subs: ['BBO', 'L4'], instrumentIds: [1, 'x'] })));
    expect(f.reason).toMatch(/^subscribe: /);
    expect(f.reason).toContain('instrumentIds[1]: ');
    expect(f.reason).toContain('subs[1]: ');
  });

  it('refuses an unknown type with its reqId and seq', () => {
    expect(failure(parseClientFrame(json({ v: 1, type: 'buy_now', seq: 4, reqId: 'q' })))).toEqual({
      ok: false,
      code: ProtocolErrorCode.UnknownType,
      reason: 'unknown message type "buy_now"',
      reqId: 'q',
      refSeq: 4,
      fatal: false,
    });
    // Gateway-only types are unknown in this direction; so are Object.prototype names.
    for (const type of ['login_ack', 'event', 'constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(failure(parseClientFrame(json({ v: 1, type, seq: 1 }))).code).toBe(ProtocolErrorCode.UnknownType);
    }
  });

  it('refuses what is not a JSON object', () => {
    for (const raw of ['[]', '1', 'null', '"login"', 'true', '[{"v":1}]']) {
      expect(failure(parseClientFrame(raw)).code).toBe(ProtocolErrorCode.NotAnObject);
    }
    for (const raw of ['', '{', '{"v":1,}', "{'v':1}", 'NaN', '{"v":1}{"v":1}']) {
      expect(failure(parseClientFrame(raw)).code).toBe(ProtocolErrorCode.MalformedJson);
    }
  });

  it('refuses invalid UTF-8 and junk bytes', () => {
    expect(failure(parseClientFrame(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))).code).toBe(ProtocolErrorCode.MalformedJson);
    expect(failure(parseClientFrame(Buffer.from([0xc3]))).code).toBe(ProtocolErrorCode.MalformedJson);
    expect(failure(parseClientFrame(new Uint8Array([0, 1, 2, 3]))).code).toBe(ProtocolErrorCode.MalformedJson);
  });

  it('accepts an ArrayBuffer and fragments', () => {
    const bytes = Buffer.from(json(CLIENT_EXAMPLES.logout));
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    expect(parseClientFrame(ab).ok).toBe(true);
    expect(parseClientFrame([bytes.subarray(0, 5), bytes.subarray(5)]).ok).toBe(true);
    // Input no WebSocket library produces.
    expect(failure(parseClientFrame(42 as unknown as string)).code).toBe(ProtocolErrorCode.MalformedJson);
  });

  it('refuses oversized frames as fatal, before parsing', () => {
    const limits = { ...DEFAULT_LIMITS, maxFrameBytes: 100 };
    const ok = json({ ...CLIENT_EXAMPLES.cmd_result, text: 'x'.repeat(20) });
    expect(parseClientFrame(ok, limits).ok).toBe(true);
    const f = failure(parseClientFrame(json({ ...CLIENT_EXAMPLES.cmd_result, text: 'x'.repeat(100) }), limits));
    expect(f).toMatchObject({ code: ProtocolErrorCode.FrameTooLarge, fatal: true });
    // Counted in UTF-8 bytes, not characters.
    const multi = json({ ...CLIENT_EXAMPLES.cmd_result, text: 'é'.repeat(30) });
    expect(multi.length).toBeLessThan(100);
    expect(failure(parseClientFrame(multi, limits)).code).toBe(ProtocolErrorCode.FrameTooLarge);
    expect(failure(parseClientFrame('{'.repeat(70_000))).code).toBe(ProtocolErrorCode.FrameTooLarge);
  });

  it('refuses prototype-pollution keys anywhere', () => {
    const cases = [
      '{"v":1,"type":"logout","seq":1,"__proto__":{"admin":true}}',
      '{"v":1,"type":"login","seq":1,"reqId":"a","strategy":"s","token":"t","resume":{"__proto__":{"x":1},"lastEventSeq":1}}',
      '{"v":1,"type":"subscribe","seq":1,"reqId":"a","exchange":"SIM","instrumentIds":[{"constructor":{"prototype":{}}}],"subs":["BBO"]}',
      '{"v":1,"type":"logout","seq":1,"prototype":1}',
    ];
    for (const raw of cases) {
      const f = failure(parseClientFrame(raw));
      expect(f.code).toBe(ProtocolErrorCode.InvalidFields);
      expect(f.reason).toMatch(/key not allowed/);
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('refuses deep nesting without overflowing the stack', () => {
    const deep = `{"v":1,"type":"logout","seq":1,"x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const f = failure(parseClientFrame(deep));
    expect(f.code).toBe(ProtocolErrorCode.InvalidFields);
    expect(f.reason).toMatch(/nesting deeper than 16/);
    const objs = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    expect(failure(parseClientFrame(objs)).code).toBe(ProtocolErrorCode.InvalidFields);
    // Within the limit: depth 3 is fine (refused only for the unknown field).
    expect(failure(parseClientFrame(json({ ...CLIENT_EXAMPLES.logout, x: [[1]] }))).reason).toContain('Unrecognized key');
  });

  it('caps the reason length', () => {
    const f = failure(parseClientFrame(json({ ...CLIENT_EXAMPLES.logout, ['k'.repeat(2000)]: 1 })));
    expect(f.reason.length).toBeLessThanOrEqual(512);
  });
});

describe('gateway frames', () => {
  it('has an example for every message type', () => {
    expect(Object.keys(GATEWAY_EXAMPLES).sort()).toEqual(Object.keys(GATEWAY_MESSAGE_SCHEMAS).sort());
  });

  for (const [type, example] of Object.entries(GATEWAY_EXAMPLES)) {
    describe(type, () => {
      const schema = GATEWAY_MESSAGE_SCHEMAS[type as keyof typeof GATEWAY_MESSAGE_SCHEMAS];
      const optional = (key: string) => type !== 'event' && isOptional(schema, key);

      it('accepts the example', () => {
        const r = parseGatewayFrame(json(example));
        expect(r).toEqual({ ok: true, msg: example });
        expect(GatewayMessageSchema.safeParse(example).success).toBe(true);
      });

      for (const key of Object.keys(example)) {
        it(`without ${key}: ${optional(key) ? 'accepted' : `code ${expectedCode(key)}`}`, () => {
          const r = parseGatewayFrame(json(without(example, key)));
          if (optional(key)) expect(r.ok).toBe(true);
          else expect(failure(r).code).toBe(expectedCode(key));
        });
        it(`with a wrong ${key}: code ${expectedCode(key, true)}`, () => {
          for (const bad of wrongValues(type === 'event' ? z.never() : schema, key)) {
            expect(failure(parseGatewayFrame(json({ ...example, [key]: bad }))).code).toBe(expectedCode(key, true));
          }
        });
      }

      it('ignores unknown fields (a newer gateway may add some)', () => {
        const r = parseGatewayFrame(json({ ...example, addedInV1_3: { x: 1 } }));
        expect(r).toEqual({ ok: true, msg: example });
      });
    });
  }

  it('validates every venue callback in event frames, and no other', () => {
    VENUE_CALLBACKS.forEach((cb, i) => {
      const frame = { v: 1, type: 'event', seq: i + 1, eventSeq: 100 + i, cb, ev: encodeEvent(cb, EVENT_EXAMPLES[cb] as never) };
      expect(parseGatewayFrame(json(frame)), cb).toEqual({ ok: true, msg: frame });
      const ev = frame.ev as Record<string, unknown>;
      const f = failure(parseGatewayFrame(json({ ...frame, ev: { ...ev, exchange: 7 } })));
      expect(f.code).toBe(ProtocolErrorCode.InvalidFields);
      expect(f.reason).toContain('ev.exchange');
    });
    for (const cb of [...MD_CALLBACKS, 'onStart', 'onNothing']) {
      const frame = { v: 1, type: 'event', seq: 1, eventSeq: 1, cb, ev: {} };
      const f = failure(parseGatewayFrame(json(frame)));
      expect(f.code).toBe(ProtocolErrorCode.InvalidFields);
      expect(f.reason).toContain('cb');
    }
  });

  it('reads md rows with fractional trade ticks and ignores extra columns', () => {
    const r = parseGatewayFrame(json({ ...GATEWAY_EXAMPLES.md, events: [[5, 1, TS, TS, 1, 0, 100.5, 3, 0, 'later column']] }));
    expect(r.ok).toBe(true);
    for (const row of [[5, 1, TS, TS, 2, 0, 100, 3, 0], [5, 1, TS, TS, 1, 0, 100], [0, 1, TS, TS, 1, 0, 100, 3, 0], [5, 1, -1, TS, 1, 0, 100, 3, 0]]) {
      expect(failure(parseGatewayFrame(json({ ...GATEWAY_EXAMPLES.md, events: [row] }))).code).toBe(ProtocolErrorCode.InvalidFields);
    }
  });

  it('accepts error codes it does not know (a newer gateway may add some)', () => {
    const r = parseGatewayFrame(json({ ...GATEWAY_EXAMPLES.error, code: 4050 }));
    expect(r.ok && r.msg.type === 'error' && r.msg.code).toBe(4050);
  });

  it('refuses client-only types', () => {
    expect(failure(parseGatewayFrame(json(CLIENT_EXAMPLES.new_order))).code).toBe(ProtocolErrorCode.UnknownType);
  });

  it('has a larger default frame limit than the gateway', () => {
    const big = { ...GATEWAY_EXAMPLES.cmd, params: Array.from({ length: 64 }, () => 'p'.repeat(1024)) };
    expect(json(big).length).toBeGreaterThan(DEFAULT_LIMITS.maxFrameBytes);
    expect(parseGatewayFrame(json(big)).ok).toBe(true);
  });
});

describe('frame helpers', () => {
  it('serialises with the envelope first', () => {
    const s = serializeFrame({ type: 'heartbeat', ts: TS }, 7);
    expect(s).toBe(`{"v":1,"type":"heartbeat","seq":7,"ts":${TS}}`);
    expect(parseClientFrame(s).ok).toBe(true);
    expect(parseGatewayFrame(s).ok).toBe(true);
  });

  it('builds md frames from serialized parts byte for byte as serializeFrame does', () => {
    // The number forms JSON.stringify has to agree on: exponents, -0, the extremes, NaN (null).
    const odd = [0, -0, 1.5, -2.25, 1e21, 1e-7, 5e-324, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0.1 + 0.2, NaN, Infinity];
    const row = (i: number) => [6, i, TS, TS + 1, i % 2 ? 1 : -1, 100 + i, odd[i % odd.length]!, odd[(i + 5) % odd.length]!, 0];
    for (const exchange of ['SYN', 'A.b-C_9', 'x']) {
      for (const seq of [1, 9, 10, 123_456_789, Number.MAX_SAFE_INTEGER]) {
        for (const events of [[row(0)], Array.from({ length: 25 }, (_, i) => row(i))]) {
          const expected = serializeFrame({ type: 'md', exchange, events }, seq);
          expect(serializeMdFrame(seq, JSON.stringify(exchange), JSON.stringify(events))).toBe(expected);
        }
      }
    }
    const rows = [[6, 1, TS, TS + 1, 1, 101, 10_024, 2.5, 0]];
    expect(parseGatewayFrame(serializeMdFrame(3, '"SYN"', JSON.stringify(rows)))).toEqual({ ok: true, msg: { v: 1, type: 'md', seq: 3, exchange: 'SYN', events: rows } });
  });

  it('builds md frames as serializeFrame does for any rows (property)', () => {
    const num = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-0, 1e21, 5e-324));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.stringMatching(/^[\w.-]{1,32}$/), fc.array(fc.array(num, { minLength: 9, maxLength: 9 }), { minLength: 1, maxLength: 20 }), (seq, exchange, events) => {
        expect(serializeMdFrame(seq, JSON.stringify(exchange), JSON.stringify(events))).toBe(serializeFrame({ type: 'md', exchange, events }, seq));
      }),
    );
  });

  it('builds error bodies from failures, fatal only when it is', () => {
    const f = failure(parseClientFrame(json({ v: 1, type: 'nope', seq: 3, reqId: 'a' })));
    const body = errorBody(f);
    expect(body).toEqual({ type: 'error', code: 4002, reason: f.reason, reqId: 'a', refSeq: 3 });
    expect(errorBody({ code: ProtocolErrorCode.RateLimited, reason: 'flood' })).toEqual({ type: 'error', code: 4021, reason: 'flood', fatal: true });
    const frame = serializeFrame(body, 12);
    expect(parseGatewayFrame(frame)).toEqual({ ok: true, msg: { v: 1, seq: 12, ...body } });
  });
});

describe('fast path of the hot client frames', () => {
  afterEach(() => {
    gatewayFastPaths.enabled = true;
  });

  /** Bases the mutations start from: each hot type, with and without its optional fields. */
  const BASES: Record<string, unknown>[] = [
    CLIENT_EXAMPLES.new_order!,
    without(CLIENT_EXAMPLES.new_order!, 'reqId'),
    { ...without(CLIENT_EXAMPLES.new_order!, 'price'), orderType: 'Market', tif: 'IOC', execInstr: [] },
    { ...CLIENT_EXAMPLES.new_order!, execInstr: ['PostOnly', 'ReduceOnly', 'PostOnly', 'ReduceOnly'], side: 'Sell', tif: 'FOK' },
    CLIENT_EXAMPLES.modify_order!,
    { ...without(CLIENT_EXAMPLES.modify_order!, 'newQty'), reqId: 'm-1' },
    without(CLIENT_EXAMPLES.modify_order!, 'newPrice'),
    without(without(CLIENT_EXAMPLES.modify_order!, 'newPrice'), 'newQty'),
    CLIENT_EXAMPLES.cancel_order!,
    { ...CLIENT_EXAMPLES.cancel_order!, reqId: 'c-1' },
    CLIENT_EXAMPLES.cancel_all!,
    { ...CLIENT_EXAMPLES.cancel_all!, reqId: 'x'.repeat(64) },
    CLIENT_EXAMPLES.heartbeat!,
    { ...CLIENT_EXAMPLES.heartbeat!, reqId: 'h', ts: 0 },
  ];
  const KEYS = [...new Set(BASES.flatMap((b) => Object.keys(b))), 'ts', 'price', 'newPrice', 'newQty', 'reqId', 'extra', 'constructor', 'prototype', 'postOnly'];
  /** Values at and around every limit and rule of the hot frames' fields. */
  const VALUES: unknown[] = [
    ...['', 'a', 'x'.repeat(32), 'x'.repeat(33), 'x'.repeat(64), 'x'.repeat(65), 'a b', 'a"b', 'a\\b', 'é', '\u0000', 'SIM.x-1_', 'S/M', '~!'],
    ...['0', '1', '-1', '1.', '.5', '1e5', '01', '100.25', '-0.5', '1'.repeat(30), '1'.repeat(31), `1.${'0'.repeat(30)}`, `1.${'0'.repeat(31)}`, `-${'9'.repeat(30)}.${'9'.repeat(30)}`, ' 1', '1 '],
    ...['new_order', 'modify_order', 'cancel_order', 'cancel_all', 'heartbeat', 'fetch', 'Buy', 'Sell', 'buy', 'Limit', 'Market', 'GTC', 'IOC', 'FOK', 'PostOnly', 'ReduceOnly'],
    ...[0, -0, 1, -1, 1.5, 2, 2 ** 53 - 1, 2 ** 53, -(2 ** 53 - 1), -(2 ** 53), 1e21, TS],
    true,
    false,
    null,
    [],
    {},
    ['PostOnly'],
    ['PostOnly', 'PostOnly'],
    ['PostOnly', 'ReduceOnly', 'PostOnly', 'ReduceOnly', 'PostOnly'],
    ['Post'],
    [['PostOnly']],
    [1],
    { a: 1 },
    { a: { b: { c: 1 } } },
  ];

  /** Parses `text` with the fast path and without it; the two must agree exactly, and the fast path may only ever accept. */
  function compare(text: string, limits: Readonly<ProtocolLimits>, tally: { fast: number; declined: number }): void {
    compareFastPath(text, limits, parseClientFrame, fastClientMessage, tally);
  }

  it('accepts the examples on the fast path', () => {
    for (const b of BASES) {
      const r = fastClientMessage(b, DEFAULT_LIMITS);
      expect(r, json(b)).toBeDefined();
      gatewayFastPaths.enabled = false;
      expect(parseClientFrame(json(b))).toStrictEqual({ ok: true, msg: r });
    }
  });

  it('gives what the schemas give on 20 000 seeded mutations of the hot frames, under several depth limits', () => {
    const r = new SeededRng(20240611);
    const next = () => r.next();
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    for (const limits of [DEFAULT_LIMITS, { ...DEFAULT_LIMITS, maxJsonDepth: 2 }, { ...DEFAULT_LIMITS, maxJsonDepth: 1 }, { ...DEFAULT_LIMITS, maxJsonDepth: 0 }]) {
      const tally = { fast: 0, declined: 0 };
      const n = limits === DEFAULT_LIMITS ? 14_000 : 2_000;
      for (let i = 0; i < n; i++) {
        const frame: Record<string, unknown> = { ...pick(BASES) };
        // 0 to 3 mutations: replace a field's value, remove a field, or add one.
        const edits = Math.floor(next() * 4);
        for (let e = 0; e < edits; e++) {
          const r = next();
          if (r < 0.6) frame[pick(KEYS)] = pick(VALUES);
          else if (r < 0.85) delete frame[pick(Object.keys(frame))];
          else frame[pick(['extra', 'execinstr', 'Price', 'ts', 'price', 'reqId', 'newQty'])] = pick(VALUES);
        }
        compare(json(frame), limits, tally);
      }
      if (limits.maxJsonDepth >= 1) expect(tally.fast).toBeGreaterThan(n / 10);
      else expect(tally.fast).toBe(0);
      expect(tally.declined).toBeGreaterThan(n / 10);
    }
  });

  it('gives what the schemas give for any JSON value in any field (fast-check)', () => {
    const tally = { fast: 0, declined: 0 };
    fc.assert(
      fc.property(fc.constantFrom(...BASES), fc.constantFrom(...KEYS), fc.oneof(fc.jsonValue(), fc.constantFrom(...VALUES)), fc.boolean(), (base, key, value, drop) => {
        const frame: Record<string, unknown> = { ...base, [key]: value };
        if (drop) delete frame[key === 'type' ? 'v' : 'type'];
        compare(json(frame), DEFAULT_LIMITS, tally);
      }),
      { seed: 4242, numRuns: 5_000 },
    );
    expect(tally.fast).toBeGreaterThan(100);
  });

  it('leaves text-level oddities to the schemas: forbidden keys, duplicate keys, overflowing numbers, -0', () => {
    const tally = { fast: 0, declined: 0 };
    const base = json(CLIENT_EXAMPLES.cancel_order);
    const texts = [
      base.replace('{', '{"__proto__":{"x":1},'),
      base.replace('{', '{"__proto__":1,'),
      base.replace('{', '{"constructor":1,'),
      base.replace('"instrumentId":1', '"instrumentId":1e400'),
      base.replace('"instrumentId":1', '"instrumentId":-0'),
      base.replace('"instrumentId":1', '"instrumentId":1.0'),
      base.replace('"seq":5', '"seq":5.0000000000000001'),
      base.replace('"clientId":"mm-1"', '"clientId":"mm-1","clientId":"mm-2"'),
      base.replace('"clientId":"mm-1"', '"clientId":"mm\\u0022"'),
      base.replace('"clientId":"mm-1"', '"clientId":"\\ud800"'),
      json(CLIENT_EXAMPLES.new_order).replace('"execInstr":["PostOnly"]', '"execInstr":["PostOnly",{"__proto__":1}]'),
    ];
    for (const t of texts) for (const limits of [DEFAULT_LIMITS, { ...DEFAULT_LIMITS, maxJsonDepth: 1 }]) compare(t, limits, tally);
    expect(tally.fast).toBeGreaterThan(0);
  });
});
