/**
 * Request fields that have the provider bill the same tokens at a multiple of the model's price
 * (docs/api.md#priced-modes). The price catalog carries no such prices, so tollgate could neither
 * reserve nor charge them: a request asking for one would be held and charged at the standard
 * price and billed several times that, past any hard budget. It is refused before anything is
 * reserved or forwarded, naming the field.
 *
 * - Anthropic's fast mode, `speed: "fast"`: 6 x Claude Opus 4.6's price (12 x above 200k input
 *   tokens), 2 x on later Opus models.
 * - OpenAI's priority processing, `service_tier: "priority"` (or `"fast"`, OpenRouter's alias):
 *   1.7 to 2.5 x the standard price (gpt-5 $2.50 / $20 per million input / output tokens against
 *   $1.25 / $10); `"ultrafast"`, a dearer tier still.
 *
 * A cheaper mode (`service_tier: "flex"`) is charged at the standard price: more than the bill,
 * never less.
 */
/** Priority processing by its names: OpenRouter takes `fast` for `priority`; `ultrafast` is dearer still. */
const PRIORITY_TIERS = new Set(['priority', 'fast', 'ultrafast']);

export function unmeteredPriceMode(body: Record<string, unknown>): string | undefined {
  if (body.speed === 'fast') return 'speed: "fast"';
  if (typeof body.service_tier === 'string' && PRIORITY_TIERS.has(body.service_tier))
    return `service_tier: ${JSON.stringify(body.service_tier)}`;
  return undefined;
}

/** The tiers OpenAI's own API bills at the standard price or below: charged at the standard price. */
const OPENAI_STANDARD_TIERS = new Set(['default', 'flex', 'scale']);

/**
 * OpenAI's own API: a request without `service_tier` (or with `"auto"`) is processed, and billed,
 * at its project's default tier, which the project's owner can set to a dearer one (priority, at
 * 1.7 to 2.5 x) where tollgate cannot see it. Such a request is sent with `"service_tier":
 * "default"`, the standard tier at the standard price (docs/api.md#priced-modes). Any tier but the
 * standard ones and flex (half price, charged at the standard price: more than the bill, never
 * less) is refused, by name: a tier OpenAI adds later has no price tollgate knows either.
 */
export function openaiServiceTier(body: Record<string, unknown>): { send?: 'default'; unknown?: string } {
  const tier = body.service_tier;
  if (tier === undefined || tier === null || tier === 'auto') return { send: 'default' };
  if (typeof tier === 'string' && OPENAI_STANDARD_TIERS.has(tier)) return {};
  return { unknown: `service_tier: ${shortJson(tier)}` };
}

/** A value as JSON, cut to 40 characters: an error names what was asked without echoing a whole body. */
function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}
