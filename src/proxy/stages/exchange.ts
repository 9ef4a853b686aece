import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ExchangeEnd, type Metered, meterExchange } from '../../metering/meter.js';
import { extractKey } from '../../policy/authenticate.js';
import { writesAtHourPrice } from '../../pricing/cache-ttl.js';
import { searchPrices } from '../../pricing/search-fees.js';
import { US_INFERENCE_UPLIFT, upliftPrices } from '../../pricing/uplift.js';
import type { RequestContext } from '../context.js';
import { type ForwardOutcome, forward, type UpstreamAgents } from '../forward.js';
import { upstreamRequestHeaders } from '../headers.js';
import type { ProxyDeps } from '../proxy-deps.js';
import { responseTaps } from '../response-taps.js';
import { upstreamUrl } from '../upstream-url.js';
import type { Admission } from './admit.js';
import type { Reservation } from './reserve.js';

/*
 * Stage 3 of 4, exchange: the request goes upstream with its bounds written in (the route's
 * translator prepares the body), the response streams back through taps that read its usage and
 * redact secrets, and the exchange is metered: the provider's usage when it is plausible, an
 * estimate or the reservation when it is not there (metering/meter.ts). Next: settle.ts.
 */

const RATE_HEADER = /^x-ratelimit-.*-requests$/;

export interface Exchanged {
  outcome: ForwardOutcome;
  metered: Metered;
}

export async function exchange(
  deps: ProxyDeps,
  agents: UpstreamAgents,
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  admission: Admission,
  reservation: Reservation,
): Promise<Exchanged> {
  const { route, caller, translator, request, target, bound } = admission;
  const prepared = translator.prepare(request, route, reservation.plan, bound);
  const ownRateHeaders = caller.key.limits.rpm !== undefined;
  // What must never come back to the client, even from an upstream that echoes its request.
  const taps = responseTaps(translator.usageReader(route), {
    hideUsageChunk: prepared.hideUsageChunk,
    secrets: [target.upstreamKey, extractKey(req.headers) ?? ''],
  });
  const up = target.upstream;
  const outcome = await forward(
    res,
    {
      target: upstreamUrl(up.baseUrl, ctx.pathname, req.url ?? ctx.pathname),
      headers: upstreamRequestHeaders(
        req.headers,
        up,
        target.upstreamKey,
        request.upload?.size ?? prepared.body.length,
        request.upload?.contentType,
      ),
      body: prepared.chunks ?? prepared.body,
      timeoutMs: up.timeoutMs,
      tapFor: taps.tapFor,
      gatewayHeader: (name) => res.hasHeader(name) || (ownRateHeaders && RATE_HEADER.test(name)),
      redactHeader: taps.redactHeader,
    },
    agents,
  );
  if (outcome.reachedUpstream) ctx.draft.forwardedUsd = reservation.reservedUsd;
  const end: ExchangeEnd = {
    completed: outcome.end === 'completed',
    reachedUpstream: outcome.reachedUpstream,
    delivered: outcome.delivered,
    cutByGateway: outcome.end === 'client_gone' || outcome.end === 'timeout',
    stream: request.stream,
    mayReason: bound.mayReason,
    ...(outcome.upstreamStatus === undefined ? {} : { upstreamStatus: outcome.upstreamStatus }),
  };
  const reader = taps.reader();
  // Web searches at the fee of the tools the request listed; 1-hour cache writes the usage does not
  // tell apart at the 1-hour price; US-only inference, asked for or the workspace's default (the
  // answer says), is billed 1.1 x.
  const listed = bound.webSearchTools ? searchPrices(target.model, bound.webSearchTools) : target.model;
  const searched = bound.hourCache && reader.splitsCacheTtl?.() !== true ? writesAtHourPrice(listed) : listed;
  const model =
    bound.usOnly || reader.inferenceGeo?.() === 'us' ? upliftPrices(searched, US_INFERENCE_UPLIFT) : searched;
  const metered = translator.meter
    ? translator.meter(end, reader, {
        target,
        bound,
        reservedUsd: reservation.reservedUsd,
        ts: ctx.ts,
      })
    : meterExchange(end, reader, model, reservation.inputTokens, route.free, ctx.ts, {
        outputTokens: reservation.plan.maxOutputTokens,
        usd: reservation.reservedUsd,
      });
  if (metered.distrusted)
    deps.log.warn(
      { requestId: ctx.requestId, key: caller.key.name, upstream: up.name, reason: metered.distrusted },
      `upstream '${up.name}' reported usage that cannot be true (${metered.distrusted}); charged the estimate instead`,
    );
  return { outcome, metered };
}
