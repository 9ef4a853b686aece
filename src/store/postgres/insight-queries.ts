import {
  combineGroups,
  plannedGroupsSql,
  prefixesSql,
  rankSql,
  repeatsSql,
  rowOfPrefix,
  rowOfRepeat,
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
 */
function readLong<T>(pool: Pool, sql: string, args: unknown[]): Promise<T[]> {
  return inTransaction(pool, async (c) => {
    await c.query(
      `SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = ${INSIGHT_STATEMENT_TIMEOUT_MS}; SET LOCAL work_mem = '${INSIGHT_WORK_MEM}'; SET LOCAL jit = off`,
    );
    // The client's own timeout (the pool's query_timeout) is raised with it.
    const query = { text: sql, values: args, query_timeout: INSIGHT_STATEMENT_TIMEOUT_MS + 1_000 };
    return (await c.query(query as { text: string; values: unknown[] })).rows as T[];
  });
}

export async function insightFacts(pool: Pool, q: InsightQuery): Promise<InsightFacts> {
  const args = q.key === undefined ? [] : [q.key];
  // The rollup and the records it is combined with are read in one statement (one snapshot).
  const [groups, repeats, prefixes] = await Promise.all([
    readLong<Record<string, unknown>>(pool, plannedGroupsSql(q, '$1').sql, args),
    readLong<Record<string, unknown>>(pool, repeatsSql(q, '$1'), args),
    readLong<Record<string, unknown>>(pool, prefixesSql(q, '$1'), args),
  ]);
  return {
    groups: combineGroups(groups),
    repeats: repeats.map(rowOfRepeat),
    prefixes: prefixes.map(rowOfPrefix),
  };
}

export function inputTokensAtRank(
  pool: Pool,
  key: string,
  since: number,
  until: number,
  rank: number,
): Promise<number> {
  return guarded(async () => {
    const { rows } = await pool.query<{ input_tokens: string }>(rankSql('$'), [key, since, until, rank]);
    return Number(rows[0]?.input_tokens ?? 0);
  });
}
