/** The suite's results as markdown: throughput, latency, memory, the issue's targets met or missed. */

interface Summary {
  rps: number;
  cpuUsPerRequest: number;
  rssMb: number;
  errors: number;
}

interface LatencySummary {
  p50: number;
  p99: number;
  firstEventP50: number;
  errors: number;
}

export interface Report {
  date: string;
  args: { rounds: number; seconds: number; latencySeconds: number };
  versions: { node: string; nginx: string; wrk: string };
  cpus: number;
  throughput: Array<{ name: string; json: Summary; sse: Summary }>;
  latency: Array<{ name: string } & Record<string, LatencySummary | string>>;
  slowReader: { rssGrowthMb: number; upstreamWrittenKb: number; clientReadKb: number };
  reloadMs: { median: number; max: number };
}

const n0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');
const ms = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(3) : '–');

export function renderReport(r: Report): string {
  const find = (prefix: string) => r.throughput.find((t) => t.name.startsWith(prefix));
  const nginx = find('nginx');
  const sqlite = find('tollgate (SQLite, 10 keys)');
  const tenK = find('tollgate (SQLite, 10,000');
  const pg = find('tollgate (PostgreSQL');
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? a / b : Number.NaN);

  const lat = (name: string, label: string) => {
    const row = r.latency.find((l) => l.name === name)?.[label];
    return typeof row === 'object' ? row : undefined;
  };
  const direct = 'direct to upstream';
  const added = (name: string, label: string, field: 'p50' | 'p99' | 'firstEventP50') => {
    const a = lat(name, label)?.[field];
    const d = lat(direct, label)?.[field];
    return a === undefined || d === undefined ? Number.NaN : a - d;
  };

  const lines: string[] = [];
  lines.push('# tollgate benchmark');
  lines.push('');
  lines.push(
    `${r.date} · node ${r.versions.node} · ${r.versions.nginx} · ${r.versions.wrk} · ${r.cpus} CPUs · ` +
      `targets on CPU 0, load and fake upstream on CPU 1 · medians of ${r.args.rounds} interleaved round(s), ` +
      `${r.args.seconds} s each (wrk, 50 connections); latency open-loop, ${r.args.latencySeconds} s per rate.`,
  );
  lines.push('');
  lines.push('## Throughput and cost (closed loop, 50 connections)');
  lines.push('');
  lines.push(
    '| target | JSON req/s | vs nginx | CPU µs/req | SSE (22 events) req/s | vs nginx | CPU µs/stream | peak RSS MB |',
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const t of r.throughput) {
    const errors = t.json.errors + t.sse.errors;
    lines.push(
      `| ${t.name}${errors ? ` (${errors} errors)` : ''} | ${n0(t.json.rps)} | ${pct(ratio(t.json.rps, nginx?.json.rps))} | ${n0(t.json.cpuUsPerRequest)} | ${n0(t.sse.rps)} | ${pct(ratio(t.sse.rps, nginx?.sse.rps))} | ${n0(t.sse.cpuUsPerRequest)} | ${n0(Math.max(t.json.rssMb, t.sse.rssMb))} |`,
    );
  }
  lines.push('');
  lines.push('## Added latency vs direct to the upstream (open loop, ms)');
  lines.push('');
  lines.push('| target | 200/s p50 | 200/s p99 | 2,000/s p50 | 2,000/s p99 | SSE 200/s first event p50 |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const l of r.latency) {
    if (l.name === direct) {
      lines.push(
        `| ${direct} (absolute) | ${ms(lat(direct, 'json@200')?.p50 ?? Number.NaN)} | ${ms(lat(direct, 'json@200')?.p99 ?? Number.NaN)} | ${ms(lat(direct, 'json@2000')?.p50 ?? Number.NaN)} | ${ms(lat(direct, 'json@2000')?.p99 ?? Number.NaN)} | ${ms(lat(direct, 'sse@200')?.firstEventP50 ?? Number.NaN)} |`,
      );
      continue;
    }
    lines.push(
      `| ${l.name} | ${ms(added(l.name, 'json@200', 'p50'))} | ${ms(added(l.name, 'json@200', 'p99'))} | ${ms(added(l.name, 'json@2000', 'p50'))} | ${ms(added(l.name, 'json@2000', 'p99'))} | ${ms(added(l.name, 'sse@200', 'firstEventP50'))} |`,
    );
  }
  lines.push('');
  lines.push('## Stores, key count, memory, reload');
  lines.push('');
  lines.push(
    `- PostgreSQL store vs SQLite, JSON req/s: ${pg ? ratio(pg.json.rps, sqlite?.json.rps).toFixed(2) : 'not run'}`,
  );
  lines.push(`- 10,000 keys vs 10 keys, JSON req/s: ${ratio(tenK?.json.rps, sqlite?.json.rps).toFixed(3)}`);
  lines.push(
    `- slow reader (10 MiB stream read at ~1 KiB/s): gateway RSS grew ${r.slowReader.rssGrowthMb.toFixed(1)} MB; ` +
      `the upstream could write ${n0(r.slowReader.upstreamWrittenKb)} KiB while the client read ${n0(r.slowReader.clientReadKb)} KiB`,
  );
  lines.push(
    `- reload of the 10,000-key file (change → served): median ${r.reloadMs.median.toFixed(0)} ms, max ${r.reloadMs.max.toFixed(0)} ms`,
  );
  lines.push('');

  const sqliteName = sqlite?.name ?? '';
  const goals: Array<[string, string, string, boolean]> = [
    [
      'JSON throughput vs nginx',
      '≥ 30%',
      pct(ratio(sqlite?.json.rps, nginx?.json.rps)),
      ratio(sqlite?.json.rps, nginx?.json.rps) >= 0.3,
    ],
    [
      'SSE throughput vs nginx',
      '≥ 45%',
      pct(ratio(sqlite?.sse.rps, nginx?.sse.rps)),
      ratio(sqlite?.sse.rps, nginx?.sse.rps) >= 0.45,
    ],
    [
      'CPU per JSON request',
      '≤ 110 µs',
      `${n0(sqlite?.json.cpuUsPerRequest ?? Number.NaN)} µs`,
      (sqlite?.json.cpuUsPerRequest ?? 1e9) <= 110,
    ],
    [
      'CPU per 22-event stream',
      '≤ 200 µs',
      `${n0(sqlite?.sse.cpuUsPerRequest ?? Number.NaN)} µs`,
      (sqlite?.sse.cpuUsPerRequest ?? 1e9) <= 200,
    ],
    [
      'added p50 at 200/s',
      '≤ 0.5 ms',
      `${ms(added(sqliteName, 'json@200', 'p50'))} ms`,
      added(sqliteName, 'json@200', 'p50') <= 500,
    ],
    [
      'added p99 at 200/s',
      '≤ 1 ms',
      `${ms(added(sqliteName, 'json@200', 'p99'))} ms`,
      added(sqliteName, 'json@200', 'p99') <= 1000,
    ],
    [
      'added p99 at 2,000/s',
      '≤ 2 ms',
      `${ms(added(sqliteName, 'json@2000', 'p99'))} ms`,
      added(sqliteName, 'json@2000', 'p99') <= 2000,
    ],
    [
      'added SSE first-event p50',
      '≤ 0.5 ms',
      `${ms(added(sqliteName, 'sse@200', 'firstEventP50'))} ms`,
      added(sqliteName, 'sse@200', 'firstEventP50') <= 500,
    ],
    [
      'RSS at 50 connections',
      '≤ 150 MB',
      `${n0(Math.max(sqlite?.json.rssMb ?? 0, sqlite?.sse.rssMb ?? 0))} MB`,
      Math.max(sqlite?.json.rssMb ?? 1e9, sqlite?.sse.rssMb ?? 0) <= 150,
    ],
    [
      'slow reader RSS growth',
      '< 16 MB',
      `${r.slowReader.rssGrowthMb.toFixed(1)} MB`,
      r.slowReader.rssGrowthMb < 16,
    ],
    [
      '10,000 keys vs 10',
      'within 5%',
      ratio(tenK?.json.rps, sqlite?.json.rps).toFixed(3),
      ratio(tenK?.json.rps, sqlite?.json.rps) >= 0.95,
    ],
    [
      '10,000-key reload',
      '< 200 ms',
      `${r.reloadMs.median.toFixed(0)} ms (max ${r.reloadMs.max.toFixed(0)})`,
      r.reloadMs.median < 200,
    ],
  ];
  lines.push(`## Targets (issue 8), for ${sqliteName}`);
  lines.push('');
  lines.push('| target | goal | measured | met |');
  lines.push('| --- | --- | --- | --- |');
  for (const [what, goal, got, ok] of goals)
    lines.push(`| ${what} | ${goal} | ${got} | ${ok ? 'yes' : '**no**'} |`);
  lines.push('');
  return `${lines.join('\n')}\n`;
}
