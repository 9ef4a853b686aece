import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { ownEntry } from '../config/own.js';
import { toGatewayError } from '../errors.js';
import { maskSecrets } from '../keys/mask-secrets.js';
import { runKillSwitch } from './actions.js';
import { readCookie, requireSession, safeNext, sessionCookie, sessionOf } from './auth.js';
import { auditCsv, CsvQueryError, requestsCsv, usageCsv } from './csv-exports.js';
import type { DashboardDeps } from './deps.js';
import { type HtmlValue, html } from './html.js';
import { keyBody } from './key-page.js';
import { page, secureHeaders, sendPage } from './layout.js';
import { overviewBody } from './overview-page.js';
import { configNote, keyHref, reloadNotice } from './parts.js';
import { loadKey, loadOverview, RECENT_REQUESTS } from './queries.js';
import { createRollupCache } from './rollup-cache.js';
import { createSessions, SESSION_COOKIE, type Session } from './session.js';
import { signInBody } from './sign-in-page.js';

/**
 * The dashboard (docs/api.md#dashboard), mounted at /dashboard by the express app (off the /v1 hot path):
 * server-rendered pages that work without JavaScript, a signed session cookie, CSRF tokens on
 * every form, and the kill switch for admins.
 */
export function createDashboardRouter(deps: DashboardDeps): Router {
  const sessions = createSessions({
    adminToken: deps.adminToken,
    viewerToken: deps.viewerToken,
    clock: deps.clock,
    ...(deps.sessionTtlMs === undefined ? {} : { ttlMs: deps.sessionTtlMs }),
  });
  // One-shot messages after a redirect (disable, enable), per session; bounded.
  const flashes = new Map<string, { ok: boolean; text: string }>();
  const rollup = createRollupCache(deps);
  // Read the past 30 days into the cache now, so the first person to open the page does not wait.
  loadOverview(deps, rollup).catch((err: unknown) =>
    deps.log.debug({ err }, 'dashboard: could not warm the rollup cache'),
  );
  const router = express.Router();
  router.use((_req, res, next) => {
    secureHeaders(res);
    next();
  });
  router.use(express.urlencoded({ extended: false, limit: '16kb' }));

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

  router.get('/sign-in', (req, res) => {
    const next = safeNext(req.query.next);
    if (sessions.verify(readCookie(req, SESSION_COOKIE))) return void res.redirect(303, next);
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

  const requireCsrf = (req: Request, res: Response, next: NextFunction): void => {
    const session = sessionOf(res);
    if (sessions.checkCsrf(session, req.body?.csrf)) return void next();
    render(
      res,
      403,
      'Form expired',
      html`<h1>That form has expired</h1><p>Go back, reload the page and try again.</p>`,
      session,
    );
  };

  router.post('/sign-out', requireCsrf, (req, res) => {
    sessions.revoke(sessionOf(res));
    res.setHeader('set-cookie', sessionCookie(req, '', 0));
    res.redirect(303, '/dashboard/sign-in');
  });

  router.get('/', async (req, res) => {
    const session = sessionOf(res);
    const overview = await loadOverview(deps, rollup);
    const query = new URLSearchParams(req.url.split('?')[1] ?? '');
    render(
      res,
      200,
      'Spend',
      html`${reloadNotice(deps.config.status(), tz())}${overviewBody(overview, '/dashboard', query)}`,
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

  router.get('/keys/:name', async (req, res) => {
    const session = sessionOf(res);
    const name = String(req.params.name);
    const key = ownEntry(deps.config.current().config.keys, name);
    if (!key) return void unknownKey(res, name, session);
    const detail = await loadKey(deps, rollup, key);
    const flash = flashes.get(session.sid);
    flashes.delete(session.sid);
    const path = keyHref(name);
    const query = new URLSearchParams(req.url.split('?')[1] ?? '');
    render(
      res,
      200,
      name,
      keyBody(detail, { session, csrf: sessions.csrfToken(session), path, query, flash }),
      session,
    );
  });

  router.get('/keys/:name/requests.csv', async (req, res) => {
    const name = String(req.params.name);
    if (!ownEntry(deps.config.current().config.keys, name)) return void unknownKey(res, name, sessionOf(res));
    const records = await deps.store.recentUsage(name, RECENT_REQUESTS);
    sendCsv(res, `tollgate-${name}-requests.csv`, requestsCsv(records, tz()));
  });

  router.get('/keys/:name/audit.csv', async (req, res) => {
    const name = String(req.params.name);
    if (!ownEntry(deps.config.current().config.keys, name)) return void unknownKey(res, name, sessionOf(res));
    const entries = await deps.store.keyAudit(name, 1000);
    sendCsv(res, `tollgate-${name}-history.csv`, auditCsv(entries, tz()));
  });

  for (const verb of ['disable', 'enable'] as const) {
    router.post(`/keys/:name/${verb}`, requireCsrf, async (req, res) => {
      const session = sessionOf(res);
      const name = String(req.params.name);
      const reason = typeof req.body?.reason === 'string' ? req.body.reason.slice(0, 500) : '';
      const r = await runKillSwitch(deps, session, verb, name, reason);
      if (r.status === 403) {
        return void render(res, 403, 'Not allowed', html`<h1>Not allowed</h1><p>${r.message}</p>`, session);
      }
      if (!ownEntry(deps.config.current().config.keys, name))
        return void unknownKey(res, name, session, r.message);
      if (flashes.size > 1000) flashes.clear();
      flashes.set(session.sid, { ok: r.ok, text: r.message });
      res.redirect(303, keyHref(name));
    });
  }

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

  function unknownKey(res: Response, name: string, session: Session, message?: string): void {
    render(
      res,
      404,
      'Unknown key',
      html`<h1>No key named ${maskSecrets(name)}</h1><p>${message ?? 'It is not in keys.yaml.'}</p><p><a href="/dashboard">Back to the overview</a></p>`,
      session,
    );
  }

  return router;
}

function sendCsv(res: Response, filename: string, csv: string): void {
  const safe = filename.replace(/[^A-Za-z0-9._-]/g, '_');
  res
    .status(200)
    .type('text/csv; charset=utf-8')
    .setHeader('content-disposition', `attachment; filename="${safe}"`);
  res.send(csv);
}
