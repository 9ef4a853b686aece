import { describe, expect, it } from 'vitest';
import { readAnthropicReport } from '../../../src/billing/anthropic-reports.js';
import { readOpenAiReport } from '../../../src/billing/openai-reports.js';

const DAY = { start: Date.parse('2026-11-20T00:00:00Z'), end: Date.parse('2026-11-21T00:00:00Z') };
const ADMIN = 'sk-admin-reports-test-0123456789';

/** A fetch answering by path; every answer one page. */
function byPath(answers: Record<string, unknown>) {
  const urls: string[] = [];
  const f = (async (url: string) => {
    urls.push(url);
    const path = new URL(url).pathname;
    const body = answers[path] ?? { object: 'page', data: [], has_more: false, next_page: null };
    return new Response(JSON.stringify(body), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  }) as unknown as typeof fetch;
  return { f, urls };
}

const bucket = (start: number, results: unknown[]) => ({
  object: 'bucket',
  start_time: start / 1000,
  end_time: start / 1000 + 86_400,
  results,
});

describe("OpenAI's usage and costs reports", () => {
  it('reads tokens by kind, media units and the key’s dollars by line item, for the day only', async () => {
    const { f, urls } = byPath({
      '/v1/organization/usage/completions': {
        object: 'page',
        data: [
          bucket(DAY.start, [
            {
              object: 'organization.usage.completions.result',
              input_tokens: 1000,
              input_cached_tokens: 300,
              input_cache_write_tokens: 100,
              output_tokens: 50,
              num_model_requests: 4,
              api_key_id: 'key_a',
              model: 'gpt-4o-mini-2024-07-18',
            },
          ]),
          // A bucket of another day (a provider that ignores end_time) is not this day's.
          bucket(DAY.end, [
            { input_tokens: 9, output_tokens: 9, num_model_requests: 1, api_key_id: 'key_a', model: 'x' },
          ]),
        ],
        has_more: false,
        next_page: null,
      },
      '/v1/organization/usage/images': {
        object: 'page',
        data: [
          bucket(DAY.start, [
            { images: 3, num_model_requests: 2, api_key_id: 'key_a', model: 'dall-e-3', size: '1024x1024' },
          ]),
        ],
        has_more: false,
        next_page: null,
      },
      '/v1/organization/costs': {
        object: 'page',
        data: [
          bucket(DAY.start, [
            {
              object: 'organization.costs.result',
              amount: { value: 0.25, currency: 'usd' },
              line_item: 'gpt-4o-mini-2024-07-18, input',
              api_key_id: 'key_a',
              project_id: 'proj_x',
            },
            {
              object: 'organization.costs.result',
              amount: { value: 0.5, currency: 'usd' },
              line_item: 'gpt-4o-mini-2024-07-18, output',
              api_key_id: 'key_a',
              project_id: 'proj_x',
            },
          ]),
        ],
        has_more: false,
        next_page: null,
      },
    });
    const report = await readOpenAiReport(
      'https://api.example.com/v1/',
      { adminKeyEnv: 'A', apiKeyId: 'key_a', projectId: 'proj_x' },
      ADMIN,
      DAY,
      { fetch: f },
    );
    expect(report.usage).toEqual([
      expect.objectContaining({
        model: 'gpt-4o-mini-2024-07-18',
        apiKeyId: 'key_a',
        tokens: { input: 600, cached_input: 300, cache_write: 100, output: 50 },
        requests: 4,
      }),
      expect.objectContaining({ model: 'dall-e-3', units: { images: 3 }, requests: 2 }),
    ]);
    expect(report.costs).toEqual([
      { model: 'gpt-4o-mini-2024-07-18', scopeId: 'proj_x', apiKeyId: 'key_a', usd: 0.25 },
      { model: 'gpt-4o-mini-2024-07-18', scopeId: 'proj_x', apiKeyId: 'key_a', usd: 0.5 },
    ]);
    expect(urls[0]).toBe(
      'https://api.example.com/v1/organization/usage/completions?start_time=1795132800&end_time=1795219200&bucket_width=1d&group_by%5B%5D=api_key_id&group_by%5B%5D=model&project_ids%5B%5D=proj_x',
    );
    expect(urls).toHaveLength(6);
  });

  it('refuses an answer whose shape drifted rather than reading it as a day without usage', async () => {
    const { f } = byPath({ '/v1/organization/usage/completions': { data: 'nope' } });
    await expect(
      readOpenAiReport('https://api.example.com/v1', { adminKeyEnv: 'A', apiKeyId: 'key_a' }, ADMIN, DAY, {
        fetch: f,
      }),
    ).rejects.toThrow("OpenAI's completions usage report answered a body without data and has_more");
  });
});

describe("Anthropic's usage and cost reports", () => {
  it('reads the cache writes by TTL, the context-window tier, the inference geo, and cents as dollars', async () => {
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
    const { f, urls } = byPath({
      '/v1/organizations/usage_report/messages': {
        data: [
          {
            starting_at: iso(DAY.start),
            ending_at: iso(DAY.end),
            results: [
              {
                uncached_input_tokens: 1500,
                cache_creation: { ephemeral_1h_input_tokens: 1000, ephemeral_5m_input_tokens: 500 },
                cache_read_input_tokens: 200,
                output_tokens: 500,
                server_tool_use: { web_search_requests: 10 },
                api_key_id: 'apikey_01Rj2N8SVvo6BePZj99NhmiT',
                workspace_id: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
                model: 'claude-sonnet-4-20250514',
                service_tier: 'standard',
                context_window: '200k-1M',
                inference_geo: 'us',
              },
            ],
          },
        ],
        has_more: false,
        next_page: null,
      },
      '/v1/organizations/cost_report': {
        data: [
          {
            starting_at: iso(DAY.start),
            ending_at: iso(DAY.end),
            results: [
              {
                currency: 'USD',
                amount: '123.45',
                workspace_id: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
                description: 'Claude Sonnet 4 Usage - Input Tokens',
                cost_type: 'tokens',
                model: 'claude-sonnet-4-20250514',
                token_type: 'uncached_input_tokens',
              },
              {
                currency: 'USD',
                amount: '999',
                workspace_id: 'wrkspc_other',
                cost_type: 'tokens',
                model: 'claude-sonnet-4-20250514',
              },
            ],
          },
        ],
        has_more: false,
        next_page: null,
      },
    });
    const report = await readAnthropicReport(
      'https://api.example.com/v1',
      {
        adminKeyEnv: 'A',
        apiKeyId: 'apikey_01Rj2N8SVvo6BePZj99NhmiT',
        workspaceId: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
      },
      ADMIN,
      DAY,
      { fetch: f },
    );
    expect(report.usage[0]).toMatchObject({
      tokens: { input: 1500, cached_input: 200, cache_write: 1500, output: 500 },
      cacheWrite1h: 1000,
      contextWindow: '200k-1M',
      inferenceGeo: 'us',
      scopeId: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
    });
    expect(report.costs).toEqual([
      {
        model: 'claude-sonnet-4-20250514',
        scopeId: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
        apiKeyId: null,
        usd: 1.2345,
      },
    ]);
    expect(decodeURIComponent(urls[0] ?? '')).toContain(
      'starting_at=2026-11-20T00:00:00Z&ending_at=2026-11-21T00:00:00Z&bucket_width=1d&group_by[]=api_key_id&group_by[]=workspace_id&group_by[]=model&group_by[]=context_window&group_by[]=inference_geo&workspace_ids[]=wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
    );
  });
});
