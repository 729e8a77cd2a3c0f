/**
 * Keeps the transition table of docs/orders.md equal to `TRANSITIONS`, cell for cell: every
 * status a row, every action but `Submit` a column, each cell the target status, `Resting`,
 * or blank for a refused move.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OrderStatus } from '../../src/api/enums.js';
import { OrderAction, TRANSITIONS } from '../../src/core/order-tracker.js';

const DOC_PATH = new URL('../../docs/orders.md', import.meta.url);
const HEADING = '## Transition table';

/** `Submit` only creates a record; it is never applied to an existing order, so it has no column. */
const COLUMNS: string[] = Object.values(OrderAction).filter((a) => a !== OrderAction.Submit);
const ROWS: string[] = Object.values(OrderStatus);

interface DocTable {
  /** Action names from the header, in document order. */
  columns: string[];
  /** Status name → action → cell text ('' for blank), in document order. */
  rows: Map<string, Map<string, string>>;
  /** Row names in document order (duplicates kept, so they can be detected). */
  rowNames: string[];
}

function cells(line: string): string[] {
  const t = line.trim();
  if (!t.startsWith('|') || !t.endsWith('|')) throw new Error(`not a table row: ${line}`);
  return t
    .slice(1, -1)
    .split('|')
    .map((c) => c.trim().replace(/^`(.*)`$/, '$1').trim());
}

/** The first Markdown table after the `## Transition table` heading. */
function parseTable(md: string): DocTable {
  const lines = md.split(/\r?\n/);
  const start = lines.findIndex((l) => l.trim() === HEADING);
  if (start < 0) throw new Error(`docs/orders.md has no '${HEADING}' heading`);
  let i = start + 1;
  while (i < lines.length && !lines[i]!.trim().startsWith('|')) {
    if (/^#{1,2}\s/.test(lines[i]!)) throw new Error(`no table under '${HEADING}'`);
    i++;
  }
  if (i >= lines.length) throw new Error(`no table under '${HEADING}'`);
  const header = cells(lines[i]!);
  const sep = cells(lines[i + 1] ?? '');
  if (sep.length !== header.length || !sep.every((c) => /^:?-+:?$/.test(c))) throw new Error('transition table: missing or malformed separator row');
  const columns = header.slice(1);
  const rows = new Map<string, Map<string, string>>();
  const rowNames: string[] = [];
  for (i += 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
    const c = cells(lines[i]!);
    if (c.length !== header.length) throw new Error(`transition table row '${c[0]}' has ${c.length} cells, the header ${header.length}`);
    const row = new Map<string, string>();
    columns.forEach((col, k) => row.set(col, c[k + 1]!));
    rowNames.push(c[0]!);
    rows.set(c[0]!, row);
  }
  return { columns, rows, rowNames };
}

const table = parseTable(readFileSync(DOC_PATH, 'utf8'));

describe('docs/orders.md transition table', () => {
  it('has exactly one column per action (Submit excepted), each once', () => {
    const missing = COLUMNS.filter((a) => !table.columns.includes(a));
    const unknown = table.columns.filter((c) => !COLUMNS.includes(c));
    expect(missing, 'actions missing from the table header').toEqual([]);
    expect(unknown, 'table columns that are not OrderAction values').toEqual([]);
    expect(new Set(table.columns).size, 'duplicate columns').toBe(table.columns.length);
  });

  it('has exactly one row per status, each once', () => {
    const missing = ROWS.filter((s) => !table.rowNames.includes(s));
    const unknown = table.rowNames.filter((r) => !ROWS.includes(r));
    expect(missing, 'statuses missing from the table').toEqual([]);
    expect(unknown, 'table rows that are not OrderStatus values').toEqual([]);
    expect(new Set(table.rowNames).size, 'duplicate rows').toBe(table.rowNames.length);
  });

  it('Submit appears in no row of TRANSITIONS (it is why the table has no Submit column)', () => {
    for (const s of ROWS) expect(TRANSITIONS[s as OrderStatus][OrderAction.Submit], `TRANSITIONS.${s}.Submit`).toBeUndefined();
  });

  it.each(ROWS)('row %s equals TRANSITIONS cell for cell', (status) => {
    const row = table.rows.get(status);
    expect(row, `row ${status} missing`).toBeDefined();
    const code = TRANSITIONS[status as OrderStatus];
    for (const action of COLUMNS) {
      const doc = row!.get(action);
      expect(doc, `column ${action} missing`).toBeDefined();
      const expected = code[action as OrderAction] ?? '';
      expect(doc, `docs/orders.md ${status} × ${action}`).toBe(expected);
    }
  });
});
