import type { Usage } from '../pricing/pricing.js';

/**
 * Reads the provider's own token counts out of one response, whole (JSON) or event by event
 * (SSE), plus the length of the generated text for when no counts ever come. One reader per
 * request: it keeps the stream's state.
 */
export interface UsageReader {
  readJson(body: unknown): void;
  /** A whole response body that is not JSON (a transcription's text, srt or vtt); most readers ignore it. */
  readText?(text: string): void;
  /** One SSE `data:` payload, already parsed. */
  readEvent(data: unknown): void;
  usage(): Usage | undefined;
  /** Characters of generated text seen so far (for the estimate when `usage()` is undefined). */
  textChars(): number;
  /** Whether `usage()` is the provider's final count (not Anthropic's opening `message_start`). */
  final(): boolean;
  /**
   * Whether the response showed reasoning whose tokens its text need not carry: a Responses
   * `reasoning` item (hidden, or only summarised), an Anthropic `thinking` block (Claude 4
   * streams a summary and bills the whole) or `redacted_thinking` block.
   */
  reasoned(): boolean;
  /** Where an Anthropic answer says inference ran (`usage.inference_geo`: `us` is billed 1.1 x). */
  inferenceGeo?(): string | undefined;
  /**
   * Whether the answer said which cache writes were 1-hour ones (Anthropic's `usage.cache_creation`);
   * a reader without it never does (OpenAI-format usage counts all writes as one).
   */
  splitsCacheTtl?(): boolean;
}

export type UsageKind =
  | 'openai-chat'
  | 'openai-responses'
  | 'openai-embeddings'
  | 'anthropic-messages'
  | 'none';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/**
 * A token count: 0 when absent, NaN when present but not a count (a string, a negative, a
 * fraction, 1e308), so that implausibleUsage (plausible-usage.ts) can refuse the whole report
 * instead of it being charged as 0 or as Infinity.
 */
const num = (v: unknown): number =>
  v === undefined || v === null
    ? 0
    : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
      ? v
      : Number.NaN;
/** A count that is there (an Anthropic delta restates only some of them). */
const present = (v: unknown): boolean => v !== undefined && v !== null;
const len = (v: unknown): number => (typeof v === 'string' ? v.length : 0);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * OpenAI `usage` of chat completions and completions: `prompt_tokens` is all input, its
 * `cached_tokens` the cache reads, its `cache_write_tokens` the cache writes (GPT-5.6 and later
 * bill them at 1.25 x input; OpenRouter reports Anthropic's there too) and `audio_tokens` the
 * audio; `completion_tokens` is all output, its `reasoning_tokens`, `audio_tokens` and
 * `image_tokens` (what a Gemini image model drew, as LiteLLM and OpenRouter report it) parts of it.
 */
function openaiUsage(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const input = isObject(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const output = isObject(u.completion_tokens_details) ? u.completion_tokens_details : {};
  const reasoning = num(output.reasoning_tokens);
  return {
    inputTokens: num(u.prompt_tokens),
    outputTokens:
      num(u.completion_tokens) +
      (reasoningApart(u, num(u.prompt_tokens), num(u.completion_tokens), reasoning) ? reasoning : 0),
    cachedTokens: num(input.cached_tokens),
    cacheWriteTokens: num(input.cache_write_tokens),
    reasoningTokens: reasoning,
    inputAudioTokens: num(input.audio_tokens),
    ...cachedAudio(input),
    outputAudioTokens: num(output.audio_tokens),
    // Left out when not reported: an image model's output is then charged as image (meter.ts).
    ...(present(output.image_tokens) ? { outputImageTokens: num(output.image_tokens) } : {}),
  };
}

/** The cached part of the audio input, where the answer breaks its cache reads down (`cached_tokens_details`). */
function cachedAudio(input: Json): { cachedAudioTokens?: number } {
  const details = input.cached_tokens_details;
  return isObject(details) && present(details.audio_tokens)
    ? { cachedAudioTokens: num(details.audio_tokens) }
    : {};
}

/**
 * xAI's chat API counts reasoning apart from `completion_tokens` (and bills it as output), where
 * OpenAI counts it inside: its `total_tokens` is prompt + completion + reasoning. The total tells
 * the two apart, whichever upstream (or relay) sent the report, and on either route: a Responses
 * report whose `total_tokens` is input + output + reasoning counts its reasoning apart too.
 */
function reasoningApart(u: Json, input: number, output: number, reasoning: number): boolean {
  return reasoning > 0 && typeof u.total_tokens === 'number' && u.total_tokens === input + output + reasoning;
}

/** Responses API `usage`: the same counts under the Responses names. */
function responsesUsage(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const input = isObject(u.input_tokens_details) ? u.input_tokens_details : {};
  const output = isObject(u.output_tokens_details) ? u.output_tokens_details : {};
  const reasoning = num(output.reasoning_tokens);
  return {
    inputTokens: num(u.input_tokens),
    outputTokens:
      num(u.output_tokens) +
      (reasoningApart(u, num(u.input_tokens), num(u.output_tokens), reasoning) ? reasoning : 0),
    cachedTokens: num(input.cached_tokens),
    cacheWriteTokens: num(input.cache_write_tokens),
    reasoningTokens: reasoning,
  };
}

function chatText(choice: unknown): number {
  if (!isObject(choice)) return 0;
  let n = len(choice.text);
  for (const part of [choice.message, choice.delta]) {
    if (!isObject(part)) continue;
    n += len(part.content) + len(part.reasoning_content) + len(part.refusal);
    for (const call of list(part.tool_calls)) {
      if (isObject(call) && isObject(call.function)) n += len(call.function.arguments);
    }
  }
  return n;
}

function createOpenaiChatReader(): UsageReader {
  let usage: Usage | undefined;
  let chars = 0;
  return {
    readJson(body) {
      if (!isObject(body)) return;
      usage = openaiUsage(body.usage) ?? usage;
      for (const c of list(body.choices)) chars += chatText(c);
    },
    readEvent(data) {
      if (!isObject(data)) return;
      usage = openaiUsage(data.usage) ?? usage;
      for (const c of list(data.choices)) chars += chatText(c);
    },
    usage: () => usage,
    textChars: () => chars,
    final: () => usage !== undefined,
    // Chat streams never show hidden reasoning: the request says whether it may (hidden-output.ts).
    reasoned: () => false,
  };
}

/** OpenAI bills each hosted web search call of a response (`web_search_call` output items). */
const webSearchCalls = (output: unknown): number =>
  list(output).filter((item) => isObject(item) && item.type === 'web_search_call').length;

function withSearches(usage: Usage | undefined, searches: number): Usage | undefined {
  return usage && searches > 0 ? { ...usage, webSearches: searches } : usage;
}

function createResponsesReader(): UsageReader {
  let usage: Usage | undefined;
  let chars = 0;
  let reasoned = false;
  const isReasoning = (item: unknown) => isObject(item) && item.type === 'reasoning';
  return {
    readJson(body) {
      if (!isObject(body)) return;
      usage = withSearches(responsesUsage(body.usage), webSearchCalls(body.output)) ?? usage;
      for (const item of list(body.output)) {
        if (!isObject(item)) continue;
        for (const part of list(item.content)) if (isObject(part)) chars += len(part.text);
        chars += len(item.arguments);
      }
    },
    readEvent(data) {
      if (!isObject(data)) return;
      // response.completed, response.incomplete and response.failed all carry the final usage.
      if (isObject(data.response))
        usage =
          withSearches(responsesUsage(data.response.usage), webSearchCalls(data.response.output)) ?? usage;
      if (isReasoning(data.item)) reasoned = true;
      chars += len(data.delta);
    },
    usage: () => usage,
    textChars: () => chars,
    final: () => usage !== undefined,
    reasoned: () => reasoned,
  };
}

function createEmbeddingsReader(): UsageReader {
  let usage: Usage | undefined;
  return {
    readJson(body) {
      if (isObject(body) && isObject(body.usage)) {
        usage = {
          inputTokens: num(body.usage.prompt_tokens),
          outputTokens: 0,
          cachedTokens: 0,
          cacheWriteTokens: 0,
        };
      }
    },
    readEvent() {},
    usage: () => usage,
    textChars: () => 0,
    final: () => usage !== undefined,
    reasoned: () => false,
  };
}

/**
 * Anthropic counts uncached, cache-read and cache-write input separately; the gateway's input is
 * their sum, its cached part the cache reads and its cache-write part the writes, of which
 * `cache_creation.ephemeral_1h_input_tokens` were written for an hour (billed 2 x input instead
 * of 1.25 x). A stream reports them in `message_start` and the (cumulative) output in
 * `message_delta`, which may also restate the input counts.
 */
function createAnthropicReader(): UsageReader {
  const counts = {
    input: 0,
    cacheRead: 0,
    cacheWrite: 0,
    cacheWrite5m: 0,
    cacheWrite1h: 0,
    output: 0,
    webSearches: 0,
  };
  let seen = false;
  let split = false;
  let final = false;
  let reasoned = false;
  let chars = 0;
  let geo: string | undefined;
  const fold = (u: unknown) => {
    if (!isObject(u)) return;
    seen = true;
    if (typeof u.inference_geo === 'string') geo = u.inference_geo;
    if (present(u.input_tokens)) counts.input = num(u.input_tokens);
    if (present(u.cache_read_input_tokens)) counts.cacheRead = num(u.cache_read_input_tokens);
    if (present(u.cache_creation_input_tokens)) counts.cacheWrite = num(u.cache_creation_input_tokens);
    if (isObject(u.cache_creation)) {
      split = true;
      const c = u.cache_creation;
      if (present(c.ephemeral_5m_input_tokens)) counts.cacheWrite5m = num(c.ephemeral_5m_input_tokens);
      if (present(c.ephemeral_1h_input_tokens)) counts.cacheWrite1h = num(c.ephemeral_1h_input_tokens);
    }
    if (present(u.output_tokens)) counts.output = num(u.output_tokens);
    // Billed per search; message_delta carries the count (cumulative), so the last one wins.
    if (isObject(u.server_tool_use) && present(u.server_tool_use.web_search_requests))
      counts.webSearches = num(u.server_tool_use.web_search_requests);
  };
  return {
    readJson(body) {
      if (!isObject(body)) return;
      fold(body.usage);
      final ||= isObject(body.usage);
      for (const block of list(body.content))
        if (isObject(block)) chars += len(block.text) + len(block.thinking);
    },
    readEvent(data) {
      if (!isObject(data)) return;
      if (data.type === 'message_start' && isObject(data.message)) fold(data.message.usage);
      else if (data.type === 'message_delta') {
        fold(data.usage);
        final ||= isObject(data.usage);
      } else if (data.type === 'content_block_start' && isObject(data.content_block)) {
        const type = data.content_block.type;
        if (type === 'thinking' || type === 'redacted_thinking') reasoned = true;
      } else if (data.type === 'content_block_delta' && isObject(data.delta)) {
        chars += len(data.delta.text) + len(data.delta.partial_json) + len(data.delta.thinking);
      }
    },
    usage: () => {
      if (!seen) return undefined;
      // The total and its TTL breakdown should agree; if only one is sent, it is the count.
      const writes = Math.max(counts.cacheWrite, counts.cacheWrite5m + counts.cacheWrite1h);
      return {
        inputTokens: counts.input + counts.cacheRead + writes,
        outputTokens: counts.output,
        cachedTokens: counts.cacheRead,
        cacheWriteTokens: writes,
        cacheWrite1hTokens: counts.cacheWrite1h,
        ...(counts.webSearches !== 0 ? { webSearches: counts.webSearches } : {}),
      };
    },
    textChars: () => chars,
    final: () => final,
    reasoned: () => reasoned,
    inferenceGeo: () => geo,
    splitsCacheTtl: () => split,
  };
}

function createNoneReader(): UsageReader {
  return {
    readJson() {},
    readEvent() {},
    usage: () => undefined,
    textChars: () => 0,
    final: () => false,
    reasoned: () => false,
  };
}

export function createUsageReader(kind: UsageKind): UsageReader {
  switch (kind) {
    case 'openai-chat':
      return createOpenaiChatReader();
    case 'openai-responses':
      return createResponsesReader();
    case 'openai-embeddings':
      return createEmbeddingsReader();
    case 'anthropic-messages':
      return createAnthropicReader();
    case 'none':
      return createNoneReader();
  }
}
