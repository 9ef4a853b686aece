import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { get, signIn, VIEWER_TOKEN } from '../helpers/dashboard-client.js';
import { mediaYaml } from '../helpers/fake-media.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/** The dashboard's key page and its requests CSV show what image and audio requests were. */

let upstream: FakeUpstream;
let server: TestServer;
const key = mintKey();

beforeAll(async () => {
  upstream = await startFakeUpstream();
  server = await startTestServer({
    yaml: mediaYaml(upstream.baseUrl).replace('{{hash:studio}}', hashKey(key)),
    env: { OPENAI_API_KEY: 'sk-upstream-openai-secret', TOLLGATE_DASHBOARD_TOKEN: VIEWER_TOKEN },
  });
});

afterAll(async () => {
  await server.close();
  await upstream.close();
});

describe('the dashboard with image and audio requests', () => {
  it("shows each request's images and characters on the key page and in its CSV", async () => {
    const client = new OpenAI({ apiKey: key, baseURL: `${server.url}/v1`, maxRetries: 0 });
    await client.images.generate({ model: 'dall-e-3', prompt: 'x', size: '1024x1024', n: 2 });
    await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'twelve chars' });
    const cookie = await signIn(server.url, VIEWER_TOKEN);
    let csv = '';
    await waitFor(async () => {
      csv = (await get(server.url, '/dashboard/keys/studio/requests.csv', cookie, 'text/csv')).body;
      return csv.trim().split('\n').length >= 3;
    });
    const lines = csv.trim().split('\n');
    expect(lines[0]).toMatch(/,images,audio_seconds,characters$/);
    expect(lines.find((l) => l.includes('dall-e-3'))).toMatch(/,2,,$/);
    expect(lines.find((l) => l.includes('tts-1'))).toMatch(/,,,12$/);
    const page = await get(server.url, '/dashboard/keys/studio', cookie);
    expect(page.body).toContain('2 images');
    expect(page.body).toContain('12 chars');
  });
});
