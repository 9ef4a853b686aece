/**
 * Why a target is missed, from what this run measured and nothing else: a cause quotes the
 * run's own figures (CPU per request of the gateway and of the database server, the replicas'
 * CPU, the reference proxies in the same rounds) and its traced passes (bench/lib/traced.ts:
 * the stall trace, CPU profiles of this build and of the baseline, the settle's round trip on
 * PostgreSQL). A target whose cause would need a pass the run did not take says so and names
 * the command that takes it, rather than repeat an old reading.
 */
import type { Mode } from './configs.js';
import type { ReloadTimes } from './measure.js';
import type {
  FrameCost,
  LatencyLabel,
  LeaseDbCpu,
  Previous,
  Summary,
  TargetResult,
  Traced,
  TracedLatency,
  TracedMemory,
} from './report-types.js';

const n0 = (x: number | undefined) =>
  x !== undefined && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : undefined;

const NOT_PROFILED =
  'not measured in this run: it takes no CPU profile or event-loop stall trace ' +
  '(`npm run bench:profile -- --only sqlite` takes both under the same load)';

const us1 = (x: number) => `${x.toFixed(1)} µs`;
const code = (frame: string) => `\`${frame}\``;

/** Where this build's CPU went in its CPU pass (self time per request), or undefined without one. */
function whereCpuGoes(traced: Traced | undefined, mode: Mode): string | undefined {
  const f = traced?.frames.sqlite?.[mode];
  if (!f?.length) return undefined;
  return (
    `a CPU profile of this build under wrk after the rounds (${mode.toUpperCase()}, self time per request) ` +
    `puts the most in ${f
      .slice(0, 6)
      .map((x) => `${code(x.frame)} ${us1(x.us)}`)
      .join(', ')}`
  );
}

/**
 * The functions whose self time per request grew most from the baseline's CPU pass to this
 * build's (a function outside a pass's kept list counts as 0 there).
 */
export function growth(mine: readonly FrameCost[], base: readonly FrameCost[], n = 5): string {
  const [m, b] = [new Map(mine.map((x) => [x.frame, x.us])), new Map(base.map((x) => [x.frame, x.us]))];
  const deltas = [...new Set([...m.keys(), ...b.keys()])]
    .map((f) => [f, (m.get(f) ?? 0) - (b.get(f) ?? 0)] as const)
    .sort((x, y) => y[1] - x[1]);
  const total = (xs: readonly FrameCost[]) => xs.reduce((a, x) => a + x.us, 0);
  const grew = deltas.filter(([, d]) => d > 0).slice(0, n);
  const shrank = deltas
    .filter(([, d]) => d < 0)
    .slice(-3)
    .reverse();
  return (
    `${us1(total(mine))} against ${us1(total(base))} in those passes; grew most: ` +
    `${grew.map(([f, d]) => `+${us1(d)} ${code(f)}`).join(', ') || 'nothing'}` +
    (shrank.length ? `; shrank most: ${shrank.map(([f, d]) => `−${us1(-d)} ${code(f)}`).join(', ')}` : '')
  );
}

/** This build against the baseline, function by function, from both builds' CPU passes. */
function againstBaseline(traced: Traced | undefined, mode: Mode): string | undefined {
  const [mine, base] = [traced?.frames.sqlite?.[mode], traced?.frames['sqlite-base']?.[mode]];
  if (!mine?.length || !base?.length) return undefined;
  return (
    `CPU profiles of both builds under wrk after the rounds (${mode.toUpperCase()}, self time per ` +
    `${mode === 'sse' ? 'stream' : 'request'}): ${growth(mine, base)}`
  );
}

/** The plain Node proxy in this run and in the previous results' run: the machine's own drift. */
function drift(
  previous: Previous | undefined,
  node: TargetResult | undefined,
  mode: Mode,
): string | undefined {
  const [before, now] = [previous?.node?.[mode], node?.[mode]];
  if (!before || !now) return undefined;
  return (
    `the plain node:http proxy, which did not change, measured ${n0(now.rps)} req/s and ` +
    `${n0(now.cpuUsPerRequest)} µs per request in this run against ${n0(before.rps)} and ` +
    `${n0(before.cpuUsPerRequest)} in the previous results’ run ` +
    `(${(now.cpuUsPerRequest / before.cpuUsPerRequest).toFixed(2)}x CPU): the machine’s drift between the runs`
  );
}

/** What RSS holds besides V8's heap and external memory. */
const restOf = (m: TracedMemory) =>
  m.rssFileMb
    ? `${n0(m.rssFileMb)} MB of it mapped from files: the node binary and native libraries, as in every Node ` +
      'process; the rest worker threads’ own V8 heaps (the WAL checkpointer’s), native allocations such as ' +
      'SQLite’s page cache, thread stacks'
    : 'code, native libraries, SQLite’s page cache, thread stacks';

/** What the process's memory is made of, from the JSON CPU pass (when its RSS peaked). */
function memoryOf(traced: Traced | undefined, node: TargetResult | undefined): string | undefined {
  const m = traced?.memory;
  if (!m) return undefined;
  const mb = (x: number) => `${n0(x)} MB`;
  const rest = Math.max(0, m.rssMb - m.heapTotalMb - m.externalMb);
  return (
    `in a CPU pass after the rounds (JSON, wrk, 50 connections; process.memoryUsage() sampled every 100 ms, ` +
    `at the sample where RSS peaked) the process peaked at ${mb(m.rssMb)} RSS: V8’s heap ${mb(m.heapTotalMb)} reserved ` +
    `(${mb(m.heapUsedMb)} used), external memory ${mb(m.externalMb)} (${mb(m.arrayBuffersMb)} of it array ` +
    `buffers), and about ${mb(rest)} besides (${restOf(m)})` +
    (node?.json ? `; the plain node:http proxy peaked at ${mb(node.json.rssMb)} in the rounds` : '')
  );
}

/** On PostgreSQL, the settle's round trip that each response waits for, from the statement pass. */
function settleWait(traced: Traced | undefined): string | undefined {
  const t = traced?.pg;
  if (!t || t.leasedSettle.calls + t.settleMany.calls === 0) return undefined;
  const rt = (x: { calls: number; meanMs: number; p50Ms: number }) =>
    `${x.p50Ms.toFixed(3)} ms at the median and ${x.meanMs.toFixed(3)} on average (${n0(x.calls)} calls)`;
  return (
    `in a traced pass at ${t.label.split('@')[1]}/s after the rounds (every statement’s round trip timed in ` +
    `the gateway; ${n0(t.requests)} requests, p50 ${(t.p50Us / 1000).toFixed(3)} ms absolute), each response ` +
    `waited for its usage record’s commit: ${[
      t.leasedSettle.calls ? `the leased settle’s round trip took ${rt(t.leasedSettle)}` : '',
      t.settleMany.calls ? `the batched settle without a lease ${rt(t.settleMany)}` : '',
    ]
      .filter(Boolean)
      .join(', ')}`
  );
}

/**
 * Requests per commit and the database's CPU per commit, three replicas against one: the database
 * pays for each write transaction (a settle batch's commit, a reserve, a lease round) about the
 * same whatever it carries, so fewer requests per commit cost more per request.
 */
function commitsOf(three: Summary | undefined, one: Summary | undefined): string {
  const r3 = three?.requestsPerDbWrite;
  const r1 = one?.requestsPerDbWrite;
  if (!r3 || !r1) return 'write transactions not counted in this run';
  const perCommit = (s: Summary | undefined, r: number) => n0((s?.dbCpuUsPerRequest ?? 0) * r);
  return (
    `each replica commits its own requests' records: ${r3.toFixed(1)} requests per write transaction across the ` +
    `three replicas against ${r1.toFixed(1)} on one, with ${perCommit(three, r3)} and ${perCommit(one, r1)} µs of ` +
    'the database’s CPU per write transaction (all its CPU in the run over its write transactions)'
  );
}

/** The cause of a missed target, as this run measured it, or why it was not measured. */
export function causeOf(
  what: string,
  t: {
    tg: TargetResult;
    pg?: TargetResult;
    pg3?: TargetResult;
    /** Three SQLite gateways sharing nothing, pinned like pg3: the cost of time-sharing one core. */
    sqlite3?: TargetResult;
    leases?: LeaseDbCpu;
    traced?: Traced;
    previous?: Previous;
    node?: TargetResult;
  },
): string {
  if (
    what.startsWith('PostgreSQL, one replica: JSON') ||
    what.startsWith('PostgreSQL, one replica: database')
  ) {
    const db = n0(t.pg?.json?.dbCpuUsPerRequest);
    const gw = n0(t.pg?.json?.cpuUsPerRequest);
    if (db === undefined) return 'not measured in this run (no database CPU reading)';
    return (
      `the database server’s own CPU: ${db} µs per request in this run against the gateway’s ${gw ?? '–'} µs; ` +
      `at that rate one database core serves at most ~${n0(1e6 / (t.pg?.json?.dbCpuUsPerRequest ?? 1))} req/s ` +
      '(docs/postgres.md, capacity model)' +
      (t.leases
        ? `; the store alone (bench/lease-db-cpu.ts, this run) costs the database ${n0(t.leases.withLeasesUs)} µs ` +
          `per reserve + settle with leases and ${n0(t.leases.withoutLeasesUs)} µs without`
        : '')
    );
  }
  if (what.startsWith('PostgreSQL, three replicas')) {
    const db3 = n0(t.pg3?.json?.dbCpuUsPerRequest);
    if (db3 === undefined) return 'not measured in this run (no database CPU reading)';
    const each = t.pg3?.json ? n0(t.pg3.json.rps / 3) : undefined;
    const control = t.sqlite3?.json?.cpuUsPerRequest;
    const shared =
      control === undefined
        ? ''
        : ` (three SQLite gateways sharing nothing, pinned the same way: ${n0(control)} µs against one’s ` +
          `${n0(t.tg.json?.cpuUsPerRequest) ?? '–'}: the core’s time-sharing, not the database)`;
    return (
      `${commitsOf(t.pg3?.json, t.pg?.json)}; the replicas together used ${n0(t.pg3?.json?.cpuUsPerRequest) ?? '–'} ` +
      `µs of gateway CPU per request (one replica: ${n0(t.pg?.json?.cpuUsPerRequest) ?? '–'})${shared} on the one ` +
      `core they share, serving ${each ?? '–'} req/s each on average against one replica’s ${n0(t.pg?.json?.rps) ?? '–'}`
    );
  }
  if (what.startsWith('PostgreSQL, one replica: CPU')) return '';
  return tracedCause(what, t) ?? NOT_PROFILED;
}

/** The causes only a traced pass can give: `what` names the row (goals.ts). */
function tracedCause(
  what: string,
  t: { traced?: Traced; previous?: Previous; node?: TargetResult },
): string | undefined {
  const mode: Mode = /sse/i.test(what) ? 'sse' : 'json';
  if (what.startsWith('PostgreSQL, one replica: latency')) return settleWait(t.traced);
  if (what.startsWith('memory')) return memoryOf(t.traced, t.node);
  if (what.startsWith('baseline')) return againstBaseline(t.traced, mode);
  const found = [
    what.startsWith('previous') ? drift(t.previous, t.node, mode) : undefined,
    whereCpuGoes(t.traced, mode),
  ].filter((x): x is string => x !== undefined);
  return found.length ? found.join('; ') : undefined;
}

const ms3 = (us: number) => (us / 1000).toFixed(3);

/**
 * A missed tail target's cause, as far as this run measured it: what the reference proxies and the
 * baseline build added at the same rate and percentile in the same rounds (the machine's tail
 * under this load, which every target pays), and what tollgate added beyond the plain Node proxy.
 * The run takes no stall trace, so what stalled tollgate's own event loop is not named.
 */
export function tailCause(
  label: LatencyLabel,
  t: { tg: TargetResult; nginx?: TargetResult; node?: TargetResult; base?: TargetResult; traced?: Traced },
): string {
  const mine = t.tg.added[label]?.p99;
  const refs: Array<[string, TargetResult | undefined]> = [
    ['nginx', t.nginx],
    ['a plain node:http proxy', t.node],
    ['the --baseline build', t.base],
  ];
  const seen = refs.flatMap(([name, r]) => {
    const p99 = r?.added[label]?.p99;
    return p99 === undefined ? [] : [`${name} ${ms3(p99)} ms`];
  });
  if (mine === undefined || seen.length === 0) return NOT_PROFILED;
  const node = t.node?.added[label]?.p99;
  const beyond =
    node === undefined
      ? ''
      : `; tollgate added ${ms3(Math.abs(mine - node))} ms ${mine >= node ? 'more' : 'less'} than the plain Node proxy`;
  const s = t.traced?.stalls.find((x) => x.label === label);
  const stalled = s
    ? stallsOf(s)
    : 'what stalled tollgate itself is not measured in this run (`npm run bench:profile -- --only sqlite --rate ' +
      `${label.split('@')[1]}\` takes a stall trace under that load)`;
  return `in the same rounds at the same rate, the p99 added by ${seen.join(', ')} (tollgate ${ms3(mine)} ms)${beyond}; ${stalled}`;
}

/** What covered the event loop's stalls in a stall pass. */
function stallsOf(s: TracedLatency): string {
  const ms = (x: number) => `${n0(x) ?? '0'} ms`;
  return (
    `in a traced pass after the rounds at the same rate (the stall trace preloaded; its p99 ${ms3(s.p99Us)} ms ` +
    `absolute), tollgate’s event loop stalled over 5 ms ${s.stalls} times, ${ms(s.stallMs)} in all: GC covered ` +
    `${ms(s.gcMs)}, SQLite transactions ${ms(s.sqliteMs)}, the log’s writes to stdout ${ms(s.stdoutMs)}, and no ` +
    `traced event ${ms(s.untracedMs)} (the process not running, or code the trace does not time)`
  );
}

const ms1 = (x: number) => `${x.toFixed(1)} ms`;

/** A reload's steps, the costliest first (steps under 1 ms left out). */
function stepsOf(t: ReloadTimes): string {
  const steps = Object.entries(t.phases)
    .filter(([, v]) => v >= 1)
    .sort((a, b) => b[1] - a[1]);
  return steps.map(([k, v]) => `${k} ${ms1(v)}`).join(', ') || 'no step over 1 ms';
}

/**
 * Where the 10,000-key reloads' time went, from the gateway's own times for each (its `config
 * reloaded` log lines, read after the reloads): the slowest one split into waiting behind another
 * reload, the reload's steps, and the rest until /healthz served it (the signal, the event loop,
 * the 1 ms poll).
 */
export function reloadCause(r: { runs: number[]; gateway?: ReloadTimes[] } | null | undefined): string {
  const g = r?.gateway;
  if (!r || !g || g.length !== r.runs.length || g.length === 0)
    return (
      'not measured in this run: the gateway logged no times for its reloads ' +
      '(its `config reloaded` lines carry `queuedMs` and `phases` from this build on)'
    );
  const i = r.runs.indexOf(Math.max(...r.runs));
  const [total, t] = [r.runs[i] as number, g[i] as ReloadTimes];
  const rest = Math.max(0, total - t.queuedMs - t.ms);
  const reloads = g.map((x) => ms1(x.ms)).join(', ');
  return (
    `by the gateway’s own times (its \`config reloaded\` log lines), the slowest reload (${ms1(total)} until ` +
    `/healthz served it) waited ${ms1(t.queuedMs)} behind another reload, then took ${ms1(t.ms)}: ${stepsOf(t)}; ` +
    `${ms1(rest)} besides (the signal, the event loop busy elsewhere, the 1 ms poll). The reloads themselves ` +
    `took ${reloads}`
  );
}
