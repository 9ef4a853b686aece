import { describeRow } from '../../billing/render.js';
import type { BillRow } from '../../billing/types.js';

/**
 * The digest's bill check section (docs/bill-check.md#in-the-digest-slack-and-the-dashboard): the
 * latest UTC day checked up to the digest's day, in one line when every upstream matches, else
 * the rows that do not, "unavailable" said plainly.
 */

/** Slack caps a section at 3,000 characters: the rest is one command away. */
const MAX_ROWS = 12;

/** The rows of the latest date among `rows` (the store's rows of the last days). */
export function latestBillCheck(rows: readonly BillRow[]): BillRow[] {
  const latest =
    rows
      .map((r) => r.date)
      .sort()
      .at(-1) ?? '';
  return rows.filter((r) => r.date === latest);
}

export function billCheckLines(rows: readonly BillRow[]): string[] {
  if (rows.length === 0) return [];
  const date = rows[0]?.date ?? '';
  const upstreams = [...new Set(rows.map((r) => r.upstream))];
  const off = rows.filter((r) => r.verdict !== 'match');
  if (off.length === 0) {
    const metered = rows.reduce((s, r) => s + r.metered_usd, 0);
    return [
      `Bill check ${date} (UTC): ${upstreams.join(', ')} match the providers' own reports ($${metered.toFixed(2)} metered).`,
    ];
  }
  const shown = off.slice(0, MAX_ROWS).map(describeRow);
  if (off.length > MAX_ROWS)
    shown.push(`…and ${off.length - MAX_ROWS} more: tollgate reconcile --date ${date}`);
  return [`Bill check ${date} (UTC): ${off.length} of ${rows.length} rows do not match`, ...shown];
}
