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

/**
 * Responses API hosted tools billed apart from tokens (an image model per image, a fee per container, a fee
 * per call) that tollgate does not meter yet (docs/api.md#hosted-tools). An advertised one is taken out of
 * `tools` rather than refused: Codex advertises `image_generation` in every request by default, and refusing
 * those would send its users back to the raw provider key. One the request forces is refused.
 */
export const UNMETERED_HOSTED_TOOLS: ReadonlySet<string> = new Set([
  'image_generation',
  'code_interpreter',
  'file_search',
]);

export interface ServerToolPlan {
  /** The most web searches the request can run. */
  webSearches: number;
  /**
   * Body fields the gateway writes (`tools` with `max_uses` or without unmetered tools, `tool_choice`,
   * `max_tool_calls`); a field set to undefined is left out of the body.
   */
  set?: Record<string, unknown>;
  /** The unmetered hosted tool types taken out of `tools`, in their order (x-tollgate-tools-removed). */
  removed?: string[];
}

const typeOf = (t: unknown): string | undefined => {
  if (typeof t !== 'object' || t === null) return undefined;
  const type = (t as Record<string, unknown>).type;
  return typeof type === 'string' ? type : undefined;
};

const isWebSearch = (t: unknown): t is Record<string, unknown> =>
  typeOf(t)?.startsWith('web_search') === true;

const isUnmetered = (t: unknown): boolean => UNMETERED_HOSTED_TOOLS.has(typeOf(t) ?? '');

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

export function planServerTools(body: Record<string, unknown>, route: RouteKind): ServerToolPlan {
  const tools = body.tools;
  if (route === 'responses' && Array.isArray(tools)) return planResponsesTools(body, tools);
  if (route !== 'messages' || !Array.isArray(tools) || !tools.some(isWebSearch)) return { webSearches: 0 };
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

/** A Responses request: unmetered hosted tools taken out, web searches bounded by max_tool_calls. */
function planResponsesTools(body: Record<string, unknown>, tools: unknown[]): ServerToolPlan {
  const set: Record<string, unknown> = {};
  const kept = tools.filter((t) => !isUnmetered(t));
  const removed = [...new Set(tools.filter(isUnmetered).map((t) => typeOf(t) as string))];
  if (removed.length > 0) {
    // Without the field rather than `tools: []`: OpenAI refuses an empty `tools` array on chat
    // completions ("empty array"), and a request without `tools` is one without tools on every API.
    set.tools = kept.length > 0 ? kept : undefined;
    const choice = narrowToolChoice(body.tool_choice);
    if (choice !== body.tool_choice) set.tool_choice = choice;
  }
  let webSearches = 0;
  if (kept.some(isWebSearch)) {
    // max_tool_calls bounds all of a response's hosted tool calls, web searches among them.
    if (isCount(body.max_tool_calls)) webSearches = body.max_tool_calls;
    else {
      webSearches = DEFAULT_WEB_SEARCH_USES;
      set.max_tool_calls = DEFAULT_WEB_SEARCH_USES;
    }
  }
  const plan: ServerToolPlan = { webSearches };
  if (Object.keys(set).length > 0) plan.set = set;
  if (removed.length > 0) plan.removed = removed;
  return plan;
}

/**
 * `tool_choice: {type: "allowed_tools", tools: [...]}` without the removed tools, so that it names only
 * tools the request still has; when it allowed nothing else, `"none"`, what it now allows (a list that
 * required one of them is forced, refused by forcedUnmeteredTool). Any other choice as it is.
 */
function narrowToolChoice(choice: unknown): unknown {
  if (typeOf(choice) !== 'allowed_tools') return choice;
  const allowed = (choice as Record<string, unknown>).tools;
  if (!Array.isArray(allowed) || !allowed.some(isUnmetered)) return choice;
  const rest = allowed.filter((t) => !isUnmetered(t));
  return rest.length > 0 ? { ...(choice as Record<string, unknown>), tools: rest } : 'none';
}

/**
 * The unmetered hosted tool a Responses request forces, if any: `tool_choice` naming it
 * (`{"type": "image_generation"}`), `"required"` when every tool is one of them, or `allowed_tools`
 * with mode `required` allowing only them. Removing the tool would change what the request asks
 * for, so it is refused instead (docs/api.md#hosted-tools).
 */
export function forcedUnmeteredTool(body: Record<string, unknown>): string | undefined {
  const choice = body.tool_choice;
  const type = typeOf(choice);
  if (type !== undefined && UNMETERED_HOSTED_TOOLS.has(type)) return type;
  const requiredOf = (tools: unknown) =>
    Array.isArray(tools) && tools.length > 0 && tools.every(isUnmetered) ? typeOf(tools[0]) : undefined;
  if (choice === 'required') return requiredOf(body.tools);
  if (type === 'allowed_tools' && (choice as Record<string, unknown>).mode === 'required')
    return requiredOf((choice as Record<string, unknown>).tools);
  return undefined;
}
