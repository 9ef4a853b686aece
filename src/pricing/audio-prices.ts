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

/**
 * Names of models whose audio tokens are billed at a price of their own wherever they are served:
 * OpenAI's audio and realtime models (`gpt-4o-audio-preview`, `gpt-audio`, `gpt-realtime`, through
 * OpenRouter as `openai/…`), OpenRouter's `openai/` and `mistralai/voxtral` entries, and Gemini's
 * Flash models (gemini-2.0-flash: $0.70 per million audio input tokens against $0.10 for text;
 * gemini-2.5-flash: $1.00 against $0.30; Google's pricing page; `gemini-flash-latest` too),
 * except gemini-2.0-flash-lite, which bills audio at its text price.
 */
const AUDIO_APART_NAME =
  /(^|[/:])(openai\/|mistralai\/voxtral|gpt-[\w.-]*(audio|realtime)|gemini-(?!2\.0-flash-lite)([\d.]+-)?flash)/i;

/** Providers whose APIs bill every model's audio tokens apart from text: OpenAI and Azure OpenAI, and Mistral (Voxtral, per minute). */
const AUDIO_APART_PROVIDER = new Set(['openai', 'azure', 'mistral']);

/**
 * Whether audio to or from a model served by `provider` (its upstream's catalog provider) under
 * `names` is billed apart from its text tokens, so that a table with no audio price would charge it
 * under the bill. Elsewhere (Gemini's Pro models, whose audio input is billed at the text price; a
 * self-hosted model priced in keys.yaml, Qwen-Omni or Voxtral on vLLM) the text price is the bill.
 */
export function billsAudioApart(provider: string | undefined, names: readonly string[]): boolean {
  if (provider !== undefined && AUDIO_APART_PROVIDER.has(provider)) return true;
  return names.some((n) => AUDIO_APART_NAME.test(n));
}
