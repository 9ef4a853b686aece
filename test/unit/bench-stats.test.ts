import { describe, expect, it } from 'vitest';
import { cpuMicros, median, parseWrk, percentiles, rssMb } from '../../../bench/suite/stats.js';

describe('benchmark statistics', () => {
  it('takes nearest-rank percentiles and medians', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(xs)).toEqual({ n: 100, p50: 50, p90: 90, p99: 99, max: 100 });
    expect(percentiles([])).toEqual({ n: 0, p50: 0, p90: 0, p99: 0, max: 0 });
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('reads CPU time and RSS from /proc, even with spaces in the command name', () => {
    const stat = '1234 (node my proc) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 5 0';
    expect(cpuMicros(stat, 100)).toBe(3_000_000);
    expect(rssMb('Name:\tnode\nVmRSS:\t  102400 kB\n')).toBe(100);
  });

  it('parses wrk output, errors included', () => {
    const out = `Running 5s test @ http://127.0.0.1:1/v1/chat/completions
  50 connections
  27061 requests in 5.00s, 16.3MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   5411.36
`;
    expect(parseWrk(out)).toEqual({ rps: 5411.36, requests: 27061, errors: 7 });
  });
});
