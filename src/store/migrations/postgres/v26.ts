import type { Migration } from '../migration.js';
import { fromInserted, INSERT_RECORDS, rolled, sweptOrNone } from './v21.js';

/**
 * Migration 26: the batched settle (tollgate_settle_many: requests not served from a budget lease)
 * moves its whole batch's money with one write per row, as the leased settle does.
 *
 * It called tollgate_settle_spend once per item: per request a reservation delete, a record insert,
 * an upsert of every spend row of the request (tollgate_charge) and of its usage_daily row, and at
 * commit the insight rollup trigger's rewrite of its rollup row (migration 20). A batch of 24
 * requests of one key rewrote that key's spend rows 24 times, its usage_daily row 24 times and its
 * rollup row 24 times, each time walking the versions the transaction had left.
 *
 * Now, after the same locks in the same global order (reservations by id, spend rows by (subject,
 * period), usage_daily rows by key; migration 25), the batch's reservations are deleted in one
 * statement, and one statement inserts the records, sums the batch per spend row (one upsert per
 * row: the costs of the fresh records, the reservations released), per usage_daily row and per
 * rollup row (once each, in key order, as tollgate_settle_leased does since migration 21).
 * Every guarantee of tollgate_settle_spend holds per item:
 * - a request whose record is in already (a retry) charges nothing and only releases its
 *   reservation if one is left; an id twice in one batch counts as its first occurrence, the
 *   second is answered as a retry;
 * - a request with no reservation whose record the sweep wrote takes that charge back first
 *   (tollgate_unsweep, migration 17), then charges its metered cost: rare, one at a time;
 * - a reserve of one of the batch's requests that committed while the batch waited for the spend
 *   rows is released with it (its reservation is read after those locks). Its spend rows are
 *   locked then, after the others, as tollgate_settle_spend did.
 * - each item's answer is the spend of every period it charged, now after the batch (the leased
 *   settle's answer too): at least as fresh as after the item.
 * A batch that fails is still re-run item by item by the client (batch.ts). Same signature and
 * answer, so an older replica calling it during a rolling deploy gets what it got.
 */

/** True when request `id`'s record is one the sweep wrote: one primary-key lookup. */
const sweptRecord = (id: string) =>
  `((SELECT u.status = 0 AND u.error_code = 'reservation_expired' AND u.usage_source = 'reserved'
      FROM usage u WHERE u.request_id = ${id}) IS TRUE)`;

const ITEM_COLUMNS = `id text, ts bigint, day text, key text, model text, upstream text, route text,
            status integer, "errorCode" text, "inputTokens" bigint, "outputTokens" bigint, "cachedTokens" bigint,
            cost numeric, "latencyMs" double precision, stream boolean, "userAgent" text, ip text,
            "configRevision" text, "usageSource" text, periods text[], "cacheWriteTokens" bigint,
            "requestedModel" text, "keyHash" text, "requestFp" text, "prefixFp" text, "prefixTokens" integer,
            "outputLimit" integer, images integer, "audioSeconds" double precision, characters integer`;

/**
 * The text of tollgate_settle_many (this migration's, and migration 29's): `lockComment` is the
 * comment on its locks, `writes` its usage_daily and rollup CTEs (`rolled`, `insights`), which
 * come after `charged` and before the main query.
 */
export const settleMany = (
  lockComment: string,
  writes: string,
) => `CREATE OR REPLACE FUNCTION tollgate_settle_many(p_items jsonb)
    RETURNS TABLE (o_n integer, o_fresh boolean, o_entry text, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
      it record;
      ids text[];
      locked text[];
      had text[];
      held jsonb;
    BEGIN
      ids := ARRAY(SELECT i->>'id' FROM jsonb_array_elements(p_items) AS i);
      ${lockComment}
      locked := ARRAY(SELECT id FROM reservations WHERE id = ANY(ids) ORDER BY id FOR UPDATE);
      -- A record the sweep wrote does not make a settle a retry: it charges (tollgate_unsweep).
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(x.k, x.p), tollgate_period(x.p) FROM (
          SELECT r.key AS k, unnest(r.periods) AS p FROM reservations r WHERE r.id = ANY(ids)
          UNION ALL
          SELECT i->>'key', jsonb_array_elements_text(i->'periods') FROM jsonb_array_elements(p_items) AS i
            WHERE ${sweptOrNone("i->>'id'")}) x
        ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET spent_usd = spend.spent_usd;
      -- One primary-key probe per usage_daily row, in key order.
      PERFORM 1 FROM (SELECT i->>'day' AS day, i->>'key' AS key, coalesce(i->>'model', '') AS model,
                (i->>'status')::integer AS status FROM jsonb_array_elements(p_items) AS i
              UNION
              SELECT u.day, u.key, coalesce(u.model, ''), u.status FROM unnest(ids) AS id
                CROSS JOIN LATERAL (SELECT * FROM usage u WHERE u.request_id = id LIMIT 1) u
                WHERE u.status = 0 AND u.error_code = 'reservation_expired' AND u.usage_source = 'reserved'
              ORDER BY 1, 2, 3, 4) x
        CROSS JOIN LATERAL (SELECT 1 FROM usage_daily d
          WHERE d.day = x.day AND d.key = x.key AND d.model = x.model AND d.status = x.status FOR UPDATE) l;

      -- The batch's reservations, released below (read after the spend locks: a reserve of one of
      -- these requests that held them and committed meanwhile is released too).
      WITH d AS (DELETE FROM reservations WHERE id = ANY(ids) RETURNING id, key, amount_usd, periods)
      SELECT coalesce(array_agg(d.id), '{}'),
          coalesce(jsonb_agg(jsonb_build_object('id', d.id, 'key', d.key, 'amount', d.amount_usd,
            'periods', d.periods)), '[]')
        INTO had, held FROM d;
      -- Such a late reservation's spend rows (rare): they must exist for the charge's upsert below.
      IF cardinality(had) > cardinality(locked) THEN
        INSERT INTO spend (key, period)
          SELECT DISTINCT tollgate_subject(r.key, p), tollgate_period(p)
            FROM jsonb_to_recordset(held) AS r(id text, key text, periods text[]), unnest(r.periods) AS p
            WHERE r.id <> ALL(locked)
          ORDER BY 1, 2
          ON CONFLICT (key, period) DO UPDATE SET spent_usd = spend.spent_usd;
      END IF;

      -- No reservation and a record the sweep wrote: that charge goes back first (rare).
      FOR it IN SELECT y.id, y.periods FROM (
            SELECT DISTINCT ON (e.i->>'id') e.i->>'id' AS id, e.i->>'errorCode' AS err,
                ARRAY(SELECT jsonb_array_elements_text(e.i->'periods')) AS periods
              FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(i, n)
              ORDER BY e.i->>'id', e.n) y
          WHERE y.err IS DISTINCT FROM 'reservation_expired' AND y.id <> ALL(had) AND ${sweptRecord('y.id')}
          ORDER BY y.id
      LOOP
        PERFORM tollgate_unsweep(it.id, it.periods);
      END LOOP;

      -- The records this statement inserts are summed into the rollup by the statement itself.
      PERFORM set_config('tollgate.rollup_by_statement', 'on', true);
      RETURN QUERY
      WITH items AS MATERIALIZED (
          SELECT DISTINCT ON (x.id) e.n::integer AS n, x.*
          FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(i, n)
            CROSS JOIN LATERAL jsonb_to_record(e.i) AS x(${ITEM_COLUMNS})
          ORDER BY x.id, e.n),
        ins AS (
          ${INSERT_RECORDS}
          FROM items ORDER BY id
          ON CONFLICT (request_id) DO NOTHING
          RETURNING *),
        fresh AS MATERIALIZED (SELECT i.* FROM items i JOIN ins ON ins.request_id = i.id),
        -- What each settled request moves (tollgate_settle_spend): with a reservation, its cost if
        -- fresh and the reservation released, in the reservation's periods; without, a fresh
        -- record's cost in its own periods; a retry without a reservation, nothing.
        charges AS MATERIALIZED (
          SELECT i.n, r.key, r.periods, CASE WHEN f.id IS NULL THEN 0 ELSE i.cost END AS cost, r.amount AS rel,
              f.id IS NOT NULL AS fresh
            FROM jsonb_to_recordset(held) AS r(id text, key text, amount numeric, periods text[])
            JOIN items i ON i.id = r.id LEFT JOIN fresh f ON f.id = r.id
          UNION ALL
          SELECT f.n, f.key, f.periods, f.cost, 0::numeric, true FROM fresh f WHERE f.id <> ALL(had)),
        -- Once per request and spend row (a period list may name a row twice), then summed per row.
        moves AS (
          SELECT DISTINCT c.n, tollgate_subject(c.key, p) AS k, tollgate_period(p) AS per, c.cost, c.rel
            FROM charges c, unnest(c.periods) AS p),
        per_row AS (SELECT m.k, m.per, sum(m.cost) AS spent, sum(m.rel) AS rel FROM moves m GROUP BY m.k, m.per),
        -- An upsert for its arbiter index (a probe per row), never an insert: every row exists (above).
        charged AS (
          INSERT INTO spend AS s (key, period, spent_usd, reserved_usd)
          SELECT x.k, x.per, x.spent, x.rel FROM per_row x ORDER BY 1, 2
          ON CONFLICT (key, period) DO UPDATE SET spent_usd = s.spent_usd + EXCLUDED.spent_usd,
            reserved_usd = greatest(s.reserved_usd - EXCLUDED.reserved_usd, 0)
          RETURNING s.key, s.period, s.spent_usd, s.reserved_usd),
        ${writes}
      -- Per item, the spend after the batch of every period it charged; an item that charged
      -- nothing (a retry, a second occurrence of an id) one row without spend.
      SELECT c.n, c.fresh, p, s.spent_usd, s.reserved_usd
        FROM charges c CROSS JOIN LATERAL unnest(c.periods) AS p
        JOIN charged s ON s.key = tollgate_subject(c.key, p) AND s.period = tollgate_period(p)
      UNION ALL
      SELECT e.n::integer, false, NULL::text, NULL::numeric, NULL::numeric
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(i, n)
        WHERE NOT EXISTS (SELECT 1 FROM charges c WHERE c.n = e.n);
      PERFORM set_config('tollgate.rollup_by_statement', 'off', true);
    END
    $fn$;`;

export const MIGRATION_26: Migration = {
  version: 26,
  name: 'the batched settle writes each spend, usage_daily and rollup row once per batch',
  sql: `
    ${settleMany(
      '-- Locks in the global order (migration 25): reservations by id, spend rows, usage_daily rows.',
      `${rolled()},
        insights AS (
          ${fromInserted()})`,
    )}
  `,
};
