import type { Config, KeyConfig } from '../config/types.js';
import { allowedModels } from '../policy/model-access.js';
import type { KeyFacts } from './key-facts.js';
import { inputOutputUsd, modelNamed, priceSums } from './prices.js';
import {
  CAPPED_SHARE,
  DAY_END_HOUR,
  DAY_START_HOUR,
  DEARER_FACTOR,
  LONG_INPUT_TOKENS,
  LONG_SHARE,
  MIN_REQUESTS,
  OFF_HOURS_SHARE,
  OUTPUT_SHARE,
  SMALL_TOKENS,
} from './thresholds.js';
import type { Draft } from './types.js';
import { count, niceCeil, percent, plural, usd } from './words.js';

/** The rules read from a key's spend by model: where the money went inside each request. */

export interface RuleContext {
  config: Config | undefined;
  /** Prices are taken at this instant (the end of the period). */
  at: number;
  /** Length of the period in ms. */
  periodMs: number;
  /** Input tokens of the key's request at a rank of its records sorted by input (median, p95). */
  inputAtRank(key: string, rank: number): Promise<number>;
}

/** Input and output parts of the key's spend, priced per model: the split the stored cost has not. */
function split(facts: KeyFacts, ctx: RuleContext): { input: number; output: number } {
  let input = 0;
  let output = 0;
  for (const m of facts.models.values()) {
    const model = ctx.config && modelNamed(ctx.config, m.model, ctx.at);
    if (!model) continue;
    const parts = inputOutputUsd(m, model, ctx.at);
    input += parts.input;
    output += parts.output;
  }
  const priced = input + output;
  return priced > 0 ? { input: input / priced, output: output / priced } : { input: 0, output: 0 };
}

export async function longContext(facts: KeyFacts, ctx: RuleContext): Promise<Draft | null> {
  const t = facts.total;
  if (t.longRequests < MIN_REQUESTS || t.longCostUsd < LONG_SHARE * t.costUsd) return null;
  const withInput = t.withInput;
  const [median, p95] = await Promise.all([
    ctx.inputAtRank(facts.key, Math.floor((withInput - 1) / 2)),
    ctx.inputAtRank(facts.key, Math.max(0, Math.ceil(0.95 * withInput) - 1)),
  ]);
  const { input } = split(facts, ctx);
  return {
    key: facts.key,
    kind: 'long_context',
    usd: t.longCostUsd,
    count: t.longRequests,
    detail: `${usd(t.longCostUsd)} of ${usd(t.costUsd)} went to ${plural(t.longRequests, 'request')} with ${count(LONG_INPUT_TOKENS)} or more input tokens; input is ${percent(input)} of the key's spend, median input ${count(median)} tokens, p95 ${count(p95)}.`,
    suggestion:
      'Send a smaller context: have the client trim history and attached files or start new conversations, and turn on prompt caching for the part that repeats.',
  };
}

export function verboseOutput(facts: KeyFacts, ctx: RuleContext, key: KeyConfig | undefined): Draft | null {
  const t = facts.total;
  const answered = t.requests - t.errors;
  const capped =
    t.cappedRequests >= MIN_REQUESTS && answered > 0 && t.cappedRequests >= CAPPED_SHARE * answered
      ? ({
          key: facts.key,
          kind: 'verbose_output',
          usd: t.cappedCostUsd,
          count: t.cappedRequests,
          detail: `${count(t.cappedRequests)} of ${plural(answered, 'answer')} (${percent(t.cappedRequests / answered)}) stopped at their output limit, costing ${usd(t.cappedCostUsd)}; a cut answer is often asked again.`,
          suggestion:
            'Ask for shorter answers in the prompt, or raise max_tokens in the client where cut answers are retried; a key-wide ceiling is `max_output_tokens` in keys.yaml.',
        } satisfies Draft)
      : null;
  const { output } = split(facts, ctx);
  const outputUsd = output * t.costUsd;
  const avg = t.requests > 0 ? t.outputTokens / t.requests : 0;
  const ceiling = niceCeil(2 * avg);
  const heavy =
    t.requests >= MIN_REQUESTS && output >= OUTPUT_SHARE
      ? ({
          key: facts.key,
          kind: 'verbose_output',
          usd: outputUsd,
          count: t.requests,
          detail: `Output is ${percent(output)} of the key's spend (${usd(outputUsd)} of ${usd(t.costUsd)}), ${count(Math.round(avg))} output tokens per request on average.`,
          suggestion: `Cap answers with \`max_output_tokens: ${count(ceiling)}\` on the key in keys.yaml${key?.limits.maxOutputTokens ? ` (now ${count(key.limits.maxOutputTokens)})` : ''}, or ask the client for shorter answers.`,
        } satisfies Draft)
      : null;
  if (capped && heavy) return capped.usd >= heavy.usd ? capped : heavy;
  return capped ?? heavy;
}

export function offHours(facts: KeyFacts, ctx: RuleContext, timeZone: string): Draft | null {
  const t = facts.total;
  if (t.offHoursRequests < MIN_REQUESTS || t.offHoursCostUsd < OFF_HOURS_SHARE * t.costUsd) return null;
  const offHoursInPeriod = (ctx.periodMs / 3_600_000) * ((24 - (DAY_END_HOUR - DAY_START_HOUR)) / 24);
  const perHour = offHoursInPeriod > 0 ? t.offHoursCostUsd / offHoursInPeriod : t.offHoursCostUsd;
  const hh = (h: number) => `${String(h).padStart(2, '0')}:00`;
  return {
    key: facts.key,
    kind: 'off_hours',
    usd: t.offHoursCostUsd,
    count: t.offHoursRequests,
    detail: `${usd(t.offHoursCostUsd)} (${percent(t.offHoursCostUsd / t.costUsd)}) in ${plural(t.offHoursRequests, 'request')} outside ${hh(DAY_START_HOUR)}–${hh(DAY_END_HOUR)} ${timeZone}: a background agent or a scheduled job?`,
    suggestion: `If nobody works then, give the job a key of its own with its own limits, or cap this one with \`hourly_usd: ${niceCeil(4 * perHour)}\` in keys.yaml so an unattended run stops within the hour.`,
  };
}

export function expensiveModel(facts: KeyFacts, ctx: RuleContext, key: KeyConfig | undefined): Draft | null {
  const { config } = ctx;
  if (!config || !key) return null;
  let best: Draft | null = null;
  for (const m of facts.models.values()) {
    if (m.smallRequests < MIN_REQUESTS) continue;
    const used = modelNamed(config, m.model, ctx.at);
    if (!used || used.outputPerMtok <= 0) continue;
    const sums = {
      requests: m.smallRequests,
      inputTokens: m.smallInputTokens,
      cachedTokens: m.smallCachedTokens,
      cacheWriteTokens: m.smallCacheWriteTokens,
      outputTokens: m.smallOutputTokens,
    };
    const here = priceSums(sums, used, ctx.at);
    const format = config.upstreams[used.upstream]?.format;
    // The dearest allowed model still DEARER_FACTOR times cheaper: the nearest in kind.
    let cheaper: { name: string; usd: number } | null = null;
    for (const other of allowedModels(config, key)) {
      if (other.glob || other.name === used.name || other.outputPerMtok <= 0) continue;
      if (config.upstreams[other.upstream]?.format !== format) continue;
      const there = priceSums(sums, other, ctx.at);
      if (there * DEARER_FACTOR > here) continue;
      if (!cheaper || there > cheaper.usd) cheaper = { name: other.name, usd: there };
    }
    if (!cheaper || (best && best.usd >= m.smallCostUsd)) continue;
    best = {
      key: facts.key,
      kind: 'expensive_model',
      usd: m.smallCostUsd,
      count: m.smallRequests,
      detail: `${usd(m.smallCostUsd)} on ${used.name} for ${plural(m.smallRequests, 'request')} under ${count(SMALL_TOKENS)} input and ${count(SMALL_TOKENS)} output tokens; the same tokens on ${cheaper.name} would have cost ${usd(cheaper.usd)}.`,
      suggestion: `Send small requests to ${cheaper.name} in the client, or narrow the key to it with \`models: [${cheaper.name}]\` in keys.yaml.`,
    };
  }
  return best;
}
