/**
 * The targets under test and how each starts, pinned to the gateway CPU: nginx (the reference
 * hop), a plain node:http proxy (the Node floor), http-proxy-middleware (reference), and tollgate
 * as `tollgate serve` runs it from dist/ — real key auth, policy, budget reservation, metering, a
 * usage record per request, logs at the default level to a file. The fake upstream runs on the
 * load CPU.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchKey, GATEWAY_CPU, keysYaml, LOAD_CPU, nginxConf } from './configs.js';
import { freePort, startPinned } from './procs.js';

export interface Target {
  /** Short id for --only and file names: direct, nginx, node, hpm, sqlite, 10k, pg. */
  id: string;
  name: string;
  port: number;
  child: ChildProcess;
  /** Headers a request needs (tollgate's key). */
  headers: Record<string, string>;
  /** tollgate's keys.yaml. */
  configFile?: string;
  /** Where the process's output goes (tollgate's JSON log). */
  log?: string;
  /** PostgreSQL targets: the database's name (its backends' CPU is the database's share). */
  database?: string;
  /** Several processes measured as one (replicas on one database): wrk drives each at once. */
  replicas?: Target[];
}

const tsx = (script: string, ...args: number[]) => ['--import', 'tsx', script, ...args.map(String)];

export async function startUpstream(dir: string): Promise<Target> {
  const port = await freePort();
  const child = await startPinned(LOAD_CPU, process.execPath, tsx('bench/targets/upstream.ts', port), {
    port,
    log: join(dir, 'upstream.log'),
  });
  return { id: 'direct', name: 'direct to upstream', port, child, headers: {} };
}

export async function startNginx(dir: string, upstreamPort: number): Promise<Target> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, port, upstreamPort));
  const child = await startPinned(GATEWAY_CPU, 'nginx', ['-c', conf, '-p', dir], {
    port,
    log: join(dir, 'nginx.log'),
  });
  return { id: 'nginx', name: 'nginx proxy_pass (keep-alive)', port, child, headers: {} };
}

export async function startNodeProxy(dir: string, upstreamPort: number): Promise<Target> {
  const port = await freePort();
  const child = await startPinned(
    GATEWAY_CPU,
    process.execPath,
    ['bench/targets/plain-proxy.mjs', String(upstreamPort), String(port)],
    { port, log: join(dir, 'node-proxy.log') },
  );
  return { id: 'node', name: 'plain node:http proxy (keep-alive agent)', port, child, headers: {} };
}

export async function startHpmProxy(dir: string, upstreamPort: number): Promise<Target> {
  const port = await freePort();
  const child = await startPinned(
    GATEWAY_CPU,
    process.execPath,
    ['bench/targets/hpm-proxy.mjs', String(upstreamPort), String(port)],
    { port, log: join(dir, 'hpm-proxy.log') },
  );
  return {
    id: 'hpm',
    name: 'http-proxy-middleware 3 from node:http (keep-alive agent)',
    port,
    child,
    headers: {},
  };
}

/**
 * The real server, built (`dist/`): `node dist/cli.js serve`, the config in a folder of its own
 * and the SQLite store in another (the default layout), LOG_LEVEL unset (the default level).
 */
export async function startTollgate(
  dir: string,
  id: string,
  name: string,
  opts: {
    upstreamPort: number;
    keys: number;
    store?: string;
    /** Extra node flags before the script (bench/profile.ts: --cpu-prof, the stall trace). */
    nodeArgs?: string[];
    env?: NodeJS.ProcessEnv;
    /** The build to run (default dist/; `--baseline` runs another one beside it). */
    dist?: string;
  },
): Promise<Target> {
  const port = await freePort();
  const cfgDir = join(dir, `config-${id}`);
  mkdirSync(cfgDir, { recursive: true });
  const configFile = join(cfgDir, 'keys.yaml');
  writeFileSync(configFile, keysYaml(opts.upstreamPort, opts.keys));
  const store = opts.store ?? `sqlite:${join(dir, `data-${id}`, 't.db')}`;
  const log = join(dir, `tollgate-${id}.log`);
  const { LOG_LEVEL: _, ...env } = process.env;
  const child = await startPinned(
    GATEWAY_CPU,
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      join(opts.dist ?? 'dist', 'cli.js'),
      'serve',
      '--config',
      configFile,
      '--port',
      String(port),
      '--store',
      store,
    ],
    {
      port,
      log,
      env: { ...env, ...opts.env, BENCH_UPSTREAM_KEY: 'sk-bench' },
    },
  );
  return { id, name, port, child, configFile, log, headers: { authorization: `Bearer ${benchKey}` } };
}
