import { GatewayError } from '../../errors.js';
import { estimateInputTokens, imageAllowanceOf } from '../../metering/estimate.js';
import { mayReasonUnseen } from '../../metering/hidden-output.js';
import { createUsageReader } from '../../metering/usage-reader.js';
import { createOutputFitter } from '../../policy/fit-output.js';
import { choiceCount, planOutput } from '../../policy/output-cap.js';
import { openaiServiceTier, unmeteredPriceMode } from '../../policy/price-modes.js';
import { extrasAsked, unpricedPart } from '../../policy/priced-models.js';
import { forcedUnmeteredTool, planServerTools } from '../../policy/server-tools.js';
import { explainUnseenInput, planUnseenInput } from '../../policy/unseen-input.js';
import { asksHourCache } from '../../pricing/cache-ttl.js';
import { cacheWritesOf } from '../../pricing/pricing.js';
import { searchPrices } from '../../pricing/search-fees.js';
import { US_INFERENCE_UPLIFT, upliftPrices } from '../../pricing/uplift.js';
import { prepareBody } from '../prepare-body.js';
import { parseJsonBody } from '../read-body.js';
import type { Route } from '../routes.js';
import type { RequestBound, Translator } from './translator.js';

/**
 * The JSON APIs (OpenAI's chat, completions, embeddings and responses; Anthropic's messages and
 * count_tokens): a JSON body in, a JSON or SSE response out. What differs between them is in the
 * route's entry (routes.ts: output field, usage kind, free) and in the policy functions that
 * read a route's own fields.
 */
export const jsonTranslator: Translator = {
  parse(raw) {
    const fields = parseJsonBody(raw);
    return { raw, fields, model: fields.model, stream: fields.stream === true };
  },

  check(request, route, key) {
    // A background response is answered at once with no usage and generated later, where the
    // gateway cannot meter or bound it: it would spend past any budget.
    if (route.kind === 'responses' && request.fields.background === true) {
      throw new GatewayError(
        'invalid_request',
        `key '${key.name}' sent a background response (background: true), which tollgate cannot meter: the answer is generated after the request ends. Send it without background, streaming if it is long.`,
      );
    }
    // A mode billed at a multiple of the model's price has no price to reserve or charge it at.
    const mode = route.free ? undefined : unmeteredPriceMode(request.fields);
    if (mode !== undefined) throw unmeteredMode(key.name, mode);
    // A hosted tool billed apart from tokens is taken out of `tools` when only advertised (bound), but
    // one the request forces cannot be taken out without changing what it asks for.
    const forced = forcedUnmeteredTool(request.fields, route.kind);
    if (forced !== undefined) {
      throw new GatewayError(
        'invalid_request',
        `key '${key.name}' forced the hosted tool ${forced} (tool_choice), which tollgate does not meter yet: the provider bills it apart from tokens (docs/api.md#hosted-tools). Send it without forcing ${forced}; a request that only lists it in tools is sent without it.`,
      );
    }
  },

  bound(request, { route, key, target, requestedModel, headers, ts }) {
    // A model priced only per image, character or minute has no token price to bound this route by.
    if (target.model.prices.length === 0) {
      throw new GatewayError(
        'invalid_request',
        `model '${target.model.name}' is priced per image, character or minute of audio (keys.yaml), not per token: it serves the images and audio routes, not ${route.path}.`,
      );
    }
    const parsed = request.fields;
    // An image is held at the most the model bills for one (gpt-4o-mini: up to 48,169 tokens).
    const images = imageAllowanceOf([target.model.name, requestedModel ?? '']);
    const inputEstimate = estimateInputTokens(request.raw.length, parsed, images);
    const mayReason = mayReasonUnseen(parsed, route.kind, [target.model.name, requestedModel ?? '']);
    const serverTools = planServerTools(parsed, route.kind);
    // The per-search fee depends on the model and on the web search tools listed (search-fees.ts).
    const searchTools = serverTools.webSearchTools;
    const model = searchTools ? searchPrices(target.model, searchTools) : target.model;
    // A part of the bill with no price or no bound (image output, search fees) is refused, not guessed.
    const unpriced = route.free
      ? undefined
      : unpricedPart(
          model,
          requestedModel,
          route.kind,
          serverTools.webSearches,
          ts,
          extrasAsked(request.raw, parsed),
          target.upstream.provider,
        );
    if (unpriced !== undefined) {
      throw new GatewayError(
        'invalid_request',
        `key '${key.name}' asked for model '${target.model.name}', which tollgate cannot meter on ${route.path}: it ${unpriced}.`,
      );
    }
    // Input stored at the provider (previous_response_id, a file by id) is billed but not in the body.
    const unseen = route.free
      ? undefined
      : planUnseenInput(parsed, route.kind, target.model, headers['anthropic-beta']);
    // Anthropic's US-only inference is billed at 1.1 x the model's prices.
    const usOnly = route.usage === 'anthropic-messages' && parsed.inference_geo === 'us';
    const fitter = createOutputFitter(
      planOutput(parsed, route.outputField, target.model, key),
      usOnly ? upliftPrices(model, US_INFERENCE_UPLIFT) : model,
      ts,
      {
        inputTokens: inputEstimate,
        // A prompt that asks for caching may be billed as cache writes, dearer than input; OpenAI
        // caches chat and Responses prompts without being asked.
        cacheWrites: cacheWritesOf(
          request.raw,
          route.usage === 'openai-chat' || route.usage === 'openai-responses',
        ),
        choices: choiceCount(parsed),
        webSearches: serverTools.webSearches,
        ...(unseen ? { contextWindow: unseen.contextWindow } : {}),
      },
    );
    const bound: RequestBound = { inputEstimate, mayReason, fitter };
    if (usOnly) bound.usOnly = true;
    // OpenAI-format usage does not say which writes were 1-hour ones (OpenRouter's Claude models), nor
    // does an Anthropic-format relay's that drops `cache_creation`: such writes are charged at the 1-hour price.
    if (asksHourCache(request.raw, parsed)) bound.hourCache = true;
    if (searchTools) bound.webSearchTools = searchTools;
    if (unseen) bound.why = explainUnseenInput(unseen, target.model);
    const tier = openaiTier(parsed, route, target.upstream.provider);
    if (tier.unknown !== undefined)
      throw new GatewayError(
        'invalid_request',
        `key '${key.name}' asked for ${tier.unknown}, a tier OpenAI may bill above the standard price, which tollgate has no price for (docs/api.md#priced-modes). Send default, flex or scale, or leave service_tier out.`,
      );
    if (serverTools.set || tier.send)
      bound.set = { ...serverTools.set, ...(tier.send ? { service_tier: tier.send } : {}) };
    if (serverTools.removed) bound.toolsRemoved = serverTools.removed;
    return bound;
  },

  prepare: (request, route, plan, bound) => prepareBody(request.raw, request.fields, route, plan, bound.set),

  usageReader: (route) => createUsageReader(route.usage),
};

const unmeteredMode = (key: string, mode: string) =>
  new GatewayError(
    'invalid_request',
    `key '${key}' asked for ${mode}, which tollgate does not meter yet: the provider bills it at a multiple of the model's price (docs/api.md#priced-modes). Send the request without it.`,
  );

/** The service tier sent to OpenAI's own chat and Responses APIs (price-modes.ts); nothing elsewhere. */
function openaiTier(
  parsed: Record<string, unknown>,
  route: Route,
  provider: string | undefined,
): ReturnType<typeof openaiServiceTier> {
  if (route.free || provider !== 'openai') return {};
  if (route.kind !== 'chat' && route.kind !== 'responses') return {};
  return openaiServiceTier(parsed);
}
