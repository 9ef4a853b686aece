import { billCheckLines } from './bill-check-lines.js';
import type { Digest } from './build-digest.js';
import { describeGroupLine } from './group-lines.js';
import { describeFinding, describeGroupInsight } from './insight-lines.js';
import {
  describeFooter,
  describeMonth,
  describeNoTraffic,
  describeRequests,
  describeSpend,
  hasTraffic,
} from './render-summary.js';
import { renderKeyTable } from './render-table.js';

/** The digest for a terminal (`tollgate digest --dry-run`): every key and every flag, no markup. */
export function renderDigestText(d: Digest): string {
  const out: string[] = [`tollgate spend digest for ${d.day} (${d.timeZone})`, ''];
  if (hasTraffic(d)) {
    out.push(describeSpend(d), describeRequests(d));
  } else {
    out.push(describeNoTraffic(d));
  }
  out.push(describeMonth(d));
  if (d.keys.length > 0) out.push('', renderKeyTable(d.keys));
  if (d.groups?.length) out.push('', 'Groups', ...d.groups.map((g) => `  ${describeGroupLine(g)}`));
  if (d.billCheck?.length) out.push('', ...billCheckLines(d.billCheck));
  if (d.flags.length > 0) {
    out.push('', 'Flags');
    for (const f of d.flags) {
      out.push(`  ${f.title}`);
      for (const item of f.items)
        out.push(item.detail ? `    - ${item.key}: ${item.detail}` : `    - ${item.key}`);
    }
  }
  if (d.insights?.unavailable)
    out.push('', 'Why it costs: the findings could not be read from the store today.');
  if (d.insights && (d.insights.findings.length > 0 || d.insights.groups.length > 0)) {
    out.push('', 'Why it costs');
    for (const g of d.insights.groups) out.push(`  ${describeGroupInsight(g)}`);
    for (const f of d.insights.findings) {
      const line = describeFinding(f);
      out.push(`  ${line.head}`, `    ${line.detail}`, `    → ${line.suggestion}`);
    }
  }
  out.push('', describeFooter(d));
  return `${out.join('\n')}\n`;
}
