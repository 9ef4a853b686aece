import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/** An unset `${VAR}`: serve starts (503 naming it), a reload that newly names one is rejected. */

const key = mintKey();
let upstream: FakeUpstream;
let gw: TestServer;

const yaml = (extraUpstream = '') =>
  [
    'version: 1',
    'upstreams:',
    `  openai: { base_url: ${upstream.baseUrl}, api_key: "\${OPENAI_API_KEY}" }`,
    `  anthropic: { base_url: ${upstream.baseUrl}, api_key: "\${ANTHROPIC_API_KEY}", format: anthropic }`,
    extraUpstream,
    'models:',
    '  gpt-4o-mini: { upstream: openai, input_per_mtok: 0.15, output_per_mtok: 0.6 }',
    '  claude-house: { upstream: anthropic, input_per_mtok: 3, output_per_mtok: 15 }',
    'keys:',
    `  cursor-dev: { hash: ${hashKey(key)} }`,
    '',
  ].join('\n');

const chat = (model: string) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
  });

beforeAll(async () => {
  upstream = await startFakeUpstream();
  // ANTHROPIC_API_KEY is not set, as in the README's quick start.
  gw = await startTestServer({ yaml: yaml(), env: { OPENAI_API_KEY: 'sk-upstream' } });
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});

describe('unset environment references on the real server', () => {
  it('starts anyway and answers a clear 503 naming the variable for that upstream only', async () => {
    expect((await chat('gpt-4o-mini')).status).toBe(200);
    const res = await chat('claude-house');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      'ANTHROPIC_API_KEY',
    );
  });

  it('rejects a reload that names a new unset variable, on /healthz and /metrics, and keeps serving', async () => {
    const backup = `  backup: { base_url: ${upstream.baseUrl}, api_key: "\${NOPE_NOT_SET}" }`;
    writeFileSync(gw.file, yaml(backup));
    const col = backup.indexOf('"${NOPE') + 1;
    let health: { config: { last_reload_ok: boolean; last_reload_error: string[] | null } } | undefined;
    await waitFor(async () => {
      health = (await (await fetch(`${gw.url}/healthz`)).json()) as typeof health;
      return health?.config.last_reload_error != null;
    }, 3_000);
    expect(health?.config.last_reload_ok).toBe(false);
    expect(health?.config.last_reload_error).toEqual([
      `${gw.file}:5:${col}: upstreams.backup.api_key names \${NOPE_NOT_SET}, which is not set in the environment where tollgate runs: fix the name, or set NOPE_NOT_SET and restart tollgate`,
    ]);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain('tollgate_config_last_reload_successful 0');
    expect(metrics).toContain('tollgate_config_reloads_total{result="failure"} 1');
    expect((await chat('gpt-4o-mini')).status).toBe(200);
  });
});
