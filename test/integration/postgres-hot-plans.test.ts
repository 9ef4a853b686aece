import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { explainInto, settleColumns } from '../helpers/pg-plans.js';

const PERIODS = ['d:2026-11-26', 'm:2026-11', '@team/d:2026-11-26', '@team/m:2026-11'];
const NOW = Date.UTC(2026, 10, 26, 12);
const FAR = 9_999_999_999_999;

/** One tollgate_settle_many item as src/store/postgres/budget-batch.ts sends it. */
function item(id: string, key: string, cost: string) {
  return { ...settleColumns(id, key, cost, NOW), periods: PERIODS };
}

/** One tollgate_reserve_many item as src/store/postgres/budget-batch.ts sends it. */
function reservation(id: string, key: string) {
  const windows = ['d:2026-11-26', '@team/m:2026-11'];
  return {
    id,
    key,
    amount: '0.01',
    periods: PERIODS,
    windows,
    limits: ['100', '1000'],
    lease: FAR,
    now: NOW,
  };
}

/** Every table that grows with history or load: none may be read whole by a per-request call. */
const GROWING =
  'spend|usage_daily|usage|usage_insight_days|reservations|lease_charges|inflight|rate_events|token_events|rate_counts';
const SCANS = new RegExp(`Seq Scan on (${GROWING})\\b|Scan using spend_period\\b`, 'g');

/**
 * The per-request functions other than the leased settle (postgres-settle-plans.test.ts): the
 * batched and single settles and reserves (keys without leased budget), the slot and rate checks
 * and the budget, rate and slot lease rounds. On a database with a year of other keys' history and
 * thousands of other keys' reservations, slots and rate events, their plans (auto_explain, seven
 * calls each: plpgsql plans the first five for their arguments, then may keep a generic plan)
 * read those tables only by key, never sequentially.
 */
describe('postgres store: plans of the per-request functions at history', () => {
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
    const days = `generate_series(1, 60) k, generate_series(0, 335) d`;
    const day = `to_char(date '2025-11-26' + d, 'YYYY-MM-DD')`;
    await c.query(
      `INSERT INTO spend (key, period, spent_usd) SELECT 'other-' || k, 'd:' || ${day}, 1 FROM ${days}`,
    );
    await c.query(`INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
      SELECT ${day}, 'other-' || k, 'gpt-4o-mini', 200, 1, 1, 1, 1 FROM ${days}`);
    // Records, and through the rollup trigger as many usage_insight_days rows.
    await c.query(`INSERT INTO usage (request_id, ts, day, key, model, upstream, route, status, input_tokens,
        output_tokens, cached_tokens, cost_usd, latency_ms, stream, config_revision, usage_source)
      SELECT 'old-' || k || '-' || d, (extract(epoch FROM date '2025-11-26' + d) * 1000)::bigint, ${day},
        'other-' || k, 'gpt-4o-mini', 'openai', '/v1/chat/completions', 200, 1, 1, 0, 1, 1, false, 'r', 'provider'
      FROM ${days}`);
    const others = `generate_series(1, 5000) n`;
    await c.query(`INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at)
      SELECT 'live-' || n, 'other-' || (n % 60), 0.01, ARRAY['d:2026-11-26'], ${FAR}, 0 FROM ${others}`);
    await c.query(
      `INSERT INTO inflight (key, id, lease_until) SELECT 'other-' || (n % 60), 'f-' || n, ${FAR} FROM ${others}`,
    );
    await c.query(
      `INSERT INTO rate_events (key, ts, id) SELECT 'other-' || (n % 60), ${NOW}, 'e-' || n FROM ${others}`,
    );
    await c.query(`INSERT INTO token_events (key, id, ts, tokens)
      SELECT 'other-' || (n % 60), 'e-' || n, ${NOW}, 10 FROM ${others}`);
    // A charge per swept lease (kept 8 days), and a counter row per subject ever limited (never deleted).
    await c.query(`INSERT INTO lease_charges (id, key, periods, charged_usd, released_usd, granted_usd, swept_at)
      SELECT 'lease:old-' || n, 'other-1', ARRAY['d:2026-11-26'], 1, 0, 1, 0 FROM ${others}`);
    await c.query(`INSERT INTO rate_counts (key) SELECT 'many-' || n FROM generate_series(1, 20000) n`);
    await c.query('ANALYZE');
    await explainInto(c, notices);
  });
  afterAll(async () => {
    await c.end();
    await db.drop();
  });

  /** The plans of seven calls of `call(b)`. */
  async function plansOf(call: (b: number) => Promise<unknown>): Promise<string> {
    notices.length = 0;
    for (let b = 0; b < 7; b++) await call(b);
    return notices.join('\n');
  }

  it('tollgate_reserve_many and tollgate_settle_many: usage_daily locked by key, every cost charged exactly', async () => {
    const reserved = await plansOf((b) =>
      c.query('SELECT * FROM tollgate_reserve_many($1::jsonb)', [
        JSON.stringify([reservation(`m-${b}-a`, 'k1'), reservation(`m-${b}-b`, 'k2')]),
      ]),
    );
    expect(reserved).toContain('Index Scan using spend_pkey');
    expect(reserved.match(SCANS)).toBeNull();
    let last: { o_n: number; o_entry: string; o_spent: string; o_reserved: string }[] = [];
    const settled = await plansOf(async (b) => {
      // Two reserved requests and one that was not (its settle charges without a reservation).
      const items = [
        item(`m-${b}-a`, 'k1', '0.000123457'),
        item(`m-${b}-b`, 'k2', '0.1'),
        item(`n-${b}`, 'k3', '0.2'),
      ];
      last = (await c.query('SELECT * FROM tollgate_settle_many($1::jsonb)', [JSON.stringify(items)])).rows;
    });
    expect(settled).toContain('Insert on usage_daily');
    expect(settled.match(SCANS)).toBeNull();
    expect(settled).toMatch(
      /Index Scan using usage_daily_pkey on usage_daily d .*\n\s*Index Cond: \(\(day = /,
    );
    // Spent (exact decimal text) and whether nothing is left reserved.
    const spent = new Map(
      last.map((r) => [`${r.o_n} ${r.o_entry}`, [String(r.o_spent), Number(r.o_reserved) === 0]]),
    );
    expect(spent.get('1 d:2026-11-26')).toEqual(['0.000864199', true]);
    expect(spent.get('2 m:2026-11')).toEqual(['0.7', true]);
    expect(spent.get('3 m:2026-11')).toEqual(['1.4', true]);
    // The group's row carries the three keys' costs; the reservations are all released.
    expect(spent.get('3 @team/m:2026-11')).toEqual(['2.100864199', true]);
  });

  it('tollgate_reserve and tollgate_settle_spend (one request at a time) read by key', async () => {
    const plans = await plansOf(async (b) => {
      await c.query(
        'SELECT * FROM tollgate_reserve($1, $2, $3::numeric, $4::text[], $5::text[], $6::numeric[], $7, $8)',
        [`s-${b}`, 'k4', '0.01', PERIODS, ['d:2026-11-26', '@team/m:2026-11'], ['100', '1000'], FAR, NOW],
      );
      await c.query(
        `SELECT * FROM tollgate_settle_spend($1, $2, '2026-11-26', 'k4', 'gpt-4o-mini', 'openai', '/v1', 200, NULL,
          1200, 300, 0, $3::numeric, 1, false, 't', '127.0.0.1', 'r', 'provider', $4::text[], 0, NULL, NULL, NULL,
          NULL, 0, NULL, NULL, NULL, NULL)`,
        [`s-${b}`, NOW, '0.000000001', PERIODS],
      );
    });
    expect(plans).toContain('Insert on usage_daily');
    expect(plans.match(SCANS)).toBeNull();
    const { rows } = await c.query(
      "SELECT spent_usd::text, reserved_usd = 0 AS released FROM spend WHERE key = 'k4'",
    );
    expect(rows).toEqual([
      { spent_usd: '0.000000007', released: true },
      { spent_usd: '0.000000007', released: true },
    ]);
  });

  it('slots and rate limits: tollgate_acquire_many, _slots, release_slots, rate_round and slot_round read by key', async () => {
    const plans = await plansOf(async (b) => {
      const slot = (id: string, subjects: string[]) => ({
        id,
        subjects,
        rpm: subjects.map(() => 1000),
        maxParallel: subjects.map(() => 100),
        tpm: subjects.map(() => 1_000_000),
        tokens: 100,
        now: NOW,
        lease: FAR,
      });
      await c.query('SELECT * FROM tollgate_acquire_many($1::jsonb)', [
        JSON.stringify([slot(`a-${b}`, ['k1', '@team']), slot(`b-${b}`, ['k2'])]),
      ]);
      await c.query(
        'SELECT * FROM tollgate_acquire_slots($1, $2::text[], $3::int[], $4::int[], $5::int[], $6, $7, $8)',
        [`c-${b}`, ['k1', '@team'], [1000, null], [100, 100], [null, 1_000_000], 100, NOW, FAR],
      );
      await c.query('SELECT tollgate_release_slots($1, $2::text[], $3)', [`c-${b}`, ['k1', '@team'], 50]);
      const trims = [{ id: `rl-${b - 1}`, stamp: NOW, subjects: ['k1'], requests: 3, tokens: 30 }];
      const grants = [
        {
          id: `rl-${b}`,
          stamp: NOW,
          subjects: ['k1', '@team'],
          rpm: [100_000, null],
          tpm: [null, 10_000_000],
          wantRequests: 10,
          minRequests: 1,
          wantTokens: 1000,
          minTokens: 1,
        },
      ];
      await c.query('SELECT * FROM tollgate_rate_round($1::jsonb, $2::jsonb, $3)', [
        JSON.stringify(trims),
        JSON.stringify(grants),
        NOW,
      ]);
      const plan = {
        subjects: ['k1', '@team'],
        maxParallel: [100, 200],
        trims: [`sl-${b - 1}:1`],
        renews: [{ id: `sl-${b - 1}:2`, until: FAR - 1 }],
        grant: { id: `sl-${b}`, want: 4, until: FAR },
      };
      await c.query('SELECT * FROM tollgate_slot_round($1::jsonb, $2)', [JSON.stringify([plan]), NOW]);
    });
    expect(plans).toContain('Insert on inflight');
    expect(plans).toContain('Insert on rate_events');
    expect(plans.match(SCANS)).toBeNull();
  });

  it('tollgate_lease_round locks leases and swept charges by id, and holds exactly what it grants', async () => {
    const windows = [
      { period: 'd:2026-11-26', lim: '100' },
      { period: '@team/m:2026-11', lim: '1000' },
    ];
    let answers: { o_id: string; o_granted: string | null; o_gone: boolean }[] = [];
    const plans = await plansOf(async (b) => {
      // Returns part of the lease granted by the round before, renews it, grants a new one.
      const returns =
        b === 0 ? [] : [{ id: `lease:r${b - 1}`, released: '0.001', granted: '1', close: false }];
      const grants = [
        {
          id: `lease:r${b}`,
          fresh: true,
          key: 'k5',
          periods: PERIODS,
          windows,
          want: '1',
          min: '0.01',
          unit: '0',
        },
      ];
      answers = (
        await c.query('SELECT * FROM tollgate_lease_round($1::jsonb, $2::text[], $3::jsonb, $4, $5)', [
          JSON.stringify(returns),
          b === 0 ? [] : [`lease:r${b - 1}`],
          JSON.stringify(grants),
          NOW,
          FAR,
        ])
      ).rows;
    });
    expect(answers).toEqual([{ o_id: 'lease:r6', o_granted: '1', o_gone: false }]);
    expect(plans).toContain('Insert on reservations');
    expect(plans.match(SCANS)).toBeNull();
    // Seven leases of 1 granted, six of them returned 0.001 each.
    const { rows } = await c.query(
      "SELECT period, reserved_usd::text FROM spend WHERE key = 'k5' ORDER BY period",
    );
    expect(rows).toEqual([
      { period: 'd:2026-11-26', reserved_usd: '6.994' },
      { period: 'm:2026-11', reserved_usd: '6.994' },
    ]);
  });
});
