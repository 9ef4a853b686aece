import type { Migration } from '../migration.js';

export const MIGRATION_5: Migration = {
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
};
