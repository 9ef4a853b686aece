import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Clock } from '../../src/clock.js';
import { createSecretMasker } from '../../src/keys/mask-secrets.js';
import { createLogger } from '../../src/log.js';
import { type RunningServer, startServer } from '../../src/server.js';
import type { Store } from '../../src/store/types.js';

export interface TestServer {
  url: string;
  server: RunningServer;
  /** The keys.yaml the server watches. */
  file: string;
  dir: string;
  /** Every log line the server wrote, for "never logs a key" assertions. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * Starts the real server (config manager, store, gateway, admin API) on 127.0.0.1:0 with a
 * keys.yaml in a temp dir and a SQLite store there unless `store` says otherwise.
 */
export async function startTestServer(opts: {
  yaml: string;
  env?: Record<string, string>;
  clock?: Clock;
  store?: string;
  /** Put the SQLite store next to keys.yaml instead of in data/ (the layout `serve` warns about). */
  storeInConfigDir?: boolean;
  pollMs?: number;
  graceMs?: number;
  /** Log level of the lines in `logs` (default info). */
  logLevel?: string;
  openStore?: (url: string) => Promise<Store>;
}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-test-'));
  const file = join(dir, 'keys.yaml');
  await writeFile(file, opts.yaml);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  // As `tollgate serve` does: one masker for the logger, kept current by the server.
  const masker = createSecretMasker();
  const server = await startServer({
    configFile: file,
    port: '0',
    host: '127.0.0.1',
    store: opts.store ?? `sqlite:${join(dir, opts.storeInConfigDir ? '' : 'data', 'tollgate.db')}`,
    env: { ...opts.env },
    log: createLogger({ level: opts.logLevel ?? 'info', destination: sink, masker }),
    masker,
    ...(opts.clock ? { clock: opts.clock } : {}),
    pollMs: opts.pollMs ?? 200,
    ...(opts.openStore ? { openStore: opts.openStore } : {}),
    graceMs: opts.graceMs ?? 5_000,
  });
  return {
    url: server.url,
    server,
    file,
    dir,
    logs,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` every 25 ms until it returns true or `ms` pass; returns the elapsed time or throws. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 2_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
