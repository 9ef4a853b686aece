import type { Clock } from '../clock.js';
import type { ConfigHolder } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ClaimStore } from '../store/types.js';
import type { AlertMessage } from './alert-messages.js';
import { BoundedSet } from './bounded-set.js';
import type { AlertClaims } from './circuit-breaker.js';
import type { SendQueue } from './send-queue.js';

export interface AlertSender extends AlertClaims {
  /** Whether this process already claimed `id` (or tried to): a cache that saves a store round trip. */
  has(id: string): boolean;
  /** Claims `id` without sending anything (a lower threshold passed on the way to a higher one). */
  claimQuietly(id: string): Promise<void>;
  /** Claims the alert in the store and queues it; false when it was already sent (by anyone). */
  alertOnce(id: string, message: AlertMessage): Promise<boolean>;
}

/**
 * Each alert is claimed once in the store per id, so restarts and other replicas do not repeat it;
 * the in-memory set only saves store round trips and never decides on its own.
 */
export function createAlertSender(deps: {
  store: Pick<ClaimStore, 'claimOnce' | 'releaseClaim'>;
  config: ConfigHolder;
  clock: Clock;
  log: Logger;
  queue: SendQueue;
}): AlertSender {
  const { store, config, clock, log, queue } = deps;
  const claimed = new BoundedSet(10_000);

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

  return {
    claim,
    async release(id) {
      claimed.delete(id);
      await store
        .releaseClaim('alert', id)
        .catch((err: unknown) => log.warn({ err }, 'could not release an alert claim'));
    },
    has: (id) => claimed.has(id),
    async claimQuietly(id) {
      if (claimed.has(id)) return;
      claimed.add(id);
      await store.claimOnce('alert', id, clock());
    },
    async alertOnce(id, message) {
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
    },
  };
}
