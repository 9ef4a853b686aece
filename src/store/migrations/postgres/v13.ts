import type { Migration } from '../migration.js';

/**
 * Migration 13: budget leases (src/store/postgres/leases/, docs/postgres.md#budget-leases).
 *
 * A lease is a row of `reservations` whose id starts with `lease:`, held by one replica for
 * many requests of one plan (a key, every period it charges, the limits of its windows and its
 * group's). Its amount counts as reserved in every one of those periods, as a request's
 * reservation does, so spent + reserved stays within each limit across the fleet. Its owner
 * renews it; when the owner dies the row expires and recoverReservations charges what it still
 * holds (the part no settle proved unspent), like any reservation of a dead replica.
 *
 * - tollgate_lease_round: one replica's returns, renewals and grants in one transaction. A grant
 *   is at most a quarter of the room left in the plan's fullest window, so replicas asking one
 *   after another leave room to each other, and nothing below the asked minimum (a few
 *   requests' worth): then the plan's requests reserve one by one, as before.
 * - tollgate_settle_leased: the settles of requests served from leases, set-based (one insert of
 *   all usage records, one update per spend row and rollup row, one per lease): each fresh
 *   record's cost moves from its lease to spent. A lease that is gone (expired and charged)
 *   releases nothing: the cost is charged again, never taken from someone else's reservation.
 */
export const MIGRATION_13: Migration = {
  version: 13,
  name: 'budget leases',
  sql: `
    CREATE FUNCTION tollgate_lease_round(p_returns jsonb, p_renew text[], p_grants jsonb, p_now bigint,
      p_until bigint)
    RETURNS TABLE (o_id text, o_granted text, o_gone boolean)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      it record;
      l record;
      rel numeric;
      room numeric;
      g numeric;
    BEGIN
      -- Locks in the global order: lease rows by id, then spend rows by (subject, period).
      PERFORM 1 FROM reservations WHERE id IN (
          SELECT r->>'id' FROM jsonb_array_elements(p_returns) AS r
          UNION SELECT unnest(p_renew)
          UNION SELECT x->>'id' FROM jsonb_array_elements(p_grants) AS x)
        ORDER BY id FOR UPDATE;
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(y.k, y.p), tollgate_period(y.p) FROM (
          SELECT x->>'key' AS k, jsonb_array_elements_text(x->'periods') AS p FROM jsonb_array_elements(p_grants) AS x
          UNION ALL
          SELECT r.key, unnest(r.periods) FROM reservations r
            WHERE r.id IN (SELECT e->>'id' FROM jsonb_array_elements(p_returns) AS e)) y
        ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET reserved_usd = spend.reserved_usd;

      FOR it IN SELECT e->>'id' AS id, (e->>'release')::numeric AS release, (e->>'close')::boolean AS close
        FROM jsonb_array_elements(p_returns) AS e
      LOOP
        SELECT key, amount_usd, periods INTO l FROM reservations WHERE id = it.id;
        CONTINUE WHEN NOT FOUND;
        rel := least(it.release, l.amount_usd);
        IF rel > 0 THEN
          PERFORM tollgate_charge(l.key, l.periods, 0, rel);
        END IF;
        IF it.close AND l.amount_usd - rel = 0 THEN
          DELETE FROM reservations WHERE id = it.id;
        ELSIF it.close THEN
          -- Money its owner cannot account for (a settle given up, an answer lost): charged by the next sweep.
          UPDATE reservations SET amount_usd = amount_usd - rel, lease_until = p_now - 1 WHERE id = it.id;
        ELSE
          UPDATE reservations SET amount_usd = amount_usd - rel WHERE id = it.id;
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
          INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at)
            VALUES (it.id, it.key, g, it.periods, p_until, p_now);
        ELSE
          UPDATE reservations SET amount_usd = amount_usd + g, lease_until = p_until WHERE id = it.id;
        END IF;
        UPDATE spend s SET reserved_usd = s.reserved_usd + g
          FROM (SELECT DISTINCT tollgate_subject(it.key, p) AS k, tollgate_period(p) AS per
                FROM unnest(it.periods) AS p) x
          WHERE s.key = x.k AND s.period = x.per;
        RETURN QUERY SELECT it.id, g::text, false;
      END LOOP;
    END
    $fn$;

    -- Items carry the usage record by its field names (src/store/usage-columns.ts); a migration that
    -- adds a usage column redefines this function to write it, as it does tollgate_settle_many.
    CREATE FUNCTION tollgate_settle_leased(p_items jsonb)
    RETURNS TABLE (o_key text, o_entry text, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql AS $fn$
    BEGIN
      -- Locks in the global order: leases by id, spend rows by (subject, period), rollup rows.
      PERFORM 1 FROM reservations WHERE id IN (SELECT e->>'lease' FROM jsonb_array_elements(p_items) AS e)
        ORDER BY id FOR UPDATE;
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(e->>'key', p), tollgate_period(p)
          FROM jsonb_array_elements(p_items) AS e, jsonb_array_elements_text(e->'periods') AS p ORDER BY 1, 2
        ON CONFLICT (key, period) DO UPDATE SET spent_usd = spend.spent_usd;
      PERFORM 1 FROM usage_daily d
        JOIN (SELECT DISTINCT e->>'day' AS day, e->>'key' AS key, coalesce(e->>'model', '') AS model,
                (e->>'status')::integer AS status FROM jsonb_array_elements(p_items) AS e) x
          ON d.day = x.day AND d.key = x.key AND d.model = x.model AND d.status = x.status
        ORDER BY d.day, d.key, d.model, d.status FOR UPDATE OF d;

      RETURN QUERY
      WITH items AS MATERIALIZED (
          SELECT DISTINCT ON (x.id) x.*
          FROM jsonb_to_recordset(p_items) AS x(id text, lease text, ts bigint, day text, key text, model text,
            upstream text, route text, status integer, "errorCode" text, "inputTokens" bigint,
            "outputTokens" bigint, "cachedTokens" bigint, cost numeric, release numeric,
            "latencyMs" double precision, stream boolean, "userAgent" text, ip text, "configRevision" text,
            "usageSource" text, periods text[], "cacheWriteTokens" bigint, "requestedModel" text, "keyHash" text,
            "requestFp" text, "prefixFp" text, "prefixTokens" integer, "outputLimit" integer)
          ORDER BY x.id),
        ins AS (
          INSERT INTO usage (request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens,
            output_tokens, cached_tokens, cost_usd, latency_ms, stream, user_agent, ip, config_revision,
            usage_source, cache_write_tokens, requested_model, key_hash, request_fp, prefix_fp, prefix_tokens,
            output_limit)
          SELECT id, ts, day, key, model, upstream, route, status, "errorCode", "inputTokens", "outputTokens",
            "cachedTokens", cost, "latencyMs", stream, "userAgent", ip, "configRevision", "usageSource",
            "cacheWriteTokens", "requestedModel", "keyHash", "requestFp", "prefixFp", "prefixTokens", "outputLimit"
          FROM items
          ON CONFLICT (request_id) DO NOTHING
          RETURNING request_id),
        fresh AS MATERIALIZED (SELECT i.* FROM items i JOIN ins ON ins.request_id = i.id),
        per_lease AS (SELECT lease, sum(release) AS rel FROM fresh GROUP BY lease),
        drawn AS (
          UPDATE reservations r SET amount_usd = r.amount_usd - least(p.rel, o.amount_usd)
          FROM per_lease p, reservations o
          WHERE r.id = p.lease AND o.id = p.lease AND left(r.id, 6) = 'lease:'
          RETURNING r.key, r.periods, least(p.rel, o.amount_usd) AS rel),
        moves AS (
          SELECT tollgate_subject(f.key, p) AS k, tollgate_period(p) AS per, f.cost AS spent, 0::numeric AS rel
            FROM fresh f, unnest(f.periods) AS p
          UNION ALL
          SELECT tollgate_subject(d.key, p), tollgate_period(p), 0::numeric, d.rel
            FROM drawn d, unnest(d.periods) AS p),
        per_row AS (SELECT m.k, m.per, sum(m.spent) AS spent, sum(m.rel) AS rel FROM moves m GROUP BY m.k, m.per),
        charged AS (
          UPDATE spend s SET spent_usd = s.spent_usd + x.spent, reserved_usd = greatest(s.reserved_usd - x.rel, 0)
          FROM per_row x WHERE s.key = x.k AND s.period = x.per
          RETURNING s.key, s.period, s.spent_usd, s.reserved_usd),
        rolled AS (
          INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
          SELECT f.day, f.key, coalesce(f.model, ''), f.status, count(*), sum(f."inputTokens"),
            sum(f."outputTokens"), sum(f.cost)
          FROM fresh f GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
          ON CONFLICT (day, key, model, status) DO UPDATE SET
            requests = usage_daily.requests + EXCLUDED.requests,
            input_tokens = usage_daily.input_tokens + EXCLUDED.input_tokens,
            output_tokens = usage_daily.output_tokens + EXCLUDED.output_tokens,
            cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd
          RETURNING 1)
      -- The spend after the batch, once per key and period entry (budget gauges and alerts).
      SELECT DISTINCT ON (f.key, p) f.key, p, c.spent_usd, c.reserved_usd
        FROM fresh f CROSS JOIN LATERAL unnest(f.periods) AS p
        JOIN charged c ON c.key = tollgate_subject(f.key, p) AND c.period = tollgate_period(p);
    END
    $fn$;
  `,
};
