import type { Migration } from '../migration.js';

export const MIGRATION_3: Migration = {
  version: 3,
  name: 'usage: cache-write tokens, requested model, key hash prefix',
  // The usage record: cache writes are billed apart from plain input, the client's own model
  // name is kept beside the entry it resolved to, and the hash prefix shows which of a rotating
  // key's hashes is still in use.
  sql: `
      ALTER TABLE usage ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE usage ADD COLUMN requested_model TEXT;
      ALTER TABLE usage ADD COLUMN key_hash TEXT;
    `,
};
