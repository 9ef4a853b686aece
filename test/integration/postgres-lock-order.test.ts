import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { settleColumns } from '../helpers/pg-plans.js';

const DAY = 'd:2026-11-26';
const HOUR = 'h:2026-11-26T13+00:00';
const FAR = 8_640_000_000_000_000;

/**
 * The functions of the store lock spend rows in one order, (subject, period), whatever rows
 * exist yet. Driven with raw connections, so that the store's retry on deadlock cannot hide one.
 */
describe('postgres store: spend row lock order', () => {
  let db: TestDatabase;
  let store: Store;
  const clients: pg.Client[] = [];

  const connect = async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createPostgresStore(db.url);
    await store.init();
  });
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    await store.close();
    await db.drop();
  });

  it('a reserve creating a new hour row does not deadlock with a charge of the same key', async () => {
    // The day row exists; the hour row of the new hour does not yet.
    await store.settle(
      {
        requestId: 'earlier',
        ts: 0,
        day: '2026-11-26',
        key: 'k',
        model: null,
        upstream: null,
        route: '/v1/chat/completions',
        status: 200,
        errorCode: null,
        inputTokens: 0,
        outputTokens: 0,
        cachedTokens: 0,
        costUsd: 0.01,
        latencyMs: 1,
        stream: false,
        userAgent: null,
        ip: null,
        configRevision: 'r',
        usageSource: 'provider',
      },
      [DAY],
    );
    const settler = await connect();
    const reserver = await connect();
    const watcher = await connect();
    await settler.query('SET deadlock_timeout = 100');
    await reserver.query('SET deadlock_timeout = 100');

    // A settle of key k has locked the day row and is about to charge the hour row too.
    await settler.query('BEGIN');
    await settler.query("SELECT 1 FROM spend WHERE key = 'k' AND period = $1 FOR UPDATE", [DAY]);
    const { rows: pids } = await reserver.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const reserving = reserver.query(
      'SELECT * FROM tollgate_reserve($1, $2, $3::numeric, $4::text[], $5::text[], $6::numeric[], $7, $8)',
      ['r1', 'k', '0.1', [DAY, HOUR], [DAY], ['1'], FAR, 0],
    );
    // Wait until the reserve queues behind the settle's lock.
    for (let i = 0; ; i++) {
      const { rows } = await watcher.query<{ waiting: boolean }>(
        "SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1",
        [pids[0]?.pid],
      );
      if (rows[0]?.waiting) break;
      if (i > 200) throw new Error('the reserve never waited for the lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    // The settle now charges both rows (as tollgate_settle does) and commits. Before migration
    // 6 the reserve had already inserted the hour row and held it: one of the two was aborted.
    await settler.query('SELECT tollgate_charge($1, $2::text[], $3::numeric, $4::numeric)', [
      'k',
      [DAY, HOUR],
      '0',
      '0',
    ]);
    await settler.query('COMMIT');
    const { rows } = await reserving;
    expect(rows[0]).toMatchObject({ o_ok: true });
    const spend = await store.getSpend('k', [DAY, HOUR]);
    expect(spend[DAY]).toEqual({ spentUsd: 0.01, reservedUsd: 0.1 });
    expect(spend[HOUR]).toEqual({ spentUsd: 0, reservedUsd: 0.1 });
  });

  it('a settle releases a reserve of its own request that committed while the settle waited', async () => {
    const reserver = await connect();
    const watcher = await connect();
    // A late reserve of request 'late' (its caller was already refused) holds key k2's day row.
    await reserver.query('BEGIN');
    const { rows: reserved } = await reserver.query(
      'SELECT * FROM tollgate_reserve($1, $2, $3::numeric, $4::text[], $5::text[], $6::numeric[], $7, $8)',
      ['late', 'k2', '0.1', [DAY], [DAY], ['1'], FAR, 0],
    );
    expect(reserved[0]).toMatchObject({ o_ok: true });
    // The request's own settle (a refusal: no cost) looks for the reservation, does not see it
    // (uncommitted), and waits on the spend row to charge.
    const settling = store.settle(
      {
        requestId: 'late',
        ts: 0,
        day: '2026-11-26',
        key: 'k2',
        model: null,
        upstream: null,
        route: '/v1/chat/completions',
        status: 503,
        errorCode: 'store_unavailable',
        inputTokens: 0,
        outputTokens: 0,
        cachedTokens: 0,
        costUsd: 0,
        latencyMs: 1,
        stream: false,
        userAgent: null,
        ip: null,
        configRevision: 'r',
        usageSource: 'none',
      },
      [DAY],
    );
    for (let i = 0; ; i++) {
      const { rows } = await watcher.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%tollgate_settle%'",
      );
      if ((rows[0]?.n ?? 0) > 0) break;
      if (i > 300) throw new Error('the settle never waited for the lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    await reserver.query('COMMIT');
    await settling;
    // Nothing of the request stays held: before migration 7 the 0.1 stayed reserved until its lease.
    const spend = await store.getSpend('k2', [DAY]);
    expect(spend[DAY]).toEqual({ spentUsd: 0, reservedUsd: 0 });
    const { rows: left } = await watcher.query("SELECT 1 FROM reservations WHERE id = 'late'");
    expect(left).toHaveLength(0);
  });

  it('a leased settle locks its spend rows, then its usage_daily row, then its rollup row', async () => {
    // The global order every writer of a key's rows follows (migrations 20 and 28): one that
    // locked the usage_daily row first, then the rollup row at its commit (tollgate_settle_many),
    // must not meet a leased settle holding the rollup row while it waits for the usage_daily row.
    const settler = await connect();
    const holder = await connect();
    const watcher = await connect();
    const settleOne = (id: string) =>
      settler.query('SELECT * FROM tollgate_settle_leased($1::jsonb)', [
        JSON.stringify([
          {
            ...settleColumns(id, 'k3', '0.01', Date.UTC(2026, 10, 26, 12)),
            release: '0',
            lease: 'lease:k3',
            periods: [DAY],
          },
        ]),
      ]);
    await settleOne('k3-first'); // its usage_daily and rollup rows exist from here on
    await holder.query('BEGIN');
    await holder.query("SELECT 1 FROM usage_daily WHERE key = 'k3' FOR UPDATE");
    const { rows: pids } = await settler.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const settling = settleOne('k3-second');
    settling.catch(() => undefined);
    try {
      for (let i = 0; ; i++) {
        const { rows } = await watcher.query<{ waiting: boolean }>(
          "SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1",
          [pids[0]?.pid],
        );
        if (rows[0]?.waiting) break;
        if (i > 300) throw new Error('the leased settle never waited for the usage_daily row');
        await new Promise((r) => setTimeout(r, 10));
      }
      // Waiting for the usage_daily row, it holds the key's spend row but not the rollup row yet.
      await watcher.query('BEGIN');
      await expect(watcher.query("SELECT 1 FROM spend WHERE key = 'k3' FOR UPDATE NOWAIT")).rejects.toThrow(
        /lock/,
      );
      await watcher.query('ROLLBACK');
      await watcher.query('BEGIN');
      const { rows: rollup } = await watcher.query(
        "SELECT requests FROM usage_insight_days WHERE key = 'k3' FOR UPDATE NOWAIT",
      );
      expect(rollup).toEqual([{ requests: '1' }]);
    } finally {
      await watcher.query('ROLLBACK');
      await holder.query('COMMIT');
    }
    await settling;
    const { rows: after } = await watcher.query("SELECT requests FROM usage_insight_days WHERE key = 'k3'");
    expect(after).toEqual([{ requests: '2' }]);
  });

  it('a leased settle writes its spend rows first even when its answer reads none of them', async () => {
    // An item with no period answers nothing, so the statement's main query reads no spend row;
    // the lease's released reserve is still written to its spend row. Under migration 28 that
    // write ran after the usage_daily and rollup upserts (the CTEs the main query does not read
    // run last listed first); since migration 29 the usage_daily upsert reads it first.
    const settler = await connect();
    const holder = await connect();
    const watcher = await connect();
    await settler.query(
      'SELECT * FROM tollgate_reserve($1, $2, $3::numeric, $4::text[], $5::text[], $6::numeric[], $7, $8)',
      ['lease:k6', 'k6', '1', [DAY], [DAY], ['100'], FAR, 0],
    );
    const settleOne = (id: string, periods: string[]) =>
      settler.query('SELECT * FROM tollgate_settle_leased($1::jsonb)', [
        JSON.stringify([
          {
            ...settleColumns(id, 'k6', '0.01', Date.UTC(2026, 10, 26, 12)),
            release: '0.1',
            lease: 'lease:k6',
            periods,
          },
        ]),
      ]);
    await settleOne('k6-first', [DAY]); // its usage_daily and rollup rows exist from here on
    await holder.query('BEGIN');
    await holder.query("SELECT 1 FROM spend WHERE key = 'k6' FOR UPDATE");
    const { rows: pids } = await settler.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const settling = settleOne('k6-second', []);
    settling.catch(() => undefined);
    try {
      for (let i = 0; ; i++) {
        const { rows } = await watcher.query<{ waiting: boolean }>(
          "SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1",
          [pids[0]?.pid],
        );
        if (rows[0]?.waiting) break;
        if (i > 300) throw new Error('the leased settle never waited for the spend row');
        await new Promise((r) => setTimeout(r, 10));
      }
      // Waiting for the spend row, it holds neither the usage_daily row nor the rollup row.
      await watcher.query('BEGIN');
      const { rows: daily } = await watcher.query(
        "SELECT requests FROM usage_daily WHERE key = 'k6' FOR UPDATE NOWAIT",
      );
      expect(daily).toEqual([{ requests: '1' }]);
      const { rows: rollup } = await watcher.query(
        "SELECT requests FROM usage_insight_days WHERE key = 'k6' FOR UPDATE NOWAIT",
      );
      expect(rollup).toEqual([{ requests: '1' }]);
    } finally {
      await watcher.query('ROLLBACK');
      await holder.query('COMMIT');
    }
    await settling;
    const { rows: after } = await watcher.query(
      "SELECT spent_usd::text, reserved_usd::text FROM spend WHERE key = 'k6' AND period = $1",
      [DAY],
    );
    expect(after).toEqual([{ spent_usd: '0.01', reserved_usd: '0.8' }]);
  });

  // A usage_daily row another transaction inserts and has not committed yet cannot be locked
  // ahead: the settle's own upsert of it waits. By then it must hold no rollup row (migration 29;
  // under migration 26's CTE order, tollgate_settle_many's rollup upsert ran first and held it).
  for (const fn of ['tollgate_settle_many', 'tollgate_settle_leased'] as const) {
    it(`${fn} holds no rollup row while it waits for a usage_daily row being inserted`, async () => {
      const key = `k-${fn}`;
      const settler = await connect();
      const holder = await connect();
      const watcher = await connect();
      const settleOne = (id: string, status: number) =>
        settler.query(`SELECT * FROM ${fn}($1::jsonb)`, [
          JSON.stringify([
            {
              ...settleColumns(id, key, '0.01', Date.UTC(2026, 10, 26, 12)),
              status,
              release: '0',
              lease: `lease:${key}`,
              periods: [DAY],
            },
          ]),
        ]);
      await settleOne(`${key}-first`, 200); // its rollup row (any status) exists from here on
      // Another writer inserts the usage_daily row of status 500, the next settle's, and waits.
      await holder.query('BEGIN');
      await holder.query(
        `INSERT INTO usage_daily (day, key, model, status, requests, input_tokens, output_tokens, cost_usd)
          VALUES ('2026-11-26', $1, 'gpt-4o-mini', 500, 0, 0, 0, 0)`,
        [key],
      );
      const { rows: pids } = await settler.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const settling = settleOne(`${key}-second`, 500);
      settling.catch(() => undefined);
      try {
        for (let i = 0; ; i++) {
          const { rows } = await watcher.query<{ waiting: boolean }>(
            "SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1",
            [pids[0]?.pid],
          );
          if (rows[0]?.waiting) break;
          if (i > 300) throw new Error('the settle never waited for the usage_daily row');
          await new Promise((r) => setTimeout(r, 10));
        }
        // It holds the key's spend row (charged first), not its rollup row.
        await watcher.query('BEGIN');
        await expect(
          watcher.query('SELECT 1 FROM spend WHERE key = $1 FOR UPDATE NOWAIT', [key]),
        ).rejects.toThrow(/lock/);
        await watcher.query('ROLLBACK');
        await watcher.query('BEGIN');
        const { rows: rollup } = await watcher.query(
          'SELECT requests FROM usage_insight_days WHERE key = $1 FOR UPDATE NOWAIT',
          [key],
        );
        expect(rollup).toEqual([{ requests: '1' }]);
      } finally {
        await watcher.query('ROLLBACK');
        await holder.query('COMMIT');
      }
      await settling;
      const { rows: daily } = await watcher.query(
        'SELECT status, requests FROM usage_daily WHERE key = $1 ORDER BY status',
        [key],
      );
      expect(daily).toEqual([
        { status: 200, requests: '1' },
        { status: 500, requests: '1' },
      ]);
      const { rows: after } = await watcher.query('SELECT requests FROM usage_insight_days WHERE key = $1', [
        key,
      ]);
      expect(after).toEqual([{ requests: '2' }]);
    });
  }
});
