import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, UsageRecord } from '../../src/store/types.js';
import { completeUsage } from '../../src/store/usage-columns.js';
import { type StoreBackend, storeBackends } from '../helpers/store-backends.js';

/** The dashboard's reads (src/dashboard/queries.ts), against both stores. */

const NOON = Date.UTC(2026, 10, 26, 12);
let seq = 0;

// Complete (every column's default filled in), so "every field intact" holds as columns are added.
function usage(over: Partial<UsageRecord> = {}): UsageRecord {
  seq++;
  return completeUsage({
    requestId: `req-${seq}`,
    ts: NOON + seq,
    day: '2026-11-26',
    key: 'cursor-dev',
    model: 'gpt-4o-mini',
    upstream: 'openai',
    route: '/v1/chat/completions',
    status: 200,
    errorCode: null,
    inputTokens: 100,
    outputTokens: 50,
    cachedTokens: 10,
    costUsd: 0.25,
    latencyMs: 12,
    stream: false,
    userAgent: 'vitest',
    ip: '127.0.0.1',
    configRevision: 'rev1',
    usageSource: 'provider',
    cacheWriteTokens: 3,
    requestedModel: 'gpt-4o-mini-2024-07-18',
    keyHash: 'abcdef012345',
    requestFp: '0123456789abcdef',
    prefixFp: 'fedcba9876543210',
    prefixTokens: 1200,
    outputLimit: 4096,
    ...over,
  });
}

describe.each(storeBackends())('dashboard reads: $name', (backend: StoreBackend) => {
  let store: Store;

  beforeEach(async () => {
    store = await backend.create();
  });
  afterEach(async () => {
    await backend.destroy();
  });

  async function seed(): Promise<UsageRecord[]> {
    const rows = [
      usage(),
      usage({ status: 429, errorCode: 'rate_limited', costUsd: 0 }),
      usage({ model: 'claude-sonnet-4-5', costUsd: 0.5 }),
      usage({ key: 'open-webui', costUsd: 1, status: 502, errorCode: 'upstream_error' }),
      usage({ day: '2026-11-27', ts: NOON + 86_400_000, costUsd: 0.125 }),
      usage({ day: '2026-11-20', ts: NOON - 6 * 86_400_000 }),
    ];
    for (const r of rows) await store.settle(r, []);
    return rows;
  }

  it('sums the rollup per day, key and model, with errors counted from the status', async () => {
    await seed();
    const rows = await store.dailyTotals({ fromDay: '2026-11-26', toDay: '2026-11-27' });
    const row = (
      day: string,
      key: string,
      model: string,
      requests: number,
      errors: number,
      costUsd: number,
    ) => ({
      day,
      key,
      model,
      requests,
      errors,
      inputTokens: 100 * requests,
      outputTokens: 50 * requests,
      costUsd,
    });
    expect(rows).toEqual([
      row('2026-11-26', 'cursor-dev', 'claude-sonnet-4-5', 1, 0, 0.5),
      row('2026-11-26', 'cursor-dev', 'gpt-4o-mini', 2, 1, 0.25),
      row('2026-11-26', 'open-webui', 'gpt-4o-mini', 1, 1, 1),
      row('2026-11-27', 'cursor-dev', 'gpt-4o-mini', 1, 0, 0.125),
    ]);
  });

  it('sums the rollup of one key only when asked', async () => {
    await seed();
    const rows = await store.dailyTotals({ fromDay: '2026-11-20', toDay: '2026-11-26', key: 'cursor-dev' });
    expect(rows.map((r) => [r.day, r.key, r.model, r.requests, r.costUsd])).toEqual([
      ['2026-11-20', 'cursor-dev', 'gpt-4o-mini', 1, 0.25],
      ['2026-11-26', 'cursor-dev', 'claude-sonnet-4-5', 1, 0.5],
      ['2026-11-26', 'cursor-dev', 'gpt-4o-mini', 2, 0.25],
    ]);
    expect(await store.dailyTotals({ fromDay: '2026-11-20', toDay: '2026-11-26', key: 'nobody' })).toEqual(
      [],
    );
  });

  it("lists a key's latest usage records newest first, every field intact", async () => {
    const rows = await seed();
    // The next day's record, then the latest of the 26th: by time, not by insertion.
    expect(await store.recentUsage('cursor-dev', 2)).toEqual([rows[4], rows[2]]);
    expect(await store.recentUsage('nobody', 10)).toEqual([]);
  });

  it('lists the audit entries of one key only, newest first', async () => {
    const entry = (key: string | null, action: string, at: number) =>
      store.audit({ at, actor: 'U01', source: 'slack', action, key, reason: 'r', result: 'ok' });
    await entry('cursor-dev', 'disable', NOON);
    await entry('open-webui', 'disable', NOON + 1);
    await entry('cursor-dev', 'enable', NOON + 2);
    await entry(null, 'spend', NOON + 3);
    const audit = await store.keyAudit('cursor-dev', 10);
    expect(audit.map((a) => [a.action, a.at])).toEqual([
      ['enable', NOON + 2],
      ['disable', NOON],
    ]);
    expect(await store.keyAudit('cursor-dev', 1)).toHaveLength(1);
  });
});
