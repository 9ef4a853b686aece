/**
 * The database's CPU for one budget lease round (tollgate_lease_round): each round returns part of
 * the lease the round before granted, renews it and grants a new one, back to back on one
 * connection, the backend's CPU read from /proc. Informational, not a test:
 *
 *   npx tsx bench/lease-round-db.ts [seconds] [--history] [--upto N]
 *
 * --history: the tables first hold what a fleet that has served a while holds: a year of 60 other
 * keys' spend rows, 5,000 other live reservations and leases, and 5,000 swept leases' charges
 * (lease_charges keeps a row per swept lease). Their size must not matter (migration 25).
 * --upto N: the schema stops at migration N, for an A/B in one sitting (--upto 24 against all).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { POSTGRES_MIGRATIONS } from '../src/store/migrations/postgres/index.js';
import { applyPostgresMigrations } from '../src/store/postgres/migrate.js';
import { createTestDatabase } from '../test/helpers/pg.js';
import { cpuOf } from './lib/proc-stats.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { history: { type: 'boolean', default: false }, upto: { type: 'string' } },
});
const seconds = Number(positionals[0] ?? 4);
const upto = values.upto === undefined ? Number.POSITIVE_INFINITY : Number(values.upto);
const PERIODS = ['d:2026-11-26', 'm:2026-11', '@bench/d:2026-11-26', '@bench/m:2026-11'];
const WINDOWS = [
  { period: 'd:2026-11-26', lim: '1000000' },
  { period: '@bench/m:2026-11', lim: '1000000' },
];
const NOW = Date.UTC(2026, 10, 26, 12);
const FAR = 9_999_999_999_999;

const db = await createTestDatabase('tollgate_bench_round');
try {
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  await applyPostgresMigrations(
    pool,
    POSTGRES_MIGRATIONS.filter((m) => m.version <= upto),
  );
  await pool.end();
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  if (values.history) {
    await c.query(`INSERT INTO spend (key, period, spent_usd)
      SELECT 'other-' || k, 'd:' || to_char(date '2025-11-26' + d, 'YYYY-MM-DD'), 1
      FROM generate_series(1, 60) k, generate_series(0, 335) d`);
    await c.query(`INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at)
      SELECT 'live-' || n, 'other-' || (n % 60), 0.01, ARRAY['d:2026-11-26'], ${FAR}, 0 FROM generate_series(1, 5000) n`);
    await c.query(`INSERT INTO lease_charges (id, key, periods, charged_usd, released_usd, granted_usd, swept_at)
      SELECT 'lease:old-' || n, 'other-1', ARRAY['d:2026-11-26'], 1, 0, 1, 0 FROM generate_series(1, 5000) n`);
    await c.query('ANALYZE');
  }
  const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
  let seq = 0;
  const round = async () => {
    const key = `key-${seq % 10}`;
    const prev = seq > 0 ? `lease:${seq - 1}` : null;
    const returns = prev ? [{ id: prev, released: '0.001', granted: '0.01', close: false }] : [];
    const grants = [
      {
        id: `lease:${seq}`,
        fresh: true,
        key,
        periods: PERIODS,
        windows: WINDOWS,
        want: '0.01',
        min: '0.001',
        unit: '0',
      },
    ];
    seq++;
    await c.query({
      name: 'round',
      text: 'SELECT * FROM tollgate_lease_round($1::jsonb, $2::text[], $3::jsonb, $4, $5)',
      values: [JSON.stringify(returns), prev ? [prev] : [], JSON.stringify(grants), NOW, FAR],
    });
  };
  for (let i = 0; i < 200; i++) await round();
  const t0 = Date.now();
  const cpu0 = cpuOf([pid]);
  let rounds = 0;
  while (Date.now() - t0 < seconds * 1000) {
    await round();
    rounds++;
  }
  console.log(
    `lease round: ${Math.round((cpuOf([pid]) - cpu0) / rounds)} µs of database CPU per round (${rounds} rounds)`,
  );
  await c.end();
} finally {
  await db.drop();
}
