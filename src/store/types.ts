/**
 * The store: everything money-relevant and everything shared between replicas. One contract
 * (role interfaces that `Store` composes), two implementations (sqlite.ts for the embedded
 * default, postgres.ts for several replicas), one test suite run against both
 * (test/integration/store.test.ts). The records the roles take and give are in records.ts.
 */

import type { BillCheckStore } from './bill-check-types.js';
import type { InsightStore } from './insight-types.js';
import type {
  AuditEntry,
  DailyTotal,
  DailyTotalsQuery,
  DisableRecord,
  PeriodSpend,
  ReserveRequest,
  ReserveResult,
  RollupRow,
  SlotEnd,
  SlotRequest,
  SlotResult,
  UsageQuery,
  UsageRecord,
  UsageRow,
} from './records.js';

export type * from './records.js';

/** What one replica holds in budget leases (PostgreSQL, docs/postgres.md#budget-leases). */
export interface LeaseHoldings {
  leases: number;
  /** USD the database counts as reserved for this replica's leases (free and held). */
  leasedUsd: number;
  /** USD of it held by this replica's requests in flight. */
  heldUsd: number;
}

/** What one replica holds in rate leases (PostgreSQL, docs/postgres.md#rate-leases). */
export interface RateLeaseHoldings {
  leases: number;
  /** Requests and tokens the database counts for this replica's rate leases (as granted, then as trimmed). */
  requests: number;
  tokens: number;
  /** max_parallel slots this replica leases (rows the database counts as taken), those serving a request, and requests served from them since it started. */
  slots: number;
  slotsInUse: number;
  slotsServed: number;
}

/** Opening, health and closing: the server's wiring and /healthz. */
export interface StoreLifecycle {
  readonly kind: 'sqlite' | 'postgres';
  /** This replica's budget leases; absent on stores without them. */
  leaseHoldings?(): LeaseHoldings;
  /** This replica's rate leases; absent on stores without them. */
  rateLeaseHoldings?(): RateLeaseHoldings;
  /** Applies migrations (safe when several replicas start at once). */
  init(): Promise<void>;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  /**
   * One small write through the connection that reserves and settles, for /healthz
   * (write-health.ts); absent, the probe is a claim taken and released.
   */
  probeWrites?(at: number): Promise<void>;
  close(): Promise<void>;
}

/** Budgets: reserve before forwarding, settle after, and read what was spent. */
export interface BudgetStore {
  reserve(r: ReserveRequest): Promise<ReserveResult>;
  /**
   * In one transaction: drop the reservation `id` (if any) and its reserved amount, add
   * `usage.costUsd` to every period of the reservation (or `periods` when there was none),
   * insert the usage record and update the daily rollup. Idempotent per requestId. A request
   * whose reservation was swept (recoverReservations) has the sweep's record: that record and its
   * charge in `periods` (the request's, which its reservation held) are taken back and the cost
   * charged instead, once (docs/operations.md#a-settle-after-the-sweep). Resolves with
   * the key's spend after it in the periods it changed when the store has it at no extra cost
   * (SQLite); undefined means "ask getSpend".
   */
  settle(usage: UsageRecord, periods: string[]): Promise<Record<string, PeriodSpend> | undefined>;
  /**
   * Charges and releases reservations whose lease ended before `now` (a replica died), writing
   * a usage record with usageSource 'reserved' for each. `all` releases every reservation:
   * used by the embedded store at start, when no other process can own one.
   */
  recoverReservations(now: number, all?: boolean): Promise<number>;
  /** Spent and reserved USD for a key in the given periods. */
  getSpend(key: string, periods: string[]): Promise<Record<string, PeriodSpend>>;
  /**
   * Spent USD per key for the given periods: `result.get(key)?.[period]`. Keys only: a group's
   * rows are read with getSpend and `@group/…` entries (budget-subject.ts).
   */
  getAllSpend(periods: string[]): Promise<Map<string, Record<string, number>>>;
}

/** Budget reads only: spend per key and period, for reports, metrics and alerts. */
export type SpendReader = Pick<BudgetStore, 'getSpend' | 'getAllSpend'>;

/** Rate limits: rpm and tpm (rolling 60 s) and max_parallel, shared by all replicas. */
export interface RateStore {
  acquireSlot(r: SlotRequest): Promise<SlotResult>;
  /** Ends a slot: frees its parallel slot and settles its tpm tokens to the real count. */
  releaseSlot(id: string, key: string, end?: SlotEnd): Promise<void>;
}

/** The kill switch: durable disables from Slack, the admin API, the dashboard and the breaker. */
export interface DisableStore {
  /** Returns false when the key was already disabled (idempotent). */
  setDisabled(d: DisableRecord): Promise<boolean>;
  /** Returns false when the key was not disabled. */
  clearDisabled(key: string): Promise<boolean>;
  listDisabled(): Promise<Map<string, DisableRecord>>;
  /** Called when any replica changes a disable (LISTEN/NOTIFY on postgres). Returns unsubscribe. */
  onDisabledChange(cb: () => void): () => void;
}

/** The audit log of admin actions. */
export interface AuditStore {
  audit(e: AuditEntry): Promise<void>;
  listAudit(limit: number): Promise<AuditEntry[]>;
  /** Audit entries about one key, newest first. */
  keyAudit(key: string, limit: number): Promise<AuditEntry[]>;
}

/**
 * Once-only guards shared by replicas (digest per day, alert per key/window/threshold, Slack
 * request replays): true for the first caller of (scope, id), false for everyone after.
 */
export interface ClaimStore {
  claimOnce(scope: string, id: string, at: number): Promise<boolean>;
  /** Undoes a claim whose work failed, so it can be retried. */
  releaseClaim(scope: string, id: string): Promise<void>;
  /** Forgets claims of `scope` made before `before` (e.g. Slack signatures past the replay window). */
  pruneClaims(scope: string, before: number): Promise<number>;
}

/**
 * Dashboard sign-outs. A session cookie is signed, so every replica accepts it until it expires;
 * a sign-out kept here is refused by every replica, and after a restart, for the rest of its life.
 */
export interface SessionStore {
  /** Records that session `sid` (valid until `expiresAt`) was signed out; forgets sign-outs of sessions expired by `now`. */
  revokeSession(sid: string, expiresAt: number, now: number): Promise<void>;
  isSessionRevoked(sid: string): Promise<boolean>;
}

/** The clients each key was used from (Slack's new-client alert). */
export interface ClientStore {
  /**
   * Remembers that `key` was used from client `fingerprint` (user-agent family + network).
   * Returns whether it is new and how many other clients the key had before.
   */
  recordClient(
    key: string,
    fingerprint: string,
    at: number,
  ): Promise<{ isNew: boolean; knownBefore: number }>;
}

/** Reads of the usage records and their daily rollup: reports, digest, dashboard. */
export interface UsageStore {
  queryUsage(q: UsageQuery, timeZone: string): Promise<UsageRow[]>;
  /** Daily rollup rows for local days in [fromDay, toDay] inclusive. */
  rollup(fromDay: string, toDay: string): Promise<RollupRow[]>;
  /** Cost and request count of a key's records with ts in [since, until). */
  spendBetween(key: string, since: number, until: number): Promise<{ costUsd: number; requests: number }>;
  /** Epoch ms of each key's latest usage record. */
  lastUsed(): Promise<Map<string, number>>;
  /** Rollup sums per day, key and model for local days in [fromDay, toDay], in that order. */
  dailyTotals(q: DailyTotalsQuery): Promise<DailyTotal[]>;
  /** A key's latest usage records, newest first. */
  recentUsage(key: string, limit: number): Promise<UsageRecord[]>;
}

/**
 * The whole store, as the server opens it. Code that uses it takes the role(s) it needs
 * (`BudgetStore`, `DisableStore`, …), so a test fake implements one role, not all of them.
 */
export interface Store
  extends StoreLifecycle,
    BudgetStore,
    RateStore,
    DisableStore,
    AuditStore,
    ClaimStore,
    ClientStore,
    SessionStore,
    UsageStore,
    BillCheckStore,
    Required<InsightStore> {}
