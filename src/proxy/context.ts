import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { KeyConfig, LoadedConfig, ModelConfig, UpstreamConfig } from '../config/types.js';
import type { ErrorShape } from '../errors.js';
import { maskSecrets } from '../keys/mask-secrets.js';
import type { LocalDay } from '../metering/local-day.js';
import type { Metered } from '../metering/meter.js';
import type { SlotHolding } from '../policy/rate-limit.js';
import type { UsageRecord } from '../store/types.js';
import { newRequestId } from './request-id.js';
import { errorShapeFor, matchRoute, type Route } from './routes.js';

/** What the gateway knows about one request, filled in as the checks pass. */
export interface RequestContext {
  requestId: string;
  /** Epoch ms at arrival, from the injected clock: windows and expiry are judged at this instant. */
  ts: number;
  /** The local day and month of `ts` in server.timezone. */
  local: LocalDay;
  startedAt: number;
  /** The config this request runs under from start to end, even if a reload lands meanwhile. */
  loaded: LoadedConfig;
  pathname: string;
  route: Route | undefined;
  shape: ErrorShape;
  userAgent: string | null;
  ip: string | null;
  key?: KeyConfig;
  /** First 12 hex digits of the key hash that matched (which of a rotating key's hashes is in use). */
  keyHash?: string;
  model?: ModelConfig;
  /** The `model` the body named, kept for the record when it is unknown or not allowed. */
  requestedModel?: string;
  upstream?: UpstreamConfig;
  stream: boolean;
  /** The budget periods the cost is charged to (empty while no key is known). */
  periods: string[];
  inputEstimate: number;
  /** The most output tokens the request can produce: the bound its reservation paid for. */
  outputBound?: number;
  /** The budget window that refused the request (`d:…`, or `@group/d:…` for its group's). */
  refusedPeriod?: string;
  /** USD reserved for the request (its maximum cost); 0 when nothing was reserved. */
  reservedUsd: number;
  /** The request may be billed for reasoning it does not show as text (hidden-output.ts). */
  mayReason: boolean;
  /** A max_parallel slot or tpm tokens are held and must be released. */
  slotHeld: boolean;
  /** The group the slot also counts against, and whether its tokens are settled at the end. */
  slot?: SlotHolding;
  /** Set once the request is settled: settlement happens exactly once. */
  settled: boolean;
}

export function createContext(
  req: IncomingMessage,
  loaded: LoadedConfig,
  now: number,
  local: LocalDay,
): RequestContext {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  return {
    requestId: newRequestId(),
    ts: now,
    local,
    startedAt: performance.now(),
    loaded,
    pathname,
    route: matchRoute(req.method, pathname),
    shape: errorShapeFor(pathname),
    userAgent: req.headers['user-agent'] ?? null,
    ip: req.socket.remoteAddress ?? null,
    stream: false,
    periods: [],
    inputEstimate: 0,
    reservedUsd: 0,
    mayReason: false,
    slotHeld: false,
    settled: false,
  };
}

export interface Outcome extends Metered {
  status: number;
  errorCode: string | null;
  /** How a forwarded exchange ended when it did not complete (`timeout`, `upstream_failed: ECONNREFUSED`): logged, not stored. */
  detail?: string;
}

/**
 * The usage record (docs/api.md#metering-briefly), every field filled, for any outcome. The strings the client chose
 * (path, model, user-agent) are masked for keys here, before the record reaches the log, the
 * store, the metrics labels and Slack's new-client alert.
 */
export function buildRecord(ctx: RequestContext, outcome: Outcome): UsageRecord {
  return {
    requestId: ctx.requestId,
    ts: ctx.ts,
    day: ctx.local.day,
    key: ctx.key?.name ?? '',
    model: ctx.model?.name ?? (ctx.requestedModel === undefined ? null : maskSecrets(ctx.requestedModel)),
    upstream: ctx.upstream?.name ?? null,
    route: maskSecrets(ctx.pathname),
    status: outcome.status,
    errorCode: outcome.errorCode,
    inputTokens: outcome.usage.inputTokens,
    outputTokens: outcome.usage.outputTokens,
    cachedTokens: outcome.usage.cachedTokens,
    cacheWriteTokens: outcome.usage.cacheWriteTokens,
    costUsd: outcome.costUsd,
    latencyMs: Math.round(performance.now() - ctx.startedAt),
    stream: ctx.stream,
    userAgent: ctx.userAgent === null ? null : maskSecrets(ctx.userAgent),
    ip: ctx.ip,
    configRevision: ctx.loaded.revision,
    usageSource: outcome.usageSource,
    requestedModel: ctx.requestedModel === undefined ? null : maskSecrets(ctx.requestedModel),
    keyHash: ctx.keyHash ?? null,
  };
}
