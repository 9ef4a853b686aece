import type { Clock } from '../clock.js';
import { createFindingsCache, type FindingsCache } from '../insights/findings-cache.js';
import type { InsightReader } from '../insights/read-period.js';

/*
 * The findings cache without the dashboard's pages: the server makes one for Slack's /spend NAME
 * and the dashboard, and imports this module, not insights-section.ts, so that a gateway without
 * a dashboard does not load its pages and charts (server.ts).
 */

/** The period the dashboard explains: the last 7 days, as `tollgate insights` by default. */
export const INSIGHT_DAYS = 7;
/** Findings are read again, in the background, when the last ones are older than this. */
export const OVERVIEW_INSIGHTS_TTL_MS = 10 * 60_000;

/** The findings cache the dashboard (and Slack's /spend NAME, given the same one) reads. */
export function createInsightsCache(
  store: InsightReader,
  clock: Clock,
  onError?: (err: unknown) => void,
): FindingsCache {
  return createFindingsCache({
    store,
    clock,
    days: INSIGHT_DAYS,
    ttlMs: OVERVIEW_INSIGHTS_TTL_MS,
    ...(onError ? { onError } : {}),
  });
}
