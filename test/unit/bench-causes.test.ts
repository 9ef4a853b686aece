import { describe, expect, it } from 'vitest';
import { causeOf } from '../../bench/lib/causes.js';
import type { TargetResult } from '../../bench/lib/report-types.js';

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
