import type { Migration } from '../migration.js';

export const MIGRATION_9: Migration = {
  version: 9,
  name: 'dashboard sign-outs',
  // A session cookie is signed, not stored: a sign-out kept in one replica's memory was unknown
  // to the others and forgotten by a restart. A row lives until the session would have expired.
  sql: `
      CREATE TABLE revoked_sessions (
        sid text PRIMARY KEY,
        expires_at bigint NOT NULL
      );
      CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at);
    `,
};
