import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import { computeInsights, periodFacts } from './compute.js';
import type { InsightReader } from './read-period.js';
import type { Finding } from './types.js';

/**
 * Findings for pages and replies that must not wait on them (docs/insights.md#cost). Reading
 * every key's records is seconds of SQLite work on a busy store, and the embedded store answers
 * on the event loop: computed inline, one page view would hold up every request in flight. So
 * the findings are computed in the background, one key at a time with a turn of the event loop
 * between keys (a request waits for one key's queries at most), one computation at a time shared
 * by every caller, and callers read the last result, stale or none, without waiting.
 */

export interface FindingsSnapshot {
  /** Every key's findings from the last computation, or null before the first one ends. */
  findings: readonly Finding[] | null;
  /** A computation is running: the findings shown may be replaced shortly. */
  computing: boolean;
}

export interface FindingsCache {
  /** What is known now, never waiting; starts a computation when the last one is stale. */
  peek(config: Config): FindingsSnapshot;
  /** The result of a computation, the running one if any (one is started otherwise). */
  refresh(config: Config): Promise<readonly Finding[]>;
  /**
   * The last result when it is of `config` and younger than the TTL (what a page shows without
   * computing again), or null. Never starts a computation.
   */
  fresh(config: Config): readonly Finding[] | null;
}

export interface FindingsCacheOptions {
  store: InsightReader;
  clock: Clock;
  /** The period explained: the last `days` days. */
  days: number;
  /** A result older than this (or of another config) is computed again on the next peek. */
  ttlMs: number;
  /** A failed computation (store unavailable): the last result stays. */
  onError?: (err: unknown) => void;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Every configured key's findings for [since, until), one key at a time, yielding between keys.
 * Keys no longer in the config have no findings here (their records still count in `tollgate
 * insights`).
 */
export async function computeKeyByKey(
  store: InsightReader,
  config: Config,
  since: number,
  until: number,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const compute = await keyComputer(store, config, since, until);
  for (const key of Object.keys(config.keys).sort()) out.push(...(await compute(key)));
  return out;
}

/**
 * One key's findings for [since, until) at a time, after a turn of the event loop, for a caller
 * that chooses the keys (computeKeyByKey: all of them, in name order). `fewKeys`: the caller
 * computes a few keys of many (the digest's dearest), and each key's dearest day is read with it.
 */
export async function keyComputer(
  store: InsightReader,
  config: Config,
  since: number,
  until: number,
  fewKeys = false,
): Promise<(key: string) => Promise<Finding[]>> {
  // Offsets and dearest days once for the period, not once per key (a thousand keys made them
  // most of a digest's time).
  const period = await periodFacts({ store, config, since, until }, fewKeys);
  return async (key) => {
    await nextTurn();
    return computeInsights({ store, config, since, until, key, period });
  };
}

export function createFindingsCache(opts: FindingsCacheOptions): FindingsCache {
  let last: { at: number; config: Config; findings: readonly Finding[] } | null = null;
  let running: Promise<readonly Finding[]> | null = null;
  const stale = (config: Config) => !last || last.config !== config || opts.clock() - last.at >= opts.ttlMs;
  const refresh = (config: Config): Promise<readonly Finding[]> => {
    if (running) return running;
    const at = opts.clock();
    const run = computeKeyByKey(opts.store, config, at - opts.days * 86_400_000, at + 1)
      .then((findings) => {
        last = { at, config, findings };
        return findings;
      })
      .finally(() => {
        running = null;
      });
    running = run;
    return run;
  };
  return {
    peek(config) {
      if (!running && stale(config)) {
        refresh(config).catch((err: unknown) => opts.onError?.(err));
      }
      return { findings: last?.findings ?? null, computing: running !== null };
    },
    refresh,
    fresh(config) {
      return last && !stale(config) ? last.findings : null;
    },
  };
}
