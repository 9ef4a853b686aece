import type { Migration } from '../migrations/migration.js';
import { POSTGRES_MIGRATIONS } from '../migrations/postgres/index.js';
import type { Pool, Queryable } from './pool.js';

/** Arbitrary constant: the session advisory lock every replica takes while migrating. */
const MIGRATION_LOCK = 7_246_813_001;

/**
 * Waits for the migration lock by asking again every 100 ms, not with pg_advisory_lock: a
 * replica blocked inside that statement is a running transaction, and a CREATE INDEX
 * CONCURRENTLY of the replica that holds the lock waits for every running transaction to end,
 * which would never happen (both would wait for ever).
 */
async function takeMigrationLock(client: Queryable): Promise<void> {
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
      MIGRATION_LOCK,
    ]);
    if (rows[0]?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`. Replicas starting together
 * queue on one advisory lock, so exactly one applies each version and the others find it done.
 * Each migration runs in its own transaction with its bookkeeping row.
 */
export async function applyPostgresMigrations(
  pool: Pool,
  migrations: readonly Migration[] = POSTGRES_MIGRATIONS,
): Promise<number> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client has no pool error listener; see inTransaction.
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await takeMigrationLock(client);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((r) => r.version));
      let count = 0;
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        await applyOne(client, m);
        count++;
      }
      return count;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } catch (err) {
    broken = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    // A session lock dies with its connection, so a connection we are unsure of is destroyed.
    client.off('error', onError);
    client.release(broken);
  }
}

/** One migration: `sql` and its bookkeeping row in one transaction, then its outside statements. */
async function applyOne(client: Queryable, m: Migration): Promise<void> {
  const failed = (err: unknown) =>
    new Error(`postgres migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, {
      cause: err,
    });
  const record = 'INSERT INTO schema_migrations (version, name) VALUES ($1, $2)';
  const outside = m.outsideTransaction ?? [];
  await client.query('BEGIN');
  try {
    await client.query(m.sql);
    if (outside.length === 0) await client.query(record, [m.version, m.name]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw failed(err);
  }
  if (outside.length === 0) return;
  try {
    for (const statement of outside) await client.query(statement);
    await client.query(record, [m.version, m.name]);
  } catch (err) {
    throw failed(err);
  }
}
