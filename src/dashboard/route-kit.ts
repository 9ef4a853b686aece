import type { NextFunction, Request, Response } from 'express';
import { maskSecrets } from '../keys/mask-secrets.js';
import { sessionOf } from './auth.js';
import type { DashboardDeps } from './deps.js';
import { type HtmlValue, html } from './html.js';
import { createInsightsCache } from './insights-cache.js';
import { createDashboardInsights, type DashboardInsights } from './insights-section.js';
import { page, sendPage } from './layout.js';
import { configNote } from './parts.js';
import { loadOverview } from './queries.js';
import { createRollupCache, type RollupCache } from './rollup-cache.js';
import { createSessions, type Session, type Sessions } from './session.js';

/** What the dashboard's routes share: sessions, the rollup cache, flashes, and how a page is sent. */
export interface RouteKit {
  deps: DashboardDeps;
  sessions: Sessions;
  rollup: RollupCache;
  /** "Why it costs": the findings on the overview (cached) and on a key's page. */
  insights: DashboardInsights;
  /** One-shot messages after a redirect (disable, enable), per session; bounded. */
  flashes: Map<string, { ok: boolean; text: string }>;
  /** The server's timezone under the config in force now. */
  tz(): string;
  render(res: Response, status: number, title: string, body: HtmlValue, session?: Session): void;
  /** Middleware: a form whose CSRF token does not match its session is answered 403. */
  requireCsrf(req: Request, res: Response, next: NextFunction): void;
  unknownKey(res: Response, name: string, session: Session, message?: string): void;
}

export function createRouteKit(deps: DashboardDeps): RouteKit {
  const sessions = createSessions({
    adminToken: deps.adminToken,
    viewerToken: deps.viewerToken,
    clock: deps.clock,
    store: deps.store,
    ...(deps.sessionTtlMs === undefined ? {} : { ttlMs: deps.sessionTtlMs }),
  });
  const rollup = createRollupCache(deps);
  // Read the past 30 days into the cache now, so the first person to open the page does not wait.
  loadOverview(deps, rollup).catch((err: unknown) =>
    deps.log.debug({ err }, 'dashboard: could not warm the rollup cache'),
  );
  const tz = () => deps.config.current().config.server.timezone;
  const render = (res: Response, status: number, title: string, body: HtmlValue, session?: Session) => {
    const header = session
      ? {
          session,
          csrf: sessions.csrfToken(session),
          revision: deps.config.status().revision,
          configNote: configNote(deps.config.status(), tz()),
        }
      : undefined;
    sendPage(res, status, page(title, body, header));
  };
  return {
    deps,
    sessions,
    rollup,
    insights: createDashboardInsights(
      deps.findings ??
        createInsightsCache(deps.store, deps.clock, (err) =>
          deps.log.warn({ err }, 'dashboard: could not read the findings'),
        ),
    ),
    flashes: new Map(),
    tz,
    render,
    requireCsrf(req, res, next) {
      const session = sessionOf(res);
      if (sessions.checkCsrf(session, req.body?.csrf)) return void next();
      render(
        res,
        403,
        'Form expired',
        html`<h1>That form has expired</h1><p>Go back, reload the page and try again.</p>`,
        session,
      );
    },
    unknownKey(res, name, session, message) {
      render(
        res,
        404,
        'Unknown key',
        html`<h1>No key named ${maskSecrets(name)}</h1><p>${message ?? 'It is not in keys.yaml.'}</p><p><a href="/dashboard">Back to the overview</a></p>`,
        session,
      );
    },
  };
}

export function sendCsv(res: Response, filename: string, csv: string): void {
  const safe = filename.replace(/[^A-Za-z0-9._-]/g, '_');
  res
    .status(200)
    .type('text/csv; charset=utf-8')
    .setHeader('content-disposition', `attachment; filename="${safe}"`);
  res.send(csv);
}
