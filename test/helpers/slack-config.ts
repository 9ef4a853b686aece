import type {
  Config,
  ConfigHolder,
  KeyConfig,
  LoadedConfig,
  SlackAlertsConfig,
} from '../../src/config/types.js';

export const ADMIN = 'U01ALICE';
export const NOT_ADMIN = 'U09MALLORY';
export const ALERT_CHANNEL = 'C0ALERTS';

function key(name: string, extra: Partial<KeyConfig> = {}): KeyConfig {
  return {
    name,
    hashes: [`sha256:${name.padEnd(64, '0').slice(0, 64)}`],
    notify: [],
    limits: { dailyUsd: 5, monthlyUsd: 50, rpm: 60 },
    disabled: false,
    tags: {},
    ...extra,
  };
}

/**
 * A normalized config for the Slack tests, built by hand so these tests do not depend on the
 * YAML loader: cursor-dev (notify Alice), open-webui-team, a file-disabled key and an expired one.
 */
export function slackTestConfig(
  overrides: {
    channel?: string | null;
    thresholds?: number[];
    alerts?: Partial<Omit<SlackAlertsConfig, 'budgetThresholds'>>;
  } = {},
): Config {
  const keys = [
    key('cursor-dev', { notify: ['U01ALICE', 'U03CAROL'], owner: 'alice', expires: '2027-03-31' }),
    key('open-webui-team'),
    key('old-script', { disabled: true }),
    key('intern-2025', { expires: '2025-12-31', expiresAt: Date.UTC(2026, 0, 1) }),
  ];
  return {
    version: 1,
    server: { timezone: 'Europe/Berlin' },
    upstreams: {},
    models: {},
    defaults: { limits: {} },
    keys: Object.fromEntries(keys.map((k) => [k.name, k])),
    slack: {
      ...(overrides.channel === null ? {} : { channel: overrides.channel ?? ALERT_CHANNEL }),
      digest: '0 9 * * *',
      admins: [ADMIN, 'U02BOB'],
      alerts: {
        budgetThresholds: overrides.thresholds ?? [0.8, 1],
        spikeFactor: 5,
        spikeMinUsd: 1,
        spikeAction: 'alert',
        expiryDays: [7, 1],
        ...overrides.alerts,
      },
    },
  };
}

/** A ConfigHolder whose config a test can swap, as a reload would. */
export function holderOf(
  config: Config,
  revision = 'rev-1',
): ConfigHolder & { set(c: Config, rev: string): void } {
  let current: LoadedConfig = { config, revision, loadedAt: 0, keysByHash: new Map() };
  return {
    current: () => current,
    set(c, rev) {
      current = { config: c, revision: rev, loadedAt: 0, keysByHash: new Map() };
    },
  };
}
