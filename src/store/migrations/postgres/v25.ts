import type { Migration } from '../migration.js';
import { sweptOrNone } from './v21.js';

/**
 * Migration 25: the batched settle and the lease round find the rows they lock by primary key, at
 * any table size.
 *
 * Migration 24 found the leased settle's usage_daily lock joined to the whole table. The batched
 * settle (tollgate_settle_many: every request of a key without leased budget) had the same
 * statement: `usage_daily d JOIN (the batch's (day, key, model, status))`, planned by plpgsql for
 * a batch of 100 rows (its guess for jsonb_array_elements), was a hash join over a sequential scan
 * of usage_daily, a table with a row per day, key, model and status that grows for ever. With a
 * year of 60 keys' history (20,160 rows), auto_explain showed every call scanning all of it.
 * It now probes each (day, key, model, status) in a LATERAL subquery, in key order (the order the
 * join's ORDER BY locked them in), as migration 24 does for the leased settle.
 *
 * The lease round (tollgate_lease_round, migration 14) locked its leases and their swept charges
 * with `id IN (SELECT ... FROM jsonb_array_elements(...))`: hash semi-joins over sequential scans
 * of reservations (every live reservation and lease) and of lease_charges (a row per swept lease,
 * never deleted), in the lock statements and in the spend upsert. They are `id = ANY(array)` now,
 * which the primary key answers. Migration 14's body otherwise.
 *
 * Both plan generically (plan_cache_mode): with an array variable in a statement plpgsql would
 * otherwise plan it again at every call. Same signatures, same answers, same locks in the same
 * order (reservations by id, lease charges by id, spend rows by (subject, period), usage_daily
 * rows): an older replica calling them during a rolling deploy gets what it got. The other
 * per-request functions (tollgate_settle_spend, tollgate_reserve, tollgate_reserve_many,
 * tollgate_acquire_slots, tollgate_acquire_many, tollgate_release_slots, tollgate_rate_round,
 * tollgate_slot_round) read what they touch by key already: test/integration/postgres-hot-plans.test.ts
 * pins all of them. Database CPU with a year of 60 keys' history, two interleaved A/B runs each
 * (`npx tsx bench/settle-leased-db.ts 3 --history --many [--upto 24]`): a batched settle of 1 / 8 /
 * 24 / 64 records 3.38 / 7.34 / 15.5 / 36.2 ms and 3.45 / 7.16 / 15.8 / 36.3 ms before, 0.94 / 3.83
 * / 9.88 / 25.0 and 0.92 / 3.68 / 9.31 / 23.6 ms after (fresh tables: within the noise, 0.90 / 0.94
 * before, 0.98 / 0.89 after for one record). A lease round with 5,000 other live reservations and
 * 5,000 swept leases' charges (`npx tsx bench/lease-round-db.ts 4 --history [--upto 24]`): 2.83
 * and 2.72 ms before, 0.83 and 0.79 after.
 */

export const MIGRATION_25: Migration = {
  version: 25,
  name: 'the batched settle and the lease round lock the rows they touch by key, at any table size',
  sql: `
    CREATE OR REPLACE FUNCTION tollgate_settle_many(p_items jsonb)
    RETURNS TABLE (o_n integer, o_fresh boolean, o_entry text, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
      it record;
      ids text[];
    BEGIN
      ids := ARRAY(SELECT i->>'id' FROM jsonb_array_elements(p_items) AS i);
      PERFORM 1 FROM reservations WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
      -- A record the sweep wrote does not make a settle a retry: it charges (tollgate_unsweep).
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(x.k, x.p), tollgate_period(x.p) FROM (
          SELECT r.key AS k, unnest(r.periods) AS p FROM reservations r WHERE r.id = ANY(ids)
          UNION ALL
          SELECT i->>'key', jsonb_array_elements_text(i->'periods') FROM jsonb_array_elements(p_items) AS i
            WHERE ${sweptOrNone("i->>'id'")}) x
        ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET spent_usd = spend.spent_usd;
      -- One primary-key probe per usage_daily row, in key order.
      PERFORM 1 FROM (SELECT i->>'day' AS day, i->>'key' AS key, coalesce(i->>'model', '') AS model,
                (i->>'status')::integer AS status FROM jsonb_array_elements(p_items) AS i
              UNION
              SELECT u.day, u.key, coalesce(u.model, ''), u.status FROM unnest(ids) AS id
                CROSS JOIN LATERAL (SELECT * FROM usage u WHERE u.request_id = id LIMIT 1) u
                WHERE u.status = 0 AND u.error_code = 'reservation_expired' AND u.usage_source = 'reserved'
              ORDER BY 1, 2, 3, 4) x
        CROSS JOIN LATERAL (SELECT 1 FROM usage_daily d
          WHERE d.day = x.day AND d.key = x.key AND d.model = x.model AND d.status = x.status FOR UPDATE) l;
      FOR it IN SELECT x.n::integer AS n, x.i FROM jsonb_array_elements(p_items) WITH ORDINALITY AS x(i, n)
        ORDER BY x.n
      LOOP
        RETURN QUERY SELECT it.n, s.* FROM tollgate_settle_spend(
          it.i->>'id', (it.i->>'ts')::bigint, it.i->>'day', it.i->>'key', it.i->>'model', it.i->>'upstream',
          it.i->>'route', (it.i->>'status')::integer, it.i->>'errorCode', (it.i->>'inputTokens')::bigint,
          (it.i->>'outputTokens')::bigint, (it.i->>'cachedTokens')::bigint, (it.i->>'cost')::numeric,
          (it.i->>'latencyMs')::double precision, (it.i->>'stream')::boolean, it.i->>'userAgent', it.i->>'ip',
          it.i->>'configRevision', it.i->>'usageSource', ARRAY(SELECT jsonb_array_elements_text(it.i->'periods')),
          (it.i->>'cacheWriteTokens')::bigint, it.i->>'requestedModel', it.i->>'keyHash',
          it.i->>'requestFp', it.i->>'prefixFp', (it.i->>'prefixTokens')::integer,
          (it.i->>'outputLimit')::integer, (it.i->>'images')::integer,
          (it.i->>'audioSeconds')::double precision, (it.i->>'characters')::integer) AS s;
      END LOOP;
    END
    $fn$;

    CREATE OR REPLACE FUNCTION tollgate_lease_round(p_returns jsonb, p_renew text[], p_grants jsonb, p_now bigint,
      p_until bigint)
    RETURNS TABLE (o_id text, o_granted text, o_gone boolean)
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
    DECLARE
      it record;
      l record;
      rel numeric;
      extra numeric;
      room numeric;
      g numeric;
      returned text[];
    BEGIN
      returned := ARRAY(SELECT r->>'id' FROM jsonb_array_elements(p_returns) AS r);
      -- Locks in the global order: lease rows by id, swept leases' charges by id, then spend rows.
      PERFORM 1 FROM reservations
        WHERE id = ANY(returned || coalesce(p_renew, '{}') || ARRAY(SELECT x->>'id' FROM jsonb_array_elements(p_grants) AS x))
        ORDER BY id FOR UPDATE;
      PERFORM 1 FROM lease_charges WHERE id = ANY(returned) ORDER BY id FOR UPDATE;
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(y.k, y.p), tollgate_period(y.p) FROM (
          SELECT x->>'key' AS k, jsonb_array_elements_text(x->'periods') AS p FROM jsonb_array_elements(p_grants) AS x
          UNION ALL
          SELECT r.key, unnest(r.periods) FROM reservations r WHERE r.id = ANY(returned)
          UNION ALL
          SELECT t.key, unnest(t.periods) FROM lease_charges t WHERE t.id = ANY(returned)) y
        ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET reserved_usd = spend.reserved_usd;

      -- released / granted: the owner's running totals (absent from replicas on migration 13's
      -- code, which send this round's release instead). Granted beyond the owner's total: its
      -- answer was lost, the owner never used it, it goes back too (once: the row forgets it).
      FOR it IN SELECT e->>'id' AS id, (e->>'released')::numeric AS released, (e->>'granted')::numeric AS granted,
          (e->>'release')::numeric AS release, (e->>'close')::boolean AS close
        FROM jsonb_array_elements(p_returns) AS e
      LOOP
        SELECT key, amount_usd, periods, released_usd, granted_usd INTO l FROM reservations WHERE id = it.id;
        IF NOT FOUND THEN
          -- Swept while its owner was cut off: what it returns now was charged by the sweep.
          SELECT key, periods, charged_usd AS amount_usd, released_usd, granted_usd INTO l
            FROM lease_charges WHERE id = it.id;
          CONTINUE WHEN NOT FOUND OR it.released IS NULL;
          extra := greatest(l.granted_usd - it.granted, 0);
          rel := least(greatest(it.released - l.released_usd, 0) + extra, l.amount_usd);
          UPDATE lease_charges SET charged_usd = charged_usd - rel,
              released_usd = greatest(released_usd, it.released), granted_usd = granted_usd - extra
            WHERE id = it.id;
          IF rel > 0 THEN
            PERFORM tollgate_uncharge_lease(it.id, l.key, l.periods, rel);
          END IF;
          RETURN QUERY SELECT it.id, NULL::text, true;
          CONTINUE;
        END IF;
        extra := CASE WHEN it.released IS NULL THEN 0 ELSE greatest(l.granted_usd - it.granted, 0) END;
        rel := CASE WHEN it.released IS NULL THEN least(coalesce(it.release, 0), l.amount_usd)
          ELSE least(greatest(it.released - l.released_usd, 0) + extra, l.amount_usd) END;
        IF rel > 0 THEN
          PERFORM tollgate_charge(l.key, l.periods, 0, rel);
        END IF;
        IF it.close AND l.amount_usd - rel = 0 THEN
          DELETE FROM reservations WHERE id = it.id;
        ELSE
          UPDATE reservations SET amount_usd = amount_usd - rel, granted_usd = granted_usd - extra,
              released_usd = greatest(released_usd, coalesce(it.released, released_usd + rel)),
              -- Closed with money its owner cannot account for (a settle given up): the next
              -- sweep charges it, and records the charge for a settle landing later.
              lease_until = CASE WHEN it.close THEN p_now - 1 ELSE lease_until END
            WHERE id = it.id;
        END IF;
      END LOOP;

      UPDATE reservations SET lease_until = p_until WHERE id = ANY(p_renew) AND left(id, 6) = 'lease:';
      RETURN QUERY SELECT x, NULL::text, true FROM unnest(p_renew) AS x
        WHERE NOT EXISTS (SELECT 1 FROM reservations r WHERE r.id = x);

      FOR it IN SELECT e->>'id' AS id, (e->>'fresh')::boolean AS fresh, e->>'key' AS key,
          ARRAY(SELECT jsonb_array_elements_text(e->'periods')) AS periods, e->'windows' AS windows,
          (e->>'want')::numeric AS want, (e->>'min')::numeric AS min, (e->>'unit')::numeric AS unit
        FROM jsonb_array_elements(p_grants) AS e
      LOOP
        IF NOT it.fresh AND NOT EXISTS (SELECT 1 FROM reservations WHERE id = it.id) THEN
          RETURN QUERY SELECT it.id, '0'::text, true;
          CONTINUE;
        END IF;
        SELECT min(w.lim - s.spent_usd - s.reserved_usd) INTO room
          FROM jsonb_to_recordset(it.windows) AS w(period text, lim numeric)
          JOIN spend s ON s.key = tollgate_subject(it.key, w.period) AND s.period = tollgate_period(w.period);
        g := least(it.want, trunc(greatest(coalesce(room, it.want * 4), 0) / 4, 9));
        -- Whole requests of the plan's largest size: a remainder no request fits would stay unused.
        IF it.unit > 0 THEN
          g := trunc(g / it.unit) * it.unit;
        END IF;
        IF g < it.min OR g <= 0 THEN
          RETURN QUERY SELECT it.id, '0'::text, false;
          CONTINUE;
        END IF;
        IF it.fresh THEN
          INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at, granted_usd)
            VALUES (it.id, it.key, g, it.periods, p_until, p_now, g);
        ELSE
          UPDATE reservations SET amount_usd = amount_usd + g, granted_usd = granted_usd + g, lease_until = p_until
            WHERE id = it.id;
        END IF;
        UPDATE spend s SET reserved_usd = s.reserved_usd + g
          FROM (SELECT DISTINCT tollgate_subject(it.key, p) AS k, tollgate_period(p) AS per
                FROM unnest(it.periods) AS p) x
          WHERE s.key = x.k AND s.period = x.per;
        RETURN QUERY SELECT it.id, g::text, false;
      END LOOP;
    END
    $fn$;
  `,
};
