import type { KeysFile } from '../types.gen.js';
import { type Finding, warningAt } from './finding.js';

/**
 * The circuit breaker disables keys on its own, so a config where nobody would hear of it, or
 * nobody could lift it from Slack, is worth a warning at `spike_action` (it still loads: the admin
 * API can lift a disable, and the refusal message names the breaker).
 */
export function breakerCanBeLifted({ raw }: { raw: KeysFile }): Finding[] {
  const slack = raw.slack;
  if (slack?.alerts?.spike_action !== 'disable') return [];
  const path = ['slack', 'alerts', 'spike_action'];
  const out: Finding[] = [];
  if (slack.channel === undefined) {
    out.push(
      warningAt(
        path,
        'slack.alerts.spike_action is disable but slack.channel is not set: the circuit breaker would disable keys without announcing it',
      ),
    );
  }
  if ((slack.admins ?? []).length === 0) {
    out.push(
      warningAt(
        path,
        'slack.alerts.spike_action is disable but slack.admins is empty: nobody could press Enable key or run /enable-key (only POST /admin/keys/NAME/enable lifts it)',
      ),
    );
  }
  return out;
}
