/** The targets under test: configs and how to start each, pinned to CPU 0. */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { freePort, startPinned } from './procs.js';

export const GATEWAY_CPU = 0;
export const LOAD_CPU = 1;

export interface Target {
  name: string;
  port: number;
  child: ChildProcess;
  /** Headers a request needs (tollgate's key). */
  headers: Record<string, string>;
}

export const benchKey = mintKey();

/** keys.yaml with `count` keys, the bench key among them; each key with its own limits. */
export function keysYaml(upstreamPort: number, count: number): string {
  const lines = [
    'version: 1',
    'upstreams:',
    `  openai: { base_url: "http://127.0.0.1:${upstreamPort}/v1", api_key: "\${BENCH_UPSTREAM_KEY}" }`,
    'models:',
    '  gpt-4o-mini: { upstream: openai, input_per_mtok: 0.15, output_per_mtok: 0.6, max_output_tokens: 16384 }',
    'keys:',
    `  bench: { hash: "${hashKey(benchKey)}", limits: { daily_usd: 1000000, rpm: 100000000 } }`,
  ];
  for (let i = 1; i < count; i++) {
    const name = `tool-${String(i).padStart(5, '0')}`;
    lines.push(`  ${name}: { hash: "${hashKey(mintKey())}", limits: { daily_usd: 5, rpm: 60 } }`);
  }
  return `${lines.join('\n')}\n`;
}

export function nginxConf(dir: string, port: number, upstreamPort: number): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`;
}

export async function startUpstream(dir: string): Promise<Target> {
  const port = await freePort();
  const child = await startPinned(
    LOAD_CPU,
    process.execPath,
    ['--import', 'tsx', 'bench/targets/upstream.ts', String(port)],
    { port, log: join(dir, 'upstream.log') },
  );
  return { name: 'direct to upstream', port, child, headers: {} };
}

export async function startNginx(dir: string, upstreamPort: number): Promise<Target> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, port, upstreamPort));
  const child = await startPinned(GATEWAY_CPU, 'nginx', ['-c', conf, '-p', dir], {
    port,
    log: join(dir, 'nginx.log'),
  });
  return { name: 'nginx proxy_pass (keep-alive)', port, child, headers: {} };
}

export async function startNodeProxy(dir: string, upstreamPort: number): Promise<Target> {
  const port = await freePort();
  const child = await startPinned(
    GATEWAY_CPU,
    process.execPath,
    ['--import', 'tsx', 'bench/targets/plain-proxy.ts', String(upstreamPort), String(port)],
    { port, log: join(dir, 'node-proxy.log') },
  );
  return { name: 'plain node:http proxy', port, child, headers: {} };
}

/**
 * The real server, built (`dist/`), as `tollgate serve` runs it: logs at the default level to a
 * file, the config in a folder of its own and the SQLite store in another (the default layout).
 */
export async function startTollgate(
  dir: string,
  name: string,
  opts: { upstreamPort: number; keys: number; store?: string },
): Promise<Target & { configFile: string }> {
  const port = await freePort();
  const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  const cfgDir = join(dir, `config-${slug}`);
  mkdirSync(cfgDir, { recursive: true });
  const configFile = join(cfgDir, 'keys.yaml');
  writeFileSync(configFile, keysYaml(opts.upstreamPort, opts.keys));
  const store = opts.store ?? `sqlite:${join(dir, `data-${slug}`, 'tollgate.db')}`;
  const child = await startPinned(
    GATEWAY_CPU,
    process.execPath,
    ['dist/cli.js', 'serve', '--config', configFile, '--port', String(port), '--store', store],
    { port, log: join(dir, `${slug}.log`), env: { BENCH_UPSTREAM_KEY: 'sk-bench' } },
  );
  return { name, port, child, configFile, headers: { authorization: `Bearer ${benchKey}` } };
}
