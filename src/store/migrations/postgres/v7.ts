import type { Migration } from '../migration.js';

/**
 * Migration 7: a settle releases a reservation of its own request that committed while it waited.
 *
 * A reserve sent late (its caller had already been refused 503 and settled) could hold the key's
 * spend rows while the settle's first DELETE looked for the reservation: not yet committed, not
 * seen. The settle then charged (waiting on those rows), the reserve committed, and its amount
 * stayed reserved until its lease ended, refusing requests that fit. After the charge, the
 * settle's next statement sees what committed meanwhile and releases it.
 */
export const MIGRATION_7: Migration = {
  version: 7,
  name: 'settle releases a reservation that committed while it waited',
  sql: `
    CREATE OR REPLACE FUNCTION tollgate_settle_spend(
      p_request_id text, p_ts bigint, p_day text, p_key text, p_model text, p_upstream text, p_route text,
      p_status integer, p_error_code text, p_input_tokens bigint, p_output_tokens bigint,
      p_cached_tokens bigint, p_cost numeric, p_latency_ms double precision, p_stream boolean,
      p_user_agent text, p_ip text, p_config_revision text, p_usage_source text, p_periods text[],
      p_cache_write_tokens bigint, p_requested_model text, p_key_hash text)
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
      INSERT INTO usage (request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens,
        output_tokens, cached_tokens, cost_usd, latency_ms, stream, user_agent, ip, config_revision,
        usage_source, cache_write_tokens, requested_model, key_hash)
      VALUES (p_request_id, p_ts, p_day, p_key, p_model, p_upstream, p_route, p_status, p_error_code,
        p_input_tokens, p_output_tokens, p_cached_tokens, p_cost, p_latency_ms, p_stream, p_user_agent, p_ip,
        p_config_revision, p_usage_source, p_cache_write_tokens, p_requested_model, p_key_hash)
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
  `,
};
