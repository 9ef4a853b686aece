/**
 * Throughput of the gateway vs the same fake upstream called directly, measured in one run
 * (the machine is shared and noisy, so only the ratio means something).
 *
 *   npx tsx bench/gateway.ts [--connections 50] [--seconds 5]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { hashKey, mintKey } from '../src/keys/format.js';
import { startTestServer } from '../test/helpers/server-harness.js';

const { values } = parseArgs({
  options: { connections: { type: 'string', default: '50' }, seconds: { type: 'string', default: '5' } },
});
const connections = Number(values.connections);
const duration = Number(values.seconds);

const reply = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  model: 'bench-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
});
const upstream = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(reply);
  });
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

const key = mintKey();
const gw = await startTestServer({
  yaml: `version: 1
upstreams:
  bench: { base_url: ${upstreamUrl}/v1, api_key: "\${BENCH_KEY}" }
models:
  bench-model: { upstream: bench, input_per_mtok: 0.15, output_per_mtok: 0.6, max_output_tokens: 16 }
keys:
  bench: { hash: ${hashKey(key)}, limits: { daily_usd: 1000000, rpm: 100000000 } }
`,
  env: { BENCH_KEY: 'upstream-secret' },
});

const body = JSON.stringify({
  model: 'bench-model',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 16,
});
async function run(url: string, headers: Record<string, string>) {
  const r = await autocannon({
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
    connections,
    duration,
  });
  return { rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

// Warm both paths, then measure each once in the same run.
await run(`${upstreamUrl}/v1/chat/completions`, {});
const direct = await run(`${upstreamUrl}/v1/chat/completions`, {});
const viaGateway = await run(`${gw.url}/v1/chat/completions`, { authorization: `Bearer ${key}` });
console.log(
  JSON.stringify({ connections, duration, direct, viaGateway, ratio: viaGateway.rps / direct.rps }, null, 2),
);
console.log(
  `gateway/direct throughput ratio: ${(viaGateway.rps / direct.rps).toFixed(2)} (${viaGateway.rps.toFixed(0)} vs ${direct.rps.toFixed(0)} req/s, p99 ${viaGateway.p99} ms vs ${direct.p99} ms)`,
);
await gw.close();
upstream.close();
