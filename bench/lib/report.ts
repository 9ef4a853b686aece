/**
 * The suite's results as data (bench/results/latest.json) and as markdown (latest.md):
 * throughput and cost, added latency, stores and key count, memory, reload, the upload and the
 * lease bench when run, and issue 24's targets (bench/lib/goals.ts) with met or missed.
 */
import { scoreTargets } from './goals.js';
import type { Report, TargetResult } from './report-types.js';
import { median } from './stats.js';

const n0 = (x: number | undefined) =>
  x !== undefined && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');
const ms = (us: number | undefined) =>
  us !== undefined && Number.isFinite(us) ? (us / 1000).toFixed(3) : '–';
const x2 = (x: number) => (Number.isFinite(x) ? `×${x.toFixed(2)}` : '–');
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? a / b : Number.NaN);
const row = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;

export function renderReport(r: Report): string {
  const by = (id: string) => r.targets.find((t) => t.id === id);
  const nginx = by('nginx');
  const direct = by('direct');
  const tg = by('sqlite');
  const tenK = by('10k');
  const pg = by('pg');
  const out: string[] = [];
  const m = r.machine;

  out.push('# tollgate benchmark', '');
  out.push(
    `${r.date} · node ${m.node} · ${m.nginx} · ${m.wrk} · ${m.cpus} × ${m.cpuModel} · load average at start ` +
      `${m.loadavg.map((l) => l.toFixed(2)).join(' ')} · args: --rounds ${r.args.rounds} --seconds ${r.args.seconds}` +
      `${r.args.only.length ? ` --only ${r.args.only.join(',')}` : ''} (open loop ${r.args.latencySeconds} s per rate after 1 s warm-up)`,
  );
  out.push('');
  out.push(
    'Targets under test on CPU 0; wrk, the open-loop generator and the zero-delay fake upstream on CPU 1 ' +
      '(`taskset`). Targets interleaved, order rotated each round; medians over rounds. `npm run bench` to reproduce.',
  );
  out.push('', '## Throughput and cost (wrk, closed loop, 50 connections)', '');
  out.push(
    row([
      'target',
      'JSON req/s',
      'vs nginx',
      'CPU µs/req',
      'SSE (22 events) req/s',
      'vs nginx',
      'CPU µs/stream',
      'peak RSS MB',
    ]),
  );
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const t of r.targets) {
    if (!t.json || !t.sse) continue;
    const errors = t.json.errors + t.sse.errors;
    out.push(
      row([
        `${t.name}${errors ? ` (${errors} errors)` : ''}`,
        n0(t.json.rps),
        pct(ratio(t.json.rps, nginx?.json?.rps)),
        n0(t.json.cpuUsPerRequest),
        n0(t.sse.rps),
        pct(ratio(t.sse.rps, nginx?.sse?.rps)),
        n0(t.sse.cpuUsPerRequest),
        n0(Math.max(t.json.rssMb, t.sse.rssMb)),
      ]),
    );
  }

  out.push('', '## Added latency vs direct to the upstream (open loop from intended send times, ms)', '');
  out.push(
    'Each cell is the median over rounds of (target percentile − direct percentile of the same round); ' +
      'the first row is the direct path itself (absolute). TTFB: to the first byte of the first SSE event. ' +
      '– = not run (a rate above 2/3 of the target’s measured throughput only measures its queue).',
  );
  out.push('');
  out.push(
    row([
      'target',
      'JSON 200/s p50',
      'p99',
      'JSON 2,000/s p50',
      'p99',
      'SSE 200/s p50',
      'p99',
      'SSE 2,000/s p50',
      'p99',
      'SSE TTFB 200/s p50',
    ]),
  );
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const latencyCells = (l: TargetResult['added']) => [
    ms(l['json@200']?.p50),
    ms(l['json@200']?.p99),
    ms(l['json@2000']?.p50),
    ms(l['json@2000']?.p99),
    ms(l['sse@200']?.p50),
    ms(l['sse@200']?.p99),
    ms(l['sse@2000']?.p50),
    ms(l['sse@2000']?.p99),
    ms(l['sse@200']?.ttfbP50),
  ];
  if (direct) out.push(row([`${direct.name} (absolute)`, ...latencyCells(direct.latency)]));
  for (const t of r.targets) if (t.id !== 'direct') out.push(row([t.name, ...latencyCells(t.added)]));
  const lags = r.targets.flatMap((t) => Object.values(t.latency).map((l) => l.sendLagP99));
  if (lags.length)
    out.push(
      '',
      `The generator's own precision (actual − intended send time), p99 per run: median ${ms(median(lags))} ms, ` +
        `worst ${ms(Math.max(...lags))} ms. Lateness counts as latency for every target alike (and so cancels ` +
        'in the added columns on average); where it is large, the machine was busy and p99s are noise.',
    );

  out.push('', '## Stores and key count', '');
  const compare = (a: TargetResult | undefined, b: TargetResult | undefined) =>
    `JSON req/s ${x2(ratio(a?.json?.rps, b?.json?.rps))}, SSE req/s ${x2(ratio(a?.sse?.rps, b?.sse?.rps))}, ` +
    `CPU µs/req ${n0(a?.json?.cpuUsPerRequest)} vs ${n0(b?.json?.cpuUsPerRequest)}, ` +
    `added p50 at 200/s ${ms(a?.added['json@200']?.p50)} vs ${ms(b?.added['json@200']?.p50)} ms`;
  out.push(
    `- PostgreSQL store vs SQLite: ${
      pg && tg
        ? `${compare(pg, tg)}; the database server's own CPU ${n0(pg.json?.dbCpuUsPerRequest)} µs/req` +
          capacityOf(pg.json?.dbCpuUsPerRequest)
        : 'not run'
    }`,
  );
  const pg3 = by('pg3');
  out.push(
    `- PostgreSQL, three replicas on one database vs one replica: ${
      pg3 && pg
        ? `JSON req/s ${x2(ratio(pg3.json?.rps, pg.json?.rps))}, SSE req/s ${x2(ratio(pg3.sse?.rps, pg.sse?.rps))}, ` +
          `CPU µs/req (all replicas) ${n0(pg3.json?.cpuUsPerRequest)} vs ${n0(pg.json?.cpuUsPerRequest)}, ` +
          `database CPU µs/req ${n0(pg3.json?.dbCpuUsPerRequest)} vs ${n0(pg.json?.dbCpuUsPerRequest)}, ` +
          `requests per write transaction (commit) ${pg3.json?.requestsPerDbWrite?.toFixed(1) ?? '–'} vs ` +
          `${pg.json?.requestsPerDbWrite?.toFixed(1) ?? '–'}`
        : 'not run'
    }`,
  );
  const sq3 = by('sqlite3');
  out.push(
    `- Three SQLite processes sharing nothing, pinned to the same core, vs one (the cost of time-sharing one core): ${
      sq3 && tg
        ? `JSON req/s ${x2(ratio(sq3.json?.rps, tg.json?.rps))}, CPU µs/req (all three) ${n0(sq3.json?.cpuUsPerRequest)} ` +
          `vs ${n0(tg.json?.cpuUsPerRequest)}`
        : 'not run'
    }`,
  );
  out.push(
    `- PostgreSQL store alone, database CPU per reserve + settle (bench/lease-db-cpu.ts): ${
      r.leases
        ? `${n0(r.leases.withLeasesUs)} µs with leases vs ${n0(r.leases.withoutLeasesUs)} µs without ` +
          `(${n0(r.leases.pairs)} pairs at concurrency ${n0(r.leases.concurrency)})${capacityOf(r.leases.withLeasesUs)}`
        : 'not run'
    }`,
  );
  out.push(
    `- 10 MB transcription upload (bench/upload.ts): ${
      r.upload
        ? `added ${n0(r.upload.addedMsMedian)} ms per upload (median of ${r.upload.rounds}: ${n0(r.upload.gatewayMsMedian)} ` +
          `vs ${n0(r.upload.directMsMedian)} ms direct); peak RSS growth ${r.upload.rssGrowthMbPerUpload.toFixed(1)} MB ` +
          `per upload with ${r.upload.parallel} in flight`
        : 'not run'
    }`,
  );
  out.push(`- 10,000 keys vs 10 keys (SQLite): ${tenK && tg ? compare(tenK, tg) : 'not run'}`);
  out.push(
    `- reload of the 10,000-key file (append to keys.yaml + SIGHUP → /healthz serves the new revision, polled every 1 ms): ` +
      (r.reloadMs
        ? `median ${r.reloadMs.median.toFixed(1)} ms, max ${r.reloadMs.max.toFixed(1)} ms (runs: ${r.reloadMs.runs.map((x) => x.toFixed(1)).join(', ')})`
        : 'not run'),
  );

  out.push('', '## Memory', '');
  out.push(
    'RSS at 50 connections: the peak RSS column above (max VmRSS sampled every 100 ms during the wrk runs). ' +
      'Slow reader: a client reads a 10 MiB stream at ~1 KiB/s while the upstream pushes it as fast as its socket ' +
      'takes it (after the warm-up, before the rounds); growth = peak RSS in the window − RSS before. Kernel socket buffers (loopback, client, ' +
      'both sides of the hop) absorb some MiB before any backpressure reaches the upstream, for every target.',
  );
  out.push('');
  out.push(
    row([
      'target',
      'window s',
      'RSS growth MB',
      'upstream wrote KiB',
      'client read KiB',
      'upstream blocked (2nd half)',
    ]),
  );
  out.push('| --- | ---: | ---: | ---: | ---: | --- |');
  for (const s of r.slowReader)
    out.push(
      row([
        s.name,
        s.seconds,
        s.rssGrowthMb.toFixed(1),
        n0(s.upstreamWrittenKb),
        n0(s.clientReadKb),
        s.upstreamWrittenKb >= 10 * 1024
          ? 'no: all 10 MiB written (absorbed by socket buffers)'
          : s.upstreamBlocked
            ? 'yes'
            : '**no**',
      ]),
    );

  if (tg) {
    out.push('', `## Targets (issue 24, and issue 17's that still apply), for ${tg.name}`, '');
    out.push(
      r.previous
        ? `"Previous results": ${r.previous.file} of ${r.previous.date}, read when this run started.`
        : '"Previous results": none read (no committed results file at the start of the run).',
      '',
    );
    out.push(row(['target', 'goal', 'measured', 'met', 'measured cause']));
    out.push('| --- | --- | ---: | --- | --- |');
    for (const g of scoreTargets(r, tg))
      out.push(row([g.what, g.goal, g.measured, g.met === 'no' ? '**no**' : g.met, g.cause]));
  }
  if (r.notes.length) out.push('', '## Notes', '', ...r.notes.map((n) => `- ${n}`));
  out.push('');
  return out.join('\n');
}

/** The capacity model of docs/postgres.md: fleet req/s ≈ database cores × 10⁶ / database µs per request. */
function capacityOf(dbUsPerRequest: number | undefined): string {
  if (dbUsPerRequest === undefined || !(dbUsPerRequest > 0)) return '';
  const per = (cores: number) => Math.round((cores * 1e6) / dbUsPerRequest).toLocaleString('en-US');
  return ` (capacity model: ~${per(1)} req/s per database core, ~${per(4)} on 4)`;
}
