import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/types.js';

/**
 * CORS for `/v1/*` (`server.cors_origins`): off unless origins are listed. Browser clients (Open
 * WebUI's direct connections, the SDKs with their browser opt-in) first send a preflight, which
 * is answered here without a key; every response to an allowed origin then lets the page read the
 * headers it needs to back off (`retry-after`, `x-ratelimit-*`, `x-should-retry`) and to tell
 * which key and request it was (`x-tollgate-*`). A disallowed origin gets no CORS header at all.
 */

/** Request headers a browser client may send; `Access-Control-Request-Headers` is echoed through this. */
const ALLOWED_REQUEST_HEADER =
  /^(?:authorization|x-api-key|api-key|content-type|accept|accept-language|anthropic-version|anthropic-beta|anthropic-dangerous-direct-browser-access|x-stainless-[a-z0-9-]+|openai-beta|openai-organization|openai-project|x-request-id|x-client-request-id|x-title|http-referer|user-agent)$/;

/**
 * Exposed response headers. `Access-Control-Expose-Headers` takes names, not patterns, so the
 * x-ratelimit-* and x-tollgate-* families are spelled out: the gateway's own and the upstreams'.
 */
const EXPOSED = [
  'retry-after',
  'retry-after-ms',
  'x-should-retry',
  'x-request-id',
  'request-id',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
  'x-tollgate-key',
  'x-tollgate-request-id',
  'x-tollgate-output-capped',
  'x-tollgate-tools-removed',
].join(', ');

const ALLOW_METHODS = 'GET, POST, OPTIONS';
/** Short enough that a reload narrowing the list reaches browsers within minutes. */
const MAX_AGE = '600';

export interface CorsPolicy {
  /** The `Access-Control-Allow-Origin` value for this origin, or undefined when it is not allowed. */
  allow(origin: string): string | undefined;
}

const OFF: CorsPolicy = { allow: () => undefined };

/** Built once per loaded config (a reload makes a new Config object), never per request. */
const policies = new WeakMap<Config, CorsPolicy>();

export function corsPolicy(config: Config): CorsPolicy {
  let policy = policies.get(config);
  if (!policy) {
    policy = buildPolicy(config.server.corsOrigins ?? []);
    policies.set(config, policy);
  }
  return policy;
}

function buildPolicy(origins: string[]): CorsPolicy {
  if (origins.length === 0) return OFF;
  if (origins.includes('*')) return { allow: () => '*' };
  // Browsers send the origin's scheme and host in lowercase.
  const listed = new Set(origins.map((o) => o.toLowerCase()));
  return { allow: (origin) => (listed.has(origin) ? origin : undefined) };
}

/** Sets the CORS headers of an actual (non-preflight) response; upstream ones never reach the client. */
export function setCorsHeaders(res: ServerResponse, allowOrigin: string): void {
  res.setHeader('access-control-allow-origin', allowOrigin);
  res.setHeader('access-control-expose-headers', EXPOSED);
  if (allowOrigin !== '*') res.setHeader('vary', 'Origin');
}

/** Answers a preflight from an allowed origin: 204, no key needed, nothing metered. */
export function answerPreflight(req: IncomingMessage, res: ServerResponse, allowOrigin: string): void {
  const headers: Record<string, string> = {
    'access-control-allow-origin': allowOrigin,
    'access-control-allow-methods': ALLOW_METHODS,
    'access-control-max-age': MAX_AGE,
    vary: 'Origin, Access-Control-Request-Headers',
    'content-length': '0',
  };
  const requested = req.headers['access-control-request-headers'];
  if (requested) {
    const allowed = requested
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => ALLOWED_REQUEST_HEADER.test(h));
    if (allowed.length > 0) headers['access-control-allow-headers'] = allowed.join(', ');
  }
  res.writeHead(204, headers);
  res.end();
}
