import { adviceFor } from '../billing/render.js';
import type { BillRow } from '../billing/types.js';
import { escapeMrkdwn } from './format.js';

/**
 * The Slack alert for a bill check row that needs someone: `unmetered` (the upstream key is used
 * outside tollgate) or `mispriced` (a price is out of date), with the numbers and what to do.
 * Names the provider chose (a model id, an error) are escaped: they reach Slack as text, never
 * as mentions or links.
 */

export const ALERTED_VERDICTS: ReadonlySet<BillRow['verdict']> = new Set(['unmetered', 'mispriced']);

const usd = (n: number | null) =>
  n === null ? 'unknown' : `$${n.toFixed(Math.abs(n) > 0 && Math.abs(n) < 0.01 ? 4 : 2)}`;

const total = (t: BillRow['metered_tokens'] | null) =>
  t === null ? 'unknown' : (t.input + t.cached_input + t.cache_write + t.output).toLocaleString('en-US');

export function billAlertMessage(r: BillRow): { text: string } {
  const title =
    r.verdict === 'unmetered'
      ? `:rotating_light: Bill check ${r.date}: *${escapeMrkdwn(r.upstream)}* was billed for usage that did not pass through tollgate`
      : `:warning: Bill check ${r.date}: *${escapeMrkdwn(r.upstream)}* is billed at other prices than tollgate meters with`;
  const lines = [
    title,
    `Model ${escapeMrkdwn(r.model)}: tollgate metered ${usd(r.metered_usd)} (${total(r.metered_tokens)} tokens); the provider billed ${usd(r.billed_usd)} (${total(r.billed_tokens)} tokens), a difference of ${usd(r.delta_usd)}.`,
    escapeMrkdwn(r.detail),
    `What to do: ${escapeMrkdwn(adviceFor(r))}.`,
    `Details: \`tollgate reconcile --date ${r.date} --upstream ${escapeMrkdwn(r.upstream)}\``,
  ];
  return { text: lines.join('\n') };
}
