import type { ConfigStatus } from '../config/reload/manager.js';
import type { KeyStatus } from '../policy/key-status.js';
import type { DisableRecord } from '../store/types.js';
import { meter } from './chart.js';
import { formatTime, formatUsd } from './format.js';
import { html, type SafeHtml } from './html.js';
import type { WindowUse } from './queries.js';

/** Small pieces shared by the overview and the key page. */

export function keyHref(name: string): string {
  return `/dashboard/keys/${encodeURIComponent(name)}`;
}

const SOURCES: Record<DisableRecord['source'], string> = {
  slack: 'Slack',
  admin_api: 'the admin API',
  dashboard: 'the dashboard',
  circuit_breaker: "tollgate's circuit breaker",
};

export function statusBadge(status: KeyStatus, override?: DisableRecord): SafeHtml {
  const label =
    status === 'disabled_in_file'
      ? 'disabled in keys.yaml'
      : status === 'disabled_override'
        ? `disabled from ${override ? SOURCES[override.source] : 'Slack'}`
        : status;
  return html`<span class="badge ${status}">${label}</span>`;
}

export function sourceLabel(source: string): string {
  return SOURCES[source as DisableRecord['source']] ?? source;
}

/** Spent against a limit, with a meter coloured at the alert thresholds. */
export function spendCell(w: WindowUse): SafeHtml {
  if (w.limitUsd === undefined) {
    return html`<div class="spend"><div class="amount"><span>${formatUsd(w.spentUsd)}</span><span class="limit">no limit</span></div></div>`;
  }
  const pct = w.ratio === null ? '' : `${Math.round(w.ratio * 100)}%`;
  return html`<div class="spend"><div class="amount"><span class="level-${w.level}">${formatUsd(w.spentUsd)}</span><span class="limit">${pct} of ${formatUsd(w.limitUsd)}</span></div>${meter(w.ratio ?? 0, w.level)}</div>`;
}

/** The header's config line: when the served revision was loaded, and a failed reload's error. */
export function configNote(status: ConfigStatus, timeZone: string): SafeHtml {
  const loaded = html`<span>loaded ${formatTime(status.loadedAt, timeZone, false)}</span>`;
  if (status.ok) return loaded;
  return html`${loaded}<span><strong>last reload failed</strong> ${formatTime(status.lastAttemptAt, timeZone, false)}</span>`;
}

/** A failed reload in full: the last good config keeps serving, and here is why the new one did not. */
export function reloadNotice(status: ConfigStatus, timeZone: string): SafeHtml | '' {
  if (status.ok) return '';
  const problems = status.lastError ?? [];
  return html`<div class="notice error" role="alert"><strong>The last config reload failed</strong> (${formatTime(
    status.lastAttemptAt,
    timeZone,
  )}); the gateway keeps serving revision <code>${status.revision}</code>.
  ${problems.length > 0 ? html`<ul>${problems.map((p) => html`<li><code>${p.file}:${p.line}:${p.col}</code> ${p.message}</li>`)}</ul>` : ''}</div>`;
}
