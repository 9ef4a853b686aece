import type { Store, UsageRecord } from '../../src/store/types.js';
import { dayOf } from '../../src/windows/calendar.js';

/**
 * Thirty days of plausible traffic for the screenshots: a few tools with different habits, two
 * models, some errors. Written through store.settle, as the gateway writes usage.
 */
export async function seedHistory(store: Store, now: number, timeZone: string): Promise<void> {
  const tools = [
    {
      key: 'cursor-dev',
      perDay: 14,
      cost: 0.11,
      ua: 'Cursor/1.6.2',
      models: ['claude-sonnet-4-5', 'gpt-4o-mini'],
    },
    { key: 'open-webui-team', perDay: 20, cost: 0.05, ua: 'OpenWebUI/0.6.5', models: ['gpt-4o-mini'] },
    {
      key: 'claude-code-ci',
      perDay: 8,
      cost: 0.32,
      ua: 'claude-cli/2.0.14 (external, cli)',
      models: ['claude-sonnet-4-5'],
    },
    {
      key: 'nightly-evals',
      perDay: 4,
      cost: 0.6,
      ua: 'python-httpx/0.27',
      models: ['gpt-4o-mini', 'claude-sonnet-4-5'],
    },
  ];
  let n = 0;
  for (let daysAgo = 29; daysAgo >= 0; daysAgo--) {
    // Today's requests all lie in the hours already past.
    const ts = daysAgo === 0 ? now - 3 * 3_600_000 : now - daysAgo * 86_400_000;
    const day = dayOf(ts, timeZone);
    for (const [t, tool] of tools.entries()) {
      // A spike in the middle of the month, and evals only on weekdays.
      const surge = tool.key === 'claude-code-ci' && daysAgo >= 11 && daysAgo <= 13 ? 4 : 1;
      const count = Math.round(tool.perDay * surge * (0.6 + ((daysAgo * 7 + t * 3) % 10) / 12));
      for (let i = 0; i < count; i++) {
        n++;
        const failed = (n + t) % 23 === 0;
        const record: UsageRecord = {
          requestId: `seed-${n}`,
          ts: ts + i * (daysAgo === 0 ? 1_000 : 60_000),
          day,
          key: tool.key,
          model: tool.models[i % tool.models.length] ?? null,
          upstream: 'fake',
          route: '/v1/chat/completions',
          status: failed ? 502 : 200,
          errorCode: failed ? 'upstream_error' : null,
          inputTokens: failed ? 0 : 1200 + ((n * 37) % 900),
          outputTokens: failed ? 0 : 200 + ((n * 13) % 400),
          cachedTokens: 0,
          costUsd: failed ? 0 : tool.cost * (0.7 + ((n * 11) % 7) / 10),
          latencyMs: 300 + ((n * 53) % 1700),
          stream: i % 2 === 0,
          userAgent: tool.ua,
          ip: '10.1.0.7',
          configRevision: 'seed',
          usageSource: 'provider',
        };
        await store.settle(record, [`d:${day}`, `m:${day.slice(0, 7)}`]);
      }
    }
  }
}
