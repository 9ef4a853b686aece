import type { BillRow, Verdict } from '../store/bill-check-types.js';
import { formatUsd } from './format.js';
import { html, type SafeHtml } from './html.js';

/**
 * The overview's bill check card (docs/bill-check.md#in-the-digest-slack-and-the-dashboard): for
 * each upstream with a billing section, what tollgate metered against what the provider billed
 * over the last 30 UTC days, and a strip of the days, each in the colour of its worst verdict
 * (its numbers on hover). Absent when no upstream has a bill check.
 */

export const BILL_CHECK_DAYS = 30;

const RANK: Record<Verdict, number> = {
  match: 0,
  overmetered: 1,
  unavailable: 2,
  mispriced: 3,
  unmetered: 4,
};

interface DayCell {
  verdict: Verdict;
  metered: number;
  billed: number | null;
}

interface UpstreamDays {
  upstream: string;
  metered: number;
  billed: number;
  days: Map<string, DayCell>;
}

function byUpstream(rows: readonly BillRow[]): UpstreamDays[] {
  const out = new Map<string, UpstreamDays>();
  for (const r of rows) {
    const u: UpstreamDays = out.get(r.upstream) ?? {
      upstream: r.upstream,
      metered: 0,
      billed: 0,
      days: new Map(),
    };
    u.metered += r.metered_usd;
    u.billed += r.billed_usd ?? 0;
    const d: DayCell = u.days.get(r.date) ?? { verdict: 'match', metered: 0, billed: 0 };
    if (RANK[r.verdict] > RANK[d.verdict]) d.verdict = r.verdict;
    d.metered += r.metered_usd;
    d.billed = r.billed_usd === null || d.billed === null ? null : d.billed + r.billed_usd;
    u.days.set(r.date, d);
    out.set(r.upstream, u);
  }
  return [...out.values()].sort((a, b) => a.upstream.localeCompare(b.upstream));
}

/** The UTC days from `BILL_CHECK_DAYS` days before `today` up to the day before it, oldest first. */
export function billCheckDays(today: string): string[] {
  const end = Date.parse(`${today}T00:00:00Z`);
  return Array.from({ length: BILL_CHECK_DAYS }, (_, i) =>
    new Date(end - (BILL_CHECK_DAYS - i) * 86_400_000).toISOString().slice(0, 10),
  );
}

export function billCheckCard(rows: readonly BillRow[], days: readonly string[]): SafeHtml | '' {
  if (rows.length === 0) return '';
  const lines = byUpstream(rows).map((u) => {
    const strip = days.map((day) => {
      const d = u.days.get(day);
      const title = d
        ? `${day}: ${d.verdict}, metered ${formatUsd(d.metered)}, billed ${d.billed === null ? 'unknown' : formatUsd(d.billed)}`
        : `${day}: not checked`;
      return html`<span class="badge bill ${d ? d.verdict : 'none'}" title="${title}">${day.slice(8)}</span>`;
    });
    const delta = u.billed - u.metered;
    return html`<tr><td>${u.upstream}</td><td class="num">${formatUsd(u.metered)}</td><td class="num">${formatUsd(u.billed)}</td><td class="num">${delta >= 0 ? '+' : '-'}${formatUsd(Math.abs(delta))}</td><td class="bill-days">${strip}</td></tr>`;
  });
  return html`<section class="card" id="bill-check"><div class="card-head"><h2>Bill check, last ${BILL_CHECK_DAYS} days (UTC)</h2></div>
<p class="desc">What tollgate metered against what each provider's own usage report billed. Days: match, unmetered (the upstream key was used elsewhere: rotate it), overmetered, mispriced (a price is out of date), unavailable; <code>tollgate reconcile --date D</code> explains one.</p>
<div class="scroll"><table><thead><tr><th>Upstream</th><th class="num">Metered</th><th class="num">Billed</th><th class="num">Delta</th><th>Days</th></tr></thead><tbody>${lines}</tbody></table></div></section>`;
}
