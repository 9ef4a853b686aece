/**
 * How fast the dashboard answers on a large store: 1,000,000 usage records over 1,000 keys and
 * the last 30 days in a SQLite store, then the real server (startServer, express, the dashboard
 * router) timed over HTTP for the overview, a key's page and the CSV exports.
 *
 *   npm run bench:dashboard            # BENCH_RECORDS=1000000 BENCH_KEYS=1000 by default
 *
 * Filling goes around settle() (one transaction per record) as bench/digest.ts does: the store's
 * own usage writer (src/store/sqlite/usage-writes.ts) for `usage` and `usage_daily`, plus the budget
 * counters (`spend`) written once per key and period at the end, 10,000 records per transaction.
 * Pages read the rollup and the counters only; the CSV export of `tollgate usage` rows reads the
 * usage table, as the CLI does, and is reported separately.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { hashKey, mintKey } from '../src/keys/format.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { createUsageRecorder } from '../src/store/sqlite/usage-writes.js';
import { createSqliteStore } from '../src/store/sqlite.js';
import type { UsageRecord } from '../src/store/types.js';
import { dayOf, monthOf } from '../src/windows/calendar.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const DAYS = 30;
const TZ = 'UTC';
const MODELS = ['gpt-4o-mini', 'claude-sonnet-4-5', 'gpt-4o'];
const STATUSES = [200, 200, 200, 200, 200, 200, 200, 429, 500, 401];
const TOKEN = 'bench-admin-token-0123456789abcdef0123';

const keyName = (i: number) => `tool-${String(i).padStart(4, '0')}`;

function fill(path: string, now: number): { rollupRows: number } {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // The store's own writer of a usage row and its rollups (what settle() writes for usage).
  const recorder = createUsageRecorder(db);
  const spend = new Map<string, number>();
  const span = DAYS * 86_400_000 - 1;
  const start = now - span;
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const ts = start + Math.floor((i / RECORDS) * span);
      const day = dayOf(ts, TZ);
      const key = keyName(i % KEYS);
      const status = STATUSES[Math.floor(i / KEYS) % STATUSES.length] ?? 200;
      const model = MODELS[Math.floor(i / 7) % MODELS.length] ?? 'gpt-4o-mini';
      const cost = status === 200 ? 0.0001 * (1 + (i % 50)) : 0;
      const u: UsageRecord = {
        requestId: `bench-${i}`,
        ts,
        day,
        key,
        model,
        upstream: 'openai',
        route: '/v1/chat/completions',
        status,
        errorCode: status === 200 ? null : 'upstream_error',
        inputTokens: 500 + (i % 1000),
        outputTokens: 100 + (i % 300),
        cachedTokens: 0,
        costUsd: cost,
        latencyMs: 200 + (i % 900),
        stream: i % 2 === 1,
        userAgent: 'bench/1.0',
        ip: '127.0.0.1',
        configRevision: 'bench',
        usageSource: 'provider',
      };
      if (recorder.record(u)) {
        for (const period of [`d:${day}`, `m:${monthOf(ts, TZ)}`]) {
          const id = `${key}\u0000${period}`;
          spend.set(id, (spend.get(id) ?? 0) + cost);
        }
      }
    }
    recorder.flush();
  });
  for (let i = 0; i < RECORDS; i += 10_000) batch(i, Math.min(RECORDS, i + 10_000));
  const addSpend = db.prepare('INSERT INTO spend (key, period, spent_usd, reserved_usd) VALUES (?, ?, ?, 0)');
  db.transaction(() => {
    for (const [id, usd] of spend) {
      const [key, period] = id.split('\u0000') as [string, string];
      addSpend.run(key, period, usd);
    }
  })();
  // A few disables and audit entries, as a fleet of this size would have.
  for (let i = 0; i < 20; i++) {
    db.prepare(
      "INSERT INTO audit (at, actor, source, action, key, reason, result) VALUES (?, 'U01', 'slack', 'disable', ?, 'bench', 'ok')",
    ).run(now - i * 3_600_000, keyName(i));
  }
  const rollupRows = (db.prepare('SELECT COUNT(*) AS n FROM usage_daily').get() as { n: number }).n;
  db.close();
  return { rollupRows };
}

function keysYaml(): string {
  const lines = ['version: 1', 'server:', `  timezone: ${TZ}`, 'keys:'];
  for (let i = 0; i < KEYS; i++) {
    lines.push(`  ${keyName(i)}:`, `    hash: ${hashKey(mintKey())}`, `    description: bench tool ${i}`);
    lines.push(i % 2 === 0 ? '    limits: { daily_usd: 5, monthly_usd: 100 }' : '    limits: {}');
    if (i % 3 === 0) lines.push('    expires: 2099-12-31');
  }
  return `${lines.join('\n')}\n`;
}

async function time(
  url: string,
  cookie: string,
  accept = 'text/html',
): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { cookie, accept } });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body.slice(0, 200)}`);
  return { ms, bytes: body.length };
}

function summary(label: string, samples: { ms: number; bytes: number }[]): void {
  const [first, ...rest] = samples;
  const warm = rest.map((s) => s.ms).sort((a, b) => a - b);
  const q = (p: number) => warm[Math.min(warm.length - 1, Math.floor(p * warm.length))]?.toFixed(1);
  console.log(
    `${label.padEnd(34)} first ${first?.ms.toFixed(1)} ms, then median ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${warm.at(-1)?.toFixed(1)} ms (${warm.length} runs, ${Math.round((first?.bytes ?? 0) / 1024)} kB)`,
  );
}

async function main(): Promise<void> {
  // BENCH_DIR keeps the filled store between runs (filled once, reused while it exists).
  const keep = process.env.BENCH_DIR;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'tollgate-bench-dashboard-'));
  const dbPath = join(dir, 'data', 'tollgate.db');
  const configFile = join(dir, 'config', 'keys.yaml');
  try {
    const now = Date.now();
    if (!existsSync(dbPath)) {
      mkdirSync(join(dir, 'data'), { recursive: true });
      mkdirSync(join(dir, 'config'), { recursive: true });
      writeFileSync(configFile, keysYaml());
      const store = createSqliteStore(dbPath);
      await store.init();
      await store.close();
      const t0 = performance.now();
      const { rollupRows } = fill(dbPath, now);
      console.log(
        `filled ${RECORDS.toLocaleString('en-US')} records over ${KEYS.toLocaleString('en-US')} keys and ${DAYS} days in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${rollupRows.toLocaleString('en-US')} rollup rows`,
      );
    }

    const server = await startServer({
      configFile,
      port: '0',
      host: '127.0.0.1',
      store: `sqlite:${dbPath}`,
      env: { TOLLGATE_ADMIN_TOKEN: TOKEN },
      log: createLogger({ level: 'warn' }),
    });
    try {
      const signIn = await fetch(`${server.url}/dashboard/sign-in`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: TOKEN }).toString(),
      });
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const pages: [string, string, string?][] = [
        ['overview', '/dashboard'],
        ['overview, all keys shown', '/dashboard?keys_all=1'],
        ['overview sorted by errors', '/dashboard?keys_sort=errors&keys_dir=desc'],
        ['key page', `/dashboard/keys/${keyName(7)}`],
        ['key page, all requests', `/dashboard/keys/${keyName(999 % KEYS)}?requests_all=1`],
        ["key's requests CSV", `/dashboard/keys/${keyName(7)}/requests.csv`, 'text/csv'],
      ];
      for (const [label, path, accept] of pages) {
        const samples = [];
        for (let i = 0; i <= RUNS; i++) samples.push(await time(`${server.url}${path}`, cookie, accept));
        summary(label, samples);
      }
      // `tollgate usage` rows: the usage table itself, as the CLI reads it.
      for (const [label, path] of [
        ['usage CSV by key, this month', `/dashboard/usage.csv?by=key&since=${monthOf(now, TZ)}-01`],
        ['usage CSV by model, 30 days', '/dashboard/usage.csv?by=model&since=30d'],
      ] as const) {
        const samples = [];
        for (let i = 0; i <= 3; i++) samples.push(await time(`${server.url}${path}`, cookie, 'text/csv'));
        summary(label, samples);
      }
    } finally {
      await server.close();
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
