import type { Migration } from '../migration.js';

export const MIGRATION_3: Migration = {
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
};
