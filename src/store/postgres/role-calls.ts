import type { BillCheckStore } from '../bill-check-types.js';
import type { InsightStore } from '../insight-types.js';
import type { AuditStore, ClaimStore, ClientStore, SessionStore, UsageStore } from '../types.js';
import * as billCheck from './bill-check.js';
import * as dashboard from './dashboard-queries.js';
import * as insights from './insight-queries.js';
import type { Pool } from './pool.js';
import * as queries from './queries.js';

/** The audit log, once-only claims, clients and signed-out sessions. */
export function postgresRecordCalls(
  pool: Pool,
): Omit<AuditStore, 'keyAudit'> & ClaimStore & ClientStore & SessionStore {
  return {
    audit: (e) => queries.audit(pool, e),
    listAudit: (limit) => queries.listAudit(pool, limit),
    claimOnce: (scope, id, at) => queries.claimOnce(pool, scope, id, at),
    releaseClaim: (scope, id) => queries.releaseClaim(pool, scope, id),
    pruneClaims: (scope, before) => queries.pruneClaims(pool, scope, before),
    recordClient: (key, fingerprint, at) => queries.recordClient(pool, key, fingerprint, at),
    revokeSession: (sid, expiresAt, now) => queries.revokeSession(pool, sid, expiresAt, now),
    isSessionRevoked: (sid) => queries.isSessionRevoked(pool, sid),
  };
}

/** Reads for reports, the dashboard, the bill check and insights. */
export function postgresReportCalls(
  pool: Pool,
): UsageStore & Pick<AuditStore, 'keyAudit'> & BillCheckStore & Required<InsightStore> {
  const inputTokensAtRank = insights.createRankReads(pool);
  return {
    queryUsage: (q, timeZone) => queries.queryUsage(pool, q, timeZone),
    rollup: (fromDay, toDay) => queries.rollup(pool, fromDay, toDay),
    spendBetween: (key, since, until) => queries.spendBetween(pool, key, since, until),
    lastUsed: () => queries.lastUsed(pool),
    dailyTotals: (q) => dashboard.dailyTotals(pool, q),
    recentUsage: (key, limit) => dashboard.recentUsage(pool, key, limit),
    keyAudit: (key, limit) => dashboard.keyAudit(pool, key, limit),
    meteredByModel: (upstream, since, until) => billCheck.meteredByModel(pool, upstream, since, until),
    saveBillChecks: (date, upstream, rows, at) => billCheck.saveBillChecks(pool, date, upstream, rows, at),
    billChecks: (fromDate, toDate) => billCheck.billChecks(pool, fromDate, toDate),
    keepSecret: (name, candidate) => insights.keepSecret(pool, name, candidate),
    insightFacts: (q) => insights.insightFacts(pool, q),
    inputTokensAtRank,
    spendCeilings: (since, until) => insights.spendCeilings(pool, since, until),
  };
}
