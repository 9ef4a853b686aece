import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { UpstreamConfig } from '../config/types.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Never forwarded upstream: the client's credentials (the upstream's own key replaces them),
 * account selectors that would let a client bill another project of the upstream key, and what
 * the gateway recomputes itself (host, length, encoding, forwarding chain).
 */
const NOT_FORWARDED = new Set([
  'authorization',
  'x-api-key',
  'api-key',
  'cookie',
  'openai-organization',
  'openai-project',
  'host',
  'content-length',
  'accept-encoding',
  'forwarded',
  'x-real-ip',
  'via',
  // The gateway already read the whole body; the upstream gets it in one go.
  'expect',
]);

/**
 * What a proxy in front of the gateway adds about the person or client behind a request, never
 * for a third-party upstream: identity-aware proxies' credentials (Cloudflare Access service
 * tokens and JWT, AWS ALB's OIDC access token and claims, oauth2-proxy's X-Auth-Request-*, Google
 * IAP's JWT assertion and its signed-in user's email and id (x-goog-authenticated-user-*),
 * Pomerium's JWT assertion, Azure App Service's tokens and principal) and CDNs' client-address
 * headers, the same forwarding chain as `x-forwarded-*`.
 */
const FROM_FRONT_PROXY =
  /^(?:cf-access-|x-amzn-oidc-|x-auth-request-|x-goog-iap-|x-goog-authenticated-user-|x-pomerium-|x-ms-token-|x-ms-client-principal|cf-connecting-ip|true-client-ip|x-client-ip|x-cluster-client-ip|fastly-client-ip)/;

const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

const NONE: ReadonlySet<string> = new Set();

function connectionTokens(headers: IncomingHttpHeaders): ReadonlySet<string> {
  const v = headers.connection;
  // Most requests say `keep-alive` or nothing: no header to drop beyond the hop-by-hop ones.
  if (v === undefined || v === 'keep-alive' || v === 'close') return NONE;
  return new Set(
    (v ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

/** The headers sent upstream: the client's, cleaned, plus the upstream's auth from the environment. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  upstream: UpstreamConfig,
  upstreamKey: string,
  bodyLength: number,
  /** The body's type: JSON, which the gateway may have rewritten, unless an upload passes as sent. */
  contentType = 'application/json',
): OutgoingHttpHeaders {
  const named = connectionTokens(incoming);
  const out: OutgoingHttpHeaders = {};
  // for…in, not Object.entries: no array of pairs per request (headers are plain objects).
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || NOT_FORWARDED.has(name) || named.has(name)) continue;
    if (name.startsWith('x-forwarded-') || name.startsWith('x-tollgate-')) continue;
    if (FROM_FRONT_PROXY.test(name)) continue;
    out[name] = value;
  }
  out['content-type'] = contentType;
  out['content-length'] = String(bodyLength);
  // Plain bytes, so the tap can read usage; the hop to the client is usually local anyway.
  out['accept-encoding'] = 'identity';
  if (upstream.format === 'anthropic') {
    out['x-api-key'] = upstreamKey;
    out['anthropic-version'] ??= DEFAULT_ANTHROPIC_VERSION;
  } else {
    out.authorization = `Bearer ${upstreamKey}`;
  }
  return out;
}

/**
 * The upstream's response headers for the client. Headers the gateway has set itself (x-tollgate-*,
 * its own x-ratelimit-*) win; the upstream's cookies are for its own domain and its CORS headers
 * for its own clients: both stay behind. `redact` masks secrets in each value: an upstream that
 * echoes request headers back would otherwise hand the client the upstream key.
 */
export function clientResponseHeaders(
  upstream: IncomingHttpHeaders,
  options: { keepLength: boolean; alreadySet: (name: string) => boolean; redact?: (value: string) => string },
): OutgoingHttpHeaders {
  const redact = options.redact;
  const named = connectionTokens(upstream);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || named.has(name) || name === 'set-cookie') continue;
    // CORS is the gateway's decision (server.cors_origins), never the upstream's.
    if (name.startsWith('access-control-')) continue;
    if (name === 'content-length' && !options.keepLength) continue;
    if (options.alreadySet(name)) continue;
    out[name] = !redact ? value : Array.isArray(value) ? value.map(redact) : redact(value);
  }
  return out;
}
