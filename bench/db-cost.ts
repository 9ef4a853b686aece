/**
 * Scratch: database CPU (the one backend's /proc time) per item of the statements on a request's
 * path, each run alone on one connection. `npx tsx bench/db-cost.ts [items] [batch]`.
 */
import { randomUUID } from 'node:crypto';
import { silentLogger } from '../src/log.js';
import { settleLeased } from '../src/store/postgres/leases/lease-sql.js';
import { resolvePostgresOptions } from '../src/store/postgres/options.js';
import { createPool } from '../src/store/postgres/pool.js';
import { createPostgresStore } from '../src/store/postgres.js';
import type { UsageRecord } from '../src/store/types.js';
import { createTestDatabase } from '../test/helpers/pg.js';
import { cpuOf } from './lib/proc-stats.js';

const items = Number(process.argv[2] ?? 3000);
const B = Number(process.argv[3] ?? 16);
const DAY = 'd:2026-11-26';
const PERIODS = [DAY, 'm:2026-11'];
const usage = (requestId: string, key: string): UsageRecord => ({
  requestId,
  ts: Date.now(),
  day: '2026-11-26',
  key,
  model: 'gpt-4o-mini',
  upstream: 'openai',
  route: '/v1/chat/completions',
  status: 200,
  errorCode: null,
  inputTokens: 1200,
  outputTokens: 300,
  cachedTokens: 0,
  costUsd: 0.00036,
  latencyMs: 420,
  stream: false,
  userAgent: 'bench',
  ip: '127.0.0.1',
  configRevision: 'bench',
  usageSource: 'provider',
  requestFp: 'abcdef0123456789',
  prefixFp: null as unknown as undefined,
});

const db = await createTestDatabase('tollgate_cost');
try {
  const store = createPostgresStore(db.url, { leaseHorizonMs: 0 });
  await store.init();
  await store.close();
  const pool = createPool(resolvePostgresOptions(db.url, { poolSize: 1 }), silentLogger());
  const pid = (await pool.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]?.p as number;
  await pool.query(
    `INSERT INTO reservations (id, key, amount_usd, periods, lease_until, created_at)
    VALUES ('lease:x', 'k', 1000000, $1, 9e15, 0)`,
    [PERIODS],
  );
  await pool.query(
    `INSERT INTO spend (key, period, reserved_usd) SELECT 'k', p, 1000000 FROM unnest($1::text[]) p`,
    [PERIODS],
  );
  const measure = async (label: string, fn: (batch: number) => Promise<unknown>) => {
    for (let i = 0; i < 20; i++) await fn(B);
    const c0 = cpuOf([pid]);
    const t0 = performance.now();
    for (let n = 0; n < items; n += B) await fn(B);
    const us = (cpuOf([pid]) - c0) / items;
    console.log(
      `${label.padEnd(40)} ${us.toFixed(1)} µs CPU/item, ${(((performance.now() - t0) * 1000) / items).toFixed(0)} µs wall/item`,
    );
  };
  await measure(`settle_leased batch ${B}`, (b) =>
    settleLeased(
      pool,
      Array.from({ length: b }, () => ({
        usage: usage(randomUUID(), 'k'),
        leaseId: 'lease:x',
        periods: PERIODS,
      })),
    ),
  );
  await measure(`insert usage unnest batch ${B}`, (b) => {
    const rs = Array.from({ length: b }, () => usage(randomUUID(), 'k'));
    return pool.query(
      `INSERT INTO usage (request_id, ts, day, key, model, upstream, route, status, error_code, input_tokens, output_tokens,
        cached_tokens, cost_usd, latency_ms, stream, user_agent, ip, config_revision, usage_source, request_fp)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
        $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::numeric[], $14::float8[], $15::bool[], $16::text[],
        $17::text[], $18::text[], $19::text[], $20::text[])`,
      [
        rs.map((r) => r.requestId),
        rs.map((r) => r.ts),
        rs.map((r) => r.day),
        rs.map((r) => r.key),
        rs.map((r) => r.model),
        rs.map((r) => r.upstream),
        rs.map((r) => r.route),
        rs.map((r) => r.status),
        rs.map((r) => r.errorCode),
        rs.map((r) => r.inputTokens),
        rs.map((r) => r.outputTokens),
        rs.map((r) => r.cachedTokens),
        rs.map((r) => String(r.costUsd)),
        rs.map((r) => r.latencyMs),
        rs.map((r) => r.stream),
        rs.map((r) => r.userAgent),
        rs.map((r) => r.ip),
        rs.map((r) => r.configRevision),
        rs.map((r) => r.usageSource),
        rs.map((r) => r.requestFp),
      ],
    );
  });
  await measure(`spend update only, per batch ${B}`, () =>
    pool.query(
      `UPDATE spend SET spent_usd = spent_usd + 0.001 WHERE key = 'k' AND period = ANY($1::text[])`,
      [PERIODS],
    ),
  );
  await measure(`SELECT 1, per batch ${B}`, () => pool.query('SELECT 1'));
  await measure(`acquire_many rpm batch ${B}`, (b) =>
    pool.query('SELECT * FROM tollgate_acquire_many($1::jsonb)', [
      JSON.stringify(
        Array.from({ length: b }, () => ({
          id: randomUUID(),
          subjects: ['k'],
          rpm: [100000000],
          maxParallel: [null],
          tpm: [null],
          tokens: 0,
          now: Date.now(),
          lease: Date.now() + 600000,
        })),
      ),
    ]),
  );
  await pool.query('SET synchronous_commit = off');
  await measure(`(async commit) settle_leased batch ${B}`, (b) =>
    settleLeased(
      pool,
      Array.from({ length: b }, () => ({
        usage: usage(randomUUID(), 'k'),
        leaseId: 'lease:x',
        periods: PERIODS,
      })),
    ),
  );
  await measure(`(async commit) spend update, per batch ${B}`, () =>
    pool.query(
      `UPDATE spend SET spent_usd = spent_usd + 0.001 WHERE key = 'k' AND period = ANY($1::text[])`,
      [PERIODS],
    ),
  );
  await pool.end();
} finally {
  await db.drop();
}
