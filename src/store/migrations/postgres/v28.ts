import type { Migration } from '../migration.js';
import { fromInserted, INSERT_RECORDS, LEASED_ITEM_COLUMNS, recorded, rolled } from './v21.js';

/**
 * Migration 28: the leased settle takes its spend and usage_daily locks in its writing statement,
 * and writes each spend row once per batch.
 *
 * tollgate_settle_leased (migration 24), the settle of nearly every request on a busy replica,
 * ran eight statements per batch whatever its size: the leases' locks, the swept charges' locks,
 * an upsert that created and locked the batch's spend rows by rewriting each one unchanged
 * (`DO UPDATE SET spent_usd = spend.spent_usd`: a row version and its WAL per row, before the
 * charge wrote another), a lock of its usage_daily rows, two set_config statements, and the
 * statement that writes. A batch's fixed part is what three replicas pay more than one (each
 * commits its own, smaller batches: docs/postgres.md#several-replicas-one-busy-key); perf on the
 * backend put a quarter of a one-record batch in starting the statements' plans, a fifth in the
 * commit's WAL flush and a fifth in the statements before the writing one.
 *
 * Now the writing statement takes those locks itself, in the same global order: leases by id
 * first, still in a statement of their own (the writing statement reads their amounts, so its
 * snapshot is taken once they are locked), then spend rows by (subject, period) as its sorted
 * charge upserts them, then usage_daily rows and rollup rows, each in key order. Data-modifying
 * CTEs that the main query does not read run after it, the last one first: `rolled`
 * (usage_daily) comes after `insights` in the WITH so that it runs before it.
 * test/integration/postgres-lock-order.test.ts holds that order. A spend row the charge creates
 * (none in practice: the lease round created its lease's rows) gets nothing reserved, as the
 * removed upsert's row did; what a lease releases is taken off the existing rows only. The
 * set_config calls are plpgsql assignments (an expression, no plan to start). Only a batch with a
 * swept lease (rare) locks its spend and usage_daily rows first, as before: it gives the sweep's
 * charge back (tollgate_uncharge_lease) before the insert.
 *
 * Same argument and answer, same locks in the same order, so replicas of either version may settle
 * together during a rolling deploy. `npx tsx bench/settle-leased-db.ts 4 --against 27`, three A/B
 * runs on the loaded VM: 1–13 % less database CPU per batch of 1 to 64 records (docs/postgres.md).
 */

/** A batch with a swept lease: spend and usage_daily rows locked first, the sweep's charge given back. */
const sweptPath = `
        INSERT INTO spend (key, period)
          SELECT DISTINCT m.k, m.per FROM (
              SELECT tollgate_subject(e->>'key', p) AS k, tollgate_period(p) AS per
                FROM jsonb_array_elements(p_items) AS e, jsonb_array_elements_text(e->'periods') AS p
              UNION ALL
              SELECT tollgate_subject(r.key, p), tollgate_period(p)
                FROM reservations r, unnest(r.periods) AS p WHERE r.id = ANY(leases) AND left(r.id, 6) = 'lease:') m
            ORDER BY 1, 2
          ON CONFLICT (key, period) DO UPDATE SET spent_usd = spend.spent_usd;
        PERFORM 1 FROM (SELECT DISTINCT e->>'day' AS day, e->>'key' AS key, coalesce(e->>'model', '') AS model,
                  (e->>'status')::integer AS status FROM jsonb_array_elements(p_items) AS e
                ORDER BY 1, 2, 3, 4) x
          CROSS JOIN LATERAL (SELECT 1 FROM usage_daily d
            WHERE d.day = x.day AND d.key = x.key AND d.model = x.model AND d.status = x.status FOR UPDATE) l;
        -- The sweep charged this settle's cost with the rest of the lease: that part of the charge is
        -- taken back (spend, the recovered record and its rollup) before the statement below charges
        -- the cost itself, so it counts once. Fresh only: a settle whose record is in (a retry) took
        -- nothing back, and the charge's row lock orders concurrent ones.
        FOR it IN SELECT t.id, t.key, t.periods, least(t.charged_usd, sum(x.release)) AS rel
            FROM (SELECT DISTINCT ON (e->>'id') e->>'id' AS id, e->>'lease' AS lease, (e->>'release')::numeric AS release
                  FROM jsonb_array_elements(p_items) AS e) x
            JOIN lease_charges t ON t.id = x.lease
            WHERE t.id = ANY(leases) AND NOT ${recorded('x.id')}
            GROUP BY t.id ORDER BY t.id
        LOOP
          CONTINUE WHEN it.rel <= 0;
          UPDATE lease_charges SET charged_usd = charged_usd - it.rel WHERE id = it.id;
          PERFORM tollgate_uncharge_lease(it.id, it.key, it.periods, it.rel);
        END LOOP;`;

/**
 * The text of tollgate_settle_leased (this migration's, and migration 29's): `writes` is its
 * usage_daily and rollup CTEs (`rolled`, `insights`), which come after `charged` and before the
 * main query.
 */
export const settleLeased = (
  writes: string,
) => `CREATE OR REPLACE FUNCTION tollgate_settle_leased(p_items jsonb)
    RETURNS TABLE (o_key text, o_entry text, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
      it record;
      leases text[];
      setting text;
    BEGIN
      leases := ARRAY(SELECT DISTINCT e->>'lease' FROM jsonb_array_elements(p_items) AS e);
      -- Locks in the global order: leases by id, spend rows by (subject, period), usage_daily rows,
      -- rollup rows. The leases in a statement of their own: the writing statement below reads
      -- their amounts, and its snapshot must be taken once they are locked.
      PERFORM 1 FROM reservations WHERE id = ANY(leases) ORDER BY id FOR UPDATE;
      -- The charges of swept leases: a late settle's cost draws on them, one at a time.
      PERFORM 1 FROM lease_charges WHERE id = ANY(leases) ORDER BY id FOR UPDATE;
      IF FOUND THEN${sweptPath}
      END IF;

      -- The records this statement inserts are summed into the rollup by the statement itself.
      -- (Assignments, not PERFORM: plpgsql evaluates a lone function call without starting a plan.)
      setting := set_config('tollgate.rollup_by_statement', 'on', true);
      RETURN QUERY
      WITH items AS MATERIALIZED (
          SELECT DISTINCT ON (x.id) x.*
          FROM jsonb_to_recordset(p_items) AS x(${LEASED_ITEM_COLUMNS})
          ORDER BY x.id),
        ins AS (
          ${INSERT_RECORDS}
          FROM items
          ON CONFLICT (request_id) DO NOTHING
          RETURNING *),
        fresh AS MATERIALIZED (SELECT i.* FROM items i JOIN ins ON ins.request_id = i.id),
        per_lease AS (SELECT lease, sum(release) AS rel FROM fresh GROUP BY lease),
        drawn AS (
          UPDATE reservations r SET amount_usd = r.amount_usd - least(p.rel, o.amount_usd)
          FROM per_lease p, reservations o
          WHERE r.id = p.lease AND o.id = p.lease AND left(r.id, 6) = 'lease:'
            AND r.id = ANY(leases) AND o.id = ANY(leases)
          RETURNING r.key, r.periods, least(p.rel, o.amount_usd) AS rel),
        moves AS (
          SELECT tollgate_subject(f.key, p) AS k, tollgate_period(p) AS per, f.cost AS spent, 0::numeric AS rel
            FROM fresh f, unnest(f.periods) AS p
          UNION ALL
          SELECT tollgate_subject(d.key, p), tollgate_period(p), 0::numeric, d.rel
            FROM drawn d, unnest(d.periods) AS p),
        per_row AS MATERIALIZED (SELECT m.k, m.per, sum(m.spent) AS spent, sum(m.rel) AS rel FROM moves m GROUP BY m.k, m.per),
        -- Locks the spend rows in (subject, period) order as it upserts them (one primary-key probe
        -- each). A row it creates gets reserved 0: the reserve drawn comes off existing rows only.
        charged AS (
          INSERT INTO spend AS s (key, period, spent_usd, reserved_usd)
          SELECT x.k, x.per, x.spent, 0 FROM per_row x ORDER BY 1, 2
          ON CONFLICT (key, period) DO UPDATE SET spent_usd = s.spent_usd + EXCLUDED.spent_usd,
            reserved_usd = greatest(s.reserved_usd
              - (SELECT x.rel FROM per_row x WHERE x.k = EXCLUDED.key AND x.per = EXCLUDED.period), 0)
          RETURNING s.key, s.period, s.spent_usd, s.reserved_usd),
        ${writes}
      -- The spend after the batch, once per key and period entry (budget gauges and alerts).
      SELECT DISTINCT ON (f.key, p) f.key, p, c.spent_usd, c.reserved_usd
        FROM fresh f CROSS JOIN LATERAL unnest(f.periods) AS p
        JOIN charged c ON c.key = tollgate_subject(f.key, p) AND c.period = tollgate_period(p);
      setting := set_config('tollgate.rollup_by_statement', 'off', true);
    END
    $fn$;`;

export const MIGRATION_28: Migration = {
  version: 28,
  name: 'the leased settle locks its spend and usage_daily rows in its writing statement',
  sql: `
    ${settleLeased(`-- Run after the main query, last first: usage_daily rows (rolled), then rollup rows.
        insights AS (
          ${fromInserted()}),
        ${rolled()}`)}
  `,
};
