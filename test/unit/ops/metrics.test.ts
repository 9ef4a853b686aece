import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/ops/metrics.js';

describe('budget gauges', () => {
  it('drops a removed key and ignores a late setBudgetUse for it (a request admitted before the reload)', async () => {
    const m = createMetrics();
    m.setBudgetUse('cursor-dev', 'daily', 0.5);
    m.setBudgetUse('ci-bot', 'daily', 0.25);
    m.retainKeys(new Set(['ci-bot']));
    m.setBudgetUse('cursor-dev', 'daily', 0.6);
    m.setBudgetUse('ci-bot', 'daily', 0.3);
    const text = await m.registry.metrics();
    expect(text).not.toContain('key="cursor-dev"');
    expect(text).toContain('tollgate_budget_use_ratio{key="ci-bot",window="daily"} 0.3');
    m.retainKeys(new Set(['ci-bot', 'cursor-dev']));
    m.setBudgetUse('cursor-dev', 'daily', 0.7);
    expect(await m.registry.metrics()).toContain(
      'tollgate_budget_use_ratio{key="cursor-dev",window="daily"} 0.7',
    );
  });
});
