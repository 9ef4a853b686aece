import type { Problem } from '../config/types.js';
import { type BudgetWindowName, windowOfPeriod } from '../windows/budget-windows.js';
import { escapeMrkdwn, formatPercent, formatUsd, mentions } from './format.js';

export interface AlertMessage {
  text: string;
  blocks: unknown[];
}

/** The action id of the **Disable key** button; its value is the key name. */
export const DISABLE_KEY_ACTION = 'disable_key';

export function section(text: string): unknown {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

function disableButton(key: string): unknown {
  return {
    type: 'actions',
    elements: [
      {
        type: 'button',
        action_id: DISABLE_KEY_ACTION,
        text: { type: 'plain_text', text: 'Disable key' },
        style: 'danger',
        value: key,
        confirm: {
          title: { type: 'plain_text', text: `Disable ${key}?` },
          text: {
            type: 'mrkdwn',
            text: `Clients using \`${key}\` will get 401 key_disabled until /enable-key ${key}.`,
          },
          confirm: { type: 'plain_text', text: 'Disable' },
          deny: { type: 'plain_text', text: 'Cancel' },
        },
      },
    ],
  };
}

export function withMentions(text: string, notify: readonly string[]): string {
  const who = mentions(notify);
  return who ? `${text}\n${who}` : text;
}

function keyAlert(text: string, key: string, notify: readonly string[], button: boolean): AlertMessage {
  const body = withMentions(text, notify);
  return { text: body, blocks: button ? [section(body), disableButton(key)] : [section(body)] };
}

export function budgetAlert(a: {
  key: string;
  notify: readonly string[];
  window: BudgetWindowName;
  period: string;
  spentUsd: number;
  limitUsd: number;
  threshold: number;
  /** The key was refused for lack of budget, or reached the whole limit. */
  exhausted: boolean;
}): AlertMessage {
  const what = `${formatUsd(a.spentUsd)} of its ${formatUsd(a.limitUsd)} ${a.window} limit (${periodLabel(a.period)})`;
  const text = a.exhausted
    ? `:no_entry: Key \`${a.key}\` has exhausted its ${a.window} budget: ${what}. Requests that do not fit are refused with 429 insufficient_quota until the window resets.`
    : `:warning: Key \`${a.key}\` crossed ${formatPercent(a.threshold)} of its ${a.window} budget: ${what}.`;
  return keyAlert(text, a.key, a.notify, true);
}

/** A budget period as people read it: `2026-11-26 14:00 (+01:00)`, `week of 2026-11-23`, `2026-11-26`, `2026-11`. */
export function periodLabel(period: string): string {
  const id = period.slice(2);
  const window = windowOfPeriod(period)?.name;
  if (window === 'weekly') return `week of ${id}`;
  const hour = /^(\d{4}-\d{2}-\d{2})T(\d{2})([+-]\d{2}:\d{2})$/.exec(id);
  if (window === 'hourly' && hour) return `${hour[1]} ${hour[2]}:00, UTC${hour[3]}`;
  return id;
}

export function spikeAlert(a: {
  key: string;
  notify: readonly string[];
  lastHourUsd: number;
  lastHourRequests: number;
  hourlyAverageUsd: number;
}): AlertMessage {
  const usual =
    a.hourlyAverageUsd > 0
      ? `${formatUsd(a.hourlyAverageUsd)} per hour over the previous 24 hours`
      : 'nothing in the previous 24 hours';
  const text = `:chart_with_upwards_trend: Spend spike on key \`${a.key}\`: ${formatUsd(a.lastHourUsd)} in the last hour (${a.lastHourRequests} requests), against ${usual}. A loop?`;
  return keyAlert(text, a.key, a.notify, true);
}

export function refusedAlert(a: {
  key: string;
  notify: readonly string[];
  code: 'key_disabled' | 'key_expired';
  attempts: number;
  sinceSec: number;
  userAgents: readonly string[];
  networks: readonly string[];
}): AlertMessage {
  const state = a.code === 'key_disabled' ? 'disabled' : 'expired';
  const agents =
    a.userAgents.length > 0 ? a.userAgents.map((u) => `\`${escapeMrkdwn(u)}\``).join(', ') : 'no user-agent';
  const text =
    `:no_entry_sign: Key \`${a.key}\` is ${state} but still being tried: ${a.attempts} refused request(s) in ${Math.max(1, Math.round(a.sinceSec))} s ` +
    `from ${agents} (${a.networks.map(escapeMrkdwn).join(', ') || 'unknown network'}). Whoever runs that client still has the key configured.`;
  return keyAlert(text, a.key, a.notify, false);
}

export function newClientAlert(a: {
  key: string;
  notify: readonly string[];
  userAgentFamily: string;
  network: string;
  knownBefore: number;
}): AlertMessage {
  const text =
    `:eyes: Key \`${a.key}\` was used from a client it has never used before: \`${escapeMrkdwn(a.userAgentFamily)}\` from ` +
    `${escapeMrkdwn(a.network)} (it had ${a.knownBefore} known client(s)). If nobody expected this, the key may have leaked.`;
  return keyAlert(text, a.key, a.notify, true);
}

export function reloadFailedAlert(a: {
  file: string;
  errors: readonly Problem[];
  revision: string;
}): AlertMessage {
  const lines = a.errors
    .slice(0, 10)
    // Block Kit sections hold 3000 characters: ten problems of at most 250 each fit.
    .map(
      (p) => `• \`${escapeMrkdwn(`${p.file}:${p.line}:${p.col}`)}\` ${escapeMrkdwn(p.message.slice(0, 200))}`,
    );
  const more = a.errors.length > 10 ? `\n…and ${a.errors.length - 10} more` : '';
  const text = `:x: Config reload of \`${escapeMrkdwn(a.file)}\` was rejected; the last good config keeps serving.\n${lines.join('\n')}${more}`;
  return { text, blocks: [section(text)] };
}

export function reloadAppliedAlert(a: {
  revision: string;
  previousRevision: string;
  summary: string;
}): AlertMessage {
  const summary =
    a.summary.trim() === ''
      ? '_no change that affects keys_'
      : // The diff is GitHub markdown; Slack's mrkdwn bolds with single asterisks.
        escapeMrkdwn(a.summary.trim())
          .replace(/\*\*(.+?)\*\*/g, '*$1*')
          .slice(0, 2500);
  const text = `:arrows_counterclockwise: Config reloaded: \`${escapeMrkdwn(a.previousRevision)}\` → \`${escapeMrkdwn(a.revision)}\`\n${summary}`;
  return { text, blocks: [section(text)] };
}
