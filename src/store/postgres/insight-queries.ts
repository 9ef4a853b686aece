import {
  groupsSql,
  prefixesSql,
  rankSql,
  repeatsSql,
  rowOfGroup,
  rowOfPrefix,
  rowOfRepeat,
} from '../insight-sql.js';
import type { InsightFacts, InsightQuery } from '../insight-types.js';
import { guarded, type Pool } from './pool.js';

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

export function insightFacts(pool: Pool, q: InsightQuery): Promise<InsightFacts> {
  return guarded(async () => {
    const args = q.key === undefined ? [] : [q.key];
    const [groups, repeats, prefixes] = await Promise.all([
      pool.query(groupsSql(q, '$1'), args),
      pool.query(repeatsSql(q, '$1'), args),
      pool.query(prefixesSql(q, '$1'), args),
    ]);
    return {
      groups: groups.rows.map(rowOfGroup),
      repeats: repeats.rows.map(rowOfRepeat),
      prefixes: prefixes.rows.map(rowOfPrefix),
    };
  });
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
