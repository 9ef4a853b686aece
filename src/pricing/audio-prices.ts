import { flat, type Tiered } from './pricing.js';

/**
 * Audio token prices of OpenAI's audio models that the price catalog lists with text prices only:
 * gpt-4o-audio-preview ($40 per million audio input tokens, $80 output, against $2.50 and $10 for
 * text) and gpt-4o-mini-audio-preview ($10 and $20, against $0.15 and $0.60), from their model
 * pages on OpenAI's docs ("Audio tokens"). Without them, audio was charged at the text price, 8 to
 * 66 x under the bill. The gpt-4o-audio-preview-2024-10-01 snapshot was priced higher ($100 and
 * $200 per third-party tables) and its page gives no figure: it gets none, and an audio request to
 * it is refused (policy/priced-models.ts).
 */
const OPENAI_AUDIO: Readonly<Record<string, { inputAudio: Tiered; outputAudio: Tiered }>> = {
  'gpt-4o-audio-preview': { inputAudio: flat(40), outputAudio: flat(80) },
  'gpt-4o-mini-audio-preview': { inputAudio: flat(10), outputAudio: flat(20) },
};

/** The snapshots whose audio price is not known, by name. */
export const UNPRICED_AUDIO_SNAPSHOT = /gpt-4o-audio-preview-2024-10-01/i;

/** A catalog model's audio prices where the catalog has none and OpenAI's docs give them. */
export function audioPricesOf(
  catalog: { id: string; providerId: string },
  has: { inputAudio?: Tiered },
): { inputAudio?: Tiered; outputAudio?: Tiered } {
  if (catalog.providerId !== 'openai' || has.inputAudio) return {};
  return OPENAI_AUDIO[catalog.id] ?? {};
}
