import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/**
 * Three gateway servers in one process on one PostgreSQL database: what a team running
 * replicas behind a load balancer gets (docs/postgres.md#what-is-shared, issue 7).
 */
const budgetKey = mintKey();
const rateKey = mintKey();
const victimKey = mintKey();
const ADMIN = 'admin-token-for-replica-tests-0123456789';
const DAILY_USD = 0.02;

let db: TestDatabase;
let upstream: Server;
let upstreamUrl = '';
let replicas: TestServer[] = [];

function yaml(): string {
  // Each answer costs 1 input token × $1/M + 500 output tokens × $2/M = $0.001001, within what is
  // reserved for it (max_tokens 500 plus the estimated input), so spend can only stay under the
  // limit if reservations are atomic across the three replicas.
  return `version: 1
server:
  timezone: UTC
upstreams:
  fake:
    base_url: ${upstreamUrl}/v1
    api_key: \${FAKE_KEY}
models:
  small:
    upstream: fake
    input_per_mtok: 1
    output_per_mtok: 2
    max_output_tokens: 500
keys:
  budget-key:
    hash: ${hashKey(budgetKey)}
    limits: { daily_usd: ${DAILY_USD}, rpm: 10000 }
  rate-key:
    hash: ${hashKey(rateKey)}
    limits: { daily_usd: 100, rpm: 10 }
  victim-key:
    hash: ${hashKey(victimKey)}
    limits: { daily_usd: 100 }
`;
}

const chat = (gw: TestServer, key: string) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], max_tokens: 500 }),
  });

async function codeOf(res: Response): Promise<string | null> {
  if (res.status === 200) {
    await res.arrayBuffer();
    return null;
  }
  return ((await res.json()) as { error: { code: string } }).error.code;
}

beforeAll(async () => {
  db = await createTestDatabase();
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      // A short delay keeps many requests in flight at once, each holding a reservation.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'x',
            object: 'chat.completion',
            model: 'small',
            choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 500, total_tokens: 501 },
          }),
        );
      }, 30);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  // Started one after another would hide migration races; all three start at once.
  replicas = await Promise.all(
    [0, 1, 2].map(() =>
      startTestServer({
        yaml: yaml(),
        store: db.url,
        env: { FAKE_KEY: 'sk-upstream', TOLLGATE_ADMIN_TOKEN: ADMIN },
      }),
    ),
  );
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  await new Promise((r) => upstream?.close(r));
  await db?.drop();
});

describe('three gateway replicas on one PostgreSQL database', () => {
  it('keeps 150 concurrent requests spread across the replicas within a small daily budget', async () => {
    const codes = await Promise.all(
      Array.from({ length: 150 }, (_, i) => chat(replicas[i % 3]!, budgetKey).then(codeOf)),
    );
    const ok = codes.filter((c) => c === null).length;
    expect(ok).toBeGreaterThan(0);
    expect(codes).toContain('insufficient_quota');
    expect(codes.filter((c) => c !== null && c !== 'insufficient_quota')).toEqual([]);
    const today = `d:${new Date().toISOString().slice(0, 10)}`;
    const spend = (await replicas[1]!.server.deps.store.getSpend('budget-key', [today]))[today]!;
    expect(spend.reservedUsd).toBe(0);
    expect(spend.spentUsd).toBeLessThanOrEqual(DAILY_USD);
    expect(spend.spentUsd).toBeCloseTo(ok * 0.001001, 9);
  });

  it('admits at most 10 of a burst of 30 when rpm 10 is shared by the replicas', async () => {
    const codes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => chat(replicas[i % 2]!, rateKey).then(codeOf)),
    );
    expect(codes.filter((c) => c === null).length).toBe(10);
    expect(codes.filter((c) => c === 'rate_limit_exceeded').length).toBe(20);
  });

  it('refuses a key on every replica within a second of a disable through the admin API of one', async () => {
    const [a, b, c] = replicas as [TestServer, TestServer, TestServer];
    expect(await codeOf(await chat(b, victimKey))).toBeNull();
    const res = await fetch(`${a.url}/admin/keys/victim-key/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'leaked in a screenshot' }),
    });
    expect(res.status).toBe(200);
    const disabledEverywhere = async () => {
      const codes = await Promise.all([b, c].map(async (gw) => codeOf(await chat(gw, victimKey))));
      return codes.every((code) => code === 'key_disabled');
    };
    await waitFor(disabledEverywhere, 1000);
  });
});
