import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { explainInto, settleColumns } from '../helpers/pg-plans.js';

const PERIODS = ['d:2026-11-26', 'm:2026-11', '@team/d:2026-11-26', '@team/m:2026-11'];

/** One leased settle item as src/store/postgres/leases/lease-sql.ts sends it. */
function item(id: string, key: string, cost: string) {
  return {
    ...settleColumns(id, key, cost, Date.UTC(2026, 10, 26, 12)),
    release: cost,
    lease: `lease:${key}`,
    periods: PERIODS,
  };
}

/**
 * The leased settle (tollgate_settle_leased, migration 24) touches a few rows per batch and finds
 * them by primary key, whatever the size of the spend and usage_daily tables (both grow with
 * every key and day): its plans, read with auto_explain, never scan either table, whether
 * sequentially or along a whole index.
 */
describe('postgres store: leased settle plans', () => {
  let db: TestDatabase;
  let c: pg.Client;
  const notices: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const store = createPostgresStore(db.url);
    await store.init();
    await store.close();
    c = new pg.Client({ connectionString: db.url });
    await c.connect();
    // A year of other keys' daily spend and usage rows.
    await c.query(`INSERT INTO spend (key, period, spent_usd)
      SELECT 'other-' || k, 'd:' || to_char(date '2025-12-01' + d, 'YYYY-MM-DD'), 1
      FROM generate_series(1, 60) k, generate_series(0, 335) d`);
    await c.query(`INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
      SELECT to_char(date '2025-12-01' + d, 'YYYY-MM-DD'), 'other-' || k, 'gpt-4o-mini', 200, 1, 1, 1, 1
      FROM generate_series(1, 60) k, generate_series(0, 335) d`);
    await c.query('ANALYZE spend, usage_daily');
    await explainInto(c, notices);
  });
  afterAll(async () => {
    await c.end();
    await db.drop();
  });

  it('reads spend and usage_daily rows by key, and charges every cost exactly', async () => {
    // Seven batches: plpgsql plans the first five for their arguments, then keeps a generic plan.
    let last: { o_key: string; o_entry: string; o_spent: string }[] = [];
    for (let b = 0; b < 7; b++) {
      const items = [item(`r-${b}-a`, 'k1', '0.000123457'), item(`r-${b}-b`, 'k2', '0.1')];
      const r = await c.query('SELECT * FROM tollgate_settle_leased($1::jsonb)', [JSON.stringify(items)]);
      last = r.rows;
    }
    const plans = notices.join('\n');
    expect(plans).toContain('Insert on usage_daily');
    // No plan reads spend or usage_daily but through their primary keys, row by row.
    expect(plans).not.toMatch(/Scan on (spend|usage_daily)\b/);
    expect(plans).not.toMatch(/Scan using spend_period\b/);
    expect(plans).toMatch(/Index Scan using usage_daily_pkey on usage_daily d .*\n\s*Index Cond: \(\(day = /);
    const spent = new Map(last.map((r) => [`${r.o_key} ${r.o_entry}`, String(r.o_spent)]));
    expect(spent.get('k1 d:2026-11-26')).toBe('0.000864199');
    expect(spent.get('k2 m:2026-11')).toBe('0.7');
    // The group's row carries both keys' costs.
    expect(spent.get('k1 @team/d:2026-11-26')).toBe('0.700864199');
  });
});
