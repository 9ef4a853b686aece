import type { ModelConfig } from '../config/types.js';
import { costOf as costAt, NO_USAGE, priceAt, type Usage } from '../pricing/pricing.js';
import type { UsageSource } from '../store/types.js';
import { estimateOutputTokens } from './estimate.js';
import type { MediaUnits } from './media-prices.js';
import { implausibleUsage } from './plausible-usage.js';
import type { UsageReader } from './usage-reader.js';

/** How a forwarded exchange ended, as far as metering cares. */
export interface ExchangeEnd {
  /** True when the upstream body arrived whole. */
  completed: boolean;
  /** The upstream's status, when a response arrived. */
  upstreamStatus?: number;
  /** Whether the request reached the upstream, which may then bill for it. */
  reachedUpstream: boolean;
  /** Whether the whole request went out on an established connection (forward.ts); absent = reachedUpstream. */
  delivered?: boolean;
  /** The gateway cut the exchange (its client left, the upstream went past its timeout), not the upstream. */
  cutByGateway?: boolean;
  /** Whether the request asked for a stream (false: one JSON answer once all is generated). */
  stream?: boolean;
  /** Whether the request may be billed for reasoning it does not show (hidden-output.ts). */
  mayReason?: boolean;
}

/** What the request's reservation paid for. */
export interface ReservedBound {
  /** The output bound written into the request. */
  outputTokens: number;
  /** The USD reserved: the request's maximum cost. */
  usd: number;
}

export interface Metered {
  usage: Usage;
  usageSource: UsageSource;
  costUsd: number;
  /** Why the provider's own usage report was not trusted (then the estimate was charged). */
  distrusted?: string;
  /** What an image or audio request was, beside its tokens (media-meter.ts). */
  units?: MediaUnits;
}

/**
 * Tokens and cost of one forwarded request. The provider's numbers when it sent them and they
 * are plausible (plausible-usage.ts); otherwise an estimate (input from the request body, output
 * from the text streamed so far) whenever the upstream may have done work: a request cut short
 * is still paid for.
 *
 * The text is all a cut exchange is charged for only where the text is all the provider billed.
 * When the gateway itself cut a request the upstream had in full (its client left, or the upstream
 * went past its timeout), two cases bill what the gateway never sees, and are charged the
 * reservation (`reserved`). (An upstream that broke off or answered an error failed the request
 * itself, which providers do not bill as a generation: the estimate, as for any cut.)
 * - A non-streamed request cut before its answer arrived. There is no text to estimate from, and
 *   the provider does not stop: OpenAI finishes a non-streamed completion whose connection closed
 *   and bills all of it (only a
 *   stream's generation stops when its connection closes), and the work is done before the first
 *   byte of the answer is sent. What it cost is unknown up to the bound the reservation paid for.
 * - A stream cut while the model may have been reasoning (it said so, or the request or model
 *   reasons by default): reasoning tokens are billed as output and shown as no text, or as a
 *   summary. The provider's input count, when it sent one (Anthropic's message_start), is kept.
 */
/**
 * On a model that prices image output apart (Gemini's image models, $30 to $120 per million tokens
 * against $2.50 to $12 for text), output the report does not break down (no `image_tokens`, or no
 * report at all) may all be image: it is charged at the image price, the most it can be billed,
 * as the reservation held it (docs/api.md#image-output).
 */
function imageOutputAsImage(usage: Usage, model: ModelConfig, ts: number): Usage {
  if (usage.outputImageTokens !== undefined || model.prices.length === 0) return usage;
  if (!priceAt(model.prices, ts).outputImage) return usage;
  return { ...usage, outputImageTokens: usage.outputTokens };
}

const costOf = (usage: Usage, model: ModelConfig, ts: number): number =>
  costAt(imageOutputAsImage(usage, model, ts), model, ts);

export function meterExchange(
  end: ExchangeEnd,
  reader: UsageReader,
  model: ModelConfig,
  inputEstimate: number,
  free: boolean,
  ts: number,
  bound?: ReservedBound,
): Metered {
  if (free) return { usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
  const outputBound = bound?.outputTokens ?? Number.POSITIVE_INFINITY;
  // The bound is written into the request, so no answer is longer: text estimated past it (a
  // long unparsed SSE line counted as text) is not output the provider can bill.
  const streamedOutput = Math.min(estimateOutputTokens(reader.textChars()), outputBound);
  const estimate = (): Metered => {
    const usage = {
      inputTokens: inputEstimate,
      outputTokens: streamedOutput,
      cachedTokens: 0,
      cacheWriteTokens: 0,
    };
    return { usage, usageSource: 'estimated', costUsd: costOf(usage, model, ts) };
  };
  const reported = reader.usage();
  const distrusted = reported && implausibleUsage(reported);
  const unseen =
    bound !== undefined &&
    !end.completed &&
    end.cutByGateway === true &&
    (end.delivered ?? end.reachedUpstream) &&
    // An error answer (headers came, the body broke off) is not a generation the provider bills.
    (end.upstreamStatus ?? 0) < 400 &&
    !(reader.final() && !distrusted) &&
    (end.stream === false || end.mayReason === true || reader.reasoned());
  if (unseen) {
    const partial = reported && !distrusted ? reported : undefined;
    const usage: Usage = partial
      ? { ...partial, outputTokens: Math.max(partial.outputTokens, bound.outputTokens) }
      : {
          inputTokens: inputEstimate,
          outputTokens: bound.outputTokens,
          cachedTokens: 0,
          cacheWriteTokens: 0,
        };
    // Without the provider's input count, the reserved amount itself: it priced input at the
    // dearest way it can be billed (cache writes), which the tokens alone do not say.
    const costUsd = partial ? costOf(usage, model, ts) : Math.max(bound.usd, costOf(usage, model, ts));
    return { usage, usageSource: 'reserved', costUsd, ...(distrusted ? { distrusted } : {}) };
  }
  if (reported && !distrusted) {
    // A stream cut short can carry a partial count (Anthropic's message_start says 1 output token).
    const outputTokens = end.completed
      ? reported.outputTokens
      : Math.max(reported.outputTokens, streamedOutput);
    const usage = { ...reported, outputTokens };
    const usageSource = outputTokens > reported.outputTokens ? 'estimated' : 'provider';
    try {
      return { usage, usageSource, costUsd: costOf(usage, model, ts) };
    } catch (err) {
      // Plausible counts at the configured prices still overflow: the estimate's smaller counts.
      return { ...estimate(), distrusted: err instanceof Error ? err.message : String(err) };
    }
  }
  // A report that cannot be true is no report: the upstream did work, charge what it may have cost.
  if (distrusted) return { ...estimate(), distrusted };
  // An error answer without usage: the provider does not bill it.
  if (end.completed && (end.upstreamStatus ?? 0) >= 400)
    return { usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
  if (end.reachedUpstream) return estimate();
  return { usage: NO_USAGE, usageSource: 'none', costUsd: 0 };
}
