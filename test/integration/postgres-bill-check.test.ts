import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { BILL_CHECK_SCOPE, createBillCheckScheduler } from '../../src/schedule/bill-check-scheduler.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import {
  ADMIN_KEY,
  billEnv,
  billYaml,
  KEY_IDS,
  pricedBy,
  sendTraffic,
  UPSTREAM_KEYS,
} from '../helpers/bill-check-setup.js';
import { type FakeProvider, startFakeProvider } from '../helpers/fake-admin-api.js';
import { type Harness, manualClock, startGateway } from '../helpers/gateway-harness.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

const DAY = '2026-11-20';
const NOON = Date.parse(`${DAY}T12:00:00Z`);

/** Three replicas on one PostgreSQL database, each with its own scheduler, passing at once. */
describe('the bill check with three replicas on PostgreSQL', () => {
  let db: TestDatabase;
  let provider: FakeProvider;
  let h: Harness;
  const stores: Store[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await h?.close();
    await provider?.close();
    await Promise.all(stores.map((s) => s.close()));
    await db.drop();
  });

  it('checks each day and upstream once and alerts once', async () => {
    const clock = manualClock(NOON);
    for (let i = 0; i < 3; i++) {
      const store = createPostgresStore(db.url, { poolSize: 2 });
      await store.init();
      stores.push(store);
    }
    provider = await startFakeProvider({ clock, adminKey: ADMIN_KEY });
    provider.keyIds.set(UPSTREAM_KEYS.openai, KEY_IDS.openai);
    provider.keyIds.set(UPSTREAM_KEYS.anthropic, KEY_IDS.anthropic);
    h = await startGateway({ yaml: billYaml(provider.baseUrl), env: billEnv(), clock, store: stores[0] });
    provider.price = pricedBy(h.deps.config.current().config, NOON);
    await sendTraffic(h, 1);
    await h.waitForRecords(2);
    const extra = {
      day: DAY,
      requests: 9,
      input: 0,
      cached: 400_000,
      write5m: 0,
      write1h: 0,
      output: 20_000,
    };
    provider.addUsage({ ...extra, apiKeyId: KEY_IDS.anthropic, model: 'claude-haiku-4-5-20251001' });

    clock.set(Date.parse('2026-11-21T03:00:00Z'));
    const won = new Map<string, number>();
    const posts: string[] = [];
    const schedulers = stores.map((store) => {
      const claimOnce = store.claimOnce.bind(store);
      const counted = Object.assign(Object.create(store) as Store, {
        claimOnce: async (scope: string, id: string, at: number) => {
          const ok = await claimOnce(scope, id, at);
          if (ok) won.set(`${scope}:${id}`, (won.get(`${scope}:${id}`) ?? 0) + 1);
          return ok;
        },
      });
      return createBillCheckScheduler({
        store: counted,
        config: h.deps.config,
        clock,
        log: silentLogger(),
        env: billEnv(),
        http: { sleep: async () => {} },
        post: async (msg) => {
          posts.push(msg.text);
        },
      });
    });
    const results = await Promise.all(schedulers.map((s) => s.check()));
    const ofDay = results.flat().filter((r) => r.date === DAY);
    expect(ofDay.map((r) => [r.upstream, r.verdict]).sort()).toEqual([
      ['anthropic', 'unmetered'],
      ['openai', 'match'],
    ]);
    expect([...won.values()].every((n) => n === 1)).toBe(true);
    expect(won.get(`${BILL_CHECK_SCOPE}:${DAY}/openai`)).toBe(1);
    expect(won.get(`${BILL_CHECK_SCOPE}:${DAY}/anthropic`)).toBe(1);
    expect(posts).toHaveLength(1);
    expect(posts[0]).toContain('anthropic');
    // Every replica reads the one result.
    for (const store of stores)
      expect((await store.billChecks(DAY, DAY)).map((r) => r.verdict)).toEqual(['unmetered', 'match']);
  });
});
