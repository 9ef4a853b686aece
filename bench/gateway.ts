/**
 * Throughput of the request path: the fake upstream alone, then the gateway in front of it (auth,
 * rate limit, reservation and settle in SQLite, usage tap), plain and streamed. Reports numbers;
 * asserts nothing. Run: npx tsx bench/gateway.ts [seconds] [connections]
 */
import autocannon from 'autocannon';
import { startFakeUpstream } from '../test/helpers/fake-upstream.js';
import { standardYaml, startGateway } from '../test/helpers/gateway-harness.js';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 50);

async function run(title: string, url: string, headers: Record<string, string>, body: string) {
  const result = await autocannon({ url, method: 'POST', headers, body, connections, duration: seconds });
  const errors = result.non2xx + result.errors;
  console.log(
    `${title.padEnd(34)} ${Math.round(result.requests.average).toString().padStart(7)} req/s  p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms  non-2xx/errors ${errors}`,
  );
}

const upstream = await startFakeUpstream();
// Every request goes to the canned answers: the queue stays empty.
const gw = await startGateway({
  yaml: standardYaml(upstream.baseUrl, {
    keys: '  bench:\n    hash: {{hash:bench}}\n    limits: { daily_usd: 1000000, rpm: 100000000, max_parallel: 100000 }\n',
  }),
});
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
const json = { 'content-type': 'application/json' };
const auth = { ...json, authorization: `Bearer ${gw.keys.bench}` };

console.log(`node ${process.version}, ${connections} connections, ${seconds} s each`);
await run('fake upstream directly', `${upstream.baseUrl}/chat/completions`, json, body);
await run('gateway → upstream, JSON', `${gw.baseURL}/chat/completions`, auth, body);
await run('gateway → upstream, SSE (usage hidden)', `${gw.baseURL}/chat/completions`, auth, stream);
console.log(`usage records written: ${gw.records.length}`);
await gw.close();
await upstream.close();
