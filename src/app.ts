import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { errorBody, GatewayError, toGatewayError } from './errors.js';
import type { Logger } from './log.js';
import type { Metrics } from './ops/metrics.js';
import type { Gateway } from './proxy/gateway.js';
import { newRequestId } from './proxy/request-id.js';

export interface AppParts {
  gateway: Gateway;
  /** GET and HEAD /: name, version and links; no auth. */
  root: RequestHandler;
  health: RequestHandler;
  metrics: Metrics;
  /** Mounted at /admin when TOLLGATE_ADMIN_TOKEN is set. */
  admin?: RequestHandler;
  /** Mounted at /dashboard when TOLLGATE_DASHBOARD_TOKEN or TOLLGATE_ADMIN_TOKEN is set. */
  dashboard?: RequestHandler;
  /** Bolt's router (POST /slack/events) when Slack is configured. */
  slack?: RequestHandler;
  log: Logger;
}

/**
 * The route table. `/v1/*` — the hot path — goes straight to the gateway on node:http, because
 * express costs about half the throughput there; everything else is express.
 * No global body parser: Bolt needs the raw body to verify Slack's signature.
 */
export function createApp(parts: AppParts): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  // Every response carries the two headers (docs/api.md#response-headers); off the proxy no key is involved.
  app.use((_req, res, next) => {
    res.setHeader('x-tollgate-request-id', newRequestId());
    res.setHeader('x-tollgate-key', '-');
    next();
  });
  app.get('/', parts.root);
  app.get('/healthz', parts.health);
  app.get('/metrics', async (_req, res) => {
    res.type(parts.metrics.registry.contentType).send(await parts.metrics.registry.metrics());
  });
  if (parts.admin) app.use('/admin', parts.admin);
  if (parts.dashboard) app.use('/dashboard', parts.dashboard);
  if (parts.slack) app.use(parts.slack);
  app.use((req, _res, next) => {
    next(new GatewayError('not_found', `tollgate has no route ${req.method} ${req.path}.`));
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = toGatewayError(err);
    if (e.code === 'internal_error') parts.log.error({ err: e.cause }, 'internal error');
    // The database's own words, which the answer does not carry.
    if (e.code === 'store_unavailable') parts.log.warn({ err: e.cause }, 'store unavailable');
    if (res.headersSent) return void res.destroy();
    res.status(e.status).set(e.headers).json(errorBody(e, 'openai'));
  });

  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (url === '/v1' || url.startsWith('/v1/') || url.startsWith('/v1?')) {
      parts.gateway.handle(req, res);
      return;
    }
    app(req, res);
  };
}
