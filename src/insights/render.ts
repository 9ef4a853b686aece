import type { Finding } from './types.js';
import { percent, usd } from './words.js';

/** `tollgate insights` output: JSON (docs/insights.md's shape), a table, or Markdown for a PR or wiki. */

export function renderJson(findings: readonly Finding[]): string {
  return `${JSON.stringify(findings, null, 2)}\n`;
}

export function renderTable(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'No findings in that period: nothing stands out.\n';
  const out: string[] = [];
  let key: string | null = null;
  for (const f of findings) {
    if (f.key !== key) {
      if (key !== null) out.push('');
      key = f.key;
      out.push(`${f.key}`);
    }
    out.push(
      `  ${f.kind.padEnd(16)} ${usd(f.usd).padStart(10)} ${percent(f.share).padStart(5)} ${String(f.count).padStart(7)} req`,
    );
    out.push(`    ${f.detail}`);
    out.push(`    → ${f.suggestion}`);
  }
  return `${out.join('\n')}\n`;
}

/** Markdown escaping for names and sentences in a table cell. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function renderMarkdown(findings: readonly Finding[]): string {
  if (findings.length === 0) return '_No findings in that period: nothing stands out._\n';
  const rows = findings.map(
    (f) =>
      `| ${cell(f.key)} | \`${f.kind}\` | ${usd(f.usd)} | ${percent(f.share)} | ${f.count} | ${cell(f.detail)} | ${cell(f.suggestion)} |`,
  );
  return `| key | kind | usd | share | requests | detail | suggestion |\n| --- | --- | ---: | ---: | ---: | --- | --- |\n${rows.join('\n')}\n`;
}
