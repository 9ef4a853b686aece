import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyConfig } from '../config/types.js';
import type { GatewayDeps } from '../deps.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { estimateInputTokens } from '../metering/estimate.js';
import { mayReasonUnseen } from '../metering/hidden-output.js';
import { meterExchange } from '../metering/meter.js';
import { cacheWritesOf, NO_USAGE } from '../metering/pricing.js';
import { createUsageReader } from '../metering/usage-reader.js';
import { authenticateKey, extractKey, identifyKey } from '../policy/authenticate.js';
import { groupOfKey, planBudget, reserveBudget } from '../policy/budget.js';
import { createOutputFitter } from '../policy/fit-output.js';
import { checkKeyUsable } from '../policy/key-usable.js';
import { type ModelRoute, resolveModel } from '../policy/model-access.js';
import { choiceCount, planOutput } from '../policy/output-cap.js';
import { acquireRateSlot } from '../policy/rate-limit.js';
import { planServerTools } from '../policy/server-tools.js';
import { explainUnseenInput, planUnseenInput } from '../policy/unseen-input.js';
import type { Outcome, RequestContext } from './context.js';
import type { FinishRequest } from './finish.js';
import { type ForwardOutcome, forward, maxExchangeMs, type UpstreamAgents } from './forward.js';
import { upstreamRequestHeaders } from './headers.js';
import { modelsList } from './models-list.js';
import { type PreparedBody, prepareBody } from './prepare-body.js';
import { parseJsonBody, readBody } from './read-body.js';
import { sendError, sendJson } from './respond.js';
import { responseTaps } from './response-taps.js';
import type { Route } from './routes.js';
import { upstreamUrl } from './upstream-url.js';

/** Placeholder for `x-tollgate-key` until a key is known (not a valid key name, so never ambiguous). */
export const NO_KEY = '-';

/** A reservation outlives a replica that died mid-request by at most this long past the timeout. */
const LEASE_SLACK_MS = 60_000;

const refused = (status: number, errorCode: string): Outcome => ({
  status,
  errorCode,
  usage: NO_USAGE,
  usageSource: 'none',
  costUsd: 0,
});

const RATE_HEADER = /^x-ratelimit-.*-requests$/;

/**
 * The request path (docs/api.md#errors), in order: route → key (present, well-formed, known) → disabled →
 * expired → body → model → allow-list → upstream key → rate limit → budget → forward → meter →
 * settle. Every path through it, refusals and crashes included, ends in exactly one `finish`.
 */
export function createPipeline(parts: { deps: GatewayDeps; agents: UpstreamAgents; finish: FinishRequest }) {
  const { deps, agents, finish } = parts;

  const setKey = (ctx: RequestContext, res: ServerResponse, key: KeyConfig) => {
    ctx.key = key;
    res.setHeader('x-tollgate-key', key.name);
  };

  const proxy = async (
    ctx: RequestContext,
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    target: ModelRoute,
    prepared: PreparedBody,
  ) => {
    const reader = createUsageReader(route.usage);
    const ownRateHeaders = ctx.key?.limits.rpm !== undefined;
    // What must never come back to the client, even from an upstream that echoes its request.
    const taps = responseTaps(reader, {
      hideUsageChunk: prepared.hideUsageChunk,
      secrets: [target.upstreamKey, extractKey(req.headers) ?? ''],
    });
    const outcome: ForwardOutcome = await forward(
      res,
      {
        target: upstreamUrl(target.upstream.baseUrl, ctx.pathname, req.url ?? ctx.pathname),
        headers: upstreamRequestHeaders(
          req.headers,
          target.upstream,
          target.upstreamKey,
          prepared.body.length,
        ),
        body: prepared.body,
        timeoutMs: target.upstream.timeoutMs,
        tapFor: taps.tapFor,
        gatewayHeader: (name) => res.hasHeader(name) || (ownRateHeaders && RATE_HEADER.test(name)),
        redactHeader: taps.redactHeader,
      },
      agents,
    );
    const metered = meterExchange(
      {
        completed: outcome.end === 'completed',
        reachedUpstream: outcome.reachedUpstream,
        delivered: outcome.delivered,
        cutByGateway: outcome.end === 'client_gone' || outcome.end === 'timeout',
        stream: ctx.stream,
        mayReason: ctx.mayReason,
        ...pickStatus(outcome),
      },
      taps.reader(),
      target.model,
      ctx.inputEstimate,
      route.free,
      ctx.ts,
      ctx.outputBound === undefined ? undefined : { outputTokens: ctx.outputBound, usd: ctx.reservedUsd },
    );
    const up = target.upstream;
    if (metered.distrusted)
      deps.log.warn(
        { requestId: ctx.requestId, key: ctx.key?.name, upstream: up.name, reason: metered.distrusted },
        `upstream '${up.name}' reported usage that cannot be true (${metered.distrusted}); charged the estimate instead`,
      );
    let error: GatewayError | undefined;
    let status: number;
    let errorCode: string | null;
    switch (outcome.end) {
      case 'completed':
        status = outcome.upstreamStatus ?? 502;
        errorCode = status >= 400 ? `upstream_${status}` : null;
        break;
      case 'client_gone':
        // nginx's convention for "client closed request".
        status = 499;
        errorCode = 'client_closed_request';
        break;
      case 'timeout':
        status = 504;
        errorCode = 'upstream_timeout';
        error = new GatewayError(
          'upstream_timeout',
          outcome.timedOut === 'total'
            ? `upstream '${up.name}' did not finish within ${maxExchangeMs(up.timeoutMs)} ms, the most a request may take with its timeout_ms of ${up.timeoutMs} in keys.yaml; the request of key '${ctx.key?.name}' was aborted.`
            : `upstream '${up.name}' sent nothing for ${up.timeoutMs} ms (its timeout_ms in keys.yaml); the request of key '${ctx.key?.name}' was aborted.`,
        );
        break;
      default: {
        status = 502;
        errorCode = 'upstream_error';
        const cause = (outcome.error as NodeJS.ErrnoException | undefined)?.code ?? 'connection closed';
        error = new GatewayError(
          'upstream_error',
          `upstream '${up.name}' could not be reached or broke off (${cause}); the request of key '${ctx.key?.name}' did not complete. Try again; if it persists, the gateway's owner should check the upstream.`,
          { cause: outcome.error },
        );
      }
    }
    // Why an exchange failed goes on the request's one log line, not a line of its own.
    const cause = (outcome.error as NodeJS.ErrnoException | undefined)?.code;
    const detail = outcome.end === 'completed' ? undefined : cause ? `${outcome.end}: ${cause}` : outcome.end;
    await finish(ctx, { status, errorCode, ...metered, ...(detail ? { detail } : {}) }, () => {
      if (outcome.responseStarted) outcome.finish();
      else if (error) sendError(res, error, ctx.shape);
    });
  };

  const checkAndForward = async (ctx: RequestContext, req: IncomingMessage, res: ServerResponse) => {
    const { config } = ctx.loaded;
    const timeZone = config.server.timezone;
    const route = ctx.route;
    if (!route) {
      const known = identifyKey(req.headers, ctx.loaded);
      if (known) setKey(ctx, res, known);
      throw new GatewayError(
        'not_found',
        `tollgate has no route ${req.method} ${ctx.pathname}; it serves POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses, /v1/messages, /v1/messages/count_tokens and GET /v1/models.`,
      );
    }
    const { config: key, hash } = authenticateKey(req.headers, ctx.loaded);
    setKey(ctx, res, key);
    ctx.keyHash = keyHashPrefix(hash);
    const group = groupOfKey(key, config.groups);
    const budget = planBudget(key, ctx.local, group);
    ctx.periods = budget.periods;
    checkKeyUsable(key, deps.disables.get(key.name), ctx.ts, timeZone);

    if (route.kind === 'models') {
      const body = modelsList(config, key, req.url);
      await finish(ctx, { ...refused(200, ''), errorCode: null }, () => sendJson(res, 200, body));
      return;
    }

    const raw = await readBody(req);
    const parsed = parseJsonBody(raw);
    ctx.stream = parsed.stream === true;
    // Which tool asks for a model it may not use, or one that does not exist, is worth recording.
    if (typeof parsed.model === 'string' && parsed.model !== '')
      ctx.requestedModel = parsed.model.slice(0, 200);
    // A background response is answered at once with no usage and generated later, where the
    // gateway cannot meter or bound it: it would spend past any budget.
    if (route.kind === 'responses' && parsed.background === true) {
      throw new GatewayError(
        'invalid_request',
        `key '${key.name}' sent a background response (background: true), which tollgate cannot meter: the answer is generated after the request ends. Send it without background, streaming if it is long.`,
      );
    }
    const target = resolveModel(parsed.model, config, key, deps.env, ctx.ts);
    ctx.model = target.model;
    ctx.upstream = target.upstream;
    ctx.inputEstimate = estimateInputTokens(raw.length, parsed);
    ctx.mayReason = mayReasonUnseen(parsed, route.kind, [target.model.name, ctx.requestedModel ?? '']);
    const serverTools = planServerTools(parsed, route.kind);
    // Input stored at the provider (previous_response_id, a file by id) is billed but not in the body.
    const unseen = route.free
      ? undefined
      : planUnseenInput(parsed, route.kind, target.model, req.headers['anthropic-beta']);
    const output = createOutputFitter(
      planOutput(parsed, route.outputField, target.model, key),
      target.model,
      ctx.ts,
      {
        inputTokens: ctx.inputEstimate,
        // A prompt that asks for caching may be billed as cache writes, dearer than input.
        cacheWrites: cacheWritesOf(raw),
        choices: choiceCount(parsed),
        webSearches: serverTools.webSearches,
        ...(unseen ? { contextWindow: unseen.contextWindow } : {}),
      },
    );

    const leaseUntil = ctx.ts + maxExchangeMs(target.upstream.timeoutMs) + LEASE_SLACK_MS;
    const slot = await acquireRateSlot(deps.store, {
      id: ctx.requestId,
      key,
      ...(group ? { group } : {}),
      // tpm admits the request's bound as planned; a bound later lowered to fit a budget only settles lower.
      tokens: route.free ? 0 : ctx.inputEstimate + output.plan().maxOutputTokens,
      now: ctx.ts,
      leaseUntil,
    });
    ctx.slotHeld = slot.held;
    ctx.slot = slot.holding;
    for (const [name, value] of Object.entries(slot.headers)) res.setHeader(name, value);

    if (!route.free) {
      ctx.reservedUsd = await reserveBudget(deps.store, {
        id: ctx.requestId,
        key,
        amountUsd: output.amountUsd,
        plan: budget,
        leaseUntil,
        timeZone,
        now: ctx.ts,
        ...(output.fit ? { fit: output.fit } : {}),
        ...(unseen ? { why: explainUnseenInput(unseen, target.model) } : {}),
      });
    }
    const plan = output.plan();
    ctx.outputBound = plan.maxOutputTokens;
    // What an estimate charges for input: the bound reserved for input the body does not carry.
    ctx.inputEstimate = output.inputTokens();
    if (plan.capped && plan.inject) res.setHeader('x-tollgate-output-capped', String(plan.inject.value));
    await proxy(ctx, req, res, route, target, prepareBody(raw, parsed, route, plan, serverTools.set));
  };

  /** Serves one request; never rejects. */
  return async (ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await checkAndForward(ctx, req, res);
    } catch (thrown) {
      const err = toGatewayError(thrown);
      if (ctx.settled) {
        deps.log.error({ err: thrown, requestId: ctx.requestId }, 'error after the request was settled');
        if (!res.writableEnded) res.destroy();
        return;
      }
      if (err.refusedPeriod !== undefined) ctx.refusedPeriod = err.refusedPeriod;
      if (err.code === 'internal_error')
        deps.log.error({ err: err.cause, requestId: ctx.requestId }, 'internal error');
      if ((err.code === 'key_disabled' || err.code === 'key_expired') && ctx.key) {
        deps.notifier.keyRefused({
          key: ctx.key.name,
          code: err.code,
          userAgent: ctx.userAgent,
          ip: ctx.ip,
          at: ctx.ts,
        });
      }
      await finish(ctx, refused(err.status, err.code), () => sendError(res, err, ctx.shape));
    }
  };
}

/** `sha256:<64 hex>` → its first 12 hex digits, as the usage record keeps them. */
export function keyHashPrefix(hash: string): string {
  return hash.slice(hash.indexOf(':') + 1, hash.indexOf(':') + 13);
}

function pickStatus(o: ForwardOutcome): { upstreamStatus?: number } {
  return o.upstreamStatus === undefined ? {} : { upstreamStatus: o.upstreamStatus };
}
