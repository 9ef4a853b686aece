import type { Migration } from '../migration.js';

/**
 * Migration 8: a slot call is idempotent per request id. tollgate_acquire_many's batch is rerun
 * item by item when it fails as a whole, and one whose commit landed but whose answer was lost
 * (the connection went at COMMIT) then counted each of its requests a second time: refused for
 * their own slot (max_parallel 1), one more request in the rpm minute. An item whose events are
 * already recorded now answers ok without counting again.
 */
export const MIGRATION_8: Migration = {
  version: 8,
  name: 'slot calls idempotent per request id',
  sql: `
    CREATE OR REPLACE FUNCTION tollgate_acquire_slots_locked(
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
      -- Already admitted: the same call again (a batch whose commit landed but whose answer was
      -- lost is rerun item by item). Counting it twice would refuse it for its own slot.
      s := p_subjects[1];
      IF s IS NOT NULL AND (
        EXISTS (SELECT 1 FROM rate_events WHERE key = s AND ts = p_now AND id = p_id)
        OR EXISTS (SELECT 1 FROM inflight WHERE key = s AND id = p_id)
        OR EXISTS (SELECT 1 FROM token_events WHERE key = s AND id = p_id)) THEN
        RETURN QUERY SELECT true, NULL::text, NULL::text, NULL::integer, NULL::integer;
        RETURN;
      END IF;
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
  `,
};
