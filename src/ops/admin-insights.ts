import type { Router } from 'express';
import type { Clock } from '../clock.js';
import type { ConfigHolder } from '../config/types.js';
import { computeInsights } from '../insights/compute.js';
import type { FindingsCache } from '../insights/findings-cache.js';
import type { InsightReader } from '../insights/read-period.js';
import { parseSince, parseUntil } from './time-args.js';

/**
 * `GET /admin/insights?key=&since=&until=` (docs/api.md#admin-api): the findings of
 * docs/insights.md as JSON. The default period (the last 7 days, no since or until) is the
 * dashboard's: while the dashboard's findings are fresh (docs/insights.md#cost) they are the answer,
 * so polling the API does not read the store again; any other period is computed when asked.
 */
export function addInsightsRoute(
  router: Router,
  deps: { config: ConfigHolder; store: InsightReader; clock: Clock; findings?: FindingsCache },
): void {
  router.get('/insights', async (req, res) => {
    const now = deps.clock();
    const { config } = deps.config.current();
    const tz = config.server.timezone;
    let since: number;
    let until: number;
    try {
      since = parseSince(typeof req.query.since === 'string' ? req.query.since : '7d', now, tz, 'query');
      until = typeof req.query.until === 'string' ? parseUntil(req.query.until, tz, 'query') : now + 1;
    } catch (err) {
      // The admin API's one error shape (admin.ts).
      res.status(400).json({
        error: {
          message: (err as Error).message,
          type: 'invalid_request_error',
          code: 'invalid_request',
          param: null,
        },
      });
      return;
    }
    const key = typeof req.query.key === 'string' && req.query.key !== '' ? req.query.key : undefined;
    const defaultPeriod = req.query.since === undefined && req.query.until === undefined;
    const cached = defaultPeriod ? deps.findings?.fresh(config) : null;
    if (cached) {
      res.json({ data: key ? cached.filter((f) => f.key === key) : cached });
      return;
    }
    const data = await computeInsights({ store: deps.store, config, since, until, ...(key ? { key } : {}) });
    res.json({ data });
  });
}
