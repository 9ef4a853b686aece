import type { Config } from '../config/types.js';
import { maskKey } from './format.js';

/**
 * A tollgate key, or the start of one, anywhere in a string: `tgk_` and at least 8 base62
 * characters. Shorter runs are not enough of a key to use, and stopping there keeps masking
 * idempotent (`tgk_Ab…wxyz` has only two characters after the prefix).
 */
const KEY_RUN = /tgk_[0-9A-Za-z]{8,}/g;

/**
 * Upstream keys shorter than this are not searched for: no provider issues keys that short, and
 * replacing every `k` of a log line (a test's `FAKE_KEY=k`) would shred it.
 */
export const MIN_SECRET_LENGTH = 8;

export const REDACTED = '[redacted]';

/**
 * The one masking function: every `tgk_…` key becomes `tgk_Ab…wxyz` at most and every
 * literal secret (the configured upstream keys) becomes `[redacted]`. Applied where a string
 * leaves the gateway: log lines, store writes, Slack posts.
 */
export function maskSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text.includes('tgk_') ? text.replace(KEY_RUN, (k) => maskKey(k)) : text;
  for (const s of secrets)
    if (s.length >= MIN_SECRET_LENGTH && out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** `maskSecrets` over every string inside a JSON-like value (a Slack message's blocks). */
export function maskDeep<T>(value: T, secrets: readonly string[] = []): T {
  if (typeof value === 'string') return maskSecrets(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, secrets)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskDeep(v, secrets);
    return out as T;
  }
  return value;
}

/**
 * The values of the upstream keys and the bill check's admin keys a config names
 * (`${OPENAI_API_KEY}` → its value), long ones only.
 */
export function upstreamSecretsOf(config: Pick<Config, 'upstreams'>, env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  for (const u of Object.values(config.upstreams)) {
    for (const name of [u.apiKeyEnv, u.billing?.adminKeyEnv]) {
      const v = name === undefined ? undefined : env[name];
      if (v && v.length >= MIN_SECRET_LENGTH) out.add(v);
    }
  }
  // Longest first, so that a key containing another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * The secrets to mask right now. The logger is created before the config is loaded and the
 * config can name other upstreams after a reload, so the list is set (and reset) by the server.
 */
export interface SecretMasker {
  mask(text: string): string;
  maskDeep<T>(value: T): T;
  setSecrets(secrets: readonly string[]): void;
  secrets(): readonly string[];
}

export function createSecretMasker(initial: readonly string[] = []): SecretMasker {
  let list: readonly string[] = [];
  const masker: SecretMasker = {
    mask: (text) => maskSecrets(text, list),
    maskDeep: (value) => maskDeep(value, list),
    setSecrets(secrets) {
      const long = secrets.filter((s) => s.length >= MIN_SECRET_LENGTH);
      // A log line is JSON: a key with a quote or a backslash appears there escaped.
      const escaped = long.map((s) => JSON.stringify(s).slice(1, -1));
      list = [...new Set([...long, ...escaped])].sort((a, b) => b.length - a.length);
    },
    secrets: () => list,
  };
  masker.setSecrets(initial);
  return masker;
}
