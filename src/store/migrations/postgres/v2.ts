import type { Migration } from '../migration.js';

export const MIGRATION_2: Migration = {
  version: 2,
  name: 'one-round-trip functions for reserve, settle and slots',
  // Each hot-path call was 6 to 9 round trips in a client-side transaction; as one function
  // call it is one round trip and one implicit transaction (bench/store-postgres.ts).
  sql: `
      CREATE FUNCTION tollgate_reserve(
        p_id text, p_key text, p_amount numeric, p_periods text[], p_windows text[], p_limits numeric[],
        p_lease_until bigint, p_now bigint)
      RETURNS TABLE (o_ok boolean, o_period text, o_limit numeric, o_spent numeric, o_reserved numeric)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        w record;
      BEGIN
        -- Rows for every period first, then lock them in period order: replicas reserving for
        -- the same key queue here, and a fixed order cannot deadlock.
        INSERT INTO spend (key, period) SELECT p_key, p FROM unnest(p_periods) AS p ORDER BY p
          ON CONFLICT DO NOTHING;
        PERFORM 1 FROM spend WHERE key = p_key AND period = ANY(p_periods) ORDER BY period FOR UPDATE;
        -- The same id reserved twice holds one reservation, not two.
        IF EXISTS (SELECT 1 FROM reservations WHERE id = p_id) THEN
          RETURN QUERY SELECT true, NULL::text, NULL::numeric, NULL::numeric, NULL::numeric;
          RETURN;
        END IF;
        SELECT x.period, x.limit_usd, s.spent_usd, s.reserved_usd INTO w
          FROM unnest(p_windows, p_limits) WITH ORDINALITY AS x(period, limit_usd, n)
          JOIN spend s ON s.key = p_key AND s.period = x.period
          WHERE s.spent_usd + s.reserved_usd + p_amount > x.limit_usd
          ORDER BY x.n LIMIT 1;
        IF FOUND THEN
          RETURN QUERY SELECT false, w.period, w.limit_usd, w.spent_usd, w.reserved_usd;
          RETURN;
        END IF;
        INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at)
          VALUES (p_id, p_key, p_amount, p_periods, p_lease_until, p_now);
        UPDATE spend SET reserved_usd = reserved_usd + p_amount WHERE key = p_key AND period = ANY(p_periods);
        RETURN QUERY SELECT true, NULL::text, NULL::numeric, NULL::numeric, NULL::numeric;
      END
      $fn$;

      CREATE FUNCTION tollgate_charge(p_key text, p_periods text[], p_cost numeric, p_release numeric)
      RETURNS void LANGUAGE sql AS $fn$
        INSERT INTO spend (key, period, spent_usd, reserved_usd)
        SELECT p_key, p, p_cost, 0 FROM unnest(p_periods) AS p ORDER BY p
        ON CONFLICT (key, period) DO UPDATE SET
          spent_usd = spend.spent_usd + EXCLUDED.spent_usd,
          reserved_usd = GREATEST(spend.reserved_usd - p_release, 0);
      $fn$;

      CREATE FUNCTION tollgate_settle(
        p_request_id text, p_ts bigint, p_day text, p_key text, p_model text, p_upstream text, p_route text,
        p_status integer, p_error_code text, p_input_tokens bigint, p_output_tokens bigint,
        p_cached_tokens bigint, p_cost numeric, p_latency_ms double precision, p_stream boolean,
        p_user_agent text, p_ip text, p_config_revision text, p_usage_source text, p_periods text[])
      RETURNS boolean LANGUAGE plpgsql AS $fn$
      DECLARE
        res record;
        had_reservation boolean;
        fresh boolean;
      BEGIN
        -- The reservation row is locked first, by settle and recovery alike, so the two never
        -- deadlock and never both charge the same request.
        DELETE FROM reservations WHERE id = p_request_id RETURNING key, amount_usd, periods INTO res;
        had_reservation := FOUND;
        INSERT INTO usage (request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens,
          output_tokens, cached_tokens, cost_usd, latency_ms, stream, user_agent, ip, config_revision,
          usage_source)
        VALUES (p_request_id, p_ts, p_day, p_key, p_model, p_upstream, p_route, p_status, p_error_code,
          p_input_tokens, p_output_tokens, p_cached_tokens, p_cost, p_latency_ms, p_stream, p_user_agent, p_ip,
          p_config_revision, p_usage_source)
        ON CONFLICT (request_id) DO NOTHING;
        fresh := FOUND;
        IF fresh THEN
          INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
          VALUES (p_day, p_key, coalesce(p_model, ''), p_status, 1, p_input_tokens, p_output_tokens, p_cost)
          ON CONFLICT (day, key, model, status) DO UPDATE SET
            requests = usage_daily.requests + 1,
            input_tokens = usage_daily.input_tokens + EXCLUDED.input_tokens,
            output_tokens = usage_daily.output_tokens + EXCLUDED.output_tokens,
            cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd;
        END IF;
        IF had_reservation THEN
          -- Already settled (or recovered): only give back what this stray reservation held.
          PERFORM tollgate_charge(res.key, res.periods, CASE WHEN fresh THEN p_cost ELSE 0 END, res.amount_usd);
        ELSIF fresh THEN
          PERFORM tollgate_charge(p_key, p_periods, p_cost, 0);
        END IF;
        RETURN fresh;
      END
      $fn$;

      CREATE FUNCTION tollgate_acquire_slot(
        p_key text, p_id text, p_rpm integer, p_max_parallel integer, p_now bigint, p_lease_until bigint)
      RETURNS TABLE (o_ok boolean, o_limit text, o_retry_after_sec integer)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        n integer;
        oldest bigint;
      BEGIN
        -- Serializes check-then-insert per key across replicas; other keys never wait.
        PERFORM pg_advisory_xact_lock(hashtext('tollgate:slot:' || p_key));
        IF p_max_parallel IS NOT NULL THEN
          -- Slots whose lease ended belong to a replica that died: they stop counting.
          DELETE FROM inflight WHERE key = p_key AND lease_until <= p_now;
          SELECT count(*) INTO n FROM inflight WHERE key = p_key;
          IF n >= p_max_parallel THEN
            RETURN QUERY SELECT false, 'max_parallel'::text, 1;
            RETURN;
          END IF;
        END IF;
        IF p_rpm IS NOT NULL THEN
          DELETE FROM rate_events WHERE key = p_key AND ts <= p_now - 60000;
          SELECT count(*), min(ts) INTO n, oldest FROM rate_events WHERE key = p_key;
          IF n >= p_rpm THEN
            -- The next slot opens when the oldest request in the window turns 60 s old.
            RETURN QUERY SELECT false, 'rpm'::text,
              GREATEST(1, ceil((coalesce(oldest, p_now) + 60000 - p_now) / 1000.0))::integer;
            RETURN;
          END IF;
          INSERT INTO rate_events (key, ts, id) VALUES (p_key, p_now, p_id) ON CONFLICT DO NOTHING;
        END IF;
        IF p_max_parallel IS NOT NULL THEN
          INSERT INTO inflight (key, id, lease_until) VALUES (p_key, p_id, p_lease_until) ON CONFLICT DO NOTHING;
        END IF;
        RETURN QUERY SELECT true, NULL::text, NULL::integer;
      END
      $fn$;
    `,
};
