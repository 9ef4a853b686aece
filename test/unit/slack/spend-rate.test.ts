import { describe, expect, it } from 'vitest';
import { createSpendRate } from '../../../src/slack/spend-rate.js';

const T0 = Date.UTC(2026, 11, 6, 20, 0, 0);
const MIN = 60_000;

describe("a replica's own spend rate per key", () => {
  it('sums the last hour to the minute and forgets what is older', () => {
    const rate = createSpendRate();
    rate.add('agent', 1, T0);
    rate.add('agent', 2, T0 + 30 * MIN);
    rate.add('agent', 4, T0 + 59 * MIN);
    rate.add('other', 100, T0);
    expect(rate.lastHourUsd('agent', T0 + 59 * MIN)).toBe(7);
    // The first minute's dollar leaves the hour; the ring slot it used is reused a lap later.
    expect(rate.lastHourUsd('agent', T0 + 60 * MIN)).toBe(6);
    rate.add('agent', 8, T0 + 60 * MIN);
    expect(rate.lastHourUsd('agent', T0 + 60 * MIN)).toBe(14);
    expect(rate.lastHourUsd('agent', T0 + 3 * 60 * MIN)).toBe(0);
    expect(rate.lastHourUsd('nobody', T0)).toBe(0);
  });

  it('ignores zero, negative and non-finite charges, and forgets keys no longer configured', () => {
    const rate = createSpendRate();
    for (const usd of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) rate.add('agent', usd, T0);
    expect(rate.lastHourUsd('agent', T0)).toBe(0);
    rate.add('agent', 1, T0);
    rate.retain(new Set(['someone-else']));
    expect(rate.lastHourUsd('agent', T0)).toBe(0);
  });
});
