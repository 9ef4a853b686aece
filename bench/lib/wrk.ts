/**
 * Closed-loop throughput with wrk (1 thread, 50 connections) pinned to the load CPU, while the
 * target's CPU time (/proc utime+stime delta over the run) and peak RSS (sampled every 100 ms)
 * are recorded. CPU µs per request = CPU time / requests completed.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { PG_ADMIN_URL } from '../../test/helpers/pg.js';
import { BODIES, LOAD_CPU, type Mode, PATH } from './configs.js';
import { cpuOfPid, pidTree, rssOf } from './proc-stats.js';
import { run } from './procs.js';
import type { Target } from './targets.js';

export const CONNECTIONS = 50;

export interface Throughput {
  rps: number;
  requests: number;
  cpuUsPerRequest: number;
  /** PostgreSQL targets: CPU per request of its database's backends and the server's background processes (off the pinned cores). */
  dbCpuUsPerRequest?: number;
  /**
   * PostgreSQL targets: requests per write transaction (transaction ids the server assigned during
   * the run). Each commits a batch (of reserves, or of settles with their usage records) or a round.
   * Server-wide: other writers during the run count too (autovacuum's analyses, another target's
   * replicas returning their leases in their first seconds idle), a few against thousands.
   */
  requestsPerDbWrite?: number;
  rssMb: number;
  errors: number;
}

/**
 * The server's processes that work for the target: the backends of its own database and the
 * server's background processes (WAL writer, checkpointer, autovacuum, …), not the backends of
 * other databases (other work on a shared machine would count as the target's). Falls back to
 * every postgres process when the server cannot be asked.
 */
async function targetPostgresPids(database: string | undefined): Promise<number[]> {
  if (!database) return postgresPids();
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    const { rows } = await c.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (datname = $1 OR backend_type <> 'client backend')",
      [database],
    );
    return rows.map((r) => r.pid);
  } catch {
    return postgresPids();
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * The next transaction id the server will assign: the count of write transactions so far (read
 * from a snapshot, which assigns none itself). Undefined when the server cannot be asked.
 */
async function nextXid(): Promise<number | undefined> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    const { rows } = await c.query<{ x: string }>(
      'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x',
    );
    return Number(rows[0]?.x);
  } catch {
    return undefined;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Every process of the local PostgreSQL server (postmaster, backends, background workers). */
function postgresPids(): number[] {
  try {
    return execFileSync('pgrep', ['-x', 'postgres'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** CPU µs per pid, for the pids still alive. */
function cpuByPid(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of pids) {
    // A process gone by now has no reading, rather than a 0 that would subtract all it had used
    // from a difference.
    const us = cpuOfPid(p);
    if (us !== undefined) out.set(p, us);
  }
  return out;
}

/** CPU µs used between two readings, by the processes present in both. */
function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let used = 0;
  for (const [pid, us] of after) {
    const was = before.get(pid);
    if (was !== undefined) used += us - was;
  }
  return used;
}

/** Requests/sec, total requests and error counts (non-2xx/3xx + socket errors) from wrk's output. */
export function parseWrk(out: string): { rps: number; requests: number; errors: number } {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const sockErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { rps, requests, errors: non2xx + sockErrors };
}

/** The Lua script that makes wrk send `mode`'s request with the target's headers. */
export function wrkLua(headers: Record<string, string>, body: string): string {
  return [
    'wrk.method = "POST"',
    ...Object.entries({ 'content-type': 'application/json', ...headers }).map(
      ([k, v]) => `wrk.headers["${k}"] = "${v}"`,
    ),
    `wrk.body = '${body}'`,
    '',
  ].join('\n');
}

/**
 * wrk against `t` for `seconds`; for a target made of replicas, one wrk per replica at once
 * (the 50 connections, or `totalConnections`, split between them: no load balancer in the way), requests summed, CPU
 * summed over every replica, RSS the largest replica's. `leadInSeconds` of the same load run first,
 * unmeasured: a target idle since its last turn (its PostgreSQL budget leases returned after two idle
 * seconds, to be granted again as the load's rate is learnt) is measured busy, as the rows say.
 */
export async function throughput(
  dir: string,
  t: Target,
  mode: Mode,
  seconds: number,
  totalConnections = CONNECTIONS,
  leadInSeconds = 0,
): Promise<Throughput> {
  const script = join(dir, `wrk-${t.id}-${mode}.lua`);
  writeFileSync(script, wrkLua(t.headers, BODIES[mode]));
  const parts = t.replicas ?? [t];
  if (leadInSeconds > 0) await runWrk(parts, script, totalConnections, leadInSeconds);
  const pidSets = parts.map((p) => pidTree(p.child.pid as number));
  const rss = () => Math.max(...pidSets.map((pids) => rssOf(pids)));
  const cpu = () => cpuByPid(pidSets.flat());
  let peak = rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, rss());
  }, 100);
  const cpu0 = cpu();
  const onDb = t.id.startsWith('pg');
  const db0 = onDb ? cpuByPid(await targetPostgresPids(t.database)) : new Map<number, number>();
  const xid0 = onDb ? await nextXid() : undefined;
  try {
    const outs = await runWrk(parts, script, totalConnections, seconds);
    const used = cpuBetween(cpu0, cpu());
    // A backend that started during the run counts from 0; one that exited during it is lost.
    let dbUsed = 0;
    if (onDb)
      for (const [pid, us] of cpuByPid(await targetPostgresPids(t.database)))
        dbUsed += us - (db0.get(pid) ?? 0);
    const xid1 = onDb ? await nextXid() : undefined;
    peak = Math.max(peak, rss());
    const w = outs.map(parseWrk).reduce((a, b) => ({
      rps: a.rps + b.rps,
      requests: a.requests + b.requests,
      errors: a.errors + b.errors,
    }));
    if (w.errors > 0)
      console.error(`[bench] warning: ${t.name} ${mode}: ${w.errors} errors\n${outs.join('\n')}`);
    return {
      ...w,
      cpuUsPerRequest: used / Math.max(1, w.requests),
      ...(onDb ? { dbCpuUsPerRequest: dbUsed / Math.max(1, w.requests) } : {}),
      ...(xid0 !== undefined && xid1 !== undefined
        ? { requestsPerDbWrite: w.requests / Math.max(1, xid1 - xid0) }
        : {}),
      rssMb: peak,
    };
  } finally {
    clearInterval(sampler);
  }
}

/** One wrk per part at once, pinned to the load CPU, the connections split between them; their outputs. */
function runWrk(
  parts: Target[],
  script: string,
  totalConnections: number,
  seconds: number,
): Promise<string[]> {
  const connections = Math.max(1, Math.round(totalConnections / parts.length));
  return Promise.all(
    parts.map((p) =>
      run(
        'taskset',
        [
          '-c',
          String(LOAD_CPU),
          'wrk',
          '-t1',
          `-c${connections}`,
          `-d${seconds}s`,
          '--timeout',
          '5s',
          '-s',
          script,
          `http://127.0.0.1:${p.port}${PATH}`,
        ],
        (seconds + 30) * 1000,
      ),
    ),
  );
}
