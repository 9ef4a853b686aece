import type { Config } from '../../config/types.js';
import { computeKeyByKey } from '../../insights/findings-cache.js';
import type { InsightReader } from '../../insights/read-period.js';
import type { Finding, FindingKind } from '../../insights/types.js';
import { dayRange } from '../../windows/bounds.js';
import { formatPercent, formatUsd } from './money.js';

/**
 * The digest's "Why it costs" (docs/insights.md): the day's dearest findings with their dollars
 * and the change that would cut them, and a line for a group whose keys share a cause (one
 * change to the group's clients, or to its limits, then fixes them all).
 */

/** Findings shown per key and in all: the digest is read on a phone. */
const PER_KEY = 2;
const SHOWN = 8;

export interface DigestGroupInsight {
  group: string;
  kind: FindingKind;
  keys: string[];
  usd: number;
}

export interface DigestInsights {
  findings: Finding[];
  groups: DigestGroupInsight[];
  /** The findings could not be read (the store failed): the digest goes out without them. */
  unavailable?: true;
}

/** The digest's findings, or a note that they could not be read: they never hold the digest back. */
export function insightLinesOrNote(
  store: InsightReader,
  config: Config,
  day: string,
): Promise<DigestInsights> {
  return buildInsightLines(store, config, day).catch(() => ({ findings: [], groups: [], unavailable: true }));
}

export async function buildInsightLines(
  store: InsightReader,
  config: Config,
  day: string,
): Promise<DigestInsights> {
  const { start, end } = dayRange(day, config.server.timezone);
  // Key by key, yielding between keys: the digest is built in the serving process, and the
  // embedded store reads on its event loop (insights/findings-cache.ts).
  const all = await computeKeyByKey(store, config, start, end);
  const perKey = new Map<string, number>();
  const findings = all
    .filter((f) => {
      const n = perKey.get(f.key) ?? 0;
      perKey.set(f.key, n + 1);
      return n < PER_KEY;
    })
    .sort((a, b) => b.usd - a.usd)
    .slice(0, SHOWN);
  return { findings, groups: sharedCauses(all, config) };
}

function sharedCauses(all: readonly Finding[], config: Config): DigestGroupInsight[] {
  const byGroupKind = new Map<string, DigestGroupInsight>();
  for (const f of all) {
    const group = config.keys[f.key]?.group;
    if (!group) continue;
    const id = `${group}\u0000${f.kind}`;
    const line = byGroupKind.get(id) ?? { group, kind: f.kind, keys: [], usd: 0 };
    line.keys.push(f.key);
    line.usd += f.usd;
    byGroupKind.set(id, line);
  }
  return [...byGroupKind.values()].filter((l) => l.keys.length >= 2).sort((a, b) => b.usd - a.usd);
}

const kindWords = (kind: FindingKind) => kind.replace(/_/g, ' ');

/** `cursor-dev: long context, $31.00 (70% of its spend), 412 requests. <detail> → <suggestion>` */
export function describeFinding(f: Finding): { head: string; detail: string; suggestion: string } {
  return {
    head: `${f.key}: ${kindWords(f.kind)}, ${formatUsd(f.usd)} (${formatPercent(f.share)} of its spend), ${f.count} requests`,
    detail: f.detail,
    suggestion: f.suggestion,
  };
}

/** `group backend: loop on 3 keys (a, b, c), $6.10 in all` */
export function describeGroupInsight(g: DigestGroupInsight): string {
  return `group ${g.group}: ${kindWords(g.kind)} on ${g.keys.length} keys (${g.keys.join(', ')}), ${formatUsd(g.usd)} in all`;
}
