import { describe, expect, it } from 'vitest';
import { buildModel } from '../../../src/config/load/model-prices.js';
import { DEFAULT_WEB_SEARCH_USES, planServerTools } from '../../../src/policy/server-tools.js';
import { lookupCatalog } from '../../../src/pricing/catalog.js';
import { maxCostOf } from '../../../src/pricing/pricing.js';

describe('server-side tools billed per use', () => {
  it('reserves max_uses web searches, and writes a default into a web search tool without one', () => {
    expect(planServerTools({ tools: [{ name: 'bash', input_schema: {} }] }, 'messages')).toEqual({
      webSearches: 0,
    });
    expect(
      planServerTools(
        { tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }] },
        'messages',
      ),
    ).toEqual({ webSearches: 3 });
    const plan = planServerTools(
      { tools: [{ name: 'x' }, { type: 'web_search_20250305', name: 'web_search' }] },
      'messages',
    );
    expect(plan).toEqual({
      webSearches: DEFAULT_WEB_SEARCH_USES,
      set: {
        tools: [
          { name: 'x' },
          { type: 'web_search_20250305', name: 'web_search', max_uses: DEFAULT_WEB_SEARCH_USES },
        ],
      },
    });
  });

  it("bounds a Responses request's hosted web searches by max_tool_calls, writing one in when it has none", () => {
    const tools = [{ type: 'web_search' }, { type: 'function', name: 'shell' }];
    expect(planServerTools({ tools, max_tool_calls: 4 }, 'responses')).toEqual({ webSearches: 4 });
    expect(planServerTools({ tools }, 'responses')).toEqual({
      webSearches: DEFAULT_WEB_SEARCH_USES,
      set: { max_tool_calls: DEFAULT_WEB_SEARCH_USES },
    });
    expect(planServerTools({ tools }, 'chat')).toEqual({ webSearches: 0 });
  });

  it('adds the searches to the maximum cost at the catalog price per search', () => {
    const m = buildModel(
      'claude-sonnet-4-5',
      { upstream: 'a' },
      undefined,
      lookupCatalog('claude-sonnet-4-5', 'anthropic'),
      0,
    );
    const base = { inputTokens: 1_000, outputTokens: 100, cacheWrites: 'none' as const };
    expect(maxCostOf(m, 0, { ...base, webSearches: 10 }) - maxCostOf(m, 0, base)).toBeCloseTo(0.1, 12);
  });
});
