import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDemoUpstream } from '../demo/fake-upstream.js';
import { hashKey, mintKey } from '../keys/format.js';
import { createLogger } from '../log.js';
import { startServer } from '../server.js';
import type { Command } from './io.js';

const HELP = `Usage: tollgate demo [--port N]

Starts a built-in fake upstream and the gateway in front of it (temporary keys.yaml and SQLite store),
mints a key, and prints the curl and OpenAI SDK lines to try it. No provider key needed. Ctrl-C stops it.
`;

export const demo: Command = async (argv, io) => {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-demo-'));
  const upstream = await startDemoUpstream();
  const key = mintKey();
  // Config and store in folders of their own, as in the default layout: the config watcher would
  // otherwise re-read the folder on every write to the store (and warn about it).
  await mkdir(join(dir, 'config'));
  const file = join(dir, 'config', 'keys.yaml');
  const db = join(dir, 'data', 'tollgate.db');
  await writeFile(file, demoConfig(upstream.url, hashKey(key)));
  const server = await startServer({
    configFile: file,
    port: values.port ?? io.env.PORT ?? '8080',
    store: `sqlite:${db}`,
    env: { ...io.env, DEMO_UPSTREAM_KEY: 'demo-upstream-key' },
    log: createLogger({ level: 'warn' }),
  });
  io.stdout(`tollgate demo is running on ${server.url} (config: ${file})

Your demo key (shown once): ${key}

  curl ${server.url}/v1/chat/completions \\
    -H "Authorization: Bearer ${key}" -H "content-type: application/json" \\
    -d '{"model":"demo-mini","messages":[{"role":"user","content":"hi"}]}'

  # OpenAI SDK (Node): new OpenAI({ baseURL: '${server.url}/v1', apiKey: '${key}' })
  # See the spend:  node dist/cli.js usage --store sqlite:${db}
  # The key has a $0.05 daily limit: repeat the curl until you get 429 insufficient_quota.

Press Ctrl-C to stop.
`);
  return new Promise<number>((resolve) => {
    const stop = () => {
      void server
        .close()
        .then(() => upstream.close())
        .then(() => resolve(0));
    };
    let stopping = false;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (!stopping) stop();
        stopping = true;
      });
    }
  });
};

export function demoConfig(upstreamUrl: string, hash: string): string {
  return `# yaml-language-server: $schema=../schemas/keys.schema.json
version: 1
upstreams:
  demo:
    base_url: ${upstreamUrl}
    api_key: \${DEMO_UPSTREAM_KEY}
models:
  demo-mini:
    upstream: demo
    input_per_mtok: 150
    output_per_mtok: 600
    max_output_tokens: 16
keys:
  demo:
    hash: ${hash}
    description: the key minted by tollgate demo
    limits:
      daily_usd: 0.05
      rpm: 30
`;
}
