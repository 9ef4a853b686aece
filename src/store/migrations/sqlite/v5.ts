import type { Migration } from '../migration.js';

export const MIGRATION_5: Migration = {
  version: 5,
  name: 'dashboard sign-outs',
  // A session cookie is signed, not stored: a sign-out kept only in memory was forgotten by a
  // restart. A row lives until the session would have expired anyway.
  sql: `
      CREATE TABLE revoked_sessions (
        sid TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at);
    `,
};
