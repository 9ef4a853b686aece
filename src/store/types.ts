import type { BillCheckStore } from './bill-check-types.js';

/**
 * The store: everything money-relevant and everything shared between replicas. One contract
 * (role interfaces that `Store` composes), two implementations (sqlite.ts for the embedded
 * default, postgres.ts for several replicas), one test suite run against both
 * (test/integration/store.test.ts).
 */

import type { InsightStore } from './insight-types.js';

export type UsageSource = 'provider' | 'estimated' | 'reserved' | 'none';

/** One row per request, failed ones included (docs/api.md#metering-briefly). */
export interface UsageRecord {
  requestId: string;
  /** Epoch ms when the request arrived. */
  ts: number;
  /** Local day (`YYYY-MM-DD`) of `ts` in server.timezone; feeds the daily rollup. */
  day: string;
  /** Key name, or '' when no key could be identified. */
  key: string;
  model: string | null;
  upstream: string | null;
  route: string;
  status: number;
  errorCode: string | null;
  /** All input tokens, cached ones included. */
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from a cache (priced at cached_input_per_mtok). */
  cachedTokens: number;
  /** Input tokens written to a prompt cache (priced at cache_write_per_mtok); absent = 0. */
  cacheWriteTokens?: number;
  costUsd: number;
  latencyMs: number;
  stream: boolean;
  userAgent: string | null;
  ip: string | null;
  configRevision: string;
  usageSource: UsageSource;
  /** The `model` exactly as the client sent it (`model` holds the entry it resolved to); absent = null. */
  requestedModel?: string | null;
  /** First 12 hex digits of the key hash that authenticated the request (rotation: which hash is still used); absent = null. */
  keyHash?: string | null;
  /** Keyed hash of route, model and body without volatile fields (src/insights/fingerprint.ts); absent = null. */
  requestFp?: string | null;
  /** Keyed hash of the long prompt prefix, null when it is short; absent = null. */
  prefixFp?: string | null;
  /** Estimated tokens of that prefix; absent = 0. */
  prefixTokens?: number;
  /** The most output tokens the request was sent with; absent = null. */
  outputLimit?: number | null;
  /** Images an image request generated; absent/null on other routes (docs/api.md#images-and-audio). */
  images?: number | null;
  /** Seconds of audio a transcription or translation was billed for; absent/null elsewhere. */
  audioSeconds?: number | null;
  /** Characters of a speech request's input; absent/null elsewhere. */
  characters?: number | null;
}

/**
 * A budget window with a limit: `h:2026-11-26T14+01:00` (hourly), `d:2026-11-26` (daily),
 * `w:2026-11-23` (weekly, its Monday) or `m:2026-11` (monthly); `@backend/d:2026-11-26` is the
 * same window of group 'backend' (budget-subject.ts). Every period string of a reservation or a
 * charge may name a group's row this way.
 */
export interface BudgetWindow {
  period: string;
  limitUsd: number;
}

export type ReserveResult =
  | { ok: true }
  | { ok: false; period: string; limitUsd: number; spentUsd: number; reservedUsd: number };

export interface ReserveRequest {
  /** The request id; the reservation is settled or released under it. */
  id: string;
  key: string;
  amountUsd: number;
  /** Windows whose limit the reservation must fit in, atomically, all or nothing. */
  windows: BudgetWindow[];
  /** Every period the final cost is charged to (windows with and without limits). */
  periods: string[];
  /** After this instant (epoch ms) a reservation whose owner died is charged and released. */
  leaseUntil: number;
}

export interface PeriodSpend {
  spentUsd: number;
  reservedUsd: number;
}

export type SlotResult =
  /** `remaining`: requests left in the key's rpm window after this one (for x-ratelimit-remaining-requests), when known. */
  | { ok: true; remaining?: number }
  | {
      ok: false;
      limit: 'rpm' | 'max_parallel' | 'tpm';
      /** The group subject (`@backend`) when the group's limit was the full one. */
      group?: string;
      retryAfterSec: number;
      remaining: number;
    };

/** Rate limits of one subject: a key, or a group as `@name`. */
export interface SlotLimits {
  rpm?: number;
  maxParallel?: number;
  /** Tokens per minute, input + output. */
  tpm?: number;
}

export interface SlotRequest extends SlotLimits {
  id: string;
  key: string;
  /** The key's group (`@backend`) and its limits: checked with the key's, all or nothing. */
  group?: SlotLimits & { subject: string };
  /** Tokens counted against tpm until the request ends: estimated input + output bound. */
  tokens?: number;
  now: number;
  /** A parallel slot not released by then (its replica died) stops counting. */
  leaseUntil: number;
}

/** How a slot ends: the group it also held, and the tokens the request really used. */
export interface SlotEnd {
  group?: string;
  /** Replaces the admitted estimate in the tpm window (input + output from the usage). */
  tokens?: number;
}

export interface DisableRecord {
  key: string;
  reason: string;
  by: string;
  /** `circuit_breaker`: tollgate itself, on a spend spike (slack.alerts.spike_action: disable). */
  source: 'slack' | 'admin_api' | 'dashboard' | 'circuit_breaker';
  at: number;
}

export interface AuditEntry {
  at: number;
  actor: string;
  source: 'slack' | 'admin_api' | 'dashboard' | 'cli' | 'circuit_breaker';
  action: string;
  key: string | null;
  reason: string | null;
  /** `ok`, `refused: not an admin`, … */
  result: string;
}

export type UsageGroupBy = 'key' | 'model' | 'day' | 'status' | 'hash';

export interface UsageQuery {
  since: number;
  until: number;
  key?: string;
  by: UsageGroupBy;
}

/** One group of `tollgate usage` / `GET /admin/usage`. */
export interface UsageRow {
  key?: string;
  /** Only in rows folded by group (metering/usage-by-group.ts); '' for keys in no group. */
  group?: string;
  model?: string;
  day?: string;
  status?: number;
  /** `by: 'hash'`: the first 12 hex digits of the key hash (null for records from before it was kept). */
  hash?: string | null;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  /** Media units of the group's requests (absent where the store or query does not sum them). */
  images?: number;
  audio_seconds?: number;
  characters?: number;
  /** `by: 'hash'`: ISO time of the group's latest record. */
  last_used?: string;
}

/** One row of the daily rollup (per local day, key, model and status). */
export interface RollupRow {
  day: string;
  key: string;
  model: string;
  status: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** Dashboard charts: the daily rollup with statuses folded into an error count. */
export interface DailyTotalsQuery {
  fromDay: string;
  toDay: string;
  /** Only this key's rows. */
  key?: string;
}

/** One local day, key and model ('' for requests without one). */
export interface DailyTotal {
  day: string;
  key: string;
  model: string;
  requests: number;
  /** Requests that ended with status >= 400. */
  errors: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** Opening, health and closing: the server's wiring and /healthz. */
export interface StoreLifecycle {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies migrations (safe when several replicas start at once). */
  init(): Promise<void>;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Budgets: reserve before forwarding, settle after, and read what was spent. */
export interface BudgetStore {
  reserve(r: ReserveRequest): Promise<ReserveResult>;
  /**
   * In one transaction: drop the reservation `id` (if any) and its reserved amount, add
   * `usage.costUsd` to every period of the reservation (or `periods` when there was none),
   * insert the usage record and update the daily rollup. Idempotent per requestId. Resolves with
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
    InsightStore {}
