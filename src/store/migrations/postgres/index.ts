/**
 * Versioned schema of the PostgreSQL store, the same tables as the SQLite one plus what
 * fleet-wide rate limits need. Kept as TS so `tsc` carries it into dist/ without a copy step.
 * Append only: never edit a migration that has shipped.
 */
import { MIGRATION_6 } from './v6.js';
import { MIGRATION_7 } from './v7.js';
import { MIGRATION_8 } from './v8.js';

export interface PostgresMigration {
  version: number;
  name: string;
  sql: string;
}

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'initial schema',
    // Money is `numeric` so that "spent + reserved + amount <= limit" is exact: a request that
    // fits to the cent is never refused by float rounding, and sums never drift.
    sql: `
      CREATE TABLE usage (
        request_id text PRIMARY KEY,
        ts bigint NOT NULL,
        day text NOT NULL,
        key text NOT NULL,
        model text,
        upstream text,
        route text NOT NULL,
        status integer NOT NULL,
        error_code text,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL,
        cost_usd numeric NOT NULL,
        latency_ms double precision NOT NULL,
        stream boolean NOT NULL,
        user_agent text,
        ip text,
        config_revision text NOT NULL,
        usage_source text NOT NULL
      );
      CREATE INDEX usage_ts ON usage (ts);
      CREATE INDEX usage_key_ts ON usage (key, ts);

      CREATE TABLE spend (
        key text NOT NULL,
        period text NOT NULL,
        spent_usd numeric NOT NULL DEFAULT 0,
        reserved_usd numeric NOT NULL DEFAULT 0,
        PRIMARY KEY (key, period)
      );
      CREATE INDEX spend_period ON spend (period);

      CREATE TABLE reservations (
        id text PRIMARY KEY,
        key text NOT NULL,
        amount_usd numeric NOT NULL,
        periods text[] NOT NULL,
        lease_until bigint NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE INDEX reservations_lease ON reservations (lease_until);

      CREATE TABLE usage_daily (
        day text NOT NULL,
        key text NOT NULL,
        model text NOT NULL,
        status integer NOT NULL,
        requests bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cost_usd numeric NOT NULL,
        PRIMARY KEY (day, key, model, status)
      );

      CREATE TABLE disables (
        key text PRIMARY KEY,
        reason text NOT NULL,
        disabled_by text NOT NULL,
        source text NOT NULL,
        at bigint NOT NULL
      );

      CREATE TABLE audit (
        id bigserial PRIMARY KEY,
        at bigint NOT NULL,
        actor text NOT NULL,
        source text NOT NULL,
        action text NOT NULL,
        key text,
        reason text,
        result text NOT NULL
      );
      CREATE INDEX audit_at ON audit (at);

      CREATE TABLE claims (
        scope text NOT NULL,
        id text NOT NULL,
        at bigint NOT NULL,
        PRIMARY KEY (scope, id)
      );

      CREATE TABLE clients (
        key text NOT NULL,
        fingerprint text NOT NULL,
        first_seen bigint NOT NULL,
        last_seen bigint NOT NULL,
        PRIMARY KEY (key, fingerprint)
      );

      -- Fleet-wide rate limits. UNLOGGED: losing a minute of request timestamps in a database
      -- crash is harmless, and these tables take a write per request.
      CREATE UNLOGGED TABLE rate_events (
        key text NOT NULL,
        ts bigint NOT NULL,
        id text NOT NULL,
        PRIMARY KEY (key, ts, id)
      );
      CREATE UNLOGGED TABLE inflight (
        key text NOT NULL,
        id text NOT NULL,
        lease_until bigint NOT NULL,
        PRIMARY KEY (key, id)
      );
    `,
  },
  {
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
  },
  {
    version: 3,
    name: 'acquire_slot tells what remains of the rpm window',
    // Same checks as version 2; an admitted request also learns how many requests are left this
    // minute, for x-ratelimit-remaining-requests. Replicas still on the old code read the same
    // first three columns.
    sql: `
      DROP FUNCTION tollgate_acquire_slot(text, text, integer, integer, bigint, bigint);
      CREATE FUNCTION tollgate_acquire_slot(
        p_key text, p_id text, p_rpm integer, p_max_parallel integer, p_now bigint, p_lease_until bigint)
      RETURNS TABLE (o_ok boolean, o_limit text, o_retry_after_sec integer, o_remaining integer)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        n integer;
        oldest bigint;
        left_over integer := NULL;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('tollgate:slot:' || p_key));
        IF p_max_parallel IS NOT NULL THEN
          DELETE FROM inflight WHERE key = p_key AND lease_until <= p_now;
          SELECT count(*) INTO n FROM inflight WHERE key = p_key;
          IF n >= p_max_parallel THEN
            RETURN QUERY SELECT false, 'max_parallel'::text, 1, 0;
            RETURN;
          END IF;
        END IF;
        IF p_rpm IS NOT NULL THEN
          DELETE FROM rate_events WHERE key = p_key AND ts <= p_now - 60000;
          SELECT count(*), min(ts) INTO n, oldest FROM rate_events WHERE key = p_key;
          IF n >= p_rpm THEN
            RETURN QUERY SELECT false, 'rpm'::text,
              GREATEST(1, ceil((coalesce(oldest, p_now) + 60000 - p_now) / 1000.0))::integer, 0;
            RETURN;
          END IF;
          INSERT INTO rate_events (key, ts, id) VALUES (p_key, p_now, p_id) ON CONFLICT DO NOTHING;
          left_over := p_rpm - n - 1;
        END IF;
        IF p_max_parallel IS NOT NULL THEN
          INSERT INTO inflight (key, id, lease_until) VALUES (p_key, p_id, p_lease_until) ON CONFLICT DO NOTHING;
        END IF;
        RETURN QUERY SELECT true, NULL::text, NULL::integer, left_over;
      END
      $fn$;
    `,
  },
  {
    version: 4,
    name: 'usage: cache-write tokens, requested model, key hash prefix',
    // SPEC §4's record gains three fields. tollgate_settle gets an overload with them; the old
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
  },
  {
    version: 5,
    name: 'group budgets, hourly and weekly windows, tpm',
    // A period entry may name a group's spend row: `@backend/d:2026-11-26` (src/store/
    // budget-subject.ts). Reserve and charge split entries into (subject, period) and lock the
    // rows of the key and its group in one global order (subject, then period), so that replicas
    // reserving for two keys of one group queue on the group's rows instead of deadlocking. The
    // signatures stay those of migration 2, so replicas on the old code keep working meanwhile.
    // Slots: tollgate_acquire_slots checks the key and its group (rpm, max_parallel and tpm) under
    // advisory locks taken in the order of their lock ids. token_events is tpm's rolling minute.
    sql: `
      CREATE FUNCTION tollgate_subject(p_key text, p_entry text) RETURNS text
      LANGUAGE sql IMMUTABLE AS $fn$
        SELECT CASE WHEN left(p_entry, 1) = '@' AND strpos(p_entry, '/') > 1
          THEN left(p_entry, strpos(p_entry, '/') - 1) ELSE p_key END
      $fn$;
      CREATE FUNCTION tollgate_period(p_entry text) RETURNS text
      LANGUAGE sql IMMUTABLE AS $fn$
        SELECT CASE WHEN left(p_entry, 1) = '@' AND strpos(p_entry, '/') > 1
          THEN substr(p_entry, strpos(p_entry, '/') + 1) ELSE p_entry END
      $fn$;

      CREATE OR REPLACE FUNCTION tollgate_reserve(
        p_id text, p_key text, p_amount numeric, p_periods text[], p_windows text[], p_limits numeric[],
        p_lease_until bigint, p_now bigint)
      RETURNS TABLE (o_ok boolean, o_period text, o_limit numeric, o_spent numeric, o_reserved numeric)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        w record;
      BEGIN
        INSERT INTO spend (key, period)
          SELECT DISTINCT tollgate_subject(p_key, p), tollgate_period(p) FROM unnest(p_periods) AS p ORDER BY 1, 2
          ON CONFLICT DO NOTHING;
        PERFORM 1 FROM spend s JOIN unnest(p_periods) AS p
          ON s.key = tollgate_subject(p_key, p) AND s.period = tollgate_period(p)
          ORDER BY s.key, s.period FOR UPDATE OF s;
        IF EXISTS (SELECT 1 FROM reservations WHERE id = p_id) THEN
          RETURN QUERY SELECT true, NULL::text, NULL::numeric, NULL::numeric, NULL::numeric;
          RETURN;
        END IF;
        -- The first full window, in the caller's order: the key's before its group's.
        SELECT x.period, x.limit_usd, s.spent_usd, s.reserved_usd INTO w
          FROM unnest(p_windows, p_limits) WITH ORDINALITY AS x(period, limit_usd, n)
          JOIN spend s ON s.key = tollgate_subject(p_key, x.period) AND s.period = tollgate_period(x.period)
          WHERE s.spent_usd + s.reserved_usd + p_amount > x.limit_usd
          ORDER BY x.n LIMIT 1;
        IF FOUND THEN
          RETURN QUERY SELECT false, w.period, w.limit_usd, w.spent_usd, w.reserved_usd;
          RETURN;
        END IF;
        INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at)
          VALUES (p_id, p_key, p_amount, p_periods, p_lease_until, p_now);
        UPDATE spend s SET reserved_usd = s.reserved_usd + p_amount
          FROM (SELECT DISTINCT tollgate_subject(p_key, p) AS k, tollgate_period(p) AS per FROM unnest(p_periods) AS p) x
          WHERE s.key = x.k AND s.period = x.per;
        RETURN QUERY SELECT true, NULL::text, NULL::numeric, NULL::numeric, NULL::numeric;
      END
      $fn$;

      -- Called by both tollgate_settle overloads (migrations 2 and 4) for settles and recoveries alike.
      CREATE OR REPLACE FUNCTION tollgate_charge(p_key text, p_periods text[], p_cost numeric, p_release numeric)
      RETURNS void LANGUAGE sql AS $fn$
        INSERT INTO spend (key, period, spent_usd, reserved_usd)
        SELECT DISTINCT tollgate_subject(p_key, p), tollgate_period(p), p_cost, 0::numeric
          FROM unnest(p_periods) AS p ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET
          spent_usd = spend.spent_usd + EXCLUDED.spent_usd,
          reserved_usd = GREATEST(spend.reserved_usd - p_release, 0);
      $fn$;

      CREATE UNLOGGED TABLE token_events (
        key text NOT NULL,
        id text NOT NULL,
        ts bigint NOT NULL,
        tokens bigint NOT NULL,
        PRIMARY KEY (key, id)
      );
      CREATE INDEX token_events_key_ts ON token_events (key, ts);

      CREATE FUNCTION tollgate_acquire_slots(
        p_id text, p_subjects text[], p_rpm integer[], p_max_parallel integer[], p_tpm integer[],
        p_tokens bigint, p_now bigint, p_lease_until bigint)
      RETURNS TABLE (o_ok boolean, o_subject text, o_limit text, o_retry_after_sec integer, o_remaining integer)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        lock_id integer;
        s text;
        i integer;
        n integer;
        used bigint;
        oldest bigint;
        left_over integer := NULL;
      BEGIN
        -- Ordered by lock id, not name: two names sharing a hash must not lock in two orders.
        -- The key's lock id is migration 3's, so replicas on the old code serialize with these.
        FOR lock_id IN SELECT DISTINCT hashtext('tollgate:slot:' || x) FROM unnest(p_subjects) AS x ORDER BY 1 LOOP
          PERFORM pg_advisory_xact_lock(lock_id);
        END LOOP;
        FOR i IN 1 .. coalesce(array_length(p_subjects, 1), 0) LOOP
          s := p_subjects[i];
          IF p_max_parallel[i] IS NOT NULL THEN
            DELETE FROM inflight WHERE key = s AND lease_until <= p_now;
            SELECT count(*) INTO n FROM inflight WHERE key = s;
            IF n >= p_max_parallel[i] THEN
              RETURN QUERY SELECT false, s, 'max_parallel'::text, 1, 0;
              RETURN;
            END IF;
          END IF;
          IF p_rpm[i] IS NOT NULL THEN
            DELETE FROM rate_events WHERE key = s AND ts <= p_now - 60000;
            SELECT count(*), min(ts) INTO n, oldest FROM rate_events WHERE key = s;
            IF n >= p_rpm[i] THEN
              RETURN QUERY SELECT false, s, 'rpm'::text,
                GREATEST(1, ceil((coalesce(oldest, p_now) + 60000 - p_now) / 1000.0))::integer, 0;
              RETURN;
            END IF;
            IF i = 1 THEN left_over := p_rpm[i] - n - 1; END IF;
          END IF;
          IF p_tpm[i] IS NOT NULL THEN
            DELETE FROM token_events WHERE key = s AND ts <= p_now - 60000;
            SELECT coalesce(sum(tokens), 0) INTO used FROM token_events WHERE key = s;
            IF used + p_tokens > p_tpm[i] THEN
              -- It fits once enough of the minute's tokens have aged out: the earliest event
              -- whose running total frees enough. A request larger than the limit never fits.
              SELECT min(e.ts) INTO oldest FROM (
                SELECT ts, sum(tokens) OVER (ORDER BY ts, id) AS freed FROM token_events WHERE key = s) e
                WHERE used - e.freed + p_tokens <= p_tpm[i];
              RETURN QUERY SELECT false, s, 'tpm'::text,
                CASE WHEN oldest IS NULL THEN 60
                  ELSE GREATEST(1, ceil((oldest + 60000 - p_now) / 1000.0))::integer END, 0;
              RETURN;
            END IF;
          END IF;
        END LOOP;
        FOR i IN 1 .. coalesce(array_length(p_subjects, 1), 0) LOOP
          s := p_subjects[i];
          IF p_rpm[i] IS NOT NULL THEN
            INSERT INTO rate_events (key, ts, id) VALUES (s, p_now, p_id) ON CONFLICT DO NOTHING;
          END IF;
          IF p_tpm[i] IS NOT NULL THEN
            INSERT INTO token_events (key, id, ts, tokens) VALUES (s, p_id, p_now, p_tokens) ON CONFLICT DO NOTHING;
          END IF;
          IF p_max_parallel[i] IS NOT NULL THEN
            INSERT INTO inflight (key, id, lease_until) VALUES (s, p_id, p_lease_until) ON CONFLICT DO NOTHING;
          END IF;
        END LOOP;
        RETURN QUERY SELECT true, NULL::text, NULL::text, NULL::integer, left_over;
      END
      $fn$;
    `,
  },
  MIGRATION_6,
  MIGRATION_7,
  MIGRATION_8,
];
