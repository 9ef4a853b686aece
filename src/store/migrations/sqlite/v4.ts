import type { Migration } from '../migration.js';

export const MIGRATION_4: Migration = {
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
};
