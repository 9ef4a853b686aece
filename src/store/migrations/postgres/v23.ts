import type { Migration } from '../migration.js';

/**
 * Migration 23: slot leases, max_parallel's share of the rate leases
 * (src/store/postgres/leases/slot-book.ts, docs/postgres.md#rate-leases).
 *
 * A leased slot is an ordinary `inflight` row (migration 1) of every subject of its plan that has
 * max_parallel (the key, and its group when limited), with an id `slease:<lease>:<n>`: the
 * per-request check of tollgate_acquire_slots_locked counts it like a request's, so the fleet
 * never holds more slots than a limit. Its `lease_until` is short (the owner's slot expiry, a few
 * seconds) while the slot is free and renewed by the owner's rounds; a slot serving a request is
 * stamped with that request's own `lease_until` (what a per-request row carries), and shortened
 * again once the request ended. A dead owner's free slots are therefore free to the others within
 * the expiry, and the slots of its requests when those requests' own leases end, as without slot
 * leases.
 *
 * tollgate_slot_round: one replica's trims (deletes), renewals (new lease_until per row) and
 * grants in one transaction, under the subjects' advisory locks in the order tollgate_acquire_many
 * takes them. For each plan it answers the room left (the smallest max_parallel less the unexpired
 * rows of a subject, the owner's own leased slots counted as taken) before its grant, the slots
 * granted (at most a quarter of that room, nothing when that is below one slot), and the renewed
 * rows it no longer found (expired and swept: the owner stops using them).
 */
export const MIGRATION_23: Migration = {
  version: 23,
  name: 'slot leases',
  sql: `
    -- p_plans: [{subjects, maxParallel, trims: [id], renews: [{id, until}], grant: {id, want, until} | null}],
    -- maxParallel aligned with subjects (every subject of a slot plan has one).
    CREATE FUNCTION tollgate_slot_round(p_plans jsonb, p_now bigint)
    RETURNS TABLE (o_n integer, o_granted integer, o_room integer, o_gone text[])
    LANGUAGE plpgsql AS $fn$
    DECLARE
      lock_id integer;
      it record;
      i integer;
      s text;
      v_room bigint;
      v_n bigint;
      v_gone text[];
    BEGIN
      FOR lock_id IN SELECT DISTINCT hashtext('tollgate:slot:' || x)
        FROM jsonb_array_elements(p_plans) AS e, jsonb_array_elements_text(e->'subjects') AS x ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(lock_id);
      END LOOP;

      FOR it IN SELECT x.n::integer AS n,
          ARRAY(SELECT v FROM jsonb_array_elements_text(x.e->'subjects') WITH ORDINALITY AS y(v, k) ORDER BY y.k) AS subjects,
          ARRAY(SELECT v::bigint FROM jsonb_array_elements_text(x.e->'maxParallel') WITH ORDINALITY AS y(v, k) ORDER BY y.k) AS mp,
          ARRAY(SELECT jsonb_array_elements_text(x.e->'trims')) AS trims,
          coalesce(x.e->'renews', '[]'::jsonb) AS renews,
          x.e->'grant' AS g
        FROM jsonb_array_elements(p_plans) WITH ORDINALITY AS x(e, n) ORDER BY x.n
      LOOP
        IF array_length(it.trims, 1) > 0 THEN
          DELETE FROM inflight WHERE key = ANY(it.subjects) AND id = ANY(it.trims);
        END IF;
        FOR i IN 1 .. coalesce(array_length(it.subjects, 1), 0) LOOP
          DELETE FROM inflight WHERE key = it.subjects[i] AND lease_until <= p_now;
        END LOOP;
        UPDATE inflight f SET lease_until = (r->>'until')::bigint
          FROM jsonb_array_elements(it.renews) AS r
          WHERE f.key = ANY(it.subjects) AND f.id = r->>'id' AND f.lease_until <> (r->>'until')::bigint;
        SELECT array_agg(r->>'id') INTO v_gone FROM jsonb_array_elements(it.renews) AS r
          WHERE (SELECT count(*) FROM inflight f WHERE f.key = ANY(it.subjects) AND f.id = r->>'id')
            < array_length(it.subjects, 1);
        v_room := NULL;
        FOR i IN 1 .. coalesce(array_length(it.subjects, 1), 0) LOOP
          s := it.subjects[i];
          v_room := least(coalesce(v_room, it.mp[i]),
            it.mp[i] - (SELECT count(*) FROM inflight WHERE key = s));
        END LOOP;
        v_room := greatest(coalesce(v_room, 0), 0);
        v_n := 0;
        IF it.g IS NOT NULL AND jsonb_typeof(it.g) = 'object' THEN
          v_n := least((it.g->>'want')::bigint, v_room / 4);
          IF v_n >= 1 THEN
            FOR i IN 1 .. array_length(it.subjects, 1) LOOP
              INSERT INTO inflight (key, id, lease_until)
                SELECT it.subjects[i], (it.g->>'id') || ':' || gs.k, (it.g->>'until')::bigint
                FROM generate_series(1, v_n::integer) AS gs(k)
                ON CONFLICT DO NOTHING;
            END LOOP;
          ELSE
            v_n := 0;
          END IF;
        END IF;
        RETURN QUERY SELECT it.n, v_n::integer, v_room::integer, coalesce(v_gone, ARRAY[]::text[]);
      END LOOP;
    END
    $fn$;
  `,
};
