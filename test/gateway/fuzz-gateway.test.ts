/**
 * Fuzzing a running gateway (issue 4): several raw WebSocket connections — some logged in,
 * some not — send `FUZZ_FRAMES` (default 1 000 000) seeded random and mutated frames, one
 * frame per WebSocket message, at a gateway on loopback, while a well-behaved strategy
 * trades on the same gateway. Asserted:
 *
 * - the gateway never crashes and logs no error (no `error`-level log line, no uncaught
 *   exception or unhandled rejection in the process);
 * - every bad frame gets its answer: an `error` frame with the expected code (plus one
 *   4005 per sequence gap), or the request's reject event for a well-formed request that
 *   cannot be executed. Frames go in bursts; after each burst the answers received on the
 *   connection must equal, as a multiset of (code | callback + rejectCode), the answers
 *   expected — no answer missing, none extra;
 * - fatal errors (4003, 4011) close the connection with their code; the fuzzer reconnects;
 * - the well-behaved strategy gets exactly the right answer to every request, its
 *   `eventSeq`s and frame `seq`s have no gap, its open orders equal `sync_result`'s, and its
 *   market-data book equals the venue's at the end;
 * - the store holds exactly the strategy's orders (none from a fuzzer), and each fuzzer
 *   strategy's event log holds exactly the reject events it received.
 *
 * The expected error code of a frame that fails before its message schema is computed by
 * `inspect` below, an independent implementation of the order of checks that
 * docs/protocol.md (Errors) specifies; for the others the generator states it.
 *
 * The mix (per 1 000 frames): 70 random bytes, 70 random text, 100 random JSON, 400
 * single mutations of valid frames (a required field removed, a wrong type, a number that is
 * not a safe integer, an unknown type, `v` removed or — 1 in 1 000, fatal — wrong, a
 * `__proto__`/`constructor`/`prototype` key, nesting deeper than 16 (now and then thousands
 * of levels), a string far over its limit but under `maxFrameBytes`, an unknown field, text
 * damage), 320 well-formed requests that must be refused (unknown instrument or exchange,
 * prices and qtys off the grid, not positive or too large, PostOnly with IOC or Market,
 * cancels and modifies of the well-behaved strategy's orders, fetches missing a field: a
 * reject event when logged in, 4010 otherwise), 15 heartbeats with a wrong `seq`, 25 valid
 * messages refused in the state they arrive in (a second login, a `cmd_result` for no `cmd`,
 * unknown exchange or instrument in `subscribe`, a `sync`, a bad login: 4011, fatal); 3 % of
 * all frames carry a wrong `seq`, 5 % go as binary frames. 4 connections are logged in (one
 * strategy each), 2 never are; each sends its share in bursts of 400 (written corked: few
 * TCP writes, still one WebSocket message per frame) and waits for the answers.
 *
 * Time: 1 M frames took ≈ 100 s (≈ 10 000 frames/s, gateway, fuzzers and strategy in one
 * process) on a shared, loaded 2-core VM; the well-behaved strategy's order → ack latency
 * under that flood is printed (≈ 0.1 s at p50: one event loop serves the bursts in order).
 *
 * Env: FUZZ_FRAMES (default 1 000 000), FUZZ_SEED (default 20261122).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { L3Book } from '../../src/book/l3-book.js';
import { SeededRng } from '../../src/core/rng.js';
import type { MdEvent } from '../../src/data/events.js';
import { ProtocolErrorCode } from '../../src/gateway/protocol.js';
import { SqliteOrderStore } from '../../src/store/sqlite-store.js';
import { RawClient, TOKENS as HARNESS_TOKENS, sleep, startTestGateway, type Frame, type TestGateway } from './harness.js';

function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  return n;
}

const FRAMES = envInt('FUZZ_FRAMES', 1_000_000);
const SEED = envInt('FUZZ_SEED', 20261122);
/** Frames sent before waiting for their answers (bounds memory on both sides). */
const BURST = 400;
const AUTH_CONNS = 4;
const ANON_CONNS = 2;
const EXCHANGE = 'SYN';
const MAX_FRAME_BYTES = 65_536;

const FUZZ_STRATEGIES = Array.from({ length: AUTH_CONNS }, (_, i) => `fz-${i + 1}`);
const TOKENS: Record<string, string> = { good: 'good-strategy-secret', ...Object.fromEntries(FUZZ_STRATEGIES.map((s) => [s, `${s}-secret`])) };

/** Limits raised so that neither the flood limiter nor the bad-frame count cuts the fuzzers off. */
const FUZZ_LIMITS = {
  maxMsgsPerSec: 1e9,
  burstMsgs: 1_000_000_000,
  maxBadFramesPerMin: 1_000_000_000,
  loginTimeoutMs: 3_600_000,
  heartbeatMs: 5_000,
  heartbeatTimeoutMs: 3_600_000,
};

const FATAL: ReadonlySet<number> = new Set([4003, 4011, 4012, 4013, 4020, 4021, 4022, 4023, 4040]);

// ---- the expected outcome of a frame, independently of the gateway ----------------------

const CLIENT_TYPES: ReadonlySet<string> = new Set(['login', 'subscribe', 'new_order', 'modify_order', 'cancel_order', 'cancel_all', 'fetch', 'sync', 'heartbeat', 'cmd_result', 'logout']);
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 16;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Depth (the message object is level 1) and forbidden keys at any depth. */
function structureOk(root: object): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > MAX_DEPTH) return false;
    if (Array.isArray(v)) {
      for (const x of v) stack.push([x, d + 1]);
    } else {
      for (const k of Object.keys(v)) {
        if (FORBIDDEN_KEYS.has(k)) return false;
        stack.push([(v as Record<string, unknown>)[k], d + 1]);
      }
    }
  }
  return true;
}

/**
 * What docs/protocol.md says happens to a frame before its message schema: the code of the
 * first check that fails (size is kept below the limit by the generator), and the frame's
 * `seq` when it can be read. `code` undefined: the frame reaches its message's schema.
 */
function inspect(data: string | Buffer): { code?: number; seq?: number } {
  let text: string;
  if (typeof data === 'string') text = data;
  else {
    try {
      text = UTF8.decode(data);
    } catch {
      return { code: ProtocolErrorCode.MalformedJson };
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { code: ProtocolErrorCode.MalformedJson };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { code: ProtocolErrorCode.NotAnObject };
  const o = value as Record<string, unknown>;
  const s = Object.hasOwn(o, 'seq') ? o.seq : undefined;
  const seq = typeof s === 'number' && Number.isSafeInteger(s) && s >= 1 ? s : undefined;
  if (!structureOk(o)) return { code: ProtocolErrorCode.InvalidFields, seq };
  if (!Object.hasOwn(o, 'v')) return { code: ProtocolErrorCode.InvalidFields, seq };
  if (o.v !== 1) return { code: ProtocolErrorCode.UnsupportedVersion, seq };
  const t = Object.hasOwn(o, 'type') ? o.type : undefined;
  if (typeof t !== 'string' || !CLIENT_TYPES.has(t)) return { code: ProtocolErrorCode.UnknownType, seq };
  return { seq };
}

// ---- frame generation ---------------------------------------------------------------------

type Obj = Record<string, unknown>;

/** One generated frame: what to send and what must come back (before sequence effects). */
interface Gen {
  data: string | Buffer;
  /** Answer keys: `E<code>` error frame, `R<cb>:<rejectCode>` reject event, `S` sync_result; `'inspect'`: the pre-schema code `inspect` gives (the frame is dropped if it has none). */
  expect: string[] | 'inspect';
  label: string;
}

const E = (code: number) => `E${code}`;
const R = (cb: string, code: number) => `R${cb}:${code}`;

const RANDOM_KEYS = ['type', 'seq', 'reqId', 'strategy', 'token', 'resume', 'lastEventSeq', 'exchange', 'instrumentIds', 'subs', 'instrumentId', 'clientId', 'side', 'orderType', 'tif', 'execInstr', 'price', 'qty', 'newPrice', 'newQty', 'what', 'coin', 'ts', 'ok', 'text', 'constructor', 'prototype', 'toString', 'valueOf', '', ' ', 'x'.repeat(80)];
const RANDOM_STRINGS = ['', ' ', '1', '-0', '1e5', '100.25', 'NaN', 'Infinity', '__proto__', 'login', 'new_order', 'Buy', 'Limit', 'GTC', 'PostOnly', 'SYN', 'BBO', '\u0000', '\ud800', 'é', '😀', '"', '\\', 'a'.repeat(70)];
const RANDOM_NUMBERS = [0, 1, -1, 1.5, 2 ** 53, 2 ** 53 - 1, -(2 ** 53), 1e308, -1e-308, 4000, 65536, 1e15, 0.1];
const NON_CLIENT_TYPES = ['frobnicate', '', ' login', 'LOGIN', 'New_Order', 'md', 'event', 'error', 'login_ack', 'sync_result', 'subscribe_ack', 'gateway_status', 'cmd', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'heartbeat\u0000', 'x'.repeat(200)];
const UNKNOWN_FIELDS = ['colour', 'Price', 'clientid', 'seq ', 'x', 'TYPE', 'execinstr', '__proto__x', 'reqID'];
const BAD_VERSIONS: unknown[] = [2, 0, -1, '1', null, true, 1.5, [1], {}, 100, 1e300];

function pick<T>(rng: SeededRng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

function randomText(rng: SeededRng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.9) ? 0x20 + rng.int(0x5f) : rng.int(0x10000));
  return s;
}

/** Printable ASCII without `"` and `\\` (JSON-safe, one byte each), 64 KiB of it, from a fixed seed. */
const ASCII_POOL = (() => {
  const rng = new SeededRng(1);
  const parts: string[] = [];
  for (let i = 0; i < MAX_FRAME_BYTES; i++) parts.push(String.fromCharCode(0x21 + rng.int(0x5e)));
  return parts.join('').replace(/["\\]/g, 'q');
})();

function randomAscii(rng: SeededRng, n: number): string {
  if (rng.chance(0.5)) return 'x'.repeat(n);
  const at = rng.int(ASCII_POOL.length - n + 1);
  return ASCII_POOL.slice(at, at + n);
}

function randomJson(rng: SeededRng, depth: number): unknown {
  switch (rng.int(depth > 3 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.chance(0.5) ? pick(rng, RANDOM_NUMBERS) : (rng.next() - 0.5) * 10 ** rng.int(20);
    case 3:
    case 4:
      return rng.chance(0.7) ? pick(rng, RANDOM_STRINGS) : randomText(rng, rng.int(20));
    case 5:
    case 6: {
      const a: unknown[] = [];
      for (let i = rng.int(5); i > 0; i--) a.push(randomJson(rng, depth + 1));
      return a;
    }
    default: {
      const o: Obj = {};
      for (let i = rng.int(6); i > 0; i--) o[pick(rng, RANDOM_KEYS)] = randomJson(rng, depth + 1);
      return o;
    }
  }
}

/** A value of another JSON type than `v` (never valid where `v` was). */
function wrongTypeOf(rng: SeededRng, v: unknown): unknown {
  if (typeof v === 'string') return pick(rng, [123, true, null, [], {}, [v], { s: v }]);
  if (typeof v === 'number') return pick(rng, [String(v), true, null, [v], {}, '1']);
  if (typeof v === 'boolean') return pick(rng, [String(v), 1, 0, null, []]);
  if (Array.isArray(v)) return pick(rng, ['x', 1, {}, null, true]);
  return pick(rng, ['x', 1, [], null, false]);
}

/** The (fuzzer's) well-behaved strategy publishes the client ids it used, for "cancel another strategy's order". */
const goodIds: string[] = ['good-1'];

/** A valid message and which of its fields its schema requires. */
interface Base {
  obj: Obj;
  required: string[];
}

/**
 * Generates the frames of one fuzz connection. `conn.seq` is the `seq` the gateway expects
 * next; 3 % of the frames carry another one (a gap or a step back: one 4005 each).
 */
class FrameGen {
  private n = 0;
  constructor(
    private readonly rng: SeededRng,
    private readonly conn: FuzzConn,
  ) {}

  private cid(): string {
    return `${this.conn.name}-${++this.n}`;
  }

  private seq(): number {
    const s = this.conn.seq;
    // A random frame may have moved the count near 2^53 (its seq was read): no valid next
    // seq exists up there, so step back to 1 (one 4005, and the count starts again).
    if (s > Number.MAX_SAFE_INTEGER - 2000) return 1;
    if (!this.rng.chance(0.03)) return s;
    return this.wrongSeq();
  }

  private wrongSeq(): number {
    const s = this.conn.seq;
    if (s > Number.MAX_SAFE_INTEGER - 2000) return 1;
    if (s > 1 && this.rng.chance(0.4)) return s - 1 - this.rng.int(s - 1); // a step back: a repeat of an earlier seq
    return s + 1 + this.rng.int(1000);
  }

  private msg(type: string, body: Obj): Obj {
    return { v: 1, type, seq: this.seq(), ...body };
  }

  /** A valid message of any client type (not logout: its answer is a close). */
  private base(): Base {
    const r = this.rng;
    const env = ['type', 'seq'];
    switch (r.int(10)) {
      case 0:
        return {
          obj: this.msg('new_order', { reqId: `o${this.n}`, exchange: EXCHANGE, instrumentId: 1, clientId: this.cid(), side: pick(r, ['Buy', 'Sell']), orderType: 'Limit', tif: 'GTC', execInstr: ['PostOnly'], price: pick(r, ['50', '50.01', '149.5']), qty: '1' }),
          required: [...env, 'exchange', 'instrumentId', 'clientId', 'side', 'orderType', 'tif', 'execInstr', 'qty'],
        };
      case 1:
        return { obj: this.msg('modify_order', { exchange: EXCHANGE, instrumentId: 1, clientId: pick(r, goodIds), newPrice: '51', newQty: '2' }), required: [...env, 'exchange', 'instrumentId', 'clientId'] };
      case 2:
        return { obj: this.msg('cancel_order', { reqId: 'c', exchange: EXCHANGE, instrumentId: 1, clientId: pick(r, goodIds) }), required: [...env, 'exchange', 'instrumentId', 'clientId'] };
      case 3:
        return { obj: this.msg('cancel_all', { exchange: EXCHANGE, instrumentId: 1 }), required: [...env, 'exchange', 'instrumentId'] };
      case 4:
        return { obj: this.msg('fetch', { exchange: EXCHANGE, what: 'OrderStatus', instrumentId: 1, clientId: this.cid() }), required: [...env, 'exchange', 'what'] };
      case 5:
        return { obj: this.msg('sync', { reqId: 'y1' }), required: [...env, 'reqId'] };
      case 6:
        return { obj: this.msg('heartbeat', { ts: 1_718_000_000_000_000 + this.n }), required: [...env, 'ts'] };
      case 7:
        return { obj: this.msg('subscribe', { reqId: 's1', exchange: EXCHANGE, instrumentIds: [1], subs: ['BBO', 'PublicTrades'] }), required: [...env, 'reqId', 'exchange', 'instrumentIds', 'subs'] };
      case 8:
        return { obj: this.msg('login', { reqId: 'l1', strategy: this.conn.strategy ?? 'fz-1', token: TOKENS[this.conn.strategy ?? 'fz-1']!, resume: { lastEventSeq: 0 } }), required: [...env, 'reqId', 'strategy', 'token'] };
      default:
        return { obj: this.msg('cmd_result', { reqId: 'cmd-1', ok: true, text: 'done' }), required: [...env, 'reqId', 'ok', 'text'] };
    }
  }

  /** One structural mutation of a valid message; every one of them makes it invalid. */
  private mutated(): Gen {
    const r = this.rng;
    const { obj, required } = this.base();
    const k = r.int(1000);
    const asText = (o: Obj) => JSON.stringify(o);
    // 0.1 %: a bad version (fatal); else the other mutations.
    if (k < 1) {
      obj.v = pick(r, BAD_VERSIONS);
      return { data: asText(obj), expect: [E(ProtocolErrorCode.UnsupportedVersion)], label: 'bad v (fatal)' };
    }
    if (k < 60) {
      delete obj.v;
      return { data: asText(obj), expect: [E(ProtocolErrorCode.InvalidFields)], label: 'v removed' };
    }
    if (k < 200) {
      const f = pick(r, required);
      delete obj[f];
      return { data: asText(obj), expect: [E(f === 'type' ? ProtocolErrorCode.UnknownType : ProtocolErrorCode.InvalidFields)], label: 'required field removed' };
    }
    if (k < 350) {
      const f = pick(
        r,
        Object.keys(obj).filter((x) => x !== 'v'),
      );
      obj[f] = wrongTypeOf(r, obj[f]);
      return { data: asText(obj), expect: [E(f === 'type' ? ProtocolErrorCode.UnknownType : ProtocolErrorCode.InvalidFields)], label: 'wrong type' };
    }
    if (k < 450) {
      // A number that is not a safe integer where an integer is expected.
      const ints: Array<() => void> = [];
      const huge = pick(r, [2 ** 53, 2 ** 64, 1e300, -1e300, 9007199254740993, -(2 ** 60), 'INF'] as const);
      const set = (o: Obj, key: string) => () => (o[key] = huge === 'INF' ? '__HUGE__' : huge);
      ints.push(set(obj, 'seq'));
      for (const key of ['instrumentId', 'ts']) if (typeof obj[key] === 'number') ints.push(set(obj, key));
      if (obj.resume) ints.push(set(obj.resume as Obj, 'lastEventSeq'));
      if (Array.isArray(obj.instrumentIds)) ints.push(() => ((obj.instrumentIds as unknown[])[0] = huge === 'INF' ? '__HUGE__' : huge));
      pick(r, ints)();
      return { data: asText(obj).replace('"__HUGE__"', '1e400'), expect: [E(ProtocolErrorCode.InvalidFields)], label: 'huge number' };
    }
    if (k < 550) {
      obj.type = pick(r, NON_CLIENT_TYPES);
      return { data: asText(obj), expect: [E(ProtocolErrorCode.UnknownType)], label: 'unknown type' };
    }
    if (k < 650) {
      // A forbidden key: at the top, in a nested object, or in an object inside an array.
      const key = pick(r, ['__proto__', 'constructor', 'prototype']);
      const val = JSON.stringify(randomJson(r, 2) ?? null);
      let text = asText(obj);
      const where = r.int(3);
      if (where === 0) text = `{"${key}":${val},${text.slice(1)}`;
      else if (where === 1) text = `${text.slice(0, -1)},"x":{"a":{"${key}":${val}}}}`;
      else text = `${text.slice(0, -1)},"list":[1,{"${key}":${val}}]}`;
      return { data: text, expect: [E(ProtocolErrorCode.InvalidFields)], label: 'forbidden key' };
    }
    if (k < 720) {
      // Nesting deeper than 16, in a new field or in place of a field's value.
      const deep = r.chance(0.01) ? 1000 + r.int(4000) : 16 + r.int(48);
      const arrays = deep > 1000 || r.chance(0.5);
      const nest = arrays ? `${'['.repeat(deep)}${']'.repeat(deep)}` : `${'{"a":'.repeat(deep)}1${'}'.repeat(deep)}`;
      let text: string;
      if (r.chance(0.5)) {
        const f = pick(
          r,
          Object.keys(obj).filter((x) => x !== 'v'),
        );
        obj[f] = '__DEEP__';
        text = asText(obj).replace('"__DEEP__"', nest);
      } else text = `${asText(obj).slice(0, -1)},"deep":${nest}}`;
      return { data: text, expect: [E(ProtocolErrorCode.InvalidFields)], label: 'deep nesting' };
    }
    if (k < 750) {
      // A string field far over its maximum length, the frame still under maxFrameBytes.
      const strs = Object.keys(obj).filter((x) => typeof obj[x] === 'string');
      const f = pick(r, strs);
      const room = MAX_FRAME_BYTES - Buffer.byteLength(asText(obj)) - 64;
      const min = f === 'text' ? 16_385 : 600;
      obj[f] = randomAscii(r, min + r.int(Math.max(1, r.chance(0.8) ? Math.min(3000, room - min) : room - min)));
      return { data: asText(obj), expect: [E(f === 'type' ? ProtocolErrorCode.UnknownType : ProtocolErrorCode.InvalidFields)], label: 'oversized string' };
    }
    if (k < 900) {
      obj[pick(r, UNKNOWN_FIELDS)] = randomJson(r, 2) ?? 1;
      return { data: asText(obj), expect: [E(ProtocolErrorCode.InvalidFields)], label: 'unknown field' };
    }
    // Text damage: whatever comes of it, provided it fails before the schema.
    const s = asText(obj);
    const i = r.int(s.length + 1);
    let t: string;
    switch (r.int(4)) {
      case 0:
        t = s.slice(0, i);
        break;
      case 1:
        t = s.slice(0, i) + pick(r, ['{', '}', '[', ']', '"', ',', ':', '\\', '\u0000', "'", 'NaN']) + s.slice(i);
        break;
      case 2:
        t = s.slice(0, i) + s.slice(i + 1 + r.int(5));
        break;
      default:
        t = s.slice(0, i) + s.slice(r.int(s.length));
    }
    return { data: t, expect: 'inspect', label: 'text damage' };
  }

  /** A well-formed request the gateway must refuse with its reject event (logged in), or 4010 (not logged in). */
  private semantic(): Gen {
    const r = this.rng;
    const logged = this.conn.strategy !== undefined;
    const order = (extra: Obj, cb: string, code: number, label: string): Gen => {
      const o = this.msg('new_order', { reqId: `o${this.n}`, exchange: EXCHANGE, instrumentId: 1, clientId: this.cid(), side: pick(r, ['Buy', 'Sell']), orderType: 'Limit', tif: 'GTC', execInstr: [], price: '50', qty: '1', ...extra });
      for (const [key, v] of Object.entries(o)) if (v === undefined) delete o[key];
      return { data: JSON.stringify(o), expect: [logged ? R(cb, code) : E(ProtocolErrorCode.NotLoggedIn)], label };
    };
    const other = (type: string, body: Obj, cb: string, code: number, label: string): Gen => ({
      data: JSON.stringify(this.msg(type, body)),
      expect: [logged ? R(cb, code) : E(ProtocolErrorCode.NotLoggedIn)],
      label,
    });
    const NO = 'onNewOrderReject';
    switch (r.int(22)) {
      case 0:
        return order({ instrumentId: pick(r, [999, 0, -1, 2]) }, NO, 1010, 'order: unknown instrument');
      case 1:
        return order({ exchange: pick(r, ['NOPE', 'SYN2', 'syn']) }, NO, 1003, 'order: unknown exchange');
      case 2:
        return order({ price: pick(r, ['50.005', '50.001', '0.001', '99.999']) }, NO, 1011, 'order: price off tick');
      case 3:
        return order({ price: pick(r, ['0', '-5', '-0.01', '0.00']) }, NO, 1014, 'order: price not positive');
      case 4:
        return order({ price: '100000000000000000000000000000' }, NO, 1014, 'order: price too large');
      case 5:
        return order({ price: undefined }, NO, 1014, 'order: limit without price');
      case 6:
        return order({ qty: pick(r, ['0', '-1', '0.0']) }, NO, 1015, 'order: qty not positive');
      case 7:
        return order({ qty: '1.5' }, NO, 1013, 'order: qty off lot');
      case 8:
        return order({ qty: pick(r, ['0.5', '0.999']) }, NO, 1012, 'order: qty below min');
      case 9:
        return order({ qty: '100000000000000000000000000000' }, NO, 1015, 'order: qty too large');
      case 10:
        return order({ execInstr: ['PostOnly'], tif: pick(r, ['IOC', 'FOK']) }, NO, 1017, 'order: PostOnly with IOC/FOK');
      case 11:
        return order({ execInstr: ['PostOnly'], orderType: 'Market', price: undefined }, NO, 1017, 'order: PostOnly market');
      case 12:
        return other('cancel_order', { exchange: EXCHANGE, instrumentId: 1, clientId: pick(r, goodIds) }, 'onCancelOrderReject', 1020, "cancel: another strategy's order");
      case 13:
        return other('modify_order', { exchange: EXCHANGE, instrumentId: 1, clientId: pick(r, goodIds), newPrice: '51', newQty: '3' }, 'onModifyOrderReject', 1020, "modify: another strategy's order");
      case 14:
        return other('cancel_order', { exchange: 'NOPE', instrumentId: 1, clientId: this.cid() }, 'onCancelOrderReject', 1003, 'cancel: unknown exchange');
      case 15:
        return other('cancel_all', { exchange: EXCHANGE, instrumentId: 999 }, 'onCancelAllReject', 1010, 'cancel_all: unknown instrument');
      case 16:
        return other('cancel_all', { exchange: 'NOPE', instrumentId: 1 }, 'onCancelAllReject', 1003, 'cancel_all: unknown exchange');
      case 17:
        return other('fetch', { exchange: EXCHANGE, what: 'PositionInfo', instrumentId: 999 }, 'onRequestReject', 1010, 'fetch: unknown instrument');
      case 18:
        return other('fetch', { exchange: EXCHANGE, what: 'WalletInfo' }, 'onRequestReject', 1016, 'fetch: wallet without coin');
      case 19:
        return other('fetch', { exchange: EXCHANGE, what: 'OrderStatus', instrumentId: 1 }, 'onRequestReject', 1016, 'fetch: status without clientId');
      case 20:
        return other('fetch', { exchange: 'NOPE', what: 'AccountInfo' }, 'onRequestReject', 1003, 'fetch: unknown exchange');
      default:
        return other('modify_order', { exchange: EXCHANGE, instrumentId: 1, clientId: this.cid(), newQty: '2' }, 'onModifyOrderReject', 1020, 'modify: unknown order');
    }
  }

  /** Valid messages that are refused in this state (4006, 4030, 4031, 4010), a valid sync, a login with a bad token. */
  private stateful(): Gen {
    const r = this.rng;
    const logged = this.conn.strategy !== undefined;
    const NL = E(ProtocolErrorCode.NotLoggedIn);
    switch (r.int(6)) {
      case 0:
        return { data: JSON.stringify(this.msg('subscribe', { reqId: 's9', exchange: 'NOPE', instrumentIds: [1], subs: ['BBO'] })), expect: [logged ? E(ProtocolErrorCode.UnknownExchange) : NL], label: 'subscribe: unknown exchange' };
      case 1:
        return { data: JSON.stringify(this.msg('subscribe', { reqId: 's9', exchange: EXCHANGE, instrumentIds: [1, 999], subs: ['BBO'] })), expect: [logged ? E(ProtocolErrorCode.UnknownInstrument) : NL], label: 'subscribe: unknown instrument' };
      case 2:
        return { data: JSON.stringify(this.msg('cmd_result', { reqId: 'cmd-x', ok: false, text: 'no' })), expect: [logged ? E(ProtocolErrorCode.UnexpectedMessage) : NL], label: 'cmd_result for no cmd' };
      case 3:
        return { data: JSON.stringify(this.msg('sync', { reqId: 'y2' })), expect: [logged ? 'S' : NL], label: 'sync' };
      default:
        if (logged) {
          // A second login on a logged-in connection, whatever its token: 4006.
          const tok = r.chance(0.5) ? TOKENS[this.conn.strategy!]! : 'wrong';
          return { data: JSON.stringify(this.msg('login', { reqId: 'l2', strategy: this.conn.strategy!, token: tok })), expect: [E(ProtocolErrorCode.UnexpectedMessage)], label: 'second login' };
        }
        if (r.chance(0.05)) {
          const [strategy, token] = pick(r, [
            ['fz-1', 'wrong-token'],
            ['nobody', 'fz-1-secret'],
            ['good', 'x'],
          ]);
          return { data: JSON.stringify(this.msg('login', { reqId: 'l3', strategy, token })), expect: [E(ProtocolErrorCode.BadCredentials)], label: 'login: bad credentials (fatal)' };
        }
        return { data: JSON.stringify(this.msg('heartbeat', { ts: 1 })), expect: [], label: 'heartbeat' };
    }
  }

  next(): Gen {
    const r = this.rng;
    const k = r.int(1000);
    let g: Gen;
    if (k < 70) {
      const b = Buffer.alloc(r.int(257));
      for (let i = 0; i < b.length; i++) b[i] = r.int(256);
      g = { data: b, expect: 'inspect', label: 'random bytes' };
    } else if (k < 140) {
      const toks = ['{', '}', '[', ']', '"', ':', ',', '1', '-', 'e', 'true', 'null', '"v"', '"type"', '"seq"', ' ', '\n', 'x'];
      let s = '';
      for (let i = r.int(60); i > 0; i--) s += r.chance(0.5) ? pick(r, toks) : randomText(r, 1 + r.int(4));
      g = { data: s, expect: 'inspect', label: 'random text' };
    } else if (k < 240) {
      const v = randomJson(r, 0);
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && r.chance(0.5)) {
        (v as Obj).v = 1;
        (v as Obj).type = pick(r, NON_CLIENT_TYPES);
      }
      g = { data: JSON.stringify(v) ?? 'undefined', expect: 'inspect', label: 'random JSON' };
    } else if (k < 640) g = this.mutated();
    else if (k < 960) g = this.semantic();
    else if (k < 975) g = { data: JSON.stringify({ v: 1, type: 'heartbeat', seq: this.wrongSeq(), ts: 1 }), expect: [], label: 'wrong seq' };
    else g = this.stateful();
    // 5 % as binary frames (decoded as UTF-8 like text frames).
    if (typeof g.data === 'string' && r.chance(0.05)) g = { ...g, data: Buffer.from(g.data, 'utf8') };
    return g;
  }
}

// ---- fuzz connections ---------------------------------------------------------------------

function bump(m: Map<string, number>, k: string, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

function diff(expected: Map<string, number>, received: Map<string, number>): string {
  const keys = [...new Set([...expected.keys(), ...received.keys()])].sort();
  return keys
    .filter((k) => (expected.get(k) ?? 0) !== (received.get(k) ?? 0))
    .map((k) => `${k}: expected ${expected.get(k) ?? 0}, got ${received.get(k) ?? 0}`)
    .join('; ');
}

/** One fuzzing connection: logged in as `strategy`, or never logged in. Reconnects after a fatal error. */
class FuzzConn {
  /** The `seq` the gateway expects next. */
  seq = 1;
  sent = 0;
  reconnects = 0;
  readonly labels = new Map<string, number>();
  readonly answers = new Map<string, number>();
  /** Reject events received (all connections of the strategy). */
  rejects = 0;
  private ws!: WebSocket;
  private gwSeq = 0;
  private expected = new Map<string, number>();
  private received = new Map<string, number>();
  private expCount = 0;
  private recvCount = 0;
  private burstLabels: string[] = [];
  /** This burst's frames by the seq they carry (for the report of a mismatch), and the error frames received. */
  private burstFrames = new Map<number, { label: string; keys: string[]; data: string }>();
  private burstErrors: Frame[] = [];
  private waiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private closing = false;
  private corked = false;
  private closed!: Promise<number>;
  private loginAck: ((f: Frame) => void) | undefined;
  private broken: Error | undefined;
  private readonly gen: FrameGen;

  constructor(
    private readonly url: string,
    readonly name: string,
    readonly strategy: string | undefined,
    seed: number,
  ) {
    this.gen = new FrameGen(new SeededRng(seed), this);
  }

  private fail(msg: string): void {
    this.broken ??= new Error(`${this.name}: ${msg}`);
    this.waiter?.reject(this.broken);
    this.waiter = undefined;
  }

  async open(): Promise<void> {
    this.seq = 1;
    this.gwSeq = 0;
    this.closing = false;
    const ws = new WebSocket(this.url, { perMessageDeflate: false });
    this.ws = ws;
    ws.on('message', (data: WebSocket.RawData) => this.onFrame(data as Buffer));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code: number) => {
        if (!this.closing) this.fail(`connection closed unexpectedly (${code}); last labels ${this.burstLabels.slice(-5).join(', ')}`);
        resolve(code);
      }),
    );
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    if (this.strategy !== undefined) {
      const ack = new Promise<Frame>((resolve) => (this.loginAck = resolve));
      ws.send(JSON.stringify({ v: 1, type: 'login', seq: this.seq++, reqId: 'login', strategy: this.strategy, token: TOKENS[this.strategy] }));
      const f = await Promise.race([ack, sleep(10_000).then(() => undefined)]);
      if (!f || f.type !== 'login_ack') throw new Error(`${this.name}: login failed: ${JSON.stringify(f)}`);
    }
  }

  private onFrame(data: Buffer): void {
    const f = JSON.parse(data.toString('utf8')) as Frame;
    if (f.seq !== ++this.gwSeq) this.fail(`gateway frame seq ${f.seq} where ${this.gwSeq} was expected`);
    let key: string;
    switch (f.type) {
      case 'error':
        key = E(f.code);
        this.burstErrors.push(f);
        if ((f.fatal === true) !== FATAL.has(f.code)) this.fail(`error ${f.code} with fatal=${String(f.fatal)}`);
        if (typeof f.reason !== 'string' || f.reason.length === 0) this.fail(`error ${f.code} without a reason`);
        break;
      case 'event':
        if (typeof f.cb !== 'string' || !f.cb.endsWith('Reject')) {
          this.fail(`unexpected event ${JSON.stringify(f).slice(0, 300)}`);
          return;
        }
        key = R(f.cb, f.ev.rejectCode);
        this.rejects++;
        break;
      case 'sync_result':
        key = 'S';
        if (f.orders.length !== 0 || f.positions.length !== 0) this.fail(`a fuzzer has orders or positions: ${JSON.stringify(f).slice(0, 300)}`);
        break;
      case 'login_ack':
        this.loginAck?.(f);
        this.loginAck = undefined;
        return;
      case 'heartbeat':
      case 'gateway_status':
        return;
      default:
        this.fail(`unexpected frame ${JSON.stringify(f).slice(0, 300)}`);
        return;
    }
    bump(this.received, key);
    bump(this.answers, key);
    this.recvCount++;
    if (this.recvCount >= this.expCount && this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve();
    }
  }

  /**
   * A burst's frames are written while the socket is corked, so that they leave in a few
   * TCP writes instead of one system call each (still one WebSocket message per frame).
   */
  private cork(): void {
    if (this.corked) return;
    (this.ws as unknown as { _socket: Socket })._socket.cork();
    this.corked = true;
  }

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    (this.ws as unknown as { _socket: Socket })._socket.uncork();
  }

  /** Waits until the answers of the frames sent so far are in, and checks them. */
  private async settle(): Promise<void> {
    this.uncork();
    if (this.broken) throw this.broken;
    if (this.recvCount < this.expCount) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiter = undefined;
          reject(new Error(`${this.name}: ${this.expCount - this.recvCount} answers missing after 30 s: ${diff(this.expected, this.received)}; labels ${[...new Set(this.burstLabels)].join(', ')}`));
        }, 30_000);
        this.waiter = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
      });
    }
    if (this.broken) throw this.broken;
    const d = diff(this.expected, this.received);
    if (d !== '') {
      // Name the frames whose error code was not among their expected answers.
      const odd = this.burstErrors
        .filter((e) => e.refSeq !== undefined && this.burstFrames.has(e.refSeq) && !this.burstFrames.get(e.refSeq)!.keys.includes(E(e.code)))
        .slice(0, 5)
        .map((e) => {
          const f = this.burstFrames.get(e.refSeq)!;
          return `\n  ${f.label}: expected ${f.keys.join(',')}, got ${e.code} (${e.reason}) for ${f.data}`;
        });
      throw new Error(`${this.name}: answers differ from the frames sent: ${d}; labels ${[...new Set(this.burstLabels)].join(', ')}${odd.join('')}`);
    }
    this.expected.clear();
    this.received.clear();
    this.expCount = 0;
    this.recvCount = 0;
    this.burstLabels = [];
    this.burstFrames.clear();
    this.burstErrors = [];
  }

  /** Sends `quota` frames (plus reconnects), checking every burst's answers. */
  async run(quota: number): Promise<void> {
    await this.open();
    let inBurst = 0;
    while (this.sent < quota) {
      const g = this.gen.next();
      const ins = inspect(g.data);
      let keys: string[];
      if (g.expect === 'inspect') {
        if (ins.code === undefined) continue; // reached the schema: not a frame we can call bad
        keys = [E(ins.code)];
      } else {
        keys = [...g.expect];
        if (ins.code !== undefined && !(keys.length === 1 && keys[0] === E(ins.code))) throw new Error(`generator bug: ${g.label} expects ${keys.join(',')} but inspect gives ${ins.code}: ${String(g.data).slice(0, 200)}`);
        if (ins.code === undefined && ins.seq === undefined && !keys.includes(E(ProtocolErrorCode.InvalidFields))) throw new Error(`generator bug: ${g.label} has no valid seq but expects ${keys.join(',')}: ${String(g.data).slice(0, 200)}`);
      }
      const fatal = keys.some((k) => k.startsWith('E') && FATAL.has(Number(k.slice(1))));
      if (ins.code !== ProtocolErrorCode.UnsupportedVersion && ins.seq !== undefined) {
        if (ins.seq !== this.seq) keys.push(E(ProtocolErrorCode.SequenceGap));
        this.seq = ins.seq + 1;
      }
      if (fatal) {
        // Alone: what was queued for the strategy must be answered before the connection goes.
        await this.settle();
      }
      for (const key of keys) bump(this.expected, key);
      this.expCount += keys.length;
      this.burstLabels.push(g.label);
      if (ins.seq !== undefined) this.burstFrames.set(ins.seq, { label: g.label, keys, data: String(g.data).slice(0, 300) });
      bump(this.labels, g.label);
      if (fatal) this.closing = true;
      else this.cork();
      this.ws.send(g.data);
      this.sent++;
      inBurst++;
      if (fatal) {
        const code = await Promise.race([this.closed, sleep(10_000).then(() => -1)]);
        const fatalKey = keys.find((k) => FATAL.has(Number(k.slice(1))))!;
        if (code !== Number(fatalKey.slice(1))) throw new Error(`${this.name}: ${g.label}: closed with ${code}, expected ${fatalKey}`);
        await this.settle();
        this.reconnects++;
        await this.open();
        inBurst = 0;
      } else if (inBurst >= BURST) {
        await this.settle();
        inBurst = 0;
      }
    }
    await this.settle();
    // Nothing late: no answer arrives for a frame that was already answered.
    await sleep(50);
    await this.settle();
    if (this.recvCount !== 0) throw new Error(`${this.name}: ${this.recvCount} answers too many`);
  }

  close(): void {
    this.closing = true;
    this.ws.close(1000);
  }
}

// ---- the well-behaved strategy ------------------------------------------------------------

interface GoodOrder {
  side: 'Buy' | 'Sell';
  price: string;
  qty: string;
  status: 'open' | 'cancelled';
}

/** Applies md rows to a client-side book, as a client library would. */
function applyRows(book: L3Book, rows: number[][]): void {
  for (const r of rows) {
    const ev: MdEvent = { type: r[0] as MdEvent['type'], instrumentId: r[1]!, exchTs: r[2]!, localTs: r[3]!, side: r[4] as MdEvent['side'], orderId: r[5]!, priceTick: r[6]!, qty: r[7]!, status: r[8]! };
    book.apply(ev);
  }
}

/** The whole book as comparable data: per side, per level, the order ids and qtys in queue order. */
function dump(book: L3Book): unknown {
  const out: unknown[] = [];
  for (const side of [1, -1] as const) {
    for (let i = 0; i < book.l2.depth(side); i++) {
      const tick = book.l2.levelTick(side, i);
      const orders: number[][] = [];
      book.forEachOrderAt(side, tick, (o) => {
        orders.push([o.id, o.qty]);
      });
      out.push([side, tick, book.l2.levelQty(side, i), orders]);
    }
  }
  return out;
}

/**
 * A strategy speaking the protocol by hand, one request at a time: resting PostOnly orders
 * far from the touch (they never fill), modifies, cancels, periodic `sync`. Every frame it
 * receives is checked: `seq` and `eventSeq` without gaps, each answer the right one, no error.
 */
class GoodStrategy {
  readonly book = new L3Book();
  readonly orders = new Map<string, GoodOrder>();
  readonly ackLatencyUs: number[] = [];
  lastEventSeq = 0;
  mdRows = 0;
  requests = 0;
  private ws!: WebSocket;
  private seq = 0;
  private gwSeq = 0;
  private readonly queue: Frame[] = [];
  private wake: (() => void) | undefined;
  private problem: string | undefined;

  constructor(private readonly url: string) {}

  async connect(): Promise<void> {
    this.ws = new WebSocket(this.url, { perMessageDeflate: false });
    this.ws.on('message', (d: WebSocket.RawData) => this.onFrame(d as Buffer));
    this.ws.on('close', (code: number) => {
      this.problem ??= `connection closed (${code})`;
      this.wake?.();
    });
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  private onFrame(d: Buffer): void {
    const f = JSON.parse(d.toString('utf8')) as Frame;
    if (f.seq !== ++this.gwSeq) this.problem ??= `gateway frame seq ${f.seq} where ${this.gwSeq} was expected`;
    if (f.type === 'md') {
      applyRows(this.book, f.events as number[][]);
      this.mdRows += f.events.length;
      return;
    }
    if (f.type === 'heartbeat') return;
    if (f.type === 'event') {
      if (f.eventSeq !== this.lastEventSeq + 1) this.problem ??= `eventSeq ${f.eventSeq} after ${this.lastEventSeq}`;
      this.lastEventSeq = f.eventSeq;
    }
    if (f.type === 'error') this.problem ??= `error frame: ${JSON.stringify(f)}`;
    this.queue.push(f);
    this.wake?.();
  }

  send(msg: Obj): void {
    this.ws.send(JSON.stringify({ v: 1, seq: ++this.seq, ...msg }));
    this.requests++;
  }

  async next(timeoutMs = 15_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.problem) throw new Error(`good strategy: ${this.problem}`);
      const f = this.queue.shift();
      if (f) return f;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('good strategy: no answer within 15 s');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }

  async expectEvent(cb: string, clientId: string): Promise<Frame['ev']> {
    const f = await this.next();
    if (f.type !== 'event' || f.cb !== cb || f.ev.clientId !== clientId) throw new Error(`good strategy: expected ${cb} of ${clientId}, got ${JSON.stringify(f).slice(0, 400)}`);
    return f.ev;
  }

  private openOrders(): Array<[string, GoodOrder]> {
    return [...this.orders].filter(([, o]) => o.status === 'open');
  }

  async start(): Promise<void> {
    await this.connect();
    this.send({ type: 'login', reqId: 'login', strategy: 'good', token: TOKENS.good });
    const ack = await this.next();
    if (ack.type !== 'login_ack') throw new Error(`good strategy: login: ${JSON.stringify(ack)}`);
    this.send({ type: 'subscribe', reqId: 'sub', exchange: EXCHANGE, instrumentIds: [1], subs: ['OrderBook', 'BBO'] });
    const sub = await this.next();
    if (sub.type !== 'subscribe_ack' || sub.reqId !== 'sub') throw new Error(`good strategy: subscribe: ${JSON.stringify(sub)}`);
  }

  async sync(): Promise<void> {
    this.send({ type: 'sync', reqId: `y${this.seq}` });
    const f = await this.next();
    if (f.type !== 'sync_result') throw new Error(`good strategy: expected sync_result, got ${JSON.stringify(f).slice(0, 400)}`);
    const mine = this.openOrders()
      .map(([id, o]) => ({ clientOrdId: id, side: o.side, price: o.price, leavesQty: o.qty, status: 'Open' }))
      .sort((a, b) => a.clientOrdId.localeCompare(b.clientOrdId));
    const theirs = (f.orders as Frame[])
      .map((o) => ({ clientOrdId: o.clientOrdId, side: o.side, price: o.price, leavesQty: o.leavesQty, status: o.status }))
      .sort((a, b) => a.clientOrdId.localeCompare(b.clientOrdId));
    expect(theirs).toEqual(mine);
    expect(f.positions).toEqual([]);
    expect(f.lastEventSeq).toBe(this.lastEventSeq);
  }

  /** Trades until `done()`; returns the number of orders placed. */
  async trade(done: () => boolean): Promise<number> {
    let i = 0;
    while (!done()) {
      i++;
      const id = `good-${i}`;
      const side = i % 2 === 1 ? 'Buy' : 'Sell';
      // 50.00–50.96 and 150.00–150.96: far from the synthetic market around 100, never filled.
      const price = String(((side === 'Buy' ? 5000 : 15000) + (i % 97)) / 100);
      const qty = String(1 + (i % 5));
      const t0 = process.hrtime.bigint();
      this.send({ type: 'new_order', reqId: `r${i}`, exchange: EXCHANGE, instrumentId: 1, clientId: id, side, orderType: 'Limit', tif: 'GTC', execInstr: ['PostOnly'], price, qty });
      const ack = await this.expectEvent('onNewOrderAck', id);
      this.ackLatencyUs.push(Number(process.hrtime.bigint() - t0) / 1000);
      expect(ack).toEqual({ exchange: EXCHANGE, clientId: id, exchangeId: expect.any(String), instrumentId: 1, side, price, qty, leavesQty: qty, orderType: 'Limit', tif: 'GTC', execInstr: ['PostOnly'] });
      this.orders.set(id, { side, price, qty, status: 'open' });
      goodIds.push(id);
      const open = this.openOrders();
      if (i % 3 === 0) {
        const [mid, o] = open[0]!;
        const newQty = String(Number(o.qty) + 1);
        this.send({ type: 'modify_order', reqId: `m${i}`, exchange: EXCHANGE, instrumentId: 1, clientId: mid, newPrice: o.price, newQty });
        expect(await this.expectEvent('onModifyOrderAck', mid)).toEqual({ exchange: EXCHANGE, clientId: mid, newPrice: o.price, newQty, leavesQty: newQty });
        o.qty = newQty;
      }
      if (open.length > 4) {
        const [cid, o] = open[0]!;
        this.send({ type: 'cancel_order', reqId: `c${i}`, exchange: EXCHANGE, instrumentId: 1, clientId: cid });
        expect(await this.expectEvent('onCancelOrderAck', cid)).toEqual({ exchange: EXCHANGE, clientId: cid });
        expect(await this.expectEvent('onOrderCancelled', cid)).toMatchObject({ exchange: EXCHANGE, clientId: cid, unsolicited: false, cancelCode: 3000 });
        o.status = 'cancelled';
      }
      if (i % 25 === 0) await this.sync();
    }
    return i;
  }
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

// ---- the tests ----------------------------------------------------------------------------

const dirs: string[] = [];
const gateways: TestGateway[] = [];
afterAll(async () => {
  for (const g of gateways.splice(0)) await g.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('fuzzing a running gateway', () => {
  it(`answers ${FRAMES.toLocaleString('en')} random and mutated frames, never crashes, and a well-behaved strategy keeps trading correctly`, { timeout: 900_000 }, async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    // Warnings and errors of the gateway, as JSON lines.
    const logLines: Array<{ level: number; msg?: string }> = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line) as { level: number; msg?: string });
          cb();
        },
      }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'tl-fuzz-gw-'));
    dirs.push(dir);
    const store = new SqliteOrderStore(join(dir, 'orders.db'), { synchronous: 'NORMAL' });
    // A long, non-looping synthetic market at 5× (ReadyToTrade throughout the run).
    const g = await startTestGateway({ tokens: TOKENS, store, logger, limits: FUZZ_LIMITS, hostOpts: { events: 20_000_000, loop: false, speed: 5 } });
    gateways.push(g);
    try {
      const good = new GoodStrategy(g.url);
      await good.start();
      const conns = [
        ...FUZZ_STRATEGIES.map((s, i) => new FuzzConn(g.url, s, s, SEED * 16 + i)),
        ...Array.from({ length: ANON_CONNS }, (_, i) => new FuzzConn(g.url, `anon-${i + 1}`, undefined, SEED * 16 + 8 + i)),
      ];
      const quota = Math.ceil(FRAMES / conns.length);
      let fuzzing = true;
      const t0 = process.hrtime.bigint();
      const trading = good.trade(() => !fuzzing);
      // Progress every 10 s (throughput over time: a slowdown as the run goes on shows here).
      let lastSent = 0;
      const progress = setInterval(() => {
        const n = conns.reduce((a, c) => a + c.sent, 0);
        console.log(`fuzz: ${n} frames after ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(0)} s (${Math.round((n - lastSent) / 10)} frames/s over the last 10 s), good strategy ${good.orders.size} orders`);
        lastSent = n;
      }, 10_000);
      const fuzzed = Promise.all(conns.map((c) => c.run(quota))).finally(() => {
        fuzzing = false;
        clearInterval(progress);
      });
      const [placed] = await Promise.all([trading, fuzzed]);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      for (const c of conns) c.close();

      const sent = conns.reduce((n, c) => n + c.sent, 0);
      const answers = new Map<string, number>();
      const labels = new Map<string, number>();
      for (const c of conns) {
        for (const [k, v] of c.answers) bump(answers, k, v);
        for (const [k, v] of c.labels) bump(labels, k, v);
      }
      const reconnects = conns.reduce((n, c) => n + c.reconnects, 0);
      console.log(
        [
          `fuzz: ${sent} frames in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)} frames/s), ${[...answers.values()].reduce((a, b) => a + b, 0)} answers, ${reconnects} reconnects after fatal errors`,
          `good strategy: ${placed} orders, ${good.requests} requests, ${good.mdRows} md rows; new_order → ack p50 ${percentile(good.ackLatencyUs, 0.5).toFixed(0)} µs, p99 ${percentile(good.ackLatencyUs, 0.99).toFixed(0)} µs, max ${Math.max(...good.ackLatencyUs).toFixed(0)} µs (under fuzz load)`,
          `answers: ${[...answers].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`,
          `frames: ${[...labels].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        ].join('\n'),
      );
      expect(sent).toBeGreaterThanOrEqual(FRAMES);
      // The categories all ran (at the default size).
      if (FRAMES >= 100_000) {
        for (const code of [4000, 4001, 4002, 4003, 4004, 4005, 4006, 4010, 4011, 4030, 4031]) expect(answers.get(E(code)) ?? 0, `error ${code}`).toBeGreaterThan(0);
        for (const code of [1003, 1010, 1011, 1012, 1013, 1014, 1015, 1017]) expect(answers.get(R('onNewOrderReject', code)) ?? 0, `reject ${code}`).toBeGreaterThan(0);
        expect(answers.get(R('onCancelOrderReject', 1020)) ?? 0).toBeGreaterThan(0);
        expect(reconnects).toBeGreaterThan(0);
      }

      // The strategy: its view equals the gateway's, and its book the venue's.
      await good.sync();
      g.host.stop();
      const status = await good.next();
      expect(status).toMatchObject({ type: 'gateway_status', exchange: EXCHANGE, status: 'Maintenance' });
      // Everything published before the stop arrived before the status frame: the books agree.
      expect(dump(good.book)).toEqual(dump(g.host.books.get(1)!));
      expect(good.book.size).toBeGreaterThan(0);
      // The venue's session end cancels the resting orders.
      const stillOpen = [...good.orders].filter(([, o]) => o.status === 'open').map(([id]) => id);
      const cancelled: string[] = [];
      for (let n = 0; n < stillOpen.length; n++) {
        const f = await good.next();
        expect(f).toMatchObject({ type: 'event', cb: 'onOrderCancelled', ev: { unsolicited: true, cancelCode: 3004 } });
        cancelled.push(f.ev.clientId);
        good.orders.get(f.ev.clientId)!.status = 'cancelled';
      }
      expect(cancelled.sort()).toEqual(stillOpen.sort());
      await g.server.idle();

      // The store: exactly the strategy's orders, as it saw them; fuzzers' logs hold only their rejects.
      const stored = await g.store.listOrders();
      expect(stored.filter((o) => o.strategy !== 'good').map((o) => `${o.strategy}/${o.clientId}`)).toEqual([]);
      expect(stored.map((o) => o.clientId).sort()).toEqual([...good.orders.keys()].sort());
      for (const o of stored) {
        const mine = good.orders.get(o.clientId)!;
        expect({ side: o.side, price: o.price, qty: o.qty, status: o.status }).toEqual({ side: mine.side, price: mine.price, qty: mine.qty, status: 'Cancelled' });
      }
      expect(await g.store.lastEventSeq('good')).toBe(good.lastEventSeq);
      for (const s of FUZZ_STRATEGIES) {
        const c = conns.find((x) => x.strategy === s)!;
        expect(await g.store.lastEventSeq(s), s).toBe(c.rejects);
        const some = await g.store.eventsSince(s, 0, 2000);
        expect(some.filter((e) => !e.cb.endsWith('Reject')).map((e) => e.cb)).toEqual([]);
      }

      await g.close();
      expect(uncaught).toEqual([]);
      expect(logLines.filter((l) => l.level >= 50)).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
    }
  });

  it('with the default limits, a flood is cut (4021) and so are too many bad frames (4022); other sessions go on', async () => {
    const g = await startTestGateway();
    gateways.push(g);
    const ok = await RawClient.connect(g.url);
    expect((await ok.login('alpha', HARNESS_TOKENS.alpha)).type).toBe('login_ack');
    const flood = await RawClient.connect(g.url);
    expect((await flood.login('beta', HARNESS_TOKENS.beta)).type).toBe('login_ack');
    for (let i = 0; i < 1000; i++) flood.send({ type: 'heartbeat', ts: 1 });
    expect(await flood.nextType('error')).toMatchObject({ code: ProtocolErrorCode.RateLimited, fatal: true });
    expect((await flood.closed).code).toBe(4021);
    const bad = await RawClient.connect(g.url);
    for (let i = 0; i < 50; i++) bad.sendRaw('{"v":1,');
    expect(await bad.next((f) => f.code === ProtocolErrorCode.TooManyBadFrames)).toMatchObject({ fatal: true });
    // The 11th refused frame gets its own error, then 4022.
    expect(bad.frames.filter((f) => f.code === ProtocolErrorCode.MalformedJson)).toHaveLength(11);
    expect((await bad.closed).code).toBe(4022);
    ok.send({ type: 'sync', reqId: 'still-here' });
    expect(await ok.nextType('sync_result', { reqId: 'still-here' })).toMatchObject({ orders: [] });
    ok.close();
  });
});
