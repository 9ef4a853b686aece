/**
 * Server-side tools the provider runs and bills per use: Anthropic's web search
 * (`{"type": "web_search_20250305", "max_uses": N}`), $10 per 1,000 searches. Their cost is part
 * of a request's maximum, so the reservation pays for `max_uses` searches, and a web search tool
 * without `max_uses` gets DEFAULT_WEB_SEARCH_USES written into it, as a request without an output
 * limit gets one (SPEC §4: no answer may cost more than was reserved). Claude stops searching at
 * the limit and answers with what it found.
 */
export const DEFAULT_WEB_SEARCH_USES = 10;

export interface ServerToolPlan {
  /** The most web searches the request can run. */
  webSearches: number;
  /** The request's `tools` with `max_uses` written in, when the gateway had to. */
  tools?: unknown[];
}

const isWebSearch = (t: unknown): t is Record<string, unknown> =>
  typeof t === 'object' &&
  t !== null &&
  typeof (t as Record<string, unknown>).type === 'string' &&
  ((t as Record<string, unknown>).type as string).startsWith('web_search_');

export function planServerTools(body: Record<string, unknown>): ServerToolPlan {
  const tools = body.tools;
  if (!Array.isArray(tools) || !tools.some(isWebSearch)) return { webSearches: 0 };
  let webSearches = 0;
  let rewritten = false;
  const next = tools.map((t) => {
    if (!isWebSearch(t)) return t;
    const uses = t.max_uses;
    if (typeof uses === 'number' && Number.isInteger(uses) && uses >= 0) {
      webSearches += uses;
      return t;
    }
    rewritten = true;
    webSearches += DEFAULT_WEB_SEARCH_USES;
    return { ...t, max_uses: DEFAULT_WEB_SEARCH_USES };
  });
  return rewritten ? { webSearches, tools: next } : { webSearches };
}
