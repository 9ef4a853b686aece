import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { wavFile } from '../helpers/audio-files.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { multipart } from '../helpers/multipart-post.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

/**
 * What a gateway without a dashboard, admin API or audio uploads does not load: the dashboard's
 * pages and charts (d3), the admin router, the audio duration reader (music-metadata and the
 * parsers it brings). Each is loaded by
 * the first thing that needs it. Every module loaded stays in the heap for good, and V8 lets the
 * old generation grow to a multiple of what is live before it collects, so under load each MB
 * loaded for nothing costs a few MB of RSS.
 */

const loaded = vi.hoisted(() => new Set<string>());
// The duration reader, which brings music-metadata (the test helpers load that package themselves).
vi.mock('../../src/metering/audio-duration.js', async (original) => {
  loaded.add('audio parsers');
  return original();
});
vi.mock('../../src/dashboard/router.js', async (original) => {
  loaded.add('dashboard');
  return original();
});
vi.mock('../../src/dashboard/chart.js', async (original) => {
  loaded.add('charts');
  return original();
});
vi.mock('../../src/ops/admin.js', async (original) => {
  loaded.add('admin');
  return original();
});

const key = mintKey();
let upstream: FakeUpstream;
let gw: TestServer;

const yaml = () =>
  [
    'version: 1',
    'upstreams:',
    `  openai: { base_url: ${upstream.baseUrl}, api_key: "\${OPENAI_API_KEY}" }`,
    'models:',
    '  gpt-4o-mini: { upstream: openai, input_per_mtok: 0.15, output_per_mtok: 0.6 }',
    '  whisper-1: { upstream: openai }',
    'keys:',
    `  studio: { hash: ${hashKey(key)}, limits: { daily_usd: 50 } }`,
    '',
  ].join('\n');

const post = (path: string, body: string | Uint8Array, contentType: string) =>
  fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
    body,
  });

beforeEach(async () => {
  upstream = await startFakeUpstream();
});
afterEach(async () => {
  await gw.close();
  await upstream.close();
});

describe('modules a gateway loads only when it needs them', () => {
  it('serves chat without the dashboard, the admin API or the audio parsers; a transcription loads the parsers', async () => {
    gw = await startTestServer({ yaml: yaml(), env: { OPENAI_API_KEY: 'sk-upstream' } });
    const chat = await post(
      '/v1/chat/completions',
      JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
      'application/json',
    );
    expect(chat.status).toBe(200);
    expect([...loaded]).toEqual([]);

    const form = multipart([
      { name: 'model', value: 'whisper-1' },
      { name: 'file', value: wavFile(2), filename: 'note.wav' },
    ]);
    const t = await post('/v1/audio/transcriptions', form.body, form.contentType);
    expect(t.status).toBe(200);
    expect([...loaded]).toEqual(['audio parsers']);
  });

  it('loads the admin API and the dashboard when their token is set', async () => {
    gw = await startTestServer({
      yaml: yaml(),
      env: { OPENAI_API_KEY: 'sk-upstream', TOLLGATE_ADMIN_TOKEN: 'admin-token-for-tests-0123456789' },
    });
    expect(loaded.has('admin')).toBe(true);
    expect(loaded.has('dashboard')).toBe(true);
    const res = await fetch(`${gw.url}/admin/keys`, {
      headers: { authorization: 'Bearer admin-token-for-tests-0123456789' },
    });
    expect(res.status).toBe(200);
  });
});
