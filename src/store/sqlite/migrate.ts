import type { Database } from 'better-sqlite3';
import type { Migration } from '../migrations/migration.js';
import { SQLITE_MIGRATIONS } from '../migrations/sqlite/index.js';

/**
 * Applies the migrations not yet recorded in `schema_migrations`. Each runs in an IMMEDIATE
 * transaction that re-checks the version inside, so two processes opening the same file at once
 * (the server and `tollgate usage`) cannot both apply one.
 */
export function applySqliteMigrations(
  db: Database,
  migrations: readonly Migration[] = SQLITE_MIGRATIONS,
): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const applied = db.prepare<[number], { version: number }>(
    'SELECT version FROM schema_migrations WHERE version = ?',
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  let count = 0;
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const apply = db.transaction(() => {
      if (applied.get(m.version)) return false;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
      return true;
    });
    if (apply.immediate()) count++;
  }
  return count;
}
