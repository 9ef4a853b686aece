import type { Migration } from '../migration.js';
import { GROUP, groupOf, HOUR_COLUMNS, HOURS, hourOf, recordSums, SUM_NAMES, SUMS } from './v20.js';

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

const fromInserted = `INSERT INTO usage_insight_days AS d (${GROUP}, ${SUMS}, ${HOUR_COLUMNS})
          SELECT ${groupOf('u')}, ${SUM_NAMES.map((_, i) => `sum(s${i})`).join(', ')},
            ${HOURS.map((h) => `sum(CASE WHEN hour = ${h} THEN 1 ELSE 0 END)`).join(', ')},
            ${HOURS.map((h) => `sum(CASE WHEN hour = ${h} THEN cost_usd ELSE 0 END)`).join(', ')}
          FROM (SELECT u.*, ${hourOf('u')} AS hour, ${recordSums('u')
            .map((e, i) => `${e} AS s${i}`)
            .join(', ')}
            FROM ins u WHERE u.key <> '' AND ${after('rolled')}) u
          GROUP BY 1, 2, 3, 4, 5
          ORDER BY 2, 1, 3, 4, 5
          ON CONFLICT (${GROUP}) DO UPDATE SET
            ${[...SUM_NAMES, ...HOURS.map((h) => `n${h}`), ...HOURS.map((h) => `c${h}`)]
              .map((c) => `${c} = d.${c} + EXCLUDED.${c}`)
              .join(', ')}
          RETURNING 1`;

/** True when request `id` has no record, or only the one the sweep wrote (migration 17). */
const sweptOrNone = (id: string) =>
  `((SELECT u.status = 0 AND u.error_code = 'reservation_expired' AND u.usage_source = 'reserved'
      FROM usage u WHERE u.request_id = ${id}) IS NOT FALSE)`;

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

/** True when request `id` has a record: one primary-key lookup, never a join over the table. */
const recorded = (id: string) => `((SELECT 1 FROM usage u WHERE u.request_id = ${id}) IS NOT NULL)`;

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

export const MIGRATION_29: Migration = {
  version: 29,
  name: 'the settles write spend, usage_daily and rollup rows in order by reading each before the next',
  sql: `
    CREATE OR REPLACE FUNCTION tollgate_settle_many(p_items jsonb)
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
      -- Locks in the global order: reservations by id, spend rows, usage_daily rows, rollup rows.
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
          INSERT INTO usage (request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens,
            output_tokens, cached_tokens, cost_usd, latency_ms, stream, user_agent, ip, config_revision,
            usage_source, cache_write_tokens, requested_model, key_hash, request_fp, prefix_fp, prefix_tokens,
            output_limit, images, audio_seconds, characters)
          SELECT id, ts, day, key, model, upstream, route, status, "errorCode", "inputTokens", "outputTokens",
            "cachedTokens", cost, "latencyMs", stream, "userAgent", ip, "configRevision", "usageSource",
            "cacheWriteTokens", "requestedModel", "keyHash", "requestFp", "prefixFp", "prefixTokens", "outputLimit",
            images, "audioSeconds", characters
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
        -- After every spend row (it reads all of charged first), in key order.
        rolled AS (
          INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
          SELECT f.day, f.key, coalesce(f.model, ''), f.status, count(*), sum(f."inputTokens"),
            sum(f."outputTokens"), sum(f.cost)
          FROM fresh f WHERE ${after('charged')} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
          ON CONFLICT (day, key, model, status) DO UPDATE SET
            requests = usage_daily.requests + EXCLUDED.requests,
            input_tokens = usage_daily.input_tokens + EXCLUDED.input_tokens,
            output_tokens = usage_daily.output_tokens + EXCLUDED.output_tokens,
            cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd
          RETURNING 1),
        -- After every usage_daily row (it reads all of rolled first), in key order.
        insights AS (
          ${fromInserted})
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
    $fn$;

    CREATE OR REPLACE FUNCTION tollgate_settle_leased(p_items jsonb)
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
          FROM jsonb_to_recordset(p_items) AS x(id text, lease text, ts bigint, day text, key text, model text,
            upstream text, route text, status integer, "errorCode" text, "inputTokens" bigint,
            "outputTokens" bigint, "cachedTokens" bigint, cost numeric, release numeric,
            "latencyMs" double precision, stream boolean, "userAgent" text, ip text, "configRevision" text,
            "usageSource" text, periods text[], "cacheWriteTokens" bigint, "requestedModel" text, "keyHash" text,
            "requestFp" text, "prefixFp" text, "prefixTokens" integer, "outputLimit" integer,
            images integer, "audioSeconds" double precision, characters integer)
          ORDER BY x.id),
        ins AS (
          INSERT INTO usage (request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens,
            output_tokens, cached_tokens, cost_usd, latency_ms, stream, user_agent, ip, config_revision,
            usage_source, cache_write_tokens, requested_model, key_hash, request_fp, prefix_fp, prefix_tokens,
            output_limit, images, audio_seconds, characters)
          SELECT id, ts, day, key, model, upstream, route, status, "errorCode", "inputTokens", "outputTokens",
            "cachedTokens", cost, "latencyMs", stream, "userAgent", ip, "configRevision", "usageSource",
            "cacheWriteTokens", "requestedModel", "keyHash", "requestFp", "prefixFp", "prefixTokens", "outputLimit",
            images, "audioSeconds", characters
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
        -- After every spend row (it reads all of charged first), in key order.
        rolled AS (
          INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
          SELECT f.day, f.key, coalesce(f.model, ''), f.status, count(*), sum(f."inputTokens"),
            sum(f."outputTokens"), sum(f.cost)
          FROM fresh f WHERE ${after('charged')} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
          ON CONFLICT (day, key, model, status) DO UPDATE SET
            requests = usage_daily.requests + EXCLUDED.requests,
            input_tokens = usage_daily.input_tokens + EXCLUDED.input_tokens,
            output_tokens = usage_daily.output_tokens + EXCLUDED.output_tokens,
            cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd
          RETURNING 1),
        -- After every usage_daily row (it reads all of rolled first), in key order.
        insights AS (
          ${fromInserted})
      -- The spend after the batch, once per key and period entry (budget gauges and alerts).
      SELECT DISTINCT ON (f.key, p) f.key, p, c.spent_usd, c.reserved_usd
        FROM fresh f CROSS JOIN LATERAL unnest(f.periods) AS p
        JOIN charged c ON c.key = tollgate_subject(f.key, p) AND c.period = tollgate_period(p);
      setting := set_config('tollgate.rollup_by_statement', 'off', true);
    END
    $fn$;
  `,
};
