import {
  combineGroups,
  plannedGroupsSql,
  prefixesSql,
  repeatsSql,
  rowOfPrefix,
  rowOfRepeat,
  rowsOfSpendCeilings,
  spendCeilingsSql,
} from '../insight-sql.js';
import type { InsightFacts, InsightQuery } from '../insight-types.js';
import { guarded, inTransaction, type Pool } from './pool.js';

/** Insight aggregates and the fingerprint secret on PostgreSQL (see insight-sql.ts). */

export function keepSecret(pool: Pool, name: string, candidate: string): Promise<string> {
  return guarded(async () => {
    await pool.query(
      'INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
      [name, candidate, Date.now()],
    );
    // A statement of its own: one that inserted in the same statement would not see the row of a
    // replica whose insert committed while it waited on the conflict (its snapshot is older).
    const { rows } = await pool.query<{ value: string }>('SELECT value FROM secrets WHERE name = $1', [name]);
    const kept = rows[0]?.value;
    if (kept === undefined) throw new Error(`the store lost its ${name} secret`);
    return kept;
  });
}

/**
 * Insight reads scan a period of the usage table: over a month of a busy fleet they take longer
 * than the statement timeout that bounds a request's store calls. Each runs in a read-only
 * transaction of its own with a longer limit, so the request path keeps its short one.
 */
const INSIGHT_STATEMENT_TIMEOUT_MS = 120_000;
/**
 * At the default 4 MB the per-client aggregate sorts every record of the period, spilling to
 * disk; with a little more room PostgreSQL hashes its few thousand groups instead (measured with
 * EXPLAIN ANALYZE on bench/insights.ts's data: 356 → 218 ms at 200,000 records). A limit, not an
 * allocation, and for these read-only transactions only.
 */
const INSIGHT_WORK_MEM = '16MB';

/*
 * jit off: the repeats read's estimate (a third of the fingerprints repeated, where a few are)
 * prices it high enough to compile it, which took ~1 s of a ~2.4 s read (EXPLAIN ANALYZE on
 * bench/insights.ts's data); these reads gain nothing from it.
 *
 * No parallel workers: the reads of one period already run side by side, one connection each
 * (insightFacts). The per-client aggregate planned workers for itself, whose partial sums of
 * every client were then gathered and summed again: on bench/insights.ts's data (2 CPUs) it took
 * 370–435 ms alone against 230–250 ms without them, and the workers took CPU from the
 * fingerprint read that the whole answer waits for.
 */
function readLong<T>(pool: Pool, sql: string, args: unknown[]): Promise<T[]> {
  return inTransaction(pool, async (c) => {
    await c.query(
      `SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = ${INSIGHT_STATEMENT_TIMEOUT_MS}; SET LOCAL work_mem = '${INSIGHT_WORK_MEM}'; SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0`,
    );
    // The client's own timeout (the pool's query_timeout) is raised with it.
    const query = { text: sql, values: args, query_timeout: INSIGHT_STATEMENT_TIMEOUT_MS + 1_000 };
    return (await c.query(query as { text: string; values: unknown[] })).rows as T[];
  });
}

/**
 * The repeats read walks the fingerprint index over the whole period, the longest of the reads
 * (~0.5 s of CPU over bench/insights.ts's 1,000,000 records): for every key it is read as two
 * halves side by side, split at the middle key of the planner's histogram of usage.key (no
 * histogram yet, or one key asked: one read).
 */
async function repeatsRead(pool: Pool, q: InsightQuery): Promise<Record<string, unknown>[]> {
  if (q.key !== undefined) return readLong(pool, repeatsSql(q, '$1'), [q.key]);
  const middle = await middleKey(pool);
  if (middle === null) return readLong(pool, repeatsSql(q, '$1'), []);
  const halves = await Promise.all(
    (['below', 'from'] as const).map((half) =>
      readLong<Record<string, unknown>>(pool, repeatsSql(q, '$1', half), [middle]),
    ),
  );
  return halves.flat();
}

/** The middle bound of the planner's histogram of usage.key (ANALYZE keeps it), or null. */
async function middleKey(pool: Pool): Promise<string | null> {
  const { rows } = await guarded(() =>
    pool.query<{ key: string | null }>(
      `SELECT b[(cardinality(b) + 1) / 2] AS key
        FROM (SELECT histogram_bounds::text::text[] AS b FROM pg_stats
          WHERE schemaname = current_schema() AND tablename = 'usage' AND attname = 'key') s`,
    ),
  );
  return rows[0]?.key ?? null;
}

export async function insightFacts(pool: Pool, q: InsightQuery): Promise<InsightFacts> {
  const args = q.key === undefined ? [] : [q.key];
  // The rollup and the records it is combined with are read in one statement (one snapshot).
  const [groups, repeats, prefixes] = await Promise.all([
    readLong<Record<string, unknown>>(pool, plannedGroupsSql(q, '$1').sql, args),
    repeatsRead(pool, q),
    readLong<Record<string, unknown>>(pool, prefixesSql(q, '$1'), args),
  ]);
  return {
    groups: combineGroups(groups),
    repeats: repeats.map(rowOfRepeat),
    prefixes: prefixes.map(rowOfPrefix),
  };
}

/** One call of inputTokensAtRank, waiting for the statement that answers it. */
interface RankAsk {
  key: string;
  rank: number;
  resolve(inputTokens: number): void;
  reject(err: unknown): void;
}

/**
 * Input tokens at a rank of a key's records of a period (InsightStore.inputTokensAtRank), with
 * the asks of one turn of the event loop for the same period read in one statement. computeInsights
 * asks for a median and a p95 of every long-context key at once: one statement of a query each was
 * 200 round trips and ~1 ms of database CPU each for 100 such keys (bench/insights.ts); one
 * statement sorting each asked key's inputs once took ~60 ms for all of them.
 */
export function createRankReads(
  pool: Pool,
): (key: string, since: number, until: number, rank: number) => Promise<number> {
  const waiting = new Map<string, { since: number; until: number; asks: RankAsk[] }>();
  const flush = () => {
    const batches = [...waiting.values()];
    waiting.clear();
    for (const b of batches) void answer(pool, b.since, b.until, b.asks);
  };
  return (key, since, until, rank) =>
    new Promise<number>((resolve, reject) => {
      const id = `${since}:${until}`;
      let batch = waiting.get(id);
      if (!batch) {
        if (waiting.size === 0) setImmediate(flush);
        batch = { since, until, asks: [] };
        waiting.set(id, batch);
      }
      batch.asks.push({ key, rank, resolve, reject });
    });
}

/**
 * Each ask's row: the key's records of the period numbered in input order (0-based, as OFFSET
 * counts), read from usage_key_ts_input alone; an ask past the last record gets none (0).
 */
const RANKS_SQL = `SELECT a.i, x.input_tokens
  FROM unnest($3::text[], $4::bigint[]) WITH ORDINALITY AS a(key, rank, i)
  JOIN (SELECT key, input_tokens, row_number() OVER (PARTITION BY key ORDER BY input_tokens) - 1 AS rank
    FROM usage WHERE key = ANY($5::text[]) AND ts >= $1 AND ts < $2 AND input_tokens > 0) x
    ON x.key = a.key AND x.rank = a.rank`;

async function answer(pool: Pool, since: number, until: number, asks: RankAsk[]): Promise<void> {
  try {
    const keys = asks.map((a) => a.key);
    const rows = await readLong<{ i: string; input_tokens: string }>(pool, RANKS_SQL, [
      since,
      until,
      keys,
      asks.map((a) => a.rank),
      [...new Set(keys)],
    ]);
    const found = new Map(rows.map((r) => [Number(r.i), Number(r.input_tokens)]));
    for (const [i, a] of asks.entries()) a.resolve(found.get(i + 1) ?? 0);
  } catch (err) {
    for (const a of asks) a.reject(err);
  }
}

export function spendCeilings(pool: Pool, since: number, until: number): Promise<Map<string, number>> {
  return guarded(async () => {
    const { rows } = await pool.query<Record<string, unknown>>(spendCeilingsSql(since, until));
    return rowsOfSpendCeilings(rows);
  });
}
