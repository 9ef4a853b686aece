import type { Migration } from '../migration.js';

/**
 * Migration 6: the per-request path in O(1) and without lock-order deadlocks.
 *
 * - Rate limits: tollgate_acquire_slots counted the subject's whole last minute of rate_events
 *   (and summed its token_events) on every call, under the subject's advisory lock: at 600 req/s
 *   that is ~36k rows per call, and the lock serialized the key behind it. rate_counts holds the
 *   count and the token sum per subject, kept by statement triggers on the two event tables, so
 *   every writer (this code, a replica still on the old code, a manual DELETE) keeps it exact.
 *   The events stay: they say when each one leaves the rolling minute, exactly as before.
 * - tollgate_release_slots takes the same advisory locks (in the same order) before it moves
 *   tokens, so the counter rows of a key and its group are only ever written in one order.
 * - tollgate_reserve locks its spend rows with one ordered upsert: it inserted the missing rows
 *   first and locked the others after, so at an hour boundary it held the new `h:` row while
 *   waiting for the `d:` row that a settle of the same key held while waiting for `h:` (40P01).
 *   A reserve for a request that already has a usage record (it timed out client-side and its
 *   refusal was settled first) reserves nothing: it would hold budget until its lease ended.
 * - tollgate_settle_spend is tollgate_settle (migration 4) answering the spend after it, so the
 *   gateway needs no read of its own for budget metrics and alerts.
 */
export const MIGRATION_6: Migration = {
  version: 6,
  name: 'rate counters, ordered reserve locks, settle returns spend',
  sql: `
    CREATE UNLOGGED TABLE rate_counts (
      key text PRIMARY KEY,
      requests bigint NOT NULL DEFAULT 0,
      tokens bigint NOT NULL DEFAULT 0
    );
    -- No event may be written between the first count and the triggers taking over.
    LOCK TABLE rate_events, token_events IN SHARE ROW EXCLUSIVE MODE;
    INSERT INTO rate_counts (key, requests, tokens)
      SELECT key, sum(r), sum(t) FROM (
        SELECT key, count(*) AS r, 0::numeric AS t FROM rate_events GROUP BY key
        UNION ALL SELECT key, 0, sum(tokens) FROM token_events GROUP BY key) x
      GROUP BY key;

    CREATE FUNCTION tollgate_rate_events_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO rate_counts (key, requests)
        SELECT key, count(*) FROM added GROUP BY key ORDER BY key
        ON CONFLICT (key) DO UPDATE SET requests = rate_counts.requests + EXCLUDED.requests;
      RETURN NULL;
    END $fn$;
    CREATE FUNCTION tollgate_rate_events_removed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE rate_counts c SET requests = c.requests - g.n
        FROM (SELECT key, count(*) AS n FROM removed GROUP BY key) g WHERE c.key = g.key;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER rate_events_added AFTER INSERT ON rate_events REFERENCING NEW TABLE AS added
      FOR EACH STATEMENT EXECUTE FUNCTION tollgate_rate_events_added();
    CREATE TRIGGER rate_events_removed AFTER DELETE ON rate_events REFERENCING OLD TABLE AS removed
      FOR EACH STATEMENT EXECUTE FUNCTION tollgate_rate_events_removed();

    CREATE FUNCTION tollgate_token_events_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO rate_counts (key, tokens)
        SELECT key, sum(tokens) FROM added GROUP BY key ORDER BY key
        ON CONFLICT (key) DO UPDATE SET tokens = rate_counts.tokens + EXCLUDED.tokens;
      RETURN NULL;
    END $fn$;
    CREATE FUNCTION tollgate_token_events_removed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE rate_counts c SET tokens = c.tokens - g.n
        FROM (SELECT key, sum(tokens) AS n FROM removed GROUP BY key) g WHERE c.key = g.key;
      RETURN NULL;
    END $fn$;
    CREATE FUNCTION tollgate_token_events_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE rate_counts c SET tokens = c.tokens + g.n
        FROM (SELECT a.key, sum(a.tokens - b.tokens) AS n FROM after_rows a JOIN before_rows b USING (key, id)
              GROUP BY a.key) g
        WHERE c.key = g.key AND g.n <> 0;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER token_events_added AFTER INSERT ON token_events REFERENCING NEW TABLE AS added
      FOR EACH STATEMENT EXECUTE FUNCTION tollgate_token_events_added();
    CREATE TRIGGER token_events_removed AFTER DELETE ON token_events REFERENCING OLD TABLE AS removed
      FOR EACH STATEMENT EXECUTE FUNCTION tollgate_token_events_removed();
    CREATE TRIGGER token_events_changed AFTER UPDATE ON token_events
      REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
      FOR EACH STATEMENT EXECUTE FUNCTION tollgate_token_events_changed();

    -- The checks and writes of migration 5's tollgate_acquire_slots, its subjects' advisory locks
    -- already held by the caller; the counts come from rate_counts.
    CREATE FUNCTION tollgate_acquire_slots_locked(
      p_id text, p_subjects text[], p_rpm integer[], p_max_parallel integer[], p_tpm integer[],
      p_tokens bigint, p_now bigint, p_lease_until bigint)
    RETURNS TABLE (o_ok boolean, o_subject text, o_limit text, o_retry_after_sec integer, o_remaining integer)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      s text;
      i integer;
      n bigint;
      used bigint;
      oldest bigint;
      left_over integer := NULL;
    BEGIN
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
          n := coalesce((SELECT requests FROM rate_counts WHERE key = s), 0);
          IF n >= p_rpm[i] THEN
            SELECT min(ts) INTO oldest FROM rate_events WHERE key = s;
            RETURN QUERY SELECT false, s, 'rpm'::text,
              GREATEST(1, ceil((coalesce(oldest, p_now) + 60000 - p_now) / 1000.0))::integer, 0;
            RETURN;
          END IF;
          IF i = 1 THEN left_over := p_rpm[i] - n - 1; END IF;
        END IF;
        IF p_tpm[i] IS NOT NULL THEN
          DELETE FROM token_events WHERE key = s AND ts <= p_now - 60000;
          used := coalesce((SELECT tokens FROM rate_counts WHERE key = s), 0);
          IF used + p_tokens > p_tpm[i] THEN
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

    -- Same signature as migration 5: the locks, then the checks.
    CREATE OR REPLACE FUNCTION tollgate_acquire_slots(
      p_id text, p_subjects text[], p_rpm integer[], p_max_parallel integer[], p_tpm integer[],
      p_tokens bigint, p_now bigint, p_lease_until bigint)
    RETURNS TABLE (o_ok boolean, o_subject text, o_limit text, o_retry_after_sec integer, o_remaining integer)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      lock_id integer;
    BEGIN
      -- Ordered by lock id, not name: two names sharing a hash must not lock in two orders.
      FOR lock_id IN SELECT DISTINCT hashtext('tollgate:slot:' || x) FROM unnest(p_subjects) AS x ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(lock_id);
      END LOOP;
      RETURN QUERY SELECT * FROM tollgate_acquire_slots_locked(
        p_id, p_subjects, p_rpm, p_max_parallel, p_tpm, p_tokens, p_now, p_lease_until);
    END
    $fn$;

    -- Concurrent slot requests of one replica in one call: the advisory locks of every subject
    -- of the batch, in lock id order, then each item checked and recorded in its turn.
    CREATE FUNCTION tollgate_acquire_many(p_items jsonb)
    RETURNS TABLE (o_n integer, o_ok boolean, o_subject text, o_limit text, o_retry_after_sec integer,
      o_remaining integer)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      lock_id integer;
      it record;
    BEGIN
      FOR lock_id IN SELECT DISTINCT hashtext('tollgate:slot:' || x)
        FROM jsonb_array_elements(p_items) AS i, jsonb_array_elements_text(i->'subjects') AS x ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(lock_id);
      END LOOP;
      FOR it IN SELECT x.n::integer AS n, x.i FROM jsonb_array_elements(p_items) WITH ORDINALITY AS x(i, n)
        ORDER BY x.n
      LOOP
        RETURN QUERY SELECT it.n, r.* FROM tollgate_acquire_slots_locked(
          it.i->>'id',
          ARRAY(SELECT v FROM jsonb_array_elements_text(it.i->'subjects') WITH ORDINALITY AS y(v, n) ORDER BY y.n),
          ARRAY(SELECT v::integer FROM jsonb_array_elements_text(it.i->'rpm') WITH ORDINALITY AS y(v, n) ORDER BY y.n),
          ARRAY(SELECT v::integer FROM jsonb_array_elements_text(it.i->'maxParallel') WITH ORDINALITY AS y(v, n)
            ORDER BY y.n),
          ARRAY(SELECT v::integer FROM jsonb_array_elements_text(it.i->'tpm') WITH ORDINALITY AS y(v, n) ORDER BY y.n),
          (it.i->>'tokens')::bigint, (it.i->>'now')::bigint, (it.i->>'lease')::bigint) AS r;
      END LOOP;
    END
    $fn$;

    CREATE FUNCTION tollgate_release_slots(p_id text, p_subjects text[], p_tokens bigint)
    RETURNS void LANGUAGE plpgsql AS $fn$
    DECLARE
      lock_id integer;
    BEGIN
      FOR lock_id IN SELECT DISTINCT hashtext('tollgate:slot:' || x) FROM unnest(p_subjects) AS x ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(lock_id);
      END LOOP;
      DELETE FROM inflight WHERE id = p_id AND key = ANY(p_subjects);
      IF p_tokens IS NOT NULL THEN
        UPDATE token_events SET tokens = p_tokens WHERE id = p_id AND key = ANY(p_subjects) AND tokens <> p_tokens;
      END IF;
    END
    $fn$;

    -- The checks and writes of one reservation, its spend rows already locked by the caller.
    CREATE FUNCTION tollgate_reserve_locked(
      p_id text, p_key text, p_amount numeric, p_periods text[], p_windows text[], p_limits numeric[],
      p_lease_until bigint, p_now bigint)
    RETURNS TABLE (o_ok boolean, o_period text, o_limit numeric, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      w record;
    BEGIN
      -- After the locks: a settle of this id that committed while we waited is seen.
      IF EXISTS (SELECT 1 FROM reservations WHERE id = p_id)
        OR EXISTS (SELECT 1 FROM usage WHERE request_id = p_id) THEN
        RETURN QUERY SELECT true, NULL::text, NULL::numeric, NULL::numeric, NULL::numeric;
        RETURN;
      END IF;
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

    CREATE OR REPLACE FUNCTION tollgate_reserve(
      p_id text, p_key text, p_amount numeric, p_periods text[], p_windows text[], p_limits numeric[],
      p_lease_until bigint, p_now bigint)
    RETURNS TABLE (o_ok boolean, o_period text, o_limit numeric, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql AS $fn$
    BEGIN
      -- One statement creates the missing rows and locks the existing ones, row by row in
      -- (subject, period) order: the order every charge, batch and recovery locks them in.
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(p_key, p), tollgate_period(p) FROM unnest(p_periods) AS p ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET reserved_usd = spend.reserved_usd;
      RETURN QUERY SELECT * FROM tollgate_reserve_locked(
        p_id, p_key, p_amount, p_periods, p_windows, p_limits, p_lease_until, p_now);
    END
    $fn$;

    -- Concurrent reservations of one replica in one transaction and one commit: the spend rows
    -- of the whole batch are locked once, in (subject, period) order, then each item is checked
    -- and held in its turn, as if alone. o_n is the item's 1-based position.
    CREATE FUNCTION tollgate_reserve_many(p_items jsonb)
    RETURNS TABLE (o_n integer, o_ok boolean, o_period text, o_limit numeric, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      it record;
    BEGIN
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(i->>'key', p), tollgate_period(p)
          FROM jsonb_array_elements(p_items) AS i, jsonb_array_elements_text(i->'periods') AS p ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET reserved_usd = spend.reserved_usd;
      FOR it IN SELECT x.n::integer AS n, x.i FROM jsonb_array_elements(p_items) WITH ORDINALITY AS x(i, n)
        ORDER BY x.n
      LOOP
        RETURN QUERY SELECT it.n, r.* FROM tollgate_reserve_locked(
          it.i->>'id', it.i->>'key', (it.i->>'amount')::numeric,
          ARRAY(SELECT jsonb_array_elements_text(it.i->'periods')),
          ARRAY(SELECT w FROM jsonb_array_elements_text(it.i->'windows') WITH ORDINALITY AS y(w, n) ORDER BY y.n),
          ARRAY(SELECT l::numeric FROM jsonb_array_elements_text(it.i->'limits') WITH ORDINALITY AS y(l, n) ORDER BY y.n),
          (it.i->>'lease')::bigint, (it.i->>'now')::bigint) AS r;
      END LOOP;
    END
    $fn$;

    CREATE FUNCTION tollgate_settle_spend(
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

    -- Concurrent settles of one replica in one transaction and one commit. Everything the batch
    -- will wait for is locked first, each kind in one global order: the reservations (by id),
    -- the spend rows (by subject, period), the rollup rows that exist; then each item is settled
    -- in its turn by tollgate_settle_spend. o_n is the item's 1-based position.
    CREATE FUNCTION tollgate_settle_many(p_items jsonb)
    RETURNS TABLE (o_n integer, o_fresh boolean, o_entry text, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      it record;
      ids text[];
    BEGIN
      ids := ARRAY(SELECT i->>'id' FROM jsonb_array_elements(p_items) AS i);
      PERFORM 1 FROM reservations WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(x.k, x.p), tollgate_period(x.p) FROM (
          SELECT r.key AS k, unnest(r.periods) AS p FROM reservations r WHERE r.id = ANY(ids)
          UNION ALL
          SELECT i->>'key', jsonb_array_elements_text(i->'periods') FROM jsonb_array_elements(p_items) AS i
            WHERE NOT EXISTS (SELECT 1 FROM usage u WHERE u.request_id = i->>'id')) x
        ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET spent_usd = spend.spent_usd;
      PERFORM 1 FROM usage_daily d
        JOIN (SELECT DISTINCT i->>'day' AS day, i->>'key' AS key, coalesce(i->>'model', '') AS model,
                (i->>'status')::integer AS status FROM jsonb_array_elements(p_items) AS i) x
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
          (it.i->>'cacheWriteTokens')::bigint, it.i->>'requestedModel', it.i->>'keyHash') AS s;
      END LOOP;
    END
    $fn$;
  `,
};
