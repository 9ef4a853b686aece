import type { ServerResponse } from 'node:http';
import { reserveBudget } from '../../policy/budget.js';
import { checkKeyUsable } from '../../policy/key-usable.js';
import type { OutputPlan } from '../../policy/output-cap.js';
import { acquireRateSlot } from '../../policy/rate-limit.js';
import type { RequestContext } from '../context.js';
import { maxExchangeMs } from '../forward.js';
import type { ProxyDeps } from '../proxy-deps.js';
import type { Admission } from './admit.js';

/*
 * Stage 2 of 4, reserve: a rate slot (rpm, tpm, max_parallel of the key and its group), then the
 * request's maximum cost in every limited budget window. Both are held in the store until the
 * request settles (settle.ts, finish.ts), or until their lease runs out if this replica dies.
 * Next: exchange.ts.
 */

/** A reservation outlives a replica that died mid-request by at most this long past the timeout. */
const LEASE_SLACK_MS = 60_000;

/** What the reservation paid for: exchange meters against it. */
export interface Reservation {
  /** USD reserved (the request's maximum cost); 0 when nothing was reserved. */
  reservedUsd: number;
  /** The output plan reserved: its bound is written into the request. */
  plan: OutputPlan;
  /** What an estimate charges for input: the bound reserved for input the body does not carry. */
  inputTokens: number;
}

export async function reserve(
  deps: ProxyDeps,
  ctx: RequestContext,
  res: ServerResponse,
  admission: Admission,
): Promise<Reservation> {
  const { route, caller, target, bound } = admission;
  const { key, group } = caller;
  const output = bound.fitter;
  // Counted from now, not from the request's arrival: reading its body (an upload on a slow link)
  // may have taken minutes, and the exchange may still run its whole maximum after this. A lease
  // ending before the exchange would have the sweep charge a request still in flight.
  // A disable that landed while the body was arriving (an upload on a slow link) refuses the
  // request before anything is held: the kill switch promised 401 to every request from then on.
  // Expiry stays judged at arrival (ctx.ts), as in admit.
  checkKeyUsable(key, deps.disables.get(key.name), ctx.ts, ctx.loaded.config.server.timezone);
  const reservedAt = deps.clock();
  const leaseUntil = reservedAt + maxExchangeMs(target.upstream.timeoutMs) + LEASE_SLACK_MS;
  const slot = await acquireRateSlot(deps.store, {
    id: ctx.requestId,
    key,
    ...(group ? { group } : {}),
    // tpm admits the request's bound as planned; a bound later lowered to fit a budget only settles lower.
    tokens: route.free ? 0 : bound.inputEstimate + output.plan().maxOutputTokens,
    // The slot counts in the minute it is taken, not the one the request arrived in: a slot
    // stamped with an arrival minutes ago would be outside the rolling minute already (never
    // counted), and one taken from a rate lease past its end would be granted twice.
    now: reservedAt,
    leaseUntil,
  });
  if (slot.held) ctx.draft.slot = slot.holding;
  for (const name in slot.headers) res.setHeader(name, slot.headers[name] as string);

  let reservedUsd = 0;
  if (!route.free) {
    reservedUsd = await reserveBudget(deps.store, {
      id: ctx.requestId,
      key,
      amountUsd: output.amountUsd,
      plan: caller.budget,
      leaseUntil,
      timeZone: ctx.loaded.config.server.timezone,
      now: ctx.ts,
      ...(output.fit ? { fit: output.fit } : {}),
      ...(bound.why ? { why: bound.why } : {}),
    });
  }
  const plan = output.plan();
  if (plan.maxOutputTokens > 0) ctx.draft.outputLimit = plan.maxOutputTokens;
  if (plan.capped && plan.inject) res.setHeader('x-tollgate-output-capped', String(plan.inject.value));
  // The client asked for tools it will not get: say which, as for the output cap.
  if (bound.toolsRemoved) res.setHeader('x-tollgate-tools-removed', bound.toolsRemoved.join(','));
  return { reservedUsd, plan, inputTokens: output.inputTokens() };
}
