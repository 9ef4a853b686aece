import type { Database } from 'better-sqlite3';

/**
 * Versioned schema of the embedded store. Kept as a TS list rather than .sql files so the build
 * (`tsc` into dist/) carries it without a copy step. Append only: never edit a shipped migration.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE usage (
        request_id TEXT NOT NULL UNIQUE,
        ts INTEGER NOT NULL,
        day TEXT NOT NULL,
        key TEXT NOT NULL,
        model TEXT,
        upstream TEXT,
        route TEXT NOT NULL,
        status INTEGER NOT NULL,
        error_code TEXT,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        latency_ms INTEGER NOT NULL,
        stream INTEGER NOT NULL,
        user_agent TEXT,
        ip TEXT,
        config_revision TEXT NOT NULL,
        usage_source TEXT NOT NULL
      );
      CREATE INDEX usage_ts ON usage (ts);
      CREATE INDEX usage_key_ts ON usage (key, ts);

      CREATE TABLE spend (
        key TEXT NOT NULL,
        period TEXT NOT NULL,
        spent_usd REAL NOT NULL DEFAULT 0,
        reserved_usd REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (key, period)
      ) WITHOUT ROWID;
      CREATE INDEX spend_period ON spend (period);

      CREATE TABLE reservations (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        amount_usd REAL NOT NULL,
        periods TEXT NOT NULL,
        lease_until INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX reservations_lease ON reservations (lease_until);

      CREATE TABLE usage_daily (
        day TEXT NOT NULL,
        key TEXT NOT NULL,
        model TEXT NOT NULL,
        status INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        PRIMARY KEY (day, key, model, status)
      ) WITHOUT ROWID;

      CREATE TABLE disables (
        key TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        by TEXT NOT NULL,
        source TEXT NOT NULL,
        at INTEGER NOT NULL
      );

      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,
        action TEXT NOT NULL,
        key TEXT,
        reason TEXT,
        result TEXT NOT NULL
      );

      CREATE TABLE claims (
        scope TEXT NOT NULL,
        id TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (scope, id)
      ) WITHOUT ROWID;

      CREATE TABLE clients (
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (key, fingerprint)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'drop the reservations lease index',
    // The table holds only requests in flight (a handful of rows): the 5 s sweep scans it at no
    // cost, while the index cost one more page written by every reserve and settle.
    sql: 'DROP INDEX IF EXISTS reservations_lease;',
  },
  {
    version: 3,
    name: 'usage: cache-write tokens, requested model, key hash prefix',
    // SPEC §4's record: cache writes are billed apart from plain input, the client's own model
    // name is kept beside the entry it resolved to, and the hash prefix shows which of a rotating
    // key's hashes is still in use.
    sql: `
      ALTER TABLE usage ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE usage ADD COLUMN requested_model TEXT;
      ALTER TABLE usage ADD COLUMN key_hash TEXT;
    `,
  },
  {
    version: 4,
    name: 'reservations keyed by id alone (WITHOUT ROWID)',
    // A rowid table with a TEXT primary key is two b-trees: every reserve and every settle
    // wrote a page of each (WAL frames are most of a commit's cost). Keyed by id, it is one.
    sql: `
      CREATE TABLE reservations_by_id (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        amount_usd REAL NOT NULL,
        periods TEXT NOT NULL,
        lease_until INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO reservations_by_id (id, key, amount_usd, periods, lease_until, created_at)
        SELECT id, key, amount_usd, periods, lease_until, created_at FROM reservations;
      DROP TABLE reservations;
      ALTER TABLE reservations_by_id RENAME TO reservations;
    `,
  },
];

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
