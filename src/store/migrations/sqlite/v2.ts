import type { Migration } from '../migration.js';

export const MIGRATION_2: Migration = {
  version: 2,
  name: 'drop the reservations lease index',
  // The table holds only requests in flight (a handful of rows): the 5 s sweep scans it at no
  // cost, while the index cost one more page written by every reserve and settle.
  sql: 'DROP INDEX IF EXISTS reservations_lease;',
};
