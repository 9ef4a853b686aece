/**
 * Request fields that have the provider bill the same tokens at a multiple of the model's price
 * (docs/api.md#priced-modes). The price catalog carries no such prices, so tollgate could neither
 * reserve nor charge them: a request asking for one would be held and charged at the standard
 * price and billed several times that, past any hard budget. It is refused before anything is
 * reserved or forwarded, naming the field.
 *
 * - Anthropic's fast mode, `speed: "fast"`: 6 x Claude Opus 4.6's price (12 x above 200k input
 *   tokens), 2 x on later Opus models.
 * - OpenAI's priority processing, `service_tier: "priority"`: 1.7 to 2.5 x the standard price
 *   (gpt-5 $2.50 / $20 per million input / output tokens against $1.25 / $10).
 *
 * A cheaper mode (`service_tier: "flex"`) is charged at the standard price: more than the bill,
 * never less.
 */
export function unmeteredPriceMode(body: Record<string, unknown>): string | undefined {
  if (body.speed === 'fast') return 'speed: "fast"';
  if (body.service_tier === 'priority') return 'service_tier: "priority"';
  return undefined;
}
