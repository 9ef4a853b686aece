import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Clock, systemClock } from '../../src/clock.js';
import { buildKeyIndex, loadConfig } from '../../src/config/load/load.js';
import type { LoadedConfig } from '../../src/config/types.js';
import type { GatewayDeps } from '../../src/deps.js';
import { loadFingerprintSecret } from '../../src/insights/fingerprint.js';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { createSecretMasker, upstreamSecretsOf } from '../../src/keys/mask-secrets.js';
import { createLogger } from '../../src/log.js';
import { type Notifier, nullNotifier } from '../../src/notifier.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { createDisableView, type DisableView } from '../../src/policy/disables.js';
import { createGateway, type Gateway } from '../../src/proxy/gateway.js';
import type { UploadLimits } from '../../src/proxy/upload-holds.js';
import type { BudgetWriter } from '../../src/store/sqlite/writer.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store, UsageRecord } from '../../src/store/types.js';

/**
 * The gateway on a real node:http server on 127.0.0.1:0, with its deps built the way server.ts
 * builds them: a config from YAML text, an in-memory SQLite store (or a temporary file), the disable view, metrics and a
 * logger whose lines the test can read. `{{hash:NAME}}` in the YAML becomes the hash of a freshly
 * minted key, whose plaintext is in `keys.NAME`.
 */

export interface HarnessOptions {
  yaml: string;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  store?: Store;
  notifier?: Notifier;
  /** Log level of the lines in `logLines` (default info). */
  logLevel?: string;
  /** The upload bytes held at once, per key and in all (default src/proxy/upload-holds.ts's). */
  uploadLimits?: UploadLimits;
  /**
   * A SQLite file in a temporary directory instead of `:memory:`: reserve and settle then run in
   * the write worker (src/store/sqlite/writer.ts), whose handle is `writer`.
   */
  fileStore?: boolean;
}

export interface Harness {
  /** http://127.0.0.1:port */
  url: string;
  /** url + /v1, for SDK base URLs. */
  baseURL: string;
  keys: Record<string, string>;
  gateway: Gateway;
  store: Store;
  /** The SQLite write worker's writer (`fileStore` only). */
  writer?: BudgetWriter;
  disables: DisableView;
  deps: GatewayDeps;
  /** Every JSON log line written so far, raw. */
  logLines: string[];
  /** Every usage record the gateway settled, in order. */
  records: UsageRecord[];
  /** Waits until `n` records were settled. */
  waitForRecords(n: number, timeoutMs?: number): Promise<UsageRecord[]>;
  /** Swaps the served config (as a hot reload would). */
  reload(yaml: string, revision?: string): void;
  close(): Promise<void>;
}

export function buildLoaded(
  yaml: string,
  keys: Record<string, string>,
  now: number,
  revision = 'test-rev',
): LoadedConfig {
  const text = yaml.replace(/\{\{hash:([a-z0-9._-]+)\}\}/g, (_m, name: string) => {
    keys[name] ??= mintKey();
    return hashKey(keys[name] as string);
  });
  const result = loadConfig(text, { file: 'keys.yaml', now });
  if (!result.config) {
    throw new Error(
      `test config is invalid: ${result.errors.map((e) => `${e.line}:${e.col} ${e.message}`).join('; ')}`,
    );
  }
  return {
    config: result.config,
    revision,
    loadedAt: now,
    keysByHash: buildKeyIndex(result.config),
  };
}

export async function startGateway(opts: HarnessOptions): Promise<Harness> {
  const clock = opts.clock ?? systemClock;
  const keys: Record<string, string> = {};
  let current = buildLoaded(opts.yaml, keys, clock());
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(line);
      cb();
    },
  });
  const env = opts.env ?? {
    OPENAI_API_KEY: 'sk-upstream-openai-secret',
    ANTHROPIC_API_KEY: 'sk-ant-upstream-secret',
  };
  // As server.ts does: the logger masks keys and the configured upstream keys.
  const masker = createSecretMasker(upstreamSecretsOf(current.config, env));
  const log = createLogger({ level: opts.logLevel ?? 'info', destination: sink, masker });
  let store = opts.store;
  let writer: BudgetWriter | undefined;
  const dir = !store && opts.fileStore ? mkdtempSync(join(tmpdir(), 'tollgate-harness-')) : undefined;
  if (!store) {
    store = dir
      ? createSqliteStore(join(dir, 'tollgate.db'), {
          clock,
          writer: {
            // The write worker whatever the machine's CPUs (one CPU keeps the writes in-thread).
            cpus: 2,
            onWriter: (w) => {
              writer = w;
            },
          },
        })
      : createSqliteStore(':memory:', { clock });
    await store.init();
  }
  const records: UsageRecord[] = [];
  const settle = store.settle.bind(store);
  store.settle = async (record, periods) => {
    const spend = await settle(record, periods);
    records.push(record);
    return spend;
  };
  const disables = await createDisableView({ store, log, refreshMs: 100 });
  const metrics = createMetrics();
  metrics.retainConfig(current.config);
  // As server.ts does; a test's stand-in store without the insight role keeps no fingerprints.
  const fingerprintSecret =
    typeof store.keepSecret === 'function' ? await loadFingerprintSecret(store) : undefined;
  const deps: GatewayDeps = {
    config: { current: () => current },
    store,
    disables,
    clock,
    log,
    metrics,
    notifier: opts.notifier ?? nullNotifier,
    env,
    ...(fingerprintSecret ? { fingerprintSecret } : {}),
  };
  const gateway = createGateway(deps, {
    usageWriter: { retryDelaysMs: [5, 10], backgroundMs: 50 },
    ...(opts.uploadLimits ? { uploadLimits: opts.uploadLimits } : {}),
  });
  const server: Server = createServer(gateway.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const ownStore = !opts.store;
  return {
    url,
    baseURL: `${url}/v1`,
    keys,
    gateway,
    store,
    ...(writer ? { writer } : {}),
    disables,
    deps,
    logLines,
    records,
    async waitForRecords(n, timeoutMs = 5_000) {
      const until = Date.now() + timeoutMs;
      while (records.length < n) {
        if (Date.now() > until) throw new Error(`${records.length} usage records settled, wanted ${n}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return records;
    },
    reload(yaml, revision) {
      current = buildLoaded(yaml, keys, clock(), revision);
      metrics.retainConfig(current.config);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.drain(1_000);
      disables.stop();
      if (ownStore) await store.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A clock tests move by hand. */
export function manualClock(start: number): Clock & { set(ms: number): void; advance(ms: number): void } {
  let now = start;
  const clock = (() => now) as Clock & { set(ms: number): void; advance(ms: number): void };
  clock.set = (ms) => {
    now = ms;
  };
  clock.advance = (ms) => {
    now += ms;
  };
  return clock;
}

/** The standard test config: both upstreams on the fake, a few models and keys. */
export function standardYaml(
  upstreamBase: string,
  extra: { timeoutMs?: number; keys?: string; timezone?: string } = {},
): string {
  return `version: 1
server:
  timezone: ${extra.timezone ?? 'Europe/Berlin'}
upstreams:
  openai:
    base_url: ${upstreamBase}
    api_key: \${OPENAI_API_KEY}
    timeout_ms: ${extra.timeoutMs ?? 5000}
  anthropic:
    base_url: ${upstreamBase}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
    timeout_ms: ${extra.timeoutMs ?? 5000}
  local:
    base_url: ${upstreamBase}
    api_key: \${LOCAL_LLM_KEY}
models:
  gpt-4o-mini:
    upstream: openai
    input_per_mtok: 0.15
    output_per_mtok: 0.6
    cached_input_per_mtok: 0.075
    max_output_tokens: 16384
  text-embedding-3-small:
    upstream: openai
    input_per_mtok: 0.02
    output_per_mtok: 0
    max_output_tokens: 1
  claude-house-1:
    upstream: anthropic
    input_per_mtok: 3
    output_per_mtok: 15
    cached_input_per_mtok: 0.3
    max_output_tokens: 64000
  llama-local:
    upstream: local
    input_per_mtok: 0
    output_per_mtok: 0
    max_output_tokens: 4096
keys:
  cursor-dev:
    hash: {{hash:cursor-dev}}
    owner: alice
    limits: { daily_usd: 5, monthly_usd: 50, rpm: 1000 }
  claude-code:
    hash: {{hash:claude-code}}
    models: ["claude-*", gpt-4o-mini]
${extra.keys ?? ''}`;
}
