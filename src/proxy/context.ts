import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { KeyConfig, LoadedConfig, ModelConfig, UpstreamConfig } from '../config/types.js';
import type { ErrorShape } from '../errors.js';
import type { Fingerprints } from '../insights/fingerprint.js';
import { maskSecrets } from '../keys/mask-secrets.js';
import type { Metered } from '../metering/meter.js';
import type { SlotHolding } from '../policy/rate-limit.js';
import type { UsageRecord } from '../store/types.js';
import type { LocalDay } from '../windows/local-day.js';
import { newRequestId } from './request-id.js';
import { errorShapeFor, matchRoute, type Route } from './routes.js';

/**
 * What the gateway knows of one request when it arrives, fixed from then on. What the stages
 * learn later travels between them as their typed results (src/proxy/stages/); the little of it
 * the usage record needs is written into `draft` as it is learnt, so that a request refused or
 * crashed at any step is settled with all that was known by then.
 */
export interface RequestContext {
  readonly requestId: string;
  /** Epoch ms at arrival, from the injected clock: windows and expiry are judged at this instant. */
  readonly ts: number;
  /** The local day and month of `ts` in server.timezone. */
  readonly local: LocalDay;
  readonly startedAt: number;
  /** The config this request runs under from start to end, even if a reload lands meanwhile. */
  readonly loaded: LoadedConfig;
  readonly pathname: string;
  readonly route: Route | undefined;
  readonly shape: ErrorShape;
  readonly userAgent: string | null;
  readonly ip: string | null;
  /** Written by the stages (never read by them), read by settlement: see RecordDraft. */
  readonly draft: RecordDraft;
  /** Set once the request is settled: settlement happens exactly once. */
  settled: boolean;
}

/**
 * The usage record as far as the request got, and what its settlement must release. The stages
 * write each field once, when they learn it; only finish.ts and the pipeline's one catch read it.
 */
export interface RecordDraft {
  key?: KeyConfig;
  /** First 12 hex digits of the key hash that matched (which of a rotating key's hashes is in use). */
  keyHash?: string;
  /** The budget periods the cost is charged to (empty while no key is known). */
  periods: string[];
  /** The `model` the body named, kept for the record when it is unknown or not allowed. */
  requestedModel?: string;
  model?: ModelConfig;
  upstream?: UpstreamConfig;
  stream: boolean;
  /** Set while a max_parallel slot or tpm tokens are held: they are released at the end, so. */
  slot?: SlotHolding;
  /** The budget window that refused the request (`d:…`, or `@group/d:…` for its group's). */
  refusedPeriod?: string;
  /** Keyed hashes of the request and its prompt prefix (insights), once its model is known. */
  fingerprints?: Fingerprints;
  /** The most output tokens the request was sent with (all choices), once reserved. */
  outputLimit?: number;
  /**
   * USD reserved for a request the upstream received, set once it has: the provider may bill it
   * whatever happens next, so a crash before it is metered is charged this (settle.ts).
   */
  forwardedUsd?: number;
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
    draft: { periods: [], stream: false },
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
  const d = ctx.draft;
  return {
    requestId: ctx.requestId,
    ts: ctx.ts,
    day: ctx.local.day,
    key: d.key?.name ?? '',
    model: d.model?.name ?? (d.requestedModel === undefined ? null : maskSecrets(d.requestedModel)),
    upstream: d.upstream?.name ?? null,
    route: maskSecrets(ctx.pathname),
    status: outcome.status,
    errorCode: outcome.errorCode,
    inputTokens: outcome.usage.inputTokens,
    outputTokens: outcome.usage.outputTokens,
    cachedTokens: outcome.usage.cachedTokens,
    cacheWriteTokens: outcome.usage.cacheWriteTokens,
    costUsd: outcome.costUsd,
    latencyMs: Math.round(performance.now() - ctx.startedAt),
    stream: d.stream,
    userAgent: ctx.userAgent === null ? null : maskSecrets(ctx.userAgent),
    ip: ctx.ip,
    configRevision: ctx.loaded.revision,
    usageSource: outcome.usageSource,
    requestedModel: d.requestedModel === undefined ? null : maskSecrets(d.requestedModel),
    keyHash: d.keyHash ?? null,
    requestFp: d.fingerprints?.request ?? null,
    prefixFp: d.fingerprints?.prefix ?? null,
    prefixTokens: d.fingerprints?.prefixTokens ?? 0,
    outputLimit: d.outputLimit ?? null,
    ...(outcome.units?.images !== undefined ? { images: outcome.units.images } : {}),
    ...(outcome.units?.audioSeconds !== undefined ? { audioSeconds: outcome.units.audioSeconds } : {}),
    ...(outcome.units?.characters !== undefined ? { characters: outcome.units.characters } : {}),
  };
}
