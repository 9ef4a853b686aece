import type { Migration } from '../migration.js';
import { fromInserted, INSERT_RECORDS, LEASED_ITEM_COLUMNS, recorded, rolled } from './v21.js';

/**
 * Migration 24: the leased settle reads the rows it touches by key, at any table size.
 *
 * tollgate_settle_leased (migration 21) touches a handful of rows per batch: its leases, the
 * spend rows of its records' keys and periods, their usage_daily rows. plpgsql plans its
 * statements once per connection for a batch of unknown size (jsonb_array_elements and
 * jsonb_to_recordset count as 100 rows each), and with that guess the joins that found those rows
 * (`UPDATE spend ... FROM per_row`, the usage_daily lock, the leases) were hash or merge joins
 * over every row of the table. spend and usage_daily grow for ever (a row per subject and period;
 * per day, key, model and status): with 60 keys and a year of days (20,000 spend rows) a batch of
 * one record cost the database 5 ms instead of 0.75 ms, and more as the tables grow.
 *
 * Each of those reads is now one primary-key probe per row, whatever the planner guesses:
 * - the spend charge is an upsert on spend's primary key (its arbiter index), not an UPDATE joined
 *   to the batch. It never inserts: the locking upsert before it now also creates (as zero rows)
 *   the spend rows of the batch's leases, so every row the charge touches exists and is locked by
 *   then. The leases charge the periods their requests carry (the lease book sends a lease's
 *   periods with each request), so in practice that adds no row;
 * - the usage_daily lock probes each (day, key, model, status) in a LATERAL subquery, in key order;
 * - the leases and their swept charges are read with `id = ANY(leases)`, a restriction the
 *   primary key answers once the table is large.
 * The plans are generic (plan_cache_mode): with an array variable in them plpgsql would otherwise
 * plan the whole statement again at every call (1.6 ms a batch). Same locks in the same order,
 * same argument and answer, so an older replica calling it during a rolling deploy gets what it
 * got. bench/settle-leased-db.ts [--history] [--upto 23], database CPU per batch of 1 / 24 / 64
 * records, two interleaved runs each: fresh tables 0.73 / 2.78 / 5.66 ms before, 0.83 / 2.46 /
 * 4.55 after (batch of 1 within the noise: 0.80 against 0.78 in four more pairs); with the
 * year of history 5.15 / 7.09 / 9.21 ms before, 0.74 / 2.67 / 4.69 after.
 */

export const MIGRATION_24: Migration = {
  version: 24,
  name: 'the leased settle reads the rows it touches by key, at any table size',
  sql: `
    CREATE OR REPLACE FUNCTION tollgate_settle_leased(p_items jsonb)
    RETURNS TABLE (o_key text, o_entry text, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
      it record;
      swept boolean;
      leases text[];
    BEGIN
      leases := ARRAY(SELECT DISTINCT e->>'lease' FROM jsonb_array_elements(p_items) AS e);
      -- Locks in the global order: leases by id, spend rows by (subject, period), rollup rows.
      PERFORM 1 FROM reservations WHERE id = ANY(leases) ORDER BY id FOR UPDATE;
      -- The charges of swept leases: a late settle's cost draws on them (below), one at a time.
      PERFORM 1 FROM lease_charges WHERE id = ANY(leases) ORDER BY id FOR UPDATE;
      swept := FOUND;
      -- Every spend row the batch charges or releases exists from here on: its records' (subject,
      -- period) and its leases' (the same ones, as the lease book sends them), so the charge below
      -- only ever takes its ON CONFLICT branch.
      INSERT INTO spend (key, period)
        SELECT DISTINCT m.k, m.per FROM (
            SELECT tollgate_subject(e->>'key', p) AS k, tollgate_period(p) AS per
              FROM jsonb_array_elements(p_items) AS e, jsonb_array_elements_text(e->'periods') AS p
            UNION ALL
            SELECT tollgate_subject(r.key, p), tollgate_period(p)
              FROM reservations r, unnest(r.periods) AS p WHERE r.id = ANY(leases) AND left(r.id, 6) = 'lease:') m
          ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET spent_usd = spend.spent_usd;
      -- One primary-key probe per row, in key order.
      PERFORM 1 FROM (SELECT DISTINCT e->>'day' AS day, e->>'key' AS key, coalesce(e->>'model', '') AS model,
                (e->>'status')::integer AS status FROM jsonb_array_elements(p_items) AS e
              ORDER BY 1, 2, 3, 4) x
        CROSS JOIN LATERAL (SELECT 1 FROM usage_daily d
          WHERE d.day = x.day AND d.key = x.key AND d.model = x.model AND d.status = x.status FOR UPDATE) l;

      -- A settle whose lease was swept: the sweep charged its cost with the rest of the lease. That
      -- part of the charge is taken back (spend, the recovered record and its rollup) before the
      -- insert below charges the cost itself, so the cost counts once. Fresh only: a settle whose
      -- record is in (a retry) took nothing back, and the charge's row lock orders concurrent ones.
      -- Only when a lease of the batch was swept (rare): no read of the usage table otherwise.
      IF swept THEN
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
        END LOOP;
      END IF;

      -- The records this statement inserts are summed into the rollup by the statement itself.
      PERFORM set_config('tollgate.rollup_by_statement', 'on', true);
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
        per_row AS (SELECT m.k, m.per, sum(m.spent) AS spent, sum(m.rel) AS rel FROM moves m GROUP BY m.k, m.per),
        -- An upsert for its arbiter index (a probe per row), never an insert: every row exists (above).
        charged AS (
          INSERT INTO spend AS s (key, period, spent_usd, reserved_usd)
          SELECT x.k, x.per, x.spent, x.rel FROM per_row x ORDER BY 1, 2
          ON CONFLICT (key, period) DO UPDATE SET spent_usd = s.spent_usd + EXCLUDED.spent_usd,
            reserved_usd = greatest(s.reserved_usd - EXCLUDED.reserved_usd, 0)
          RETURNING s.key, s.period, s.spent_usd, s.reserved_usd),
        ${rolled()},
        insights AS (
          ${fromInserted()})
      -- The spend after the batch, once per key and period entry (budget gauges and alerts).
      SELECT DISTINCT ON (f.key, p) f.key, p, c.spent_usd, c.reserved_usd
        FROM fresh f CROSS JOIN LATERAL unnest(f.periods) AS p
        JOIN charged c ON c.key = tollgate_subject(f.key, p) AND c.period = tollgate_period(p);
      PERFORM set_config('tollgate.rollup_by_statement', 'off', true);
    END
    $fn$;
  `,
};
