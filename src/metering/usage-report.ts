import { toCsv } from '../csv.js';
import type { UsageGroupBy, UsageRow } from '../store/types.js';

/**
 * Usage rows as `tollgate usage` prints them (table, csv or json) and as the dashboard's
 * `usage.csv` serves them: one renderer, so the two files are the same byte for byte.
 */
const COUNTERS = ['requests', 'errors', 'input_tokens', 'output_tokens', 'cost_usd'] as const;
/**
 * What image and audio requests were (docs/api.md#images-and-audio): in the table and the CSV,
 * columns that appear when some row in the period has them, so a report of token traffic keeps
 * its columns; in JSON always (zeros when none), so a script reads the same fields every time.
 */
const UNITS = ['images', 'audio_seconds', 'characters'] as const;

const hasUnits = (rows: UsageRow[]) => rows.some((r) => UNITS.some((u) => (r[u] ?? 0) > 0));

export function renderUsage(rows: UsageRow[], by: UsageGroupBy | 'group', format: string): string {
  if (format === 'json') {
    const json: (r: UsageRow) => Record<string, unknown> =
      by === 'hash'
        ? (r: UsageRow) => ({
            key: r.key ?? null,
            hash: r.hash ?? null,
            ...pick(r),
            last_used: r.last_used ?? null,
          })
        : (r: UsageRow) => ({ [by]: r[by] ?? null, ...pick(r), ...pickUnits(r) });
    return `${JSON.stringify(rows.map(json), null, 2)}\n`;
  }
  if (by === 'hash') return renderTable(rows.map(hashCells), HASH_HEADER, rows, format);
  const media = hasUnits(rows);
  const cells = rows.map((r) => [
    by === 'key' && r.key === ''
      ? '(no valid key)'
      : by === 'group' && r.group === ''
        ? '(no group)'
        : String(r[by] ?? ''),
    ...counterCells(r),
    ...(media ? unitCells(r) : []),
  ]);
  return renderTable(cells, [by, ...COUNTERS, ...(media ? UNITS : [])], rows, format);
}

function unitCells(r: UsageRow): string[] {
  return [String(r.images ?? 0), (r.audio_seconds ?? 0).toFixed(1), String(r.characters ?? 0)];
}

function pickUnits(r: UsageRow) {
  return { images: r.images ?? 0, audio_seconds: r.audio_seconds ?? 0, characters: r.characters ?? 0 };
}

const HASH_HEADER = ['key', 'hash', ...COUNTERS, 'last_used'];

function counterCells(r: UsageRow): string[] {
  return [
    String(r.requests),
    String(r.errors),
    String(r.input_tokens),
    String(r.output_tokens),
    r.cost_usd.toFixed(6),
  ];
}

function hashCells(r: UsageRow): string[] {
  // Records written before the prefix was kept have none.
  return [
    r.key === '' ? '(no valid key)' : (r.key ?? ''),
    r.hash ?? '(unknown)',
    ...counterCells(r),
    r.last_used ?? '',
  ];
}

function renderTable(cells: string[][], header: string[], rows: UsageRow[], format: string): string {
  if (format === 'csv') return toCsv([header, ...cells]);
  if (rows.length === 0) return 'No usage in that period.\n';
  const total = rows.reduce((s, r) => s + r.cost_usd, 0);
  const table = [header, ...cells.map((line) => line.map(printable))];
  const widths = header.map((_, i) => Math.max(...table.map((line) => (line[i] ?? '').length)));
  const lines = table.map((line) =>
    line.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '),
  );
  return `${lines.join('\n')}\n\nTotal: $${total.toFixed(4)} over ${rows.reduce((s, r) => s + r.requests, 0)} requests\n`;
}

/**
 * A cell as the terminal shows it: a refused request's model is whatever its client named, and a
 * control character (C0, DEL, C1: ESC starts the sequences that move the cursor, erase lines or
 * retitle the window) is printed as U+FFFD instead of run. The CSV and JSON keep the name as stored.
 */
function printable(cell: string): string {
  let out = '';
  for (const ch of cell) {
    const c = ch.charCodeAt(0);
    out += c < 0x20 || (c >= 0x7f && c <= 0x9f) ? '\uFFFD' : ch;
  }
  return out;
}

function pick(r: UsageRow) {
  return {
    requests: r.requests,
    errors: r.errors,
    input_tokens: r.input_tokens,
    output_tokens: r.output_tokens,
    cost_usd: r.cost_usd,
  };
}
