import type { Database } from 'better-sqlite3';
import {
  groupsSql,
  prefixesSql,
  rankSql,
  repeatsSql,
  rowOfGroup,
  rowOfPrefix,
  rowOfRepeat,
} from '../insight-sql.js';
import type { InsightStore } from '../insight-types.js';

/** Insight aggregates and the fingerprint secret on the embedded store (see insight-sql.ts). */
export function createSqliteInsights(db: Database): InsightStore {
  const insertSecret = db.prepare<[string, string, number]>(
    'INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
  );
  const readSecret = db.prepare<[string], { value: string }>('SELECT value FROM secrets WHERE name = ?');
  const rank = db.prepare<[string, number, number, number], { input_tokens: number }>(rankSql('?'));
  const keepSecret = db.transaction((name: string, candidate: string) => {
    insertSecret.run(name, candidate, Date.now());
    return readSecret.get(name)?.value ?? candidate;
  });

  return {
    async keepSecret(name, candidate) {
      return keepSecret.immediate(name, candidate);
    },
    async insightFacts(q) {
      const args = q.key === undefined ? [] : [q.key];
      const all = (sql: string, params: unknown[]) =>
        db.prepare(sql).all(...params) as Record<string, unknown>[];
      return {
        groups: all(groupsSql(q, '?'), args).map(rowOfGroup),
        // The key appears twice in the repeats statement: in the inner and the outer WHERE.
        repeats: all(repeatsSql(q, '?'), [...args, ...args]).map(rowOfRepeat),
        prefixes: all(prefixesSql(q, '?'), args).map(rowOfPrefix),
      };
    },
    async inputTokensAtRank(key, since, until, r) {
      return rank.get(key, since, until, r)?.input_tokens ?? 0;
    },
  };
}
