import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { spawnServe } from '../helpers/cli-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { startTestServer, waitFor } from '../helpers/server-harness.js';

/**
 * A replica killed mid-request (SIGKILL: no shutdown code runs) leaves its reservation in the
 * shared database. Another replica charges and releases it once the lease has ended; here the
 * survivor's clock runs two hours ahead instead of the test waiting out the real lease.
 */
const key = mintKey();
let db: TestDatabase;
let dir: string;
let upstream: Server;
const upstreamSockets = new Set<Socket>();
let reader: Store;

function yaml(upstreamUrl: string): string {
  return `version: 1
upstreams:
  fake:
    base_url: ${upstreamUrl}/v1
    api_key: \${FAKE_KEY}
    timeout_ms: 5000
models:
  small:
    upstream: fake
    input_per_mtok: 1
    output_per_mtok: 2
    max_output_tokens: 100
keys:
  cursor-dev:
    hash: ${hashKey(key)}
    limits: { daily_usd: 5 }
`;
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'tollgate-crash-'));
  // An upstream that never answers: the request stays in flight, holding its reservation.
  upstream = createServer(() => {});
  upstream.on('connection', (s) => upstreamSockets.add(s));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  await writeFile(join(dir, 'keys.yaml'), yaml(upstreamUrl));
  reader = createPostgresStore(db.url);
  await reader.init();
});

afterAll(async () => {
  await reader?.close();
  for (const s of upstreamSockets) s.destroy();
  await new Promise((r) => upstream?.close(r));
  await rm(dir, { recursive: true, force: true });
  await db?.drop();
});

describe('a replica that dies mid-request', () => {
  it('leaves a reservation that another replica charges and releases after the lease, once', async () => {
    const proc = await spawnServe(['--config', join(dir, 'keys.yaml'), '--port', '0', '--store', db.url], {
      FAKE_KEY: 'sk-upstream',
    });
    const day = `d:${new Date().toISOString().slice(0, 10)}`;
    try {
      fetch(`${proc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'small',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 100,
        }),
      }).catch(() => null);
      await waitFor(
        async () => ((await reader.getSpend('cursor-dev', [day]))[day]?.reservedUsd ?? 0) > 0,
        10_000,
      );
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    const held = (await reader.getSpend('cursor-dev', [day]))[day]!;
    expect(held.reservedUsd).toBeGreaterThan(0);
    expect(held.spentUsd).toBe(0);

    const survivor = await startTestServer({
      yaml: yaml('http://127.0.0.1:9'),
      store: db.url,
      env: { FAKE_KEY: 'sk-upstream' },
      clock: () => Date.now() + 2 * 3_600_000,
    });
    try {
      const after = (await reader.getSpend('cursor-dev', [day]))[day]!;
      expect(after.reservedUsd).toBe(0);
      // Charged at the reserved amount: what cannot be proven unspent counts as spent.
      expect(after.spentUsd).toBeCloseTo(held.reservedUsd, 12);
      const rows = await reader.queryUsage({ since: 0, until: Date.now() + 1, by: 'status' }, 'UTC');
      expect(rows).toEqual([expect.objectContaining({ status: 0, requests: 1 })]);
      expect(await survivor.server.deps.store.recoverReservations(Date.now() + 3 * 3_600_000)).toBe(0);
    } finally {
      await survivor.close();
    }
  });
});
