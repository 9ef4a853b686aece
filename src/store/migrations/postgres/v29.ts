import type { Migration } from '../migration.js';
import { fromInserted, rolled } from './v21.js';
import { settleMany } from './v26.js';
import { settleLeased } from './v28.js';

/**
 * Migration 29: the batched and leased settles write their spend, usage_daily and rollup rows in
 * the global lock order because each write reads the one before it, not because of where its CTE
 * is listed.
 *
 * Their writing statement upserts spend rows (`charged`), usage_daily rows (`rolled`) and
 * rollup rows (`insights`) in data-modifying CTEs. PostgreSQL runs those the main query does
 * not read after it, the last listed first, and documents their order as unpredictable. Migration
 * 26 (tollgate_settle_many) listed `rolled` before `insights`, so it upserted the rollup
 * row first: waiting on a usage_daily row another transaction was inserting, it held the key's
 * rollup row, and a writer taking them in the documented order met it in a deadlock (masked today
 * by the key's spend rows, which both lock first). Migration 28 (tollgate_settle_leased) listed
 * them the other way to get the right order, and wrote its spend rows first only when its main
 * query read `charged` to the end: a batch whose items name no period answers nothing, and the
 * lease's released reserve was written to its spend row after the usage_daily and rollup rows.
 *
 * Now `rolled` reads all of `charged`, and `insights` all of `rolled`, before writing
 * anything (`(SELECT count(*) FROM …) >= 0`, an init plan evaluated once, before the first row):
 * spend rows, then usage_daily rows, then rollup rows, whatever order PostgreSQL runs the CTEs in
 * and however much of them the main query reads. Both bodies are otherwise those of migrations 26
 * and 28: same signatures, same answers, so replicas of either version settle together during a
 * rolling deploy. test/integration/postgres-lock-order.test.ts holds the order.
 */

/** True once CTE `cte` has run to the end: a write reading it comes after all of its writes. */
const after = (cte: string) => `(SELECT count(*) FROM ${cte}) >= 0`;

/** Both settles' usage_daily and rollup writes: each reads the one before it to the end first. */
const orderedWrites = `-- After every spend row (it reads all of charged first), in key order.
        ${rolled(after('charged'))},
        -- After every usage_daily row (it reads all of rolled first), in key order.
        insights AS (
          ${fromInserted(after('rolled'))})`;

export const MIGRATION_29: Migration = {
  version: 29,
  name: 'the settles write spend, usage_daily and rollup rows in order by reading each before the next',
  sql: `
    ${settleMany('-- Locks in the global order: reservations by id, spend rows, usage_daily rows, rollup rows.', orderedWrites)}

    ${settleLeased(orderedWrites)}
  `,
};
