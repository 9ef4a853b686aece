/**
 * How long the daily digest takes on a large day: 1,000,000 usage records over 1,000 keys in one
 * day of a SQLite store, then buildDigest + both renderings, timed. The digest reads the daily
 * rollup (one row per day, key, model and status), the media column the records with media units
 * (none here) and the findings a few keys' insight rollup, so its cost follows the number of
 * rollup rows, not of requests.
 *
 *   npx tsx bench/digest.ts            # BENCH_RECORDS=1000000 BENCH_KEYS=1000 by default
 *   BENCH_GROUPED=1 npx tsx bench/digest.ts   # every key in a group of 10
 *
 * The findings ("Why it costs", src/slack/digest/insight-lines.ts) are timed again on their own
 * and the keys whose findings were computed counted: the digest computes a group's keys and then
 * the others dearest first until none could reach the shown findings, so with no groups (the
 * default) it computes a few keys, and with BENCH_GROUPED=1 every key (its worst case).
 *
 * Filling: settle() is one transaction per record (that is its contract), which would make the
 * fill, not the digest, the slow part of this benchmark. This bench-only path therefore opens the
 * same file with better-sqlite3 after the store's own migrations ran and writes each record with
 * the store's own usage writer (src/store/sqlite/usage-writes.ts: the `usage` row and the
 * `usage_daily` upsert, as settle() writes them), 10,000 records per transaction. Budget counters
 * (`spend`) are not written: the digest never reads them. BENCH_SETTLE=1 fills through
 * store.settle() instead, to check the two agree.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { Config, GroupConfig, KeyConfig } from '../src/config/types.js';
import { buildDigest } from '../src/slack/digest/build-digest.js';
import { buildInsightLines } from '../src/slack/digest/insight-lines.js';
import { renderDigestBlocks } from '../src/slack/digest/render-blocks.js';
import { renderDigestText } from '../src/slack/digest/render-text.js';
import type { InsightQuery } from '../src/store/insight-types.js';
import { createUsageRecorder } from '../src/store/sqlite/usage-writes.js';
import { createSqliteStore } from '../src/store/sqlite.js';
import type { UsageRecord } from '../src/store/types.js';
import { dayRange } from '../src/windows/bounds.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000);
/** Keys in the config that made no request: the "unused for 7 days" path reads last use for them. */
const IDLE_KEYS = 50;
/** Every key in a group of 10: the digest then computes every key's findings. */
const GROUPED = process.env.BENCH_GROUPED === '1';
const TZ = 'Europe/Berlin';
const DAY = '2026-11-26';
const MODELS = ['gpt-4o-mini', 'claude-sonnet-4-5', 'gpt-4o'];
const STATUSES = [200, 200, 200, 200, 200, 200, 200, 429, 500, 401];

const keyName = (i: number) => `tool-${String(i).padStart(4, '0')}`;

function record(i: number, start: number, span: number): UsageRecord {
  // Decorrelated from the key (i % KEYS), so every key sees every status and model.
  const status = STATUSES[Math.floor(i / KEYS) % STATUSES.length] ?? 200;
  return {
    requestId: `bench-${i}`,
    ts: start + Math.floor((i / RECORDS) * span),
    day: DAY,
    key: keyName(i % KEYS),
    model: MODELS[Math.floor(i / 7) % MODELS.length] ?? null,
    upstream: 'openai',
    route: '/v1/chat/completions',
    status,
    errorCode: status === 200 ? null : 'upstream_error',
    inputTokens: 500 + (i % 1000),
    outputTokens: 100 + (i % 300),
    cachedTokens: 0,
    costUsd: status === 200 ? 0.0001 * (1 + (i % 50)) : 0,
    latencyMs: 200,
    stream: i % 2 === 0,
    userAgent: 'bench',
    ip: '127.0.0.1',
    configRevision: 'bench',
    usageSource: 'provider',
  };
}

function config(): Config {
  const keys: Record<string, KeyConfig> = {};
  for (let i = 0; i < KEYS + IDLE_KEYS; i++) {
    const name = keyName(i);
    keys[name] = {
      name,
      hashes: [],
      notify: [],
      limits: i % 2 === 0 ? { dailyUsd: 5, monthlyUsd: 100 } : {},
      disabled: false,
      tags: {},
      ...(i % 3 === 0 ? { expires: '2026-11-30', expiresAt: dayRange('2026-12-01', TZ).start } : {}),
      ...(GROUPED ? { group: groupName(i) } : {}),
    };
  }
  const groups: Record<string, GroupConfig> = {};
  if (GROUPED) {
    for (let i = 0; i < KEYS + IDLE_KEYS; i += 10) groups[groupName(i)] = { name: groupName(i), limits: {} };
  }
  return {
    version: 1,
    server: { timezone: TZ },
    upstreams: {},
    models: {},
    defaults: { limits: {} },
    keys,
    ...(GROUPED ? { groups } : {}),
  };
}

const groupName = (i: number) => `team-${String(Math.floor(i / 10)).padStart(3, '0')}`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** The findings alone, as the digest computes them: CPU per run and the keys computed. */
async function timeInsights(store: ReturnType<typeof createSqliteStore>, cfg: Config): Promise<string> {
  const computed = new Set<string>();
  const counting = {
    ...store,
    insightFacts: (q: InsightQuery) => {
      if (q.key !== undefined) computed.add(q.key);
      return store.insightFacts(q);
    },
  };
  const cpu: number[] = [];
  let shown = 0;
  for (let run = 0; run < 6; run++) {
    const c0 = process.cpuUsage();
    const lines = await buildInsightLines(counting, cfg, DAY);
    const c = process.cpuUsage(c0);
    if (run > 0) cpu.push((c.user + c.system) / 1000);
    shown = lines.findings.length;
  }
  return `findings alone (buildInsightLines, inside the figure above): process CPU median ${median(cpu).toFixed(1)} ms; ${shown} shown, computed for ${computed.size} of ${Object.keys(cfg.keys).length} configured keys${GROUPED ? ' (every key in a group)' : ''}`;
}

function fillDirect(path: string, start: number, span: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // The store's own writer of a usage row and its rollups (what settle() writes for usage).
  const recorder = createUsageRecorder(db);
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      recorder.record(record(i, start, span));
    }
    recorder.flush();
  });
  for (let i = 0; i < RECORDS; i += 10_000) batch(i, Math.min(RECORDS, i + 10_000));
  db.close();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-digest-'));
  const path = join(dir, 'tollgate.db');
  try {
    const store = createSqliteStore(path);
    await store.init();
    const { start, end } = dayRange(DAY, TZ);
    const fillStart = performance.now();
    if (process.env.BENCH_SETTLE === '1') {
      for (let i = 0; i < RECORDS; i++) {
        const r = record(i, start, end - start - 1);
        await store.settle(r, [`d:${DAY}`, `m:${DAY.slice(0, 7)}`]);
      }
    } else {
      fillDirect(path, start, end - start - 1);
    }
    const fillMs = performance.now() - fillStart;
    console.log(
      `filled ${RECORDS.toLocaleString('en-US')} records over ${KEYS} keys in ${(fillMs / 1000).toFixed(1)} s (${Math.round(RECORDS / (fillMs / 1000)).toLocaleString('en-US')}/s)`,
    );

    const cfg = config();
    const now = end + 9 * 3_600_000;
    const times: number[] = [];
    const cpu: number[] = [];
    let summary = '';
    for (let run = 0; run < 6; run++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const d = await buildDigest({ store, config: cfg, revision: 'bench', day: DAY, now });
      const blocks = renderDigestBlocks(d);
      const text = renderDigestText(d);
      times.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      summary = `${d.keys.length} keys in the table, ${d.total.requests.toLocaleString('en-US')} requests, ${d.flags.length} flags, ${blocks.blocks.length} blocks, ${text.length.toLocaleString('en-US')} characters of text`;
    }
    const rollupRows = (await store.rollup(DAY, DAY)).length;
    const [first, ...warm] = times;
    warm.sort((a, b) => a - b);
    const warmCpu = cpu.slice(1).sort((a, b) => a - b);
    console.log(summary);
    console.log(`rollup rows for the day: ${rollupRows.toLocaleString('en-US')}`);
    console.log(
      `buildDigest + renderDigestBlocks + renderDigestText: first ${first?.toFixed(1)} ms, then median ${warm[Math.floor(warm.length / 2)]?.toFixed(1)} ms, max ${warm.at(-1)?.toFixed(1)} ms (${warm.length} runs); process CPU median ${warmCpu[Math.floor(warmCpu.length / 2)]?.toFixed(1)} ms (SQLite runs in process); load average ${loadavg()[0]?.toFixed(1)}`,
    );
    console.log(await timeInsights(store, cfg));
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
