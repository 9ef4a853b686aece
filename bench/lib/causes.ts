/**
 * Why a target is missed, from what this run measured and nothing else: a cause quotes the
 * run's own figures (CPU per request of the gateway and of the database server, the replicas'
 * CPU). This run takes no CPU profile and no event-loop stall trace, so a target whose cause
 * would need one says so and names the command that takes it, rather than repeat an old reading.
 */
import type { LatencyLabel, LeaseDbCpu, Summary, TargetResult } from './report-types.js';

const n0 = (x: number | undefined) =>
  x !== undefined && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : undefined;

const NOT_PROFILED =
  'not measured in this run: it takes no CPU profile or event-loop stall trace ' +
  '(`npm run bench:profile -- --only sqlite` takes both under the same load)';

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
  return NOT_PROFILED;
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
  t: { tg: TargetResult; nginx?: TargetResult; node?: TargetResult; base?: TargetResult },
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
  return (
    `in the same rounds at the same rate, the p99 added by ${seen.join(', ')} (tollgate ${ms3(mine)} ms)${beyond}; ` +
    'what stalled tollgate itself is not measured in this run (`npm run bench:profile -- --only sqlite --rate ' +
    `${label.split('@')[1]}\` takes a stall trace under that load)`
  );
}
