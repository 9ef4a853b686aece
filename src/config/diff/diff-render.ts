import type { ChangeArea, ConfigChange } from './diff-change.js';

/**
 * Renders `diffConfigs` output: markdown for pull-request summaries and Slack, text for a
 * terminal. Each line starts with a mark so a reviewer scanning a long list sees what widens
 * access or spend (⚠) apart from what narrows it.
 */

const AREAS: [ChangeArea, string][] = [
  ['keys', 'Keys'],
  ['groups', 'Groups'],
  ['models', 'Models'],
  ['upstreams', 'Upstreams'],
  ['defaults', 'Defaults'],
  ['server', 'Server'],
  ['slack', 'Slack'],
];

function mark(c: ConfigChange): string {
  if (c.kind === 'key-added') return '➕';
  if (c.kind === 'key-removed') return '➖';
  if (c.kind === 'key-renamed') return '✏️';
  if (c.effect === 'widens' || c.effect === 'sensitive') return '⚠';
  if (c.effect === 'narrows') return '↓';
  return '•';
}

/** Keys added, removed or renamed carry their own mark; the headline counts them apart from ⚠. */
const KEY_MARKS: [ConfigChange['kind'], string, string][] = [
  ['key-added', '➕', 'added'],
  ['key-removed', '➖', 'removed'],
  ['key-renamed', '✏️', 'renamed'],
];

function summary(changes: ConfigChange[]): string {
  // Counted by the mark each line shows, so the headline's ⚠ count is the number of ⚠ lines.
  const warned = changes.filter((c) => mark(c) === '⚠');
  const widens = warned.filter((c) => c.effect === 'widens').length;
  const sensitive = warned.filter((c) => c.effect === 'sensitive').length;
  const parts = [`${changes.length} ${changes.length === 1 ? 'change' : 'changes'}`];
  if (widens > 0) parts.push(`⚠ ${widens} widen${widens === 1 ? 's' : ''} access or spend`);
  if (sensitive > 0)
    parts.push(`⚠ ${sensitive} change${sensitive === 1 ? 's' : ''} where traffic or secrets go`);
  for (const [kind, icon, verb] of KEY_MARKS) {
    const n = changes.filter((c) => c.kind === kind).length;
    if (n > 0) parts.push(`${icon} ${n} key${n === 1 ? '' : 's'} ${verb}`);
  }
  // A new or renamed key (fresh budgets) widens too, even though its line is not marked ⚠.
  if (changes.every((c) => c.effect !== 'widens' && c.effect !== 'sensitive'))
    parts.push('none widens access or spend');
  return `${parts.join('; ')}.`;
}

export function renderDiff(changes: ConfigChange[], format: 'markdown' | 'text'): string {
  if (changes.length === 0) return 'No changes to keys, limits, models or upstreams.\n';
  const md = format === 'markdown';
  const lines: string[] = [
    md ? `**tollgate diff**: ${summary(changes)}` : `tollgate diff: ${summary(changes)}`,
  ];
  for (const [area, title] of AREAS) {
    const inArea = changes.filter((c) => c.area === area);
    if (inArea.length === 0) continue;
    lines.push('', md ? `**${title}**` : `${title}:`);
    for (const c of inArea) {
      lines.push(
        md ? `- ${mark(c)} \`${c.subject}\`: ${c.detail}` : `  ${mark(c)} ${c.subject}: ${c.detail}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
