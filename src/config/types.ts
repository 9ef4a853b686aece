import type { PricePeriod } from '../pricing/pricing.js';

/**
 * The normalized config that the running gateway uses: defaults applied, dates resolved in
 * `server.timezone`, `${ENV}` references kept as references. The raw file shape is
 * `KeysFile` in types.gen.ts, generated from schemas/keys.schema.json.
 */

export type Severity = 'error' | 'warning';

/** One problem found in a config file, with where it is. */
export interface Problem {
  file: string;
  line: number;
  col: number;
  /** Dot path into the document, e.g. `keys.cursor-dev.limits.daly_usd`. */
  path: string;
  message: string;
  severity: Severity;
}

export type WireFormat = 'openai' | 'anthropic';

export interface UpstreamConfig {
  name: string;
  baseUrl: string;
  /** Name of the environment variable holding the upstream's key (from `${NAME}`). */
  apiKeyEnv: string;
  timeoutMs: number;
  format: WireFormat;
  /** The price catalog's provider: `provider` from the file, else recognised from baseUrl. */
  provider?: string;
  /** The bill check's settings (docs/bill-check.md), when the file has a `billing:` section. */
  billing?: BillingConfig;
}

/** An upstream's `billing:` section: how to read the provider's own usage and cost reports. */
export interface BillingConfig {
  /** Name of the environment variable holding the provider's admin key (from `${NAME}`). */
  adminKeyEnv: string;
  /** The upstream key's id in the provider's reports: `key_…` (OpenAI) or `apikey_…` (Anthropic). */
  apiKeyId: string;
  /** OpenAI `proj_…` or Anthropic `wrkspc_…`: the cost report is compared in dollars too. */
  projectId?: string;
  workspaceId?: string;
}

/** Explicit USD prices per million tokens from keys.yaml; each wins over the catalog's. */
export interface ExplicitPrices {
  input?: number;
  output?: number;
  cachedInput?: number;
  cacheWrite?: number;
  inputAudio?: number;
  outputAudio?: number;
}

/**
 * Unit prices of an image or audio model from keys.yaml (docs/configuration.md), for what the catalog does not
 * price by tokens or duration: USD per image (one price, or by `SIZE` / `QUALITY SIZE`), per
 * million input characters (speech), per minute of input audio (transcription).
 */
export interface UnitPrices {
  imageUsd?: number | Record<string, number>;
  inputPerMchar?: number;
  audioPerMinute?: number;
}

/** Where a price comes from: keys.yaml, the bundled catalog, or a default derived from the input price. */
export type PriceSource = 'keys.yaml' | 'catalog' | 'default';

export interface ModelConfig {
  /** The entry's name; for a model served by a glob, the catalog's id of the name asked for. */
  name: string;
  upstream: string;
  /** A glob entry (`claude-*`): it serves the names the catalog prices; it has no prices itself. */
  glob: boolean;
  /** The prices metering uses, over time (see src/pricing/pricing.ts); empty for a glob entry. */
  prices: PricePeriod[];
  explicit: ExplicitPrices;
  /** The catalog's id of this model, when its prices (or some of them) come from the catalog. */
  catalogId?: string;
  /** Base prices at load time (the first tier), for display: models, diff, validate. */
  inputPerMtok: number;
  outputPerMtok: number;
  cachedInputPerMtok: number;
  cacheWritePerMtok: number;
  priceSources: {
    input: PriceSource;
    output: PriceSource;
    cachedInput: PriceSource;
    cacheWrite: PriceSource;
  };
  /** The bound written into a request that sets no output limit, and reserved. */
  maxOutputTokens: number;
  /** Tokens in and out of one request (keys.yaml's `context_window`, else the catalog's), if known. */
  contextWindow?: number;
  /** Unit prices for images and audio, when keys.yaml sets any. */
  units?: UnitPrices;
  /** Where contextWindow comes from. */
  contextWindowSource?: 'keys.yaml' | 'catalog';
}

export interface KeyLimits {
  hourlyUsd?: number;
  dailyUsd?: number;
  weeklyUsd?: number;
  monthlyUsd?: number;
  rpm?: number;
  /** Tokens per minute, input + output. */
  tpm?: number;
  maxParallel?: number;
  maxOutputTokens?: number;
}

export interface KeyConfig {
  name: string;
  /** `sha256:<64 hex>` strings; several while a key is rotated. */
  hashes: string[];
  description?: string;
  owner?: string;
  notify: string[];
  /** Own limits merged over `defaults.limits`. */
  limits: KeyLimits;
  /** Allow-list globs; undefined = every model. */
  models?: string[];
  /** `YYYY-MM-DD` as written. */
  expires?: string;
  /** First millisecond after the expiry day ends in server.timezone. */
  expiresAt?: number;
  disabled: boolean;
  tags: Record<string, string>;
  /** The group (under `groups`) whose limits also bind this key. */
  group?: string;
}

/** A shared pot (see groups.ts): its limits bind the sum of its keys. */
export interface GroupConfig {
  name: string;
  description?: string;
  /** A group has no max_output_tokens: that caps one request, not a pot. */
  limits: Omit<KeyLimits, 'maxOutputTokens'>;
}

export interface SlackConfig {
  channel?: string;
  /** Cron expression, in server.timezone. Default `0 9 * * *`. */
  digest: string;
  admins: string[];
  alerts: SlackAlertsConfig;
}

export interface SlackAlertsConfig {
  budgetThresholds: number[];
  /** Spike rule: the last hour ≥ spikeFactor × the previous 24 hours' hourly average … */
  spikeFactor: number;
  /** … and ≥ spikeMinUsd. */
  spikeMinUsd: number;
  /** `disable` trips the circuit breaker: the kill switch disables the key. */
  spikeAction: 'alert' | 'disable';
  /** Days before `expires` at which the key's notify users are reminded. */
  expiryDays: number[];
}

export interface ServerConfig {
  host?: string;
  port?: number;
  /** IANA name; default UTC. */
  timezone: string;
  store?: string;
  /** Browser origins allowed to call /v1 (`*` = any); unset or empty = CORS off. */
  corsOrigins?: string[];
}

export interface Config {
  version: 1;
  server: ServerConfig;
  upstreams: Record<string, UpstreamConfig>;
  models: Record<string, ModelConfig>;
  defaults: { limits: KeyLimits; maxExpiryDays?: number };
  /** Always set by normalize; optional so that hand-built configs (tests, tools) need not name it. */
  groups?: Record<string, GroupConfig>;
  keys: Record<string, KeyConfig>;
  slack?: SlackConfig;
}

export interface LoadResult {
  /** Present when there are no errors. */
  config?: Config;
  warnings: Problem[];
  errors: Problem[];
}

/** A config that the gateway serves, with its identity. Swapped whole on reload. */
export interface LoadedConfig {
  config: Config;
  /** `<12 hex of sha256(content)>` or `<12 hex>@<git short sha>`. */
  revision: string;
  /** Epoch ms when this config was loaded. */
  loadedAt: number;
  /** key hash (`sha256:…`) → key config. */
  keysByHash: Map<string, KeyConfig>;
}

/** Holds the config being served. Reload swaps it whole; a request reads it once at its start. */
export interface ConfigHolder {
  current(): LoadedConfig;
}
