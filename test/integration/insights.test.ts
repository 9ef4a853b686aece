import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeInsights } from '../../src/insights/compute.js';
import type { Finding } from '../../src/insights/types.js';
import { buildDigest } from '../../src/slack/digest/build-digest.js';
import { formatUsd } from '../../src/slack/digest/money.js';
import { renderDigestBlocks } from '../../src/slack/digest/render-blocks.js';
import { renderDigestText } from '../../src/slack/digest/render-text.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, manualClock, startGateway } from '../helpers/gateway-harness.js';
import { ask, createSender, INSIGHTS_YAML } from '../helpers/insight-traffic.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

/**
 * Each pattern of docs/insights.md made through the real gateway, one key each, and read back as
 * findings with their dollars and requests; the same traffic on SQLite and on PostgreSQL gives
 * the same findings. Prices: small-model $0.50 / $1.50 per million input / output tokens,
 * big-model $15 / $75.
 */

const SMALL = (input: number, output: number, cached = 0) =>
  ((input - cached) * 0.5 + cached * 0.05 + output * 1.5) / 1e6;
const BIG = (input: number, output: number) => (input * 15 + output * 75) / 1e6;

// Tuesday 2026-11-24, 10:00 and 02:00 in Berlin (UTC+1).
const DAY = Date.UTC(2026, 10, 24, 9, 0, 0);
const NIGHT = Date.UTC(2026, 10, 24, 1, 0, 0);
const SINCE = Date.UTC(2026, 10, 23, 0, 0, 0);
const UNTIL = Date.UTC(2026, 10, 25, 0, 0, 0);
const longSystem = `You are the house coding agent. Follow the repository rules. ${'Rule: keep functions small. '.repeat(300)}`;

async function playTraffic(h: Harness, upstream: FakeUpstream, clock: ReturnType<typeof manualClock>) {
  const { send } = createSender(h, upstream);
  const step = (at: number) => clock.set(at);
  // loop: one request twelve times, 30 s apart.
  for (let i = 0; i < 12; i++) {
    step(DAY + i * 30_000);
    await send('looper', ask('small-model', 'Is the build green yet?'), {
      usage: { prompt: 10_000, completion: 1_000 },
    });
  }
  // retries: three requests, each failing with a 500 once and sent again a few seconds later.
  for (let i = 0; i < 3; i++) {
    const body = ask('small-model', `Summarize ticket ${i}`);
    step(DAY + 3_600_000 + i * 60_000);
    await send('retrier', body, { usage: { prompt: 0, completion: 0 }, status: 500 });
    step(DAY + 3_600_000 + i * 60_000 + 5_000);
    await send('retrier', body, { usage: { prompt: 10_000, completion: 1_000 } });
  }
  // long context: four requests of 40,000 input tokens, four small ones.
  for (let i = 0; i < 8; i++) {
    step(DAY + 2 * 3_600_000 + i * 60_000);
    const long = i % 2 === 0;
    await send('reader', ask('small-model', `Read file ${i}`), {
      usage: long ? { prompt: 40_000, completion: 500 } : { prompt: 1_000, completion: 100 },
    });
  }
  // answers cut at max_tokens: ten of them.
  for (let i = 0; i < 10; i++) {
    step(DAY + 3 * 3_600_000 + i * 60_000);
    await send('talker', ask('small-model', `Write chapter ${i}`, { max_tokens: 2_000 }), {
      usage: { prompt: 5_000, completion: 2_000 },
    });
  }
  // night-time traffic: five requests at 02:00, one at 10:00.
  for (let i = 0; i < 6; i++) {
    step(i < 5 ? NIGHT + i * 60_000 : DAY + 4 * 3_600_000);
    await send('nightly', ask('small-model', `Nightly job ${i}`), {
      usage: { prompt: 10_000, completion: 1_000 },
    });
  }
  // tiny questions on the dear model, the cheap one allowed.
  for (let i = 0; i < 10; i++) {
    step(DAY + 5 * 3_600_000 + i * 60_000);
    await send('asker', ask('big-model', `What is ${i} + ${i}?`), {
      usage: { prompt: 500, completion: 200 },
    });
  }
  // one long system prompt sent again and again without cache reads.
  for (let i = 0; i < 6; i++) {
    step(DAY + 6 * 3_600_000 + i * 60_000);
    const body = {
      model: 'small-model',
      messages: [
        { role: 'system', content: longSystem },
        { role: 'user', content: `Task ${i}` },
      ],
    };
    await send('agent', body, { usage: { prompt: 10_000, completion: 100 } });
  }
  // two user-agent families on one key.
  for (let i = 0; i < 5; i++) {
    step(DAY + 7 * 3_600_000 + i * 60_000);
    await send('shared', ask('small-model', `Question ${i}`), {
      usage: { prompt: 10_000, completion: 1_000 },
      userAgent: i < 3 ? 'OpenAI/JS 6.1.0' : 'curl/8.5.0',
    });
  }
  // two keys without limits, in one group (without limits either).
  for (let i = 0; i < 3; i++) {
    step(DAY + 8 * 3_600_000 + i * 60_000);
    await send('open', ask('small-model', `Open question ${i}`), {
      usage: { prompt: 10_000, completion: 1_000 },
    });
    await send('open-too', ask('small-model', `Other question ${i}`), {
      usage: { prompt: 5_000, completion: 1_000 },
    });
  }
  // ordinary use: daytime, varied prompts, a long prefix that the provider caches.
  for (let i = 0; i < 8; i++) {
    step(DAY + 9 * 3_600_000 + i * 60_000);
    const body = {
      model: 'small-model',
      messages: [
        { role: 'system', content: longSystem },
        { role: 'user', content: `Everyday question number ${i}` },
      ],
    };
    await send('steady', body, { usage: { prompt: 2_000, completion: 300, cached: 1_500 } });
  }
}

const TRAFFIC_RECORDS = 12 + 6 + 8 + 10 + 6 + 10 + 6 + 5 + 3 + 3 + 8;

type RawRow = Record<string, unknown>;
interface Backend {
  name: string;
  open(db: TestDatabase | undefined, dir: string): Promise<Store>;
  /** Every row of the usage table and of the secrets table, as the database has them. */
  raw(db: TestDatabase | undefined, dir: string): Promise<{ usage: RawRow[]; secrets: RawRow[] }>;
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    open: async (_db, dir) => createSqliteStore(join(dir, 'tollgate.db')),
    raw: async (_db, dir) => {
      const conn = new Database(join(dir, 'tollgate.db'), { readonly: true });
      try {
        return {
          usage: conn.prepare('SELECT * FROM usage').all() as RawRow[],
          secrets: conn.prepare('SELECT * FROM secrets').all() as RawRow[],
        };
      } finally {
        conn.close();
      }
    },
  },
  ...(process.env.TOLLGATE_TEST_SKIP_PG === '1'
    ? []
    : [
        {
          name: 'PostgreSQL',
          open: async (db: TestDatabase | undefined) => createPostgresStore(db?.url ?? '', { poolSize: 4 }),
          raw: async (db: TestDatabase | undefined) => {
            const c = new pg.Client({ connectionString: db?.url });
            await c.connect();
            try {
              return {
                usage: (await c.query('SELECT * FROM usage')).rows as RawRow[],
                secrets: (await c.query('SELECT * FROM secrets')).rows as RawRow[],
              };
            } finally {
              await c.end();
            }
          },
        },
      ]),
];

const results = new Map<string, Finding[]>();
const rawRows = new Map<string, RawRow[]>();

describe.each(backends)('insights on $name', ({ name, open, raw }) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-insights-'));
  let upstream: FakeUpstream;
  let h: Harness;
  let store: Store;
  let db: TestDatabase | undefined;
  let findings: Finding[];
  const clock = manualClock(DAY);
  const of = (key: string, kind: string) => findings.find((f) => f.key === key && f.kind === kind);
  const kindsOf = (key: string) =>
    findings
      .filter((f) => f.key === key)
      .map((f) => f.kind)
      .sort();

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    if (name === 'PostgreSQL') db = await createTestDatabase('tollgate_insights');
    store = await open(db, dir);
    await store.init();
    h = await startGateway({ yaml: INSIGHTS_YAML(upstream.baseUrl), clock, store });
    await playTraffic(h, upstream, clock);
    await h.waitForRecords(TRAFFIC_RECORDS);
    findings = await computeInsights({
      store,
      config: h.deps.config.current().config,
      since: SINCE,
      until: UNTIL,
    });
    results.set(name, findings);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await store?.close();
    await upstream?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds a loop of one request sent twelve times in six minutes', () => {
    const f = of('looper', 'loop');
    expect(f?.usd).toBeCloseTo(12 * SMALL(10_000, 1_000), 6);
    expect(f?.count).toBe(12);
    expect(f?.share).toBeCloseTo(1, 6);
    expect(f?.suggestion).toContain('hourly_usd');
    expect(kindsOf('looper')).toEqual(['loop']);
  });

  it('finds requests sent again after a 500, counting the failures and the resends', () => {
    const f = of('retrier', 'retries');
    expect(f?.usd).toBeCloseTo(3 * SMALL(10_000, 1_000), 6);
    expect(f?.count).toBe(6);
    expect(f?.detail).toContain('500 ×3');
    expect(kindsOf('retrier')).toEqual(['retries']);
  });

  it('finds long context carrying most of the spend, with median and p95 input tokens', () => {
    const f = of('reader', 'long_context');
    expect(f?.usd).toBeCloseTo(4 * SMALL(40_000, 500), 6);
    expect(f?.count).toBe(4);
    expect(f?.detail).toContain('median input 1,000 tokens, p95 40,000');
    expect(kindsOf('reader')).toEqual(['long_context']);
  });

  it('finds answers that stop at their max_tokens', () => {
    const f = of('talker', 'verbose_output');
    expect(f?.usd).toBeCloseTo(10 * SMALL(5_000, 2_000), 6);
    expect(f?.count).toBe(10);
    expect(f?.detail).toContain('stopped at their output limit');
    expect(kindsOf('talker')).toEqual(['verbose_output']);
  });

  it('finds spend outside working hours in the configured timezone', () => {
    const f = of('nightly', 'off_hours');
    expect(f?.usd).toBeCloseTo(5 * SMALL(10_000, 1_000), 6);
    expect(f?.count).toBe(5);
    expect(f?.share).toBeCloseTo(5 / 6, 6);
    expect(kindsOf('nightly')).toEqual(['off_hours']);
  });

  it('finds tiny requests on a dear model and prices them on the cheap one the key may use', () => {
    const f = of('asker', 'expensive_model');
    expect(f?.usd).toBeCloseTo(10 * BIG(500, 200), 6);
    expect(f?.count).toBe(10);
    expect(f?.detail).toContain('small-model would have cost $0.0055');
    expect(f?.suggestion).toContain('models: [small-model]');
    expect(kindsOf('asker')).toEqual(['expensive_model']);
  });

  it('finds a long prompt prefix sent again and again without cache reads', () => {
    const f = of('agent', 'cache_unused');
    expect(f?.usd).toBeCloseTo(6 * SMALL(10_000, 100), 6);
    expect(f?.count).toBe(6);
    expect(f?.detail).toMatch(/would have saved about \$0\.\d+/);
    expect(kindsOf('agent')).toEqual(['cache_unused']);
  });

  it('finds two user-agent families on one key, with the smaller one to move', () => {
    const f = of('shared', 'shared_key');
    expect(f?.usd).toBeCloseTo(2 * SMALL(10_000, 1_000), 6);
    expect(f?.count).toBe(2);
    expect(f?.detail).toContain('OpenAI from 127.0.0.0/24');
    expect(f?.detail).toContain('curl from 127.0.0.0/24');
    expect(kindsOf('shared')).toEqual(['shared_key']);
  });

  it('finds a key spending without a daily or monthly limit and suggests one', () => {
    const f = of('open', 'no_limit');
    expect(f?.usd).toBeCloseTo(3 * SMALL(10_000, 1_000), 6);
    expect(f?.count).toBe(3);
    expect(f?.suggestion).toContain('daily_usd: 0.05');
    expect(kindsOf('open')).toEqual(['no_limit']);
  });

  it("puts the day's dearest findings in the digest, with a line for a group whose keys share a cause", async () => {
    const config = h.deps.config.current().config;
    const digest = await buildDigest({ store, config, revision: 'r', day: '2026-11-24', now: UNTIL });
    const text = renderDigestText(digest);
    expect(text).toContain('Why it costs');
    // $0.225 exactly: the money as stored, not this test's float sum of it.
    expect(text).toContain('asker: expensive model, $0.23 (100% of its spend), 10 requests');
    expect(text).toContain(
      `group adhoc: no limit on 2 keys (open, open-too), ${formatUsd(3 * SMALL(10_000, 1_000) + 3 * SMALL(5_000, 1_000))} in all`,
    );
    const blocks = JSON.stringify(renderDigestBlocks(digest).blocks);
    expect(blocks).toContain('*Why it costs*');
    expect(blocks).toContain('asker: expensive model');
  });

  it('finds nothing in ordinary daytime use with varied prompts and a cached prefix', () => {
    expect(kindsOf('steady')).toEqual([]);
  });

  it('keeps keyed fingerprints in the usage table, and neither the secret nor a prompt', async () => {
    const { usage, secrets } = await raw(db, dir);
    rawRows.set(name, usage);
    const secret = String(secrets.find((r) => r.name === 'fingerprint')?.value);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    const looper = usage.filter((r) => r.key === 'looper');
    expect(new Set(looper.map((r) => r.request_fp)).size).toBe(1);
    expect(String(looper[0]?.request_fp)).toMatch(/^[0-9a-f]{32}$/);
    const agent = usage.filter((r) => r.key === 'agent');
    expect(new Set(agent.map((r) => r.prefix_fp)).size).toBe(1);
    expect(new Set(agent.map((r) => r.request_fp)).size).toBe(6);
    const table = JSON.stringify(usage);
    expect(table).not.toContain(secret);
    expect(table).not.toContain('house coding agent');
    expect(table).not.toContain('Is the build green');
  });
});

describe('insights on both stores', () => {
  it('gives the same findings on SQLite and PostgreSQL', () => {
    if (backends.length < 2) return;
    const [a, b] = [results.get('SQLite'), results.get('PostgreSQL')];
    expect(a?.length).toBeGreaterThan(0);
    const rounded = (fs: Finding[] | undefined) =>
      fs?.map((f) => ({ ...f, usd: Math.round(f.usd * 1e9), share: Math.round(f.share * 1e9) }));
    expect(rounded(b)).toEqual(rounded(a));
  });

  it('fingerprints one request differently in two stores (each has its own secret)', () => {
    if (backends.length < 2) return;
    const fp = (name: string) => rawRows.get(name)?.find((r) => r.key === 'looper')?.request_fp;
    expect(fp('SQLite')).toMatch(/^[0-9a-f]{32}$/);
    expect(fp('PostgreSQL')).toMatch(/^[0-9a-f]{32}$/);
    expect(fp('PostgreSQL')).not.toBe(fp('SQLite'));
  });
});
