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
 * The leased settle (tollgate_settle_leased, migrations 24 and 26) touches a few rows per batch and finds
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
    // Its spend and usage_daily rows are locked by the upserts that write them (migration 28), a
    // primary-key probe each.
    expect(plans).toMatch(/Insert on spend s\b.*\n(.*\n){0,3}\s*Conflict Arbiter Indexes: spend_pkey/);
    expect(plans).toMatch(
      /Insert on usage_daily\b.*\n(.*\n){0,3}\s*Conflict Arbiter Indexes: usage_daily_pkey/,
    );
    const spent = new Map(last.map((r) => [`${r.o_key} ${r.o_entry}`, String(r.o_spent)]));
    expect(spent.get('k1 d:2026-11-26')).toBe('0.000864199');
    expect(spent.get('k2 m:2026-11')).toBe('0.7');
    // The group's row carries both keys' costs.
    expect(spent.get('k1 @team/d:2026-11-26')).toBe('0.700864199');
  });

  it("locks a swept lease batch's spend and usage_daily rows by key before giving the charge back", async () => {
    // The sweep charged 1 for lease:k3 (its spend rows carry it) and recorded it; late settles of
    // the lease draw their costs from that charge instead of charging them again.
    await c.query(
      `INSERT INTO lease_charges (id, key, periods, charged_usd, released_usd, granted_usd, swept_at)
      VALUES ('lease:k3', 'k3', $1, 1, 0, 1, 0)`,
      [PERIODS],
    );
    await c.query(
      `INSERT INTO spend (key, period, spent_usd) VALUES ('k3', 'd:2026-11-26', 1), ('k3', 'm:2026-11', 1)`,
    );
    notices.length = 0;
    for (let b = 0; b < 7; b++) {
      await c.query('SELECT * FROM tollgate_settle_leased($1::jsonb)', [
        JSON.stringify([item(`r-${b}-c`, 'k3', '0.01')]),
      ]);
    }
    const plans = notices.join('\n');
    expect(plans).toContain('tollgate_uncharge_lease');
    expect(plans).not.toMatch(/Scan on (spend|usage_daily)\b/);
    expect(plans).not.toMatch(/Scan using spend_period\b/);
    expect(plans).toMatch(/Index Scan using usage_daily_pkey on usage_daily d .*\n\s*Index Cond: \(\(day = /);
    const { rows } = await c.query<{ spent_usd: string; charged_usd: string }>(
      `SELECT s.spent_usd, t.charged_usd FROM spend s, lease_charges t
        WHERE s.key = 'k3' AND s.period = 'd:2026-11-26' AND t.id = 'lease:k3'`,
    );
    // Seven costs of 0.01 drawn from the charge, not charged on top of it.
    expect(rows[0]).toEqual({ spent_usd: '1.00', charged_usd: '0.93' });
  });

  it('writes each spend row once per batch, and creates a missing one with nothing reserved', async () => {
    // Lease lease:k4 holds 1 in each of its periods; its weekly spend row is missing.
    const periods = [...PERIODS, 'w:2026-11-23'];
    await c.query(
      `INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at)
        VALUES ('lease:k4', 'k4', 1, $1, 8640000000000000, 0)`,
      [periods],
    );
    await c.query(
      `INSERT INTO spend (key, period, reserved_usd) VALUES ('k4', 'd:2026-11-26', 1), ('k4', 'm:2026-11', 1)`,
    );
    const items = [
      { ...item('r-k4-a', 'k4', '0.1'), periods },
      { ...item('r-k4-b', 'k4', '0.2'), periods },
    ];
    // The row writes of the transaction, as counted so far (PostgreSQL 15 adds those of earlier
    // transactions not yet reported, hence a difference; nothing is reported inside a transaction).
    const writes = async () => {
      const { rows } = await c.query<{ upd: number; ins: number }>(
        `SELECT n_tup_upd::integer AS upd, n_tup_ins::integer AS ins FROM pg_stat_xact_user_tables
          WHERE relname = 'spend'`,
      );
      return rows[0] ?? { upd: 0, ins: 0 };
    };
    await c.query('BEGIN');
    const before = await writes();
    await c.query('SELECT * FROM tollgate_settle_leased($1::jsonb)', [JSON.stringify(items)]);
    const after = await writes();
    await c.query('COMMIT');
    // k4's day and month rows and the group's two, updated once each (not first rewritten
    // unchanged to lock them); the weekly row inserted.
    expect({ upd: after.upd - before.upd, ins: after.ins - before.ins }).toEqual({ upd: 4, ins: 1 });
    const { rows } = await c.query<{ period: string; spent_usd: string; reserved_usd: string }>(
      `SELECT period, spent_usd, reserved_usd FROM spend WHERE key = 'k4' ORDER BY period`,
    );
    expect(rows).toEqual([
      { period: 'd:2026-11-26', spent_usd: '0.3', reserved_usd: '0.7' },
      { period: 'm:2026-11', spent_usd: '0.3', reserved_usd: '0.7' },
      { period: 'w:2026-11-23', spent_usd: '0.3', reserved_usd: '0' },
    ]);
    const { rows: lease } = await c.query(`SELECT amount_usd FROM reservations WHERE id = 'lease:k4'`);
    expect(lease[0]).toEqual({ amount_usd: '0.7' });
  });
});
