import type { PricePeriod } from './pricing.js';

/**
 * Anthropic's two prompt-cache TTLs are billed apart: a 5-minute write at 1.25 x the input price, a
 * 1-hour one (`"cache_control": {"type": "ephemeral", "ttl": "1h"}`) at 2 x (Anthropic's prompt
 * caching docs, "Pricing"). Its own answers say which was written (`usage.cache_creation`), but
 * OpenRouter's chat completions answer for a Claude model reports one count for both,
 * `usage.prompt_tokens_details.cache_write_tokens` (OpenRouter's usage accounting docs), and its
 * catalog entries carry the 5-minute price only. A model whose name is a Claude model's gets the
 * 1-hour price from its input price where the catalog has none (config/load/model-prices.ts), and
 * a request that asks for a 1-hour write whose answer's usage has no TTL breakdown (OpenAI-format
 * usage; an Anthropic-format relay's without `cache_creation`) is charged
 * every write at it: exact when the request writes only 1-hour entries, the most it can be billed
 * when it mixes both (each 5-minute token then charged 0.75 x input over the bill).
 */

/** Catalog ids of Claude models, whoever serves them (`anthropic/claude-sonnet-4.6`, `~anthropic/claude-opus-latest`). */
const CLAUDE = /(^|\/)claude-/i;

export const isClaudeModel = (catalogId: string): boolean => CLAUDE.test(catalogId);

const MAX_DEPTH = 32;

/** Whether a request body has a `cache_control` with `ttl: "1h"` anywhere (a block, a message, top level). */
export function asksHourCache(raw: Buffer, fields: unknown): boolean {
  if (!raw.includes('cache_control') || !raw.includes('"1h"')) return false;
  return findHourCache(fields, 0);
}

function findHourCache(value: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => findHourCache(v, depth + 1));
  const o = value as Record<string, unknown>;
  const cc = o.cache_control;
  if (cc !== null && typeof cc === 'object' && (cc as Record<string, unknown>).ttl === '1h') return true;
  for (const key in o) if (findHourCache(o[key], depth + 1)) return true;
  return false;
}

/** A model's prices with every cache write at the 1-hour price (for usage that does not split them). */
export function writesAtHourPrice<M extends { prices: readonly PricePeriod[] }>(model: M): M {
  return {
    ...model,
    prices: model.prices.map((p) => ({ ...p, table: { ...p.table, cacheWrite: p.table.cacheWrite1h } })),
  };
}
