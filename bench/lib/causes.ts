/**
 * Why a target is missed, from what this run measured and nothing else: a cause quotes the
 * run's own figures (CPU per request of the gateway and of the database server, the replicas'
 * CPU). This run takes no CPU profile and no event-loop stall trace, so a target whose cause
 * would need one says so and names the command that takes it, rather than repeat an old reading.
 */
import type { LeaseDbCpu, TargetResult } from './report-types.js';

const n0 = (x: number | undefined) =>
  x !== undefined && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : undefined;

const NOT_PROFILED =
  'not measured in this run: it takes no CPU profile or event-loop stall trace ' +
  '(`npm run bench:profile -- --only sqlite` takes both under the same load)';

/** The cause of a missed target, as this run measured it, or why it was not measured. */
export function causeOf(
  what: string,
  t: { tg: TargetResult; pg?: TargetResult; pg3?: TargetResult; leases?: LeaseDbCpu },
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
    return (
      `the replicas together used ${n0(t.pg3?.json?.cpuUsPerRequest) ?? '–'} µs of gateway CPU per request ` +
      `(one replica: ${n0(t.pg?.json?.cpuUsPerRequest) ?? '–'}) and the database ${db3} µs ` +
      `(one replica: ${n0(t.pg?.json?.dbCpuUsPerRequest) ?? '–'}), on a machine whose cores they share`
    );
  }
  if (what.startsWith('PostgreSQL, one replica: CPU')) return '';
  return NOT_PROFILED;
}
