import type { ModelConfig } from '../config/types.js';
import type { RouteKind } from '../metering/route-kind.js';
import { priceAt } from '../pricing/pricing.js';

/**
 * Models whose bill has a part a token route cannot price or count, refused before anything is
 * reserved or forwarded (docs/api.md#image-output): a budget must be a
 * true upper bound, so a part with no price or no bound is not guessed at.
 */

/**
 * Models that draw images in a chat answer: Gemini's image models (`gemini-2.5-flash-image`,
 * `gemini-3-pro-image-preview`, `gemini-2.0-flash-preview-image-generation`) and OpenAI's
 * `gpt-5-image` family as relays serve them, with or without a `google/` or `openai/` prefix.
 */
const IMAGE_OUTPUT_NAME = /(^|[/:])(gemini-[\w.-]*-image|gpt-[\d.]+-image)/i;

const namesOf = (model: ModelConfig, requested: string | undefined): string[] =>
  [model.name, requested ?? '', model.catalogId ?? ''].filter((n) => n !== '');

/**
 * Why `model` cannot be metered on `route`, or undefined when it can: the sentence after "model 'X' ".
 * - A model that prices image output apart is metered on chat completions only, whose usage reports
 *   `completion_tokens_details.image_tokens`; a model named as an image model with no image output
 *   price (a relay's catalog entry carries text prices only) is refused unless keys.yaml sets its
 *   `output_per_mtok`.
 */
export function unpricedPart(
  model: ModelConfig,
  requested: string | undefined,
  route: RouteKind,
  ts: number,
): string | undefined {
  const names = namesOf(model, requested);
  const table = priceAt(model.prices, ts);
  const drawsImages = table.outputImage !== undefined || names.some((n) => IMAGE_OUTPUT_NAME.test(n));
  if (drawsImages && route !== 'chat')
    return 'draws images, billed at an image output price only /v1/chat/completions reports the tokens of (docs/api.md#image-output). Send it there';
  if (drawsImages && table.outputImage === undefined && model.explicit.output === undefined)
    return "draws images, and the price catalog has no image output price for it (docs/api.md#image-output). Set its output_per_mtok in keys.yaml to the provider's image output price";
  return undefined;
}
