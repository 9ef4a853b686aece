import type { Migration } from '../migration.js';

export const MIGRATION_1: Migration = {
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
};
