import type { Config, KeyConfig } from '../config/types.js';
import type { PrefixGroup } from '../store/insight-types.js';
import type { KeyFacts } from './key-facts.js';
import { inputPrices, modelNamed } from './prices.js';
import type { RuleContext } from './rules-spend.js';
import { CLIENT_SHARE, PREFIX_REPEATS } from './thresholds.js';
import type { Draft } from './types.js';
import { count, niceCeil, plural, usd } from './words.js';

/** The rules about how a key is set up and used: caching, sharing, limits. */

export function cacheUnused(key: string, prefixes: readonly PrefixGroup[], ctx: RuleContext): Draft | null {
  if (!ctx.config || prefixes.length === 0) return null;
  let spend = 0;
  let requests = 0;
  let saving = 0;
  let tokens = 0;
  let anthropic = false;
  for (const p of prefixes) {
    const model = modelNamed(ctx.config, p.model, ctx.at);
    if (!model) continue;
    const price = inputPrices(model, ctx.at);
    // Each distinct prefix is written once (at the cache-write price) and read on every repeat.
    const perPrefix = p.prefixTokens / p.requests;
    const reads = p.prefixTokens - p.prefixes * perPrefix;
    const writes = p.prefixes * perPrefix;
    saving += (reads * (price.input - price.read) - writes * Math.max(0, price.write - price.input)) / 1e6;
    spend += p.costUsd;
    requests += p.requests;
    tokens += p.prefixTokens;
    anthropic ||= ctx.config.upstreams[model.upstream]?.format === 'anthropic';
  }
  if (requests === 0 || saving <= 0) return null;
  const how = anthropic
    ? 'Turn on prompt caching in the client: mark the system prompt and tools with `cache_control` (Anthropic caches only what is marked).'
    : 'Let the provider cache the prefix: keep the system prompt and tools byte-identical at the start of every request (OpenAI caches from 1,024 tokens on its own) and set `prompt_cache_key`.';
  return {
    key,
    kind: 'cache_unused',
    usd: spend,
    count: requests,
    detail: `${plural(requests, 'request')} (${usd(spend)}) repeated a prompt prefix of about ${count(Math.round(tokens / requests))} tokens ${PREFIX_REPEATS}+ times with no cache reads; caching it would have saved about ${usd(saving)}.`,
    suggestion: how,
  };
}

export function sharedKey(facts: KeyFacts): Draft | null {
  const total = facts.total.costUsd;
  if (total <= 0) return null;
  const clients = [...facts.clients.values()]
    .filter((c) => c.costUsd >= CLIENT_SHARE * total)
    .sort((a, b) => b.costUsd - a.costUsd);
  if (clients.length < 2) return null;
  const others = clients.slice(1);
  const shown = clients
    .slice(0, 4)
    .map((c) => `${c.family} from ${c.network} ${usd(c.costUsd)} (${plural(c.requests, 'request')})`)
    .join('; ');
  return {
    key: facts.key,
    kind: 'shared_key',
    usd: others.reduce((s, c) => s + c.costUsd, 0),
    count: others.reduce((s, c) => s + c.requests, 0),
    detail: `${clients.length} clients use this key: ${shown}${clients.length > 4 ? '; …' : ''}.`,
    suggestion: `Give each client a key of its own (\`tollgate keys new ${facts.key}-${others[0]?.family.toLowerCase().replace(/[^a-z0-9-]/g, '') || 'second'}\`) so each has its own limits and its spend shows apart.`,
  };
}

/** Limits of the key or of its group that bound its spend per day or month. */
function limited(config: Config, key: KeyConfig): boolean {
  if (key.limits.dailyUsd !== undefined || key.limits.monthlyUsd !== undefined) return true;
  const group = key.group ? config.groups?.[key.group] : undefined;
  return group?.limits.dailyUsd !== undefined || group?.limits.monthlyUsd !== undefined;
}

export function noLimit(
  facts: KeyFacts,
  config: Config | undefined,
  key: KeyConfig | undefined,
  maxDayUsd: number,
): Draft | null {
  if (!config || !key || limited(config, key) || facts.total.requests === 0) return null;
  const daily = niceCeil(2 * Math.max(maxDayUsd, 0.01));
  return {
    key: facts.key,
    kind: 'no_limit',
    usd: facts.total.costUsd,
    count: facts.total.requests,
    detail: `The key spent ${usd(facts.total.costUsd)} with neither \`daily_usd\` nor \`monthly_usd\` (its dearest day: ${usd(maxDayUsd)}); nothing stops a leak or a loop.`,
    suggestion: `Set \`daily_usd: ${daily}\` (twice its dearest day) and a \`monthly_usd\` on the key in keys.yaml.`,
  };
}
