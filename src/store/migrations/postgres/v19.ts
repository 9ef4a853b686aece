import type { Migration } from '../migration.js';

/**
 * Migration 19: a usage record and its media units (images, audio seconds, characters; migration
 * 12) are written by one statement, in the settle's own transaction. Until now an UPDATE after
 * the settle wrote them, so a replica that died, or lost the database, between the two kept the
 * record and its cost but lost what the request was (docs/api.md#images-and-audio).
 *
 * - tollgate_settle_spend takes the three units as its last arguments; they default to NULL, so
 *   a replica still on the code before this migration calls it as it did (and sets them with its
 *   UPDATE, as before). Its body is migration 17's otherwise.
 * - tollgate_settle_many passes each item's units on (migration 17's body otherwise).
 * - tollgate_settle_leased inserts them with the records (migration 14's body otherwise).
 */
export const MIGRATION_19: Migration = {
  version: 19,
  name: 'usage units written with the record',
  sql: `
    DROP FUNCTION tollgate_settle_spend(text, bigint, text, text, text, text, text, integer, text, bigint, bigint,
      bigint, numeric, double precision, boolean, text, text, text, text, text[], bigint, text, text, text, text,
      integer, integer);

    CREATE FUNCTION tollgate_settle_spend(
      p_request_id text, p_ts bigint, p_day text, p_key text, p_model text, p_upstream text, p_route text,
      p_status integer, p_error_code text, p_input_tokens bigint, p_output_tokens bigint,
      p_cached_tokens bigint, p_cost numeric, p_latency_ms double precision, p_stream boolean,
      p_user_agent text, p_ip text, p_config_revision text, p_usage_source text, p_periods text[],
      p_cache_write_tokens bigint, p_requested_model text, p_key_hash text,
      p_request_fp text, p_prefix_fp text, p_prefix_tokens integer, p_output_limit integer,
      p_images integer DEFAULT NULL, p_audio_seconds double precision DEFAULT NULL, p_characters integer DEFAULT NULL)
    RETURNS TABLE (o_fresh boolean, o_entry text, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      res record;
      had_reservation boolean;
      fresh boolean;
      charged_key text;
      charged text[];
    BEGIN
      -- As in migration 4: the reservation row is locked first, by settle and recovery alike.
      DELETE FROM reservations WHERE id = p_request_id RETURNING key, amount_usd, periods INTO res;
      had_reservation := FOUND;
      -- No reservation: it may have been swept, its record written by the sweep. That charge
      -- goes back first, and this settle charges its cost as the request's first (migration 17).
      IF NOT had_reservation AND p_error_code IS DISTINCT FROM 'reservation_expired' THEN
        PERFORM tollgate_unsweep(p_request_id, p_periods);
      END IF;
      INSERT INTO usage (request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens,
        output_tokens, cached_tokens, cost_usd, latency_ms, stream, user_agent, ip, config_revision,
        usage_source, cache_write_tokens, requested_model, key_hash, request_fp, prefix_fp, prefix_tokens,
        output_limit, images, audio_seconds, characters)
      VALUES (p_request_id, p_ts, p_day, p_key, p_model, p_upstream, p_route, p_status, p_error_code,
        p_input_tokens, p_output_tokens, p_cached_tokens, p_cost, p_latency_ms, p_stream, p_user_agent, p_ip,
        p_config_revision, p_usage_source, p_cache_write_tokens, p_requested_model, p_key_hash, p_request_fp,
        p_prefix_fp, p_prefix_tokens, p_output_limit, p_images, p_audio_seconds, p_characters)
      ON CONFLICT (request_id) DO NOTHING;
      fresh := FOUND;
      -- Spend rows before the rollup row, as tollgate_settle_many and recovery lock them.
      IF had_reservation THEN
        PERFORM tollgate_charge(res.key, res.periods, CASE WHEN fresh THEN p_cost ELSE 0 END, res.amount_usd);
        charged_key := res.key;
        charged := res.periods;
      ELSIF fresh THEN
        PERFORM tollgate_charge(p_key, p_periods, p_cost, 0);
        charged_key := p_key;
        charged := p_periods;
        -- The charge may have waited for a reserve of this very request that held the spend rows
        -- (sent late, after its caller gave up); this statement's snapshot sees it committed.
        DELETE FROM reservations WHERE id = p_request_id RETURNING key, amount_usd, periods INTO res;
        IF FOUND THEN
          PERFORM tollgate_charge(res.key, res.periods, 0, res.amount_usd);
        END IF;
      ELSE
        RETURN QUERY SELECT false, NULL::text, NULL::numeric, NULL::numeric;
        RETURN;
      END IF;
      IF fresh THEN
        INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
        VALUES (p_day, p_key, coalesce(p_model, ''), p_status, 1, p_input_tokens, p_output_tokens, p_cost)
        ON CONFLICT (day, key, model, status) DO UPDATE SET
          requests = usage_daily.requests + 1,
          input_tokens = usage_daily.input_tokens + EXCLUDED.input_tokens,
          output_tokens = usage_daily.output_tokens + EXCLUDED.output_tokens,
          cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd;
      END IF;
      -- The rows this transaction just wrote (and still holds): the spend after this request.
      RETURN QUERY SELECT fresh, p, s.spent_usd, s.reserved_usd
        FROM unnest(charged) AS p
        JOIN spend s ON s.key = tollgate_subject(charged_key, p) AND s.period = tollgate_period(p);
    END
    $fn$;

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
            WHERE NOT EXISTS (SELECT 1 FROM usage u WHERE u.request_id = i->>'id'
              AND NOT (u.status = 0 AND u.error_code = 'reservation_expired' AND u.usage_source = 'reserved'))) x
        ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET spent_usd = spend.spent_usd;
      PERFORM 1 FROM usage_daily d
        JOIN (SELECT DISTINCT i->>'day' AS day, i->>'key' AS key, coalesce(i->>'model', '') AS model,
                (i->>'status')::integer AS status FROM jsonb_array_elements(p_items) AS i
              UNION
              SELECT u.day, u.key, coalesce(u.model, ''), u.status FROM usage u
                WHERE u.request_id = ANY(ids)
                  AND u.status = 0 AND u.error_code = 'reservation_expired' AND u.usage_source = 'reserved') x
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
    BEGIN
      -- Locks in the global order: leases by id, spend rows by (subject, period), rollup rows.
      PERFORM 1 FROM reservations WHERE id IN (SELECT e->>'lease' FROM jsonb_array_elements(p_items) AS e)
        ORDER BY id FOR UPDATE;
      -- The charges of swept leases: a late settle's cost draws on them (below), one at a time.
      PERFORM 1 FROM lease_charges WHERE id IN (SELECT e->>'lease' FROM jsonb_array_elements(p_items) AS e)
        ORDER BY id FOR UPDATE;
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
      FOR it IN SELECT t.id, t.key, t.periods, least(t.charged_usd, sum(x.release)) AS rel
          FROM (SELECT DISTINCT ON (e->>'id') e->>'id' AS id, e->>'lease' AS lease, (e->>'release')::numeric AS release
                FROM jsonb_array_elements(p_items) AS e) x
          JOIN lease_charges t ON t.id = x.lease
          WHERE NOT EXISTS (SELECT 1 FROM usage u WHERE u.request_id = x.id)
          GROUP BY t.id ORDER BY t.id
      LOOP
        CONTINUE WHEN it.rel <= 0;
        UPDATE lease_charges SET charged_usd = charged_usd - it.rel WHERE id = it.id;
        PERFORM tollgate_uncharge_lease(it.id, it.key, it.periods, it.rel);
      END LOOP;

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
          RETURNING request_id),
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
        rolled AS (
          INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
          SELECT f.day, f.key, coalesce(f.model, ''), f.status, count(*), sum(f."inputTokens"),
            sum(f."outputTokens"), sum(f.cost)
          FROM fresh f GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
          ON CONFLICT (day, key, model, status) DO UPDATE SET
            requests = usage_daily.requests + EXCLUDED.requests,
            input_tokens = usage_daily.input_tokens + EXCLUDED.input_tokens,
            output_tokens = usage_daily.output_tokens + EXCLUDED.output_tokens,
            cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd
          RETURNING 1)
      -- The spend after the batch, once per key and period entry (budget gauges and alerts).
      SELECT DISTINCT ON (f.key, p) f.key, p, c.spent_usd, c.reserved_usd
        FROM fresh f CROSS JOIN LATERAL unnest(f.periods) AS p
        JOIN charged c ON c.key = tollgate_subject(f.key, p) AND c.period = tollgate_period(p);
    END
    $fn$;
  `,
};
