import type { Database } from 'better-sqlite3';
import { spendRowOf } from '../../windows/budget-subject.js';
import type { PeriodSpend } from '../types.js';
import type { SpendRow } from './spend-cache.js';

export interface SpendReads {
  getSpend(key: string, periods: string[]): Record<string, PeriodSpend>;
  getAllSpend(periods: string[]): Map<string, Record<string, number>>;
}

/** Spend read outside any transaction (status, dashboard, Slack): never from the reserve/settle cache. */
export function createSpendReads(db: Database): SpendReads {
  const spendOf = db.prepare<[string, string], SpendRow>(
    'SELECT spent_usd, reserved_usd FROM spend WHERE key = ? AND period = ?',
  );
  const spendByPeriod = db.prepare<[string], { key: string; spent_usd: number }>(
    // Keys only: a group's rows (`@backend`) would count its keys' spend twice in a total.
    "SELECT key, spent_usd FROM spend WHERE period = ? AND substr(key, 1, 1) <> '@'",
  );
  return {
    getSpend(key, periods) {
      const out: Record<string, PeriodSpend> = {};
      for (const p of periods) {
        const row = spendOf.get(...spendRowOf(key, p));
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
