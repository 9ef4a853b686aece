import type { ModelConfig } from '../config/types.js';
import { costOf, NO_USAGE, type Usage } from '../pricing/pricing.js';
import type { UsageSource } from '../store/types.js';
import {
  costOfAudioSeconds,
  costOfCharacters,
  costOfImages,
  credibleSecondsMax,
  type MediaBound,
  type MediaUnits,
  perAudioSecond,
  speechPace,
} from './media-prices.js';
import type { MediaReader } from './media-usage.js';
import type { ExchangeEnd, Metered } from './meter.js';
import { implausibleUsage } from './plausible-usage.js';

/**
 * Settles an image or audio request: the provider's own usage where it reported one (image and
 * transcription tokens, whisper-1's `usage.seconds`, speech tokens in `speech.audio.done`), else
 * what the gateway read itself (the file's duration, the input's characters), else, for work the
 * provider bills but the gateway never saw the end of, the reservation. `usageSource` says which.
 */

export type MediaPlan =
  | { kind: 'images'; n: number; size?: string; quality?: string }
  | { kind: 'speech'; characters: number; speed: number }
  | { kind: 'transcription'; fileSeconds?: number };

export type MeteredMedia = Metered & { units: MediaUnits };

/**
 * Speech a token-priced voice produces, for an answer that reports no usage (the binary form):
 * about 15 characters a second at speed 1 (divided by a speed below 1, as the bound is), and
 * about 21 audio tokens a second (OpenAI's "about $0.015 a minute" at $12 per million). Charged
 * as an estimate, never above the reservation.
 */
const SPEECH_CHARS_PER_SECOND = 15;
const SPEECH_TOKENS_PER_SECOND = 21;
/** Input audio tokens per second, for a transcription that reports no tokens (text formats). */
const AUDIO_TOKENS_PER_SECOND = 10;
const CHARS_PER_TOKEN = 4;

const nothing = (units: MediaUnits = {}): MeteredMedia => ({
  usage: NO_USAGE,
  usageSource: 'none',
  costUsd: 0,
  units,
});

export function meterMedia(
  end: ExchangeEnd,
  reader: MediaReader,
  model: ModelConfig,
  ts: number,
  plan: MediaPlan,
  bound: MediaBound,
): MeteredMedia {
  if (!end.reachedUpstream) return nothing();
  const reported = reader.usage();
  const distrusted = reported && implausibleUsage(reported);
  const trusted = reported && !distrusted ? reported : undefined;
  const failed = end.completed && (end.upstreamStatus ?? 0) >= 400;
  if (failed && !trusted) return nothing();
  const charged = (usage: Usage, usageSource: UsageSource, units: MediaUnits, costUsd?: number) => ({
    usage,
    usageSource,
    costUsd: costUsd ?? costOf(usage, model, ts),
    units,
    ...(distrusted ? { distrusted } : {}),
  });
  const reservedCharge = (units: MediaUnits): MeteredMedia => ({
    usage: { ...NO_USAGE, inputTokens: bound.inputTokens, outputTokens: bound.outputTokens },
    usageSource: 'reserved',
    costUsd: bound.usd,
    units,
    ...(distrusted ? { distrusted } : {}),
  });

  switch (plan.kind) {
    case 'images': {
      const images = reader.images();
      if (model.units?.imageUsd !== undefined) {
        // Unit-priced images are billed per image the provider made: those it returned.
        if (end.completed && images > 0) {
          const made = { ...pick(plan), ...reader.imageShape() };
          return charged(NO_USAGE, 'provider', { images }, costOfImages(model, images, made, pick(plan)));
        }
        return failed ? nothing() : reservedCharge({ images: plan.n });
      }
      // A stream cut after some of its n images reported usage: the others are still made and
      // billed, as a generation cut short is (below), so the usage seen is not the bill.
      const cutShort = !end.completed && images < plan.n;
      if (trusted && !cutShort) {
        const units = { images: images || plan.n };
        const over = overCounted(reader, trusted, model, ts, bound);
        if (!over) return charged(trusted, 'provider', units);
        const last = over.last;
        return last && costOf(last, model, ts) > bound.usd
          ? { ...charged(last, 'provider', units), distrusted: over.why }
          : { ...reservedCharge(units), distrusted: over.why };
      }
      // A generation cut short is still made and billed: the reservation paid for the most it can be.
      return reservedCharge({ images: plan.n });
    }
    case 'speech': {
      const units = { characters: plan.characters };
      if (model.units?.inputPerMchar !== undefined)
        return charged(NO_USAGE, 'estimated', units, costOfCharacters(model, plan.characters));
      if (trusted) return charged(trusted, 'provider', units);
      // The bound's rule (speechPace): a speed below 1 lengthens it, one above does not shorten it.
      const seconds = plan.characters / SPEECH_CHARS_PER_SECOND / speechPace(plan.speed);
      const usage: Usage = {
        ...NO_USAGE,
        inputTokens: Math.min(bound.inputTokens, Math.ceil(plan.characters / CHARS_PER_TOKEN) + 1),
        outputTokens: Math.min(bound.outputTokens, Math.ceil(seconds * SPEECH_TOKENS_PER_SECOND)),
      };
      usage.outputAudioTokens = usage.outputTokens;
      return charged(usage, 'estimated', units);
    }
    case 'transcription': {
      const said = credibleSeconds(reader.seconds(), plan.fileSeconds);
      const fileSeconds = plan.fileSeconds === undefined ? undefined : Math.ceil(plan.fileSeconds);
      if (perAudioSecond(model, ts) !== undefined) {
        if (said !== undefined && Number.isFinite(said))
          return charged(NO_USAGE, 'provider', { audioSeconds: said }, costOfAudioSeconds(model, ts, said));
        const seconds = fileSeconds ?? 0;
        return charged(
          NO_USAGE,
          'estimated',
          { audioSeconds: seconds },
          costOfAudioSeconds(model, ts, seconds),
        );
      }
      const units = fileSeconds === undefined ? {} : { audioSeconds: plan.fileSeconds ?? 0 };
      if (trusted) return charged(trusted, 'provider', units);
      if (fileSeconds === undefined || !end.completed) return reservedCharge(units);
      const audio = Math.min(bound.inputTokens, Math.ceil(fileSeconds * AUDIO_TOKENS_PER_SECOND));
      const usage: Usage = {
        ...NO_USAGE,
        inputTokens: audio,
        inputAudioTokens: audio,
        outputTokens: Math.min(bound.outputTokens, Math.ceil(reader.textChars() / CHARS_PER_TOKEN)),
      };
      return charged(usage, 'estimated', units);
    }
  }
}

/**
 * The seconds a provider says it billed, unless they exceed what the uploaded file can last: the
 * file's duration (read from the file before forwarding) plus a second or a tenth of it for
 * rounding, which the reservation paid for (credibleSecondsMax). A longer claim is a broken
 * upstream, not audio, and would charge far past the key's limit; the file's duration is charged instead.
 */
function credibleSeconds(said: number | undefined, fileSeconds: number | undefined): number | undefined {
  if (said === undefined || fileSeconds === undefined) return said;
  return said > credibleSecondsMax(fileSeconds) ? Number.NaN : said;
}

/**
 * Why a stream's image usage, added up over its completed events, cannot be its images' own, or
 * undefined when it can be. OpenAI documents each `image_generation.completed` /
 * `image_edit.completed` event's usage as that image's (its `output_tokens` are "the image tokens
 * in the output image"), so they add up to the bill, within the bound (n x the dearest image and
 * what each reads). Its docs do not say so of the input outright, and an upstream that repeats the
 * whole request's usage (or a running total) on each event would be charged n times the bill.
 * Added up past the bound, the reports are such repeats: the charge is then the bound (the hold,
 * which covers the bill), or the last report where it is dearer (a repeated or running total is
 * the bill itself), never below the bill on either reading. Under the bound, the sum is charged:
 * the reading never below the bill.
 */
function overCounted(
  reader: MediaReader,
  summed: Usage,
  model: ModelConfig,
  ts: number,
  bound: MediaBound,
): { why: string; last?: Usage } | undefined {
  const { count, last } = reader.imageReports();
  if (count < 2) return undefined;
  const usd = costOf(summed, model, ts);
  if (usd <= bound.usd) return undefined;
  return {
    why: `${count} completed events' usage adds up to $${usd.toFixed(6)}, above the $${bound.usd.toFixed(6)} these images can cost: the upstream repeats the request's usage on each event`,
    ...(last ? { last } : {}),
  };
}

function pick(plan: { size?: string; quality?: string }): { size?: string; quality?: string } {
  return {
    ...(plan.size === undefined ? {} : { size: plan.size }),
    ...(plan.quality === undefined ? {} : { quality: plan.quality }),
  };
}
