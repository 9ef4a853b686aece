import type { Clock } from '../clock.js';
import type { ConfigHolder } from '../config/types.js';
import type { Logger } from '../log.js';
import type { KillSwitch } from '../policy/kill-switch.js';
import type { UsageStore } from '../store/types.js';
import { dayOf } from '../windows/calendar.js';
import type { AlertSender } from './alert-claims.js';
import { spikeAlert } from './alert-messages.js';
import { tripBreaker } from './circuit-breaker.js';
import type { SendQueue } from './send-queue.js';
import { createSpikeMeter, spikeRuleOf } from './spike-rule.js';
import { createSpikeTrigger } from './spike-trigger.js';
import { createTrailingThrottle } from './trailing-throttle.js';

/** Runs a store-reading check off the caller's path; its failure is logged, never thrown. */
export type Background = (what: string, task: () => Promise<void>) => void;

export interface SpikeChecks {
  /** A settle that charged `usd`: the store is read at once when the fast path says so, and later in any case. */
  charged(name: string, notify: readonly string[], usd: number, now: number): void;
  /** Forgets keys no longer configured. */
  retain(keys: ReadonlySet<string>): void;
  stop(): void;
}

/**
 * The spike rule (docs/slack.md#alerts) per key: measured against the store at most every
 * `everyMs` (and a settle inside that window looked at again every `sweepMs`), or at once when
 * this replica's own spend rate says so. A spike alerts, or trips the circuit breaker when
 * slack.alerts.spike_action is disable and a kill switch was given.
 */
export function createSpikeChecks(deps: {
  store: Pick<UsageStore, 'spendBetween'>;
  config: ConfigHolder;
  clock: Clock;
  log: Logger;
  queue: SendQueue;
  alerts: AlertSender;
  killSwitch?: KillSwitch;
  background: Background;
  everyMs: number;
  sweepMs: number;
}): SpikeChecks {
  const { config, log, queue, alerts, background } = deps;
  const spikeMeter = createSpikeMeter(deps.store);
  /** Keys whose spike check is running: the periodic and the fast path never read twice at once. */
  const measuring = new Set<string>();
  function checkSpike(name: string, notify: readonly string[], now: number): void {
    if (measuring.has(name)) return;
    measuring.add(name);
    background('spike', async () => {
      try {
        const cfg = config.current().config;
        const id = `spike:${name}:d:${dayOf(now, cfg.server.timezone)}`;
        // Already raised today, here or by another replica: measuring again cannot change anything.
        if (alerts.has(id)) return;
        const spike = await spikeMeter.measure(name, now, spikeRuleOf(cfg));
        if (!spike) return;
        if (spike.rule.action === 'disable' && deps.killSwitch) {
          await tripBreaker(
            { killSwitch: deps.killSwitch, claims: alerts, config, queue, log },
            { id, key: name, notify, spike },
          );
          return;
        }
        await alerts.alertOnce(id, spikeAlert({ key: name, notify, ...spike }));
      } finally {
        measuring.delete(name);
      }
    });
  }
  const throttle = createTrailingThrottle<readonly string[]>({
    everyMs: deps.everyMs,
    sweepMs: deps.sweepMs,
    clock: deps.clock,
    run: checkSpike,
  });
  // The fast path: this replica's own spend rate, in memory, says when to read the store at once.
  const trigger = createSpikeTrigger({ config, lastAverageUsd: spikeMeter.lastAverageUsd });

  return {
    charged(name, notify, usd, now) {
      if (trigger.charged(name, usd, now)) checkSpike(name, notify, now);
      throttle.touch(name, notify);
    },
    retain: (keys) => trigger.retain(keys),
    stop: () => throttle.stop(),
  };
}
