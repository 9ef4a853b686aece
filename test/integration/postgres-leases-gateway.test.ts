import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { spawnServe } from '../helpers/cli-process.js';
import { type FakeUpstream, hang, startFakeUpstream } from '../helpers/fake-upstream.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { startTestServer, waitFor } from '../helpers/server-harness.js';

/**
 * Budget leases seen from outside (docs/postgres.md#budget-leases): real gateways on one
 * database, driven over HTTP. A busy key's replica shows its leases on /healthz and /metrics;
 * a replica killed with SIGKILL while it holds leases and requests in flight leaves nothing
 * reserved once another replica's sweep has passed their expiry, and the limit holds.
 */
const key = mintKey();
const busyKey = mintKey();
const pacedKey = mintKey();
const parallelKey = mintKey();
const LIMIT = 0.2;
let db: TestDatabase;
let dir: string;
let upstream: FakeUpstream;
let reader: Store;

const yaml = (busyLimit = 100) => `version: 1
upstreams:
  fake:
    base_url: ${upstream.baseUrl}
    api_key: \${FAKE_KEY}
    timeout_ms: 5000
models:
  small:
    upstream: fake
    input_per_mtok: 1
    output_per_mtok: 2
    max_output_tokens: 400
keys:
  cursor-dev:
    hash: ${hashKey(key)}
    limits: { daily_usd: ${LIMIT} }
  busy:
    hash: ${hashKey(busyKey)}
    limits: { daily_usd: ${busyLimit} }
  paced:
    hash: ${hashKey(pacedKey)}
    limits: { rpm: 100000 }
  parallel:
    hash: ${hashKey(parallelKey)}
    limits: { rpm: 100000, max_parallel: 64 }
`;

const ask = (url: string, as = key) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${as}`, 'content-type': 'application/json' },
    // Long enough, and an output bound high enough, that the fake upstream's usage (1,200 input and
    // 345 output tokens) stays within what the gateway reserves for it.
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: PROMPT }], max_tokens: 400 }),
  }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

const PROMPT = 'hello there '.repeat(1_000);

const today = () => `d:${new Date().toISOString().slice(0, 10)}`;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'tollgate-leases-'));
  upstream = await startFakeUpstream();
  await writeFile(join(dir, 'keys.yaml'), yaml());
  reader = createPostgresStore(db.url, { leaseHorizonMs: 0 });
  await reader.init();
});

afterAll(async () => {
  await reader?.close();
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
  await db?.drop();
});

describe('budget leases behind real gateways', () => {
  it('shows the leases a busy replica holds on /healthz and /metrics', async () => {
    const server = await startTestServer({ yaml: yaml(), store: db.url, env: { FAKE_KEY: 'sk-upstream' } });
    try {
      let leases = 0;
      for (let wave = 0; wave < 20 && leases === 0; wave++) {
        await Promise.all(Array.from({ length: 6 }, () => ask(server.url, busyKey)));
        const health = (await (await fetch(`${server.url}/healthz`)).json()) as {
          leases?: { count: number; leased_usd: number; held_usd: number };
        };
        leases = health.leases?.count ?? 0;
        if (leases > 0) expect(health.leases?.leased_usd).toBeGreaterThan(0);
      }
      expect(leases).toBeGreaterThan(0);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/^tollgate_budget_leases [1-9]/m);
      expect(metrics).toMatch(/^tollgate_budget_leased_usd 0\.\d+/m);
    } finally {
      await server.close();
    }
    // Closing returned them: nothing stays reserved.
    expect((await reader.getSpend('busy', [today()]))[today()]?.reservedUsd).toBe(0);
  });

  it('shows the rate leases a busy replica holds on /healthz', async () => {
    const server = await startTestServer({ yaml: yaml(), store: db.url, env: { FAKE_KEY: 'sk-upstream' } });
    try {
      type Health = { rate_leases?: { count: number; requests: number; tokens: number } };
      let held: Health['rate_leases'];
      for (let wave = 0; wave < 40 && !held?.count; wave++) {
        await Promise.all(Array.from({ length: 8 }, () => ask(server.url, pacedKey)));
        held = ((await (await fetch(`${server.url}/healthz`)).json()) as Health).rate_leases;
        expect(held).toBeDefined();
      }
      // The key's rpm slots it holds of the fleet's minute; it has no tpm, so no tokens.
      expect(held?.count).toBeGreaterThan(0);
      expect(held?.requests).toBeGreaterThan(0);
      expect(held?.tokens).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('serves a busy key with max_parallel from slot leases, shown on /healthz', async () => {
    const server = await startTestServer({ yaml: yaml(), store: db.url, env: { FAKE_KEY: 'sk-upstream' } });
    try {
      type Health = { rate_leases?: { slots?: { held: number; in_use: number; served: number } } };
      let slots: NonNullable<Health['rate_leases']>['slots'];
      for (let wave = 0; wave < 60 && !slots?.served; wave++) {
        const statuses = await Promise.all(Array.from({ length: 8 }, () => ask(server.url, parallelKey)));
        expect(statuses.every((s) => s === 200)).toBe(true);
        slots = ((await (await fetch(`${server.url}/healthz`)).json()) as Health).rate_leases?.slots;
        expect(slots).toBeDefined();
      }
      // Requests took and freed their max_parallel slot (and their rpm) without a database call.
      expect(slots?.served).toBeGreaterThan(0);
      // Every request ended freed its slot.
      await waitFor(async () => {
        const h = (await (await fetch(`${server.url}/healthz`)).json()) as Health;
        return h.rate_leases?.slots?.in_use === 0;
      }, 2_000);
    } finally {
      await server.close();
    }
  });

  it('charges a SIGKILLed replica’s leases after expiry, and the survivor never exceeds the limit', async () => {
    const proc = await spawnServe(['--config', join(dir, 'keys.yaml'), '--port', '0', '--store', db.url], {
      FAKE_KEY: 'sk-upstream',
    });
    const day = today();
    try {
      await waitFor(async () => {
        await Promise.all(Array.from({ length: 6 }, () => ask(proc.url)));
        return (await leaseRows()) > 0;
      }, 20_000);
      // Requests in flight when it dies: the upstream never answers them.
      const received = upstream.received.length;
      for (let i = 0; i < 3; i++) upstream.next(hang);
      for (let i = 0; i < 3; i++) void ask(proc.url).catch(() => null);
      await upstream.waitForRequests(received + 3, 10_000);
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    upstream.reset();
    const held = (await reader.getSpend('cursor-dev', [day]))[day]!;
    expect(held.reservedUsd).toBeGreaterThan(0);
    expect(held.spentUsd + held.reservedUsd).toBeLessThanOrEqual(LIMIT + 1e-12);

    // A survivor whose clock is past every lease's expiry: its start-up sweep charges them.
    const survivor = await startTestServer({
      yaml: yaml(),
      store: db.url,
      env: { FAKE_KEY: 'sk-upstream' },
      clock: () => Date.now() + 2 * 3_600_000,
    });
    try {
      const after = (await reader.getSpend('cursor-dev', [day]))[day]!;
      expect(after.reservedUsd).toBe(0);
      // Charged whole: what a lease held cannot be proven unspent.
      expect(after.spentUsd).toBeCloseTo(held.spentUsd + held.reservedUsd, 9);
      expect(await leaseRows()).toBe(0);
      // The survivor goes on serving until the limit refuses it, and the limit holds.
      let refused = false;
      for (let i = 0; i < 150 && !refused; i++) refused = (await ask(survivor.url)) === 429;
      expect(refused).toBe(true);
      const end = (await reader.getSpend('cursor-dev', [day]))[day]!;
      expect(end.spentUsd + end.reservedUsd).toBeLessThanOrEqual(LIMIT + 1e-12);
    } finally {
      await survivor.close();
    }
  });
});

describe('a limit lowered by a reload while two replicas hold leases', () => {
  it('is never exceeded, and the leases granted under the old limit go back', async () => {
    const day = today();
    const spendNow = async () => (await reader.getSpend('busy', [day]))[day]!;
    const start = (await spendNow()).spentUsd;
    const replicas = await Promise.all(
      [0, 1].map(() =>
        startTestServer({
          yaml: yaml(start + 1),
          store: db.url,
          env: { FAKE_KEY: 'sk-upstream' },
          pollMs: 100,
        }),
      ),
    );
    try {
      const leased = async () =>
        Promise.all(
          replicas.map(
            async (r) =>
              ((await (await fetch(`${r.url}/healthz`)).json()) as { leases?: { count: number } }).leases
                ?.count ?? 0,
          ),
        );
      await waitFor(async () => {
        await Promise.all(replicas.flatMap((r) => Array.from({ length: 4 }, () => ask(r.url, busyKey))));
        return (await leased()).every((n) => n > 0);
      }, 20_000);
      const before = await spendNow();
      expect(await leaseRows()).toBeGreaterThan(0);
      // The reload: what is spent now plus about five requests' worth. Until both replicas have given
      // back the leases granted under the old limit, what the database counts (spent + reserved) may
      // be above the lowered limit: that money is refused to everyone, and spent by no one.
      const lowered = before.spentUsd + 0.01;
      const revisions = await Promise.all(replicas.map((r) => revisionOf(r.url)));
      for (const r of replicas) writeFileSync(r.file, yaml(lowered));
      await waitFor(async () => {
        const now = await Promise.all(replicas.map((r) => revisionOf(r.url)));
        return now.every((rev, i) => rev !== revisions[i]);
      }, 5_000);

      // No request was in flight at the reload, so every request admitted from now on was admitted
      // under the lowered limit: spend never passes it, while the old leases are out or after.
      let served = 0;
      let returned = false;
      let refusedAfterReturn = 0;
      for (let wave = 0; wave < 40 && refusedAfterReturn === 0; wave++) {
        const wasReturned = returned;
        const statuses = await Promise.all(
          replicas.flatMap((r) => [ask(r.url, busyKey), ask(r.url, busyKey)]),
        );
        served += statuses.filter((s) => s === 200).length;
        if (wasReturned) refusedAfterReturn += statuses.filter((s) => s === 429).length;
        expect((await spendNow()).spentUsd).toBeLessThanOrEqual(lowered + 1e-12);
        // Each replica gives its old leases back on its first round after a request under the new
        // limit. A quarter of the lowered limit's room is less than four requests' worth, too little
        // to lease: any lease row left is one granted under the old limit.
        returned ||= (await leaseRows()) === 0;
      }
      // The old leases went back, the lowered limit itself then refused, and what it served fit.
      expect(returned).toBe(true);
      expect(refusedAfterReturn).toBeGreaterThan(0);
      expect(served).toBeGreaterThan(0);
      const after = await spendNow();
      expect(after.spentUsd).toBeGreaterThan(before.spentUsd);
      expect(after.spentUsd + after.reservedUsd).toBeLessThanOrEqual(lowered + 1e-12);
      // Nothing leased under either limit is still held once the key is idle.
      await waitFor(async () => (await spendNow()).reservedUsd === 0, 5_000);
      expect((await spendNow()).spentUsd).toBeLessThanOrEqual(lowered + 1e-12);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });
});

async function revisionOf(url: string): Promise<string> {
  return ((await (await fetch(`${url}/healthz`)).json()) as { config: { revision: string } }).config.revision;
}

async function leaseRows(): Promise<number> {
  const pg = await import('pg');
  const c = new pg.default.Client({ connectionString: db.url });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM reservations WHERE left(id, 6) = 'lease:'",
    );
    return rows[0]?.n ?? 0;
  } finally {
    await c.end();
  }
}
