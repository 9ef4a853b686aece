import type { ClientStore, UsageRecord } from '../store/types.js';
import type { AlertSender } from './alert-claims.js';
import { newClientAlert } from './alert-messages.js';
import { BoundedSet } from './bounded-set.js';
import { networkOf, userAgentFamily } from './client-fingerprint.js';
import type { Background } from './spike-checks.js';

/**
 * Alerts when a key is used from a client (user-agent family + network) it was not used from
 * before; a key's first client is not news. Fingerprints seen here skip the store.
 */
export function createNewClientCheck(deps: {
  store: ClientStore;
  alerts: AlertSender;
  background: Background;
}): (name: string, notify: readonly string[], record: UsageRecord, now: number) => void {
  const { store, alerts, background } = deps;
  const knownClients = new BoundedSet(10_000);
  return (name, notify, record, now) => {
    const family = userAgentFamily(record.userAgent);
    const network = networkOf(record.ip);
    const fingerprint = `${family} ${network}`;
    const cacheId = `${name}\n${fingerprint}`;
    if (knownClients.has(cacheId)) return;
    knownClients.add(cacheId);
    background('new client', async () => {
      const r = await store.recordClient(name, fingerprint, now);
      if (!r.isNew || r.knownBefore === 0) return;
      await alerts.alertOnce(
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
  };
}
