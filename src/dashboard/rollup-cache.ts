import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { DailyTotal, UsageStore } from '../store/types.js';
import { dayRange } from '../windows/bounds.js';

/**
 * A closed day read this long after its end is final: a request is charged to the day it started
 * on, and one still in flight an hour after midnight is past any sane upstream timeout.
 */
const SETTLED_AFTER_MS = 60 * 60_000;
/** Re-read even a final day this often (in the background), for reservations recovered late. */
const MAX_AGE_MS = 60 * 60_000;

interface Entry {
  readAt: number;
  /** Read after the day's end plus the grace period: no request can still add to it. */
  final: boolean;
  byKey: Map<string, DailyTotal[]>;
  summary: DaySummary;
}

/** One day's rollup summed per key (model '') and per model (key ''). */
export interface DaySummary {
  perKey: DailyTotal[];
  perModel: DailyTotal[];
}

export interface RollupCache {
  /** Rollup rows of `days` (oldest first, the last one today) for one key. */
  rows(days: string[], timeZone: string, key: string): Promise<DailyTotal[]>;
  /** Per-key and per-model sums of `days`, oldest first: what the overview draws. */
  summaries(days: string[], timeZone: string): Promise<DaySummary[]>;
}

/**
 * Past days' rollup rows kept in memory, so a page reads only today's rows from the store: a
 * 30-day chart over a million requests would otherwise sum a few hundred thousand rollup rows
 * on every page view. A past day is cached once it is final (read after its end plus a grace
 * period) and re-read in the background every hour; today is always read live.
 */
export function createRollupCache(deps: {
  store: Pick<UsageStore, 'dailyTotals'>;
  clock: Clock;
  log: Logger;
}): RollupCache {
  const cache = new Map<string, Entry>();
  let refreshing: Promise<void> | null = null;
  // The first read of the past days (the slow one): later pages wait for it rather than repeat it.
  let filling: Promise<void> | null = null;

  async function load(fromDay: string, toDay: string, timeZone: string): Promise<void> {
    const readAt = deps.clock();
    const rows = await deps.store.dailyTotals({ fromDay, toDay });
    const fresh = new Map<string, Entry>();
    for (const r of rows) {
      let entry = fresh.get(r.day);
      if (!entry) {
        entry = { readAt, final: false, byKey: new Map(), summary: { perKey: [], perModel: [] } };
        fresh.set(r.day, entry);
      }
      const list = entry.byKey.get(r.key);
      if (list) list.push(r);
      else entry.byKey.set(r.key, [r]);
    }
    for (const day of daysBetween(fromDay, toDay)) {
      const entry = fresh.get(day) ?? {
        readAt,
        final: false,
        byKey: new Map(),
        summary: { perKey: [], perModel: [] },
      };
      // An unfinished day serves this page and is read again for the next one.
      entry.final = readAt >= dayRange(day, timeZone).end + SETTLED_AFTER_MS;
      entry.summary = summarize([...entry.byKey.values()].flat());
      cache.set(day, entry);
    }
  }

  /** Today's rows, read live, once the past days are in the cache. */
  async function prepare(days: string[], timeZone: string, key?: string): Promise<DailyTotal[]> {
    const past = days.slice(0, -1);
    const today = days[days.length - 1];
    if (filling) await filling.catch(() => {});
    const now = deps.clock();
    const missing = past.filter((d) => !cache.get(d)?.final);
    if (missing.length > 0) {
      filling = load(missing[0] ?? '', missing[missing.length - 1] ?? '', timeZone).finally(() => {
        filling = null;
      });
    }
    const [live] = await Promise.all([
      today === undefined
        ? Promise.resolve([])
        : deps.store.dailyTotals({ fromDay: today, toDay: today, ...(key === undefined ? {} : { key }) }),
      filling,
    ]);
    const stale = past.filter((d) => now - (cache.get(d)?.readAt ?? now) > MAX_AGE_MS);
    if (stale.length > 0 && !refreshing) {
      refreshing = load(stale[0] ?? '', stale[stale.length - 1] ?? '', timeZone)
        .catch((err: unknown) => deps.log.warn({ err }, 'dashboard: could not refresh past days'))
        .finally(() => {
          refreshing = null;
        });
    }
    for (const day of cache.keys()) if (!days.includes(day)) cache.delete(day);
    return live;
  }

  return {
    async rows(days, timeZone, key) {
      const live = await prepare(days, timeZone, key);
      const out: DailyTotal[] = [];
      for (const day of days.slice(0, -1)) out.push(...(cache.get(day)?.byKey.get(key) ?? []));
      out.push(...live);
      return out;
    },
    async summaries(days, timeZone) {
      const live = await prepare(days, timeZone);
      const empty = { perKey: [], perModel: [] };
      return [...days.slice(0, -1).map((d) => cache.get(d)?.summary ?? empty), summarize(live)];
    },
  };
}

/** Folds a day's rows (day, key, model) into sums per key and per model. */
export function summarize(rows: DailyTotal[]): DaySummary {
  const keys = new Map<string, DailyTotal>();
  const models = new Map<string, DailyTotal>();
  for (const r of rows) {
    add(keys, r.key, { ...r, model: '' });
    add(models, r.model, { ...r, key: '' });
  }
  return { perKey: [...keys.values()], perModel: [...models.values()] };
}

function add(into: Map<string, DailyTotal>, id: string, r: DailyTotal): void {
  const acc = into.get(id);
  if (!acc) {
    into.set(id, r);
    return;
  }
  acc.requests += r.requests;
  acc.errors += r.errors;
  acc.inputTokens += r.inputTokens;
  acc.outputTokens += r.outputTokens;
  acc.costUsd += r.costUsd;
}

/** Local days from `from` to `to` inclusive (`YYYY-MM-DD`, calendar arithmetic). */
function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  const [y, m, d] = from.split('-').map(Number) as [number, number, number];
  for (let t = Date.UTC(y, m - 1, d); ; t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    if (day > to) break;
    out.push(day);
  }
  return out;
}
