import { describe, expect, it } from 'vitest';
import { buildModel } from '../../../src/config/load/model-prices.js';
import {
  DEFAULT_WEB_SEARCH_USES,
  forcedUnmeteredTool,
  planServerTools,
} from '../../../src/policy/server-tools.js';
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
    const webSearchTools = { search: true, preview: false };
    expect(planServerTools({ tools, max_tool_calls: 4 }, 'responses')).toEqual({
      webSearches: 4,
      webSearchTools,
    });
    expect(planServerTools({ tools }, 'responses')).toEqual({
      webSearches: DEFAULT_WEB_SEARCH_USES,
      webSearchTools,
      set: { max_tool_calls: DEFAULT_WEB_SEARCH_USES },
    });
    // The preview tool is priced apart (pricing/search-fees.ts).
    expect(
      planServerTools({ tools: [{ type: 'web_search_preview' }], max_tool_calls: 2 }, 'responses'),
    ).toEqual({
      webSearches: 2,
      webSearchTools: { search: false, preview: true },
    });
    expect(planServerTools({ tools }, 'chat')).toEqual({ webSearches: 0 });
  });

  it('takes the hosted tools billed apart from tokens out of a Responses request, keeping the others in order', () => {
    const fn = { type: 'function', name: 'shell', parameters: {} };
    const others = [
      { type: 'custom', name: 'apply_patch' },
      { type: 'mcp', server_label: 'x', server_url: 'https://mcp.example' },
      { type: 'computer_use_preview', display_width: 1, display_height: 1, environment: 'linux' },
      { type: 'local_shell' },
      { type: 'shell' },
      { type: 'apply_patch' },
    ];
    // Codex's own request: its function tools and the image_generation tool it adds by default.
    expect(
      planServerTools({ tools: [fn, { type: 'image_generation', output_format: 'png' }] }, 'responses'),
    ).toEqual({ webSearches: 0, set: { tools: [fn] }, removed: ['image_generation'] });
    const tools = [
      { type: 'code_interpreter', container: { type: 'auto' } },
      fn,
      { type: 'file_search', vector_store_ids: ['vs_1'] },
      ...others,
      { type: 'image_generation' },
      { type: 'file_search', vector_store_ids: ['vs_2'] },
    ];
    expect(planServerTools({ tools, tool_choice: 'auto' }, 'responses')).toEqual({
      webSearches: 0,
      set: { tools: [fn, ...others] },
      removed: ['code_interpreter', 'file_search', 'image_generation'],
    });
    // Nothing to take out: the body goes as it came.
    expect(planServerTools({ tools: [fn, ...others] }, 'responses')).toEqual({ webSearches: 0 });
    // Only on the Responses API, the one API where these types are OpenAI's billed tools.
    expect(planServerTools({ tools: [{ type: 'image_generation' }] }, 'chat')).toEqual({ webSearches: 0 });
  });

  it('sends a request whose every tool was taken out without tools, not with an empty array', () => {
    const plan = planServerTools({ tools: [{ type: 'image_generation' }] }, 'responses');
    expect(plan).toEqual({ webSearches: 0, set: { tools: undefined }, removed: ['image_generation'] });
    expect(Object.hasOwn(plan.set ?? {}, 'tools')).toBe(true);
  });

  it('still bounds web searches by max_tool_calls beside the tools it takes out', () => {
    const tools = [{ type: 'image_generation' }, { type: 'web_search' }, { type: 'function', name: 'f' }];
    expect(planServerTools({ tools }, 'responses')).toEqual({
      webSearches: DEFAULT_WEB_SEARCH_USES,
      webSearchTools: { search: true, preview: false },
      set: {
        tools: [{ type: 'web_search' }, { type: 'function', name: 'f' }],
        max_tool_calls: DEFAULT_WEB_SEARCH_USES,
      },
      removed: ['image_generation'],
    });
    expect(planServerTools({ tools, max_tool_calls: 3 }, 'responses')).toEqual({
      webSearches: 3,
      webSearchTools: { search: true, preview: false },
      set: { tools: [{ type: 'web_search' }, { type: 'function', name: 'f' }] },
      removed: ['image_generation'],
    });
  });

  it('narrows an allowed_tools choice to the tools left, or to none when it allowed only removed ones', () => {
    const fn = { type: 'function', name: 'f' };
    const tools = [fn, { type: 'image_generation' }];
    const allowed = (mode: string, list: unknown[]) => ({ type: 'allowed_tools', mode, tools: list });
    expect(
      planServerTools(
        { tools, tool_choice: allowed('required', [fn, { type: 'image_generation' }]) },
        'responses',
      ).set,
    ).toEqual({ tools: [fn], tool_choice: allowed('required', [fn]) });
    expect(
      planServerTools({ tools, tool_choice: allowed('auto', [{ type: 'image_generation' }]) }, 'responses')
        .set,
    ).toEqual({ tools: [fn], tool_choice: 'none' });
    const functionChoice = { type: 'function', name: 'f' };
    expect(planServerTools({ tools, tool_choice: functionChoice }, 'responses').set).toEqual({ tools: [fn] });
  });

  it('finds a hosted tool the request forces, and none where it is only advertised', () => {
    const fn = { type: 'function', name: 'f' };
    const tools = [fn, { type: 'image_generation' }];
    for (const type of ['image_generation', 'code_interpreter', 'file_search'])
      expect(forcedUnmeteredTool({ tools, tool_choice: { type } }, 'responses')).toBe(type);
    expect(
      forcedUnmeteredTool({ tools: [{ type: 'file_search' }], tool_choice: 'required' }, 'responses'),
    ).toBe('file_search');
    expect(
      forcedUnmeteredTool(
        {
          tools,
          tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'code_interpreter' }] },
        },
        'responses',
      ),
    ).toBe('code_interpreter');
    for (const tool_choice of [
      undefined,
      'auto',
      'none',
      'required',
      { type: 'function', name: 'f' },
      { type: 'web_search' },
      { type: 'allowed_tools', mode: 'auto', tools: [{ type: 'image_generation' }] },
      { type: 'allowed_tools', mode: 'required', tools: [fn, { type: 'image_generation' }] },
    ])
      expect(forcedUnmeteredTool({ tools, tool_choice }, 'responses')).toBeUndefined();
  });

  it("takes Anthropic's code execution tool out of a Messages request, keeping the others in order", () => {
    const code = { type: 'code_execution_20250522', name: 'code_execution' };
    const others = [
      { name: 'get_weather', description: 'w', input_schema: { type: 'object' } },
      { type: 'bash_20250124', name: 'bash' },
      { type: 'text_editor_20250728', name: 'str_replace_based_edit_tool' },
      { type: 'computer_20250124', name: 'computer', display_width_px: 1024, display_height_px: 768 },
      { type: 'web_search_20250305', name: 'web_search', max_uses: 2 },
      { type: 'web_fetch_20250910', name: 'web_fetch' },
    ];
    const tools = [
      others[0],
      code,
      ...others.slice(1),
      { type: 'code_execution_20250825', name: 'code_execution' },
    ];
    expect(planServerTools({ tools, tool_choice: { type: 'auto' } }, 'messages')).toEqual({
      webSearches: 2,
      set: { tools: others },
      removed: ['code_execution_20250522', 'code_execution_20250825'],
    });
    // A web search without max_uses still gets the default, beside the removal.
    const search = { type: 'web_search_20250305', name: 'web_search' };
    expect(planServerTools({ tools: [search, code] }, 'messages')).toEqual({
      webSearches: DEFAULT_WEB_SEARCH_USES,
      set: { tools: [{ ...search, max_uses: DEFAULT_WEB_SEARCH_USES }] },
      removed: ['code_execution_20250522'],
    });
    // Nothing to take out: as before. Other routes keep what they have.
    expect(planServerTools({ tools: others }, 'messages')).toEqual({ webSearches: 2 });
    expect(planServerTools({ tools: [code] }, 'count_tokens')).toEqual({ webSearches: 0 });
    expect(planServerTools({ tools: [code] }, 'responses')).toEqual({ webSearches: 0 });
  });

  it('sends a Messages request left with no tools without tools and without tool_choice', () => {
    const code = { type: 'code_execution_20250825', name: 'code_execution' };
    for (const tool_choice of [{ type: 'auto' }, { type: 'none' }]) {
      const plan = planServerTools({ tools: [code], tool_choice }, 'messages');
      expect(plan).toEqual({
        webSearches: 0,
        set: { tools: undefined, tool_choice: undefined },
        removed: ['code_execution_20250825'],
      });
      expect(Object.hasOwn(plan.set ?? {}, 'tool_choice')).toBe(true);
    }
    expect(planServerTools({ tools: [code] }, 'messages').set).toEqual({ tools: undefined });
    // A choice of a tool still there stays.
    const fn = { name: 'f', input_schema: { type: 'object' } };
    expect(planServerTools({ tools: [fn, code], tool_choice: { type: 'any' } }, 'messages').set).toEqual({
      tools: [fn],
    });
  });

  it('finds the code execution tool a Messages request forces, by its name or by any', () => {
    const code = { type: 'code_execution_20250522', name: 'code_execution' };
    const fn = { name: 'f', input_schema: { type: 'object' } };
    const forced = (tools: unknown[], tool_choice: unknown) =>
      forcedUnmeteredTool({ tools, tool_choice }, 'messages');
    expect(forced([fn, code], { type: 'tool', name: 'code_execution' })).toBe('code_execution_20250522');
    expect(forced([code], { type: 'any', disable_parallel_tool_use: true })).toBe('code_execution_20250522');
    expect(forced([{ type: 'code_execution_20250825', name: 'code_execution' }], { type: 'any' })).toBe(
      'code_execution_20250825',
    );
    for (const [tools, tool_choice] of [
      [[fn, code], undefined],
      [[fn, code], { type: 'auto' }],
      [[code], { type: 'none' }],
      [[fn, code], { type: 'any' }],
      [[fn, code], { type: 'tool', name: 'f' }],
      [[fn], { type: 'tool', name: 'code_execution' }],
      [[], { type: 'any' }],
    ] as const)
      expect(forced([...tools], tool_choice)).toBeUndefined();
    // The Responses API's tool types mean nothing on Messages, and the reverse.
    expect(forced([{ type: 'image_generation' }], { type: 'image_generation' })).toBeUndefined();
    expect(forcedUnmeteredTool({ tools: [code], tool_choice: 'required' }, 'responses')).toBeUndefined();
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
