import type { Database, Statement } from 'better-sqlite3';
import { spendRowOf } from '../../windows/budget-subject.js';
import type { PeriodSpend } from '../types.js';

/** Float slack so that 100 × $0.01 fits a $1.00 limit (the sum is 1.0000000000000007). */
export const EPSILON = 1e-12;

export interface SpendRow {
  spent_usd: number;
  reserved_usd: number;
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

export interface SpendCache {
  /** First thing in every transaction that reads or adds through the cache. */
  begin(): void;
  /** After such a transaction rolled back: what it wrote into the cache never happened. */
  rolledBack(): void;
  /** The row in this transaction; a missing row reads as zero, which is what the upsert starts from. */
  row(subject: string, period: string): SpendRow;
  /**
   * Adds to every period (in the cache and in one upsert) and, given `out`, writes the spend after
   * it there. An entry may name a group's row (`@backend/d:…`, see budget-subject.ts) instead of
   * the key's.
   */
  add(
    key: string,
    periods: readonly string[],
    spent: number,
    reserved: number,
    out?: Record<string, PeriodSpend>,
  ): void;
  /** `add`, returning the spend after it in the periods it changed. */
  addAndRead(
    key: string,
    periods: readonly string[],
    spent: number,
    reserved: number,
  ): Record<string, PeriodSpend>;
}

/**
 * The spend rows reserve and settle read, cached: reading them was 4 of the 15 statements per
 * request, and writing absolute values (known from the cache) lets one statement upsert all of a
 * request's periods. The cache is only trusted inside a transaction that `begin` opened: that
 * checks `PRAGMA data_version`, which moves whenever another connection (another process)
 * committed, and then drops the cache; IMMEDIATE keeps anyone else from writing until our
 * commit. A rollback drops it too (`rolledBack`). Statements are prepared once, here.
 */
export function createSpendCache(db: Database): SpendCache {
  const spendOf = db.prepare<[string, string], SpendRow>(
    'SELECT spent_usd, reserved_usd FROM spend WHERE key = ? AND period = ?',
  );
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  const cache = new Map<string, SpendRow>();
  let version = -1;
  const row = (subject: string, period: string): SpendRow => {
    const id = `${subject}\u0000${period}`;
    let found = cache.get(id);
    if (found === undefined) {
      found = spendOf.get(subject, period) ?? { spent_usd: 0, reserved_usd: 0 };
      cache.set(id, found);
    }
    return found;
  };
  // One upsert for all of a request's rows (3 for a key with a daily limit, 6 with a group), by
  // row count. Positional parameters: binding an object by name costs more than the statement,
  // and they are passed spread, as arguments: an array passed whole is bound element by element
  // through V8's API, ~450 instructions a parameter (callgrind: 44,000 against 38,500 per
  // 12-parameter upsert).
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
  const add: SpendCache['add'] = (key, periods, spent, reserved, out) => {
    if (periods.length === 0) return;
    args.length = 0;
    for (const p of periods) {
      const [subject, period] = spendRowOf(key, p);
      const id = `${subject}\u0000${period}`;
      const after = added(row(subject, period), spent, reserved);
      cache.set(id, after);
      args.push(subject, period, after.spent_usd, after.reserved_usd);
      if (out) out[p] = { spentUsd: after.spent_usd, reservedUsd: after.reserved_usd };
    }
    upsertOf(periods.length).run(...args);
  };
  return {
    begin() {
      const v = dataVersion.get() as number;
      if (v !== version || cache.size > CACHE_ROWS) cache.clear();
      version = v;
    },
    rolledBack: () => cache.clear(),
    row,
    add,
    addAndRead(key, periods, spent, reserved) {
      const out: Record<string, PeriodSpend> = {};
      add(key, periods, spent, reserved, out);
      return out;
    },
  };
}
