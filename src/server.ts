import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createApp } from './app.js';
import { registerBillCheckMetrics } from './billing/bill-metrics.js';
import { type Clock, systemClock } from './clock.js';
import { type ConfigManager, createConfigManager } from './config/reload/manager.js';
import { createInsightsCache } from './dashboard/insights-cache.js';
import type { GatewayDeps } from './deps.js';
import type { FindingsCache } from './insights/findings-cache.js';
import { loadFingerprintSecret } from './insights/fingerprint.js';
import { createSecretMasker, type SecretMasker, upstreamSecretsOf } from './keys/mask-secrets.js';
import type { Logger } from './log.js';
import { createNotifierRelay, type Notifier, nullNotifier } from './notifier.js';
import { healthHandler } from './ops/health.js';
import { registerLeaseGauges } from './ops/lease-metrics.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { rootHandler } from './ops/root.js';
import { checkTokens, resolveSettings, type SettingFlags } from './ops/settings.js';
import { packageInfo } from './ops/version.js';
import { createDisableView } from './policy/disables.js';
import { createKillSwitch, type KillSwitch } from './policy/kill-switch.js';
import { createGateway, type Gateway } from './proxy/gateway.js';
import { createBillCheckScheduler } from './schedule/bill-check-scheduler.js';
import { createDigestScheduler } from './schedule/digest-scheduler.js';
import { createExpiryReminders } from './schedule/expiry-reminders.js';
import type { SlackDeps, SlackIntegration } from './slack/app.js';
import { slackMissing } from './slack/configured.js';
import { maskStoreWrites } from './store/masked-store.js';
import { openStore, sqliteFileOf } from './store/open.js';
import { resolvePostgresOptions } from './store/postgres/options.js';
import { lockSqliteStore } from './store/sqlite/owner-lock.js';
import { isStoreUnavailable } from './store/store-unavailable.js';
import type { Store } from './store/types.js';
import { trackWriteHealth, type WriteHealth } from './store/write-health.js';

export interface ServerOptions extends SettingFlags {
  configFile: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
  clock?: Clock;
  /** How often the config file is re-checked besides watch events. */
  pollMs?: number;
  /** How long SIGTERM waits for in-flight requests. */
  graceMs?: number;
  /** Opens the store named by the settings; tests inject one that fails on demand. */
  openStore?: (url: string) => Promise<Store>;
  /** The masker the logger uses (keys/mask-secrets.ts): the server keeps its upstream keys current. */
  masker?: SecretMasker;
}

export interface RunningServer {
  url: string;
  port: number;
  deps: GatewayDeps;
  reload(reason: string): Promise<unknown>;
  /** Stops accepting, drains in-flight requests (up to the grace period), flushes and closes the store. */
  close(): Promise<void>;
}

/** Wiring: env → deps → app → listen. The only place with side effects at start. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  checkTokens(opts.env);
  const clock = opts.clock ?? systemClock;
  const log = opts.log;
  const metrics = createMetrics({ processMetrics: true });
  const notifier = createNotifierRelay();
  const config = await createConfigManager({
    file: opts.configFile,
    clock,
    log,
    metrics,
    notifier,
    env: opts.env,
    ...(opts.pollMs === undefined ? {} : { pollMs: opts.pollMs }),
  });
  const settings = resolveSettings(opts, opts.env, config.current().config);
  metrics.retainConfig(config.current().config);
  const masker = opts.masker ?? createSecretMasker();
  const refreshSecrets = () => masker.setSecrets(upstreamSecretsOf(config.current().config, opts.env));
  refreshSecrets();

  const { store, health, lock, sweep } = await openServerStore(opts, settings.store, masker, clock);
  if (store.leaseHoldings) registerLeaseGauges(metrics.registry, store.leaseHoldings);

  const disables = await createDisableView({ store, log });
  const killSwitch = createKillSwitch({ store, disables, config, clock });
  // One findings computation at a time for the dashboard and /spend NAME, in the background.
  const findings = createInsightsCache(store, clock, (err) =>
    log.warn({ err }, 'insights: could not read the findings'),
  );
  const slack = await loadSlack(opts, masker, { config, store, disables, killSwitch, clock, findings });
  relayNotices(notifier, slack?.notifier ?? nullNotifier, () => {
    refreshSecrets();
    metrics.retainConfig(config.current().config);
  });

  // One secret per store, the first replica's: replicas on one database fingerprint alike.
  const fingerprintSecret = await loadFingerprintSecret(store);
  const deps: GatewayDeps = {
    config,
    store,
    disables,
    clock,
    log,
    metrics,
    notifier,
    env: opts.env,
    fingerprintSecret,
  };
  // The answer never waits longer for a usage write than one store call may take.
  const gateway = createGateway(
    deps,
    store.kind === 'postgres'
      ? {
          usageWriter: { maxWaitMs: resolvePostgresOptions(settings.store, {}, opts.env).statementTimeoutMs },
        }
      : {},
  );
  const adminToken = opts.env.TOLLGATE_ADMIN_TOKEN;
  const listener = await createListener(opts.env, {
    ...deps,
    config,
    gateway,
    health,
    killSwitch,
    slack,
    findings,
  });

  const server = createServer(listener);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  config.watch();
  if (slack) await slack.start();

  const schedules = await startSchedules(slack, metrics, { store, config, clock, log, env: opts.env });

  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  log.info(
    {
      port,
      host: settings.host,
      store: store.kind,
      revision: config.current().revision,
      admin: Boolean(adminToken),
    },
    'tollgate is listening',
  );

  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    deps,
    reload: (reason) => config.reload(reason),
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        schedules.stop();
        const stopped = stopListening(server);
        await gateway.drain(opts.graceMs ?? 30_000);
        server.closeAllConnections();
        await stopped;
        await schedules.idle(); // a digest being posted finishes before the store closes
        await slack?.stop();
        disables.stop();
        await config.close();
        await store.close();
        lock?.release();
        log.info('tollgate stopped');
      })();
      return closing;
    },
  };
}

/** Slack, when the environment configures it; Bolt is loaded only then (slack/configured.ts). */
async function loadSlack(
  opts: ServerOptions,
  masker: SecretMasker,
  parts: Pick<SlackDeps, 'config' | 'store' | 'disables' | 'killSwitch' | 'clock' | 'findings'>,
): Promise<SlackIntegration | null> {
  const missing = slackMissing(opts.env);
  if (missing !== null) {
    opts.log.info(missing);
    return null;
  }
  const { createSlack } = await import('./slack/app.js');
  return createSlack({ ...parts, env: opts.env, log: opts.log, mask: masker.maskDeep });
}

/** What the gateway notices goes out (to Slack, or nowhere); a reload first refreshes `onReload`'s state. */
function relayNotices(
  relay: ReturnType<typeof createNotifierRelay>,
  outward: Notifier,
  onReload: () => void,
): void {
  relay.setTarget({
    configReloaded: (e) => {
      onReload();
      outward.configReloaded(e);
    },
    configReloadFailed: (e) => outward.configReloadFailed(e),
    requestSettled: (e) => outward.requestSettled(e),
    keyRefused: (e) => outward.keyRefused(e),
  });
}

/**
 * The express app: the gateway on /v1, and the admin API and dashboard when their tokens are set.
 * Their modules (routers, pages, charts: about 1 MB of heap) are loaded only then: a gateway
 * without them does not carry them, and a bigger heap is a bigger old generation under load (V8
 * sizes it as a multiple of what is live).
 */
async function createListener(
  env: NodeJS.ProcessEnv,
  parts: Omit<GatewayDeps, 'config'> & {
    config: ConfigManager;
    gateway: Gateway;
    health: WriteHealth;
    killSwitch: KillSwitch;
    slack: SlackIntegration | null;
    findings: FindingsCache;
  },
) {
  const { gateway, metrics, log, store, config, disables, killSwitch, clock, slack, findings } = parts;
  const adminToken = env.TOLLGATE_ADMIN_TOKEN;
  const dashboardToken = env.TOLLGATE_DASHBOARD_TOKEN || undefined;
  const admin = adminToken
    ? (await import('./ops/admin.js')).createAdminRouter({
        token: adminToken,
        config,
        store,
        disables,
        killSwitch,
        clock,
        findings,
      })
    : undefined;
  const dashboard =
    adminToken || dashboardToken
      ? (await import('./dashboard/router.js')).createDashboardRouter({
          adminToken,
          viewerToken: dashboardToken,
          config,
          store,
          disables,
          killSwitch,
          clock,
          log,
          findings,
          announce: slack?.announce,
        })
      : undefined;
  return createApp({
    gateway,
    metrics,
    log,
    root: rootHandler(packageInfo()),
    health: healthHandler({ store, configStatus: () => config.status(), writes: parts.health }),
    ...(admin ? { admin } : {}),
    ...(slack ? { slack: slack.router } : {}),
    ...(dashboard ? { dashboard } : {}),
  });
}

/**
 * Opens the store the settings name, masked and health-tracked, after taking the SQLite file's
 * lock; recovers the reservations a previous run left and sweeps expired leases from then on.
 */
async function openServerStore(opts: ServerOptions, url: string, masker: SecretMasker, clock: Clock) {
  const log = opts.log;
  const storeFile = sqliteFileOf(url);
  // Before the store opens: a second `serve` must not get as far as recovering reservations.
  const lock = storeFile ? lockSqliteStore(storeFile) : undefined;
  let opened: Store;
  try {
    opened = await (opts.openStore ?? openStore)(url);
  } catch (err) {
    lock?.release();
    throw err;
  }
  const tracked = trackWriteHealth(maskStoreWrites(opened, masker.mask), clock);
  const store = tracked.store;
  if (storeFile && dirname(storeFile) === dirname(resolve(opts.configFile))) {
    log.warn(
      { store: storeFile, config: resolve(opts.configFile) },
      "the SQLite store is in the config file's folder: the config watcher re-reads that folder on every write to the store; keep them apart (the default is data/ and config/)",
    );
  }
  // The embedded store belongs to this one process, so every reservation left in it is from a
  // previous run that died: charge and release them all. Replicas only recover expired leases.
  const recovered = await store
    .recoverReservations(clock(), store.kind === 'sqlite')
    .catch((err: unknown) => {
      // Read by the operator at start: the database's own words, not the 503 a request would get.
      const cause = isStoreUnavailable(err) ? err.cause : err;
      throw new Error(
        `cannot recover the reservations a previous run left in the store: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause: err },
      );
    });
  if (recovered > 0) log.warn({ recovered }, 'charged and released reservations left by a previous run');
  const sweep = setInterval(() => {
    store.recoverReservations(clock()).catch((err: unknown) => log.warn({ err }, 'reservation sweep failed'));
  }, 5_000);
  sweep.unref();
  return { store, health: tracked.health, lock, sweep };
}

/**
 * The scheduled jobs: the daily digest (when keys.yaml names a channel) and the expiry reminders
 * for a gateway with Slack, and the bill check with or without it.
 */
async function startSchedules(
  slack: SlackIntegration | null,
  metrics: Metrics,
  deps: { store: Store; config: ConfigManager; clock: Clock; log: Logger; env: NodeJS.ProcessEnv },
): Promise<{ stop(): void; idle(): Promise<void> }> {
  const { store, config, clock, log } = deps;
  const channel = config.current().config.slack?.channel;
  const digest =
    slack && channel
      ? createDigestScheduler({ store, config, clock, log, post: (msg) => slack.post({ channel, ...msg }) })
      : null;
  await digest?.start();
  const reminders = slack
    ? createExpiryReminders({ store, config, clock, log, post: (msg) => slack.post(msg) })
    : null;
  reminders?.start();
  // The bill check runs with or without Slack: its rows feed the dashboard, the digest and /metrics.
  registerBillCheckMetrics(metrics.registry, { store, config, clock });
  const billCheck = createBillCheckScheduler({
    ...deps,
    ...(slack && channel ? { post: (msg: { text: string }) => slack.post({ channel, ...msg }) } : {}),
  });
  billCheck.start();
  return {
    stop() {
      digest?.stop();
      reminders?.stop();
      billCheck.stop();
    },
    async idle() {
      await digest?.idle();
      await reminders?.idle();
      await billCheck.idle();
    },
  };
}

function stopListening(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
