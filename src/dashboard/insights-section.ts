import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import { computeInsights } from '../insights/compute.js';
import type { InsightReader } from '../insights/read-period.js';
import type { Finding } from '../insights/types.js';
import { formatUsd } from './format.js';
import { html, type SafeHtml } from './html.js';
import { keyHref } from './parts.js';

/** "Why it costs" (docs/insights.md): a key's findings on its page, the dearest ones on the overview. */

/** The period the dashboard explains: the last 7 days, as `tollgate insights` by default. */
export const INSIGHT_DAYS = 7;
/** The overview reads every key's records: at most once per this long, shared by every viewer. */
export const OVERVIEW_INSIGHTS_TTL_MS = 10 * 60_000;
const OVERVIEW_FINDINGS = 5;

export interface DashboardInsights {
  /** The dearest findings of every key, cached for OVERVIEW_INSIGHTS_TTL_MS. */
  top(config: Config): Promise<Finding[]>;
  /** One key's findings, read when its page is. */
  ofKey(config: Config, key: string): Promise<Finding[]>;
}

export function createDashboardInsights(store: InsightReader, clock: Clock): DashboardInsights {
  let cached: { at: number; config: Config; findings: Finding[] } | null = null;
  const read = (config: Config, key?: string) => {
    const now = clock();
    return computeInsights({
      store,
      config,
      since: now - INSIGHT_DAYS * 86_400_000,
      until: now + 1,
      ...(key === undefined ? {} : { key }),
    });
  };
  return {
    async top(config) {
      const now = clock();
      if (!cached || cached.config !== config || now - cached.at >= OVERVIEW_INSIGHTS_TTL_MS) {
        const all = await read(config);
        cached = {
          at: now,
          config,
          findings: [...all].sort((a, b) => b.usd - a.usd).slice(0, OVERVIEW_FINDINGS),
        };
      }
      return cached.findings;
    },
    ofKey: (config, key) => read(config, key),
  };
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
export function keyFindings(findings: readonly Finding[]): SafeHtml {
  return html`<section class="card" id="why-it-costs"><div class="card-head"><h2>Why it costs (last ${INSIGHT_DAYS} days)</h2></div>
${findings.length === 0 ? html`<p class="desc">Nothing stands out: no finding covers $0.01 or 5% of this key's spend.</p>` : html`<ul class="findings">${findings.map((f) => item(f, false))}</ul>`}
</section>`;
}

/** The overview's card: the dearest findings of all keys. */
export function topFindings(findings: readonly Finding[]): SafeHtml {
  if (findings.length === 0) return html``;
  return html`<section class="card" id="why-it-costs"><div class="card-head"><h2>Why it costs (last ${INSIGHT_DAYS} days)</h2></div>
<ul class="findings">${findings.map((f) => item(f, true))}</ul>
</section>`;
}
