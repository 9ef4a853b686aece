import type { ConfigHolder } from '../config/types.js';
import type { Logger } from '../log.js';
import type { KillSwitch, KillSwitchResult } from '../policy/kill-switch.js';
import { spikeAlert } from './alert-messages.js';
import { BREAKER_ACTOR, breakerAlert, breakerReason } from './breaker-alert.js';
import type { SendQueue } from './send-queue.js';
import type { SpikeReading } from './spike-rule.js';

/** The notifier's once-only claim of an alert id, and its undo. */
export interface AlertClaims {
  claim(id: string): Promise<boolean>;
  release(id: string): Promise<void>;
}

/**
 * The circuit breaker (slack.alerts.spike_action: disable): a spike disables the key through the
 * kill switch, as the actor `tollgate` with source `circuit_breaker`, so it is audited, survives
 * restarts, reaches every replica within a second and is lifted like any Slack disable.
 * The spike's claim (once per key and day, shared by replicas) decides who trips it, with or
 * without a channel to announce it in. After an admin enables the key again the claim stays
 * taken, so the same day's spike does not overrule that admin.
 */
export async function tripBreaker(
  deps: { killSwitch: KillSwitch; claims: AlertClaims; config: ConfigHolder; queue: SendQueue; log: Logger },
  alert: { id: string; key: string; notify: readonly string[]; spike: SpikeReading },
): Promise<void> {
  const { id, key, notify, spike } = alert;
  if (!(await deps.claims.claim(id))) return;
  let result: KillSwitchResult;
  try {
    result = await deps.killSwitch.disable(key, {
      actor: BREAKER_ACTOR,
      source: 'circuit_breaker',
      reason: breakerReason(spike),
    });
  } catch (err) {
    // The key is still serving: let the next check try again.
    await deps.claims.release(id);
    throw err;
  }
  deps.log.warn(
    { key, lastHourUsd: spike.lastHourUsd, changed: result.changed },
    'circuit breaker: a spend spike disabled the key',
  );
  const channel = deps.config.current().config.slack?.channel;
  if (!channel) return;
  // Already disabled by someone else: the spike is still news, the Enable button is not.
  const message = result.changed
    ? breakerAlert({ key, notify, reading: spike })
    : spikeAlert({ key, notify, ...spike });
  // Not released when Slack never takes it: the key stays disabled either way.
  deps.queue.enqueue({ channel, ...message });
}
