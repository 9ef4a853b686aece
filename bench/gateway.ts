/**
 * Throughput of the real server (`startServer`: config manager, policy, reservation and settle,
 * usage tap) in front of a fake upstream, against the upstream called directly — all in one run,
 * because the machine is shared and noisy and only ratios mean something. Also one replica on
 * PostgreSQL vs on SQLite (issue 7). Reports numbers; asserts nothing.
 *
 *   npx tsx bench/gateway.ts [seconds=5] [connections=50]      (PostgreSQL on 127.0.0.1:5432)
 */
import autocannon from 'autocannon';
import { hashKey, mintKey } from '../src/keys/format.js';
import { startFakeUpstream } from '../test/helpers/fake-upstream.js';
import { createTestDatabase } from '../test/helpers/pg.js';
import { startTestServer } from '../test/helpers/server-harness.js';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 50);

async function rps(url: string, headers: Record<string, string>, body: string): Promise<number> {
  const r = await autocannon({ url, method: 'POST', headers, body, connections, duration: seconds });
  const bad = r.non2xx + r.errors;
  if (bad > 0) console.warn(`  (${bad} non-2xx or failed requests at ${url})`);
  return r.requests.average;
}

const upstream = await startFakeUpstream();
const key = mintKey();
const yaml = `version: 1
upstreams:
  openai: { base_url: "${upstream.baseUrl}", api_key: "\${BENCH_UPSTREAM_KEY}" }
models:
  gpt-4o-mini: { upstream: openai, input_per_mtok: 0.15, output_per_mtok: 0.6, max_output_tokens: 16384 }
keys:
  bench: { hash: "${hashKey(key)}", limits: { daily_usd: 1000000, rpm: 100000000 } }
`;
const env = { BENCH_UPSTREAM_KEY: 'sk-bench' };
const json = { 'content-type': 'application/json' };
const auth = { ...json, authorization: `Bearer ${key}` };
const body = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'hello' }],
  max_tokens: 50,
});
const stream = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'hello' }],
  stream: true,
});

const sqlite = await startTestServer({ yaml, env });
const db = await createTestDatabase('tollgate_bench');
const postgres = await startTestServer({ yaml, env, store: db.url });

console.log(`node ${process.version}, ${connections} connections, ${seconds} s each`);
await rps(`${upstream.baseUrl}/chat/completions`, json, body); // warm-up
const direct = await rps(`${upstream.baseUrl}/chat/completions`, json, body);
const viaSqlite = await rps(`${sqlite.url}/v1/chat/completions`, auth, body);
const viaSqliteSse = await rps(`${sqlite.url}/v1/chat/completions`, auth, stream);
const viaPostgres = await rps(`${postgres.url}/v1/chat/completions`, auth, body);

const row = (name: string, v: number) =>
  console.log(`${name.padEnd(40)} ${Math.round(v).toString().padStart(7)} req/s`);
row('fake upstream directly', direct);
row('gateway (SQLite), JSON', viaSqlite);
row('gateway (SQLite), SSE with usage hidden', viaSqliteSse);
row('gateway (PostgreSQL), JSON', viaPostgres);
console.log(`gateway/direct (SQLite, JSON): ${(viaSqlite / direct).toFixed(3)}`);
console.log(`one replica PostgreSQL/SQLite (JSON): ${(viaPostgres / viaSqlite).toFixed(3)}`);

await sqlite.close();
await postgres.close();
await db.drop();
await upstream.close();
