import type { Migration } from '../migration.js';

/**
 * Migration 14: budget lease returns that a failed round cannot lose, and settles that land
 * after their lease was swept (docs/postgres.md#budget-leases).
 *
 * - `reservations.released_usd` and `granted_usd`: the running totals its owner released and was
 *   granted. A return carries the owner's released total and the round applies only the
 *   difference, so a round that failed, or whose answer was lost, is simply asked again (the
 *   owner keeps the lease draining until a round confirms it). It also carries the total the
 *   owner knows it was granted: a grant beyond it (its answer was lost) was never used, and is
 *   released with it.
 * - `lease_charges`: what the sweep (recoverReservations) charged for each lease row that expired,
 *   less what came back since. A lease expires while its owner is alive when the owner cannot
 *   reach the database for longer than the lease's life (30 s), and a settle may land long after
 *   its lease expired (the usage writer retries for as long as it has room). The owner's returns
 *   (its free part, proven unspent) and its late settles draw on that charge instead of on the
 *   lease: spend, the recovered usage record and its daily rollup give the drawn part back, so a
 *   cost is charged once and a free lease whose return was attempted is not charged as spend.
 *   The rows stay (one per swept lease, rare): a settle any later still finds its charge.
 */
export const MIGRATION_14: Migration = {
  version: 14,
  name: 'budget leases: idempotent returns, late settles',
  sql: `
    ALTER TABLE reservations ADD COLUMN released_usd numeric NOT NULL DEFAULT 0;
    ALTER TABLE reservations ADD COLUMN granted_usd numeric NOT NULL DEFAULT 0;

    CREATE TABLE lease_charges (
      id text PRIMARY KEY,
      key text NOT NULL,
      periods text[] NOT NULL,
      -- What the sweep charged for the lease, less what its returns and late settles drew back.
      charged_usd numeric NOT NULL,
      -- The owner's running totals released and granted, as on the lease row at the sweep.
      released_usd numeric NOT NULL,
      granted_usd numeric NOT NULL,
      swept_at bigint NOT NULL
    );

    -- Gives back p_amount of what the sweep charged for lease p_id: out of spend, out of the
    -- recovered usage record (request_id = the lease id) and out of that record's daily rollup.
    CREATE FUNCTION tollgate_uncharge_lease(p_id text, p_key text, p_periods text[], p_amount numeric)
    RETURNS void LANGUAGE plpgsql AS $fn$
    DECLARE
      u record;
    BEGIN
      PERFORM tollgate_charge(p_key, p_periods, -p_amount, 0);
      UPDATE usage SET cost_usd = cost_usd - p_amount WHERE request_id = p_id
        RETURNING day, key, model, status INTO u;
      IF FOUND THEN
        UPDATE usage_daily SET cost_usd = cost_usd - p_amount
          WHERE day = u.day AND key = u.key AND model = coalesce(u.model, '') AND status = u.status;
      END IF;
    END
    $fn$;

    CREATE OR REPLACE FUNCTION tollgate_lease_round(p_returns jsonb, p_renew text[], p_grants jsonb, p_now bigint,
      p_until bigint)
    RETURNS TABLE (o_id text, o_granted text, o_gone boolean)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      it record;
      l record;
      rel numeric;
      extra numeric;
      room numeric;
      g numeric;
    BEGIN
      -- Locks in the global order: lease rows by id, swept leases' charges by id, then spend rows.
      PERFORM 1 FROM reservations WHERE id IN (
          SELECT r->>'id' FROM jsonb_array_elements(p_returns) AS r
          UNION SELECT unnest(p_renew)
          UNION SELECT x->>'id' FROM jsonb_array_elements(p_grants) AS x)
        ORDER BY id FOR UPDATE;
      PERFORM 1 FROM lease_charges WHERE id IN (SELECT r->>'id' FROM jsonb_array_elements(p_returns) AS r)
        ORDER BY id FOR UPDATE;
      INSERT INTO spend (key, period)
        SELECT DISTINCT tollgate_subject(y.k, y.p), tollgate_period(y.p) FROM (
          SELECT x->>'key' AS k, jsonb_array_elements_text(x->'periods') AS p FROM jsonb_array_elements(p_grants) AS x
          UNION ALL
          SELECT r.key, unnest(r.periods) FROM reservations r
            WHERE r.id IN (SELECT e->>'id' FROM jsonb_array_elements(p_returns) AS e)
          UNION ALL
          SELECT t.key, unnest(t.periods) FROM lease_charges t
            WHERE t.id IN (SELECT e->>'id' FROM jsonb_array_elements(p_returns) AS e)) y
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

    CREATE OR REPLACE FUNCTION tollgate_settle_leased(p_items jsonb)
    RETURNS TABLE (o_key text, o_entry text, o_spent numeric, o_reserved numeric)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      it record;
    BEGIN
      -- Locks in the global order: leases by id, spend rows by (subject, period), rollup rows.
      PERFORM 1 FROM reservations WHERE id IN (SELECT e->>'lease' FROM jsonb_array_elements(p_items) AS e)
        ORDER BY id FOR UPDATE;
      -- The charges of swept leases: a late settle's cost draws on them (below), one at a time.
      PERFORM 1 FROM lease_charges WHERE id IN (SELECT e->>'lease' FROM jsonb_array_elements(p_items) AS e)
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

      -- A settle whose lease was swept: the sweep charged its cost with the rest of the lease. That
      -- part of the charge is taken back (spend, the recovered record and its rollup) before the
      -- insert below charges the cost itself, so the cost counts once. Fresh only: a settle whose
      -- record is in (a retry) took nothing back, and the charge's row lock orders concurrent ones.
      FOR it IN SELECT t.id, t.key, t.periods, least(t.charged_usd, sum(x.release)) AS rel
          FROM (SELECT DISTINCT ON (e->>'id') e->>'id' AS id, e->>'lease' AS lease, (e->>'release')::numeric AS release
                FROM jsonb_array_elements(p_items) AS e) x
          JOIN lease_charges t ON t.id = x.lease
          WHERE NOT EXISTS (SELECT 1 FROM usage u WHERE u.request_id = x.id)
          GROUP BY t.id ORDER BY t.id
      LOOP
        CONTINUE WHEN it.rel <= 0;
        UPDATE lease_charges SET charged_usd = charged_usd - it.rel WHERE id = it.id;
        PERFORM tollgate_uncharge_lease(it.id, it.key, it.periods, it.rel);
      END LOOP;

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
