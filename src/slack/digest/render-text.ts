import { billCheckLines } from './bill-check-lines.js';
import type { Digest } from './build-digest.js';
import { describeGroupLine } from './group-lines.js';
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
  out.push('', describeFooter(d));
  return `${out.join('\n')}\n`;
}
