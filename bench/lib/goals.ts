/**
 * Issue 24's targets (and issue 17's that still apply and are not restated), scored from one
 * run's results: pure, so test/unit/bench-goals.test.ts checks the scoring with fixed inputs.
 * Each row is goal, measured, met ("yes", "no" or "not measured") and a cause quoted from this
 * run's own figures, or "not measured" when the run took nothing that could name one.
 */
import { causeOf, reloadCause, tailCause } from './causes.js';
import type { LeaseDbCpu, Previous, Report, TargetResult, UploadResult } from './report-types.js';

export type Met = 'yes' | 'no' | 'not measured';
export interface GoalRow {
  what: string;
  goal: string;
  measured: string;
  met: Met;
  cause: string;
}

const n0 = (x: number | undefined) =>
  x !== undefined && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
const pct = (x: number) => `${Math.round(x * 100)}%`;
const times = (x: number) => `${x.toFixed(2)}x`;
const msUnit = (us: number) => `${(us / 1000).toFixed(3)} ms`;
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? a / b : Number.NaN);
export const NOT_MEASURED = 'not measured';

/** One row: unmeasured values give "not measured" in measured, met and cause alike. */
function row(
  what: string,
  goal: string,
  value: number | undefined,
  ok: (v: number) => boolean,
  show: (v: number) => string,
  cause: () => string,
  why = NOT_MEASURED,
): GoalRow {
  if (value === undefined || !Number.isFinite(value))
    return { what, goal, measured: why, met: NOT_MEASURED, cause: NOT_MEASURED };
  const met = ok(value);
  return {
    what,
    goal,
    measured: show(value),
    met: met ? 'yes' : 'no',
    cause: met ? '' : cause() || NOT_MEASURED,
  };
}

/** The `sqlite` target's throughput and CPU from a previous latest.json, or undefined. */
export function previousOf(file: string, json: unknown): Previous | undefined {
  const r = json as Partial<Report> | null;
  const t = r?.targets?.find((x) => x.id === 'sqlite');
  if (!r?.date || !t?.json) return undefined;
  const pick = (s: TargetResult['json']) =>
    s ? { rps: s.rps, cpuUsPerRequest: s.cpuUsPerRequest } : undefined;
  const both = (x: TargetResult) => {
    const [j, s] = [pick(x.json), pick(x.sse)];
    return { ...(j ? { json: j } : {}), ...(s ? { sse: s } : {}) };
  };
  const node = r.targets?.find((x) => x.id === 'node');
  return { file, date: r.date, ...both(t), ...(node?.json ? { node: both(node) } : {}) };
}

/** The last line of `bench/upload.ts --json`, or undefined when it printed none. */
export function parseUpload(out: string): UploadResult | undefined {
  try {
    const r = JSON.parse(out.trim().split('\n').pop() ?? '') as UploadResult;
    return Number.isFinite(r.rssGrowthMbPerUpload) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** bench/lease-db-cpu.ts's printed figures, or undefined when its summary line is missing. */
export function parseLeaseDbCpu(out: string): LeaseDbCpu | undefined {
  const head = /^(\d+) pairs per measurement/m.exec(out);
  const conc = /at concurrency (\d+)/.exec(out);
  const sum = /database CPU per request: (\d+) µs with leases vs (\d+) µs without/.exec(out);
  if (!sum) return undefined;
  return {
    pairs: Number(head?.[1] ?? Number.NaN),
    concurrency: Number(conc?.[1] ?? Number.NaN),
    withLeasesUs: Number(sum[1]),
    withoutLeasesUs: Number(sum[2]),
  };
}

/** Issue 24's PostgreSQL rows. */
function postgresRows(r: Report, tg: TargetResult): GoalRow[] {
  const by = (id: string) => r.targets.find((t) => t.id === id);
  const [pg, pg3, sqlite3] = [by('pg'), by('pg3'), by('sqlite3')];
  const ctx = {
    tg,
    ...(pg ? { pg } : {}),
    ...(pg3 ? { pg3 } : {}),
    ...(sqlite3 ? { sqlite3 } : {}),
    ...(r.leases ? { leases: r.leases } : {}),
    ...(r.traced ? { traced: r.traced } : {}),
  };
  const db = pg?.json?.dbCpuUsPerRequest;
  const dbCause = () => causeOf('PostgreSQL, one replica: JSON req/s vs SQLite', ctx);
  return [
    row(
      'PostgreSQL, one replica: database CPU per request',
      '≤ 100 µs',
      db,
      (v) => v <= 100,
      (v) => `${n0(v)} µs`,
      dbCause,
    ),
    row(
      'PostgreSQL, one replica: JSON req/s vs SQLite',
      '≥ 0.7x',
      ratio(pg?.json?.rps, tg.json?.rps),
      (v) => v >= 0.7,
      (v) => `${times(v)} (${n0(pg?.json?.rps)} vs ${n0(tg.json?.rps)})`,
      dbCause,
    ),
    row(
      'PostgreSQL, one replica: gateway CPU per JSON request vs SQLite',
      '≤ 1.3x',
      ratio(pg?.json?.cpuUsPerRequest, tg.json?.cpuUsPerRequest),
      (v) => v <= 1.3,
      (v) => `${times(v)} (${n0(pg?.json?.cpuUsPerRequest)} vs ${n0(tg.json?.cpuUsPerRequest)} µs)`,
      () => causeOf('PostgreSQL, one replica: CPU', ctx),
    ),
    row(
      'PostgreSQL, one replica: added p50 at 200/s (JSON)',
      '≤ 1 ms',
      pg?.added['json@200']?.p50,
      (v) => v <= 1000,
      msUnit,
      () => causeOf('PostgreSQL, one replica: latency', ctx),
    ),
    row(
      'PostgreSQL, three replicas on one database: database CPU per request vs one replica',
      '≤ 1.00x',
      ratio(pg3?.json?.dbCpuUsPerRequest, db),
      (v) => v <= 1,
      (v) => `${times(v)} (${n0(pg3?.json?.dbCpuUsPerRequest)} vs ${n0(db)} µs)`,
      () => causeOf('PostgreSQL, three replicas', ctx),
    ),
  ];
}

/** Issue 24's SQLite rows: the tail, no regression against the previous results, the A/B on streams. */
function sqliteRows(r: Report, tg: TargetResult, prev: Previous | undefined): GoalRow[] {
  const by = (id: string) => r.targets.find((t) => t.id === id);
  const node = by('node');
  const traced = r.traced ? { traced: r.traced } : {};
  const ctx = { tg, ...traced, ...(prev ? { previous: prev } : {}), ...(node ? { node } : {}) };
  const stalls = (what: string) => () => causeOf(what, ctx);
  const refs = { tg, nginx: by('nginx'), node, base: by('sqlite-base'), ...traced };
  const skipped = (mode: 'json' | 'sse') =>
    (tg[mode]?.rps ?? 0) * (2 / 3) < 2000
      ? `not run: 2,000/s is above 2/3 of its ${n0(tg[mode]?.rps)} req/s`
      : NOT_MEASURED;
  const p99 = (mode: 'json' | 'sse', rate: 200 | 2000, goalMs: number) =>
    row(
      `added p99 at ${rate.toLocaleString('en-US')}/s (${mode.toUpperCase()})`,
      `≤ ${goalMs} ms`,
      tg.added[`${mode}@${rate}`]?.p99,
      (v) => v <= goalMs * 1000,
      msUnit,
      () => tailCause(`${mode}@${rate}`, refs),
      rate === 2000 ? skipped(mode) : NOT_MEASURED,
    );
  const since = prev ? ` (${prev.file}, ${prev.date})` : ' (no previous results read)';
  const noWorse = (mode: 'json' | 'sse', field: 'rps' | 'cpuUsPerRequest') => {
    const higherIsBetter = field === 'rps';
    const [now, before] = [tg[mode]?.[field], prev?.[mode]?.[field]];
    const label =
      field === 'rps'
        ? `${mode.toUpperCase()} req/s`
        : `CPU per ${mode === 'json' ? 'JSON request' : 'SSE stream'}`;
    return row(
      `${label} vs the previous results${since}`,
      higherIsBetter ? '≥ 1.00x' : '≤ 1.00x',
      ratio(now, before),
      (v) => (higherIsBetter ? v >= 1 : v <= 1),
      (v) => `${times(v)} (${n0(now)} vs ${n0(before)}${field === 'rps' ? '' : ' µs'})`,
      stalls(`previous ${mode}`),
    );
  };
  const base = refs.base;
  return [
    p99('json', 2000, 3),
    p99('sse', 2000, 3),
    p99('json', 200, 1),
    p99('sse', 200, 1),
    noWorse('json', 'rps'),
    noWorse('sse', 'rps'),
    noWorse('json', 'cpuUsPerRequest'),
    noWorse('sse', 'cpuUsPerRequest'),
    row(
      `CPU per SSE stream vs the --baseline build${r.args.baseline ? ` (${r.args.baseline})` : ''}`,
      '≤ 1.00x',
      ratio(tg.sse?.cpuUsPerRequest, base?.sse?.cpuUsPerRequest),
      (v) => v <= 1,
      (v) => `${times(v)} (${n0(tg.sse?.cpuUsPerRequest)} vs ${n0(base?.sse?.cpuUsPerRequest)} µs)`,
      stalls('baseline sse'),
      base ? NOT_MEASURED : 'not measured (no --baseline build in this run)',
    ),
  ];
}

/** Issue 17's rows that issue 24 neither restates nor replaces, and the upload row. */
function keptRows(r: Report, tg: TargetResult): GoalRow[] {
  const by = (id: string) => r.targets.find((t) => t.id === id);
  const [nginx, node, tenK] = [by('nginx'), by('node'), by('10k')];
  const slow = r.slowReader.find((s) => s.name === tg.name);
  const none = () => NOT_MEASURED;
  // Where this build's CPU goes, from the run's CPU passes (or "not measured in this run").
  const cpu = (mode: 'json' | 'sse') => () =>
    causeOf(`where ${mode}`, { tg, ...(r.traced ? { traced: r.traced } : {}) });
  const up = r.upload;
  return [
    row(
      'JSON throughput vs nginx',
      '≥ 30%',
      ratio(tg.json?.rps, nginx?.json?.rps),
      (v) => v >= 0.3,
      pct,
      cpu('json'),
    ),
    row(
      'SSE throughput vs nginx',
      '≥ 40%',
      ratio(tg.sse?.rps, nginx?.sse?.rps),
      (v) => v >= 0.4,
      pct,
      cpu('sse'),
    ),
    row(
      'CPU per JSON request vs the plain node:http proxy',
      '≤ 1.6x',
      ratio(tg.json?.cpuUsPerRequest, node?.json?.cpuUsPerRequest),
      (v) => v <= 1.6,
      (v) => `${times(v)} (${n0(tg.json?.cpuUsPerRequest)} vs ${n0(node?.json?.cpuUsPerRequest)} µs)`,
      cpu('json'),
    ),
    row(
      'RSS at 50 connections',
      '≤ 150 MB',
      tg.json && tg.sse ? Math.max(tg.json.rssMb, tg.sse.rssMb) : undefined,
      (v) => v <= 150,
      (v) => `${n0(v)} MB`,
      () => causeOf('memory', { tg, ...(r.traced ? { traced: r.traced } : {}), ...(node ? { node } : {}) }),
    ),
    row(
      'slow reader RSS growth',
      '< 16 MB',
      slow?.rssGrowthMb,
      (v) => v < 16,
      (v) => `${v.toFixed(1)} MB`,
      none,
    ),
    row(
      '10 MB transcription upload: peak RSS growth per upload in flight',
      '< 16 MB',
      up?.rssGrowthMbPerUpload,
      (v) => v < 16,
      (v) =>
        `${v.toFixed(1)} MB with ${up?.parallel} in flight; added ${n0(up?.addedMsMedian)} ms per upload ` +
        `(${n0(up?.gatewayMsMedian)} vs ${n0(up?.directMsMedian)} ms direct)`,
      none,
    ),
    row(
      '10,000 keys vs 10 (JSON req/s)',
      'within 5%',
      ratio(tenK?.json?.rps, tg.json?.rps),
      (v) => v >= 0.95,
      (v) => v.toFixed(3),
      none,
    ),
    row(
      '10,000 keys vs 10 (SSE req/s)',
      'within 5%',
      ratio(tenK?.sse?.rps, tg.sse?.rps),
      (v) => v >= 0.95,
      (v) => v.toFixed(3),
      none,
    ),
    row(
      '10,000-key reload (max of 5)',
      '< 200 ms',
      r.reloadMs?.max,
      (v) => v < 200,
      (v) => `${v.toFixed(1)} ms`,
      () => reloadCause(r.reloadMs),
    ),
  ];
}

/** Every target row for the SQLite target `tg` of report `r`. */
export function scoreTargets(r: Report, tg: TargetResult): GoalRow[] {
  return [...postgresRows(r, tg), ...sqliteRows(r, tg, r.previous), ...keptRows(r, tg)];
}
