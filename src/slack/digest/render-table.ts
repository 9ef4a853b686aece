import type { DigestKeyLine } from './key-line.js';
import { formatPercent, formatUsd } from './money.js';

/**
 * The per-key table as fixed-width text, shared by the terminal and by Slack (inside a code
 * block, where monospace keeps the columns straight).
 */

const MAX_NAME = 28;
const MAX_MODEL = 24;

const count = new Intl.NumberFormat('en-US');

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** `3 img, 90 s, 1.2k ch`: a key's image and audio units of the day. */
function mediaCell(l: DigestKeyLine): string {
  const m = l.media;
  if (!m) return '-';
  const parts: string[] = [];
  if (m.images > 0) parts.push(`${count.format(m.images)} img`);
  if (m.audioSeconds > 0) parts.push(`${count.format(Math.round(m.audioSeconds))} s`);
  if (m.characters > 0) parts.push(`${compact.format(m.characters)} ch`);
  return parts.join(', ');
}

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

export function renderKeyTable(lines: DigestKeyLine[]): string {
  const media = lines.some((l) => l.media !== undefined);
  const header = [
    'key',
    'spend',
    'requests',
    'errors',
    '401',
    '403',
    '404',
    '429',
    '5xx',
    'daily',
    ...(media ? ['media'] : []),
    'top model',
  ];
  const rows = lines.map((l) => [
    clip(l.inConfig ? l.key : `${l.key}*`, MAX_NAME),
    formatUsd(l.costUsd),
    count.format(l.requests),
    count.format(l.errors),
    count.format(l.errorsByClass['401']),
    count.format(l.errorsByClass['403']),
    count.format(l.errorsByClass['404']),
    count.format(l.errorsByClass['429']),
    count.format(l.errorsByClass['5xx']),
    l.dailyShare === null ? '-' : formatPercent(l.dailyShare),
    ...(media ? [mediaCell(l)] : []),
    clip(l.topModel ?? '-', MAX_MODEL),
  ]);
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  // Names and models read left-aligned; numbers right-aligned so digits line up.
  const leftAligned = new Set([0, header.length - 1]);
  const out = all.map((r) =>
    r
      .map((cell, i) => (leftAligned.has(i) ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  const footnote = lines.some((l) => !l.inConfig) ? '\n* no longer in keys.yaml' : '';
  return out.join('\n') + footnote;
}
