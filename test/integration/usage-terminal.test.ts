import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CliIO } from '../../src/commands/io.js';
import { usage } from '../../src/commands/usage.js';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

/**
 * A refused request's record keeps the model its client named (JSON can spell any character), and
 * `tollgate usage --by model` prints that column to the operator's terminal. Escape sequences in it
 * ran there: ESC [1A ESC [2K moves up a line and erases it, so a key holder could blank out rows of
 * the table (another model's spend) or retitle the window.
 */
const key = mintKey();
let upstream: FakeUpstream;
let gw: TestServer;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  gw = await startTestServer({
    yaml: `version: 1
upstreams:
  openai:
    base_url: ${upstream.baseUrl}
    api_key: \${OPENAI_API_KEY}
models:
  gpt-4o:
    upstream: openai
keys:
  cursor-dev:
    hash: ${hashKey(key)}
`,
    env: { OPENAI_API_KEY: 'sk-upstream-secret' },
  });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

const post = (model: string) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
  });

it('prints no control character a client chose into the usage table', async () => {
  expect((await post('gpt-4o')).status).toBe(200);
  expect((await post('\u001b[1A\u001b[2K\u001b]0;tollgate\u0007\u009b2Jx')).status).toBe(404);
  const io: CliIO & { out: string } = {
    out: '',
    stdout(t) {
      io.out += t;
    },
    stderr() {},
    readStdin: async () => '',
    env: {},
    cwd: gw.dir,
  };
  const code = await usage(
    ['--store', `sqlite:${join(gw.dir, 'data', 'tollgate.db')}`, '--config', gw.file, '--by', 'model'],
    io,
  );
  expect(code).toBe(0);
  expect(io.out).toContain('gpt-4o');
  // Nothing but the table's own newlines is a control character: no C0, no DEL, no C1.
  const controls = [...io.out].filter((ch) => {
    const c = ch.charCodeAt(0);
    return ch !== '\n' && (c < 0x20 || (c >= 0x7f && c <= 0x9f));
  });
  expect(controls).toEqual([]);
});
