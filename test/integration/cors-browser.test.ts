import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { standardYaml } from '../helpers/gateway-harness.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

/**
 * CORS as a real browser enforces it: headless Chromium loads a page from one origin that calls
 * the gateway's /v1 with a key and the OpenAI SDK's X-Stainless headers, the way Open WebUI's
 * direct connections and the SDKs in a browser do. The page writes what it could read into the DOM.
 */

const CHROMIUM = '/usr/bin/chromium';
const key = mintKey();
let upstream: FakeUpstream;
let gw: TestServer;
let listed: Server;
let unlisted: Server;
let profile = '';

const origin = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

function page(): Server {
  return createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><html><body><pre id="out">pending</pre><script>
fetch(${JSON.stringify(`${gw.url}/v1/chat/completions`)}, {
  method: 'POST',
  headers: { authorization: 'Bearer ${key}', 'content-type': 'application/json', 'x-stainless-os': 'Linux', 'x-stainless-retry-count': '0' },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
}).then(async (r) => {
  const body = await r.json();
  document.getElementById('out').textContent = ['status=' + r.status, 'key=' + r.headers.get('x-tollgate-key'),
    'remaining=' + r.headers.get('x-ratelimit-remaining-requests'), 'tokens=' + body.usage.total_tokens].join(' ');
}).catch((e) => { document.getElementById('out').textContent = 'blocked: ' + e.message; });
</script></body></html>`);
  });
}

async function visit(s: Server): Promise<string> {
  const { stdout } = await promisify(execFile)(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      '--virtual-time-budget=10000',
      '--dump-dom',
      origin(s),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return /<pre id="out">([^<]*)<\/pre>/.exec(stdout)?.[1] ?? stdout;
}

describe.skipIf(!existsSync(CHROMIUM))('CORS in a real browser', () => {
  beforeAll(async () => {
    upstream = await startFakeUpstream();
    listed = page();
    unlisted = page();
    await Promise.all([listed, unlisted].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    const yaml = standardYaml(upstream.baseUrl)
      .replace('server:\n', `server:\n  cors_origins: ["${origin(listed)}"]\n`)
      .replace(/\{\{hash:([a-z0-9._-]+)\}\}/g, (_m, name: string) =>
        hashKey(name === 'cursor-dev' ? key : mintKey()),
      );
    gw = await startTestServer({
      yaml,
      env: { OPENAI_API_KEY: 'sk-upstream-openai-secret', ANTHROPIC_API_KEY: 'sk-ant-upstream-secret' },
    });
    profile = await mkdtemp(join(tmpdir(), 'tollgate-chromium-'));
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
    listed?.close();
    unlisted?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('lets a page from a listed origin call /v1 with its key and read the answer and the back-off headers', async () => {
    expect(await visit(listed)).toBe('status=200 key=cursor-dev remaining=999 tokens=1545');
  });

  it('blocks a page from an origin that is not listed', async () => {
    const before = upstream.received.length;
    expect(await visit(unlisted)).toMatch(/^blocked: /);
    // The browser stopped at the preflight: the request itself never reached the upstream.
    expect(upstream.received.length).toBe(before);
  });
});
