import { providerOf } from '../../pricing/catalog.js';
import { dayRange } from '../../windows/bounds.js';
import { isValidTimeZone } from '../../windows/calendar.js';
import { ownRecord } from '../own.js';
import type { BillingSection, GroupLimitsSection, KeysFile, LimitsSection } from '../types.gen.js';
import type {
  BillingConfig,
  Config,
  GroupConfig,
  KeyConfig,
  KeyLimits,
  ModelConfig,
  SlackConfig,
  UpstreamConfig,
} from '../types.js';
import { buildEntry } from './model-prices.js';

/**
 * The normalize step of loading: a schema-valid file becomes the `Config` the gateway runs on.
 * Defaults are applied here and nowhere else, so every reader of Config sees the same values.
 * It never throws on input the rules will reject (a bad timezone, 2027-02-30): the rules report
 * those, and a config with errors is never served.
 */

export const DEFAULT_TIMEOUT_MS = 600_000;
export const DEFAULT_DIGEST_CRON = '0 9 * * *';
export const DEFAULT_BUDGET_THRESHOLDS = [0.8, 1.0];
export const DEFAULT_SPIKE_FACTOR = 5;
export const DEFAULT_SPIKE_MIN_USD = 1;
export const DEFAULT_EXPIRY_DAYS = [7, 1];

function limitsOf(raw: (LimitsSection & GroupLimitsSection) | undefined): KeyLimits {
  const out: KeyLimits = {};
  if (!raw) return out;
  if (raw.hourly_usd !== undefined) out.hourlyUsd = raw.hourly_usd;
  if (raw.daily_usd !== undefined) out.dailyUsd = raw.daily_usd;
  if (raw.weekly_usd !== undefined) out.weeklyUsd = raw.weekly_usd;
  if (raw.monthly_usd !== undefined) out.monthlyUsd = raw.monthly_usd;
  if (raw.rpm !== undefined) out.rpm = raw.rpm;
  if (raw.tpm !== undefined) out.tpm = raw.tpm;
  if (raw.max_parallel !== undefined) out.maxParallel = raw.max_parallel;
  if (raw.max_output_tokens !== undefined) out.maxOutputTokens = raw.max_output_tokens;
  return out;
}

function groupsOf(raw: KeysFile['groups']): Record<string, GroupConfig> {
  const out = ownRecord<GroupConfig>();
  for (const [name, g] of Object.entries(raw ?? {})) {
    if (!g) continue;
    const group: GroupConfig = { name, limits: limitsOf(g.limits) };
    if (g.description !== undefined) group.description = g.description;
    out[name] = group;
  }
  return out;
}

/** `${OPENAI_API_KEY}` → `OPENAI_API_KEY`: the secret itself is read from the environment at request time. */
export function envReference(apiKey: string): string {
  const m = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(apiKey);
  return m?.[1] ?? apiKey;
}

function billingOf(raw: BillingSection): BillingConfig {
  const out: BillingConfig = { adminKeyEnv: envReference(raw.admin_key), apiKeyId: raw.api_key_id };
  if (raw.project_id !== undefined) out.projectId = raw.project_id;
  if (raw.workspace_id !== undefined) out.workspaceId = raw.workspace_id;
  return out;
}

/** `now` picks the prices shown (metering picks them per request, as prices change by date). */
export function normalizeConfig(raw: KeysFile, now = Date.now()): Config {
  const timezone = raw.server?.timezone ?? 'UTC';
  const zone = isValidTimeZone(timezone) ? timezone : 'UTC';

  const upstreams = ownRecord<UpstreamConfig>();
  for (const [name, u] of Object.entries(raw.upstreams ?? {})) {
    if (!u) continue;
    upstreams[name] = {
      name,
      baseUrl: u.base_url,
      apiKeyEnv: envReference(u.api_key),
      timeoutMs: u.timeout_ms ?? DEFAULT_TIMEOUT_MS,
      format: u.format ?? 'openai',
    };
    if (u.billing) (upstreams[name] as UpstreamConfig).billing = billingOf(u.billing);
    const provider = providerOf({ baseUrl: u.base_url, ...(u.provider ? { provider: u.provider } : {}) });
    if (provider !== undefined) (upstreams[name] as UpstreamConfig).provider = provider;
  }

  const models = ownRecord<ModelConfig>();
  for (const [name, m] of Object.entries(raw.models ?? {})) {
    if (!m) continue;
    models[name] = buildEntry(name, m, upstreams[m.upstream], now);
  }

  const defaultLimits = limitsOf(raw.defaults?.limits);
  // Resolving a date in a timezone costs several Intl calls; keys share few dates, so resolve each once.
  const expiryCache = new Map<string, number>();
  const expiryOf = (day: string): number => {
    let end = expiryCache.get(day);
    if (end === undefined) {
      end = dayRange(day, zone).end;
      expiryCache.set(day, end);
    }
    return end;
  };
  const keys = ownRecord<KeyConfig>();
  for (const [name, k] of Object.entries(raw.keys ?? {})) {
    if (!k) continue;
    const key: KeyConfig = {
      name,
      hashes: typeof k.hash === 'string' ? [k.hash] : [...k.hash],
      notify: k.notify ?? [],
      limits: { ...defaultLimits, ...limitsOf(k.limits) },
      disabled: k.disabled ?? false,
      tags: Object.fromEntries(
        Object.entries(k.tags ?? {}).filter((e): e is [string, string] => e[1] !== undefined),
      ),
    };
    if (k.description !== undefined) key.description = k.description;
    if (k.owner !== undefined) key.owner = k.owner;
    if (k.group !== undefined) key.group = k.group;
    if (k.models !== undefined) key.models = [...k.models];
    if (k.expires !== undefined) {
      key.expires = k.expires;
      key.expiresAt = expiryOf(k.expires);
    }
    keys[name] = key;
  }

  const config: Config = {
    version: 1,
    server: { timezone },
    upstreams,
    models,
    defaults: { limits: defaultLimits },
    groups: groupsOf(raw.groups),
    keys,
  };
  if (raw.server?.host !== undefined) config.server.host = raw.server.host;
  if (raw.server?.port !== undefined) config.server.port = raw.server.port;
  if (raw.server?.store !== undefined) config.server.store = raw.server.store;
  if (raw.server?.cors_origins?.length) config.server.corsOrigins = [...raw.server.cors_origins];
  if (raw.defaults?.max_expiry_days !== undefined)
    config.defaults.maxExpiryDays = raw.defaults.max_expiry_days;
  if (raw.slack) {
    const slack: SlackConfig = {
      digest: raw.slack.digest ?? DEFAULT_DIGEST_CRON,
      admins: raw.slack.admins ?? [],
      alerts: {
        budgetThresholds: raw.slack.alerts?.budget_thresholds ?? [...DEFAULT_BUDGET_THRESHOLDS],
        spikeFactor: raw.slack.alerts?.spike_factor ?? DEFAULT_SPIKE_FACTOR,
        spikeMinUsd: raw.slack.alerts?.spike_min_usd ?? DEFAULT_SPIKE_MIN_USD,
        spikeAction: raw.slack.alerts?.spike_action ?? 'alert',
        expiryDays: [...(raw.slack.alerts?.expiry_days ?? DEFAULT_EXPIRY_DAYS)],
      },
    };
    if (raw.slack.channel !== undefined) slack.channel = raw.slack.channel;
    config.slack = slack;
  }
  return config;
}
