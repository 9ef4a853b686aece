import { type AlertMessage, section, withMentions } from './alert-messages.js';
import { formatUsd } from './format.js';
import type { SpikeReading } from './spike-rule.js';

/** The action id of the **Enable key** button on a circuit-breaker alert; its value is the key name. */
export const ENABLE_KEY_ACTION = 'enable_key';

/** The actor the audit log and the disable record name when tollgate itself disables a key. */
export const BREAKER_ACTOR = 'tollgate';

function usual(r: SpikeReading): string {
  return r.hourlyAverageUsd > 0
    ? `${formatUsd(r.hourlyAverageUsd)} per hour over the previous 24 hours`
    : 'nothing in the previous 24 hours';
}

function ruleText(r: SpikeReading): string {
  return `at least ${r.rule.factor}× the usual rate and at least ${formatUsd(r.rule.minUsd)} in an hour`;
}

/** The reason stored with the disable and in the audit log: the numbers that tripped the breaker. */
export function breakerReason(r: SpikeReading): string {
  return (
    `circuit breaker: spend spike of ${formatUsd(r.lastHourUsd)} in the last hour (${r.lastHourRequests} requests) ` +
    `against ${usual(r)}; the rule is ${ruleText(r)} (slack.alerts.spike_action: disable)`
  );
}

function enableButton(key: string): unknown {
  return {
    type: 'actions',
    elements: [
      {
        type: 'button',
        action_id: ENABLE_KEY_ACTION,
        text: { type: 'plain_text', text: 'Enable key' },
        style: 'primary',
        value: key,
        confirm: {
          title: { type: 'plain_text', text: `Enable ${key}?` },
          text: {
            type: 'mrkdwn',
            text: `Clients using \`${key}\` can spend again right away; the circuit breaker leaves it alone for the rest of the day.`,
          },
          confirm: { type: 'plain_text', text: 'Enable' },
          deny: { type: 'plain_text', text: 'Cancel' },
        },
      },
    ],
  };
}

/** The announcement of a key the circuit breaker disabled, with an **Enable key** button for admins. */
export function breakerAlert(a: {
  key: string;
  notify: readonly string[];
  reading: SpikeReading;
}): AlertMessage {
  const r = a.reading;
  const text = withMentions(
    `:octagonal_sign: Circuit breaker: tollgate disabled key \`${a.key}\` after a spend spike of ` +
      `${formatUsd(r.lastHourUsd)} in the last hour (${r.lastHourRequests} requests), against ${usual(r)} ` +
      `(the rule: ${ruleText(r)}). A loop? Clients using it now get \`401 key_disabled\` on every replica. ` +
      `If the spend is expected, an admin can lift it with the button or \`/enable-key ${a.key}\`.`,
    a.notify,
  );
  return { text, blocks: [section(text), enableButton(a.key)] };
}
