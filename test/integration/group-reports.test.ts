import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load/load.js';
import type { Config } from '../../src/config/types.js';
import type { DisableView } from '../../src/policy/disables.js';
import { buildDigest } from '../../src/slack/digest/build-digest.js';
import { renderDigestBlocks } from '../../src/slack/digest/render-blocks.js';
import { renderDigestText } from '../../src/slack/digest/render-text.js';
import { keysReport, spendReport } from '../../src/slack/spend-report.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store, UsageRecord } from '../../src/store/types.js';
import { periodsAt } from '../../src/windows/budget-windows.js';
import { zonedTime } from '../../src/windows/calendar.js';
import { holderOf } from '../helpers/slack-config.js';

const TZ = 'Europe/Berlin';
const NOW = zonedTime(2026, 11, 26, TZ, 15, 0);
const { daily, weekly, monthly } = periodsAt(NOW, TZ);

const config = (): Config => {
  const text = `version: 1
server: { timezone: ${TZ} }
groups:
  backend:
    limits: { daily_usd: 50, monthly_usd: 500 }
  idle: {}
keys:
  api-a: { hash: sha256:${'a'.repeat(64)}, group: backend, limits: { daily_usd: 5 } }
  api-b: { hash: sha256:${'b'.repeat(64)}, group: backend }
  solo: { hash: sha256:${'c'.repeat(64)} }
`;
  const r = loadConfig(text, { file: 'keys.yaml', now: NOW });
  if (!r.config) throw new Error(JSON.stringify(r.errors));
  return r.config;
};

const record = (key: string, costUsd: number): UsageRecord => ({
  requestId: `${key}-${Math.random()}`,
  ts: NOW,
  day: daily.slice(2),
  key,
  model: 'm',
  upstream: 'u',
  route: '/v1/chat/completions',
  status: 200,
  errorCode: null,
  inputTokens: 1,
  outputTokens: 1,
  cachedTokens: 0,
  costUsd,
  latencyMs: 1,
  stream: false,
  userAgent: null,
  ip: null,
  configRevision: 'r',
  usageSource: 'provider',
});

describe('groups in /spend, /keys and the digest', () => {
  let store: Store;
  const noDisables = { get: () => undefined } as unknown as DisableView;
  const deps = () => ({ config: holderOf(config()), store, disables: noDisables, clock: () => NOW });

  beforeEach(async () => {
    store = createSqliteStore(':memory:');
    await store.init();
    const group = (p: string) => `@backend/${p}`;
    await store.settle(record('api-a', 12.5), [
      daily,
      weekly,
      monthly,
      group(daily),
      group(weekly),
      group(monthly),
    ]);
    await store.settle(record('api-b', 2.5), [
      daily,
      weekly,
      monthly,
      group(daily),
      group(weekly),
      group(monthly),
    ]);
    await store.settle(record('solo', 1), [daily, weekly, monthly]);
  });
  afterEach(async () => {
    await store.close();
  });

  it("shows each group's pot beside the keys in /spend, with totals that count no spend twice", async () => {
    const text = await spendReport(deps(), '');
    expect(text).toContain('*Total: $16.00 today, $16.00 this month*');
    expect(text).toContain(
      '*Groups*\n• `backend`: today $15.00 of $50.00 (30%) · month $15.00 of $500.00 (3%)',
    );
    expect(text).toContain('• `idle`: today $0.00 (no limit) · month $0.00 (no limit)');
  });

  it('answers /spend for a group with its keys, and /spend for a key with its group', async () => {
    const g = await spendReport(deps(), 'backend');
    expect(g).toMatch(/^\*Spend of group `backend`\*/);
    expect(g).toContain('`backend`: today $15.00 of $50.00 (30%)');
    expect(g).toContain('• `api-a`: $12.50 today, $12.50 this month\n• `api-b`: $2.50 today');
    const k = await spendReport(deps(), 'api-a');
    expect(k).toContain('In group `backend`: • `backend`: today $15.00 of $50.00 (30%)');
    expect(await spendReport(deps(), 'bakend')).toContain('Did you mean `backend`?');
  });

  it('lists each key with its group and the groups against their limits in /keys', async () => {
    const text = await keysReport(deps());
    expect(text).toMatch(
      /• `api-a` \*active\* · today \$12\.50 of \$5\.00 \(250%\) · month \$12\.50 \(no limit\) · group `backend`/,
    );
    expect(text).toContain('*Groups*\n• `backend`: today $15.00 of $50.00 (30%)');
  });

  it("puts each group's spend against its daily limit in the digest", async () => {
    const d = await buildDigest({ store, config: config(), revision: 'r', day: daily.slice(2), now: NOW });
    expect(d.groups).toEqual([
      { group: 'backend', costUsd: 15, dailyLimitUsd: 50, dailyShare: 0.3, keys: 2 },
      { group: 'idle', costUsd: 0, dailyLimitUsd: null, dailyShare: null, keys: 0 },
    ]);
    expect(renderDigestText(d)).toContain(
      'Groups\n  backend: $15.00 of $50.00 daily limit (30%), 2 keys\n  idle: $0.00, 0 keys',
    );
    const blocks = JSON.stringify(renderDigestBlocks(d).blocks);
    expect(blocks).toContain('*Groups*\\n• backend: $15.00 of $50.00 daily limit (30%), 2 keys');
  });
});
