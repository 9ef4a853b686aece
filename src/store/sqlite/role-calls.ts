import type { BillCheckStore } from '../bill-check-types.js';
import type { InsightStore } from '../insight-types.js';
import type {
  AuditStore,
  ClaimStore,
  ClientStore,
  DisableStore,
  SessionStore,
  UsageStore,
} from '../types.js';
import { asyncBillCheck, type SqliteBillCheck } from './bill-check.js';
import type { SqliteBudget } from './budget.js';
import type { SqliteDashboardQueries } from './dashboard-queries.js';
import type { SqliteKv } from './kv.js';
import type { SqliteUsageQueries } from './usage-queries.js';

/** The SQLite store's parts once `init()` migrated the file and prepared their statements. */
export interface Ready {
  budget: SqliteBudget;
  queries: SqliteUsageQueries;
  kv: SqliteKv;
  dashboard: SqliteDashboardQueries;
  billCheck: SqliteBillCheck;
  insights: Required<InsightStore>;
}

/** Returns the ready parts, or throws when the store is closed or not initialized yet. */
export type UseReady = () => Ready;

/** Disables, and the subscribers told when one changes. */
export function sqliteDisableCalls(use: UseReady, subscribers: Set<() => void>): DisableStore {
  const notifyDisabledChange = (): void => {
    for (const cb of subscribers) {
      try {
        cb();
      } catch {
        // A subscriber's failure must not turn a committed disable into a reported error.
      }
    }
  };
  return {
    async setDisabled(d) {
      const changed = use().kv.setDisabled(d);
      if (changed) notifyDisabledChange();
      return changed;
    },
    async clearDisabled(key) {
      const changed = use().kv.clearDisabled(key);
      if (changed) notifyDisabledChange();
      return changed;
    },
    async listDisabled() {
      return use().kv.listDisabled();
    },
    onDisabledChange(cb) {
      subscribers.add(cb);
      return () => {
        subscribers.delete(cb);
      };
    },
  };
}

/** The audit log, once-only claims, clients and signed-out sessions (sqlite/kv.ts). */
export function sqliteRecordCalls(
  use: UseReady,
): Omit<AuditStore, 'keyAudit'> & ClaimStore & ClientStore & SessionStore {
  return {
    async audit(e) {
      use().kv.audit(e);
    },
    async listAudit(limit) {
      return use().kv.listAudit(limit);
    },
    async claimOnce(scope, id, at) {
      return use().kv.claimOnce(scope, id, at);
    },
    async pruneClaims(scope, before) {
      return use().kv.pruneClaims(scope, before);
    },
    async releaseClaim(scope, id) {
      use().kv.releaseClaim(scope, id);
    },
    async recordClient(key, fingerprint, at) {
      return use().kv.recordClient(key, fingerprint, at);
    },
    async revokeSession(sid, expiresAt, now) {
      use().kv.revokeSession(sid, expiresAt, now);
    },
    async isSessionRevoked(sid) {
      return use().kv.isSessionRevoked(sid);
    },
  };
}

/** Reads for reports, the dashboard, the bill check and insights. */
export function sqliteReportCalls(
  use: UseReady,
): UsageStore & Pick<AuditStore, 'keyAudit'> & BillCheckStore & Required<InsightStore> {
  return {
    async queryUsage(q, timeZone) {
      return use().queries.queryUsage(q, timeZone);
    },
    async rollup(fromDay, toDay) {
      return use().queries.rollup(fromDay, toDay);
    },
    async spendBetween(key, since, until) {
      return use().queries.spendBetween(key, since, until);
    },
    async lastUsed() {
      return use().queries.lastUsed();
    },
    async dailyTotals(q) {
      return use().dashboard.dailyTotals(q);
    },
    async recentUsage(key, limit) {
      return use().dashboard.recentUsage(key, limit);
    },
    async keyAudit(key, limit) {
      return use().dashboard.keyAudit(key, limit);
    },
    ...asyncBillCheck(() => use().billCheck),
    async keepSecret(name, candidate) {
      return use().insights.keepSecret(name, candidate);
    },
    async insightFacts(q) {
      return use().insights.insightFacts(q);
    },
    async inputTokensAtRank(key, since, until, rank) {
      return use().insights.inputTokensAtRank(key, since, until, rank);
    },
    async spendCeilings(since, until) {
      return use().insights.spendCeilings(since, until);
    },
  };
}
