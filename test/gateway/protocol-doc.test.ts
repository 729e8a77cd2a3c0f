/**
 * Keeps docs/protocol.md equal to the schemas: every message has a section listing exactly
 * its fields, every venue callback its fields, every error code its number, name and fatal
 * flag, every MdType/MdStatus its code, and the limits their defaults.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { MdStatus, MdType } from '../../src/data/events.js';
import {
  CLIENT_MESSAGE_SCHEMAS,
  DEFAULT_LIMITS,
  EVENT_WIRE_SCHEMAS,
  GATEWAY_MESSAGE_SCHEMAS,
  PROTOCOL_ERROR_FATAL,
  ProtocolErrorCode,
  VENUE_CALLBACKS,
} from '../../src/gateway/protocol.js';

const DOC = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const ENVELOPE = new Set(['v', 'type', 'seq', 'reqId']);

/** Text of a `## title` section, up to the next `## `. */
function section(title: string): string {
  const start = DOC.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`no section ${title}`);
  const end = DOC.indexOf('\n## ', start + 1);
  return DOC.slice(start, end < 0 ? undefined : end);
}

/** Text of each `### \`name\`` subsection. */
function subsections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = text.split(/\n### `([a-z_]+)`\n/);
  for (let i = 1; i < parts.length; i += 2) out.set(parts[i], parts[i + 1]);
  return out;
}

function cells(line: string): string[] {
  return line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
}

/** Rows of the markdown tables in a text (header and separator rows dropped). */
function rows(text: string): string[][] {
  const lines = text.split('\n').filter((l) => l.trim().startsWith('|'));
  return lines.filter((l, i) => !/^\|[\s|:-]+\|$/.test(l.trim()) && !/^\|[\s|:-]+\|$/.test((lines[i + 1] ?? '').trim())).map(cells);
}

/** The first table of a text (the field table of a message section). */
function firstTable(text: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim().startsWith('|'));
  if (start < 0) return '';
  let end = start;
  while (end < lines.length && lines[end].trim().startsWith('|')) end++;
  return lines.slice(start, end).join('\n');
}

function names(cell: string): string[] {
  return [...cell.matchAll(/`([A-Za-z_][\w]*)`/g)].map((m) => m[1]);
}

function shapeKeys(schema: z.ZodType): string[] {
  const s = schema as unknown as { shape?: Record<string, unknown>; in?: { shape: Record<string, unknown> }; options?: { shape: Record<string, unknown> }[] };
  const shape = s.shape ?? s.in?.shape ?? s.options?.[0].shape;
  if (!shape) throw new Error('no shape');
  return Object.keys(shape);
}

function checkMessages(title: string, schemas: Record<string, z.ZodType>): void {
  const subs = subsections(section(title));
  expect([...subs.keys()].sort()).toEqual(Object.keys(schemas).sort());
  for (const [type, schema] of Object.entries(schemas)) {
    const text = subs.get(type)!;
    const payload = shapeKeys(schema).filter((k) => !ENVELOPE.has(k));
    const tabled = rows(firstTable(text)).map((r) => names(r[0])[0]).filter((n): n is string => n !== undefined);
    for (const f of payload) expect(text, `${type}.${f}`).toContain(`\`${f}\``);
    for (const f of tabled) expect(payload, `${type}: documented field ${f}`).toContain(f);
  }
}

describe('docs/protocol.md', () => {
  it('documents every client message and its fields', () => {
    checkMessages('Client → gateway messages', CLIENT_MESSAGE_SCHEMAS);
  });

  it('documents every gateway message and its fields', () => {
    checkMessages('Gateway → client messages', GATEWAY_MESSAGE_SCHEMAS);
  });

  it('says which client messages require a reqId', () => {
    const subs = subsections(section('Client → gateway messages'));
    for (const [type, schema] of Object.entries(CLIENT_MESSAGE_SCHEMAS)) {
      const required = !schema.shape.reqId.safeParse(undefined).success;
      expect(/reqId: \*\*required\*\*/.test(subs.get(type)!), type).toBe(required);
    }
  });

  it('lists every venue callback with exactly its fields', () => {
    const table = rows(section('Events'));
    const fields = new Map<string, Set<string>>();
    let cb = '';
    for (const r of table) {
      const first = names(r[0])[0];
      if (first !== undefined) cb = first;
      if (!cb) continue;
      const set = fields.get(cb) ?? new Set<string>();
      for (const n of names(r[1])) set.add(n);
      fields.set(cb, set);
    }
    expect([...fields.keys()].sort()).toEqual([...VENUE_CALLBACKS].sort());
    for (const name of VENUE_CALLBACKS) {
      expect([...fields.get(name)!].sort(), name).toEqual(shapeKeys(EVENT_WIRE_SCHEMAS[name]).sort());
    }
  });

  it('lists every error code with its name and fatal flag', () => {
    const table = rows(section('Errors')).filter((r) => /^\d{4}$/.test(r[0]));
    const codes = Object.values(ProtocolErrorCode).filter((v): v is ProtocolErrorCode => typeof v === 'number');
    expect(table.map((r) => Number(r[0]))).toEqual(codes);
    for (const r of table) {
      const code = Number(r[0]) as ProtocolErrorCode;
      expect(names(r[1])[0]).toBe(ProtocolErrorCode[code]);
      expect(r[2].includes('yes'), `${code} fatal`).toBe(PROTOCOL_ERROR_FATAL[code]);
    }
  });

  it('lists every MdType and MdStatus code', () => {
    const table = rows(section('Market data (`md`)'));
    const listed = new Map(table.filter((r) => /^\d+$/.test(r[0])).map((r) => [`${r[0]}:${names(r[1])[0]}`, true]));
    for (const [name, code] of [...Object.entries(MdType), ...Object.entries(MdStatus)]) expect(listed.has(`${code}:${name}`), name).toBe(true);
    const layout = rows(firstTable(section('Market data (`md`)'))).map((r) => [Number(r[0]), names(r[1])[0]]);
    expect(layout).toEqual(['type', 'instrumentId', 'exchTs', 'localTs', 'side', 'orderId', 'priceTick', 'qty', 'status'].map((n, i) => [i, n]));
  });

  it('gives the default of every limit', () => {
    const table = rows(section('Limits'));
    for (const [key, value] of Object.entries(DEFAULT_LIMITS)) {
      const row = table.find((r) => names(r[0])[0] === key);
      expect(row, key).toBeDefined();
      expect(Number(row![1].replace(/\(.*\)/, '').replace(/[^\d]/g, '')), key).toBe(value);
    }
  });
});
