import type { Database, Statement } from 'better-sqlite3';
import {
  combineGroups,
  plannedGroupsSql,
  prefixesSql,
  RANK_SQL,
  repeatsSql,
  rowOfPrefix,
  rowOfRepeat,
  rowsOfSpendCeilings,
  spendCeilingsSql,
} from '../insight-sql.js';
import type { InsightStore } from '../insight-types.js';

/** Insight aggregates and the fingerprint secret on the embedded store (see insight-sql.ts). */
export function createSqliteInsights(db: Database): Required<InsightStore> {
  const insertSecret = db.prepare<[string, string, number]>(
    'INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
  );
  const readSecret = db.prepare<[string], { value: string }>('SELECT value FROM secrets WHERE name = ?');
  const rank = db.prepare<[string, number, number, number], { input_tokens: number }>(RANK_SQL);
  const keepSecret = db.transaction((name: string, candidate: string) => {
    insertSecret.run(name, candidate, Date.now());
    return readSecret.get(name)?.value ?? candidate;
  });

  const readAll = <T>(read: () => T): T => db.transaction(read).deferred();
  // The statements of one period are the same text for every key (the key is a parameter): the
  // digest and the dashboard read key by key, and would otherwise prepare each anew per key.
  const statements = new Map<string, Statement>();
  const prepared = (sql: string): Statement => {
    let s = statements.get(sql);
    if (!s) {
      if (statements.size >= 16) statements.clear();
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };

  return {
    async keepSecret(name, candidate) {
      return keepSecret.immediate(name, candidate);
    },
    async insightFacts(q) {
      const args = q.key === undefined ? [] : [q.key];
      const all = (sql: string, params: unknown[]) =>
        prepared(sql).all(...params) as Record<string, unknown>[];
      const groups = plannedGroupsSql(q, '?');
      // One read transaction: the rollup and the records it is combined with are one snapshot.
      return readAll(() => ({
        groups: combineGroups(all(groups.sql, Array<unknown>(groups.keyUses).fill(q.key))),
        repeats: all(repeatsSql(q, '?'), args).map(rowOfRepeat),
        prefixes: all(prefixesSql(q, '?'), args).map(rowOfPrefix),
      }));
    },
    async inputTokensAtRank(key, since, until, r) {
      return rank.get(key, since, until, r)?.input_tokens ?? 0;
    },
    async spendCeilings(since, until) {
      return rowsOfSpendCeilings(prepared(spendCeilingsSql(since, until)).all() as Record<string, unknown>[]);
    },
  };
}
