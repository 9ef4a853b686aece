import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type Harness, startGateway } from '../helpers/gateway-harness.js';
import { ask, createSender, INSIGHTS_YAML } from '../helpers/insight-traffic.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

/** Two replicas on one PostgreSQL database keep one fingerprint secret between them. */
describe.skipIf(process.env.TOLLGATE_TEST_SKIP_PG === '1')('fingerprints on PostgreSQL replicas', () => {
  let db: TestDatabase;
  let upstream: FakeUpstream;
  const stores: Store[] = [];
  const gateways: Harness[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('tollgate_fp');
    upstream = await startFakeUpstream();
    for (let i = 0; i < 2; i++) {
      const store = createPostgresStore(db.url, { poolSize: 3 });
      await store.init();
      stores.push(store);
    }
    // Both replicas start at once: both race to make the secret, one wins.
    gateways.push(
      ...(await Promise.all(
        stores.map((store) => startGateway({ yaml: INSIGHTS_YAML(upstream.baseUrl), store })),
      )),
    );
    // The same key on both (its hash comes from the first gateway's minted key).
    for (const g of gateways) Object.assign(g.keys, gateways[0]?.keys);
  }, 30_000);
  afterAll(async () => {
    for (const g of gateways) await g.close();
    for (const s of stores) await s.close();
    await upstream.close();
    await db.drop();
  });

  it('gives one request the same fingerprint on two replicas', async () => {
    const [a, b] = gateways as [Harness, Harness];
    b.reload(INSIGHTS_YAML(upstream.baseUrl));
    const body = ask('small-model', 'Same question from two replicas');
    await createSender(a, upstream).send('steady', body, { usage: { prompt: 100, completion: 10 } });
    await createSender(b, upstream).send(
      'steady',
      { ...body, stream: false, user: 'someone-else' },
      {
        usage: { prompt: 100, completion: 10 },
      },
    );
    await a.waitForRecords(1);
    await b.waitForRecords(1);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ request_fp: string }>(
        "SELECT request_fp FROM usage WHERE key = 'steady' ORDER BY ts",
      );
      expect(rows).toHaveLength(2);
      expect(rows[0]?.request_fp).toMatch(/^[0-9a-f]{32}$/);
      expect(rows[1]?.request_fp).toBe(rows[0]?.request_fp);
    } finally {
      await c.end();
    }
  });
});
