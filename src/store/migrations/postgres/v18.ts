import type { Migration } from '../migration.js';

/**
 * Migration 18: rate leases (src/store/postgres/leases/rate-book.ts, docs/postgres.md#rate-leases).
 *
 * A busy subject's rpm and tpm allowances are leased to a replica in slices, as budgets are: a
 * rate lease is one `rate_events` row counting `n` requests and one `token_events` row counting
 * its tokens, per subject of the plan (the key, and its group when limited). Both are stamped
 * with the instant the lease stops being used, so every request served from it stays counted
 * at least until 60 s after it arrived: the rolling minute is never looser than without leases.
 * The owner trims a lease to what its requests used once it stops taking from it (absolute
 * values, so a failed round is simply asked again); a dead owner's lease ages out of the minute
 * like any request, counted whole.
 *
 * - `rate_events.n`: the requests a row counts (1 for a request; rows of older replicas too);
 *   rate_counts' triggers sum it, and follow an update of it.
 * - tollgate_rate_round: one replica's trims and grants in one transaction, under the subjects'
 *   advisory locks in the order tollgate_acquire_many takes them. A grant is at most a quarter
 *   of the room left in each limit of its plan (replicas asking one after another leave room to
 *   each other), and nothing below the asked minimum: then the plan's requests take their slots
 *   one by one, exactly as before.
 */
export const MIGRATION_18: Migration = {
  version: 18,
  name: 'rate leases',
  sql: `
    ALTER TABLE rate_events ADD COLUMN n integer NOT NULL DEFAULT 1;

    CREATE OR REPLACE FUNCTION tollgate_rate_events_added() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO rate_counts (key, requests)
        SELECT key, sum(n) FROM added GROUP BY key ORDER BY key
        ON CONFLICT (key) DO UPDATE SET requests = rate_counts.requests + EXCLUDED.requests;
      RETURN NULL;
    END $fn$;
    CREATE OR REPLACE FUNCTION tollgate_rate_events_removed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE rate_counts c SET requests = c.requests - g.n
        FROM (SELECT key, sum(n) AS n FROM removed GROUP BY key) g WHERE c.key = g.key;
      RETURN NULL;
    END $fn$;
    CREATE FUNCTION tollgate_rate_events_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE rate_counts c SET requests = c.requests + g.d
        FROM (SELECT a.key, sum(a.n - b.n) AS d FROM after_rows a JOIN before_rows b USING (key, ts, id)
              GROUP BY a.key) g
        WHERE c.key = g.key AND g.d <> 0;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER rate_events_changed AFTER UPDATE ON rate_events
      REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
      FOR EACH STATEMENT EXECUTE FUNCTION tollgate_rate_events_changed();

    -- p_trims: [{id, stamp, subjects, requests, tokens}], each count absolute (null: not counted).
    -- p_grants: [{id, stamp, subjects, rpm, tpm, wantRequests, minRequests, wantTokens, minTokens}],
    -- rpm and tpm aligned with subjects (null where a subject has no such limit).
    CREATE FUNCTION tollgate_rate_round(p_trims jsonb, p_grants jsonb, p_now bigint)
    RETURNS TABLE (o_id text, o_requests integer, o_tokens bigint)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      lock_id integer;
      it record;
      i integer;
      s text;
      v_n bigint;
      v_t bigint;
    BEGIN
      FOR lock_id IN SELECT DISTINCT hashtext('tollgate:slot:' || x) FROM (
          SELECT jsonb_array_elements_text(e->'subjects') AS x FROM jsonb_array_elements(p_trims) AS e
          UNION ALL
          SELECT jsonb_array_elements_text(e->'subjects') FROM jsonb_array_elements(p_grants) AS e) y
        ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(lock_id);
      END LOOP;

      FOR it IN SELECT e->>'id' AS id, (e->>'stamp')::bigint AS stamp,
          ARRAY(SELECT jsonb_array_elements_text(e->'subjects')) AS subjects,
          (e->>'requests')::integer AS requests, (e->>'tokens')::bigint AS tokens
        FROM jsonb_array_elements(p_trims) AS e
      LOOP
        IF it.requests IS NOT NULL AND it.requests > 0 THEN
          UPDATE rate_events SET n = it.requests
            WHERE key = ANY(it.subjects) AND ts = it.stamp AND id = it.id AND n <> it.requests;
        ELSIF it.requests IS NOT NULL THEN
          DELETE FROM rate_events WHERE key = ANY(it.subjects) AND ts = it.stamp AND id = it.id;
        END IF;
        IF it.tokens IS NOT NULL THEN
          UPDATE token_events SET tokens = it.tokens
            WHERE key = ANY(it.subjects) AND id = it.id AND tokens <> it.tokens;
        END IF;
      END LOOP;

      FOR it IN SELECT e->>'id' AS id, (e->>'stamp')::bigint AS stamp,
          ARRAY(SELECT v FROM jsonb_array_elements_text(e->'subjects') WITH ORDINALITY AS y(v, k) ORDER BY y.k) AS subjects,
          ARRAY(SELECT v::bigint FROM jsonb_array_elements_text(e->'rpm') WITH ORDINALITY AS y(v, k) ORDER BY y.k) AS rpm,
          ARRAY(SELECT v::bigint FROM jsonb_array_elements_text(e->'tpm') WITH ORDINALITY AS y(v, k) ORDER BY y.k) AS tpm,
          (e->>'wantRequests')::bigint AS want_requests, (e->>'minRequests')::bigint AS min_requests,
          (e->>'wantTokens')::bigint AS want_tokens, (e->>'minTokens')::bigint AS min_tokens
        FROM jsonb_array_elements(p_grants) AS e
      LOOP
        v_n := it.want_requests;
        v_t := it.want_tokens;
        FOR i IN 1 .. coalesce(array_length(it.subjects, 1), 0) LOOP
          s := it.subjects[i];
          IF it.rpm[i] IS NOT NULL THEN
            DELETE FROM rate_events WHERE key = s AND ts <= p_now - 60000;
            v_n := least(v_n, greatest(it.rpm[i] - coalesce((SELECT requests FROM rate_counts WHERE key = s), 0), 0) / 4);
          END IF;
          IF it.tpm[i] IS NOT NULL THEN
            DELETE FROM token_events WHERE key = s AND ts <= p_now - 60000;
            v_t := least(v_t, greatest(it.tpm[i] - coalesce((SELECT tokens FROM rate_counts WHERE key = s), 0), 0) / 4);
          END IF;
        END LOOP;
        IF (v_n IS NOT NULL AND (v_n < it.min_requests OR v_n <= 0))
          OR (v_t IS NOT NULL AND (v_t < it.min_tokens OR v_t <= 0)) THEN
          RETURN QUERY SELECT it.id, 0, 0::bigint;
          CONTINUE;
        END IF;
        FOR i IN 1 .. coalesce(array_length(it.subjects, 1), 0) LOOP
          s := it.subjects[i];
          IF it.rpm[i] IS NOT NULL THEN
            INSERT INTO rate_events (key, ts, id, n) VALUES (s, it.stamp, it.id, v_n) ON CONFLICT DO NOTHING;
          END IF;
          IF it.tpm[i] IS NOT NULL THEN
            INSERT INTO token_events (key, id, ts, tokens) VALUES (s, it.id, it.stamp, v_t) ON CONFLICT DO NOTHING;
          END IF;
        END LOOP;
        RETURN QUERY SELECT it.id, v_n::integer, v_t;
      END LOOP;
    END
    $fn$;
  `,
};
