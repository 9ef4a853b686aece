import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoConfig } from '../../src/commands/demo.js';
import { insights } from '../../src/commands/insights.js';
import type { CliIO } from '../../src/commands/io.js';
import { startDemoUpstream } from '../../src/demo/fake-upstream.js';
import { runDemoTraffic } from '../../src/demo/traffic.js';
import type { Finding } from '../../src/insights/types.js';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';

/**
 * `tollgate demo`'s built-in traffic against the real server and the demo upstream, read back
 * with `tollgate insights`: the newcomer's first look shows the three patterns it was built for.
 */
const DAY_MS = 86_400_000;
// Yesterday at noon UTC (the demo config's timezone): working hours, inside the command's 7 days.
const NOON = Math.floor(Date.now() / DAY_MS - 1) * DAY_MS + 12 * 3_600_000;

let upstream: Awaited<ReturnType<typeof startDemoUpstream>>;
let gw: TestServer;
const tools = { loop: mintKey(), reader: mintKey(), asker: mintKey() };

function captureIO(): CliIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    readStdin: async () => '',
    env: {},
    cwd: process.cwd(),
  };
}

beforeAll(async () => {
  upstream = await startDemoUpstream();
  gw = await startTestServer({
    yaml: demoConfig(upstream.url, hashKey(mintKey()), {
      loop: hashKey(tools.loop),
      reader: hashKey(tools.reader),
      asker: hashKey(tools.asker),
    }),
    env: { DEMO_UPSTREAM_KEY: 'demo-upstream-key' },
    clock: () => NOON,
  });
});

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

describe('the demo traffic', () => {
  it('makes a loop, long context and a dear model for small questions show as findings', async () => {
    const sent = await runDemoTraffic({
      url: gw.url,
      loop: { name: 'demo-loop', key: tools.loop },
      reader: { name: 'demo-reader', key: tools.reader },
      asker: { name: 'demo-asker', key: tools.asker },
      durationMs: 20_000,
      sleep: async () => {},
    });
    expect(sent).toBe(20 + 10 + 5);
    const io = captureIO();
    const store = `sqlite:${join(gw.dir, 'data', 'tollgate.db')}`;
    let findings: Finding[] = [];
    // The last records are written just after their answers.
    for (let i = 0; i < 50 && findings.length < 4; i++) {
      io.out.length = 0;
      expect(await insights(['--config', gw.file, '--store', store, '--format', 'json'], io)).toBe(0);
      findings = JSON.parse(io.out.join('')) as Finding[];
      await new Promise((r) => setTimeout(r, 50));
    }
    const kinds = findings.map((f) => `${f.key} ${f.kind}`).sort();
    expect(kinds).toEqual([
      'demo-asker expensive_model',
      'demo-asker no_limit',
      'demo-loop loop',
      'demo-reader long_context',
    ]);
    expect(findings.find((f) => f.kind === 'loop')?.count).toBe(10);
    expect(findings.find((f) => f.kind === 'long_context')?.count).toBe(5);
    expect(findings.find((f) => f.kind === 'expensive_model')?.detail).toContain(
      'demo-small would have cost',
    );
  });

  it('goes to 127.0.0.1 only', async () => {
    await expect(
      runDemoTraffic({
        url: 'http://example.com:80',
        loop: { name: 'a', key: tools.loop },
        reader: { name: 'b', key: tools.reader },
        asker: { name: 'c', key: tools.asker },
      }),
    ).rejects.toThrow('127.0.0.1 only');
  });
});
