import type { Migration } from '../migration.js';
import { GROUP, groupOf, HOUR_COLUMNS, HOURS, hourOf, recordSums, SUM_NAMES, SUMS } from './v20.js';

/**
 * Migration 21: the leased settle writes the insight rollup (migration 20) once per batch, not once
 * per record.
 *
 * Migration 20's deferred trigger upserts the ~70-column rollup row of every record it sees, at
 * commit: a batch of 20 records of one client rewrote that row 20 times (bench/pg-statements.ts
 * put it at about half the database's CPU per request). tollgate_settle_leased, the settle of
 * nearly every request on a busy replica, now sums the records its insert wrote per rollup row and
 * upserts each row once, in the same statement, in primary-key order, after the spend rows it
 * locked first (the global lock order of migration 20: spend rows, then rollup rows).
 *
 * The trigger stays for every other writer (single and batched settles, recovery, unsweep, a
 * lease's late uncharge): it skips a row only while the transaction-local setting
 * tollgate.rollup_by_statement is 'on', which tollgate_settle_leased sets around that one
 * statement and clears after it. A constraint trigger's WHEN is evaluated when the row is written
 * (not at commit), so the setting in force is the writing statement's. An older replica (no
 * setting) keeps the trigger's path. The trigger with that WHEN is a new one
 * (usage_insight_days_kept_21) and migration 20's is disabled, not dropped: DROP TRIGGER takes an
 * ACCESS EXCLUSIVE lock, which would wait behind a long insight read of the usage table while
 * every settle of a rolling deploy queued behind it; CREATE TRIGGER and DISABLE TRIGGER take a
 * SHARE ROW EXCLUSIVE lock, which readers do not hold back.
 *
 * The settles also stop scanning the usage table. Whether a batch's requests were recorded already
 * (a retry, or a record the sweep wrote) was asked with NOT EXISTS, which the planner may turn
 * into a hash anti-join over every record; with the statistics of a table that grew since its
 * last ANALYZE it did (bench/settle-leased-db.ts: 3.7 ms of a 64-record batch at 19,200 records,
 * growing with the table). Each request is now looked up by its primary key in a scalar or
 * LIMIT 1 subquery, which the planner cannot flatten into a join; and tollgate_settle_leased
 * reads the usage table for that only when one of its leases was swept.
 * tollgate_settle_many is migration 19's otherwise, tollgate_settle_leased migration 19's with
 * those two changes and the rollup.
 */

/** True when request `id` has a record: one primary-key lookup, never a join over the table. */
export const recorded = (id: string) => `((SELECT 1 FROM usage u WHERE u.request_id = ${id}) IS NOT NULL)`;

/** True when request `id` has no record, or only the one the sweep wrote (migration 17). */
export const sweptOrNone = (id: string) =>
  `((SELECT u.status = 0 AND u.error_code = 'reservation_expired' AND u.usage_source = 'reserved'
      FROM usage u WHERE u.request_id = ${id}) IS NOT FALSE)`;

/**
 * The rollup rows of the records CTE `ins` inserted, in key order (the settles since this migration);
 * with `also`, only once that condition holds.
 */
export const fromInserted = (
  also?: string,
) => `INSERT INTO usage_insight_days AS d (${GROUP}, ${SUMS}, ${HOUR_COLUMNS})
          SELECT ${groupOf('u')}, ${SUM_NAMES.map((_, i) => `sum(s${i})`).join(', ')},
            ${HOURS.map((h) => `sum(CASE WHEN hour = ${h} THEN 1 ELSE 0 END)`).join(', ')},
            ${HOURS.map((h) => `sum(CASE WHEN hour = ${h} THEN cost_usd ELSE 0 END)`).join(', ')}
          FROM (SELECT u.*, ${hourOf('u')} AS hour, ${recordSums('u')
            .map((e, i) => `${e} AS s${i}`)
            .join(', ')}
            FROM ins u WHERE u.key <> ''${also ? ` AND ${also}` : ''}) u
          GROUP BY 1, 2, 3, 4, 5
          ORDER BY 2, 1, 3, 4, 5
          ON CONFLICT (${GROUP}) DO UPDATE SET
            ${[...SUM_NAMES, ...HOURS.map((h) => `n${h}`), ...HOURS.map((h) => `c${h}`)]
              .map((c) => `${c} = d.${c} + EXCLUDED.${c}`)
              .join(', ')}
          RETURNING 1`;

/** The columns of a leased settle's item (tollgate_settle_leased's p_items). */
export const LEASED_ITEM_COLUMNS = `id text, lease text, ts bigint, day text, key text, model text,
            upstream text, route text, status integer, "errorCode" text, "inputTokens" bigint,
            "outputTokens" bigint, "cachedTokens" bigint, cost numeric, release numeric,
            "latencyMs" double precision, stream boolean, "userAgent" text, ip text, "configRevision" text,
            "usageSource" text, periods text[], "cacheWriteTokens" bigint, "requestedModel" text, "keyHash" text,
            "requestFp" text, "prefixFp" text, "prefixTokens" integer, "outputLimit" integer,
            images integer, "audioSeconds" double precision, characters integer`;

/** The records of the settled requests, from CTE `items`; the caller adds its FROM. */
export const INSERT_RECORDS = `INSERT INTO usage (request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens,
            output_tokens, cached_tokens, cost_usd, latency_ms, stream, user_agent, ip, config_revision,
            usage_source, cache_write_tokens, requested_model, key_hash, request_fp, prefix_fp, prefix_tokens,
            output_limit, images, audio_seconds, characters)
          SELECT id, ts, day, key, model, upstream, route, status, "errorCode", "inputTokens", "outputTokens",
            "cachedTokens", cost, "latencyMs", stream, "userAgent", ip, "configRevision", "usageSource",
            "cacheWriteTokens", "requestedModel", "keyHash", "requestFp", "prefixFp", "prefixTokens", "outputLimit",
            images, "audioSeconds", characters`;

/** The usage_daily rows of the fresh records (CTE `fresh`) in key order; with `after`, only once it holds. */
export const rolled = (after?: string) => `rolled AS (
          INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
          SELECT f.day, f.key, coalesce(f.model, ''), f.status, count(*), sum(f."inputTokens"),
            sum(f."outputTokens"), sum(f.cost)
          FROM fresh f ${after ? `WHERE ${after} ` : ''}GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
          ON CONFLICT (day, key, model, status) DO UPDATE SET
            requests = usage_daily.requests + EXCLUDED.requests,
            input_tokens = usage_daily.input_tokens + EXCLUDED.input_tokens,
            output_tokens = usage_daily.output_tokens + EXCLUDED.output_tokens,
            cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd
          RETURNING 1)`;

export const MIGRATION_21: Migration = {
  version: 21,
  name: 'the leased settle writes the insight rollup once per batch; settles look records up by id',
  sql: `
    CREATE CONSTRAINT TRIGGER usage_insight_days_kept_21
      AFTER INSERT OR DELETE OR UPDATE OF key, ts, model, user_agent, ip, status, input_tokens, cached_tokens,
        cache_write_tokens, output_tokens, cost_usd, output_limit ON usage
      DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW
      WHEN (current_setting('tollgate.rollup_by_statement', true) IS DISTINCT FROM 'on')
      EXECUTE FUNCTION tollgate_insight_days_changed();
    ALTER TABLE usage DISABLE TRIGGER usage_insight_days_kept;

    CREATE OR REPLACE FUNCTION tollgate_settle_many(p_items jsonb)
    RETURNS TABLE (o_n integer, o_fresh boolean, o_entry text, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      it record;
      ids text[];
    BEGIN
      ids := ARRAY(SELECT i->>'id' FROM jsonb_array_elements(p_items) AS i);
      PERFORM 1 FROM reservations WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
      -- A record the sweep wrote does not make a settle a retry: it charges (tollgate_unsweep).
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(x.k, x.p), tollgate_period(x.p) FROM (
          SELECT r.key AS k, unnest(r.periods) AS p FROM reservations r WHERE r.id = ANY(ids)
          UNION ALL
          SELECT i->>'key', jsonb_array_elements_text(i->'periods') FROM jsonb_array_elements(p_items) AS i
            WHERE ${sweptOrNone("i->>'id'")}) x
        ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET spent_usd = spend.spent_usd;
      PERFORM 1 FROM usage_daily d
        JOIN (SELECT DISTINCT i->>'day' AS day, i->>'key' AS key, coalesce(i->>'model', '') AS model,
                (i->>'status')::integer AS status FROM jsonb_array_elements(p_items) AS i
              UNION
              SELECT u.day, u.key, coalesce(u.model, ''), u.status FROM unnest(ids) AS id
                CROSS JOIN LATERAL (SELECT * FROM usage u WHERE u.request_id = id LIMIT 1) u
                WHERE u.status = 0 AND u.error_code = 'reservation_expired' AND u.usage_source = 'reserved') x
          ON d.day = x.day AND d.key = x.key AND d.model = x.model AND d.status = x.status
        ORDER BY d.day, d.key, d.model, d.status FOR UPDATE OF d;
      FOR it IN SELECT x.n::integer AS n, x.i FROM jsonb_array_elements(p_items) WITH ORDINALITY AS x(i, n)
        ORDER BY x.n
      LOOP
        RETURN QUERY SELECT it.n, s.* FROM tollgate_settle_spend(
          it.i->>'id', (it.i->>'ts')::bigint, it.i->>'day', it.i->>'key', it.i->>'model', it.i->>'upstream',
          it.i->>'route', (it.i->>'status')::integer, it.i->>'errorCode', (it.i->>'inputTokens')::bigint,
          (it.i->>'outputTokens')::bigint, (it.i->>'cachedTokens')::bigint, (it.i->>'cost')::numeric,
          (it.i->>'latencyMs')::double precision, (it.i->>'stream')::boolean, it.i->>'userAgent', it.i->>'ip',
          it.i->>'configRevision', it.i->>'usageSource', ARRAY(SELECT jsonb_array_elements_text(it.i->'periods')),
          (it.i->>'cacheWriteTokens')::bigint, it.i->>'requestedModel', it.i->>'keyHash',
          it.i->>'requestFp', it.i->>'prefixFp', (it.i->>'prefixTokens')::integer,
          (it.i->>'outputLimit')::integer, (it.i->>'images')::integer,
          (it.i->>'audioSeconds')::double precision, (it.i->>'characters')::integer) AS s;
      END LOOP;
    END
    $fn$;

    CREATE OR REPLACE FUNCTION tollgate_settle_leased(p_items jsonb)
    RETURNS TABLE (o_key text, o_entry text, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      it record;
      swept boolean;
    BEGIN
      -- Locks in the global order: leases by id, spend rows by (subject, period), rollup rows.
      PERFORM 1 FROM reservations WHERE id IN (SELECT e->>'lease' FROM jsonb_array_elements(p_items) AS e)
        ORDER BY id FOR UPDATE;
      -- The charges of swept leases: a late settle's cost draws on them (below), one at a time.
      PERFORM 1 FROM lease_charges WHERE id IN (SELECT e->>'lease' FROM jsonb_array_elements(p_items) AS e)
        ORDER BY id FOR UPDATE;
      swept := FOUND;
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(e->>'key', p), tollgate_period(p)
          FROM jsonb_array_elements(p_items) AS e, jsonb_array_elements_text(e->'periods') AS p ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET spent_usd = spend.spent_usd;
      PERFORM 1 FROM usage_daily d
        JOIN (SELECT DISTINCT e->>'day' AS day, e->>'key' AS key, coalesce(e->>'model', '') AS model,
                (e->>'status')::integer AS status FROM jsonb_array_elements(p_items) AS e) x
          ON d.day = x.day AND d.key = x.key AND d.model = x.model AND d.status = x.status
        ORDER BY d.day, d.key, d.model, d.status FOR UPDATE OF d;

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
            WHERE NOT ${recorded('x.id')}
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
          RETURNING r.key, r.periods, least(p.rel, o.amount_usd) AS rel),
        moves AS (
          SELECT tollgate_subject(f.key, p) AS k, tollgate_period(p) AS per, f.cost AS spent, 0::numeric AS rel
            FROM fresh f, unnest(f.periods) AS p
          UNION ALL
          SELECT tollgate_subject(d.key, p), tollgate_period(p), 0::numeric, d.rel
            FROM drawn d, unnest(d.periods) AS p),
        per_row AS (SELECT m.k, m.per, sum(m.spent) AS spent, sum(m.rel) AS rel FROM moves m GROUP BY m.k, m.per),
        charged AS (
          UPDATE spend s SET spent_usd = s.spent_usd + x.spent, reserved_usd = greatest(s.reserved_usd - x.rel, 0)
          FROM per_row x WHERE s.key = x.k AND s.period = x.per
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
