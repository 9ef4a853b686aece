import type { ConfigHolder } from '../config/types.js';
import { createSpendRate } from './spend-rate.js';
import { SPIKE_FAST_CHECK_EVERY_MS, type SpikeRule, spikeRuleOf } from './spike-rule.js';

/** The spike rule's fast path (docs/slack.md#alerts): when to read the store for a key right away. */
export interface SpikeTrigger {
  /** Records a charged settle; true when the store should be read for this key now. */
  charged(key: string, usd: number, now: number): boolean;
  /** Forgets keys no longer configured. */
  retain(keys: ReadonlySet<string>): void;
}

/**
 * This replica's own spend rate per key (spend-rate.ts, in memory) against the rule: at least
 * `spike_min_usd` in the last hour, and `spike_factor` times the baseline the store last gave
 * (or no baseline yet). Then the store is read at once, and again at most every
 * SPIKE_FAST_CHECK_EVERY_MS while the rate stays over; the store's reading decides.
 */
export function createSpikeTrigger(deps: {
  config: ConfigHolder;
  lastAverageUsd(key: string): number | undefined;
}): SpikeTrigger {
  const rate = createSpendRate();
  const lastRead = new Map<string, number>();
  let cached: { config: unknown; rule: SpikeRule } | undefined;
  return {
    charged(key, usd, now) {
      rate.add(key, usd, now);
      const cfg = deps.config.current().config;
      if (cached?.config !== cfg) cached = { config: cfg, rule: spikeRuleOf(cfg) };
      const rule = cached.rule;
      const local = rate.lastHourUsd(key, now);
      if (!(local >= rule.minUsd)) return false;
      const last = lastRead.get(key);
      if (last !== undefined && now - last < SPIKE_FAST_CHECK_EVERY_MS) return false;
      const average = deps.lastAverageUsd(key);
      if (average !== undefined && local < rule.factor * average) return false;
      lastRead.set(key, now);
      return true;
    },
    retain(keys) {
      rate.retain(keys);
      for (const key of lastRead.keys()) if (!keys.has(key)) lastRead.delete(key);
    },
  };
}
