import type { AuditEntry, UsageRecord } from '../store/types.js';
import { meter, stackedBars } from './chart.js';
import { formatInt, formatTime, formatUsd, relativeDays } from './format.js';
import { html, type SafeHtml } from './html.js';
import { modelColumns } from './model-columns.js';
import { sourceLabel, statusBadge } from './parts.js';
import type { KeyDetail, WindowDetail } from './queries.js';
import type { Session } from './session.js';
import { sortedTable } from './table.js';

export interface KeyPageContext {
  session: Session;
  csrf: string;
  path: string;
  query: URLSearchParams;
  /** One-shot message after a disable or enable. */
  flash?: { ok: boolean; text: string } | undefined;
}

/** A key's page: limits and what is left, facts from keys.yaml, its spend, requests and history. */
export function keyBody(d: KeyDetail, ctx: KeyPageContext, findings: SafeHtml = html``): SafeHtml {
  const k = d.key;
  const enc = encodeURIComponent(k.name);
  const since = d.days[0] ?? '';
  return html`<p class="crumbs"><a href="/dashboard">Overview</a> / ${k.name}</p>
<h1>${k.name} ${statusBadge(d.status, d.override)}</h1>
${k.description ? html`<p class="sub">${k.description}</p>` : ''}
${ctx.flash ? html`<div class="notice ${ctx.flash.ok ? 'ok' : 'error'}" role="status">${ctx.flash.text}</div>` : ''}
<div class="grid">
  <section class="card"><div class="card-head"><h2>Limits</h2></div>${limits(d)}</section>
  <section class="card"><div class="card-head"><h2>Key</h2></div>${facts(d)}</section>
</div>
${killSwitch(d, ctx)}
${findings}
<section class="card"><div class="card-head"><h2>Spend per day by model</h2><a class="button small" href="/dashboard/usage.csv?by=day&amp;key=${enc}&amp;since=${since}" download>CSV</a></div>
${stackedBars({ days: d.days, series: d.byModel, label: `Spend of ${k.name} per day over the last 30 days, by model`, fullWidth: true })}</section>
${sortedTable({
  id: 'models',
  caption: 'Models, last 30 days',
  columns: modelColumns(false),
  rows: d.models,
  path: ctx.path,
  query: ctx.query,
  defaultSort: { col: 'cost', dir: 'desc' },
  csv: `/dashboard/usage.csv?by=model&key=${enc}&since=${since}`,
  empty: 'No requests in the last 30 days.',
})}
${sortedTable({
  id: 'history',
  caption: 'Disable and enable history',
  columns: [
    { id: 'time', label: 'Time', value: (a: AuditEntry) => a.at, cell: (a) => formatTime(a.at, d.timeZone) },
    { id: 'action', label: 'Action', value: (a) => a.action },
    { id: 'by', label: 'By', value: (a) => a.actor },
    { id: 'via', label: 'Via', value: (a) => a.source, cell: (a) => sourceLabel(a.source) },
    { id: 'reason', label: 'Reason', value: (a) => a.reason, cell: (a) => a.reason ?? '–' },
    { id: 'result', label: 'Result', value: (a) => a.result },
  ],
  rows: d.audit,
  path: ctx.path,
  query: ctx.query,
  defaultSort: { col: 'time', dir: 'desc' },
  csv: `/dashboard/keys/${enc}/audit.csv`,
  empty: 'Nobody has disabled or enabled this key from Slack, the admin API or the dashboard.',
})}
${sortedTable({
  id: 'requests',
  caption: `Recent requests (latest ${d.recent.length})`,
  columns: [
    { id: 'time', label: 'Time', value: (r: UsageRecord) => r.ts, cell: (r) => formatTime(r.ts, d.timeZone) },
    {
      id: 'model',
      label: 'Model',
      value: (r) => r.model,
      cell: (r) =>
        html`${r.model ?? '–'}${
          r.requestedModel && r.requestedModel !== r.model
            ? html`<span class="desc">asked for ${r.requestedModel}</span>`
            : ''
        }`,
    },
    {
      id: 'status',
      label: 'Status',
      numeric: true,
      value: (r) => r.status,
      cell: (r) =>
        html`<span class="${r.status >= 400 ? 'level-over' : ''}">${r.status}</span>${r.errorCode ? html` <span class="desc">${r.errorCode}</span>` : ''}`,
    },
    {
      id: 'input',
      label: 'In tokens',
      numeric: true,
      value: (r) => r.inputTokens,
      cell: (r) => formatInt(r.inputTokens),
    },
    {
      id: 'output',
      label: 'Out tokens',
      numeric: true,
      value: (r) => r.outputTokens,
      cell: (r) => formatInt(r.outputTokens),
    },
    { id: 'cost', label: 'Cost', numeric: true, value: (r) => r.costUsd, cell: (r) => formatUsd(r.costUsd) },
    // What an image or audio request was (docs/api.md#images-and-audio); '–' for the rest.
    { id: 'units', label: 'Units', value: (r) => unitsText(r) ?? null, cell: (r) => unitsText(r) ?? '–' },
    {
      id: 'latency',
      label: 'Latency',
      numeric: true,
      value: (r) => r.latencyMs,
      cell: (r) => `${formatInt(r.latencyMs)} ms`,
    },
    {
      id: 'client',
      label: 'Client',
      value: (r) => r.userAgent,
      cell: (r) => html`<span class="ua">${r.userAgent ?? '–'}</span>`,
    },
    { id: 'ip', label: 'IP', value: (r) => r.ip, cell: (r) => r.ip ?? '–' },
    { id: 'source', label: 'Usage', value: (r) => r.usageSource },
  ],
  rows: d.recent,
  path: ctx.path,
  query: ctx.query,
  defaultSort: { col: 'time', dir: 'desc' },
  csv: `/dashboard/keys/${enc}/requests.csv`,
  empty: 'No requests recorded for this key.',
  limit: 25,
})}`;
}

function limits(d: KeyDetail): SafeHtml {
  const l = d.key.limits;
  const window = (w: WindowDetail) => {
    const label = `${w.name[0]?.toUpperCase()}${w.name.slice(1)}`;
    const name = w.group === undefined ? label : `${label}, group ${w.group}`;
    const resets = `resets ${formatTime(w.resetsAt, d.timeZone, false)}`;
    if (w.limitUsd === undefined) {
      return html`<div class="window"><div class="window-head"><strong>${name}</strong><span>${formatUsd(w.spentUsd)} spent, no limit</span></div>
      <div class="window-foot"><span></span><span>${resets}</span></div></div>`;
    }
    const pct = `${Math.round((w.ratio ?? 0) * 100)}%`;
    return html`<div class="window"><div class="window-head"><strong>${name}</strong><span><span class="level-${w.level}">${formatUsd(w.spentUsd)}</span> of ${formatUsd(w.limitUsd)} (${pct})</span></div>
    ${meter(w.ratio ?? 0, w.level)}
    <div class="window-foot"><span><strong>${formatUsd(w.leftUsd ?? 0)}</strong> left${w.reservedUsd > 0 ? html`, ${formatUsd(w.reservedUsd)} reserved by requests in flight` : ''}</span><span>${resets}</span></div></div>`;
  };
  const other = [
    ['Requests per minute', l.rpm === undefined ? 'no limit' : `${formatInt(l.rpm)} (rolling 60 s)`],
    ['Tokens per minute', l.tpm === undefined ? 'no limit' : `${formatInt(l.tpm)} (rolling 60 s)`],
    ['Parallel requests', l.maxParallel === undefined ? 'no limit' : formatInt(l.maxParallel)],
    ['Output tokens per request', l.maxOutputTokens === undefined ? 'no cap' : formatInt(l.maxOutputTokens)],
  ];
  return html`${d.windows.map(window)}
  <dl class="facts">${other.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function facts(d: KeyDetail): SafeHtml {
  const k = d.key;
  const group = k.group;
  const tags = Object.entries(k.tags);
  const rows: [string, SafeHtml | string][] = [
    ['Owner', k.owner ?? '–'],
    ...(typeof group === 'string' ? ([['Group', group]] as [string, string][]) : []),
    [
      'Tags',
      tags.length === 0 ? '–' : html`${tags.map(([t, v]) => html`<span class="tag">${t}: ${v}</span>`)}`,
    ],
    [
      'Expires',
      k.expiresAt === undefined
        ? 'never'
        : html`${k.expires} <span class="${d.now >= k.expiresAt ? 'level-over' : ''}">(${relativeDays(k.expiresAt, d.now)})</span>`,
    ],
    ['Models', k.models ? k.models.join(', ') : 'every model'],
    ['Hashes', `${k.hashes.length}${k.hashes.length > 1 ? ' (being rotated)' : ''}`],
  ];
  if (d.override) {
    const o = d.override;
    rows.push([
      'Disabled',
      html`by ${o.by} via ${sourceLabel(o.source)}, ${formatTime(o.at, d.timeZone, false)}: ${o.reason}`,
    ]);
  }
  return html`<dl class="facts">${rows.map(([t, v]) => html`<dt>${t}</dt><dd>${v}</dd>`)}</dl>`;
}

function killSwitch(d: KeyDetail, ctx: KeyPageContext): SafeHtml {
  const action = (verb: 'disable' | 'enable') => `/dashboard/keys/${encodeURIComponent(d.key.name)}/${verb}`;
  if (ctx.session.role !== 'admin') {
    return html`<section class="card"><div class="card-head"><h2>Kill switch</h2></div><p class="empty">You are signed in as a viewer. Disabling a key takes the admin token (or <code>/disable-key ${d.key.name}</code> in Slack).</p></section>`;
  }
  let body: SafeHtml;
  if (d.status === 'disabled_override') {
    body = html`<p>Disabled by ${d.override?.by ?? '?'}: ${d.override?.reason ?? ''}. Enabling lifts this disable only; keys.yaml and the expiry still apply.</p>
    <form method="post" action="${action('enable')}" class="inline"><input type="hidden" name="csrf" value="${ctx.csrf}"><button class="primary" type="submit">Enable key</button></form>`;
  } else if (d.status === 'disabled_in_file') {
    body = html`<p class="empty">keys.yaml disables this key (<code>disabled: true</code>); enabling it takes a pull request.</p>`;
  } else {
    body = html`<p>Clients using this key get <code>401 key_disabled</code> on every replica within a second, until it is enabled again. The disable is audited and announced in Slack.</p>
    <form method="post" action="${action('disable')}" class="inline"><input type="hidden" name="csrf" value="${ctx.csrf}">
    <input type="text" name="reason" maxlength="500" placeholder="Reason (shown in Slack and the audit log)" aria-label="Reason">
    <button class="danger" type="submit">Disable key</button></form>`;
  }
  return html`<section class="card" id="kill-switch"><div class="card-head"><h2>Kill switch</h2></div>${body}</section>`;
}

/** `2 images`, `61.5 s audio`, `1,234 chars`; undefined for a request that was none of these. */
function unitsText(r: UsageRecord): string | undefined {
  const parts: string[] = [];
  if (r.images) parts.push(`${formatInt(r.images)} image${r.images === 1 ? '' : 's'}`);
  if (r.audioSeconds) parts.push(`${r.audioSeconds.toFixed(1)} s audio`);
  if (r.characters) parts.push(`${formatInt(r.characters)} chars`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}
