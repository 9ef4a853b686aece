import type { Router } from 'express';
import { ownEntry } from '../config/own.js';
import { runKillSwitch } from './actions.js';
import { sessionOf } from './auth.js';
import { auditCsv, requestsCsv } from './csv-exports.js';
import { html } from './html.js';
import { keyFindings } from './insights-section.js';
import { keyBody } from './key-page.js';
import { keyHref } from './parts.js';
import { loadKey, RECENT_REQUESTS } from './queries.js';
import { type RouteKit, sendCsv } from './route-kit.js';

/** A key's page, its CSV exports, and the kill switch (disable, enable) for admins. */
export function mountKeyRoutes(router: Router, kit: RouteKit): void {
  const { deps, sessions, rollup, flashes, tz, render, requireCsrf, unknownKey } = kit;

  router.get('/keys/:name', async (req, res) => {
    const session = sessionOf(res);
    const name = String(req.params.name);
    const key = ownEntry(deps.config.current().config.keys, name);
    if (!key) return void unknownKey(res, name, session);
    const detail = await loadKey(deps, rollup, key);
    const findings = kit.insights.ofKey(deps.config.current().config, name);
    const flash = flashes.get(session.sid);
    flashes.delete(session.sid);
    const path = keyHref(name);
    const query = new URLSearchParams(req.url.split('?')[1] ?? '');
    render(
      res,
      200,
      name,
      keyBody(
        detail,
        { session, csrf: sessions.csrfToken(session), path, query, flash },
        keyFindings(findings),
      ),
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
}
