/**
 * What the store keeps and answers: usage records, reservations, slots, disables, audit entries
 * and the rows of its reports. The roles that read and write them are in types.ts.
 */

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
  /**
   * `leased`: served from a budget lease this replica holds in memory (PostgreSQL,
   * postgres/leases/) without a call to the database: its success proves nothing of the writes
   * (write-health.ts). Absent when the reservation went to the store (always on SQLite).
   */
  | { ok: true; leased?: true }
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
  /** When the slot is taken (not the request's arrival): the minute it is counted in. */
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
  /**
   * Only the records with media units (images, audio seconds, characters), read from their own
   * index: groups without any are left out, the units of the others are the same. Not with
   * `by: 'hash'`, which reads every record.
   */
  media?: true;
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
