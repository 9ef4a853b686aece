import type { Database } from 'better-sqlite3';
import type { Clock } from '../../clock.js';
import { spendRowOf } from '../../windows/budget-subject.js';
import { RECOVERED_ERROR_CODE, recoveredUsage } from '../recovered-usage.js';
import type { PeriodSpend, ReserveRequest, ReserveResult, UsageRecord } from '../types.js';
import { createSpendCache, EPSILON, type SpendCache } from './spend-cache.js';
import { createSpendReads } from './spend-reads.js';
import { createUnsweep } from './unsweep.js';
import { createUsageRecorder, type UsageRecorder } from './usage-writes.js';

interface ReservationRow {
  id: string;
  key: string;
  amount_usd: number;
  periods: string;
  created_at: number;
}

export interface SqliteBudget {
  /** Runs inside the caller's transaction (the group commit's): call it through that. */
  reserve(r: ReserveRequest): ReserveResult;
  /**
   * Runs inside the caller's transaction (the group commit's): call it through that. Returns the
   * key's spend after it in the periods it changed (undefined when it changed nothing).
   */
  settle(usage: UsageRecord, periods: string[]): Record<string, PeriodSpend> | undefined;
  /** First thing in every transaction that calls reserve or settle (see the spend cache below). */
  begin(): void;
  /**
   * Last thing in every such transaction, before its COMMIT: writes the rollups of the records
   * its settles wrote, once per rollup row (usage-writes.ts).
   */
  end(): void;
  /** After such a transaction rolled back: what it wrote into the cache never happened. */
  rolledBack(): void;
  recoverReservations(now: number, all: boolean): number;
  getSpend(key: string, periods: string[]): Record<string, PeriodSpend>;
  getAllSpend(periods: string[]): Map<string, Record<string, number>>;
}

/** The spend cache's and the usage recorder's part in every transaction that reserves or settles. */
function transactionHooks(spend: SpendCache, recorder: UsageRecorder) {
  return {
    begin() {
      spend.begin();
      // Sums left from a transaction that never reached `end` were rolled back with it.
      recorder.discard();
    },
    end: recorder.flush,
    rolledBack() {
      spend.rolledBack();
      recorder.discard();
    },
  };
}

/**
 * Reserve and settle, the two store calls on every proxied request: statements are prepared
 * once, and the calls run inside the group commit's IMMEDIATE transaction, so that another
 * process on the same file (a second `serve` by mistake) cannot interleave between the check and
 * the write.
 *
 * The spend rows they read are cached (spend-cache.ts), trusted only inside a transaction that
 * `begin` opened; a rollback drops the cache (`rolledBack`), and `getSpend`, read outside any
 * transaction, never uses it (spend-reads.ts).
 */
export function createSqliteBudget(db: Database, clock: Clock): SqliteBudget {
  const spend = createSpendCache(db);
  const reads = createSpendReads(db);
  const usageExists = db.prepare<[string], { one: number }>(
    'SELECT 1 AS one FROM usage WHERE request_id = ?',
  );
  const insertReservation = db.prepare<[string, string, number, string, number, number]>(
    `INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO NOTHING`,
  );
  const takeReservation = db.prepare<[string], Pick<ReservationRow, 'key' | 'amount_usd' | 'periods'>>(
    'DELETE FROM reservations WHERE id = ? RETURNING key, amount_usd, periods',
  );
  const deleteReservation = db.prepare<[string]>('DELETE FROM reservations WHERE id = ?');
  const expiredReservations = db.prepare<[number], ReservationRow>(
    'SELECT id, key, amount_usd, periods, created_at FROM reservations WHERE lease_until < ? ORDER BY created_at',
  );
  const allReservations = db.prepare<[], ReservationRow>(
    'SELECT id, key, amount_usd, periods, created_at FROM reservations ORDER BY created_at',
  );

  /** Inserts the usage row (its rollups at `end`); false when this request id was already recorded. */
  const recorder = createUsageRecorder(db);
  const recordUsage = recorder.record;
  const unsweep = createUnsweep(db);
  const { begin, end, rolledBack } = transactionHooks(spend, recorder);

  const reserve = (r: ReserveRequest): ReserveResult => {
    // A limited window missing from `periods` would otherwise not see this reservation.
    let periods = r.periods;
    if (r.windows.some((w) => !periods.includes(w.period)))
      periods = [...new Set([...r.periods, ...r.windows.map((w) => w.period)])];
    else if (new Set(periods).size !== periods.length) periods = [...new Set(periods)];
    // Already settled (a reserve retried after its request ended): holding money now would
    // keep it from the budget until the lease ended. Same rule as the PostgreSQL store's.
    if (usageExists.get(r.id)) return { ok: true };
    // Idempotent: a repeated reserve under the same id must not hold the amount twice. Inserting
    // first answers that without a read of its own; a refusal below takes the row out again.
    const inserted = insertReservation.run(
      r.id,
      r.key,
      r.amountUsd,
      JSON.stringify(periods),
      r.leaseUntil,
      clock(),
    ).changes;
    if (inserted === 0) return { ok: true };
    // The key's windows and its group's are checked in one transaction: all fit, or nothing is held.
    for (const w of r.windows) {
      const [subject, period] = spendRowOf(r.key, w.period);
      const row = spend.row(subject, period);
      const spentUsd = row?.spent_usd ?? 0;
      const reservedUsd = row?.reserved_usd ?? 0;
      if (spentUsd + reservedUsd + r.amountUsd > w.limitUsd + EPSILON) {
        deleteReservation.run(r.id);
        return { ok: false, period: w.period, limitUsd: w.limitUsd, spentUsd, reservedUsd };
      }
    }
    spend.add(r.key, periods, 0, r.amountUsd);
    return { ok: true };
  };

  const settle = (u: UsageRecord, periods: string[]): Record<string, PeriodSpend> | undefined => {
    // A usage row already there means this request was settled (or recovered) before: the
    // retried settle charges nothing, but a stray reservation under the id is still given back.
    const fresh = recordUsage(u);
    const res = takeReservation.get(u.requestId);
    if (res) {
      const cost = fresh ? u.costUsd : 0;
      return spend.addAndRead(res.key, JSON.parse(res.periods) as string[], cost, -res.amount_usd);
    }
    const charged = [...new Set(periods)];
    if (fresh) return spend.addAndRead(u.key, charged, u.costUsd, 0);
    // Swept before this settle landed (docs/operations.md#a-settle-after-the-sweep): the sweep
    // charged the whole reservation, in the periods this request charges. That charge and its
    // record go back, then the cost is charged as the request's first: charged once, exactly
    // (taking the charge out first leaves 0, not float residue, where it was all the spend).
    const swept = u.errorCode === RECOVERED_ERROR_CODE ? undefined : unsweep(u.requestId);
    if (!swept) return undefined;
    spend.add(swept.key, charged, -swept.costUsd, 0);
    recordUsage(u);
    return spend.addAndRead(u.key, charged, u.costUsd, 0);
  };

  const recover = db.transaction((now: number, all: boolean): number => {
    begin();
    const rows = all ? allReservations.all() : expiredReservations.all(now);
    for (const row of rows) {
      const periods = JSON.parse(row.periods) as string[];
      const { id, key, amount_usd: amountUsd, created_at: createdAt } = row;
      const fresh = recordUsage(recoveredUsage({ id, key, amountUsd, periods, createdAt }, now));
      spend.add(row.key, periods, fresh ? row.amount_usd : 0, -row.amount_usd);
      deleteReservation.run(row.id);
    }
    end();
    return rows.length;
  });

  return {
    reserve,
    settle,
    begin,
    end,
    rolledBack,
    recoverReservations(now, all) {
      try {
        return recover.immediate(now, all);
      } catch (err) {
        rolledBack();
        throw err;
      }
    },
    getSpend: reads.getSpend,
    getAllSpend: reads.getAllSpend,
  };
}
