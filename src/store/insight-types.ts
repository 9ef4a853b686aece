/**
 * What the store answers for insights (src/insights/): a few grouped aggregates over a period,
 * computed by SQL on both stores, from which every finding is derived in plain code. The
 * thresholds come in with the query so that the store holds no policy.
 */

/** A stretch of the period with one UTC offset of server.timezone (a DST change starts another). */
export interface OffsetSegment {
  /** Epoch ms from which this offset applies (the first segment's `from` is ignored). */
  from: number;
  offsetMs: number;
}

export interface InsightQuery {
  since: number;
  until: number;
  key?: string;
  /** Requests with at least this many input tokens are "long context". */
  longInputTokens: number;
  /** Requests under this many input and output tokens are "small". */
  smallTokens: number;
  /** Local working hours, ms after local midnight: [start, end). */
  dayStartMs: number;
  dayEndMs: number;
  offsets: OffsetSegment[];
  /** A prompt prefix counts once sent this many times without a cache read. */
  minPrefixRepeats: number;
  /**
   * Sum the records themselves, not the rollup (src/store/insight-plan.ts): the reference the
   * rollup is checked against in tests and benches. The findings are the same either way.
   */
  recordsOnly?: boolean;
}

/** One key, model and client (user-agent and IP as recorded) over the period. */
export interface InsightGroup {
  key: string;
  /** '' for requests that named no known model. */
  model: string;
  userAgent: string | null;
  ip: string | null;
  requests: number;
  errors: number;
  /** Requests with input tokens (refusals before forwarding have none). */
  withInput: number;
  inputTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  costUsd: number;
  longRequests: number;
  longCostUsd: number;
  smallRequests: number;
  smallInputTokens: number;
  smallCachedTokens: number;
  smallCacheWriteTokens: number;
  smallOutputTokens: number;
  smallCostUsd: number;
  /** Answers whose output reached the output limit the request was sent with. */
  cappedRequests: number;
  cappedCostUsd: number;
  offHoursRequests: number;
  offHoursCostUsd: number;
}

/** The numeric fields of an `InsightGroup`: what adds up across records, days and groups. */
export type InsightSum = Exclude<keyof InsightGroup, 'key' | 'model' | 'userAgent' | 'ip'>;
export const INSIGHT_SUMS: readonly InsightSum[] = [
  'requests',
  'errors',
  'withInput',
  'inputTokens',
  'cachedTokens',
  'cacheWriteTokens',
  'outputTokens',
  'costUsd',
  'longRequests',
  'longCostUsd',
  'smallRequests',
  'smallInputTokens',
  'smallCachedTokens',
  'smallCacheWriteTokens',
  'smallOutputTokens',
  'smallCostUsd',
  'cappedRequests',
  'cappedCostUsd',
  'offHoursRequests',
  'offHoursCostUsd',
];

/** A record whose request fingerprint occurs at least twice for its key in the period. */
export interface RepeatRecord {
  key: string;
  fingerprint: string;
  ts: number;
  status: number;
  errorCode: string | null;
  costUsd: number;
}

/** Requests of one key and model that shared a long prompt prefix. */
export interface PrefixGroup {
  key: string;
  model: string;
  /** Distinct prefixes among them. */
  prefixes: number;
  requests: number;
  /** Sum over the requests of the prefix's estimated tokens. */
  prefixTokens: number;
  cachedTokens: number;
  costUsd: number;
}

export interface InsightFacts {
  groups: InsightGroup[];
  repeats: RepeatRecord[];
  prefixes: PrefixGroup[];
}

export interface InsightStore {
  /**
   * The stored value of secret `name`, creating it with `candidate` when there is none: every
   * replica on one database gets the value the first one stored.
   */
  keepSecret(name: string, candidate: string): Promise<string>;
  insightFacts(q: InsightQuery): Promise<InsightFacts>;
  /** Input tokens of the key's request at `rank` (0-based) when its records in [since, until) are sorted by them. */
  inputTokensAtRank(key: string, since: number, until: number, rank: number): Promise<number>;
  /**
   * Per key, its spend in [since, until) or more (never less), read from the rollup alone: exact
   * when the period starts and ends on whole UTC hours, an hour's spend over at most otherwise.
   * Keys that spent nothing are absent. Optional: without it a reader computes every key.
   */
  spendCeilings?(since: number, until: number): Promise<Map<string, number>>;
}
