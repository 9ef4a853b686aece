import type { Config } from '../../config/types.js';
import { computeKeyByKey, keyComputer } from '../../insights/findings-cache.js';
import type { InsightReader } from '../../insights/read-period.js';
import { MIN_USD } from '../../insights/thresholds.js';
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
  const all = await findingsThatCanShow(store, config, start, end);
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

/**
 * The findings of every key whose findings could be shown, in key order as computeKeyByKey gives
 * them (the order ties are shown in): the keys of a group (a shared cause needs them all) and the
 * others dearest first, until no key left could reach the shown findings. A finding's dollars are
 * part of its key's spend, and the store bounds each key's spend from its rollup without reading
 * a record (spendCeilings), so a key whose bound is under MIN_USD or under the SHOWN-th finding
 * so far has none to show; the findings shown are those of every key computed. Key by key,
 * yielding between keys: the digest is built in the serving process, and the embedded store
 * reads on its event loop (insights/findings-cache.ts).
 */
async function findingsThatCanShow(
  store: InsightReader,
  config: Config,
  since: number,
  until: number,
): Promise<Finding[]> {
  if (!store.spendCeilings) return computeKeyByKey(store, config, since, until);
  const spend = await store.spendCeilings(since, until);
  // Room for the float noise of sums taken in another order (a finding's dollars against the
  // rollup's) and for each client group's dollars being rounded to 1e-10 before they are added
  // (hundreds of groups on one key): far above both, far below a cent.
  const ceiling = (key: string) => {
    const usd = spend.get(key) ?? 0;
    return usd + Math.abs(usd) * 1e-6 + 1e-6;
  };
  const keys = Object.keys(config.keys).filter((key) => ceiling(key) >= MIN_USD);
  const grouped = keys.filter((key) => config.keys[key]?.group);
  const others = keys
    .filter((key) => !config.keys[key]?.group)
    .sort((a, b) => ceiling(b) - ceiling(a) || (a < b ? -1 : 1));
  // Each computed key's dearest day is read with it while the group keys are under a third of
  // those with spend (the others are mostly left out); otherwise every key's days at once.
  const compute = await keyComputer(store, config, since, until, grouped.length * 3 < keys.length);
  const byKey = new Map<string, Finding[]>();
  // The dollars of the findings that would be shown so far, dearest first, SHOWN at most.
  const top: number[] = [];
  const add = (key: string, findings: Finding[]) => {
    byKey.set(key, findings);
    top.push(...findings.slice(0, PER_KEY).map((f) => f.usd));
    top.sort((a, b) => b - a).splice(SHOWN);
  };
  for (const key of grouped) add(key, await compute(key));
  for (const key of others) {
    if (top.length === SHOWN && ceiling(key) < (top[SHOWN - 1] as number)) break;
    add(key, await compute(key));
  }
  return [...byKey.keys()].sort().flatMap((key) => byKey.get(key) ?? []);
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
