import { dayRange } from '../windows/bounds.js';

const RELATIVE = /^(\d+)([mhdw])$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Where the value came from, for messages: the CLI's `--since` flag or the admin API's `since=`
 * query parameter. A person who typed a URL should not be told about a flag.
 */
export type ArgStyle = 'flag' | 'query';

function subject(what: string, text: string, style: ArgStyle): string {
  return style === 'flag' ? `--${what} '${text}'` : `the query parameter ${what}=${text}`;
}

/** `--since 7d|24h|YYYY-MM-DD|ISO time` → epoch ms (a date means its local midnight). */
export function parseSince(text: string, now: number, timeZone: string, style: ArgStyle = 'flag'): number {
  const rel = RELATIVE.exec(text);
  if (rel) return now - Number(rel[1]) * (UNIT_MS[rel[2] ?? 'd'] ?? 0);
  if (DATE.test(text)) return dayRange(checkDate(text, 'since', style), timeZone).start;
  return parseInstant(
    text,
    subject('since', text, style),
    'a duration like 7d or 24h, a date like 2026-11-01, or an ISO time',
  );
}

/** `--until YYYY-MM-DD|ISO time` → epoch ms, exclusive (a date means through the end of that local day). */
export function parseUntil(text: string, timeZone: string, style: ArgStyle = 'flag'): number {
  if (DATE.test(text)) return dayRange(checkDate(text, 'until', style), timeZone).end;
  return parseInstant(text, subject('until', text, style), 'a date like 2026-11-01 or an ISO time');
}

/** `2026-02-30` matches the pattern but is no day: Date.UTC would quietly roll it into March. */
function checkDate(text: string, what: string, style: ArgStyle): string {
  const [y, m, d] = text.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) {
    throw new Error(`${subject(what, text, style)} is not a calendar date.`);
  }
  return text;
}

function parseInstant(text: string, subject: string, expected: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`${subject} is not ${expected}.`);
  return t;
}
