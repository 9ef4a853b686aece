import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { wavFile } from '../helpers/audio-files.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { multipart } from '../helpers/multipart-post.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

/**
 * The audio duration reader is loaded by the first audio upload (media-upload.ts). A load that
 * fails once (a file descriptor limit reached under load, a deploy swapping node_modules) must
 * not fail every later upload: the next upload loads it again.
 */

const loads = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../src/metering/audio-duration.js', async (original) => {
  loads.count += 1;
  if (loads.count === 1) throw new Error('EMFILE: too many open files');
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
    '  whisper-1: { upstream: openai }',
    'keys:',
    `  studio: { hash: ${hashKey(key)}, limits: { daily_usd: 50 } }`,
    '',
  ].join('\n');

const transcribe = () => {
  const form = multipart([
    { name: 'model', value: 'whisper-1' },
    { name: 'file', value: wavFile(2), filename: 'note.wav' },
  ]);
  return fetch(`${gw.url}/v1/audio/transcriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': form.contentType },
    body: form.body,
  });
};

beforeEach(async () => {
  upstream = await startFakeUpstream();
  gw = await startTestServer({ yaml: yaml(), env: { OPENAI_API_KEY: 'sk-upstream' } });
});
afterEach(async () => {
  await gw.close();
  await upstream.close();
});

describe('the lazily loaded audio duration reader', () => {
  it('is loaded again after a failed load, so later uploads are metered', async () => {
    const first = await transcribe();
    await first.arrayBuffer();
    expect(loads.count).toBe(1);
    const second = await transcribe();
    const body = await second.text();
    expect(second.status, body).toBe(200);
    expect(loads.count).toBe(2);
  });
});
