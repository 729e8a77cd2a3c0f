/**
 * Seeded fuzzing of the edge parsers: random bytes, random JSON, and mutations of valid
 * frames (structural and textual). Whatever comes in, the parser must return — never
 * throw — either a message that its schema accepts or a refusal with a known code, a short
 * reason and the fatal flag of that code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/core/rng.js';
import {
  CLIENT_MESSAGE_SCHEMAS,
  ClientMessageSchema,
  DEFAULT_CLIENT_LIMITS,
  DEFAULT_LIMITS,
  GATEWAY_MESSAGE_SCHEMAS,
  GatewayMessageSchema,
  PROTOCOL_ERROR_FATAL,
  ProtocolErrorCode,
  ReqId,
  parseClientFrame,
  parseGatewayFrame,
  type ParseResult,
  type ProtocolLimits,
  type RawFrame,
} from '../../src/gateway/protocol.js';
import { CLIENT_EXAMPLES, GATEWAY_EXAMPLES } from './fixtures.js';

const CODES: ReadonlySet<number> = new Set(Object.values(ProtocolErrorCode).filter((v) => typeof v === 'number'));

const KEYS = [
  'v', 'type', 'seq', 'reqId', 'strategy', 'token', 'resume', 'lastEventSeq', 'exchange', 'instrumentIds', 'subs', 'instrumentId', 'clientId', 'side',
  'orderType', 'tif', 'execInstr', 'price', 'qty', 'newPrice', 'newQty', 'what', 'coin', 'ts', 'ok', 'text', 'ev', 'cb', 'eventSeq', 'events',
  '__proto__', 'constructor', 'prototype', 'toString', '', ' ', 'x'.repeat(100),
];
const STRINGS = [
  '', ' ', '1', '-0', '1e5', '100.25', '0.000000000000000000000000000001', 'NaN', 'Infinity', '__proto__', 'login', 'new_order', 'Buy', 'Sell', 'Limit',
  'Market', 'GTC', 'IOC', 'PostOnly', 'SIM', 'BBO', 'WalletInfo', '\u0000', '\ud800', 'é', '😀', '"', '\\', 'a'.repeat(70), 'Z'.repeat(600),
];
const NUMBERS = [0, 1, -1, 1.5, 2 ** 53, 2 ** 53 - 1, -(2 ** 53), 1e308, -1e-308, 4000, 65536, 1e15, 0.1];

function pick<T>(rng: SeededRng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

function randomJson(rng: SeededRng, depth: number): unknown {
  const k = rng.int(depth > 3 ? 5 : 8);
  switch (k) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.chance(0.5) ? pick(rng, NUMBERS) : (rng.next() - 0.5) * 10 ** rng.int(20);
    case 3:
    case 4:
      return rng.chance(0.7) ? pick(rng, STRINGS) : randomString(rng, rng.int(20));
    case 5:
    case 6: {
      const a: unknown[] = [];
      for (let i = rng.int(5); i > 0; i--) a.push(randomJson(rng, depth + 1));
      return a;
    }
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--) o[pick(rng, KEYS)] = randomJson(rng, depth + 1);
      return o;
    }
  }
}

function randomString(rng: SeededRng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.9) ? 0x20 + rng.int(0x5f) : rng.int(0x10000));
  return s;
}

function randomBytes(rng: SeededRng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

/** A copy of a valid frame with one to three structural changes. */
function mutateObject(rng: SeededRng, base: Record<string, unknown>, types: readonly string[]): Record<string, unknown> {
  const o: Record<string, unknown> = JSON.parse(JSON.stringify(base));
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const keys = Object.keys(o);
    switch (rng.int(8)) {
      case 0:
        if (keys.length) delete o[pick(rng, keys)];
        break;
      case 1:
        if (keys.length) o[pick(rng, keys)] = randomJson(rng, 1);
        break;
      case 2:
        o[pick(rng, KEYS)] = randomJson(rng, 1);
        break;
      case 3:
        o.type = pick(rng, types);
        break;
      case 4:
        o.seq = rng.chance(0.5) ? 1 + rng.int(1000) : pick(rng, NUMBERS);
        break;
      case 5:
        o.v = rng.chance(0.7) ? 1 : randomJson(rng, 2);
        break;
      case 6: {
        // Mutate inside a nested array or object.
        const nested = keys.filter((k) => typeof o[k] === 'object' && o[k] !== null);
        if (nested.length) {
          const c = o[pick(rng, nested)] as Record<string, unknown>;
          const ck = Object.keys(c);
          if (ck.length) c[pick(rng, ck)] = randomJson(rng, 2);
        }
        break;
      }
      default:
        // Values taken from another valid frame: right shapes in the wrong places.
        Object.assign(o, JSON.parse(JSON.stringify(pick(rng, Object.values(CLIENT_EXAMPLES)))));
    }
  }
  return o;
}

/** Text-level damage to a serialised frame. */
function mutateText(rng: SeededRng, s: string): string {
  const i = rng.int(s.length + 1);
  switch (rng.int(6)) {
    case 0:
      return s.slice(0, i);
    case 1:
      return s.slice(0, i) + pick(rng, ['{', '}', '[', ']', '"', ',', ':', '\\', '0', '-', 'e', ' ', '\u0000']) + s.slice(i);
    case 2:
      return s.slice(0, i) + s.slice(i + 1 + rng.int(5));
    case 3:
      return s.replace(/\d/g, (d) => (rng.chance(0.2) ? String(rng.int(10)) : d));
    case 4:
      return s.replace(/:(\d+)/, ':1e400');
    default:
      return s.slice(0, i) + s.slice(rng.int(s.length));
  }
}

function deepFrame(rng: SeededRng): string {
  const n = 1 + rng.int(200);
  const open = rng.chance(0.5) ? '['.repeat(n) : '{"a":'.repeat(n);
  const close = open.startsWith('[') ? ']'.repeat(n) : '}'.repeat(n);
  return `{"v":1,"type":"logout","seq":1,"x":${open}1${close}}`;
}

interface Tally {
  ok: number;
  byCode: Map<number, number>;
  problems: string[];
}

function check(r: ParseResult<unknown>, schema: { safeParse(v: unknown): { success: boolean } }, raw: RawFrame, t: Tally): void {
  const show = () => (typeof raw === 'string' ? raw.slice(0, 200) : `<${(raw as Buffer).length} bytes>`);
  if (r.ok) {
    t.ok++;
    if (!schema.safeParse(r.msg).success) t.problems.push(`accepted but invalid: ${show()}`);
    return;
  }
  t.byCode.set(r.code, (t.byCode.get(r.code) ?? 0) + 1);
  if (!CODES.has(r.code)) t.problems.push(`unknown code ${r.code}: ${show()}`);
  if (typeof r.reason !== 'string' || r.reason.length === 0 || r.reason.length > 512) t.problems.push(`bad reason ${JSON.stringify(r.reason)}: ${show()}`);
  if (r.fatal !== PROTOCOL_ERROR_FATAL[r.code]) t.problems.push(`fatal ${r.fatal} for ${r.code}: ${show()}`);
  if (r.reqId !== undefined && !ReqId.safeParse(r.reqId).success) t.problems.push(`bad reqId ${JSON.stringify(r.reqId)}`);
  if (r.refSeq !== undefined && !(Number.isSafeInteger(r.refSeq) && r.refSeq >= 1)) t.problems.push(`bad refSeq ${r.refSeq}`);
}

function fuzz(n: number, seed: number, limits: ProtocolLimits, parse: (raw: RawFrame, limits: ProtocolLimits) => ParseResult<unknown>, schema: { safeParse(v: unknown): { success: boolean } }, examples: Record<string, Record<string, unknown>>): Tally {
  const rng = new SeededRng(seed);
  const bases = Object.values(examples);
  const types = [...Object.keys(examples), ...Object.keys(CLIENT_MESSAGE_SCHEMAS), ...Object.keys(GATEWAY_MESSAGE_SCHEMAS), 'nope', '__proto__', 'constructor'];
  const t: Tally = { ok: 0, byCode: new Map(), problems: [] };
  for (let i = 0; i < n; i++) {
    let raw: RawFrame;
    const k = rng.int(100);
    if (k < 8) raw = randomBytes(rng, rng.int(300));
    else if (k < 18) raw = JSON.stringify(randomJson(rng, 0)) ?? 'undefined';
    else if (k < 58) raw = JSON.stringify(mutateObject(rng, pick(rng, bases), types));
    else if (k < 85) raw = mutateText(rng, JSON.stringify(pick(rng, bases)));
    else if (k < 87) raw = deepFrame(rng);
    else if (k < 89) raw = Buffer.from(mutateText(rng, JSON.stringify(pick(rng, bases))), 'utf16le');
    else if (k < 90) raw = JSON.stringify({ ...pick(rng, bases), text: 'x'.repeat(limits.maxFrameBytes - 40 + rng.int(80)) });
    else raw = rng.chance(0.5) ? JSON.stringify(pick(rng, bases)) : Buffer.from(JSON.stringify(pick(rng, bases)));
    let r: ParseResult<unknown>;
    try {
      r = parse(raw, limits);
    } catch (err) {
      t.problems.push(`threw ${String(err)} on ${typeof raw === 'string' ? raw.slice(0, 200) : 'bytes'}`);
      continue;
    }
    check(r, schema, raw, t);
  }
  return t;
}

describe('fuzz', () => {
  it('parseClientFrame survives 100 000 random and mutated frames', () => {
    // A small frame limit, so that oversized frames are cheap to make.
    const t = fuzz(100_000, 20240611, { ...DEFAULT_LIMITS, maxFrameBytes: 2048 }, parseClientFrame, ClientMessageSchema, CLIENT_EXAMPLES);
    expect(t.problems.slice(0, 10)).toEqual([]);
    // The generator reaches both sides and most refusals.
    expect(t.ok).toBeGreaterThan(5_000);
    for (const code of [
      ProtocolErrorCode.MalformedJson,
      ProtocolErrorCode.NotAnObject,
      ProtocolErrorCode.UnknownType,
      ProtocolErrorCode.UnsupportedVersion,
      ProtocolErrorCode.InvalidFields,
      ProtocolErrorCode.FrameTooLarge,
    ]) {
      expect(t.byCode.get(code) ?? 0, ProtocolErrorCode[code]).toBeGreaterThan(50);
    }
  });

  it('parseGatewayFrame survives 10 000 random and mutated frames', () => {
    const t = fuzz(10_000, 7, { ...DEFAULT_CLIENT_LIMITS, maxFrameBytes: 2048 }, parseGatewayFrame, GatewayMessageSchema, GATEWAY_EXAMPLES);
    expect(t.problems.slice(0, 10)).toEqual([]);
    expect(t.ok).toBeGreaterThan(500);
  });

  it('holds for arbitrary JSON values and strings (fast-check)', () => {
    const t: Tally = { ok: 0, byCode: new Map(), problems: [] };
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), fc.string({ unit: 'binary' }), fc.uint8Array().map((a) => Buffer.from(a))), (raw) => {
        check(parseClientFrame(raw), ClientMessageSchema, raw, t);
        check(parseGatewayFrame(raw), GatewayMessageSchema, raw, t);
      }),
      { seed: 4242, numRuns: 2_000 },
    );
    expect(t.problems.slice(0, 10)).toEqual([]);
  });
});
