import type { GatewayDeps } from '../deps.js';
import type { UsageWriter } from '../metering/usage-writer.js';
import type { Notifier } from '../notifier.js';
import type { PeriodSpend, UsageRecord } from '../store/types.js';
import { buildRecord, type Outcome, type RequestContext } from './context.js';

type SpendReport = Parameters<Notifier['requestSettled']>[0]['spend'];

/**
 * Ends a request exactly once: writes its usage record (before the client's response ends, so a
 * SIGKILL right after cannot lose it), answers the client, releases the parallel slot, logs one
 * line, and then, off the response's path, updates metrics and tells the notifier the new spend.
 */
export type FinishRequest = (ctx: RequestContext, outcome: Outcome, respond: () => void) => Promise<void>;

export function createFinisher(deps: GatewayDeps, writer: UsageWriter): FinishRequest {
  const reportSpend = async (
    ctx: RequestContext,
    record: UsageRecord,
    known: Record<string, PeriodSpend> | undefined,
  ) => {
    const key = ctx.key;
    if (!key) return;
    const spend: SpendReport = {};
    // Only a charge can move a key across a threshold; free requests skip the store read.
    if (record.costUsd > 0 && ctx.periods.length > 0) {
      const [daily, monthly] = ctx.periods as [string, string];
      // SQLite returns the spend with the write; otherwise one more read.
      const current = known ?? (await deps.store.getSpend(key.name, ctx.periods));
      const { dailyUsd, monthlyUsd } = key.limits;
      if (dailyUsd !== undefined) {
        spend.daily = { spentUsd: current[daily]?.spentUsd ?? 0, limitUsd: dailyUsd, period: daily };
        deps.metrics.setBudgetUse(key.name, 'daily', dailyUsd > 0 ? spend.daily.spentUsd / dailyUsd : 1);
      }
      if (monthlyUsd !== undefined) {
        spend.monthly = { spentUsd: current[monthly]?.spentUsd ?? 0, limitUsd: monthlyUsd, period: monthly };
        deps.metrics.setBudgetUse(
          key.name,
          'monthly',
          monthlyUsd > 0 ? spend.monthly.spentUsd / monthlyUsd : 1,
        );
      }
    }
    deps.notifier.requestSettled({ key, record, spend });
  };

  return async (ctx, outcome, respond) => {
    if (ctx.settled) {
      deps.log.error(
        { requestId: ctx.requestId },
        'a request was about to be settled twice; ignored the second',
      );
      return;
    }
    ctx.settled = true;
    const record = buildRecord(ctx, outcome);
    // Refused because the store is away: the record (no cost, no reservation) goes on being
    // written in the background rather than holding the answer for the store that just failed.
    let written: Awaited<ReturnType<UsageWriter['write']>> = { written: false };
    if (outcome.errorCode === 'store_unavailable') void writer.write(record, ctx.periods);
    else written = await writer.write(record, ctx.periods);
    try {
      respond();
    } catch (err) {
      deps.log.error({ err, requestId: ctx.requestId }, 'could not send the response');
    }
    if (ctx.slotHeld && ctx.key) {
      const name = ctx.key.name;
      deps.store
        .releaseSlot(ctx.requestId, name)
        .catch((err: unknown) =>
          deps.log.warn(
            { err, requestId: ctx.requestId, key: name },
            'could not release a parallel slot; its lease will',
          ),
        );
    }
    deps.log.info(
      {
        requestId: record.requestId,
        key: record.key,
        model: record.model,
        upstream: record.upstream,
        route: record.route,
        status: record.status,
        code: record.errorCode,
        inputTokens: record.inputTokens,
        outputTokens: record.outputTokens,
        cachedTokens: record.cachedTokens,
        costUsd: record.costUsd,
        usageSource: record.usageSource,
        stream: record.stream,
        latencyMs: record.latencyMs,
        ...(outcome.detail ? { detail: outcome.detail } : {}),
      },
      'request',
    );
    deps.metrics.observeRequest(record);
    reportSpend(ctx, record, written.spend).catch((err: unknown) =>
      deps.log.warn({ err, requestId: ctx.requestId }, 'could not report spend after a request'),
    );
  };
}
