import { describe, expect, it } from 'vitest';
import type { BillRow } from '../../../src/billing/types.js';
import { billAlertMessage } from '../../../src/slack/bill-check-alert.js';

const row = (verdict: BillRow['verdict'], model: string): BillRow => ({
  upstream: 'anthropic',
  date: '2026-11-20',
  model,
  metered_tokens: { input: 10, cached_input: 0, cache_write: 0, output: 5 },
  billed_tokens: { input: 10, cached_input: 0, cache_write: 0, output: 5 },
  metered_usd: 1,
  billed_usd: 1.3,
  delta_usd: 0.3,
  verdict,
  detail: 'tokens match, but the provider billed $1.30 where tollgate’s prices make $1.00',
});

describe('the bill check alert', () => {
  it('says what a mispriced row means and what to do, with the numbers', () => {
    const { text } = billAlertMessage(row('mispriced', 'claude-haiku-4-5'));
    expect(text).toContain('is billed at other prices than tollgate meters with');
    expect(text).toContain(
      'tollgate metered $1.00 (15 tokens); the provider billed $1.30 (15 tokens), a difference of $0.30',
    );
    expect(text).toContain('update the price catalog (upgrade tollgate) or set the model');
    expect(text).toContain('`tollgate reconcile --date 2026-11-20 --upstream anthropic`');
  });

  it('escapes a name the provider chose, so it cannot ping the channel', () => {
    const { text } = billAlertMessage(row('unmetered', '<!channel> x'));
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt; x');
  });
});
