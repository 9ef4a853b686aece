import type { Clock } from '../clock.js';
import { ownEntry } from '../config/own.js';
import type { ConfigHolder } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Notifier } from '../notifier.js';
import type { KillSwitch } from '../policy/kill-switch.js';
import type { ClaimStore, ClientStore, UsageStore } from '../store/types.js';
import { BUDGET_WINDOW_NAMES } from '../windows/budget-windows.js';
import { dayOf } from '../windows/calendar.js';
import {
  type AlertMessage,
  budgetAlert,
  newClientAlert,
  refusedAlert,
  reloadAppliedAlert,
  reloadFailedAlert,
  spikeAlert,
} from './alert-messages.js';
import { BoundedSet } from './bounded-set.js';
import { tripBreaker } from './circuit-breaker.js';
import { networkOf, userAgentFamily } from './client-fingerprint.js';
import { createRefusalCounter } from './refusal-counter.js';
import type { SendQueue } from './send-queue.js';
import { createSpikeMeter, SPIKE_CHECK_EVERY_MS, spikeRuleOf } from './spike-rule.js';
import { createSpikeTrigger } from './spike-trigger.js';
import { createTrailingThrottle } from './trailing-throttle.js';

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
 * key, window and threshold, so restarts and other replicas do not repeat it; in-memory caches only
 * save store round trips and never decide on their own.
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
  const spikeCheckEveryMs = o.spikeCheckEveryMs ?? SPIKE_CHECK_EVERY_MS;
  const refusedAggregateMs = o.refusedAggregateMs ?? 60_000;
  const pending = new Set<Promise<void>>();
  const claimed = new BoundedSet(10_000);
  const knownClients = new BoundedSet(10_000);
  let stopped = false;

  function background(what: string, task: () => Promise<void>): void {
    if (stopped) return;
    const p = task()
      .catch((err: unknown) => log.warn({ err }, `Slack alert check failed: ${what}`))
      .finally(() => pending.delete(p));
    pending.add(p);
  }

  /** Claims `id` in the store: true for the first caller on any replica, false for everyone after. */
  async function claim(id: string): Promise<boolean> {
    if (claimed.has(id)) return false;
    claimed.add(id);
    try {
      return await store.claimOnce('alert', id, clock());
    } catch (err) {
      claimed.delete(id);
      throw err;
    }
  }

  /** Claims the alert in the store and queues it; false when it was already sent (by anyone). */
  async function alertOnce(id: string, message: AlertMessage): Promise<boolean> {
    const channel = config.current().config.slack?.channel;
    if (!channel) {
      log.debug({ alert: id }, 'no slack.channel configured; alert not sent');
      return false;
    }
    if (!(await claim(id))) return false;
    queue.enqueue({
      channel,
      ...message,
      // A message Slack never took is released so that the next event can raise it again.
      onGiveUp: () => {
        claimed.delete(id);
        store
          .releaseClaim('alert', id)
          .catch((err: unknown) => log.warn({ err }, 'could not release an alert claim'));
      },
    });
    return true;
  }

  const claims = {
    claim,
    async release(id: string) {
      claimed.delete(id);
      await store
        .releaseClaim('alert', id)
        .catch((err: unknown) => log.warn({ err }, 'could not release an alert claim'));
    },
  };

  const spikeMeter = createSpikeMeter(store);
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
        if (claimed.has(id)) return;
        const spike = await spikeMeter.measure(name, now, spikeRuleOf(cfg));
        if (!spike) return;
        if (spike.rule.action === 'disable' && deps.killSwitch) {
          await tripBreaker(
            { killSwitch: deps.killSwitch, claims, config, queue, log },
            { id, key: name, notify, spike },
          );
          return;
        }
        await alertOnce(id, spikeAlert({ key: name, notify, ...spike }));
      } finally {
        measuring.delete(name);
      }
    });
  }
  const spikeChecks = createTrailingThrottle<readonly string[]>({
    everyMs: spikeCheckEveryMs,
    sweepMs: o.spikeSweepMs ?? 5_000,
    clock,
    run: checkSpike,
  });

  // The fast path: this replica's own spend rate, in memory, says when to read the store at once.
  const spikeTrigger = createSpikeTrigger({ config, lastAverageUsd: spikeMeter.lastAverageUsd });

  function thresholds(): number[] {
    const t = config.current().config.slack?.alerts.budgetThresholds ?? o.defaultThresholds ?? [0.8, 1];
    return [...t].sort((a, b) => b - a);
  }

  const refusals = createRefusalCounter(refusedAggregateMs, (w) => {
    background('key refused', async () => {
      const hour = new Date(Math.floor(w.first / HOUR_MS) * HOUR_MS).toISOString().slice(0, 13);
      await alertOnce(
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
      spikeTrigger.retain(new Set(Object.keys(config.current().config.keys)));
      background('config reloaded', async () => {
        // The diff is computed a turn later: the new config serves before Slack's summary is built.
        await new Promise((resolve) => setImmediate(resolve));
        // Keyed by the transition: replicas applying the same change post once, while a later
        // revert to an earlier revision is still announced.
        await alertOnce(
          `reload:${e.previousRevision}->${e.revision}`,
          reloadAppliedAlert({ ...e, summary: e.summary() }),
        );
      });
    },

    configReloadFailed(e) {
      background('config reload failed', async () => {
        await alertOnce(`reload-failed:${e.revision}->${e.rejected}`, reloadFailedAlert(e));
      });
    },

    requestSettled(e) {
      const name = e.key.name;
      const notify = e.key.notify;
      const refusedForBudget = e.record.errorCode === 'insufficient_quota';
      const windows = BUDGET_WINDOW_NAMES.flatMap((w) => {
        const s = e.spend[w];
        return s && s.limitUsd > 0 ? [{ window: w, ...s, ratio: s.spentUsd / s.limitUsd }] : [];
      });
      const levels = thresholds();
      const lowest = levels[levels.length - 1] ?? 1;
      if (windows.some((w) => w.ratio >= lowest) || (refusedForBudget && windows.length > 0)) {
        background('budget', async () => {
          // A refusal names the window that ran out; it is alerted as exhausted when it is at least
          // at the lowest threshold (else one large request, or requests in flight, were refused).
          // A group's window is not the key's: no key window matches it.
          for (const w of windows) {
            const exhaustedByRefusal = refusedForBudget && w.period === e.refusedPeriod && w.ratio >= lowest;
            const crossed = levels.filter((t) => w.ratio >= t);
            if (exhaustedByRefusal && !crossed.includes(1)) crossed.unshift(1);
            // Only the highest level crossed is ever sent; lower ones are claimed on the way so that a
            // later request does not report them late (whoever claimed the highest already told Slack).
            const [highest, ...lower] = crossed.sort((a, b) => b - a);
            if (highest === undefined) continue;
            await alertOnce(
              `budget:${name}:${w.period}:${highest}`,
              budgetAlert({
                key: name,
                notify,
                window: w.window,
                period: w.period,
                spentUsd: w.spentUsd,
                limitUsd: w.limitUsd,
                threshold: highest,
                exhausted: highest >= 1,
              }),
            );
            for (const t of lower) {
              const id = `budget:${name}:${w.period}:${t}`;
              if (claimed.has(id)) continue;
              claimed.add(id);
              await store.claimOnce('alert', id, clock());
            }
          }
        });
      }

      const now = clock();
      // Only a charge can raise the hour's spend; refusals of a disabled key cost nothing to check.
      if (e.record.costUsd > 0) {
        if (spikeTrigger.charged(name, e.record.costUsd, now)) checkSpike(name, notify, now);
        spikeChecks.touch(name, notify);
      }

      const family = userAgentFamily(e.record.userAgent);
      const network = networkOf(e.record.ip);
      const fingerprint = `${family} ${network}`;
      const cacheId = `${name}\n${fingerprint}`;
      if (!knownClients.has(cacheId)) {
        knownClients.add(cacheId);
        background('new client', async () => {
          const r = await store.recordClient(name, fingerprint, now);
          if (!r.isNew || r.knownBefore === 0) return;
          await alertOnce(
            `client:${name}:${fingerprint}`,
            newClientAlert({
              key: name,
              notify,
              userAgentFamily: family,
              network,
              knownBefore: r.knownBefore,
            }),
          );
        });
      }
    },

    keyRefused(e) {
      refusals.record(e);
    },

    async flush() {
      while (pending.size > 0) await Promise.all([...pending]);
      await queue.idle();
    },

    stop() {
      stopped = true;
      refusals.stop();
      spikeChecks.stop();
      queue.stop();
    },
  };
  return notifier;
}
