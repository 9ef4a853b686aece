import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { toGatewayError } from '../errors.js';
import { readCookie, requireSession, safeNext, sessionCookie, sessionOf } from './auth.js';
import { billCheckCard, billCheckDays } from './bill-check-section.js';
import { CsvQueryError, usageCsv } from './csv-exports.js';
import type { DashboardDeps } from './deps.js';
import { html } from './html.js';
import { topFindings } from './insights-section.js';
import { mountKeyRoutes } from './key-routes.js';
import { secureHeaders } from './layout.js';
import { overviewBody } from './overview-page.js';
import { reloadNotice } from './parts.js';
import { loadOverview } from './queries.js';
import { createRouteKit, sendCsv } from './route-kit.js';
import { SESSION_COOKIE, type Session } from './session.js';
import { signInBody } from './sign-in-page.js';

/**
 * The dashboard (docs/api.md#dashboard), mounted at /dashboard by the express app (off the /v1 hot path):
 * server-rendered pages that work without JavaScript, a signed session cookie, CSRF tokens on
 * every form, and the kill switch for admins.
 */
export function createDashboardRouter(deps: DashboardDeps): Router {
  const kit = createRouteKit(deps);
  const { sessions, rollup, tz, render, requireCsrf } = kit;
  const router = express.Router();
  router.use((_req, res, next) => {
    secureHeaders(res);
    next();
  });
  router.use(express.urlencoded({ extended: false, limit: '16kb' }));

  router.get('/sign-in', async (req, res) => {
    const next = safeNext(req.query.next);
    if (await sessions.check(readCookie(req, SESSION_COOKIE))) return void res.redirect(303, next);
    render(res, 200, 'Sign in', signInBody({ next }));
  });

  router.post('/sign-in', (req, res) => {
    const token = typeof req.body?.token === 'string' ? req.body.token : '';
    const next = safeNext(req.body?.next);
    const role = token ? sessions.roleOf(token) : null;
    if (!role) {
      deps.log.warn({ ip: req.socket.remoteAddress }, 'dashboard sign-in with a wrong token');
      return void render(
        res,
        401,
        'Sign in',
        signInBody({ next, error: 'That is neither the dashboard token nor the admin token.' }),
      );
    }
    const { cookie } = sessions.issue(role);
    res.setHeader('set-cookie', sessionCookie(req, cookie, Math.floor(sessions.ttlMs / 1000)));
    res.redirect(303, next);
  });

  router.use(requireSession(sessions));

  router.post('/sign-out', requireCsrf, async (req, res) => {
    await sessions.revoke(sessionOf(res));
    res.setHeader('set-cookie', sessionCookie(req, '', 0));
    res.redirect(303, '/dashboard/sign-in');
  });

  router.get('/', async (req, res) => {
    const session = sessionOf(res);
    const overview = await loadOverview(deps, rollup);
    const findings = kit.insights.top(deps.config.current().config);
    const billDays = billCheckDays(new Date(deps.clock()).toISOString().slice(0, 10));
    const billRows = await deps.store.billChecks(billDays[0] ?? '', billDays.at(-1) ?? '');
    const query = new URLSearchParams(req.url.split('?')[1] ?? '');
    render(
      res,
      200,
      'Spend',
      html`${reloadNotice(deps.config.status(), tz())}${overviewBody(overview, '/dashboard', query, html`${topFindings(findings)}${billCheckCard(billRows, billDays)}`)}`,
      session,
    );
  });

  router.get('/usage.csv', async (req, res) => {
    const query = new URLSearchParams(req.url.split('?')[1] ?? '');
    try {
      const csv = await usageCsv(deps.store, query, deps.clock(), tz());
      const by = query.get('by') ?? 'key';
      sendCsv(res, `tollgate-usage-by-${by}.csv`, csv);
    } catch (err) {
      if (!(err instanceof CsvQueryError)) throw err;
      res.status(400).type('text/plain').send(`${err.message}\n`);
    }
  });

  mountKeyRoutes(router, kit);

  router.use((_req, res) => {
    render(
      res,
      404,
      'Not found',
      html`<h1>No such page</h1><p><a href="/dashboard">Back to the overview</a></p>`,
      sessionOf(res),
    );
  });

  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = toGatewayError(err);
    if (e.code === 'internal_error') deps.log.error({ err: e.cause ?? err }, 'dashboard error');
    if (e.code === 'store_unavailable') deps.log.warn({ err: e.cause }, 'dashboard: store unavailable');
    if (res.headersSent) return void res.destroy();
    const session = res.locals.session as Session | undefined;
    const text =
      e.code === 'store_unavailable'
        ? 'The store cannot be reached right now; try again in a moment.'
        : e.code === 'invalid_request'
          ? 'That address is malformed; check the link.'
          : 'Something went wrong; the log has the details.';
    render(res, e.status, 'Error', html`<h1>${text}</h1>`, session);
  });

  return router;
}
