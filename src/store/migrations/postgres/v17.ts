import type { Migration } from '../migration.js';

/**
 * Migration 17: a settle that lands after its reservation was swept charges the metered cost once
 * (docs/operations.md#a-settle-after-the-sweep).
 *
 * The sweep (recoverReservations) charges an expired reservation its whole amount and writes a
 * usage record for it (`reservation_expired`, usage_source `reserved`) under the request's id. A
 * settle of that request arriving later (its replica was cut off from the database for longer
 * than the lease, the usage writer retried) found the record there and charged nothing: the
 * request stayed charged its maximum, with a record that says nothing of what it used.
 * tollgate_unsweep takes the sweep's charge back out of spend (the periods the request charges,
 * the same its reservation held) and takes its record out of the usage table and the daily
 * rollup; the settle then writes its record and charges the metered cost as if it were first. A
 * retried settle finds its own record (not a swept one) and charges nothing, as before.
 *
 * tollgate_settle_spend is migration 10's with that step before its insert, taken only when the
 * request holds no reservation. tollgate_settle_many is migration 10's, locking up front the spend
 * rows of such a settle and the rollup row of the swept record too, in the same global order.
 */
export const MIGRATION_17: Migration = {
  version: 17,
  name: 'a settle after the sweep charges the metered cost once',
  sql: `
    -- True when request p_id's record is one the sweep wrote; that record, its rollup and its
    -- charge (in p_periods) are then gone, in the order settles lock: spend rows, then rollup.
    CREATE FUNCTION tollgate_unsweep(p_id text, p_periods text[])
    RETURNS boolean LANGUAGE plpgsql AS $fn$
    DECLARE
      u record;
    BEGIN
      DELETE FROM usage WHERE request_id = p_id
          AND status = 0 AND error_code = 'reservation_expired' AND usage_source = 'reserved'
        RETURNING key, day, model, status, cost_usd, input_tokens, output_tokens INTO u;
      IF NOT FOUND THEN
        RETURN false;
      END IF;
      PERFORM tollgate_charge(u.key, p_periods, -u.cost_usd, 0);
      UPDATE usage_daily SET requests = requests - 1, input_tokens = input_tokens - u.input_tokens,
          output_tokens = output_tokens - u.output_tokens, cost_usd = cost_usd - u.cost_usd
        WHERE day = u.day AND key = u.key AND model = coalesce(u.model, '') AND status = u.status;
      DELETE FROM usage_daily
        WHERE day = u.day AND key = u.key AND model = coalesce(u.model, '') AND status = u.status AND requests <= 0;
      RETURN true;
    END
    $fn$;

    CREATE OR REPLACE FUNCTION tollgate_settle_spend(
      p_request_id text, p_ts bigint, p_day text, p_key text, p_model text, p_upstream text, p_route text,
      p_status integer, p_error_code text, p_input_tokens bigint, p_output_tokens bigint,
      p_cached_tokens bigint, p_cost numeric, p_latency_ms double precision, p_stream boolean,
      p_user_agent text, p_ip text, p_config_revision text, p_usage_source text, p_periods text[],
      p_cache_write_tokens bigint, p_requested_model text, p_key_hash text,
      p_request_fp text, p_prefix_fp text, p_prefix_tokens integer, p_output_limit integer)
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
        output_limit)
      VALUES (p_request_id, p_ts, p_day, p_key, p_model, p_upstream, p_route, p_status, p_error_code,
        p_input_tokens, p_output_tokens, p_cached_tokens, p_cost, p_latency_ms, p_stream, p_user_agent, p_ip,
        p_config_revision, p_usage_source, p_cache_write_tokens, p_requested_model, p_key_hash, p_request_fp,
        p_prefix_fp, p_prefix_tokens, p_output_limit)
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
          (it.i->>'outputLimit')::integer) AS s;
      END LOOP;
    END
    $fn$;
  `,
};
