import { recoveredUsage } from '../recovered-usage.js';
import type { PeriodSpend, ReserveRequest, ReserveResult, UsageRecord } from '../types.js';
import { guarded, inTransaction, type Pool, type Queryable } from './pool.js';

/**
 * Hard budgets across replicas. Every reservation locks the key's spend rows in a fixed order
 * (period name) inside one transaction, so concurrent replicas serialize per key and can never
 * together push spent + reserved past a limit.
 */

interface ReservationRow {
  id: string;
  key: string;
  amount_usd: number;
  periods: string[];
  created_at: number;
}

const uniqueSorted = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

export async function reserve(pool: Pool, r: ReserveRequest, now: number): Promise<ReserveResult> {
  const periods = uniqueSorted([...r.periods, ...r.windows.map((w) => w.period)]);
  return inTransaction(pool, async (c) => {
    // Create missing rows first, so FOR UPDATE below has a row to lock for every window.
    await c.query(
      `INSERT INTO spend (key, period) SELECT $1, p FROM unnest($2::text[]) AS p ORDER BY p
       ON CONFLICT DO NOTHING`,
      [r.key, periods],
    );
    const { rows } = await c.query<{ period: string; spent_usd: number; reserved_usd: number }>(
      `SELECT period, spent_usd, reserved_usd FROM spend
       WHERE key = $1 AND period = ANY($2::text[]) ORDER BY period FOR UPDATE`,
      [r.key, periods],
    );
    const byPeriod = new Map(rows.map((row) => [row.period, row]));
    // The comparison is done by the database in numeric, so it is exact.
    const { rows: over } = await c.query<{ period: string; limit_usd: number }>(
      `SELECT w.period, w.limit_usd FROM unnest($2::text[], $3::numeric[]) AS w(period, limit_usd)
       JOIN spend s ON s.key = $1 AND s.period = w.period
       WHERE s.spent_usd + s.reserved_usd + $4::numeric > w.limit_usd
       ORDER BY w.period LIMIT 1`,
      [r.key, r.windows.map((w) => w.period), r.windows.map((w) => String(w.limitUsd)), String(r.amountUsd)],
    );
    const refused = over[0];
    if (refused) {
      const row = byPeriod.get(refused.period);
      return {
        ok: false,
        period: refused.period,
        limitUsd: refused.limit_usd,
        spentUsd: row?.spent_usd ?? 0,
        reservedUsd: row?.reserved_usd ?? 0,
      };
    }
    const inserted = await c.query(
      `INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at)
       VALUES ($1, $2, $3::numeric, $4::text[], $5, $6) ON CONFLICT (id) DO NOTHING`,
      [r.id, r.key, String(r.amountUsd), periods, r.leaseUntil, now],
    );
    // The same id reserved twice holds one reservation, not two.
    if (inserted.rowCount === 0) return { ok: true };
    await c.query(
      `UPDATE spend SET reserved_usd = reserved_usd + $3::numeric
       WHERE key = $1 AND period = ANY($2::text[])`,
      [r.key, periods, String(r.amountUsd)],
    );
    return { ok: true };
  });
}

/** Adds `costUsd` to spent and releases `releaseUsd` of reserved, creating missing rows. */
async function charge(c: Queryable, key: string, periods: string[], costUsd: number, releaseUsd: number) {
  if (periods.length === 0) return;
  await c.query(
    `INSERT INTO spend (key, period, spent_usd, reserved_usd)
     SELECT $1, p, $3::numeric, 0 FROM unnest($2::text[]) AS p ORDER BY p
     ON CONFLICT (key, period) DO UPDATE SET
       spent_usd = spend.spent_usd + EXCLUDED.spent_usd,
       reserved_usd = GREATEST(spend.reserved_usd - $4::numeric, 0)`,
    [key, uniqueSorted(periods), String(costUsd), String(releaseUsd)],
  );
}

async function insertUsage(c: Queryable, u: UsageRecord): Promise<boolean> {
  const res = await c.query(
    `INSERT INTO usage (request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens,
       output_tokens, cached_tokens, cost_usd, latency_ms, stream, user_agent, ip, config_revision, usage_source)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::numeric, $14, $15, $16, $17, $18, $19)
     ON CONFLICT (request_id) DO NOTHING`,
    [
      u.requestId,
      u.ts,
      u.day,
      u.key,
      u.model,
      u.upstream,
      u.route,
      u.status,
      u.errorCode,
      u.inputTokens,
      u.outputTokens,
      u.cachedTokens,
      String(u.costUsd),
      u.latencyMs,
      u.stream,
      u.userAgent,
      u.ip,
      u.configRevision,
      u.usageSource,
    ],
  );
  if (res.rowCount === 0) return false;
  await c.query(
    `INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
     VALUES ($1, $2, $3, $4, 1, $5, $6, $7::numeric)
     ON CONFLICT (day, key, model, status) DO UPDATE SET
       requests = usage_daily.requests + 1,
       input_tokens = usage_daily.input_tokens + EXCLUDED.input_tokens,
       output_tokens = usage_daily.output_tokens + EXCLUDED.output_tokens,
       cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd`,
    [u.day, u.key, u.model ?? '', u.status, u.inputTokens, u.outputTokens, String(u.costUsd)],
  );
  return true;
}

export async function settle(pool: Pool, usage: UsageRecord, periods: string[]): Promise<void> {
  await inTransaction(pool, async (c) => {
    // The reservation row is locked first, by settle and recovery alike, so the two never
    // deadlock and never both charge the same request.
    const { rows } = await c.query<ReservationRow>(
      'DELETE FROM reservations WHERE id = $1 RETURNING id, key, amount_usd, periods, created_at',
      [usage.requestId],
    );
    const reservation = rows[0];
    const fresh = await insertUsage(c, usage);
    if (reservation) {
      // Already settled (or recovered): only give back what this stray reservation held.
      await charge(
        c,
        reservation.key,
        reservation.periods,
        fresh ? usage.costUsd : 0,
        reservation.amount_usd,
      );
    } else if (fresh) {
      await charge(c, usage.key, periods, usage.costUsd, 0);
    }
  });
}

export async function recoverReservations(pool: Pool, now: number, all: boolean): Promise<number> {
  let total = 0;
  // Batches keep each transaction short; SKIP LOCKED lets several replicas sweep side by side
  // without waiting on (or double-charging) each other's rows.
  for (;;) {
    const n = await inTransaction(pool, async (c) => {
      const { rows } = await c.query<ReservationRow>(
        `DELETE FROM reservations WHERE id IN (
           SELECT id FROM reservations WHERE $2::boolean OR lease_until < $1
           ORDER BY id LIMIT 200 FOR UPDATE SKIP LOCKED)
         RETURNING id, key, amount_usd, periods, created_at`,
        [now, all],
      );
      // Key order, so two sweeps (or a sweep and a reserve) lock spend rows in the same order.
      rows.sort((a, b) => (a.key === b.key ? (a.id < b.id ? -1 : 1) : a.key < b.key ? -1 : 1));
      for (const r of rows) {
        const fresh = await insertUsage(
          c,
          recoveredUsage(
            { id: r.id, key: r.key, amountUsd: r.amount_usd, periods: r.periods, createdAt: r.created_at },
            now,
          ),
        );
        // Money is never under-counted: an abandoned request costs what was reserved for it.
        await charge(c, r.key, r.periods, fresh ? r.amount_usd : 0, r.amount_usd);
      }
      return rows.length;
    });
    total += n;
    if (n < 200) return total;
  }
}

export function getSpend(pool: Pool, key: string, periods: string[]): Promise<Record<string, PeriodSpend>> {
  return guarded(async () => {
    const out: Record<string, PeriodSpend> = {};
    for (const p of periods) out[p] = { spentUsd: 0, reservedUsd: 0 };
    const { rows } = await pool.query<{ period: string; spent_usd: number; reserved_usd: number }>(
      'SELECT period, spent_usd, reserved_usd FROM spend WHERE key = $1 AND period = ANY($2::text[])',
      [key, periods],
    );
    for (const r of rows) out[r.period] = { spentUsd: r.spent_usd, reservedUsd: r.reserved_usd };
    return out;
  });
}

export function getAllSpend(pool: Pool, periods: string[]): Promise<Map<string, Record<string, number>>> {
  return guarded(async () => {
    const { rows } = await pool.query<{ key: string; period: string; spent_usd: number }>(
      'SELECT key, period, spent_usd FROM spend WHERE period = ANY($1::text[]) ORDER BY key',
      [periods],
    );
    const out = new Map<string, Record<string, number>>();
    for (const r of rows) {
      const rec = out.get(r.key) ?? {};
      rec[r.period] = r.spent_usd;
      out.set(r.key, rec);
    }
    return out;
  });
}
