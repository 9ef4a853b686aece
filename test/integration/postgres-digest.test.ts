import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/log.js';
import { createDigestScheduler, type DigestScheduler } from '../../src/schedule/digest-scheduler.js';
import type { DigestMessage } from '../../src/slack/digest/render-blocks.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { zonedTime } from '../../src/windows/calendar.js';
import { makeConfig, makeKey } from '../helpers/digest-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

/** Three replicas, each with its own store and a digest schedule firing every 2 s: one digest. */
describe('the daily digest with three replicas on PostgreSQL', () => {
  let db: TestDatabase;
  const stores: Store[] = [];
  const schedulers: DigestScheduler[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const s of schedulers) s.stop();
    await Promise.all(schedulers.map((s) => s.idle()));
    await Promise.all(stores.map((s) => s.close()));
    await db.drop();
  });

  it('is sent exactly once for the day', async () => {
    const now = zonedTime(2026, 11, 27, 'Europe/Berlin', 10);
    const loaded: LoadedConfig = {
      config: makeConfig([makeKey('cursor-dev', { limits: { dailyUsd: 5 } })]),
      revision: 'rev-1',
      loadedAt: 0,
      keysByHash: new Map(),
    };
    const posts: DigestMessage[] = [];
    let claims = 0;
    for (let i = 0; i < 3; i++) {
      const store = createPostgresStore(db.url, { poolSize: 2 });
      await store.init();
      stores.push(store);
      const claimOnce = store.claimOnce.bind(store);
      store.claimOnce = (scope, id, at) => {
        claims++;
        return claimOnce(scope, id, at);
      };
      schedulers.push(
        createDigestScheduler({
          store,
          config: { current: () => loaded },
          clock: () => now,
          log: silentLogger(),
          cronExpression: '*/2 * * * * *',
          timeZone: 'Europe/Berlin',
          post: async (msg) => {
            posts.push(msg);
          },
        }),
      );
    }
    await Promise.all(schedulers.map((s) => s.start()));
    // The three catch-ups plus at least one tick of every replica, all for 2026-11-26.
    for (let i = 0; i < 100 && claims < 6; i++) await new Promise((r) => setTimeout(r, 100));
    await Promise.all(schedulers.map((s) => s.idle()));
    expect(claims).toBeGreaterThanOrEqual(6);
    expect(posts.map((m) => /digest for (\d{4}-\d{2}-\d{2})/.exec(m.text)?.[1])).toEqual(['2026-11-26']);
  });
});
