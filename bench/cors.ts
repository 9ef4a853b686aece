/**
 * What CORS costs on the /v1 hot path: the same authenticated GET /v1/models without an Origin
 * and with an allowed one, interleaved, plus the keyless preflight (no usage record, no store
 * write). In-process gateway and fake upstream, 10 connections, 5 s per run.
 * Run: npx tsx bench/cors.ts
 */
import autocannon from 'autocannon';
import { startFakeUpstream } from '../test/helpers/fake-upstream.js';
import { standardYaml, startGateway } from '../test/helpers/gateway-harness.js';

const ORIGIN = 'https://chat.example.com';
const upstream = await startFakeUpstream();
const gw = await startGateway({
  yaml: standardYaml(upstream.baseUrl).replace('server:\n', `server:\n  cors_origins: ["${ORIGIN}"]\n`),
});

const run = (opts: { method?: 'GET' | 'OPTIONS'; path: string; headers: Record<string, string> }) =>
  autocannon({
    url: `${gw.url}${opts.path}`,
    method: opts.method ?? 'GET',
    connections: 10,
    duration: 5,
    headers: opts.headers,
  });

const auth = { authorization: `Bearer ${gw.keys['cursor-dev']}` };
for (let round = 1; round <= 3; round++) {
  const plain = await run({ path: '/v1/models', headers: auth });
  const cors = await run({ path: '/v1/models', headers: { ...auth, origin: ORIGIN } });
  const preflight = await run({
    method: 'OPTIONS',
    path: '/v1/chat/completions',
    headers: {
      origin: ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, x-stainless-os',
    },
  });
  const show = (r: autocannon.Result) => `${Math.round(r.requests.average)} req/s, p99 ${r.latency.p99} ms`;
  console.log(
    `round ${round}: no Origin ${show(plain)} | allowed Origin ${show(cors)} | preflight ${show(preflight)}`,
  );
}
await gw.close();
await upstream.close();
