import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../src/store/migrations/postgres/index.js';
import { applyPostgresMigrations } from '../../src/store/postgres/migrate.js';
import type { UsageRecord } from '../../src/store/types.js';
import { USAGE_COLUMN_NAMES, usageColumnValues } from '../../src/store/usage-columns.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

/**
 * A migration that builds an index on the usage table (migration 22) does not hold back the
 * writes of running replicas: it builds CONCURRENTLY, outside a transaction (docs/operations.md).
 */
const record = (id: string): UsageRecord => ({
  requestId: id,
  ts: Date.UTC(2026, 11, 1),
  day: '2026-12-01',
  key: 'k',
  model: 'm',
  upstream: 'openai',
  route: '/v1/images/generations',
  status: 200,
  errorCode: null,
  inputTokens: 0,
  outputTokens: 0,
  cachedTokens: 0,
  costUsd: 0.04,
  latencyMs: 1,
  stream: false,
  userAgent: null,
  ip: null,
  configRevision: 'r',
  usageSource: 'provider',
  images: 1,
});

/** Migration 22 and those before it: the count applied is then 22's alone. */
const upTo22 = POSTGRES_MIGRATIONS.filter((m) => m.version <= 22);

const insert = (c: pg.Client, r: UsageRecord) =>
  c.query(
    `INSERT INTO usage (${USAGE_COLUMN_NAMES.join(', ')}) VALUES (${USAGE_COLUMN_NAMES.map((_, i) => `$${i + 1}`).join(', ')})`,
    usageColumnValues(r, (col, v) => (col === 'cost_usd' ? String(v) : v)),
  );

describe.skipIf(process.env.TOLLGATE_TEST_SKIP_PG === '1')('postgres migrations on a running fleet', () => {
  let db: TestDatabase;
  const clients: pg.Client[] = [];
  const client = async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    clients.push(c);
    return c;
  };
  beforeEach(async () => {
    db = await createTestDatabase('tollgate_migrate');
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.end().catch(() => {});
    await db.drop();
  });

  it('builds the media index while other replicas keep writing usage records', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await applyPostgresMigrations(
        pool,
        POSTGRES_MIGRATIONS.filter((m) => m.version < 22),
      );
      // A replica in the middle of a settle: its insert is not committed yet.
      const settling = await client();
      await settling.query('BEGIN');
      await insert(settling, record('open'));
      const migrating = applyPostgresMigrations(pool, upTo22);
      // Another replica's settle goes through while the index is being built (a plain CREATE
      // INDEX would queue it behind its lock, which waits for the open insert: a timeout here).
      const other = await client();
      await other.query('SET statement_timeout = 3000');
      await new Promise((r) => setTimeout(r, 300));
      await insert(other, record('meanwhile'));
      await settling.query('COMMIT');
      expect(await migrating).toBe(1);
      const check = await client();
      const { rows } = await check.query<{ valid: boolean }>(
        "SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'usage_media_ts'",
      );
      expect(rows).toEqual([{ valid: true }]);
      const applied = await check.query('SELECT version FROM schema_migrations WHERE version = 22');
      expect(applied.rowCount).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('builds again an index that a stopped run left invalid', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await applyPostgresMigrations(
        pool,
        POSTGRES_MIGRATIONS.filter((m) => m.version < 22),
      );
      const c = await client();
      await insert(c, record('a'));
      await insert(c, record('b'));
      // What a concurrent build that failed half way leaves: an index marked invalid.
      await c.query('CREATE INDEX usage_media_ts ON usage (ts)');
      await c.query("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'usage_media_ts'::regclass");
      expect(await applyPostgresMigrations(pool, upTo22)).toBe(1);
      const { rows } = await c.query<{ valid: boolean; def: string }>(
        "SELECT i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i WHERE i.indexrelid = 'usage_media_ts'::regclass",
      );
      expect(rows[0]?.valid).toBe(true);
      expect(rows[0]?.def).toMatch(/WHERE/);
    } finally {
      await pool.end();
    }
  });
});
