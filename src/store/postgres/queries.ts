import { HASH_GROUP_SELECT, type HashGroupRow, toHashRows } from '../hash-usage.js';
import { MEDIA_RECORDS, mediaUnits } from '../media-units.js';
import type { AuditEntry, RollupRow, UsageQuery, UsageRow } from '../types.js';
import { guarded, inTransaction, type Pool } from './pool.js';

/** Reads for `tollgate usage`, the admin API and the digest, plus the small shared tables. */

const GROUP_COLUMNS = {
  key: 'key',
  model: "coalesce(model, '')",
  // The local day in the asked timezone (PostgreSQL has the IANA database), so the answer is the
  // same as the embedded store's for any timezone, not only the one the `day` column was written in.
  day: "to_char(to_timestamp(ts / 1000.0) AT TIME ZONE $3, 'YYYY-MM-DD')",
  status: 'status',
  hash: 'key_hash', // grouped with the key in queryUsageByHash
} as const;

/**
 * Rows ordered like the embedded store's: by day oldest first, otherwise most expensive first
 * (ties by group name). Sorted here, not in SQL, so collation cannot make the two differ.
 */
export function queryUsage(pool: Pool, q: UsageQuery, timeZone: string): Promise<UsageRow[]> {
  if (q.by === 'hash') return queryUsageByHash(pool, q);
  return guarded(async () => {
    const params: unknown[] = [q.since, q.until, timeZone];
    let where = 'ts >= $1 AND ts < $2';
    if (q.key !== undefined) {
      params.push(q.key);
      where += ' AND key = $4';
    }
    if (q.media) where += ` AND (${MEDIA_RECORDS})`;
    const { rows } = await pool.query<{
      g: string | number;
      requests: number;
      errors: number;
      input_tokens: number;
      output_tokens: number;
      cost_usd: number;
      images: number;
      audio_seconds: number;
      characters: number;
    }>(
      `SELECT ${GROUP_COLUMNS[q.by]} AS g, count(*)::int AS requests,
         count(*) FILTER (WHERE status >= 400)::int AS errors,
         coalesce(sum(input_tokens), 0)::float8 AS input_tokens,
         coalesce(sum(output_tokens), 0)::float8 AS output_tokens,
         coalesce(sum(cost_usd), 0)::float8 AS cost_usd,
         coalesce(sum(images), 0)::float8 AS images,
         coalesce(sum(audio_seconds), 0)::float8 AS audio_seconds,
         coalesce(sum(characters), 0)::float8 AS characters
       FROM usage WHERE ${where} AND $3::text IS NOT NULL GROUP BY 1`,
      params,
    );
    const out: UsageRow[] = rows.map((r) => ({
      [q.by]: q.by === 'status' ? Number(r.g) : String(r.g),
      requests: r.requests,
      errors: r.errors,
      input_tokens: r.input_tokens,
      output_tokens: r.output_tokens,
      cost_usd: r.cost_usd,
      ...mediaUnits(r),
    }));
    const name = (row: UsageRow) => String(row[q.by] ?? '');
    if (q.by === 'day') return out.sort((a, b) => name(a).localeCompare(name(b)));
    return out.sort((a, b) => b.cost_usd - a.cost_usd || name(a).localeCompare(name(b)));
  });
}

function queryUsageByHash(pool: Pool, q: UsageQuery): Promise<UsageRow[]> {
  return guarded(async () => {
    const params: unknown[] = [q.since, q.until];
    if (q.key !== undefined) params.push(q.key);
    const { rows } = await pool.query<HashGroupRow>(
      `SELECT ${HASH_GROUP_SELECT} FROM usage WHERE ts >= $1 AND ts < $2 ${q.key === undefined ? '' : 'AND key = $3'}
       GROUP BY key, key_hash`,
      params,
    );
    return toHashRows(rows);
  });
}

export function rollup(pool: Pool, fromDay: string, toDay: string): Promise<RollupRow[]> {
  return guarded(async () => {
    const { rows } = await pool.query<{
      day: string;
      key: string;
      model: string;
      status: number;
      requests: number;
      input_tokens: number;
      output_tokens: number;
      cost_usd: number;
    }>(
      `SELECT day, key, model, status, requests, input_tokens, output_tokens, cost_usd FROM usage_daily
       WHERE day >= $1 AND day <= $2 ORDER BY day, key, model, status`,
      [fromDay, toDay],
    );
    return rows.map((r) => ({
      day: r.day,
      key: r.key,
      model: r.model,
      status: r.status,
      requests: r.requests,
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      costUsd: r.cost_usd,
    }));
  });
}

export function spendBetween(
  pool: Pool,
  key: string,
  since: number,
  until: number,
): Promise<{ costUsd: number; requests: number }> {
  return guarded(async () => {
    const { rows } = await pool.query<{ cost: number; n: number }>(
      `SELECT coalesce(sum(cost_usd), 0)::float8 AS cost, count(*)::int AS n FROM usage
       WHERE key = $1 AND ts >= $2 AND ts < $3`,
      [key, since, until],
    );
    return { costUsd: rows[0]?.cost ?? 0, requests: rows[0]?.n ?? 0 };
  });
}

export function lastUsed(pool: Pool): Promise<Map<string, number>> {
  return guarded(async () => {
    const { rows } = await pool.query<{ key: string; ts: number }>(
      "SELECT key, max(ts) AS ts FROM usage WHERE key <> '' GROUP BY key",
    );
    return new Map(rows.map((r) => [r.key, r.ts]));
  });
}

export function audit(pool: Pool, e: AuditEntry): Promise<void> {
  return guarded(async () => {
    await pool.query(
      'INSERT INTO audit (at, actor, source, action, key, reason, result) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [e.at, e.actor, e.source, e.action, e.key, e.reason, e.result],
    );
  });
}

export function listAudit(pool: Pool, limit: number): Promise<AuditEntry[]> {
  return guarded(async () => {
    const { rows } = await pool.query<AuditEntry>(
      `SELECT at, actor, source, action, key, reason, result FROM audit ORDER BY at DESC, id DESC LIMIT $1`,
      [Math.max(0, Math.floor(limit))],
    );
    return rows;
  });
}

export function claimOnce(pool: Pool, scope: string, id: string, at: number): Promise<boolean> {
  return guarded(async () => {
    const res = await pool.query(
      'INSERT INTO claims (scope, id, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id',
      [scope, id, at],
    );
    return (res.rowCount ?? 0) > 0;
  });
}

export function releaseClaim(pool: Pool, scope: string, id: string): Promise<void> {
  return guarded(async () => {
    await pool.query('DELETE FROM claims WHERE scope = $1 AND id = $2', [scope, id]);
  });
}

export function pruneClaims(pool: Pool, scope: string, before: number): Promise<number> {
  return guarded(async () => {
    const res = await pool.query('DELETE FROM claims WHERE scope = $1 AND at < $2', [scope, before]);
    return res.rowCount ?? 0;
  });
}

/** A sign-out, and the sign-outs of sessions that have expired since (their cookies are refused anyway). */
export function revokeSession(pool: Pool, sid: string, expiresAt: number, now: number): Promise<void> {
  return guarded(async () => {
    await pool.query('DELETE FROM revoked_sessions WHERE expires_at <= $1', [now]);
    await pool.query(
      'INSERT INTO revoked_sessions (sid, expires_at) VALUES ($1, $2) ON CONFLICT (sid) DO NOTHING',
      [sid, expiresAt],
    );
  });
}

export function isSessionRevoked(pool: Pool, sid: string): Promise<boolean> {
  return guarded(async () => {
    const res = await pool.query('SELECT 1 FROM revoked_sessions WHERE sid = $1', [sid]);
    return (res.rowCount ?? 0) > 0;
  });
}

export function recordClient(
  pool: Pool,
  key: string,
  fingerprint: string,
  at: number,
): Promise<{ isNew: boolean; knownBefore: number }> {
  return inTransaction(pool, async (c) => {
    // Serializes first uses of one key, so two replicas cannot both call the same client new.
    await c.query("SELECT pg_advisory_xact_lock(hashtext('tollgate:client:' || $1))", [key]);
    const { rows } = await c.query<{ n: number; known: boolean }>(
      `SELECT count(*) FILTER (WHERE fingerprint <> $2)::int AS n, bool_or(fingerprint = $2) AS known
       FROM clients WHERE key = $1`,
      [key, fingerprint],
    );
    await c.query(
      `INSERT INTO clients (key, fingerprint, first_seen, last_seen) VALUES ($1, $2, $3, $3)
       ON CONFLICT (key, fingerprint) DO UPDATE SET last_seen = GREATEST(clients.last_seen, EXCLUDED.last_seen)`,
      [key, fingerprint, at],
    );
    return { isNew: !rows[0]?.known, knownBefore: rows[0]?.n ?? 0 };
  });
}
