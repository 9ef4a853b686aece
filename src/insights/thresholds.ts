/**
 * Where each finding starts (docs/insights.md#thresholds). Each number is the smallest that is
 * worth a team lead's attention and that ordinary use stays under; findings under MIN_USD or
 * MIN_SHARE of the key's spend are left out whatever their kind.
 */

/** Findings covering less than this (USD) or this part of the key's spend are not shown. */
export const MIN_USD = 0.01;
export const MIN_SHARE = 0.05;

/** Fewer requests than this make no pattern. */
export const MIN_REQUESTS = 3;

/** long_context: a request with this many input tokens or more (a quarter of a 128k window). */
export const LONG_INPUT_TOKENS = 32_000;
/** long_context: such requests carry at least this part of the key's spend ("most"). */
export const LONG_SHARE = 0.5;

/** loop: this many requests with one fingerprint within LOOP_WINDOW_MS. */
export const LOOP_REQUESTS = 10;
export const LOOP_WINDOW_MS = 10 * 60_000;
/** retries: the same fingerprint within this long after a failed request. */
export const RETRY_WINDOW_MS = 10 * 60_000;

/** verbose_output: output carries at least this part of the priced spend. */
export const OUTPUT_SHARE = 0.75;
/** verbose_output: or at least this part of the answers stop at their output limit. */
export const CAPPED_SHARE = 0.1;

/** off_hours: working hours in server.timezone, and the part of spend outside them that counts. */
export const DAY_START_HOUR = 7;
export const DAY_END_HOUR = 20;
export const OFF_HOURS_SHARE = 0.3;

/** expensive_model: "small" is under this many input and output tokens each. */
export const SMALL_TOKENS = 1_000;
/** expensive_model: the model used is at least this many times dearer for the same tokens. */
export const DEARER_FACTOR = 5;

/** cache_unused: a long prefix sent this many times without a cache read. */
export const PREFIX_REPEATS = 5;

/** shared_key: a client counts when it has at least this part of the key's spend. */
export const CLIENT_SHARE = 0.05;
