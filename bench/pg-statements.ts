/**
 * Where the database's CPU goes for one gateway request on PostgreSQL: tollgate built (dist/)
 * and driven by wrk as `npm run bench` drives its PostgreSQL row, with every statement the
 * gateway sends counted in the gateway (bench/lib/pg-count.mjs, preloaded), the database's own
 * per-function time (track_functions = all, set on this bench's database only), its commits and
 * row writes per table, and the CPU of this database's backends read from /proc (other work on
 * the server does not count; the background processes are shown apart).
 * Informational, not a test:
 *
 *   npm run build && npx tsx bench/pg-statements.ts [--seconds 10] [--replicas 1] [--mode json]
 *        [--lease-horizon-ms 2000] [--connections 50 (split between the replicas)]
 *        [--cpu-prof DIR (each replica's node --cpu-prof, written at the end)] [--dist DIR (A/B: another build)]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createTestDatabase } from '../test/helpers/pg.js';
import type { Mode } from './lib/configs.js';
import { cpuOf } from './lib/proc-stats.js';
import { cleanUp, onCleanUp } from './lib/procs.js';
import { startTollgate, startUpstream, type Target } from './lib/targets.js';
import { throughput } from './lib/wrk.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    replicas: { type: 'string', default: '1' },
    mode: { type: 'string', default: 'json' },
    'lease-horizon-ms': { type: 'string' },
    'cpu-prof': { type: 'string' },
    connections: { type: 'string', default: '50' },
    dist: { type: 'string', default: 'dist' },
  },
});
const seconds = Number(values.seconds);
const replicaCount = Number(values.replicas);
const mode = values.mode as Mode;
const connections = Number(values.connections);
const log = (s: string) => console.error(`[pg-statements] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Snapshot {
  statements: Map<string, { calls: number; ms: number }>;
  functions: Map<string, { calls: number; self: number; total: number }>;
  tables: Map<string, { ins: number; upd: number; del: number; hot: number }>;
  db: { commits: number; rollbacks: number };
  wal: { records: number; bytes: number };
  cpu: { own: number; background: number; other: number; all: Map<number, number> };
}

/** Every postgres process's CPU so far, by pid (as `npm run bench` counts it). */
function allPostgres(): Map<number, number> {
  const out = new Map<number, number>();
  let pids: number[] = [];
  try {
    pids = execFileSync('pgrep', ['-x', 'postgres'])
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {}
  for (const p of pids) {
    try {
      out.set(p, cpuOf([p]));
    } catch {}
  }
  return out;
}

async function snapshot(
  admin: pg.Client,
  dbName: string,
  replicas: Target[],
  files: string[],
): Promise<Snapshot> {
  // The gateways' own counts: each writes its file on SIGUSR2.
  const statements = new Map<string, { calls: number; ms: number }>();
  for (const [i, r] of replicas.entries()) {
    const f = files[i] as string;
    const before = (() => {
      try {
        return statSync(f).mtimeMs;
      } catch {
        return 0;
      }
    })();
    process.kill(r.child.pid as number, 'SIGUSR2');
    for (let t = 0; t < 100; t++) {
      await sleep(20);
      try {
        if (statSync(f).mtimeMs !== before) break;
      } catch {}
    }
    await sleep(20);
    const counts = JSON.parse(readFileSync(f, 'utf8')) as Record<string, { calls: number; ms: number }>;
    for (const [k, v] of Object.entries(counts)) {
      const c = statements.get(k) ?? { calls: 0, ms: 0 };
      c.calls += v.calls;
      c.ms += v.ms;
      statements.set(k, c);
    }
  }
  const db = await admin.query<{ datname: string; xact_commit: string; xact_rollback: string }>(
    'SELECT datname, xact_commit, xact_rollback FROM pg_stat_database WHERE datname = $1',
    [dbName],
  );
  const wal = await admin.query<{ wal_records: string; wal_bytes: string }>(
    'SELECT wal_records, wal_bytes FROM pg_stat_wal',
  );
  const act = await admin.query<{ pid: number; datname: string | null; backend_type: string }>(
    'SELECT pid, datname, backend_type FROM pg_stat_activity WHERE pid <> pg_backend_pid()',
  );
  const cpu = { own: 0, background: 0, other: 0, all: allPostgres() };
  for (const a of act.rows) {
    let us = 0;
    try {
      us = cpuOf([a.pid]);
    } catch {
      continue;
    }
    if (a.datname === dbName) cpu.own += us;
    else if (a.backend_type !== 'client backend') cpu.background += us;
    else cpu.other += us;
  }
  // The stats views of another database are read from a connection to it.
  const c = new pg.Client({ connectionString: urlOf(dbName) });
  await c.connect();
  try {
    const fns = await c.query<{ funcname: string; calls: string; self_time: number; total_time: number }>(
      'SELECT funcname, calls, self_time, total_time FROM pg_stat_user_functions',
    );
    const tabs = await c.query<{
      relname: string;
      n_tup_ins: string;
      n_tup_upd: string;
      n_tup_del: string;
      n_tup_hot_upd: string;
    }>('SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd FROM pg_stat_user_tables');
    return {
      statements,
      functions: new Map(
        fns.rows.map((r) => [r.funcname, { calls: Number(r.calls), self: r.self_time, total: r.total_time }]),
      ),
      tables: new Map(
        tabs.rows.map((r) => [
          r.relname,
          {
            ins: Number(r.n_tup_ins),
            upd: Number(r.n_tup_upd),
            del: Number(r.n_tup_del),
            hot: Number(r.n_tup_hot_upd),
          },
        ]),
      ),
      db: {
        commits: Number(db.rows[0]?.xact_commit ?? 0),
        rollbacks: Number(db.rows[0]?.xact_rollback ?? 0),
      },
      wal: { records: Number(wal.rows[0]?.wal_records ?? 0), bytes: Number(wal.rows[0]?.wal_bytes ?? 0) },
      cpu,
    };
  } finally {
    await c.end();
  }
}

let adminUrl = '';
const urlOf = (name: string) => {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
};

const dir = mkdtempSync(join(tmpdir(), 'tollgate-pgstmt-'));
onCleanUp(() => rmSync(dir, { recursive: true, force: true }));
try {
  const db = await createTestDatabase('tollgate_bench');
  onCleanUp(() => db.drop());
  adminUrl = db.url.replace(`/${db.name}`, '/postgres');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  onCleanUp(() => admin.end());
  await admin.query(`ALTER DATABASE ${db.name} SET track_functions = 'all'`);
  const upstream = await startUpstream(dir);
  const store = values['lease-horizon-ms']
    ? `${db.url}?lease_horizon_ms=${values['lease-horizon-ms']}`
    : db.url;
  const replicas: Target[] = [];
  const files: string[] = [];
  for (let i = 0; i < replicaCount; i++) {
    const file = join(dir, `counts-${i}.json`);
    files.push(file);
    replicas.push(
      await startTollgate(dir, `pgs-${i}`, `replica ${i}`, {
        upstreamPort: upstream.port,
        keys: 10,
        store,
        dist: values.dist,
        nodeArgs: [
          '--import',
          resolve('bench/lib/pg-count.mjs'),
          ...(values['cpu-prof']
            ? ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof'], `replica-${i}`)]
            : []),
        ],
        env: { PG_COUNT_FILE: file },
      }),
    );
  }
  const first = replicas[0] as Target;
  // Every replica serves the same keys.yaml (the bench key among them).
  for (const r of replicas.slice(1))
    writeFileSync(r.configFile as string, readFileSync(first.configFile as string));
  // SIGHUP only once a replica printed its "listening" line: its port accepts connections a little
  // earlier, before its SIGHUP handler is in, and SIGHUP's default action ends the process.
  for (const [i, r] of replicas.entries()) {
    if (i === 0) continue;
    const logFile = join(dir, `tollgate-pgs-${i}.log`);
    for (let t = 0; t < 200 && !readFileSync(logFile, 'utf8').includes('tollgate listening on'); t++)
      await sleep(25);
    process.kill(r.child.pid as number, 'SIGHUP');
  }
  const target: Target = replicaCount > 1 ? { ...first, id: 'pgs', replicas } : { ...first, id: 'pgs' };
  log('warm-up 3 s');
  await throughput(dir, target, mode, 3, connections);
  // Stats are flushed by a backend at most once a second, and 10 s after it went idle.
  await sleep(11_000);
  const a = await snapshot(admin, db.name, replicas, files);
  log(`load: ${seconds} s of ${mode}, ${replicaCount} replica(s)`);
  const m = await throughput(dir, target, mode, seconds, connections);
  await sleep(11_000);
  const b = await snapshot(admin, db.name, replicas, files);
  const n = m.requests;
  const per = (x: number) => x / n;
  const idle = 11 + 0.5; // s of the window with no load: the background rounds still ran
  console.log(
    `\n${n} requests in ${seconds} s (${Math.round(m.rps)} req/s, ${mode}, ${replicaCount} replica(s)); gateway CPU ${Math.round(m.cpuUsPerRequest)} µs/req`,
  );
  console.log(
    `database CPU per request: this database's backends ${Math.round(per(b.cpu.own - a.cpu.own))} µs, ` +
      `background processes ${Math.round(per(b.cpu.background - a.cpu.background))} µs, ` +
      `other databases' backends ${Math.round(per(b.cpu.other - a.cpu.other))} µs (window includes ${idle} s idle)`,
  );
  let all = 0;
  for (const [pid, us] of b.cpu.all) all += us - (a.cpu.all.get(pid) ?? 0);
  console.log(`every postgres process (as npm run bench counts): ${Math.round(per(all))} µs per request`);
  console.log(
    `commits per request ${per(b.db.commits - a.db.commits).toFixed(3)}, rollbacks ${per(b.db.rollbacks - a.db.rollbacks).toFixed(3)}, ` +
      `WAL records ${per(b.wal.records - a.wal.records).toFixed(1)}, WAL bytes ${Math.round(per(b.wal.bytes - a.wal.bytes))} (server-wide)`,
  );
  console.log('\n| statement (gateway side) | calls / request | round trip ms / call |');
  console.log('| --- | ---: | ---: |');
  const rows = [...b.statements]
    .map(([k, v]) => {
      const o = a.statements.get(k) ?? { calls: 0, ms: 0 };
      return { k, calls: v.calls - o.calls, ms: v.ms - o.ms };
    })
    .filter((r) => r.calls > 0)
    .sort((x, y) => y.calls - x.calls);
  for (const r of rows)
    console.log(
      `| ${r.k.replace(/\|/g, '/')} | ${per(r.calls).toFixed(4)} | ${(r.ms / r.calls).toFixed(2)} |`,
    );
  console.log('\n| function (database side) | calls / request | self µs / request | total µs / request |');
  console.log('| --- | ---: | ---: | ---: |');
  const fns = [...b.functions]
    .map(([k, v]) => {
      const o = a.functions.get(k) ?? { calls: 0, self: 0, total: 0 };
      return { k, calls: v.calls - o.calls, self: v.self - o.self, total: v.total - o.total };
    })
    .filter((r) => r.calls > 0)
    .sort((x, y) => y.self - x.self);
  for (const r of fns)
    console.log(
      `| ${r.k} | ${per(r.calls).toFixed(4)} | ${Math.round(per(r.self * 1000))} | ${Math.round(per(r.total * 1000))} |`,
    );
  console.log('\n| table | inserted / request | updated (HOT) / request | deleted / request |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [k, v] of b.tables) {
    const o = a.tables.get(k) ?? { ins: 0, upd: 0, del: 0, hot: 0 };
    const d = { ins: v.ins - o.ins, upd: v.upd - o.upd, del: v.del - o.del, hot: v.hot - o.hot };
    if (d.ins + d.upd + d.del === 0) continue;
    console.log(
      `| ${k} | ${per(d.ins).toFixed(3)} | ${per(d.upd).toFixed(3)} (${per(d.hot).toFixed(3)}) | ${per(d.del).toFixed(3)} |`,
    );
  }
  for (let i = 0; i < replicaCount; i++) {
    const lines = readFileSync(join(dir, `tollgate-pgs-${i}.log`), 'utf8').split('\n');
    const warnings = lines.filter((l) => /"level":(40|50|60)/.test(l));
    if (warnings.length)
      console.log(
        `\nreplica ${i}: ${warnings.length} warnings:\n${warnings
          .slice(-6)
          .map((w) => `${w.slice(0, 200)} … ${w.slice(-160)}`)
          .join('\n')}`,
      );
  }
  if (values['cpu-prof']) {
    // SIGTERM so each replica writes its profile (cleanUp kills with SIGKILL).
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise<void>((done) => {
            r.child.once('exit', () => done());
            r.child.kill('SIGTERM');
          }),
      ),
    );
    console.log(`\nCPU profiles in ${resolve(values['cpu-prof'])}/replica-*/`);
  }
} finally {
  await cleanUp();
}
process.exit(0);
