import { describe, expect, it } from 'vitest';
import { buildDigest, errorClassOf } from '../../../src/slack/digest/build-digest.js';
import type { UsageRecord } from '../../../src/store/types.js';
import { zonedTime } from '../../../src/windows/calendar.js';
import { makeConfig, makeKey, makeRecord } from '../../helpers/digest-fixtures.js';
import { createDigestMemoryStore } from '../../helpers/digest-memory-store.js';

const TZ = 'Europe/Berlin';
const at = (day: string, hour: number, minute: number) => {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return zonedTime(y, m, d, TZ, hour, minute);
};

async function digestOf(
  records: UsageRecord[],
  day: string,
  config = makeConfig([makeKey('a'), makeKey('b')]),
) {
  const store = createDigestMemoryStore(records);
  return buildDigest({ store, config, revision: 'abc123', day, now: at(day, 9, 0) + 86_400_000 });
}

describe('buildDigest', () => {
  it('covers exactly the local day: requests at 23:59 and 00:01 land on their own side of midnight', async () => {
    const records = [
      makeRecord(at('2026-11-25', 23, 59), 'a', { costUsd: 1 }),
      makeRecord(at('2026-11-26', 0, 1), 'a', { costUsd: 2 }),
      makeRecord(at('2026-11-26', 23, 59), 'a', { costUsd: 4 }),
      makeRecord(at('2026-11-27', 0, 1), 'a', { costUsd: 8 }),
    ];
    const d = await digestOf(records, '2026-11-26');
    expect(d.total.costUsd).toBe(6);
    expect(d.total.requests).toBe(2);
    expect(d.total.previousDayCostUsd).toBe(1);
  });

  it('covers the 25-hour local day when Berlin leaves daylight saving time', async () => {
    // 2026-10-25: clocks go from 03:00 back to 02:00, the day lasts 25 hours.
    const records = [
      makeRecord(at('2026-10-24', 23, 59), 'a', { costUsd: 1 }),
      makeRecord(at('2026-10-25', 0, 1), 'a', { costUsd: 2 }),
      // 02:30 happens twice; the second one is an hour after the first.
      makeRecord(at('2026-10-25', 2, 30) + 3_600_000, 'a', { costUsd: 16 }),
      makeRecord(at('2026-10-25', 23, 59), 'a', { costUsd: 4 }),
      makeRecord(at('2026-10-26', 0, 1), 'a', { costUsd: 8 }),
    ];
    const d = await digestOf(records, '2026-10-25');
    expect(d.total.costUsd).toBe(22);
    expect(d.total.requests).toBe(3);
  });

  it('covers the 23-hour local day when Berlin enters daylight saving time', async () => {
    const records = [
      makeRecord(at('2026-03-28', 23, 59), 'a', { costUsd: 1 }),
      makeRecord(at('2026-03-29', 0, 1), 'a', { costUsd: 2 }),
      makeRecord(at('2026-03-29', 3, 0), 'a', { costUsd: 16 }),
      makeRecord(at('2026-03-29', 23, 59), 'a', { costUsd: 4 }),
      makeRecord(at('2026-03-30', 0, 1), 'a', { costUsd: 8 }),
    ];
    const d = await digestOf(records, '2026-03-29');
    expect(d.total.costUsd).toBe(22);
    expect(d.total.previousDayCostUsd).toBe(1);
  });

  it('reports per-key spend, requests and errors by status class equal to the usage records', async () => {
    const t = at('2026-11-26', 12, 0);
    const records = [
      ...Array.from({ length: 5 }, () => makeRecord(t, 'a', { costUsd: 0.5 })),
      makeRecord(t, 'a', { status: 401, costUsd: 0, model: null, errorCode: 'key_disabled' }),
      makeRecord(t, 'a', { status: 403, costUsd: 0 }),
      makeRecord(t, 'a', { status: 404, costUsd: 0, model: 'nope' }),
      makeRecord(t, 'a', { status: 429, costUsd: 0 }),
      makeRecord(t, 'a', { status: 429, costUsd: 0 }),
      makeRecord(t, 'a', { status: 502, costUsd: 0.01 }),
      makeRecord(t, 'a', { status: 504, costUsd: 0 }),
      makeRecord(t, 'a', { status: 400, costUsd: 0 }),
      makeRecord(t, 'b', { costUsd: 3, model: 'claude-sonnet-4-5' }),
      makeRecord(t, 'b', { costUsd: 0.2, model: 'gpt-4o-mini' }),
      makeRecord(t, 'b', { costUsd: 0.3, model: 'gpt-4o-mini' }),
    ];
    const d = await digestOf(records, '2026-11-26');
    expect(d.keys.map((k) => k.key)).toEqual(['b', 'a']);
    const [b, a] = d.keys;
    expect(a?.requests).toBe(13);
    expect(a?.costUsd).toBeCloseTo(2.51, 10);
    expect(a?.errors).toBe(8);
    expect(a?.errorsByClass).toEqual({ '401': 1, '403': 1, '404': 1, '429': 2, '5xx': 2, other: 1 });
    expect(a?.topModel).toBe('gpt-4o-mini');
    expect(b?.requests).toBe(3);
    expect(b?.costUsd).toBeCloseTo(3.5, 10);
    expect(b?.errors).toBe(0);
    expect(b?.topModel).toBe('claude-sonnet-4-5');
    expect(d.total.requests).toBe(16);
    expect(d.total.errors).toBe(8);
    expect(d.total.costUsd).toBeCloseTo(6.01, 10);
  });

  it('gives each key its share of the daily limit, and none without one', async () => {
    const t = at('2026-11-26', 12, 0);
    const config = makeConfig([makeKey('a', { limits: { dailyUsd: 5 } }), makeKey('b')]);
    const d = await digestOf(
      [makeRecord(t, 'a', { costUsd: 4 }), makeRecord(t, 'b', { costUsd: 1 })],
      '2026-11-26',
      config,
    );
    expect(d.keys.find((k) => k.key === 'a')?.dailyShare).toBeCloseTo(0.8, 10);
    expect(d.keys.find((k) => k.key === 'b')?.dailyShare).toBeNull();
  });

  it('sums the month to date through the digest day and compares it with the monthly limits of enabled keys', async () => {
    const config = makeConfig([
      makeKey('a', { limits: { monthlyUsd: 50 } }),
      makeKey('b', { limits: { monthlyUsd: 30 } }),
      makeKey('off', { limits: { monthlyUsd: 1000 }, disabled: true }),
    ]);
    const records = [
      makeRecord(at('2026-10-31', 23, 59), 'a', { costUsd: 100 }),
      makeRecord(at('2026-11-01', 0, 1), 'a', { costUsd: 1 }),
      makeRecord(at('2026-11-15', 12, 0), 'b', { costUsd: 2 }),
      makeRecord(at('2026-11-26', 12, 0), 'a', { costUsd: 4 }),
      makeRecord(at('2026-11-27', 12, 0), 'a', { costUsd: 200 }),
    ];
    const d = await digestOf(records, '2026-11-26', config);
    expect(d.month).toEqual({ month: '2026-11', costUsd: 7, monthlyLimitsUsd: 80 });
  });

  it('says there is no monthly limit to compare with when no key has one', async () => {
    const d = await digestOf([], '2026-11-26');
    expect(d.month.monthlyLimitsUsd).toBeNull();
  });

  it('counts requests without a valid key in the totals but not as a key of the table', async () => {
    const t = at('2026-11-26', 12, 0);
    const records = [
      makeRecord(t, '', { status: 401, costUsd: 0, model: null, errorCode: 'invalid_api_key' }),
      makeRecord(t, 'a', { costUsd: 1 }),
    ];
    const d = await digestOf(records, '2026-11-26');
    expect(d.keys.map((k) => k.key)).toEqual(['a']);
    expect(d.total.requests).toBe(2);
    expect(d.total.unidentifiedRequests).toBe(1);
  });

  it('keeps spend by a key removed from keys.yaml in the table, marked as not in the config', async () => {
    const d = await digestOf([makeRecord(at('2026-11-26', 12, 0), 'gone', { costUsd: 1 })], '2026-11-26');
    expect(d.keys).toHaveLength(1);
    expect(d.keys[0]?.inConfig).toBe(false);
  });

  it('carries the revision, the day and the timezone, and an empty table on a day without traffic', async () => {
    const d = await digestOf([makeRecord(at('2026-11-25', 12, 0), 'a')], '2026-11-26');
    expect(d.keys).toEqual([]);
    expect(d.total.requests).toBe(0);
    expect(d.revision).toBe('abc123');
    expect(d.day).toBe('2026-11-26');
    expect(d.timeZone).toBe(TZ);
  });

  it('sorts keys by spend, then requests, then name', async () => {
    const t = at('2026-11-26', 12, 0);
    const config = makeConfig(['x', 'y', 'z', 'w'].map((n) => makeKey(n)));
    const records = [
      makeRecord(t, 'z', { costUsd: 1 }),
      makeRecord(t, 'y', { costUsd: 1 }),
      makeRecord(t, 'x', { costUsd: 1 }),
      makeRecord(t, 'x', { costUsd: 0 }),
      makeRecord(t, 'w', { costUsd: 5 }),
    ];
    const d = await digestOf(records, '2026-11-26', config);
    expect(d.keys.map((k) => k.key)).toEqual(['w', 'x', 'y', 'z']);
  });

  it('classifies statuses into the digest error classes', () => {
    expect([200, 401, 403, 404, 429, 400, 413, 500, 502, 504].map(errorClassOf)).toEqual([
      null,
      '401',
      '403',
      '404',
      '429',
      'other',
      'other',
      '5xx',
      '5xx',
      '5xx',
    ]);
  });
});
