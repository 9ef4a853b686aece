import type { UsageWriter } from '../metering/usage-writer.js';
import type { Notifier } from '../notifier.js';
import { groupOfKey } from '../policy/budget.js';
import type { PeriodSpend, UsageRecord } from '../store/types.js';
import { groupSubject, spendRowOf } from '../windows/budget-subject.js';
import { windowOfPeriod } from '../windows/budget-windows.js';
import { buildRecord, type Outcome, type RequestContext } from './context.js';
import type { ProxyDeps } from './proxy-deps.js';

type SpendReport = Parameters<Notifier['requestSettled']>[0]['spend'];

/**
 * Ends a request exactly once: writes its usage record (before the client's response ends, so a
 * SIGKILL right after cannot lose it), answers the client, releases the parallel slot, logs one
 * line, and then, off the response's path, updates metrics and tells the notifier the new spend.
 */
export type FinishRequest = (ctx: RequestContext, outcome: Outcome, respond: () => void) => Promise<void>;

export function createFinisher(deps: ProxyDeps, writer: UsageWriter): FinishRequest {
  const reportSpend = async (
    ctx: RequestContext,
    record: UsageRecord,
    known: Record<string, PeriodSpend> | undefined,
  ) => {
    const { key, periods, refusedPeriod } = ctx.draft;
    if (!key) return;
    const spend: SpendReport = {};
    // Only a charge can move a key across a threshold, and a refusal for budget says one ran out;
    // other requests skip the store read.
    const refusedForBudget = record.errorCode === 'insufficient_quota';
    if ((record.costUsd > 0 || refusedForBudget) && periods.length > 0) {
      // SQLite returns the spend with the write; otherwise one more read.
      const current = known ?? (await deps.store.getSpend(key.name, periods));
      const group = groupOfKey(key, ctx.loaded.config.groups);
      for (const entry of periods) {
        const [subject, period] = spendRowOf(key.name, entry);
        const spec = windowOfPeriod(period);
        if (!spec) continue;
        const window = spec.name;
        const spentUsd = current[entry]?.spentUsd ?? 0;
        const ratio = (limit: number) => (limit > 0 ? spentUsd / limit : 1);
        if (subject === key.name) {
          const limitUsd = key.limits[spec.limit];
          if (limitUsd === undefined) continue;
          deps.metrics.setBudgetUse(key.name, window, ratio(limitUsd));
          spend[window] = { spentUsd, limitUsd, period };
        } else if (group && subject === groupSubject(group.name)) {
          const limitUsd = group.limits[spec.limit];
          if (limitUsd !== undefined) deps.metrics.setGroupBudgetUse(group.name, window, ratio(limitUsd));
        }
      }
    }
    deps.notifier.requestSettled({
      key,
      record,
      spend,
      ...(refusedPeriod ? { refusedPeriod } : {}),
    });
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
    const { key, periods, slot } = ctx.draft;
    if (outcome.errorCode === 'store_unavailable') void writer.write(record, periods);
    else written = await writer.write(record, periods);
    try {
      respond();
    } catch (err) {
      deps.log.error({ err, requestId: ctx.requestId }, 'could not send the response');
    }
    if (slot && key) {
      const name = key.name;
      const { group, tokens } = slot;
      deps.store
        .releaseSlot(ctx.requestId, name, {
          ...(group ? { group } : {}),
          ...(tokens ? { tokens: record.inputTokens + record.outputTokens } : {}),
        })
        .catch((err: unknown) =>
          deps.log.warn(
            { err, requestId: ctx.requestId, key: name },
            'could not release a rate-limit slot; its lease (or the minute) will',
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
