/**
 * The importers' plumbing (src/data/lines.ts), checked against what it stands in for: the
 * line readers against `readline`, the JSON scanner against `JSON.parse`, the event
 * iterables against an async generator's behaviour.
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { MdType } from '../../../src/data/events.js';
import { ByteLineReader, EventBuffer, JsonFields, LineChunkReader, jsonFastPathOk, jsonNumber, passBatches, passEvents, type EventPass } from '../../../src/data/lines.js';

const tmp = mkdtempSync(join(tmpdir(), 'tradeloop-lines-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** xorshift32 in [0, 1). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

async function readlineLines(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) out.push(l);
  return out;
}

async function chunkLines(path: string, chunkBytes: number): Promise<string[]> {
  const r = new LineChunkReader(path, chunkBytes);
  const out: string[] = [];
  do while (r.next()) out.push(r.line());
  while (await r.fill());
  return out;
}

async function byteLines(path: string, chunkBytes: number): Promise<string[]> {
  const r = new ByteLineReader(path, chunkBytes);
  const out: string[] = [];
  for (;;) {
    if (r.pos >= r.length) {
      if (!(await r.fill())) break;
      continue;
    }
    const end = r.lineEnd(r.pos);
    out.push(r.str(r.pos, end));
    r.pos = r.after(end);
  }
  return out;
}

describe('line readers', () => {
  it('split lines as readline does (\\n, \\r\\n, lone \\r, blank lines, no final line end, UTF-8 across chunks)', async () => {
    const pieces = ['a', 'bc', '34200.1,1,2,3,4,1', '', ' ', 'é', '€uro', '😀', '\n', '\n', '\r\n', '\r', '\r\r\n', '\n\n', ',', 'x'.repeat(40)];
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      let text = '';
      const n = Math.floor(r() * 60);
      for (let i = 0; i < n; i++) text += pieces[Math.floor(r() * pieces.length)];
      const path = join(tmp, `lines${seed}.txt`);
      writeFileSync(path, text);
      const expected = await readlineLines(path);
      // Tiny chunks: lines longer than a chunk, UTF-8 sequences and CRLF pairs at chunk edges.
      for (const chunk of [16, 17, 64, 1 << 16]) {
        expect(await chunkLines(path, chunk)).toEqual(expected);
        expect(await byteLines(path, chunk)).toEqual(expected);
      }
    }
  });

  it('marks a chunk JSON-clean only without backslashes and control characters (line ends aside)', async () => {
    const clean = async (text: string) => {
      const path = join(tmp, 'clean.txt');
      writeFileSync(path, text);
      const r = new LineChunkReader(path);
      await r.fill();
      r.close();
      return r.jsonClean;
    };
    expect(await clean('{"a":"b"}\r\n{"c":1}\r{}\n')).toBe(true);
    expect(await clean('{"a":"\tb"}\n')).toBe(false);
    expect(await clean('{"a":"\\u0041"}\n')).toBe(false);
    expect(await clean('{"a":"\u0000"}\n')).toBe(false);
    expect(await clean('{"a":"\u001f"}')).toBe(false);
  });

  it('an empty file has no lines; a missing file fails on the first fill', async () => {
    const empty = join(tmp, 'empty.txt');
    writeFileSync(empty, '');
    expect(await chunkLines(empty, 64)).toEqual([]);
    await expect(chunkLines(join(tmp, 'missing.txt'), 64)).rejects.toThrow(/ENOENT/);
  });
});

/** What the scanner must conclude about `s`: an object per `JSON.parse`, or not. */
function parsesAsObject(s: string): boolean {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

describe('JsonFields (the in-place JSON scanner)', () => {
  const f = new JsonFields(['a', 'b', 'pairs', 'n'], [0, 0, 2, 0]);

  it('accepts exactly the objects JSON.parse accepts', () => {
    const cases = [
      '{}', ' {} ', '{"a":1}', '{"a":1,}', '{,}', '{"a":1 "b":2}', '{"a" 1}', '{"a":}', '{a:1}', "{'a':1}", '{"a":1}x', '{"a":1}}',
      '[1]', '"s"', '1', '', ' ', '{', '{"a":[1,2}', '{"a":[1,]}', '{"a":[,1]}', '{"a":{"b":{}}}', '{"a":{"b":}}', '{"a":"x}',
      '{"a":01}', '{"a":-}', '{"a":1.}', '{"a":.5}', '{"a":1e}', '{"a":1e+}', '{"a":1E-2}', '{"a":-0}', '{"a":+1}', '{"a":0x1}',
      '{"a":NaN}', '{"a":Infinity}', '{"a":tru}', '{"a":truex}', '{"a":true}', '{"a":false}', '{"a":null}', '{"a":nul}',
      '{"pairs":[["1","2"],["3","4","x",5,[6]]]}', '{"pairs":[["1"]]}', '{"pairs":[["1",2]]}', '{"pairs":[]}', '{"pairs":[[]]}',
      '{"pairs":[["1","2"],]}', '{"pairs":[["1","2"] ["3","4"]]}', '{"pairs":[["1","2",]]}', '{"pairs":"x"}', '{"pairs":[["1","2"]],"pairs":[]}',
      '{"a":[[[[[[[[[[[[1]]]]]]]]]]]]}', `{"a":${'['.repeat(200)}${']'.repeat(200)}}`, '{"a":"é😀"}', '{"a":"\u2028"}', '{ "a" : 1 , "b" : [ 1 , 2 ] }',
    ];
    for (const s of cases) {
      if (!jsonFastPathOk(s)) continue; // escapes and control characters go to JSON.parse anyway
      // Deep nesting may be left to JSON.parse (scan false) but never accepted wrongly.
      if (f.scan(s)) expect([s, parsesAsObject(s)]).toEqual([s, true]);
      else if (s.length < 100) expect([s, parsesAsObject(s)]).toEqual([s, false]);
    }
  });

  it('agrees with JSON.parse on random JSON and random edits of it, and reads the same fields', () => {
    const r = rng(12345);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const sp = () => (r() < 0.2 ? ' '.repeat(1 + Math.floor(r() * 2)) : '');
    const value = (depth: number): string => {
      const k = Math.floor(r() * (depth > 3 ? 4 : 7));
      switch (k) {
        case 0:
          return pick(['0', '-0', '1', '12', '-3.25', '1e3', '2E-2', '9007199254740993', '123456789012345678', '0.1']);
        case 1:
          return pick(['"x"', '""', '"0.5"', '"buy"', '"é"', '"a b"']);
        case 2:
          return pick(['true', 'false', 'null']);
        case 3:
          return `[${sp()}"${Math.floor(r() * 100)}"${sp()},${sp()}"${r().toFixed(3)}"${sp()}]`;
        case 4: {
          const n = Math.floor(r() * 4);
          return `[${Array.from({ length: n }, () => sp() + value(depth + 1) + sp()).join(',')}]`;
        }
        case 5: {
          const n = Math.floor(r() * 4);
          return `[${Array.from({ length: n }, () => `[${sp()}"${Math.floor(r() * 9)}",${sp()}"${Math.floor(r() * 9)}"${r() < 0.2 ? ',1' : ''}]`).join(',')}]`;
        }
        default: {
          const n = Math.floor(r() * 4);
          return `{${Array.from({ length: n }, () => `${sp()}"${pick(['a', 'b', 'pairs', 'n', 'zz', ''])}"${sp()}:${sp()}${value(depth + 1)}${sp()}`).join(',')}}`;
        }
      }
    };
    const EDITS = ['{', '}', '[', ']', ',', ':', '"', '0', '-', '.', 'e', '+', ' ', 't', 'n', 'x'];
    let accepted = 0;
    for (let iter = 0; iter < 20_000; iter++) {
      let s = `{${Array.from({ length: 1 + Math.floor(r() * 4) }, () => `"${pick(['a', 'b', 'pairs', 'n', 'c'])}":${sp()}${value(0)}`).join(',')}}`;
      const edits = Math.floor(r() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(r() * (s.length + 1));
        const op = Math.floor(r() * 3);
        s = op === 0 ? s.slice(0, at) + s.slice(at + 1) : op === 1 ? s.slice(0, at) + pick(EDITS) + s.slice(at) : s.slice(0, at) + pick(EDITS) + s.slice(at + 1);
      }
      const ok = parsesAsObject(s);
      // In a chunk of lines too: text before the line, a line end and more text after it
      // (where, say, the closing quote of an unterminated string must not be looked for).
      const prefix = 'x: "{[';
      const chunk = `${prefix}${s}${pick(['\n', '\r\n', '\r'])}"]}, "a": 1}\n`;
      expect([s, f.scan(chunk, prefix.length, prefix.length + s.length)]).toEqual([s, ok]);
      if (ok) {
        const inChunk = Array.from(f.from, (v) => (v < 0 ? v : v - prefix.length));
        expect([s, f.scan(s)]).toEqual([s, true]);
        expect(Array.from(f.from)).toEqual(inChunk);
      } else expect([s, f.scan(s)]).toEqual([s, false]);
      if (!ok) continue;
      accepted++;
      const o = JSON.parse(s) as Record<string, unknown>;
      for (const [k, key] of f.keys.entries()) {
        const v = o[key];
        if (v === undefined) {
          expect(f.from[k]).toBe(-1);
          continue;
        }
        expect(JSON.parse(s.slice(f.from[k]!, f.to[k]!))).toEqual(v);
        if (typeof v === 'string') expect(f.string(s, k)).toBe(v);
        else expect(f.string(s, k)).toBeUndefined();
        if (typeof v === 'number') expect(Object.is(f.number(s, k), v)).toBe(true);
        else expect(f.number(s, k)).toBeNaN();
        if (key === 'pairs') {
          const isPairs = Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length >= 2 && typeof p[0] === 'string' && typeof p[1] === 'string');
          expect([s, f.tupleCount[k]]).toEqual([s, isPairs ? (v as unknown[]).length : -1]);
          if (isPairs) {
            const at = f.tuples[k]!;
            const got = (v as string[][]).map((_, i) => [s.slice(at[4 * i]!, at[4 * i + 1]!), s.slice(at[4 * i + 2]!, at[4 * i + 3]!)]);
            expect(got).toEqual((v as string[][]).map((p) => [p[0], p[1]]));
          }
        }
      }
    }
    expect(accepted).toBeGreaterThan(5000);
  });

  it('reads numbers as JSON.parse does', () => {
    // Values the scanner accepted: numbers, and other values (NaN).
    for (const t of ['0', '-0', '7', '-12', '123456789012345', '1234567890123456', '9007199254740993', '1.5', '1e3', '-2.5E-3', '"1"', 'true', 'null', '[1]']) {
      const v: unknown = JSON.parse(t);
      const got = jsonNumber(t, 0, t.length);
      if (typeof v === 'number') expect([t, Object.is(got, v)]).toEqual([t, true]);
      else expect([t, got]).toEqual([t, Number.NaN]);
    }
    expect(jsonNumber('1', -1, -1)).toBeNaN();
  });
});

/** A pass over `n` events, `perFill` at most per fill, counting closes. */
function countingPass(n: number, perFill: number, closed: { count: number }): () => EventPass {
  return () => {
    let i = 0;
    return {
      async fill(out: EventBuffer, min: number) {
        await Promise.resolve();
        while (i < n && out.length < Math.max(min, 1) && out.length < perFill) {
          out.push(MdType.Trade, 1, i, i, 1, 0, i, i + 1, 0);
          i++;
        }
      },
      close() {
        closed.count++;
      },
    };
  };
}

describe('passEvents / passBatches', () => {
  it('yields every event once, as new objects, and closes the pass at the end', async () => {
    const closed = { count: 0 };
    const got: number[] = [];
    const seen = new Set<object>();
    for await (const ev of passEvents(countingPass(10_000, 5000, closed))) {
      got.push(ev.priceTick);
      seen.add(ev);
    }
    expect(got).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(seen.size).toBe(10_000);
    expect(closed.count).toBe(1);
    let total = 0;
    for await (const b of passBatches(countingPass(10_000, 5000, closed))) total += b.length;
    expect(total).toBe(10_000);
    expect(closed.count).toBe(2);
  });

  it('serves overlapping next() calls in order and closes on return()', async () => {
    const closed = { count: 0 };
    const it = passEvents(countingPass(50, 7, closed))[Symbol.asyncIterator]();
    const rs = await Promise.all(Array.from({ length: 60 }, () => it.next()));
    expect(rs.slice(0, 50).map((r) => r.value!.priceTick)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(rs.slice(50).every((r) => r.done)).toBe(true);
    const it2 = passEvents(countingPass(50, 7, closed))[Symbol.asyncIterator]();
    await it2.next();
    await it2.return!();
    expect(closed.count).toBe(2);
    expect((await it2.next()).done).toBe(true);
  });

  it('EventBuffer grows and reads back what was pushed', () => {
    const b = new EventBuffer(2);
    for (let i = 0; i < 100; i++) b.push(MdType.LevelSet, 3, i * 10, i * 10 + 1, i % 2 ? 1 : -1, -i, i + 0.5, i, 0);
    expect(b.length).toBe(100);
    expect(b.toEvent(99)).toEqual({ type: MdType.LevelSet, instrumentId: 3, exchTs: 990, localTs: 991, side: 1, orderId: -99, priceTick: 99.5, qty: 99, status: 0 });
    const into = b.toEvent(0);
    expect(b.read(42, into)).toEqual(b.toEvent(42));
  });
});
