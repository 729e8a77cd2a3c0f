import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CancelCode, REJECT_REASONS, RejectCode } from '../../src/api/codes.js';

const DOC_PATH = new URL('../../docs/reject-codes.md', import.meta.url);

interface DocRow {
  code: number;
  name: string;
  meaning: string;
  carriedBy: string;
  section: string;
}

/** Table rows `| 1000 | `GtwNotReady` | meaning | carried by |` under the `## RejectCode` / `## CancelCode` headings. */
function parseDoc(md: string): DocRow[] {
  const rows: DocRow[] = [];
  let section = '';
  for (const line of md.split(/\r?\n/)) {
    const h = /^##\s+(\w+)/.exec(line);
    if (h) section = h[1]!;
    const m = /^\|\s*(\d+)\s*\|\s*`?(\w+)`?\s*\|(.*)\|(.*)\|\s*$/.exec(line);
    if (m) rows.push({ code: Number(m[1]), name: m[2]!, meaning: m[3]!.trim(), carriedBy: m[4]!.trim(), section });
  }
  return rows;
}

/** Name → value of a numeric TypeScript enum (without the reverse mapping). */
function members(e: Record<string, string | number>): [string, number][] {
  return Object.entries(e).filter((kv): kv is [string, number] => typeof kv[1] === 'number');
}

const rows = parseDoc(readFileSync(DOC_PATH, 'utf8'));
const rejectRows = rows.filter((r) => r.section === 'RejectCode');
const cancelRows = rows.filter((r) => r.section === 'CancelCode');

describe('docs/reject-codes.md', () => {
  it('parses both tables', () => {
    expect(rejectRows.length).toBeGreaterThan(0);
    expect(cancelRows.length).toBeGreaterThan(0);
  });

  it.each(members(RejectCode))('documents RejectCode.%s = %i with its number, meaning and callback', (name, value) => {
    const row = rejectRows.find((r) => r.name === name);
    expect(row, `RejectCode.${name} missing from docs/reject-codes.md`).toBeDefined();
    expect(row!.code).toBe(value);
    expect(row!.meaning.length).toBeGreaterThan(10);
    expect(row!.carriedBy).not.toBe('');
  });

  it.each(members(CancelCode))('documents CancelCode.%s = %i with its number, meaning and callback', (name, value) => {
    const row = cancelRows.find((r) => r.name === name);
    expect(row, `CancelCode.${name} missing from docs/reject-codes.md`).toBeDefined();
    expect(row!.code).toBe(value);
    expect(row!.meaning.length).toBeGreaterThan(10);
    expect(row!.carriedBy).toContain('onOrderCancelled');
  });

  it('documents no code that is not in the enums, and each code once', () => {
    const rejects = new Map(members(RejectCode));
    const cancels = new Map(members(CancelCode));
    for (const r of rejectRows) expect(rejects.get(r.name), `stale row ${r.code} ${r.name}`).toBe(r.code);
    for (const r of cancelRows) expect(cancels.get(r.name), `stale row ${r.code} ${r.name}`).toBe(r.code);
    expect(new Set(rejectRows.map((r) => r.code)).size).toBe(rejectRows.length);
    expect(new Set(cancelRows.map((r) => r.code)).size).toBe(cancelRows.length);
  });
});

describe('codes', () => {
  it('every RejectCode has a non-empty REJECT_REASONS entry, and nothing else does', () => {
    for (const [name, value] of members(RejectCode)) {
      const reason = REJECT_REASONS[value as RejectCode];
      expect(typeof reason, `REJECT_REASONS[RejectCode.${name}]`).toBe('string');
      expect(reason.trim()).not.toBe('');
    }
    const keys = Object.keys(REJECT_REASONS).map(Number).sort((a, b) => a - b);
    expect(keys).toEqual(members(RejectCode).map(([, v]) => v).sort((a, b) => a - b));
  });

  it('numbers are unique and in their documented ranges', () => {
    const all = [...members(RejectCode), ...members(CancelCode)].map(([, v]) => v);
    expect(new Set(all).size).toBe(all.length);
    for (const [name, v] of members(RejectCode)) {
      expect((v >= 1000 && v <= 1099) || (v >= 2000 && v <= 2099), `RejectCode.${name} = ${v}`).toBe(true);
    }
    for (const [name, v] of members(CancelCode)) expect(v >= 3000 && v <= 3099, `CancelCode.${name} = ${v}`).toBe(true);
    expect(RejectCode.GtwNotReady).toBe(1000);
  });

  it('venue codes (2000+) are documented under the venue heading, environment codes under the environment heading', () => {
    const md = readFileSync(DOC_PATH, 'utf8');
    const venueStart = md.indexOf('### Refused by the venue');
    const envStart = md.indexOf('### Refused by the environment');
    expect(envStart).toBeGreaterThan(0);
    expect(venueStart).toBeGreaterThan(envStart);
    for (const [name, v] of members(RejectCode)) {
      const at = md.indexOf(`| ${v} | \`${name}\``);
      expect(at, name).toBeGreaterThan(0);
      expect(v >= 2000 ? at > venueStart : at > envStart && at < venueStart, `${name} under the wrong heading`).toBe(true);
    }
  });
});
