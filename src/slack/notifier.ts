import type { Clock } from '../clock.js';
import { ownEntry } from '../config/own.js';
import type { ConfigHolder } from '../config/types.js';
import { createInFlight } from '../in-flight.js';
import type { Logger } from '../log.js';
import type { Notifier } from '../notifier.js';
import type { KillSwitch } from '../policy/kill-switch.js';
import type { ClaimStore, ClientStore, UsageStore } from '../store/types.js';
import { createAlertSender } from './alert-claims.js';
import { refusedAlert, reloadAppliedAlert, reloadFailedAlert } from './alert-messages.js';
import { budgetWindowsToCheck, sendBudgetAlerts } from './budget-alerts.js';
import { createNewClientCheck } from './new-client-alerts.js';
import { createRefusalCounter } from './refusal-counter.js';
import type { SendQueue } from './send-queue.js';
import { type Background, createSpikeChecks } from './spike-checks.js';
import { SPIKE_CHECK_EVERY_MS } from './spike-rule.js';

const HOUR_MS = 3_600_000;

export interface SlackNotifierOptions {
  /** The spike check reads the store, so it runs at most this often per key (SPIKE_CHECK_EVERY_MS). */
  spikeCheckEveryMs?: number;
  /** How often a settle that came inside that window is looked at again (default 5 s). */
  spikeSweepMs?: number;
  /** Refusals of a disabled/expired key are counted this long before the alert goes out. */
  refusedAggregateMs?: number;
  defaultThresholds?: number[];
}

export interface SlackNotifier extends Notifier {
  /** Resolves when every background check has finished and the queue is empty (tests, shutdown). */
  flush(): Promise<void>;
  stop(): void;
}

/**
 * Slack alerts (docs/slack.md#alerts). Every method returns at once: the checks that need the store run in the
 * background and messages go through the send queue. Each alert is claimed once in the store per
 * key, window and threshold, so restarts and other replicas do not repeat it (alert-claims.ts);
 * in-memory caches only save store round trips and never decide on their own.
 */
export function createSlackNotifier(deps: {
  store: Pick<ClaimStore, 'claimOnce' | 'releaseClaim'> & ClientStore & Pick<UsageStore, 'spendBetween'>;
  config: ConfigHolder;
  clock: Clock;
  log: Logger;
  queue: SendQueue;
  /** Trips the circuit breaker (slack.alerts.spike_action: disable); without it a spike only alerts. */
  killSwitch?: KillSwitch;
  options?: SlackNotifierOptions;
}): SlackNotifier {
  const { store, config, clock, log, queue } = deps;
  const o = deps.options ?? {};
  const refusedAggregateMs = o.refusedAggregateMs ?? 60_000;
  // Not a Set: past a threshold, one entry per request for good (in-flight.ts says why).
  const pending = createInFlight<Promise<void>>();
  let stopped = false;

  const background: Background = (what, task) => {
    if (stopped) return;
    let slot = 0;
    const p = task()
      .catch((err: unknown) => log.warn({ err }, `Slack alert check failed: ${what}`))
      .finally(() => pending.delete(slot));
    slot = pending.add(p);
  };

  const alerts = createAlertSender({ store, config, clock, log, queue });
  const spikes = createSpikeChecks({
    store,
    config,
    clock,
    log,
    queue,
    alerts,
    killSwitch: deps.killSwitch,
    background,
    everyMs: o.spikeCheckEveryMs ?? SPIKE_CHECK_EVERY_MS,
    sweepMs: o.spikeSweepMs ?? 5_000,
  });
  const checkNewClient = createNewClientCheck({ store, alerts, background });

  function thresholds(): number[] {
    const t = config.current().config.slack?.alerts.budgetThresholds ?? o.defaultThresholds ?? [0.8, 1];
    return [...t].sort((a, b) => b - a);
  }

  const refusals = createRefusalCounter(refusedAggregateMs, (w) => {
    background('key refused', async () => {
      const hour = new Date(Math.floor(w.first / HOUR_MS) * HOUR_MS).toISOString().slice(0, 13);
      await alerts.alertOnce(
        `refused:${w.key}:${hour}`,
        refusedAlert({
          key: w.key,
          notify: ownEntry(config.current().config.keys, w.key)?.notify ?? [],
          code: w.code,
          attempts: w.count,
          sinceSec: Math.max(refusedAggregateMs, w.last - w.first) / 1000,
          userAgents: w.userAgents,
          networks: w.networks,
        }),
      );
    });
  });

  const notifier: SlackNotifier = {
    configReloaded(e) {
      spikes.retain(new Set(Object.keys(config.current().config.keys)));
      background('config reloaded', async () => {
        // The diff is computed a turn later: the new config serves before Slack's summary is built.
        await new Promise((resolve) => setImmediate(resolve));
        // Keyed by the transition: replicas applying the same change post once, while a later
        // revert to an earlier revision is still announced.
        await alerts.alertOnce(
          `reload:${e.previousRevision}->${e.revision}`,
          reloadAppliedAlert({ ...e, summary: e.summary() }),
        );
      });
    },

    configReloadFailed(e) {
      background('config reload failed', async () => {
        await alerts.alertOnce(`reload-failed:${e.revision}->${e.rejected}`, reloadFailedAlert(e));
      });
    },

    requestSettled(e) {
      const levels = thresholds();
      const windows = budgetWindowsToCheck(e, levels);
      if (windows) background('budget', () => sendBudgetAlerts(alerts, e, windows, levels));

      const now = clock();
      // Only a charge can raise the hour's spend; refusals of a disabled key cost nothing to check.
      if (e.record.costUsd > 0) spikes.charged(e.key.name, e.key.notify, e.record.costUsd, now);
      checkNewClient(e.key.name, e.key.notify, e.record, now);
    },

    keyRefused(e) {
      refusals.record(e);
    },

    async flush() {
      while (pending.size > 0) await Promise.all(pending.values());
      await queue.idle();
    },

    stop() {
      stopped = true;
      refusals.stop();
      spikes.stop();
      queue.stop();
    },
  };
  return notifier;
}
