import type { KeyConfig, Problem } from './config/types.js';
import type { UsageRecord } from './store/types.js';
import type { BudgetWindowName } from './windows/budget-windows.js';

/**
 * Events the gateway reports to the outside (Slack alerts). Every method returns at once:
 * an implementation queues and sends in the background and never throws into the caller,
 * so a slow or broken Slack never slows a proxied request.
 */
export interface Notifier {
  /**
   * A reload applied; `summary()` is the `tollgate diff` markdown of what changed, computed when
   * first asked (for 10,000 keys it takes tens of ms, and only Slack reads it).
   */
  configReloaded(e: { revision: string; previousRevision: string; summary: () => string }): void;
  /**
   * A reload was rejected; the last good config (`revision`) keeps serving. `rejected` identifies
   * the rejected content, so each broken version is reported once (by one replica), not only the
   * first one after a good config.
   */
  configReloadFailed(e: { file: string; errors: Problem[]; revision: string; rejected: string }): void;
  /** A request was settled; `spend` is the key's spend after it, per limited budget window. */
  requestSettled(e: {
    key: KeyConfig;
    record: UsageRecord;
    spend: Partial<Record<BudgetWindowName, { spentUsd: number; limitUsd: number; period: string }>>;
    /** For a budget refusal: the window that refused (`d:…`; `@group/…` when it was the group's). */
    refusedPeriod?: string;
  }): void;
  /** A disabled or expired key was still tried. */
  keyRefused(e: {
    key: string;
    code: 'key_disabled' | 'key_expired';
    userAgent: string | null;
    ip: string | null;
    at: number;
  }): void;
}

export const nullNotifier: Notifier = {
  configReloaded() {},
  configReloadFailed() {},
  requestSettled() {},
  keyRefused() {},
};

/**
 * A notifier that forwards to one set later: the config manager reports from the first load,
 * before the Slack integration (which needs the config) exists.
 */
export function createNotifierRelay(): Notifier & { setTarget(target: Notifier): void } {
  let target: Notifier = nullNotifier;
  return {
    setTarget(t) {
      target = t;
    },
    configReloaded: (e) => target.configReloaded(e),
    configReloadFailed: (e) => target.configReloadFailed(e),
    requestSettled: (e) => target.requestSettled(e),
    keyRefused: (e) => target.keyRefused(e),
  };
}
