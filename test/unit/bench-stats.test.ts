import { describe, expect, it } from 'vitest';
import { cpuMicros, rssMb } from '../../bench/lib/proc-stats.js';
import { renderReport } from '../../bench/lib/report.js';
import { median, percentiles } from '../../bench/lib/stats.js';
import { parseWrk, wrkLua } from '../../bench/lib/wrk.js';

describe('benchmark helpers', () => {
  it('takes nearest-rank percentiles and medians', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(xs)).toEqual({ n: 100, p50: 50, p90: 90, p99: 99, max: 100 });
    expect(percentiles([])).toEqual({ n: 0, p50: 0, p90: 0, p99: 0, max: 0 });
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it('reads CPU time and RSS from /proc, even with spaces and parentheses in the command name', () => {
    const stat = '1234 (node (my) proc) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 5 0';
    expect(cpuMicros(stat, 100)).toBe(3_000_000);
    expect(rssMb('Name:\tnode\nVmRSS:\t  102400 kB\n')).toBe(100);
    expect(rssMb('Name:\tzombie\n')).toBeNaN();
  });

  it('parses wrk output, errors included, and writes its request script', () => {
    const out = `Running 5s test @ http://127.0.0.1:1/v1/chat/completions
  50 connections
  27061 requests in 5.00s, 16.3MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   5411.36
`;
    expect(parseWrk(out)).toEqual({ rps: 5411.36, requests: 27061, errors: 7 });
    expect(wrkLua({ authorization: 'Bearer k' }, '{"a":1}')).toContain(
      'wrk.headers["authorization"] = "Bearer k"',
    );
  });

  it('renders the report with ratios to nginx and each target met or missed', () => {
    const summary = (rps: number, cpu: number) => ({ rps, cpuUsPerRequest: cpu, rssMb: 100, errors: 0 });
    const md = renderReport({
      date: '2026-01-01T00:00:00.000Z',
      args: { rounds: 1, seconds: 2, latencySeconds: 2, only: [] },
      machine: {
        node: 'v20',
        nginx: 'nginx/1.22',
        wrk: 'wrk 4',
        cpus: 2,
        cpuModel: 'cpu',
        loadavg: [0, 0, 0],
      },
      targets: [
        {
          id: 'direct',
          name: 'direct',
          latency: { 'json@200': { p50: 100, p99: 200, ttfbP50: 90, errors: 0, sendLagP99: 5 } },
          added: {},
        },
        {
          id: 'nginx',
          name: 'nginx',
          json: summary(10_000, 20),
          sse: summary(5_000, 40),
          latency: {},
          added: {},
        },
        {
          id: 'node',
          name: 'node',
          json: summary(6_000, 80),
          sse: summary(3_000, 120),
          latency: {},
          added: {},
        },
        {
          id: 'pg',
          name: 'tollgate pg',
          json: { ...summary(1_000, 400), dbCpuUsPerRequest: 900 },
          sse: summary(800, 500),
          latency: {},
          added: {},
        },
        {
          id: 'pg3',
          name: 'tollgate pg x3',
          json: { ...summary(1_600, 450), dbCpuUsPerRequest: 800 },
          sse: summary(1_000, 550),
          latency: {},
          added: {},
        },
        {
          id: 'sqlite',
          name: 'tollgate',
          json: summary(4_000, 100),
          sse: summary(2_000, 250),
          latency: {},
          added: { 'json@200': { p50: 400, p99: 1500, ttfbP50: 300 } },
        },
      ],
      slowReader: [],
      reloadMs: { runs: [100, 150], median: 125, max: 150 },
      notes: [],
    });
    expect(md).toContain('| tollgate | 4,000 | 40% | 100 | 2,000 | 40% | 250 | 100 |');
    expect(md).toContain('| JSON throughput vs nginx | ≥ 30% | 40% | yes |');
    expect(md).toContain('| SSE throughput vs nginx | ≥ 40% | 40% | yes |');
    expect(md).toContain('| added p99 at 200/s (JSON) | ≤ 1 ms | 1.500 ms | **no** |');
    expect(md).toContain(
      '| added p99 at 2,000/s (SSE) | ≤ 3 ms | not run: 2,000/s is above 2/3 of its 2,000 req/s | not measured | not measured |',
    );
    expect(md).toContain(
      '| CPU per JSON request vs the plain node:http proxy | ≤ 1.6x | 1.25x (100 vs 80 µs) | yes |',
    );
    expect(md).toContain(
      '| PostgreSQL, one replica: JSON req/s vs SQLite | ≥ 0.7x | 0.25x (1,000 vs 4,000) | **no** |',
    );
    // A missed target says what took the time, with this run's figures where it has them.
    expect(md).toContain('**no** | the database server’s own CPU: 900 µs per request in this run');
    expect(md).toContain("the database server's own CPU 900 µs/req");
    // A row this run did not measure gives no cause but says so; nothing is quoted from an old run.
    expect(md).toContain(
      '| SSE req/s vs the previous results (no previous results read) | ≥ 1.00x | not measured |',
    );
    expect(md).not.toContain('GC pauses');
    expect(md).toMatch(/\| JSON throughput vs nginx \| ≥ 30% \| 40% \| yes \| {2}\|/);
    expect(md).toContain(
      '| PostgreSQL, one replica: gateway CPU per JSON request vs SQLite | ≤ 1.3x | 4.00x (400 vs 100 µs) | **no** |',
    );
    expect(md).toContain(
      '| PostgreSQL, three replicas on one database: database CPU per request vs one replica | ≤ 1.00x | 0.89x (800 vs 900 µs) | yes |',
    );
    expect(md).toContain('## Targets (issue 24');
    expect(md).not.toContain('≥ 50%');
    expect(md).toContain('| 10,000-key reload (max of 5) | < 200 ms | 150.0 ms | yes |');
  });
});
