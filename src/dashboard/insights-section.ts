import type { Config } from '../config/types.js';
import type { FindingsCache, FindingsSnapshot } from '../insights/findings-cache.js';
import type { Finding } from '../insights/types.js';
import { formatUsd } from './format.js';
import { html, type SafeHtml } from './html.js';
import { INSIGHT_DAYS } from './insights-cache.js';
import { keyHref } from './parts.js';

/** "Why it costs" (docs/insights.md): a key's findings on its page, the dearest ones on the overview. */

const OVERVIEW_FINDINGS = 5;

export interface DashboardInsights {
  /** The dearest findings of every key, from the shared cache (never computed inline). */
  top(config: Config): FindingsSnapshot;
  /** One key's findings, from the same cache. */
  ofKey(config: Config, key: string): FindingsSnapshot;
}

export function createDashboardInsights(cache: FindingsCache): DashboardInsights {
  return {
    top(config) {
      const { findings, computing } = cache.peek(config);
      const dearest = findings && [...findings].sort((a, b) => b.usd - a.usd).slice(0, OVERVIEW_FINDINGS);
      return { findings: dearest, computing };
    },
    ofKey(config, key) {
      const { findings, computing } = cache.peek(config);
      return { findings: findings ? findings.filter((f) => f.key === key) : null, computing };
    },
  };
}

/** Said while the findings are being read: the page never waits for them. */
function computingNote(snapshot: FindingsSnapshot): SafeHtml {
  if (!snapshot.computing) return html``;
  return snapshot.findings === null
    ? html`<p class="desc">Computing… the findings of the last ${INSIGHT_DAYS} days are being read; reload in a moment.</p>`
    : html`<p class="desc">Computing… these are the last findings read; newer ones follow in a moment.</p>`;
}

function item(f: Finding, withKey: boolean): SafeHtml {
  return html`<li class="finding">
  <p><strong>${withKey ? html`<a href="${keyHref(f.key)}">${f.key}</a>: ` : ''}${f.kind.replace(/_/g, ' ')}</strong>
  <span class="num">${formatUsd(f.usd)}</span> <span class="desc">${Math.round(f.share * 100)}% of the key's spend, ${f.count} requests</span></p>
  <p>${f.detail}</p>
  <p class="desc">→ ${f.suggestion}</p>
</li>`;
}

/** The "Why it costs" card of a key's page. */
export function keyFindings(snapshot: FindingsSnapshot): SafeHtml {
  const findings = snapshot.findings;
  return html`<section class="card" id="why-it-costs"><div class="card-head"><h2>Why it costs (last ${INSIGHT_DAYS} days)</h2></div>
${computingNote(snapshot)}${findings === null ? '' : findings.length === 0 ? html`<p class="desc">Nothing stands out: no finding covers $0.01 or 5% of this key's spend.</p>` : html`<ul class="findings">${findings.map((f) => item(f, false))}</ul>`}
</section>`;
}

/** The overview's card: the dearest findings of all keys. */
export function topFindings(snapshot: FindingsSnapshot): SafeHtml {
  const findings = snapshot.findings ?? [];
  if (findings.length === 0 && !snapshot.computing) return html``;
  return html`<section class="card" id="why-it-costs"><div class="card-head"><h2>Why it costs (last ${INSIGHT_DAYS} days)</h2></div>
${computingNote(snapshot)}<ul class="findings">${findings.map((f) => item(f, true))}</ul>
</section>`;
}
