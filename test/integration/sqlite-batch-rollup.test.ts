import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteBudget } from '../../src/store/sqlite/budget.js';
import { applySqliteMigrations } from '../../src/store/sqlite/migrate.js';
import { inThreadWriter } from '../../src/store/sqlite/writer.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { UsageRecord } from '../../src/store/types.js';
import { USAGE_COLUMN_NAMES, usageColumnValues } from '../../src/store/usage-columns.js';

/**
 * The SQLite store's recorder writes the rollups (usage_daily, and the insight rollup
 * usage_insight_days of migrations 11 and 13) once per row and batch, summed in JavaScript, and
 * marks its records so the insert trigger leaves them out; every other writer (the sqlite3 shell,
 * an import) inserts unmarked records the trigger still rolls up. Checked here against sums of the
 * records computed from scratch in SQL (migration 11's own definitions), after batches of mixed
 * keys, models, clients, hours and days, a batch retried after one of its settles failed, the
 * reservation sweep, a late settle taking the sweep's record back, and writes from outside.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 10, 30, 21);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-batch-rollup-'));
  dirs.push(dir);
  return join(dir, 't.db');
}

/** mulberry32: deterministic, so a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;

function usage(over: Partial<UsageRecord> & { requestId: string }): UsageRecord {
  const ts = over.ts ?? START;
  return {
    ts,
    day: new Date(ts).toISOString().slice(0, 10),
    key: 'a',
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 100,
    outputTokens: 50,
    cachedTokens: 0,
    cacheWriteTokens: 0,
    costUsd: 0.01,
    latencyMs: 5,
    stream: false,
    userAgent: 'OpenAI/JS 6.1.0',
    ip: '10.0.0.1',
    configRevision: 'r',
    usageSource: 'provider',
    outputLimit: null,
    ...over,
  };
}

/** Records over six hours across a UTC midnight, with every threshold of the rollup's sums. */
function randomUsage(seed: number, n: number): UsageRecord[] {
  const rnd = random(seed);
  return Array.from({ length: n }, (_, i) => {
    const edge = rnd() < 0.2;
    const ts = edge
      ? START + Math.floor(rnd() * 6) * HOUR - (rnd() < 0.5 ? 1 : 0)
      : START + Math.floor(rnd() * 6 * HOUR);
    const status = pick(rnd, [200, 200, 200, 500, 429]);
    return usage({
      requestId: `u-${seed}-${i}`,
      ts,
      key: pick(rnd, ['a', 'a', 'b', 'c', '']),
      model: pick(rnd, ['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o', null]),
      status,
      errorCode: status === 200 ? null : 'upstream_error',
      inputTokens: pick(rnd, [0, 400, 999, 1000, 31_999, 32_000, 45_000]),
      outputTokens: pick(rnd, [0, 200, 999, 1000, 2000]),
      cachedTokens: pick(rnd, [0, 0, 100]),
      cacheWriteTokens: pick(rnd, [0, 0, 50]),
      costUsd: Math.floor(rnd() * 200_000) / 1e6,
      userAgent: pick(rnd, ['OpenAI/JS 6.1.0', 'curl/8.5.0', null, '']),
      ip: pick(rnd, ['10.0.0.1', '192.168.1.4', null]),
      outputLimit: pick(rnd, [null, 0, 1000, 2000]),
    });
  });
}

const HOURS = Array.from({ length: 24 }, (_, h) => h);
const hourOf = 'ts % 86400000 / 3600000';
const when = (c: string, v: string) => `sum(CASE WHEN ${c} THEN ${v} ELSE 0 END)`;
const LONG = 'input_tokens >= 32000';
const SMALL = 'input_tokens > 0 AND input_tokens < 1000 AND output_tokens < 1000';
const CAPPED = 'output_limit > 0 AND output_tokens >= output_limit';

/** Migration 11's sums, from scratch, of every record in the usage table. */
const FROM_RECORDS = `SELECT key, ts - ts % 86400000 AS day, coalesce(model, '') AS model,
    coalesce(user_agent, '') AS user_agent, coalesce(ip, '') AS ip,
    count(*) AS requests, ${when('status >= 400', '1')} AS errors, ${when('input_tokens > 0', '1')} AS with_input,
    sum(input_tokens) AS input_tokens, sum(cached_tokens) AS cached_tokens,
    sum(cache_write_tokens) AS cache_write_tokens, sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd,
    ${when(LONG, '1')} AS long_requests, ${when(LONG, 'cost_usd')} AS long_cost_usd,
    ${when(SMALL, '1')} AS small_requests, ${when(SMALL, 'input_tokens')} AS small_input_tokens,
    ${when(SMALL, 'cached_tokens')} AS small_cached_tokens,
    ${when(SMALL, 'cache_write_tokens')} AS small_cache_write_tokens,
    ${when(SMALL, 'output_tokens')} AS small_output_tokens, ${when(SMALL, 'cost_usd')} AS small_cost_usd,
    ${when(CAPPED, '1')} AS capped_requests, ${when(CAPPED, 'cost_usd')} AS capped_cost_usd,
    ${HOURS.map((h) => `${when(`${hourOf} = ${h}`, '1')} AS n${h}`).join(', ')},
    ${HOURS.map((h) => `${when(`${hourOf} = ${h}`, 'cost_usd')} AS c${h}`).join(', ')}
  FROM usage WHERE key <> '' GROUP BY 1, 2, 3, 4, 5`;

type Row = Record<string, string | number>;

/** Rows by their key columns, money rounded to 1e-9, rows with no records left out. */
function byGroup(rows: Row[]): Record<string, Row> {
  const out: Record<string, Row> = {};
  for (const r of rows) {
    if (r.requests === 0) {
      // A rollup row whose records were all taken out: every sum back at zero.
      for (const [c, v] of Object.entries(r))
        if (typeof v === 'number' && c !== 'day') expect(v).toBeCloseTo(0, 9);
      continue;
    }
    const id = [r.key, r.day, r.model, r.user_agent, r.ip].join('|');
    out[id] = Object.fromEntries(
      Object.entries(r).map(([c, v]) => [c, typeof v === 'number' ? Math.round(v * 1e9) / 1e9 + 0 : v]),
    );
  }
  return out;
}

function expectRollupOfRecords(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    const stored = db.prepare('SELECT * FROM usage_insight_days').all() as Row[];
    expect(byGroup(stored)).toEqual(byGroup(db.prepare(FROM_RECORDS).all() as Row[]));
    return stored.length;
  } finally {
    db.close();
  }
}

function expectDailyOfRecords(path: string): void {
  const db = new Database(path, { readonly: true });
  try {
    const stored = db
      .prepare(
        'SELECT day, key, model, status, requests, input_tokens, output_tokens, cost_usd FROM usage_daily',
      )
      .all() as Row[];
    const scratch = db
      .prepare(
        `SELECT day, key, coalesce(model, '') AS model, status, count(*) AS requests,
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd
         FROM usage GROUP BY 1, 2, 3, 4`,
      )
      .all() as Row[];
    const keyed = (rows: Row[]) =>
      Object.fromEntries(
        rows.map((r) => [
          [r.day, r.key, r.model, r.status].join('|'),
          { ...r, cost_usd: Math.round((r.cost_usd as number) * 1e9) / 1e9 },
        ]),
      );
    expect(keyed(stored)).toEqual(keyed(scratch));
  } finally {
    db.close();
  }
}

/** Inserts records as the sqlite3 shell or an import would: no store code, no mark. */
function insertFromOutside(path: string, records: UsageRecord[]): void {
  const db = new Database(path);
  try {
    const insert = db.prepare(
      `INSERT INTO usage (${USAGE_COLUMN_NAMES.join(', ')}) VALUES (${USAGE_COLUMN_NAMES.map(() => '?').join(', ')})`,
    );
    for (const r of records)
      insert.run(...usageColumnValues(r, (c, v) => (c === 'stream' ? (v ? 1 : 0) : v)));
  } finally {
    db.close();
  }
}

function execOutside(path: string, sql: string): void {
  const db = new Database(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe.each([
  { writer: 'the write worker', cpus: 2 },
  { writer: 'the event loop', cpus: 1 },
])('SQLite rollups written per batch ($writer)', ({ cpus }) => {
  it('equal the sums of the records after batches, the sweep, a late settle, and writes from outside', async () => {
    const path = tempDb();
    const store = createSqliteStore(path, { writer: { cpus } });
    await store.init();
    try {
      const records = randomUsage(cpus, 300);
      // Settled concurrently: the settles of one turn share a transaction, so a batch holds records
      // of one rollup row, of several, and of several hours and days.
      for (let i = 0; i < records.length; i += 50)
        await Promise.all(records.slice(i, i + 50).map((r) => store.settle(r, [])));
      // Settled again: recorded (and rolled up) once.
      await Promise.all(records.slice(0, 20).map((r) => store.settle(r, [])));
      // Reservations the sweep charges (a record each, written by the recorder in its own
      // transaction), then one of them settled late: the sweep's record is taken back.
      const periods = ['d:2026-12-01'];
      for (const id of ['swept-1', 'swept-2', 'swept-3']) {
        const r = await store.reserve({
          id,
          key: id === 'swept-3' ? 'c' : 'b',
          amountUsd: 0.5,
          windows: [],
          periods,
          leaseUntil: START,
        });
        expect(r.ok).toBe(true);
      }
      expect(await store.recoverReservations(START + DAY, true)).toBe(3);
      await store.settle(
        usage({ requestId: 'swept-2', key: 'b', ts: START + 2 * HOUR, costUsd: 0.2 }),
        periods,
      );
      expectDailyOfRecords(path);
      const rows = expectRollupOfRecords(path);
      expect(rows).toBeGreaterThan(20);

      // Another writer: unmarked records are rolled up by the trigger, in its own transaction
      // and between the store's batches; its deletes and corrections are taken out.
      insertFromOutside(path, randomUsage(100 + cpus, 40));
      await Promise.all(randomUsage(200 + cpus, 40).map((r) => store.settle(r, [])));
      execOutside(
        path,
        `UPDATE usage SET cost_usd = cost_usd / 2, input_tokens = 40000 WHERE request_id LIKE 'u-${cpus}-1%';
         DELETE FROM usage WHERE request_id LIKE 'u-${cpus}-2%';
         DELETE FROM usage WHERE request_id LIKE 'u-${100 + cpus}-1%';`,
      );
      await Promise.all(randomUsage(300 + cpus, 40).map((r) => store.settle(r, [])));
      expectRollupOfRecords(path);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('SQLite rollups written per batch', () => {
  it('marks only the records the store writes; one without the mark is rolled up by its trigger', async () => {
    const path = tempDb();
    const store = createSqliteStore(path, { writer: { cpus: 1 } });
    await store.init();
    try {
      await store.settle(usage({ requestId: 'by-store' }), []);
      insertFromOutside(path, [usage({ requestId: 'by-shell', costUsd: 0.25 })]);
      const db = new Database(path, { readonly: true });
      try {
        expect(db.prepare('SELECT request_id, batch_rollup FROM usage ORDER BY request_id').all()).toEqual([
          { request_id: 'by-shell', batch_rollup: null },
          { request_id: 'by-store', batch_rollup: 1 },
        ]);
        const row = db.prepare('SELECT requests, cost_usd FROM usage_insight_days').get() as Row;
        expect(row.requests).toBe(2);
        expect(row.cost_usd).toBeCloseTo(0.26, 12);
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  });

  it('writes each rollup row once per batch, and nothing of a batch that rolled back', async () => {
    const db = new Database(tempDb());
    applySqliteMigrations(db);
    const budget = createSqliteBudget(db, () => START);
    const writer = inThreadWriter(db, () => budget);
    // Counts the writes of rollup rows on this connection (an upsert is an insert or an update).
    const writes = { insight: 0, daily: 0 };
    db.function('rollup_written', (table: string) => {
      writes[table as 'insight' | 'daily']++;
      return null;
    });
    for (const [table, name] of [
      ['usage_insight_days', 'insight'],
      ['usage_daily', 'daily'],
    ])
      for (const op of ['INSERT', 'UPDATE'])
        db.exec(`CREATE TEMP TRIGGER count_${name}_${op} AFTER ${op} ON main.${table}
          BEGIN SELECT rollup_written('${name}'); END`);
    try {
      // 40 records of two keys in one hour: two rows in each rollup.
      const batch = Array.from({ length: 40 }, (_, i) =>
        usage({ requestId: `b-${i}`, key: i % 2 ? 'a' : 'b', ts: START + i }),
      );
      await Promise.all(batch.map((u) => writer.settle(u, [])));
      expect(writes).toEqual({ insight: 2, daily: 2 });

      // One settle of the next batch fails (route is NOT NULL): the batch rolls back and each
      // settle runs again alone. Its sums are written once, by the retries, not by the batch.
      writes.insight = 0;
      writes.daily = 0;
      const next = Array.from({ length: 6 }, (_, i) => usage({ requestId: `n-${i}`, ts: START + 5 * HOUR }));
      const bad = { ...usage({ requestId: 'bad' }), route: null } as unknown as UsageRecord;
      const results = await Promise.allSettled([...next, bad].map((u) => writer.settle(u, [])));
      expect(results.map((r) => r.status)).toEqual([...next.map(() => 'fulfilled'), 'rejected']);
      expect(writes).toEqual({ insight: 6, daily: 6 });
      const rows = db
        .prepare('SELECT key, requests, n2 FROM usage_insight_days ORDER BY key, day')
        .all() as Row[];
      expect(rows).toEqual([
        { key: 'a', requests: 20, n2: 0 },
        { key: 'a', requests: 6, n2: 6 },
        { key: 'b', requests: 20, n2: 0 },
      ]);
    } finally {
      await writer.close();
      db.close();
    }
  });
});
