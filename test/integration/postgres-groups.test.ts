import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { estimateInputTokens } from '../../src/metering/estimate.js';
import { periodsAt } from '../../src/windows/budget-windows.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';
import { UNIT_MODEL, unitAsk } from '../helpers/unit-model.js';

/**
 * Three gateway replicas on one PostgreSQL database, with two keys drawing from one group: the
 * group's budget and tpm hold across the fleet, not per replica.
 */
const keyA = mintKey();
const keyB = mintKey();
const tpmA = mintKey();
const tpmB = mintKey();
const GROUP_DAILY_USD = 0.1;
const BODY = unitAsk(10);
const ADMITTED = estimateInputTokens(Buffer.byteLength(BODY), JSON.parse(BODY)) + 10;
const TPM = 7 * ADMITTED;

let db: TestDatabase;
let upstream: Server;
let upstreamUrl = '';
let replicas: TestServer[] = [];

function yaml(): string {
  // The unit model: every request reserves and spends exactly $0.01 (10 output tokens).
  return `version: 1
server:
  timezone: Asia/Kolkata
upstreams:
  openai:
    base_url: ${upstreamUrl}/v1
    api_key: \${FAKE_KEY}
models:
${UNIT_MODEL}groups:
  backend:
    limits: { daily_usd: ${GROUP_DAILY_USD}, hourly_usd: 5 }
  agents:
    limits: { tpm: ${TPM} }
keys:
  api-a:
    hash: ${hashKey(keyA)}
    group: backend
    limits: { daily_usd: 1 }
  api-b:
    hash: ${hashKey(keyB)}
    group: backend
    limits: { daily_usd: 1 }
  agent-a:
    hash: ${hashKey(tpmA)}
    group: agents
  agent-b:
    hash: ${hashKey(tpmB)}
    group: agents
`;
}

const chat = (gw: TestServer, key: string) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: BODY,
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
      // In flight long enough that reservations from every replica overlap.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'x',
            object: 'chat.completion',
            model: 'unit',
            choices: [],
            usage: { prompt_tokens: 1, completion_tokens: 10 },
          }),
        );
      }, 30);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  replicas = await Promise.all(
    [0, 1, 2].map(() => startTestServer({ yaml: yaml(), store: db.url, env: { FAKE_KEY: 'sk-upstream' } })),
  );
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  await new Promise((r) => upstream?.close(r));
  await db?.drop();
});

describe('groups across three PostgreSQL replicas', () => {
  it('keeps 120 concurrent requests of two keys of one group, spread over the replicas, within the group limit', async () => {
    const codes = await Promise.all(
      Array.from({ length: 120 }, (_, i) => chat(replicas[i % 3]!, i % 2 ? keyA : keyB).then(codeOf)),
    );
    // $0.10 / $0.01: exactly ten fit, whichever replica or key they came through.
    expect(codes.filter((c) => c === null).length).toBe(10);
    expect(codes.filter((c) => c !== null && c !== 'insufficient_quota')).toEqual([]);
    const store = replicas[1]!.server.deps.store;
    const { daily } = periodsAt(Date.now(), 'Asia/Kolkata');
    const group = (await store.getSpend('api-a', [`@backend/${daily}`]))[`@backend/${daily}`];
    expect(group?.spentUsd).toBeCloseTo(GROUP_DAILY_USD, 12);
    expect(group?.reservedUsd).toBe(0);
    const a = (await store.getSpend('api-a', [daily]))[daily]?.spentUsd ?? 0;
    const b = (await store.getSpend('api-b', [daily]))[daily]?.spentUsd ?? 0;
    expect(a + b).toBeCloseTo(GROUP_DAILY_USD, 12);
  });

  it("admits a burst across two replicas exactly up to the group's tpm", async () => {
    const codes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => chat(replicas[i % 2]!, i % 3 ? tpmA : tpmB).then(codeOf)),
    );
    expect(codes.filter((c) => c === null).length).toBe(7);
    expect(codes.filter((c) => c === 'rate_limit_exceeded').length).toBe(23);
  });
});
