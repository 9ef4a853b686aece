import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Clock } from '../clock.js';
import { ownEntry } from '../config/own.js';
import type { ConfigHolder, KeyConfig } from '../config/types.js';
import type { FindingsCache } from '../insights/findings-cache.js';
import type { InsightReader } from '../insights/read-period.js';
import { maskSecrets } from '../keys/mask-secrets.js';
import { usageByGroup } from '../metering/usage-by-group.js';
import type { DisableView } from '../policy/disables.js';
import { keyStatus } from '../policy/key-status.js';
import type { KillSwitch } from '../policy/kill-switch.js';
import type { SpendReader, UsageGroupBy, UsageStore } from '../store/types.js';
import { periodsAt } from '../windows/budget-windows.js';
import { addInsightsRoute } from './admin-insights.js';
import { parseSince, parseUntil } from './time-args.js';

export interface AdminDeps {
  token: string;
  config: ConfigHolder;
  store: SpendReader & Pick<UsageStore, 'queryUsage'> & InsightReader;
  disables: DisableView;
  killSwitch: KillSwitch;
  clock: Clock;
  /** The dashboard's findings: the answer to /admin/insights for its period while fresh. */
  findings?: FindingsCache;
}

/** The admin API (docs/api.md#admin-api), Bearer-authenticated with TOLLGATE_ADMIN_TOKEN (timing-safe). */
export function createAdminRouter(deps: AdminDeps): Router {
  const router = express.Router();
  router.use(requireToken(deps.token));
  router.use(express.json({ limit: ADMIN_BODY_LIMIT }));

  router.get('/keys', async (_req, res) => {
    const cfg = deps.config.current().config;
    res.json({ data: await describeKeys(deps, Object.values(cfg.keys)) });
  });

  router.get('/keys/:name', async (req, res) => {
    const key = ownEntry(deps.config.current().config.keys, String(req.params.name));
    if (!key)
      return void notFound(res, `no key named '${maskSecrets(String(req.params.name))}' in keys.yaml.`);
    const [row] = await describeKeys(deps, [key]);
    res.json(row);
  });

  router.post('/keys/:name/disable', async (req, res) => {
    const body: unknown = req.body;
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
      return void badRequest(
        res,
        `the body must be a JSON object like {"reason": "…"}; got ${describe(body)}.`,
      );
    }
    const given = (body as { reason?: unknown } | undefined)?.reason;
    if (given !== undefined && typeof given !== 'string') {
      return void badRequest(res, `reason must be a string; got ${describe(given)}.`);
    }
    if (given !== undefined && given.length > MAX_REASON_CHARS) {
      return void badRequest(
        res,
        `reason is ${given.length} characters long; it may be at most ${MAX_REASON_CHARS}. Shorten it (link to a ticket for the details).`,
      );
    }
    const reason = given ?? 'disabled through the admin API';
    const r = await deps.killSwitch.disable(String(req.params.name), {
      reason,
      actor: 'admin-api',
      source: 'admin_api',
    });
    res.status(r.ok ? 200 : 404).json(r);
  });

  router.post('/keys/:name/enable', async (req, res) => {
    const r = await deps.killSwitch.enable(String(req.params.name), {
      actor: 'admin-api',
      source: 'admin_api',
    });
    res.status(r.ok ? 200 : r.unknown ? 404 : 409).json(r);
  });

  router.get('/usage', async (req, res) => {
    const now = deps.clock();
    const tz = deps.config.current().config.server.timezone;
    const by = String(req.query.by ?? 'key');
    if (!['key', 'model', 'day', 'status', 'group', 'hash'].includes(by)) {
      return void badRequest(
        res,
        `the query parameter by= must be one of key, model, day, status, group, hash; got '${by}'.`,
      );
    }
    let since: number;
    let until: number;
    try {
      since = parseSince(typeof req.query.since === 'string' ? req.query.since : '7d', now, tz, 'query');
      until = typeof req.query.until === 'string' ? parseUntil(req.query.until, tz, 'query') : now + 1;
    } catch (err) {
      return void badRequest(res, (err as Error).message);
    }
    const key = typeof req.query.key === 'string' && req.query.key !== '' ? req.query.key : undefined;
    const rows = await deps.store.queryUsage(
      { since, until, by: (by === 'group' ? 'key' : by) as UsageGroupBy, ...(key ? { key } : {}) },
      tz,
    );
    res.json({ data: by === 'group' ? usageByGroup(rows, deps.config.current().config) : rows });
  });
  addInsightsRoute(router, deps);

  router.use(bodyErrors);
  return router;
}

/** Bounds of the admin API's JSON bodies: a disable reason is a sentence, not a document. */
export const ADMIN_BODY_LIMIT = '16kb';
export const MAX_REASON_CHARS = 500;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** express.json's own errors, which would otherwise reach the app's handler as a 500 internal_error. */
function bodyErrors(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') {
    res.status(413).json({
      error: {
        message: `the request body is larger than ${ADMIN_BODY_LIMIT.replace('kb', ' KB')}: send {"reason": "…"} with a reason of at most ${MAX_REASON_CHARS} characters.`,
        type: 'invalid_request_error',
        code: 'request_too_large',
        param: null,
      },
    });
    return;
  }
  if (type === 'entity.parse.failed') {
    return void badRequest(
      res,
      'the request body is not valid JSON: send {"reason": "…"} with content-type: application/json, or no body at all.',
    );
  }
  // Other body-parser refusals (an unsupported charset or encoding) carry their own 4xx status.
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500) {
    res.status(status).json({
      error: {
        message: `the request body could not be read: ${(err as Error).message}.`,
        type: 'invalid_request_error',
        code: 'invalid_request',
        param: null,
      },
    });
    return;
  }
  next(err);
}

async function describeKeys(deps: AdminDeps, keys: KeyConfig[]) {
  const now = deps.clock();
  const tz = deps.config.current().config.server.timezone;
  const { daily, monthly } = periodsAt(now, tz);
  const spend = await deps.store.getAllSpend([daily, monthly]);
  return keys.map((k) => {
    const override = deps.disables.get(k.name);
    const s = spend.get(k.name);
    return {
      name: k.name,
      status: keyStatus(k, override, now),
      description: k.description ?? null,
      owner: k.owner ?? null,
      group: k.group ?? null,
      limits: snakeLimits(k.limits),
      spend: { today_usd: s?.[daily] ?? 0, month_usd: s?.[monthly] ?? 0 },
      expires: k.expires ?? null,
      models: k.models ?? null,
      tags: k.tags,
      disabled_override: override
        ? {
            reason: override.reason,
            by: override.by,
            source: override.source,
            at: new Date(override.at).toISOString(),
          }
        : null,
    };
  });
}

function requireToken(token: string) {
  const expected = Buffer.from(`Bearer ${token}`);
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      next();
      return;
    }
    res.status(401).json({
      error: {
        message: 'admin API: send Authorization: Bearer $TOLLGATE_ADMIN_TOKEN.',
        type: 'invalid_request_error',
        code: 'unauthorized',
        param: null,
      },
    });
  };
}

function notFound(res: Response, message: string): void {
  res.status(404).json({ error: { message, type: 'invalid_request_error', code: 'not_found', param: null } });
}

function badRequest(res: Response, message: string): void {
  res
    .status(400)
    .json({ error: { message, type: 'invalid_request_error', code: 'invalid_request', param: null } });
}

/** Limits as keys.yaml spells them, like the rest of the API. */
function snakeLimits(l: KeyConfig['limits']) {
  return {
    hourly_usd: l.hourlyUsd ?? null,
    daily_usd: l.dailyUsd ?? null,
    weekly_usd: l.weeklyUsd ?? null,
    monthly_usd: l.monthlyUsd ?? null,
    rpm: l.rpm ?? null,
    tpm: l.tpm ?? null,
    max_parallel: l.maxParallel ?? null,
    max_output_tokens: l.maxOutputTokens ?? null,
  };
}
