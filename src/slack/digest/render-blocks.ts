import { billCheckLines } from './bill-check-lines.js';
import type { Digest, DigestFlag } from './build-digest.js';
import { describeGroupLine } from './group-lines.js';
import { describeFinding, describeGroupInsight } from './insight-lines.js';
import { formatUsd } from './money.js';
import {
  describeFooter,
  describeMonth,
  describeNoTraffic,
  describeRequests,
  describeSpend,
  hasTraffic,
} from './render-summary.js';
import { renderKeyTable } from './render-table.js';

/**
 * The digest as a Slack message: Block Kit plus the plain-text `text` Slack shows in
 * notifications and to clients without blocks. Slack caps a section's text at 3,000 characters
 * and a message at 50 blocks, so the table shows the most expensive keys and the rest are summed.
 */

export type SlackBlock = Record<string, unknown>;

export interface DigestMessage {
  text: string;
  blocks: SlackBlock[];
}

const SECTION_LIMIT = 2_900;
const count = new Intl.NumberFormat('en-US');
const TABLE_ROWS = 15;

/** Slack reads `&`, `<` and `>` as markup in every text field. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function section(text: string): SlackBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

function context(text: string): SlackBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text }] };
}

function tableBlocks(d: Digest): SlackBlock[] {
  let shown = Math.min(TABLE_ROWS, d.keys.length);
  let table = escapeMrkdwn(renderKeyTable(d.keys.slice(0, shown)));
  while (shown > 1 && table.length + 6 > SECTION_LIMIT) {
    shown--;
    table = escapeMrkdwn(renderKeyTable(d.keys.slice(0, shown)));
  }
  const blocks = [section(`\`\`\`${table}\`\`\``)];
  const rest = d.keys.slice(shown);
  if (rest.length > 0) {
    const restCost = rest.reduce((sum, l) => sum + l.costUsd, 0);
    const restRequests = rest.reduce((sum, l) => sum + l.requests, 0);
    blocks.push(
      context(
        `…and ${rest.length} more key${rest.length === 1 ? '' : 's'}: ${formatUsd(restCost)}, ${count.format(restRequests)} requests. \`tollgate digest --dry-run --date ${d.day}\` shows them all.`,
      ),
    );
  }
  return blocks;
}

function flagBlock(f: DigestFlag): SlackBlock {
  let text = `*${escapeMrkdwn(f.title)}*`;
  // Flags whose title says it all read as one line of names; the others get a line per key.
  const compact = f.items.every((i) => i.detail === '');
  let listed = 0;
  for (const item of f.items) {
    const name = `\`${escapeMrkdwn(item.key)}\``;
    const piece = compact
      ? `${listed === 0 ? '\n' : ', '}${name}`
      : `\n• ${name}: ${escapeMrkdwn(item.detail)}`;
    // Leave room for the "…and N more" line.
    if (text.length + piece.length > SECTION_LIMIT - 40) break;
    text += piece;
    listed++;
  }
  if (listed < f.items.length) text += `\n…and ${f.items.length - listed} more`;
  return section(text);
}

function fallbackText(d: Digest): string {
  const head = `tollgate spend digest for ${d.day}: `;
  const body = hasTraffic(d) ? `${describeSpend(d)}; ${describeRequests(d)}.` : describeNoTraffic(d);
  const flags =
    d.flags.length > 0 ? ` Flags: ${d.flags.map((f) => `${f.title} (${f.items.length})`).join(', ')}.` : '';
  return escapeMrkdwn(`${head}${body} ${describeMonth(d)}.${flags}`);
}

export function renderDigestBlocks(d: Digest): DigestMessage {
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: `Spend digest for ${d.day}`, emoji: false } },
  ];
  const summary = hasTraffic(d)
    ? `*${escapeMrkdwn(describeSpend(d))}*\n${escapeMrkdwn(describeRequests(d))}`
    : `*${escapeMrkdwn(describeNoTraffic(d))}*`;
  blocks.push(section(`${summary}\n${escapeMrkdwn(describeMonth(d))}`));
  if (d.keys.length > 0) blocks.push(...tableBlocks(d));
  if (d.groups?.length) {
    const lines = d.groups.slice(0, TABLE_ROWS).map((g) => `• ${escapeMrkdwn(describeGroupLine(g))}`);
    if (d.groups.length > TABLE_ROWS) lines.push(`…and ${d.groups.length - TABLE_ROWS} more groups`);
    blocks.push(section(`*Groups*\n${lines.join('\n')}`));
  }
  if (d.billCheck?.length) blocks.push(section(escapeMrkdwn(billCheckLines(d.billCheck).join('\n'))));
  if (d.flags.length > 0) {
    blocks.push({ type: 'divider' });
    for (const f of d.flags) blocks.push(flagBlock(f));
  }
  const why = d.insights;
  if (why?.unavailable)
    blocks.push(section('*Why it costs*: the findings could not be read from the store today.'));
  if (why && (why.findings.length > 0 || why.groups.length > 0)) {
    // One section per finding: a section's text is capped at 3,000 characters.
    const groups = why.groups.map((g) => `• ${escapeMrkdwn(describeGroupInsight(g))}`);
    blocks.push({ type: 'divider' }, section(['*Why it costs*', ...groups].join('\n')));
    for (const f of why.findings) {
      const line = describeFinding(f);
      blocks.push(
        section(
          `*${escapeMrkdwn(line.head)}*\n${escapeMrkdwn(line.detail)}\n→ ${escapeMrkdwn(line.suggestion)}`,
        ),
      );
    }
  }
  blocks.push(context(escapeMrkdwn(describeFooter(d))));
  return { text: fallbackText(d), blocks };
}
