import { DEFAULT_SPIKE_FACTOR, DEFAULT_SPIKE_MIN_USD } from '../config/load/normalize.js';
import type { Config } from '../config/types.js';
import type { UsageStore } from '../store/types.js';

const HOUR_MS = 3_600_000;

/**
 * How often the spike rule reads the store for one key (per replica) on the periodic path: the
 * settle of the key's own requests touches it, so spend spread over several replicas is measured
 * within this long. A spike this replica sees itself is measured at once (SPIKE_FAST_CHECK_EVERY_MS).
 */
export const SPIKE_CHECK_EVERY_MS = 30_000;

/**
 * When this replica's own spend of a key in the last hour (spend-rate.ts, in memory) crosses the
 * rule, the store is read at once to confirm, and again at most this often while it stays over:
 * a key spending $50 in 6 s is stopped within seconds, not at the next half-minute check.
 */
export const SPIKE_FAST_CHECK_EVERY_MS = 2_000;

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

/** Spend of one key in whole clock hours, each read from the store once. */
type HourCache = Map<number, number>;

export interface SpikeMeter {
  /** Returns the reading when the rule fires, else null. */
  measure(key: string, now: number, rule: SpikeRule): Promise<SpikeReading | null>;
  /** The hourly average of the key's latest measurement that needed it, if any. */
  lastAverageUsd(key: string): number | undefined;
}

/**
 * Measures the rule against the store (every replica's records). The last hour is one indexed
 * range query, and only when it reaches `minUsd` is the baseline needed: the 24 whole clock hours
 * before the hour that contains `now - 1h`. Those hours are closed (a request settles within its
 * upstream timeout, well under an hour), so each is read once per key and kept: a key that has
 * looped for a day costs one hour of rows per check, not a day of them, which matters on SQLite
 * where the query runs on the event loop.
 */
export function createSpikeMeter(store: Pick<UsageStore, 'spendBetween'>): SpikeMeter {
  const hoursByKey = new Map<string, HourCache>();
  const averages = new Map<string, number>();

  async function baselineUsd(key: string, now: number): Promise<number> {
    const end = Math.floor((now - HOUR_MS) / HOUR_MS) * HOUR_MS;
    const start = end - 24 * HOUR_MS;
    let hours = hoursByKey.get(key);
    if (!hours) {
      hours = new Map();
      hoursByKey.set(key, hours);
    }
    for (const h of hours.keys()) if (h < start || h >= end) hours.delete(h);
    let total = 0;
    for (let h = start; h < end; h += HOUR_MS) {
      let cost = hours.get(h);
      if (cost === undefined) {
        cost = (await store.spendBetween(key, h, h + HOUR_MS)).costUsd;
        hours.set(h, cost);
        // SQLite answers synchronously: let requests through between the hours of a first check.
        await new Promise((resolve) => setImmediate(resolve));
      }
      total += cost;
    }
    return total;
  }

  return {
    async measure(key, now, rule) {
      const hour = await store.spendBetween(key, now - HOUR_MS, now + 1);
      if (!(hour.costUsd >= rule.minUsd)) return null;
      const hourlyAverageUsd = (await baselineUsd(key, now)) / 24;
      averages.set(key, hourlyAverageUsd);
      if (hour.costUsd < rule.factor * hourlyAverageUsd) return null;
      return { lastHourUsd: hour.costUsd, lastHourRequests: hour.requests, hourlyAverageUsd, rule };
    },
    lastAverageUsd: (key) => averages.get(key),
  };
}
