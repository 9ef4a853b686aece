/**
 * The bill check's rows as the store keeps them (docs/bill-check.md#the-rows): one per UTC day,
 * upstream and model, written by src/billing and read by the command, digest, dashboard and
 * metrics. Here, one floor below all of them.
 */

/** Tokens by the kind each is billed as; the four kinds partition a request's tokens. */
export interface TokenCounts {
  /** Uncached input: neither read from nor written to a prompt cache. */
  input: number;
  cached_input: number;
  /** Cache writes of any TTL. */
  cache_write: number;
  output: number;
}

export type Verdict = 'match' | 'unmetered' | 'overmetered' | 'mispriced' | 'unavailable';

/** One row of `tollgate reconcile --format json`. */
export interface BillRow {
  upstream: string;
  /** The UTC day, `YYYY-MM-DD`. */
  date: string;
  model: string;
  metered_tokens: TokenCounts;
  billed_tokens: TokenCounts | null;
  metered_usd: number;
  billed_usd: number | null;
  delta_usd: number | null;
  verdict: Verdict;
  /** Why: the numbers behind the verdict, or what the provider answered. */
  detail: string;
}

/** What tollgate recorded for one upstream and model over a span of time. */
export interface MeteredModel {
  model: string;
  requests: number;
  /** Requests the upstream answered (status < 400): the ones a provider bills. */
  okRequests: number;
  inputTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** The store's part in the bill check. */
export interface BillCheckStore {
  /** Usage records of `upstream` with ts in [since, until), summed per model. */
  meteredByModel(upstream: string, since: number, until: number): Promise<MeteredModel[]>;
  /** Replaces the rows of each (date, upstream) in `rows` with them, in one transaction. */
  saveBillChecks(date: string, upstream: string, rows: BillRow[], at: number): Promise<void>;
  /** Rows of UTC days in [fromDate, toDate], by date, upstream and model. */
  billChecks(fromDate: string, toDate: string): Promise<BillRow[]>;
}

const VERDICTS = new Set<string>(['match', 'unmetered', 'overmetered', 'mispriced', 'unavailable']);

/** A stored row back into its shape (both stores keep the token counts as JSON text). */
export function billRowOf(r: {
  date: string;
  upstream: string;
  model: string;
  verdict: string;
  metered_usd: number;
  billed_usd: number | null;
  delta_usd: number | null;
  metered_tokens: string;
  billed_tokens: string | null;
  detail: string;
}): BillRow {
  return {
    upstream: r.upstream,
    date: r.date,
    model: r.model,
    metered_tokens: JSON.parse(r.metered_tokens) as TokenCounts,
    billed_tokens: r.billed_tokens === null ? null : (JSON.parse(r.billed_tokens) as TokenCounts),
    metered_usd: Number(r.metered_usd),
    billed_usd: r.billed_usd === null ? null : Number(r.billed_usd),
    delta_usd: r.delta_usd === null ? null : Number(r.delta_usd),
    verdict: (VERDICTS.has(r.verdict) ? r.verdict : 'unavailable') as Verdict,
    detail: r.detail,
  };
}
