import type { BillingConfig } from '../config/types.js';
import { type AdminHttpOptions, getAdminJson } from './admin-http.js';
import { joinUrl, num, queryOf, readAllPages, str } from './report-pages.js';
import type { ProviderCost, ProviderReport, ProviderUsage } from './types.js';

/**
 * OpenAI's organization usage and costs reports (docs/bill-check.md#openai), read for one UTC
 * day at the upstream's base_url with `Authorization: Bearer <admin key>`:
 * `GET /organization/usage/{completions,embeddings,images,audio_speeches,audio_transcriptions}`
 * grouped by api_key_id and model, and, with a project_id, `GET /organization/costs` grouped by
 * api_key_id and line_item. Field names follow the API reference and the openai SDK's types
 * (`input_tokens` includes cached and cache-write tokens; `input_cached_tokens` are reads; audio: see
 * `tokensOf`).
 */

const USAGE_KINDS = [
  'completions',
  'embeddings',
  'images',
  'audio_speeches',
  'audio_transcriptions',
] as const;

export interface DayRange {
  /** Epoch ms of 00:00 UTC of the day, and of the next. */
  start: number;
  end: number;
}

/** Fields only the current form of the completions result has (openai SDK 6.x types). */
const BREAKDOWN_FIELDS = [
  'input_text_tokens',
  'input_uncached_tokens',
  'input_cached_text_tokens',
  'input_cached_audio_tokens',
  'output_text_tokens',
] as const;

/**
 * A completions result's tokens as the gateway's own records count them (src/metering/usage-reader.ts):
 * input and output all tokens, audio included, and the audio counted as a part of each, cached
 * audio too — so that `costWith` prices the provider's tokens exactly as it priced the requests.
 * The API documents two forms. The current one (with the per-modality breakdown) counts audio
 * inside `input_tokens`/`output_tokens`, `input_audio_tokens` being the uncached audio and
 * `input_cached_audio_tokens` the cached. The earlier one counts text only in `input_tokens`/
 * `output_tokens` and all audio apart in `input_audio_tokens`/`output_audio_tokens`; it does not
 * say how much audio was cached, so any cached audio is counted uncached there.
 */
function tokensOf(r: Record<string, unknown>) {
  const audioIn = num(r.input_audio_tokens);
  const audioOut = num(r.output_audio_tokens);
  if (BREAKDOWN_FIELDS.some((f) => typeof r[f] === 'number')) {
    return {
      input: num(r.input_tokens),
      cached: num(r.input_cached_tokens),
      inputAudio: audioIn + num(r.input_cached_audio_tokens),
      output: num(r.output_tokens),
      outputAudio: audioOut,
    };
  }
  return {
    input: num(r.input_tokens) + audioIn,
    cached: num(r.input_cached_tokens),
    inputAudio: audioIn,
    output: num(r.output_tokens) + audioOut,
    outputAudio: audioOut,
  };
}

function usageOf(kind: (typeof USAGE_KINDS)[number], r: Record<string, unknown>): ProviderUsage {
  const model = str(r.model) ?? '(no model)';
  const base = { model, apiKeyId: str(r.api_key_id), scopeId: str(r.project_id), contextWindow: null };
  const requests = typeof r.num_model_requests === 'number' ? r.num_model_requests : null;
  if (kind === 'completions' || kind === 'embeddings') {
    const t = tokensOf(r);
    const input = t.input;
    const cached = Math.min(t.cached, input);
    const write = Math.min(num(r.input_cache_write_tokens), input - cached);
    return {
      ...base,
      tokens: {
        input: input - cached - write,
        cached_input: cached,
        cache_write: write,
        output: t.output,
      },
      cacheWrite1h: 0,
      inputAudio: t.inputAudio,
      outputAudio: t.outputAudio,
      requests,
    };
  }
  const units =
    kind === 'images'
      ? { images: num(r.images) }
      : kind === 'audio_speeches'
        ? { characters: num(r.characters) }
        : { seconds: num(r.seconds) };
  return {
    ...base,
    tokens: { input: 0, cached_input: 0, cache_write: 0, output: 0 },
    cacheWrite1h: 0,
    inputAudio: 0,
    outputAudio: 0,
    requests,
    units,
  };
}

export async function readOpenAiReport(
  baseUrl: string,
  billing: BillingConfig,
  adminKey: string,
  day: DayRange,
  http: AdminHttpOptions = {},
): Promise<ProviderReport> {
  const headers = { authorization: `Bearer ${adminKey}`, accept: 'application/json' };
  const range = {
    start_time: Math.floor(day.start / 1000),
    end_time: Math.floor(day.end / 1000),
    bucket_width: '1d',
  };
  const scope = billing.projectId
    ? { project_ids: [billing.projectId] }
    : { api_key_ids: [billing.apiKeyId] };
  const inDay = (b: { start: number }) => b.start * 1000 >= day.start && b.start * 1000 < day.end;
  const usage: ProviderUsage[] = [];
  for (const kind of USAGE_KINDS) {
    const path = `/organization/usage/${kind}`;
    const buckets = await readAllPages(
      `OpenAI's ${kind} usage report`,
      (page) => {
        const q = queryOf({ ...range, group_by: ['api_key_id', 'model'], ...scope, page });
        return getAdminJson(joinUrl(baseUrl, path, q), headers, adminKey, http);
      },
      (b) => num(b.start_time),
    );
    for (const b of buckets.filter(inDay)) for (const r of b.results) usage.push(usageOf(kind, r));
  }
  if (!billing.projectId) return { usage };
  const buckets = await readAllPages(
    "OpenAI's costs report",
    (page) => {
      const q = queryOf({
        ...range,
        group_by: ['api_key_id', 'line_item'],
        project_ids: [billing.projectId as string],
        page,
      });
      return getAdminJson(joinUrl(baseUrl, '/organization/costs', q), headers, adminKey, http);
    },
    (b) => num(b.start_time),
  );
  const costs: ProviderCost[] = [];
  for (const b of buckets.filter(inDay)) {
    for (const r of b.results) {
      const amount = r.amount as { value?: unknown; currency?: unknown } | undefined;
      const line = str(r.line_item);
      if (!line || !amount || String(amount.currency ?? 'usd').toLowerCase() !== 'usd') continue;
      // `gpt-4o-mini-2024-07-18, input`: the model is what comes before the comma.
      const model = (line.split(',')[0] ?? line).trim();
      const value = typeof amount.value === 'number' ? amount.value : Number(amount.value);
      if (!Number.isFinite(value)) continue;
      costs.push({ model, scopeId: billing.projectId, apiKeyId: str(r.api_key_id), usd: value });
    }
  }
  return { usage, costs };
}
