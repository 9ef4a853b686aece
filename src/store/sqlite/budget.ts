import type { Database, Statement } from 'better-sqlite3';
import type { Clock } from '../../clock.js';
import { spendRowOf } from '../../windows/budget-subject.js';
import { recoveredUsage } from '../recovered-usage.js';
import type { PeriodSpend, ReserveRequest, ReserveResult, UsageRecord } from '../types.js';
import { createUsageRecorder } from './usage-writes.js';

/** Float slack so that 100 × $0.01 fits a $1.00 limit (the sum is 1.0000000000000007). */
const EPSILON = 1e-12;

interface SpendRow {
  spent_usd: number;
  reserved_usd: number;
}

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
  /** After such a transaction rolled back: what it wrote into the cache never happened. */
  rolledBack(): void;
  recoverReservations(now: number, all: boolean): number;
  getSpend(key: string, periods: string[]): Record<string, PeriodSpend>;
  getAllSpend(periods: string[]): Map<string, Record<string, number>>;
}

/** Spend rows the cache holds at most; past it, it starts again empty (old periods pile up). */
const CACHE_ROWS = 100_000;

/** The spend row after adding `spent` and `reserved` to it, exactly as the SQL upsert computed it. */
function added(row: SpendRow | undefined, spent: number, reserved: number): SpendRow {
  if (!row) return { spent_usd: spent, reserved_usd: Math.max(0, reserved) };
  // A release can leave 1e-18 of float residue; snapping it keeps "nothing in flight" exactly 0.
  const r = row.reserved_usd + reserved;
  return { spent_usd: row.spent_usd + spent, reserved_usd: r < EPSILON ? 0 : r };
}

/**
 * Reserve and settle, the two store calls on every proxied request: statements are prepared
 * once, and the calls run inside the group commit's IMMEDIATE transaction, so that another
 * process on the same file (a second `serve` by mistake) cannot interleave between the check and
 * the write.
 *
 * The spend rows they read are cached: reading them was 4 of the 15 statements per request, and
 * writing absolute values (known from the cache) lets one statement upsert all of a request's
 * periods. The cache is only trusted inside a transaction that `begin` opened: that checks
 * `PRAGMA data_version`, which moves whenever another connection (another process) committed,
 * and then drops the cache; IMMEDIATE keeps anyone else from writing until our commit. A
 * rollback drops it too (`rolledBack`), and `getSpend`, read outside any transaction, never uses it.
 */
export function createSqliteBudget(db: Database, clock: Clock): SqliteBudget {
  const spendOf = db.prepare<[string, string], SpendRow>(
    'SELECT spent_usd, reserved_usd FROM spend WHERE key = ? AND period = ?',
  );
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  const cache = new Map<string, SpendRow>();
  let version = -1;
  const begin = () => {
    const v = dataVersion.get() as number;
    if (v !== version || cache.size > CACHE_ROWS) cache.clear();
    version = v;
  };
  const rolledBack = () => cache.clear();
  /** The row in this transaction; a missing row reads as zero, which is what the upsert starts from. */
  const cachedRow = (subject: string, period: string): SpendRow | undefined => {
    const id = `${subject}\u0000${period}`;
    let row = cache.get(id);
    if (row === undefined) {
      row = spendOf.get(subject, period) ?? { spent_usd: 0, reserved_usd: 0 };
      cache.set(id, row);
    }
    return row;
  };
  // One upsert for all of a request's rows (3 for a key with a daily limit, 6 with a group), by
  // row count. Positional parameters: binding an object by name costs more than the statement.
  const upserts = new Map<number, Statement<unknown[]>>();
  const upsertOf = (rows: number) => {
    let stmt = upserts.get(rows);
    if (!stmt) {
      stmt = db.prepare(`
        INSERT INTO spend (key, period, spent_usd, reserved_usd)
        VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?)').join(', ')}
        ON CONFLICT (key, period) DO UPDATE SET
          spent_usd = excluded.spent_usd, reserved_usd = excluded.reserved_usd`);
      upserts.set(rows, stmt);
    }
    return stmt;
  };
  const args: unknown[] = [];
  /**
   * Adds to every period and returns the spend after it (from the cache, in this transaction). An
   * entry may name a group's row (`@backend/d:…`, see budget-subject.ts) instead of the key's.
   */
  const addSpend = (
    key: string,
    periods: readonly string[],
    spent: number,
    reserved: number,
    out?: Record<string, PeriodSpend>,
  ): void => {
    if (periods.length === 0) return;
    args.length = 0;
    for (const p of periods) {
      const [subject, period] = spendRowOf(key, p);
      const id = `${subject}\u0000${period}`;
      const row = added(cachedRow(subject, period), spent, reserved);
      cache.set(id, row);
      args.push(subject, period, row.spent_usd, row.reserved_usd);
      if (out) out[p] = { spentUsd: row.spent_usd, reservedUsd: row.reserved_usd };
    }
    upsertOf(periods.length).run(args);
  };
  const addSpendAndRead = (key: string, periods: readonly string[], spent: number, reserved: number) => {
    const out: Record<string, PeriodSpend> = {};
    addSpend(key, periods, spent, reserved, out);
    return out;
  };
  const rowOf = (key: string, entry: string): SpendRow | undefined => spendOf.get(...spendRowOf(key, entry));
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
  const spendByPeriod = db.prepare<[string], { key: string; spent_usd: number }>(
    // Keys only: a group's rows (`@backend`) would count its keys' spend twice in a total.
    "SELECT key, spent_usd FROM spend WHERE period = ? AND substr(key, 1, 1) <> '@'",
  );

  /** Inserts the usage row and its rollup; false when this request id was already recorded. */
  const recordUsage = createUsageRecorder(db);

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
      const row = cachedRow(subject, period);
      const spentUsd = row?.spent_usd ?? 0;
      const reservedUsd = row?.reserved_usd ?? 0;
      if (spentUsd + reservedUsd + r.amountUsd > w.limitUsd + EPSILON) {
        deleteReservation.run(r.id);
        return { ok: false, period: w.period, limitUsd: w.limitUsd, spentUsd, reservedUsd };
      }
    }
    addSpend(r.key, periods, 0, r.amountUsd);
    return { ok: true };
  };

  const settle = (u: UsageRecord, periods: string[]): Record<string, PeriodSpend> | undefined => {
    // A usage row already there means this request was settled (or recovered) before: the
    // retried settle charges nothing, but a stray reservation under the id is still given back.
    const fresh = recordUsage(u);
    const res = takeReservation.get(u.requestId);
    if (res) {
      const cost = fresh ? u.costUsd : 0;
      return addSpendAndRead(res.key, JSON.parse(res.periods) as string[], cost, -res.amount_usd);
    }
    if (fresh) return addSpendAndRead(u.key, [...new Set(periods)], u.costUsd, 0);
    return undefined;
  };

  const recover = db.transaction((now: number, all: boolean): number => {
    begin();
    const rows = all ? allReservations.all() : expiredReservations.all(now);
    for (const row of rows) {
      const periods = JSON.parse(row.periods) as string[];
      const reservation = {
        id: row.id,
        key: row.key,
        amountUsd: row.amount_usd,
        periods,
        createdAt: row.created_at,
      };
      const fresh = recordUsage(recoveredUsage(reservation, now));
      addSpend(row.key, periods, fresh ? row.amount_usd : 0, -row.amount_usd);
      deleteReservation.run(row.id);
    }
    return rows.length;
  });

  return {
    reserve,
    settle,
    begin,
    rolledBack,
    recoverReservations(now, all) {
      try {
        return recover.immediate(now, all);
      } catch (err) {
        rolledBack();
        throw err;
      }
    },
    getSpend(key, periods) {
      const out: Record<string, PeriodSpend> = {};
      for (const p of periods) {
        const row = rowOf(key, p);
        out[p] = { spentUsd: row?.spent_usd ?? 0, reservedUsd: row?.reserved_usd ?? 0 };
      }
      return out;
    },
    getAllSpend(periods) {
      const out = new Map<string, Record<string, number>>();
      for (const p of periods) {
        for (const row of spendByPeriod.iterate(p)) {
          let entry = out.get(row.key);
          if (!entry) {
            entry = {};
            out.set(row.key, entry);
          }
          entry[p] = row.spent_usd;
        }
      }
      return out;
    },
  };
}
