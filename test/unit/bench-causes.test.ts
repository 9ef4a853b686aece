import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { causeOf, growth, reloadCause } from '../../bench/lib/causes.js';
import type { TargetResult, Traced } from '../../bench/lib/report-types.js';
import { selfShares } from '../../bench/lib/traced.js';

const target = (json?: Partial<NonNullable<TargetResult['json']>>): TargetResult =>
  ({ name: 't', added: {}, ...(json ? { json } : {}) }) as unknown as TargetResult;

describe('the bench’s measured causes', () => {
  it('quote the database CPU this run measured, with the capacity it implies', () => {
    const cause = causeOf('PostgreSQL, one replica: JSON req/s vs SQLite', {
      tg: target(),
      pg: target({ dbCpuUsPerRequest: 1234, cpuUsPerRequest: 400 }),
    });
    expect(cause).toContain('1,234 µs per request in this run');
    expect(cause).toContain('~810 req/s');
  });

  it('say a cause was not measured when the run has no reading for it', () => {
    expect(
      causeOf('PostgreSQL, one replica: JSON req/s vs SQLite', { tg: target(), pg: target({}) }),
    ).toMatch(/^not measured in this run/);
    // The run takes no profile or stall trace: no old reading is printed as this run's cause.
    const stalls = causeOf('added p99 at 2,000/s (JSON)', { tg: target() });
    expect(stalls).toMatch(/^not measured in this run/);
    expect(stalls).not.toMatch(/GC|group-commit|ms/);
  });
});

describe('the causes the traced passes give', () => {
  const frames = (xs: Array<[string, number]>) => xs.map(([frame, us]) => ({ frame, share: 0, us }));

  it('name the functions that grew against the baseline, a function missing from a pass counting as 0', () => {
    const mine = frames([
      ['writev', 30],
      ['tap dist/metering/sse-tap.js', 8],
      ['(garbage collector)', 20],
    ]);
    const base = frames([
      ['writev', 31],
      ['(garbage collector)', 14],
      ['old dist/gone.js', 2],
    ]);
    expect(growth(mine, base)).toBe(
      '58.0 µs against 47.0 µs in those passes; grew most: +8.0 µs `tap dist/metering/sse-tap.js`, ' +
        '+6.0 µs `(garbage collector)`; shrank most: −2.0 µs `old dist/gone.js`, −1.0 µs `writev`',
    );
  });

  it('give the settle’s round trip as the PostgreSQL latency cause', () => {
    const traced: Traced = {
      stalls: [],
      frames: {},
      pg: {
        label: 'json@200',
        requests: 1000,
        p50Us: 1_400,
        leasedSettle: { calls: 990, meanMs: 0.8123, p50Ms: 0.61 },
        settleMany: { calls: 0, meanMs: 0, p50Ms: 0 },
      },
    };
    expect(causeOf('PostgreSQL, one replica: latency', { tg: target(), traced })).toBe(
      'in a traced pass at 200/s after the rounds (every statement’s round trip timed in the gateway; 1,000 ' +
        'requests, p50 1.400 ms absolute), each response waited for its usage record’s commit: the leased ' +
        'settle’s round trip took 0.610 ms at the median and 0.812 on average (990 calls)',
    );
    // Without the pass, the row says the cause was not measured.
    expect(causeOf('PostgreSQL, one replica: latency', { tg: target() })).toMatch(
      /^not measured in this run/,
    );
  });
});

describe('the CPU passes’ frames', () => {
  it('name a frame by its file under dist/ whatever folder its build ran from, so two builds compare', () => {
    const dir = mkdtempSync(join(tmpdir(), 'frames-'));
    try {
      const file = join(dir, 'p.cpuprofile');
      const node = (id: number, functionName: string, url: string, hitCount: number) => ({
        id,
        callFrame: { functionName, url, lineNumber: 3 },
        hitCount,
      });
      writeFileSync(
        file,
        JSON.stringify({
          nodes: [
            node(1, '(idle)', '', 50),
            node(2, 'tap', pathToFileURL(join(dir, 'base-build', 'metering', 'sse-tap.js')).href, 30),
            node(3, 'run', '', 10),
            node(4, '(garbage collector)', '', 10),
          ],
        }),
      );
      expect(selfShares(file, join(dir, 'base-build'))).toEqual(
        new Map([
          ['tap dist/metering/sse-tap.js', 0.6],
          ['run (native)', 0.2],
          ['(garbage collector)', 0.2],
        ]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the reload row’s cause', () => {
  const times = (ms: number, queuedMs: number, parse: number) => ({
    ms,
    queuedMs,
    phases: { read: 0.4, parse, rules: ms - parse - 0.4 },
  });

  it('splits the slowest reload by the gateway’s own times: the queue, its steps, the rest', () => {
    const cause = reloadCause({
      runs: [250, 900, 260],
      gateway: [times(240, 0, 140), times(400, 450, 300), times(250, 0, 150)],
    });
    expect(cause).toContain('the slowest reload (900.0 ms until /healthz served it)');
    expect(cause).toContain(
      'waited 450.0 ms behind another reload, then took 400.0 ms: parse 300.0 ms, rules 99.6 ms;',
    );
    expect(cause).toContain('50.0 ms besides');
    expect(cause).not.toContain('read');
  });

  it('says not measured when the gateway logged no times (an older build) or fewer than the runs', () => {
    expect(reloadCause({ runs: [250, 900] })).toMatch(/^not measured in this run/);
    expect(reloadCause({ runs: [250, 900], gateway: [times(240, 0, 140)] })).toMatch(
      /^not measured in this run/,
    );
  });
});
