import type { ServerResponse } from 'node:http';
import { toGatewayError } from '../../errors.js';
import { NO_USAGE } from '../../pricing/pricing.js';
import type { Outcome, RequestContext } from '../context.js';
import type { FinishRequest } from '../finish.js';
import type { ProxyDeps } from '../proxy-deps.js';
import { sendError } from '../respond.js';
import type { Admission } from './admit.js';
import type { Exchanged } from './exchange.js';
import { exchangeOutcome } from './exchange-outcome.js';

/*
 * Stage 4 of 4, settle: every request ends in exactly one `finish` (finish.ts), which writes the
 * usage record, answers the client, releases the rate slot and settles the reservation to the
 * metered cost. Two ways lead here: an exchange that ran (settleExchange), or a refusal or crash
 * at any stage (settleRefusal, from the pipeline's one catch), settled with what the draft holds.
 */

/** An outcome without an exchange: nothing used, nothing charged. */
export function refusedOutcome(status: number, errorCode: string | null): Outcome {
  return { status, errorCode, usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
}

/**
 * A request that broke after the upstream received it (its metering threw): the provider may
 * bill it, and nothing says for how much, so it is charged what was reserved, as a reservation
 * nobody settles is (docs/operations.md#a-settle-after-the-sweep). Before, it was charged nothing.
 */
function brokenOutcome(status: number, errorCode: string, forwardedUsd: number | undefined): Outcome {
  if (!forwardedUsd) return refusedOutcome(status, errorCode);
  return { status, errorCode, usage: NO_USAGE, usageSource: 'reserved', costUsd: forwardedUsd };
}

export async function settleExchange(
  finish: FinishRequest,
  ctx: RequestContext,
  res: ServerResponse,
  admission: Admission,
  exchanged: Exchanged,
): Promise<void> {
  const { outcome } = exchanged;
  const settled = exchangeOutcome(
    outcome,
    exchanged.metered,
    admission.target.upstream,
    admission.caller.key.name,
  );
  await finish(ctx, settled, () => {
    if (outcome.responseStarted) outcome.finish();
    else if (settled.error) sendError(res, settled.error, ctx.shape);
  });
}

/** Settles a request refused or broken at any stage; one already settled is only cut off. */
export async function settleRefusal(
  deps: ProxyDeps,
  finish: FinishRequest,
  ctx: RequestContext,
  res: ServerResponse,
  thrown: unknown,
): Promise<void> {
  const err = toGatewayError(thrown);
  if (ctx.settled) {
    deps.log.error({ err: thrown, requestId: ctx.requestId }, 'error after the request was settled');
    if (!res.writableEnded) res.destroy();
    return;
  }
  const { draft } = ctx;
  if (err.refusedPeriod !== undefined) draft.refusedPeriod = err.refusedPeriod;
  if (err.code === 'internal_error')
    deps.log.error({ err: err.cause, requestId: ctx.requestId }, 'internal error');
  if ((err.code === 'key_disabled' || err.code === 'key_expired') && draft.key) {
    deps.notifier.keyRefused({
      key: draft.key.name,
      code: err.code,
      userAgent: ctx.userAgent,
      ip: ctx.ip,
      at: ctx.ts,
    });
  }
  await finish(ctx, brokenOutcome(err.status, err.code, draft.forwardedUsd), () =>
    sendError(res, err, ctx.shape),
  );
}
