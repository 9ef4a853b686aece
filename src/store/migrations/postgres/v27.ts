import type { Migration } from '../migration.js';

/**
 * Migration 27: swept leases' charges are deleted once no settle can draw on them.
 *
 * lease_charges (migration 14) kept a row per swept lease for ever. The sweep now deletes those
 * made more than 8 days before, a bounded batch per pass (src/store/postgres/leases/lease-charges.ts:
 * a leased settle is never sent more than 7 days after its hold); this index finds them oldest
 * first without reading the table.
 */
export const MIGRATION_27: Migration = {
  version: 27,
  name: 'the charges of swept leases are found by age, to be deleted',
  sql: `
    CREATE INDEX lease_charges_swept_at ON lease_charges (swept_at);
  `,
};
