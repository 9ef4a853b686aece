import { DEFAULT_SPIKE_FACTOR, DEFAULT_SPIKE_MIN_USD } from '../config/normalize.js';
import type { Config } from '../config/types.js';
import type { Store } from '../store/types.js';

const HOUR_MS = 3_600_000;

/**
 * How often the spike rule reads the store for one key (per replica), at most. It runs on the
 * settle of the key's own requests, so a key in a loop is measured again within this long of
 * crossing the thresholds: half a minute leaves room for a slow request inside "within a minute".
 */
export const SPIKE_CHECK_EVERY_MS = 30_000;

export interface SpikeRule {
  /** The last hour must be at least this many times the trailing hourly average … */
  factor: number;
  /** … and at least this much in USD, so that cents going to dimes do not page anyone. */
  minUsd: number;
  action: 'alert' | 'disable';
}

/** The numbers that make (or would make) a spike; they go into the alert and the audit reason. */
export interface SpikeReading {
  lastHourUsd: number;
  lastHourRequests: number;
  /** Average spend per hour over the 24 hours before the last one. */
  hourlyAverageUsd: number;
  rule: SpikeRule;
}

export function spikeRuleOf(config: Config): SpikeRule {
  const a = config.slack?.alerts;
  return {
    factor: a?.spikeFactor ?? DEFAULT_SPIKE_FACTOR,
    minUsd: a?.spikeMinUsd ?? DEFAULT_SPIKE_MIN_USD,
    action: a?.spikeAction ?? 'alert',
  };
}

/**
 * Reads the key's last hour (every replica's records, from the store) and, only when that alone
 * reaches `minUsd`, the 24 hours before it: a quiet key costs one indexed range query per check.
 * Returns the reading when the rule fires, else null.
 */
export async function measureSpike(
  store: Store,
  key: string,
  now: number,
  rule: SpikeRule,
): Promise<SpikeReading | null> {
  const hour = await store.spendBetween(key, now - HOUR_MS, now + 1);
  if (!(hour.costUsd >= rule.minUsd)) return null;
  const before = await store.spendBetween(key, now - 25 * HOUR_MS, now - HOUR_MS);
  const hourlyAverageUsd = before.costUsd / 24;
  if (hour.costUsd < rule.factor * hourlyAverageUsd) return null;
  return { lastHourUsd: hour.costUsd, lastHourRequests: hour.requests, hourlyAverageUsd, rule };
}
