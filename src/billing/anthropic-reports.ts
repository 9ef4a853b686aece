import type { BillingConfig } from '../config/types.js';
import { type AdminHttpOptions, getAdminJson } from './admin-http.js';
import type { DayRange } from './openai-reports.js';
import { joinUrl, num, queryOf, readAllPages, str } from './report-pages.js';
import type { ProviderCost, ProviderReport, ProviderUsage } from './types.js';

/**
 * Anthropic's Usage and Cost Admin API (docs/bill-check.md#anthropic), read for one UTC day at the
 * upstream's base_url with `x-api-key: <admin key>` and `anthropic-version`:
 * `GET /organizations/usage_report/messages` grouped by api_key_id, workspace_id, model,
 * context_window (the long-context tier its tokens were billed in) and inference_geo (US-only
 * inference is billed at 1.1 x every token price), and, with a workspace_id,
 * `GET /organizations/cost_report` grouped by workspace_id and description. Cost amounts are
 * decimal strings in cents. The cost report cannot be grouped by API key (the newer analytics
 * endpoint can, but needs a beta header and covers 2026 on), so its dollars are the workspace's
 * and the comparison shares them out by the tokens each key used.
 */

export const ANTHROPIC_VERSION = '2023-06-01';

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

function usageOf(r: Record<string, unknown>): ProviderUsage {
  const creation = (r.cache_creation ?? {}) as Record<string, unknown>;
  // The documented shape nests the writes by TTL; accept the flat names too.
  const w5 = num(creation.ephemeral_5m_input_tokens) || num(r.cache_creation_5m_input_tokens);
  const w1 = num(creation.ephemeral_1h_input_tokens) || num(r.cache_creation_1h_input_tokens);
  return {
    model: str(r.model) ?? '(no model)',
    apiKeyId: str(r.api_key_id),
    scopeId: str(r.workspace_id),
    tokens: {
      input: num(r.uncached_input_tokens),
      cached_input: num(r.cache_read_input_tokens),
      cache_write: w5 + w1,
      output: num(r.output_tokens),
    },
    cacheWrite1h: w1,
    inputAudio: 0,
    outputAudio: 0,
    requests: null,
    contextWindow: str(r.context_window),
    inferenceGeo: str(r.inference_geo),
  };
}

export async function readAnthropicReport(
  baseUrl: string,
  billing: BillingConfig,
  adminKey: string,
  day: DayRange,
  http: AdminHttpOptions = {},
): Promise<ProviderReport> {
  const headers = {
    'x-api-key': adminKey,
    'anthropic-version': ANTHROPIC_VERSION,
    accept: 'application/json',
  };
  const range = { starting_at: rfc3339(day.start), ending_at: rfc3339(day.end), bucket_width: '1d' };
  const startOf = (b: Record<string, unknown>) => Date.parse(String(b.starting_at ?? ''));
  const inDay = (b: { start: number }) => b.start >= day.start && b.start < day.end;
  const scope = billing.workspaceId
    ? { workspace_ids: [billing.workspaceId] }
    : { api_key_ids: [billing.apiKeyId] };
  const usageBuckets = await readAllPages(
    "Anthropic's messages usage report",
    (page) => {
      const q = queryOf({
        ...range,
        group_by: ['api_key_id', 'workspace_id', 'model', 'context_window', 'inference_geo'],
        ...scope,
        page,
      });
      return getAdminJson(
        joinUrl(baseUrl, '/organizations/usage_report/messages', q),
        headers,
        adminKey,
        http,
      );
    },
    startOf,
  );
  const usage = usageBuckets.filter(inDay).flatMap((b) => b.results.map(usageOf));
  if (!billing.workspaceId) return { usage };
  const costBuckets = await readAllPages(
    "Anthropic's cost report",
    (page) => {
      const q = queryOf({ ...range, group_by: ['workspace_id', 'description'], page });
      return getAdminJson(joinUrl(baseUrl, '/organizations/cost_report', q), headers, adminKey, http);
    },
    startOf,
  );
  const costs: ProviderCost[] = [];
  for (const b of costBuckets.filter(inDay)) {
    for (const r of b.results) {
      if (str(r.workspace_id) !== billing.workspaceId) continue;
      const model = str(r.model);
      if (!model || String(r.currency ?? 'USD').toUpperCase() !== 'USD') continue;
      // Cents, as a decimal string: "123.45" is $1.2345.
      const cents = Number(r.amount);
      if (!Number.isFinite(cents)) continue;
      costs.push({ model, scopeId: billing.workspaceId, apiKeyId: null, usd: cents / 100 });
    }
  }
  return { usage, costs };
}
