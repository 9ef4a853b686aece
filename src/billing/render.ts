import type { BillRow } from './types.js';

/** The bill check's rows for people: the CLI table, and one-line sentences for the digest and Slack. */

const money = (n: number | null) =>
  n === null ? '—' : `$${n.toFixed(Math.abs(n) > 0 && Math.abs(n) < 0.01 ? 4 : 2)}`;
const signed = (n: number | null) => (n === null ? '—' : `${n >= 0 ? '+' : '-'}${money(Math.abs(n))}`);
const tokens = (t: BillRow['metered_tokens'] | null) =>
  t === null ? '—' : String(t.input + t.cached_input + t.cache_write + t.output);

export function renderBillTable(rows: readonly BillRow[]): string {
  if (rows.length === 0) return 'No upstream has a billing: section, or none was checked.\n';
  const header = [
    'date',
    'upstream',
    'model',
    'metered',
    'billed',
    'delta',
    'tokens (ours/theirs)',
    'verdict',
  ];
  const cells = rows.map((r) => [
    r.date,
    r.upstream,
    r.model,
    money(r.metered_usd),
    money(r.billed_usd),
    signed(r.delta_usd),
    `${tokens(r.metered_tokens)}/${tokens(r.billed_tokens)}`,
    r.verdict,
  ]);
  const table = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...table.map((line) => (line[i] ?? '').length)));
  const lines = table.map((line) =>
    line
      .map((c, i) => (i >= 3 && i <= 5 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  const notes = rows.filter((r) => r.verdict !== 'match').map((r) => `${r.upstream} ${r.model}: ${r.detail}`);
  return `${lines.join('\n')}\n${notes.length > 0 ? `\n${notes.join('\n')}\n` : ''}`;
}

/** What to do about a row, in one sentence. */
export function adviceFor(r: BillRow): string {
  switch (r.verdict) {
    case 'unmetered':
      return `the upstream key of '${r.upstream}' is used somewhere other than tollgate (leaked?): rotate it at the provider and update ${r.upstream}'s api_key`;
    case 'mispriced':
      return `a price is out of date: update the price catalog (upgrade tollgate) or set the model's prices in keys.yaml`;
    case 'overmetered':
      return 'tollgate counted more than the provider billed: budgets stay safe; check for requests the provider did not bill';
    case 'unavailable':
      return "the provider's report could not be read: check the admin key and its access";
    default:
      return '';
  }
}

/** One line per row, for the digest and Slack (plain text; the caller escapes for mrkdwn). */
export function describeRow(r: BillRow): string {
  if (r.verdict === 'unavailable') return `${r.upstream} ${r.model}: unavailable — ${r.detail}`;
  return `${r.upstream} ${r.model}: ${r.verdict} — metered ${money(r.metered_usd)}, billed ${money(r.billed_usd)} (${signed(r.delta_usd)}); ${r.detail}`;
}
