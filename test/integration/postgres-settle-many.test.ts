import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../src/store/migrations/postgres/index.js';
import { recoverReservations } from '../../src/store/postgres/budget.js';
import { applyPostgresMigrations } from '../../src/store/postgres/migrate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { settleColumns } from '../helpers/pg-plans.js';

/**
 * tollgate_settle_many (migration 26) moves a batch's money with one write per spend, usage_daily
 * and rollup row, and leaves exactly what migration 25's one-item-at-a-time body left (a settle
 * per item, tollgate_settle_spend): the same spend, reservations, records, rollups, over reserved
 * requests, unreserved ones, retries, an id twice in a batch and a settle after the sweep.
 */

const PERIODS = ['@team/d:2026-11-26', '@team/m:2026-11', 'd:2026-11-26', 'm:2026-11'];
const NOW = Date.UTC(2026, 10, 26, 12);
const FAR = 9_999_999_999_999;

const item = (id: string, key: string, cost: string, extra: Record<string, unknown> = {}) => ({
  ...settleColumns(id, key, cost, NOW),
  periods: PERIODS,
  ...extra,
});

async function schemaAt(upto: number): Promise<{ db: TestDatabase; c: pg.Client; pool: pg.Pool }> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await applyPostgresMigrations(
    pool,
    POSTGRES_MIGRATIONS.filter((m) => m.version <= upto),
  );
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  // The teardown drops the database WITH (FORCE): a connection still closing then hears 57P01,
  // which without a listener is an unhandled error that fails the run after every test passed.
  const closing = () => {};
  pool.on('error', closing);
  c.on('error', closing);
  // Every write of an existing spend, usage_daily or rollup row, counted per table.
  await c.query(`CREATE TABLE row_writes (tbl text NOT NULL);
    CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO row_writes VALUES (TG_TABLE_NAME); RETURN NEW; END $$;
    CREATE TRIGGER w BEFORE UPDATE ON spend FOR EACH ROW EXECUTE FUNCTION count_write();
    CREATE TRIGGER w BEFORE UPDATE ON usage_daily FOR EACH ROW EXECUTE FUNCTION count_write();
    CREATE TRIGGER w BEFORE UPDATE ON usage_insight_days FOR EACH ROW EXECUTE FUNCTION count_write();`);
  return { db, c, pool };
}

const reserve = (c: pg.Client, id: string, key: string, amount: string, leaseUntil = FAR) =>
  c.query(
    'SELECT * FROM tollgate_reserve($1, $2, $3::numeric, $4::text[], $5::text[], $6::numeric[], $7, $8)',
    [id, key, amount, PERIODS, ['d:2026-11-26'], ['100'], leaseUntil, NOW],
  );

const settleMany = (c: pg.Client, items: unknown[]) =>
  c.query<{ o_n: number; o_fresh: boolean; o_entry: string | null }>(
    'SELECT * FROM tollgate_settle_many($1::jsonb)',
    [JSON.stringify(items)],
  );

async function writesOf(c: pg.Client, run: () => Promise<unknown>): Promise<Record<string, number>> {
  await c.query('TRUNCATE row_writes');
  await run();
  const { rows } = await c.query<{ tbl: string; n: number }>(
    'SELECT tbl, count(*)::int AS n FROM row_writes GROUP BY tbl',
  );
  return Object.fromEntries(rows.map((r) => [r.tbl, r.n]));
}

/** Everything a settle writes, as text. */
async function stateOf(c: pg.Client) {
  const q = async (sql: string) => (await c.query(sql)).rows;
  return {
    spend: await q('SELECT key, period, spent_usd::text, reserved_usd::text FROM spend ORDER BY 1, 2'),
    reservations: await q('SELECT id, amount_usd::text FROM reservations ORDER BY 1'),
    usage: await q(
      'SELECT request_id, cost_usd::text, status, error_code, input_tokens, images FROM usage ORDER BY 1',
    ),
    daily: await q('SELECT * FROM usage_daily ORDER BY day, key, model, status'),
    insights: await q('SELECT * FROM usage_insight_days ORDER BY key, day, model, user_agent, ip'),
  };
}

describe('postgres store: the batched settle', () => {
  let before: Awaited<ReturnType<typeof schemaAt>>;
  let after: Awaited<ReturnType<typeof schemaAt>>;

  beforeAll(async () => {
    before = await schemaAt(25);
    after = await schemaAt(Number.POSITIVE_INFINITY);
  });
  afterAll(async () => {
    for (const s of [before, after]) {
      await s.c.end();
      await s.pool.end();
      await s.db.drop();
    }
  });

  it('writes each spend, usage_daily and rollup row once per batch', async () => {
    for (const { c } of [before, after]) {
      // The rows exist already (a first batch): every later write is an update.
      await settleMany(c, [item('w-0', 'k1', '0.1'), item('w-1', 'k2', '0.1')]);
      for (let i = 0; i < 8; i++) await reserve(c, `w-r${i}`, i % 2 ? 'k2' : 'k1', '0.5');
    }
    const batch = Array.from({ length: 8 }, (_, i) => item(`w-r${i}`, i % 2 ? 'k2' : 'k1', '0.25'));
    const old = await writesOf(before.c, () => settleMany(before.c, batch));
    const now = await writesOf(after.c, () => settleMany(after.c, batch));
    // Six spend rows (two keys' day and month, the group's): locked once, charged once.
    expect(now).toEqual({ spend: 12, usage_daily: 2, usage_insight_days: 2 });
    // One item at a time: a charge of every row per item, a rollup rewrite per record.
    expect(old).toEqual({ spend: 6 + 8 * 4, usage_daily: 8, usage_insight_days: 8 });
    expect(await stateOf(after.c)).toEqual(await stateOf(before.c));
  });

  it('leaves what settling the items one by one left: retries, duplicates, settles after the sweep', async () => {
    for (const { c, pool } of [before, after]) {
      await reserve(c, 'm-1', 'k3', '0.3');
      await reserve(c, 'm-2', 'k4', '0.2');
      await reserve(c, 'm-3', 'k3', '0.1');
      // Settled before (its batch is a retry); and swept (its reservation expired).
      await settleMany(c, [item('m-4', 'k4', '0.05'), item('m-x', 'k3', '0.01')]);
      await reserve(c, 'm-5', 'k3', '0.4', NOW - 1);
      await recoverReservations(pool, NOW, false);
    }
    const batch = [
      item('m-1', 'k3', '0.123456789', { images: 2 }),
      item('m-2', 'k4', '0.3'),
      item('m-4', 'k4', '0.05'),
      item('m-5', 'k3', '0.07'),
      item('m-6', 'k4', '0.01'),
      item('m-1', 'k3', '0.123456789', { images: 2 }),
      item('m-3', 'k3', '0', { status: 499, errorCode: 'client_closed' }),
    ];
    const answers = async (c: pg.Client) => {
      const rows = (await settleMany(c, batch)).rows;
      return batch.map((_, i) =>
        rows
          .filter((r) => r.o_n === i + 1)
          .map((r) => `${r.o_fresh} ${r.o_entry}`)
          .sort(),
      );
    };
    const old = await answers(before.c);
    expect(await answers(after.c)).toEqual(old);
    // The retry and the second m-1 charge nothing; the swept m-5 charges its own cost.
    expect(old[2]).toEqual(['false null']);
    expect(old[5]).toEqual(['false null']);
    const state = await stateOf(after.c);
    expect(state).toEqual(await stateOf(before.c));
    expect(state.reservations).toEqual([]);
    expect(state.usage.find((u) => u.request_id === 'm-5')).toMatchObject({ cost_usd: '0.07', status: 200 });
    // k3's day: m-x 0.01, m-1 0.123456789, m-5 0.07, m-3 0.
    const day = state.spend.find((s) => s.key === 'k3' && s.period === 'd:2026-11-26');
    expect([day?.spent_usd, Number(day?.reserved_usd)]).toEqual(['0.203456789', 0]);
  });
});
