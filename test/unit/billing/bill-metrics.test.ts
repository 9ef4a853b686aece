import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerBillCheckMetrics } from '../../../src/billing/bill-metrics.js';
import type { BillRow } from '../../../src/billing/types.js';
import { loadConfig } from '../../../src/config/load/load.js';
import type { Config, LoadedConfig } from '../../../src/config/types.js';

const config = loadConfig(
  `version: 1
upstreams:
  openai:
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_API_KEY}
    billing:
      admin_key: \${OPENAI_ADMIN_KEY}
      api_key_id: key_abc
  plain:
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_API_KEY}
models:
  gpt-4o-mini: { upstream: openai }
keys: {}
`,
  { file: 'keys.yaml', now: Date.UTC(2026, 10, 21) },
).config as Config;

const row = (date: string, upstream: string, model: string, delta: number | null): BillRow => ({
  upstream,
  date,
  model,
  metered_tokens: { input: 0, cached_input: 0, cache_write: 0, output: 0 },
  billed_tokens: null,
  metered_usd: 1,
  billed_usd: delta === null ? null : 1 + delta,
  delta_usd: delta,
  verdict: 'match',
  detail: '',
});

describe('tollgate_bill_check_delta_usd', () => {
  it('shows the latest day per billed upstream, with labels only from the config', async () => {
    const registry = new Registry();
    const rows = [
      row('2026-11-19', 'openai', 'gpt-4o-mini', 5),
      row('2026-11-20', 'openai', 'gpt-4o-mini', 0.25),
      row('2026-11-20', 'openai', 'gpt-5-2025-08-07', 1),
      row('2026-11-20', 'openai', 'o3-2025-04-16', 2),
      row('2026-11-20', 'plain', 'gpt-4o-mini', 7),
      row('2026-11-20', 'removed-upstream', 'x', 9),
    ];
    registerBillCheckMetrics(registry, {
      store: { billChecks: async () => rows },
      config: { current: () => ({ config }) as LoadedConfig },
      clock: () => Date.UTC(2026, 10, 21, 9),
    });
    const text = await registry.metrics();
    const lines = text.split('\n').filter((l) => l.startsWith('tollgate_bill_check_delta_usd{'));
    expect(lines.sort()).toEqual([
      'tollgate_bill_check_delta_usd{upstream="openai",model="gpt-4o-mini"} 0.25',
      'tollgate_bill_check_delta_usd{upstream="openai",model="other"} 3',
    ]);
  });
});
