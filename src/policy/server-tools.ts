import type { RouteKind } from '../metering/route-kind.js';

/**
 * Server-side tools the provider runs and bills per use: web search, $10 per 1,000 searches on Anthropic
 * (`{"type": "web_search_20250305", "max_uses": N}`) and OpenAI's Responses API (`{"type": "web_search"}`,
 * bounded by the request's `max_tool_calls`). Their cost is part of a request's maximum, so the reservation
 * pays for the most searches the request allows, and a request that allows unboundedly many gets
 * DEFAULT_WEB_SEARCH_USES written in, as a request without an output limit gets one
 * (docs/api.md#metering-briefly: no answer may cost more than was reserved). The model stops searching at the
 * limit and answers with what it found.
 */
export const DEFAULT_WEB_SEARCH_USES = 10;

export interface ServerToolPlan {
  /** The most web searches the request can run. */
  webSearches: number;
  /** Body fields the gateway writes to bound them (`tools` with `max_uses`, or `max_tool_calls`). */
  set?: Record<string, unknown>;
}

const isWebSearch = (t: unknown): t is Record<string, unknown> =>
  typeof t === 'object' &&
  t !== null &&
  typeof (t as Record<string, unknown>).type === 'string' &&
  ((t as Record<string, unknown>).type as string).startsWith('web_search');

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

export function planServerTools(body: Record<string, unknown>, route: RouteKind): ServerToolPlan {
  const tools = body.tools;
  if ((route !== 'messages' && route !== 'responses') || !Array.isArray(tools) || !tools.some(isWebSearch))
    return { webSearches: 0 };
  if (route === 'responses') {
    // max_tool_calls bounds all of a response's hosted tool calls, web searches among them.
    if (isCount(body.max_tool_calls)) return { webSearches: body.max_tool_calls };
    return { webSearches: DEFAULT_WEB_SEARCH_USES, set: { max_tool_calls: DEFAULT_WEB_SEARCH_USES } };
  }
  let webSearches = 0;
  let rewritten = false;
  const next = tools.map((t) => {
    if (!isWebSearch(t)) return t;
    if (isCount(t.max_uses)) {
      webSearches += t.max_uses;
      return t;
    }
    rewritten = true;
    webSearches += DEFAULT_WEB_SEARCH_USES;
    return { ...t, max_uses: DEFAULT_WEB_SEARCH_USES };
  });
  return rewritten ? { webSearches, set: { tools: next } } : { webSearches };
}
