import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDemoUpstream } from '../demo/fake-upstream.js';
import { runDemoTraffic } from '../demo/traffic.js';
import { hashKey, mintKey } from '../keys/format.js';
import { createLogger } from '../log.js';
import { startServer } from '../server.js';
import { dayOf } from '../windows/calendar.js';
import type { Command } from './io.js';

const HELP = `Usage: tollgate demo [--port N] [--no-traffic]

Starts a built-in fake upstream and the gateway in front of it (temporary keys.yaml and SQLite store)
on 127.0.0.1, mints a key, and prints the curl and OpenAI SDK lines to try it, and the dashboard's
address with a sign-in token made for this run. Then it sends a minute of built-in traffic from three
demo tools (a loop, a long-context tool, a dear model for small questions), so that the dashboard,
'tollgate insights' and 'tollgate digest --dry-run' show findings at once (--no-traffic: none).
No provider key needed. Ctrl-C stops it.
`;

export const demo: Command = async (argv, io) => {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'no-traffic': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-demo-'));
  const upstream = await startDemoUpstream();
  const key = mintKey();
  const tools = { loop: mintKey(), reader: mintKey(), asker: mintKey() };
  // A sign-in token for this run only (the dashboard needs one to be enabled).
  const dashboardToken = randomBytes(24).toString('hex');
  // Config and store in folders of their own, as in the default layout: the config watcher would
  // otherwise re-read the folder on every write to the store (and warn about it).
  await mkdir(join(dir, 'config'));
  const file = join(dir, 'config', 'keys.yaml');
  const db = join(dir, 'data', 'tollgate.db');
  await writeFile(
    file,
    demoConfig(upstream.url, hashKey(key), {
      loop: hashKey(tools.loop),
      reader: hashKey(tools.reader),
      asker: hashKey(tools.asker),
    }),
  );
  const server = await startServer({
    configFile: file,
    port: values.port ?? io.env.PORT ?? '8080',
    host: '127.0.0.1',
    store: `sqlite:${db}`,
    env: { ...io.env, DEMO_UPSTREAM_KEY: 'demo-upstream-key', TOLLGATE_DASHBOARD_TOKEN: dashboardToken },
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

Dashboard: ${server.url}/dashboard/sign-in
  sign-in token (this run only): ${dashboardToken}

Press Ctrl-C to stop.
`);
  if (!values['no-traffic']) {
    const flags = `--config ${file} --store sqlite:${db}`;
    io.stdout('Sending a minute of demo traffic: demo-loop, demo-reader, demo-asker…\n');
    runDemoTraffic({
      url: server.url,
      loop: { name: 'demo-loop', key: tools.loop },
      reader: { name: 'demo-reader', key: tools.reader },
      asker: { name: 'demo-asker', key: tools.asker },
    }).then(
      (n) =>
        io.stdout(`Sent ${n} requests. Why they cost what they cost:

  node dist/cli.js insights ${flags}
  node dist/cli.js digest --dry-run --date ${dayOf(Date.now(), 'UTC')} ${flags}
  ${server.url}/dashboard (the overview and /dashboard/keys/demo-reader)
`),
      (err: unknown) => io.stderr(`tollgate demo: the demo traffic stopped: ${(err as Error).message}\n`),
    );
  }
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

export function demoConfig(
  upstreamUrl: string,
  hash: string,
  tools: { loop: string; reader: string; asker: string } | null = null,
): string {
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
${tools ? DEMO_TOOL_MODELS : ''}keys:
  demo:
    hash: ${hash}
    description: the key minted by tollgate demo
    limits:
      daily_usd: 0.05
      rpm: 30
${tools ? demoToolKeys(tools) : ''}`;
}

/** The models the demo traffic uses: a cheap one and one 30 times dearer. */
const DEMO_TOOL_MODELS = `  demo-small:
    upstream: demo
    input_per_mtok: 0.5
    output_per_mtok: 1.5
    max_output_tokens: 16
  demo-large:
    upstream: demo
    input_per_mtok: 15
    output_per_mtok: 75
    max_output_tokens: 16
`;

function demoToolKeys(h: { loop: string; reader: string; asker: string }): string {
  return `  demo-loop:
    hash: ${h.loop}
    description: a CI bot that asks the same thing again and again
    models: [demo-small]
    limits: { daily_usd: 5, rpm: 60 }
  demo-reader:
    hash: ${h.reader}
    description: a coding agent that pastes whole files
    models: [demo-small]
    limits: { daily_usd: 5 }
  demo-asker:
    hash: ${h.asker}
    description: scripts asking small questions of the dear model
    models: [demo-large, demo-small]
`;
}
