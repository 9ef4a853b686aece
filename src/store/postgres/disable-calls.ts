import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { DisableStore } from '../types.js';
import {
  clearDisabled,
  type DisableListener,
  listDisabled,
  setDisabled,
  startDisableListener,
} from './disables.js';
import type { LeaseManager } from './leases/lease-manager.js';
import type { ResolvedPostgresOptions } from './options.js';
import { connectionConfig, type Pool } from './pool.js';

/**
 * Disables shared through the database, and this replica's subscribers told when any replica
 * changes one (LISTEN/NOTIFY, with a poll as the safety net). `close` stops the listener.
 */
export function createPostgresDisables(deps: {
  pool: Pool;
  log: Logger;
  resolved: ResolvedPostgresOptions;
  leases: Pick<LeaseManager, 'revoke'> | null;
}): { calls: DisableStore; close(): Promise<void> } {
  const { pool, log, resolved, leases } = deps;
  const origin = randomUUID();
  const subscribers = new Set<() => void>();
  let listener: DisableListener | null = null;
  let closed = false;
  const notify = () => {
    // A disabled key's leases go back at once, on every replica (the key is refused before reserve).
    if (leases)
      listDisabled(pool)
        .then((d) => leases.revoke((key) => d.has(key)))
        .catch((err: unknown) => log.warn({ err }, 'could not read the disables to return their leases'));
    for (const cb of [...subscribers]) {
      try {
        cb();
      } catch (err) {
        log.warn({ err }, 'a disable subscriber threw');
      }
    }
  };

  const calls: DisableStore = {
    async setDisabled(d) {
      const changed = await setDisabled(pool, d, origin);
      // This replica's own view need not wait for the round trip through NOTIFY.
      if (changed) notify();
      return changed;
    },
    async clearDisabled(key) {
      const changed = await clearDisabled(pool, key, origin);
      if (changed) notify();
      return changed;
    },
    listDisabled: () => listDisabled(pool),
    onDisabledChange(cb) {
      subscribers.add(cb);
      // The LISTEN connection is opened on the first subscriber: short-lived CLI commands that
      // never subscribe do not hold one.
      if (!listener && !closed) {
        listener = startDisableListener({
          clientConfig: connectionConfig(resolved),
          pool,
          log,
          notify,
          pollMs: resolved.disablePollMs,
          origin,
        });
      }
      return () => {
        subscribers.delete(cb);
      };
    },
  };
  return {
    calls,
    async close() {
      closed = true;
      subscribers.clear();
      await listener?.stop();
      listener = null;
    },
  };
}
