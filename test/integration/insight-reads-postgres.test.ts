import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offsetSegments } from '../../src/insights/offsets.js';
import {
  DAY_END_HOUR,
  DAY_START_HOUR,
  LONG_INPUT_TOKENS,
  PREFIX_REPEATS,
  SMALL_TOKENS,
} from '../../src/insights/thresholds.js';
import type { InsightQuery, RepeatRecord } from '../../src/store/insight-types.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store, UsageRecord } from '../../src/store/types.js';
import { USAGE_COLUMN_NAMES, usageColumnValues } from '../../src/store/usage-columns.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

/**
 * How PostgreSQL reads two insight facts (src/store/postgres/insight-queries.ts): the repeats of
 * every key in two halves split at the planner's middle key once ANALYZE has made its histogram,
 * and the ranks asked in one turn read in one statement per period. Both must give what the
 * records say, whatever the split and however many asks share a statement.
 */

const HOUR = 3_600_000;
const START = Date.UTC(2026, 10, 2);
const UNTIL = START + 2 * 24 * HOUR;
// More keys than the planner keeps as most common values, so that ANALYZE makes a histogram.
const KEYS = Array.from({ length: 180 }, (_, i) => `key-${String(i).padStart(3, '0')}`);

function record(i: number, over: Partial<UsageRecord>): UsageRecord {
  return {
    requestId: `r-${i}`,
    ts: START,
    day: '2026-11-02',
    key: 'key-000',
    model: 'small-model',
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

/** Every key: a failed request sent again a minute later, two unique requests, inputs varied. */
function records(): UsageRecord[] {
  const out: UsageRecord[] = [];
  KEYS.forEach((key, k) => {
    const at = START + (k % 40) * HOUR;
    const base = { key, inputTokens: 0 };
    out.push(
      record(out.length, {
        ...base,
        ts: at,
        requestFp: `fp-${k}-again`,
        status: 500,
        errorCode: 'upstream_500',
      }),
      record(out.length + 1, {
        ...base,
        ts: at + 60_000,
        requestFp: `fp-${k}-again`,
        inputTokens: 1_000 + k,
      }),
      record(out.length + 2, { ...base, ts: at + 120_000, requestFp: `fp-${k}-a`, inputTokens: 40_000 }),
      record(out.length + 3, { ...base, ts: at + 180_000, requestFp: `fp-${k}-b`, inputTokens: 7 }),
    );
  });
  // Outside the period: neither a repeat nor a rank.
  out.push(record(out.length, { key: 'key-001', ts: UNTIL, requestFp: 'fp-1-again', inputTokens: 1 }));
  return out;
}

function query(since: number, until: number): InsightQuery {
  return {
    since,
    until,
    longInputTokens: LONG_INPUT_TOKENS,
    smallTokens: SMALL_TOKENS,
    dayStartMs: DAY_START_HOUR * HOUR,
    dayEndMs: DAY_END_HOUR * HOUR,
    offsets: offsetSegments(since, until, 'UTC'),
    minPrefixRepeats: PREFIX_REPEATS,
  };
}

const byKeyFpTs = (a: RepeatRecord, b: RepeatRecord) =>
  a.key < b.key
    ? -1
    : a.key > b.key
      ? 1
      : a.fingerprint < b.fingerprint
        ? -1
        : a.fingerprint > b.fingerprint
          ? 1
          : a.ts - b.ts;

/** What the repeats read must give, from the records themselves. */
function expectedRepeats(rs: readonly UsageRecord[], since: number, until: number): RepeatRecord[] {
  const inPeriod = rs.filter((r) => r.ts >= since && r.ts < until && r.requestFp);
  const count = new Map<string, number>();
  for (const r of inPeriod)
    count.set(`${r.key} ${r.requestFp}`, (count.get(`${r.key} ${r.requestFp}`) ?? 0) + 1);
  return inPeriod
    .filter((r) => (count.get(`${r.key} ${r.requestFp}`) ?? 0) >= 2)
    .map((r) => ({
      key: r.key,
      fingerprint: r.requestFp as string,
      ts: r.ts,
      status: r.status,
      errorCode: r.errorCode,
      costUsd: r.costUsd,
    }))
    .sort(byKeyFpTs);
}

/** Input tokens at `rank` of the key's records of the period with input, sorted; 0 past the last. */
function expectedRank(
  rs: readonly UsageRecord[],
  key: string,
  since: number,
  until: number,
  rank: number,
): number {
  const inputs = rs
    .filter((r) => r.key === key && r.ts >= since && r.ts < until && r.inputTokens > 0)
    .map((r) => r.inputTokens)
    .sort((a, b) => a - b);
  return inputs[rank] ?? 0;
}

describe.skipIf(process.env.TOLLGATE_TEST_SKIP_PG === '1')('insight reads on PostgreSQL', () => {
  let db: TestDatabase;
  let store: Store;
  const rs = records();
  const sql = async (text: string, values: unknown[] = []) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(text, values)).rows as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase('tollgate_insight_reads');
    store = createPostgresStore(db.url, { poolSize: 4 });
    await store.init();
    const n = USAGE_COLUMN_NAMES.length;
    await sql(
      `INSERT INTO usage (${USAGE_COLUMN_NAMES.join(', ')}) VALUES ${rs
        .map((_, r) => `(${USAGE_COLUMN_NAMES.map((_, c) => `$${r * n + c + 1}`).join(', ')})`)
        .join(', ')}`,
      rs.flatMap((r) => usageColumnValues(r, (c, v) => (c === 'cost_usd' ? String(v) : v))),
    );
    await sql('ANALYZE usage');
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('reads every key’s repeats in two halves at the histogram’s middle key, none lost or doubled', async () => {
    const [stats] = await sql(
      `SELECT histogram_bounds::text::text[] AS b FROM pg_stats WHERE tablename = 'usage' AND attname = 'key'`,
    );
    // The split is taken: ANALYZE made a histogram, and its middle key is one of the keys.
    const bounds = stats?.b as string[] | null | undefined;
    expect(bounds?.length).toBeGreaterThan(2);
    const middle = bounds?.[Math.floor(((bounds?.length ?? 0) + 1) / 2) - 1];
    expect(KEYS).toContain(middle);
    expect(KEYS.indexOf(middle as string)).toBeGreaterThan(0);

    for (const [since, until] of [
      [START, UNTIL],
      [START + 10 * HOUR, START + 30 * HOUR],
    ] as const) {
      const facts = await store.insightFacts(query(since, until));
      const repeats = [...facts.repeats].sort(byKeyFpTs);
      expect(repeats).toEqual(expectedRepeats(rs, since, until));
      // The read keeps each key's records together, by fingerprint and time (what the rules read).
      const ofMiddle = facts.repeats.filter((r) => r.key === middle);
      expect(ofMiddle.map((r) => r.ts)).toEqual([...ofMiddle.map((r) => r.ts)].sort((a, b) => a - b));
    }
    const one = await store.insightFacts({ ...query(START, UNTIL), key: middle as string });
    expect(one.repeats).toEqual(expectedRepeats(rs, START, UNTIL).filter((r) => r.key === middle));
  });

  it('answers ranks asked together, of many keys and two periods, each as its own query would', async () => {
    const asks: Array<[string, number, number, number]> = [];
    for (const key of KEYS.slice(0, 60)) {
      for (const rank of [0, 1, 2, 3, 9]) {
        asks.push([key, START, UNTIL, rank]);
        asks.push([key, START, START + 30 * HOUR, rank]);
      }
    }
    const got = await Promise.all(
      asks.map(([key, since, until, rank]) => store.inputTokensAtRank(key, since, until, rank)),
    );
    expect(got).toEqual(asks.map(([key, since, until, rank]) => expectedRank(rs, key, since, until, rank)));
    // A rank past the last record, and a key without records, give 0.
    expect(got.filter((n) => n === 0).length).toBeGreaterThan(0);
    await expect(store.inputTokensAtRank('nobody', START, UNTIL, 0)).resolves.toBe(0);
  });
});
