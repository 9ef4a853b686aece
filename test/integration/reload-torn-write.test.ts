import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { type FakeUpstream, sleep, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server-harness.js';

/**
 * A slow in-place copy of keys.yaml (scp, `kubectl cp`, an NFS client): the file is truncated,
 * written in two chunks with a pause between, while clients keep sending requests. The torn
 * prefix must never be served; the whole file applies once it is there.
 */

const cursorKey = mintKey();
const ciKey = mintKey();
let upstream: FakeUpstream;
let gw: TestServer;

function yaml(opts: { ci: boolean }): string {
  const lines = [
    'version: 1',
    'upstreams:',
    `  fake: { base_url: ${upstream.baseUrl}, api_key: "\${FAKE_KEY}" }`,
    'models:',
    '  small:',
    '    upstream: fake',
    '    input_per_mtok: 1',
    '    output_per_mtok: 2',
    '    max_output_tokens: 100',
    'keys:',
    '  cursor-dev:',
    `    hash: ${hashKey(cursorKey)}`,
    '    description: Cursor on the laptop of alice',
    '    limits:',
    '      daily_usd: 5',
    '      rpm: 100000',
  ];
  if (opts.ci)
    lines.push('  ci-bot:', `    hash: ${hashKey(ciKey)}`, '    limits: { daily_usd: 5, rpm: 100000 }');
  return `${lines.join('\n')}\n`;
}

const chat = async (key: string): Promise<number> => {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
  });
  await res.arrayBuffer();
  return res.status;
};

/** Truncates the watched file and writes `text` in place, pausing `pauseMs` after `cut` bytes. */
async function slowInPlaceWrite(file: string, text: string, cut: number, pauseMs: number): Promise<void> {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, text.slice(0, cut));
    fsyncSync(fd);
    await sleep(pauseMs);
    writeSync(fd, text.slice(cut));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Sends requests with `key` back to back until `stop()`; returns every status seen. */
function traffic(key: string): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) statuses.push(await chat(key));
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return statuses;
    },
  };
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream.close();
});
beforeEach(async () => {
  gw = await startTestServer({ yaml: yaml({ ci: false }), env: { FAKE_KEY: 'sk-upstream-secret' } });
});
afterEach(async () => {
  await gw.close();
});

describe('a slow in-place write of keys.yaml', () => {
  it.each([
    ['just before the keys section, so the prefix has no keys', (t: string) => t.indexOf('keys:')],
    // `rpm: 1` of `rpm: 100000`: a valid prefix that would refuse almost every request with 429.
    ['inside a line, so the prefix has rpm: 1', (t: string) => t.indexOf('rpm: 100000') + 'rpm: 1'.length],
  ])('never serves a prefix torn %s, and applies the whole file', async (_what, cutAt) => {
    expect(await chat(cursorKey)).toBe(200);
    const before = (await (await fetch(`${gw.url}/healthz`)).json()) as { config: { revision: string } };
    const next = yaml({ ci: true });
    const load = traffic(cursorKey);
    // 1.5 s: several debounce, settle and poll periods of the watcher pass on the torn file.
    await slowInPlaceWrite(gw.file, next, cutAt(next), 1_500);
    await waitFor(async () => (await chat(ciKey)) === 200, 3_000);
    const statuses = await load.stop();

    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const after = (await (await fetch(`${gw.url}/healthz`)).json()) as {
      config: { revision: string; last_reload_ok: boolean };
    };
    expect(after.config.revision).not.toBe(before.config.revision);
    expect(after.config.last_reload_ok).toBe(true);
  });

  it('reports a file left torn as a reload error with file:line:col, and keeps serving', async () => {
    const next = yaml({ ci: true });
    const fd = openSync(gw.file, 'w');
    writeSync(fd, next.slice(0, next.indexOf('keys:')));
    closeSync(fd);
    await waitFor(async () => {
      const h = (await (await fetch(`${gw.url}/healthz`)).json()) as {
        config: { last_reload_error: string[] | null };
      };
      return h.config.last_reload_error !== null;
    }, 3_000);
    const h = (await (await fetch(`${gw.url}/healthz`)).json()) as {
      config: { last_reload_ok: boolean; last_reload_error: string[] };
    };
    expect(h.config.last_reload_ok).toBe(false);
    expect(h.config.last_reload_error[0]).toMatch(
      new RegExp(`^${gw.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:10:1: the file ends here with no keys`),
    );
    expect(await chat(cursorKey)).toBe(200);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_config_last_reload_successful 0/);
  });
});
