/* This file is generated from schemas/keys.schema.json by scripts/gen-types.mjs. Do not edit it:
 * change the schema and run `npm run gen:types`. A test fails when the two drift apart. */

/**
 * sha256:<64 lowercase hex> of a whole key string.
 */
export type Hash = string;

/**
 * tollgate keys.yaml, version 1: the upstreams, the models with their prices, and one entry per key with its limits.
 */
export interface KeysFile {
  /**
   * Schema version of this file. Always 1.
   */
  version: 1;
  server?: ServerSection;
  /**
   * Where requests go, by upstream name. Each model names one of these.
   */
  upstreams?: {
    [k: string]: UpstreamSection | undefined;
  };
  /**
   * The models the gateway serves, by the name clients send as `model`, with USD prices per million tokens.
   */
  models?: {
    [k: string]: ModelSection | undefined;
  };
  /**
   * Shared pots, by group name (the key-name pattern). A key with `group: NAME` draws from its own limits and the group's: a request must fit every window of both, and the group's limits bind the sum of its keys' spend.
   */
  groups?: {
    [k: string]: GroupSection | undefined;
  };
  defaults?: DefaultsSection;
  /**
   * One entry per tool, project or environment, by key name (lowercase letters, digits, '.', '_', '-').
   */
  keys?: {
    [k: string]: KeySection | undefined;
  };
  slack?: SlackSection;
}
/**
 * How the gateway listens and stores usage. Command-line flags and environment variables override these.
 */
export interface ServerSection {
  /**
   * Address to listen on: 127.0.0.1 (default) for this machine only, 0.0.0.0 to serve teammates' machines.
   */
  host?: string;
  /**
   * TCP port to listen on. Default 8080.
   */
  port?: number;
  /**
   * IANA timezone name (e.g. Europe/Berlin) for the hourly, daily, weekly and monthly budget windows, expiry dates and the digest. Default UTC.
   */
  timezone?: string;
  /**
   * Usage store URL: sqlite:PATH (default sqlite:data/tollgate.db) or postgres://user@host:5432/db for several replicas.
   */
  store?: string;
  /**
   * Browser origins allowed to call /v1 directly (CORS), e.g. https://chat.example.com for Open WebUI's direct connections, or "*" for any origin. Each is scheme://host[:port] with no path or trailing slash, exactly as the browser sends it in Origin. Default none: CORS is off and browsers cannot call /v1; apps that call from their own server need nothing here.
   */
  cors_origins?: string[];
}
/**
 * An API the gateway forwards to.
 */
export interface UpstreamSection {
  /**
   * Base URL of the upstream API, including the version path, e.g. https://api.openai.com/v1.
   */
  base_url: string;
  /**
   * The upstream's API key as an environment reference like ${OPENAI_API_KEY}; never a literal key.
   */
  api_key: string;
  /**
   * Wire format the upstream speaks: openai (default) or anthropic.
   */
  format?: 'openai' | 'anthropic';
  /**
   * The price catalog's provider id for this upstream (e.g. openai, anthropic, google, mistral, openrouter), used to look up the prices of its models that set none. Default: the provider whose API the base_url points at, OpenAI's regional hosts included; when none matches (a proxy, a local server), models are looked up by name alone. With openai, chat and Responses requests that set no service_tier (or auto) are sent with service_tier default, and other tiers than default, flex and scale are refused (docs/api.md#priced-modes): leave it out for a local server that refuses fields it does not know.
   */
  provider?: string;
  /**
   * How long to wait for the upstream, in milliseconds. Default 600000 (10 minutes).
   */
  timeout_ms?: number;
  billing?: BillingSection;
}
/**
 * Optional: check this upstream's metered spend, once a day, against the provider's own usage report for the previous UTC day (and, with project_id or workspace_id, its cost report in dollars). The reports are asked at the upstream's own base_url, in the OpenAI or the Anthropic form as its format says. See docs/bill-check.md.
 */
export interface BillingSection {
  /**
   * The provider's admin key (OpenAI sk-admin-…, Anthropic sk-ant-admin01-…) as an environment reference like ${OPENAI_ADMIN_KEY}; never a literal key. It is sent only to the provider's usage and cost reports.
   */
  admin_key: string;
  /**
   * The id of this upstream's api_key as the provider's usage report names it: key_… on OpenAI, apikey_… on Anthropic.
   */
  api_key_id: string;
  /**
   * OpenAI only, optional: the project (proj_…) the key belongs to; its cost report is then also compared in dollars.
   */
  project_id?: string;
  /**
   * Anthropic only, optional: the workspace (wrkspc_…) the key belongs to; its cost report is then also compared in dollars.
   */
  workspace_id?: string;
}
/**
 * A model the gateway serves, by the name clients send (a dated snapshot such as claude-sonnet-4-5-20250929 is served by the entry it extends, claude-sonnet-4-5), or a glob such as "claude-*" that serves every matching name the price catalog prices. Prices are USD per million tokens; those not set here come from the price catalog bundled with tollgate (@pydantic/genai-prices at the version the lockfile pins), which covers every token kind the provider bills: uncached input, cache reads, cache writes, output and long-context tiers. Explicit prices always win, each over the catalog's price of the same kind. A model the catalog does not know needs input_per_mtok and output_per_mtok, or for images and audio a unit price (image_usd, input_per_mchar, audio_per_minute): a budget cannot be hard without a price.
 */
export interface ModelSection {
  /**
   * Name of the upstream (under `upstreams`) that serves this model.
   */
  upstream: string;
  /**
   * USD per million uncached input tokens. Default: the catalog's (tiered where the catalog is, e.g. above 200k input tokens); required when the catalog does not know the model.
   */
  input_per_mtok?: number;
  /**
   * USD per million output tokens, reasoning tokens included. Default: the catalog's; required when the catalog does not know the model.
   */
  output_per_mtok?: number;
  /**
   * USD per million input tokens read from a prompt cache. Default: the catalog's, else input_per_mtok.
   */
  cached_input_per_mtok?: number;
  /**
   * USD per million input tokens written to a prompt cache (5-minute and 1-hour writes alike when set). Default: the catalog's (Anthropic: 1.25 x input for 5-minute writes, 2 x for 1-hour ones), else 1.25 x input_per_mtok (2 x for 1-hour writes) on anthropic-format upstreams and input_per_mtok on others.
   */
  cache_write_per_mtok?: number;
  /**
   * USD per million audio input tokens (an input_audio part on /v1/chat/completions or /v1/responses). Default: the catalog's; without one, audio input is charged as input where the provider bills audio at the text price, and refused where it bills audio apart (OpenAI, Azure, Mistral, Gemini Flash models: docs/api.md#audio-prices).
   */
  input_audio_per_mtok?: number;
  /**
   * USD per million audio output tokens (modalities with "audio"). Default: the catalog's; without one, audio output is charged as output where the provider bills audio at the text price, and refused where it bills audio apart (docs/api.md#audio-prices).
   */
  output_audio_per_mtok?: number;
  /**
   * The most output one request may produce: a request that sets no output limit is sent with this one, and the budget reserves it. Default 16384 (the catalog has no output limits).
   */
  max_output_tokens?: number;
  /**
   * USD per generated image, for an image model the price catalog does not price by tokens (dall-e-3, dall-e-2): one price for every image, or a map from `SIZE` or `QUALITY SIZE` (quality: standard, hd, low, medium, high) to the price of one image of it. The reservation takes n x the dearest price the request's size and quality can match (`auto`, or a size left out, matches every entry).
   */
  image_usd?:
    | number
    | {
        [k: string]: number | undefined;
      };
  /**
   * USD per million input characters, for a text-to-speech model priced by characters (tts-1: 15, tts-1-hd: 30). The reservation and the charge are the input's characters.
   */
  input_per_mchar?: number;
  /**
   * USD per minute of input audio, for a transcription or translation model the catalog does not price (whisper-1's catalog price is 0.006). The reservation is the uploaded file's duration, read from the file; the charge is the duration the provider reports, else the file's.
   */
  audio_per_minute?: number;
  /**
   * The most tokens (input and output together) the model reads and writes in one request. It bounds the reservation of a request whose input the body does not carry (previous_response_id, conversation, a stored prompt, a file by id or URL): the provider bills the stored conversation as input, so the gateway reserves up to the context window minus the output bound. Default: the catalog's, else 10000000 (the most tokens a usage report may count), which most budgets refuse: set it for a model the catalog does not know.
   */
  context_window?: number;
}
/**
 * A shared pot: limits that bind the sum of its keys' spend and traffic. defaults.limits do not apply to a group.
 */
export interface GroupSection {
  /**
   * What the group is, shown in Slack and the digest.
   */
  description?: string;
  limits?: GroupLimitsSection;
}
/**
 * Limits on the sum of a group's keys, checked together with each key's own. max_output_tokens is not here: it caps one request, not a shared pot, so it belongs on the keys (or defaults.limits).
 */
export interface GroupLimitsSection {
  /**
   * USD the group's keys may spend together per hour; resets at the top of each hour in server.timezone.
   */
  hourly_usd?: number;
  /**
   * USD the group's keys may spend together per day; resets at midnight in server.timezone.
   */
  daily_usd?: number;
  /**
   * USD the group's keys may spend together per week; weeks start on Monday at 00:00 in server.timezone.
   */
  weekly_usd?: number;
  /**
   * USD the group's keys may spend together per calendar month; resets on the 1st in server.timezone.
   */
  monthly_usd?: number;
  /**
   * Requests per minute of the group's keys together.
   */
  rpm?: number;
  /**
   * Tokens per minute (input plus output) of the group's keys together.
   */
  tpm?: number;
  /**
   * Requests of the group's keys in flight at once.
   */
  max_parallel?: number;
}
/**
 * Applied to every key that does not set the field itself.
 */
export interface DefaultsSection {
  limits?: LimitsSection;
  /**
   * Optional policy: validate warns about a key with no expiry or one further out than this many days.
   */
  max_expiry_days?: number;
}
/**
 * Spending and rate limits of a key. A limit that is not set does not apply.
 */
export interface LimitsSection {
  /**
   * USD the key may spend per hour; resets at the top of each hour in server.timezone, so a runaway loop stops within the hour.
   */
  hourly_usd?: number;
  /**
   * USD the key may spend per day; resets at midnight in server.timezone.
   */
  daily_usd?: number;
  /**
   * USD the key may spend per week; weeks start on Monday at 00:00 in server.timezone.
   */
  weekly_usd?: number;
  /**
   * USD the key may spend per calendar month; resets on the 1st in server.timezone.
   */
  monthly_usd?: number;
  /**
   * Requests per minute.
   */
  rpm?: number;
  /**
   * Tokens per minute, input plus output, over a rolling minute. A request is admitted against its estimated input plus its output bound and counted at its real tokens once it ends; over the limit it is refused with rate_limit_exceeded and Retry-After.
   */
  tpm?: number;
  /**
   * Requests in flight at once.
   */
  max_parallel?: number;
  /**
   * Cap on a single request's output tokens: a request asking for more is lowered to it, and one asking for nothing is sent with it (or with the model's max_output_tokens when that is lower); the response says so in x-tollgate-output-capped.
   */
  max_output_tokens?: number;
}
/**
 * One key: who uses it, its hash, limits, allowed models and expiry.
 */
export interface KeySection {
  /**
   * sha256:<64 hex> of the key (from `tollgate keys new` or `tollgate keys hash`), or a list of them to rotate a key without downtime.
   */
  hash: Hash | [Hash, ...Hash[]];
  /**
   * What uses this key, shown in Slack and the digest.
   */
  description?: string;
  /**
   * Who is responsible for this key.
   */
  owner?: string;
  /**
   * Slack user IDs mentioned in this key's alerts.
   */
  notify?: string[];
  /**
   * Name of a group under `groups`: the key is also bound by the group's limits. Spend is charged to the group the key was in when the request was admitted.
   */
  group?: string;
  limits?: LimitsSection;
  /**
   * Allow-list of model names; `*` and `?` globs allowed. Omitted means every configured model.
   */
  models?: string[];
  /**
   * Last day (YYYY-MM-DD) the key works, through the end of that day in server.timezone.
   */
  expires?: string;
  /**
   * true refuses every request with this key.
   */
  disabled?: boolean;
  /**
   * Free-form labels, e.g. env: dev, tool: cursor.
   */
  tags?: {
    [k: string]: string | undefined;
  };
}
/**
 * Slack digest, alerts and kill switch. Secrets come from SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_APP_TOKEN.
 */
export interface SlackSection {
  /**
   * Channel ID where the digest and alerts go, e.g. C0123ABCD.
   */
  channel?: string;
  /**
   * Cron expression for the daily digest, in server.timezone. Default "0 9 * * *".
   */
  digest?: string;
  /**
   * Slack user IDs allowed to run /disable-key and /enable-key.
   */
  admins?: string[];
  /**
   * When to alert.
   */
  alerts?: {
    /**
     * Fractions of a budget at which to alert, e.g. [0.8, 1.0]. Default [0.8, 1.0].
     */
    budget_thresholds?: number[];
    /**
     * Spend spike rule: a key spikes when its spend over the last hour is at least spike_factor times its average hourly spend over the 24 hours before that hour, and at least spike_min_usd. Measured when the key's requests settle, at most every 30 s per key (a settle inside those 30 s is measured when they are over), so a key in a loop is caught within a minute of crossing the thresholds. Default 5.
     */
    spike_factor?: number;
    /**
     * Spend spike rule: the least USD spent in the last hour that can count as a spike, so that cents becoming dimes page nobody (see spike_factor). Default 1.
     */
    spike_min_usd?: number;
    /**
     * What a spend spike does: alert (the default) posts the spike alert with a Disable key button; disable also disables the key through the kill switch right away (audited as done by tollgate, announced with the numbers that tripped it and an Enable key button for slack.admins). At most once per key and day in server.timezone: after an admin enables the key again, it is not tripped again that day.
     */
    spike_action?: 'alert' | 'disable';
    /**
     * Days before a key's expires at which its notify users are reminded in slack.channel, once per key, expiry date and reminder across restarts and replicas (checked at start and hourly). 1 means on the key's last day. [] turns reminders off. Default [7, 1].
     */
    expiry_days?: number[];
  };
}
