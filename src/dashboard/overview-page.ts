import { stackedBars } from './chart.js';
import { formatInt, formatRate, formatTime, formatUsd, relativeDays } from './format.js';
import { html, type SafeHtml } from './html.js';
import { modelColumns } from './model-columns.js';
import { keyHref, spendCell, statusBadge } from './parts.js';
import { isExpiringSoon, type KeyRow, type Overview } from './queries.js';
import { type Column, sortedTable } from './table.js';

const LEVEL_RANK = { ok: 0, warn: 1, over: 2 };

/** The overview: which tool is spending money, at a glance. */
export function overviewBody(
  o: Overview,
  path: string,
  query: URLSearchParams,
  findings: SafeHtml = html``,
): SafeHtml {
  const active = o.keys.filter((k) => k.status === 'active').length;
  const errorRateToday = o.totals.requestsToday > 0 ? o.totals.errorsToday / o.totals.requestsToday : null;
  const today = o.days[o.days.length - 1] ?? '';
  return html`<h1>Spend</h1>
<p class="sub">Today is ${today} and budgets reset at midnight ${o.timeZone}.</p>
<div class="stats">
  ${stat('Today', formatUsd(o.totals.today), `${formatInt(o.totals.requestsToday)} requests`)}
  ${stat('This month', formatUsd(o.totals.month), o.month)}
  ${stat('Errors today', formatRate(errorRateToday), `${formatInt(o.totals.errorsToday)} failed requests`)}
  ${stat('Keys', `${active} active`, `${o.keys.length} in keys.yaml`)}
</div>
${attention(o)}
${findings}
<div class="grid">
  <section class="card"><div class="card-head"><h2>Spend per day by key</h2><a class="button small" href="/dashboard/usage.csv?by=day&amp;since=${o.since}" download>CSV</a></div>
  ${stackedBars({ days: o.days, series: o.byKey, label: 'Spend per day over the last 30 days, by key', href: (n) => (n ? keyHref(n) : null) })}</section>
  <section class="card"><div class="card-head"><h2>Spend per day by model</h2><a class="button small" href="/dashboard/usage.csv?by=model&amp;since=${o.since}" download>CSV</a></div>
  ${stackedBars({ days: o.days, series: o.byModel, label: 'Spend per day over the last 30 days, by model' })}</section>
</div>
${sortedTable<KeyRow>({
  id: 'keys',
  caption: 'Keys',
  columns: keyColumns(o),
  rows: o.keys,
  path,
  query,
  defaultSort: { col: 'month', dir: 'desc' },
  csv: `/dashboard/usage.csv?by=key&since=${o.month}-01`,
  empty: 'keys.yaml has no keys yet.',
  limit: 100,
})}
${sortedTable({
  id: 'models',
  caption: 'Models, last 30 days',
  columns: modelColumns(true),
  rows: o.models,
  path,
  query,
  defaultSort: { col: 'cost', dir: 'desc' },
  csv: `/dashboard/usage.csv?by=model&since=${o.since}`,
  empty: 'No requests in the last 30 days.',
})}`;
}

function stat(label: string, value: string, note: string): SafeHtml {
  return html`<section class="card stat"><div class="label">${label}</div><div class="value">${value}</div><div class="note">${note}</div></section>`;
}

function keyColumns(o: Overview): Column<KeyRow>[] {
  return [
    {
      id: 'key',
      label: 'Key',
      value: (r) => r.key.name,
      cell: (r) =>
        html`<a href="${keyHref(r.key.name)}">${r.key.name}</a>${r.key.description ? html`<span class="desc">${r.key.description}</span>` : ''}`,
    },
    { id: 'status', label: 'Status', value: (r) => r.status, cell: (r) => statusBadge(r.status, r.override) },
    {
      id: 'today',
      label: 'Today',
      numeric: true,
      value: (r) => r.today.spentUsd,
      cell: (r) => spendCell(r.today),
    },
    {
      id: 'month',
      label: 'This month',
      numeric: true,
      value: (r) => r.month.spentUsd,
      cell: (r) => spendCell(r.month),
    },
    {
      id: 'requests',
      label: 'Requests 7d',
      numeric: true,
      value: (r) => r.requests7,
      cell: (r) => formatInt(r.requests7),
    },
    {
      id: 'errors',
      label: 'Errors 7d',
      numeric: true,
      value: (r) => r.errorRate7,
      cell: (r) => formatRate(r.errorRate7),
    },
    {
      id: 'active',
      label: 'Last active',
      value: (r) => r.lastActiveDay,
      cell: (r) => r.lastActiveDay ?? 'not in 30 days',
    },
    {
      id: 'expires',
      label: 'Expires',
      value: (r) => r.key.expires ?? null,
      cell: (r) =>
        r.key.expiresAt === undefined
          ? 'never'
          : html`${r.key.expires}${isExpiringSoon(r.key, o.now) ? html` <span class="level-warn">(${relativeDays(r.key.expiresAt, o.now)})</span>` : ''}`,
    },
  ];
}

/** Keys near or over a limit, disabled, expired or about to expire, and failing keys. */
function attention(o: Overview): SafeHtml {
  const items: { rank: number; line: SafeHtml }[] = [];
  for (const r of o.keys) {
    const link = html`<a href="${keyHref(r.key.name)}">${r.key.name}</a>`;
    if (r.status === 'disabled_in_file') {
      items.push({
        rank: 1,
        line: html`${link} ${statusBadge(r.status)} <span class="why">set <code>disabled: true</code> in keys.yaml</span>`,
      });
      continue;
    }
    if (r.status === 'disabled_override' && r.override) {
      const d = r.override;
      items.push({
        rank: 3,
        line: html`${link} ${statusBadge(r.status, d)} <span class="why">by ${d.by} ${formatTime(d.at, o.timeZone, false)}: ${d.reason}</span>`,
      });
      continue;
    }
    if (r.status === 'expired') {
      items.push({
        rank: 0,
        line: html`${link} ${statusBadge(r.status)} <span class="why">expired ${r.key.expires}</span>`,
      });
      continue;
    }
    if (r.level !== 'ok') {
      const w =
        LEVEL_RANK[r.today.level] >= LEVEL_RANK[r.month.level]
          ? { name: 'daily', u: r.today }
          : { name: 'monthly', u: r.month };
      const verb = r.level === 'over' ? 'at or over' : 'near';
      items.push({
        rank: r.level === 'over' ? 5 : 4,
        line: html`${link} <span class="level-${r.level}">${verb} its ${w.name} limit</span> <span class="why">${formatUsd(w.u.spentUsd)} of ${formatUsd(w.u.limitUsd ?? 0)}</span>`,
      });
    }
    if (isExpiringSoon(r.key, o.now) && r.key.expiresAt !== undefined) {
      items.push({
        rank: 2,
        line: html`${link} <span class="level-warn">expires ${relativeDays(r.key.expiresAt, o.now)}</span> <span class="why">${r.key.expires}</span>`,
      });
    }
    if (r.errorRate7 !== null && r.requests7 >= 20 && r.errorRate7 >= 0.25) {
      items.push({
        rank: 2,
        line: html`${link} <span class="level-warn">${formatRate(r.errorRate7)} of requests failed</span> <span class="why">${formatInt(r.requests7)} requests in 7 days</span>`,
      });
    }
  }
  items.sort((a, b) => b.rank - a.rank);
  const shown = items.slice(0, 12);
  return html`<section class="card" id="attention"><div class="card-head"><h2>Needs attention</h2></div>${
    shown.length === 0
      ? html`<p class="empty">Nothing: no key is near a limit, disabled or about to expire.</p>`
      : html`<ul class="attention">${shown.map((i) => html`<li>${i.line}</li>`)}</ul>${
          items.length > shown.length
            ? html`<p class="more">and ${items.length - shown.length} more; sort the keys table by status or spend.</p>`
            : ''
        }`
  }</section>`;
}
