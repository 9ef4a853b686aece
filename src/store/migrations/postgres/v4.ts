import type { Migration } from '../migration.js';

export const MIGRATION_4: Migration = {
  version: 4,
  name: 'usage: cache-write tokens, requested model, key hash prefix',
  // The usage record gains three fields. tollgate_settle gets an overload with them; the old
  // signature stays so a replica still on the previous version keeps settling during a rolling
  // upgrade (its rows get the column defaults).
  sql: `
      ALTER TABLE usage ADD COLUMN cache_write_tokens bigint NOT NULL DEFAULT 0;
      ALTER TABLE usage ADD COLUMN requested_model text;
      ALTER TABLE usage ADD COLUMN key_hash text;

      CREATE FUNCTION tollgate_settle(
        p_request_id text, p_ts bigint, p_day text, p_key text, p_model text, p_upstream text, p_route text,
        p_status integer, p_error_code text, p_input_tokens bigint, p_output_tokens bigint,
        p_cached_tokens bigint, p_cost numeric, p_latency_ms double precision, p_stream boolean,
        p_user_agent text, p_ip text, p_config_revision text, p_usage_source text, p_periods text[],
        p_cache_write_tokens bigint, p_requested_model text, p_key_hash text)
      RETURNS boolean LANGUAGE plpgsql AS $fn$
      DECLARE
        res record;
        had_reservation boolean;
        fresh boolean;
      BEGIN
        -- As in version 2: the reservation row is locked first, by settle and recovery alike.
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
          PERFORM tollgate_charge(res.key, res.periods, CASE WHEN fresh THEN p_cost ELSE 0 END, res.amount_usd);
        ELSIF fresh THEN
          PERFORM tollgate_charge(p_key, p_periods, p_cost, 0);
        END IF;
        RETURN fresh;
      END
      $fn$;
    `,
};
