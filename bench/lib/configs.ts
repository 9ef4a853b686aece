/**
 * What the targets are configured with and what they are sent: tollgate's keys.yaml (10 or
 * 10,000 keys, the bench key among them), nginx's config (everything inside the temp dir, so it
 * runs as root without touching /var), and the request bodies.
 */
import { hashKey, mintKey } from '../../src/keys/format.js';

/** Targets under test (gateways, nginx, proxies) run on CPU 0; load generators and the upstream on 1. */
export const GATEWAY_CPU = 0;
export const LOAD_CPU = 1;

/** The one key the load uses (a real minted key; only its hash goes in keys.yaml). */
export const benchKey = mintKey();

export const PATH = '/v1/chat/completions';
export const BODIES = {
  json: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],"max_tokens":50}',
  sse: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],"stream":true}',
};
export type Mode = keyof typeof BODIES;

/** A stream of `kb` KiB the fake upstream pushes as fast as the socket takes it (slow reader). */
export const bigBody = (kb: number, id: string) =>
  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}],"stream":true,"bench_big_kb":${kb},"bench_big_id":"${id}"}`;

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

/** nginx as a keep-alive reverse proxy with buffering off (one worker, like one Node process). */
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
