import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { BudgetWindow, Store, UsageRecord } from '../../src/store/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { waitFor } from '../helpers/server-harness.js';

/**
 * On PostgreSQL a usage record and its media units (images, audio seconds, characters) are one
 * write, in the settle's own statement (migration 19), on each of its three paths: one settle,
 * a batch of settles, and settles served from a budget lease. The database here refuses any later
 * write of the units, as a replica that died (or lost the database) right after its settle
 * committed would never make one: the units are there all the same, the moment settle returns.
 */
const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);
const DAY = 'd:2026-12-06';
const periods = [DAY];
const windows: BudgetWindow[] = [{ period: DAY, limitUsd: 100 }];

function usage(id: string, units: Partial<UsageRecord>, costUsd = 0.006): UsageRecord {
  return {
    requestId: id,
    ts: T0,
    day: '2026-12-06',
    key: 'studio',
    model: 'whisper-1',
    upstream: 'openai',
    route: '/v1/audio/transcriptions',
    status: 200,
    errorCode: null,
    inputTokens: 0,
    outputTokens: 0,
    cachedTokens: 0,
    costUsd,
    latencyMs: 5,
    stream: false,
    userAgent: null,
    ip: null,
    configRevision: 'r',
    usageSource: 'provider',
    ...units,
  };
}

async function sql<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}

/** After the migrations: no statement may set a record's units once it is written. */
async function refuseLaterUnitWrites(url: string): Promise<void> {
  await sql(
    url,
    `CREATE FUNCTION refuse_late_units() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN RAISE EXCEPTION 'units written after the record (the replica could have died in between)'; END $$;
     CREATE TRIGGER refuse_late_units BEFORE UPDATE OF images, audio_seconds, characters ON usage
       FOR EACH ROW EXECUTE FUNCTION refuse_late_units();`,
  );
}

type Row = {
  request_id: string;
  images: number | null;
  audio_seconds: number | null;
  characters: number | null;
};
const unitsOf = async (url: string, ids: string[]) =>
  sql<Row>(
    url,
    'SELECT request_id, images, audio_seconds, characters FROM usage WHERE request_id = ANY($1) ORDER BY request_id',
    [ids],
  );

describe('media units on PostgreSQL, written with their usage record', () => {
  let db: TestDatabase;
  let store: Store | undefined;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await db.drop();
  });

  it('keeps the units of one settle and of a batch of settles, with no later statement', async () => {
    store = createPostgresStore(db.url, { poolSize: 4, clock: () => T0, leaseHorizonMs: 0 });
    await store.init();
    await refuseLaterUnitWrites(db.url);
    const s = store;

    await s.settle(usage('one', { audioSeconds: 61.5 }), periods);
    expect(await unitsOf(db.url, ['one'])).toEqual([
      { request_id: 'one', images: null, audio_seconds: 61.5, characters: null },
    ]);

    // Settled at once, they go to the database as one batch (tollgate_settle_many).
    const batch = Array.from({ length: 12 }, (_, i) => `b${String(i).padStart(2, '0')}`);
    await Promise.all(
      batch.map((id, i) =>
        s.settle(usage(id, i % 2 ? { model: 'gpt-image-1', images: i } : { characters: 1000 + i }), periods),
      ),
    );
    const rows = await unitsOf(db.url, batch);
    expect(rows).toHaveLength(12);
    expect(rows).toEqual(
      batch.map((id, i) =>
        i % 2
          ? { request_id: id, images: i, audio_seconds: null, characters: null }
          : { request_id: id, images: null, audio_seconds: null, characters: 1000 + i },
      ),
    );
    // The charge is exact: 13 requests at $0.006.
    expect((await s.getSpend('studio', periods))[DAY]?.spentUsd).toBeCloseTo(13 * 0.006, 9);
  });

  it('keeps the units of requests served from a budget lease', async () => {
    store = createPostgresStore(db.url, { poolSize: 4, clock: () => T0 });
    await store.init();
    await refuseLaterUnitWrites(db.url);
    const s = store;
    let n = 0;
    const request = async (units: Partial<UsageRecord>) => {
      const id = `q${String(n++).padStart(2, '0')}`;
      const r = await s.reserve({
        id,
        key: 'studio',
        amountUsd: 0.01,
        windows,
        periods,
        leaseUntil: T0 + 600_000,
      });
      expect(r.ok).toBe(true);
      await s.settle(usage(id, units), periods);
      return id;
    };
    // A busy key: the replica takes a lease, and the next requests are served from it.
    for (let i = 0; i < 8; i++) await request({ images: 1 });
    await waitFor(() => (s.leaseHoldings?.().leases ?? 0) > 0, 5_000);
    const leased = await Promise.all(
      Array.from({ length: 10 }, (_, i) => request({ audioSeconds: 2.5 + i })),
    );

    const rows = await unitsOf(db.url, leased);
    expect(rows.map((r) => r.audio_seconds)).toEqual(Array.from({ length: 10 }, (_, i) => 2.5 + i));
    const all = await sql<{ n: number; images: number }>(
      db.url,
      'SELECT count(*)::int AS n, sum(images)::int AS images FROM usage',
    );
    expect(all[0]).toEqual({ n: 18, images: 8 });
  });
});
