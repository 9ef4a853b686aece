import type { RouteKind } from '../metering/route-kind.js';
import type { WebSearchTools } from '../pricing/search-fees.js';

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

/**
 * Anthropic's code execution tool (`{"type": "code_execution_20250522", "name": "code_execution"}`,
 * `code_execution_20250825` and later dated versions): billed per container-hour apart from tokens, not
 * metered yet. Taken out of a Messages request's `tools`, refused when forced, as the Responses API's above.
 */
const ANTHROPIC_UNMETERED_TOOL = /^code_execution_\d{8}$/;

export interface ServerToolPlan {
  /** The most web searches the request can run. */
  webSearches: number;
  /** On the Responses API, the web search tools it lists, whose fees differ (pricing/search-fees.ts). */
  webSearchTools?: WebSearchTools;
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

const isPreviewSearch = (t: unknown): boolean => typeOf(t)?.startsWith('web_search_preview') === true;

const isUnmetered = (t: unknown): boolean => UNMETERED_HOSTED_TOOLS.has(typeOf(t) ?? '');

const isAnthropicUnmetered = (t: unknown): boolean => ANTHROPIC_UNMETERED_TOOL.test(typeOf(t) ?? '');

/** The tool types `tools` loses, each once, in their order. */
const typesOf = (tools: unknown[]): string[] => [...new Set(tools.map((t) => typeOf(t) as string))];

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

export function planServerTools(body: Record<string, unknown>, route: RouteKind): ServerToolPlan {
  const tools = body.tools;
  if (!Array.isArray(tools)) return { webSearches: 0 };
  if (route === 'responses') return planResponsesTools(body, tools);
  if (route === 'messages') return planMessagesTools(body, tools);
  return { webSearches: 0 };
}

/**
 * A Messages request: the code execution tool taken out (`tools` left out when none remain, and then
 * `tool_choice` too: Anthropic accepts no tool_choice without tools), web searches bounded by max_uses.
 */
function planMessagesTools(body: Record<string, unknown>, tools: unknown[]): ServerToolPlan {
  const kept = tools.filter((t) => !isAnthropicUnmetered(t));
  const removed = typesOf(tools.filter(isAnthropicUnmetered));
  const { webSearches, rewritten } = boundWebSearchUses(kept);
  const plan: ServerToolPlan = { webSearches };
  if (removed.length > 0) {
    plan.removed = removed;
    plan.set = { tools: rewritten.length > 0 ? rewritten : undefined };
    if (rewritten.length === 0 && body.tool_choice !== undefined) plan.set.tool_choice = undefined;
  } else if (rewritten !== kept) plan.set = { tools: rewritten };
  return plan;
}

/**
 * Anthropic web search tools reserve their `max_uses` searches; one without gets DEFAULT_WEB_SEARCH_USES
 * written in. `rewritten` is `tools` itself when no tool needed one.
 */
function boundWebSearchUses(tools: unknown[]): { webSearches: number; rewritten: unknown[] } {
  let webSearches = 0;
  let changed = false;
  const next = tools.map((t) => {
    if (!isWebSearch(t)) return t;
    if (isCount(t.max_uses)) {
      webSearches += t.max_uses;
      return t;
    }
    changed = true;
    webSearches += DEFAULT_WEB_SEARCH_USES;
    return { ...t, max_uses: DEFAULT_WEB_SEARCH_USES };
  });
  return { webSearches, rewritten: changed ? next : tools };
}

/** A Responses request: unmetered hosted tools taken out, web searches bounded by max_tool_calls. */
function planResponsesTools(body: Record<string, unknown>, tools: unknown[]): ServerToolPlan {
  const set: Record<string, unknown> = {};
  const kept = tools.filter((t) => !isUnmetered(t));
  const removed = typesOf(tools.filter(isUnmetered));
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
  if (kept.some(isWebSearch))
    plan.webSearchTools = {
      search: kept.some((t) => isWebSearch(t) && !isPreviewSearch(t)),
      preview: kept.some(isPreviewSearch),
    };
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
 * The unmetered hosted tool a request forces, if any. Removing it would change what the request asks
 * for, so it is refused instead (docs/api.md#hosted-tools).
 */
export function forcedUnmeteredTool(body: Record<string, unknown>, route: RouteKind): string | undefined {
  if (route === 'responses') return forcedResponsesTool(body);
  if (route === 'messages') return forcedMessagesTool(body);
  return undefined;
}

/**
 * On the Responses API: `tool_choice` naming it (`{"type": "image_generation"}`), `"required"` when every
 * tool is one of them, or `allowed_tools` with mode `required` allowing only them.
 */
function forcedResponsesTool(body: Record<string, unknown>): string | undefined {
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

/**
 * On Anthropic's Messages API: `{"type": "tool", "name": N}` naming the code execution tool of `tools`, or
 * `{"type": "any"}` when every tool is one. Its type (`code_execution_20250522`) is returned.
 */
function forcedMessagesTool(body: Record<string, unknown>): string | undefined {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const choice = body.tool_choice;
  if (typeOf(choice) === 'any')
    return tools.length > 0 && tools.every(isAnthropicUnmetered) ? typeOf(tools[0]) : undefined;
  if (typeOf(choice) !== 'tool') return undefined;
  const name = (choice as Record<string, unknown>).name;
  return typeOf(tools.find((t) => isAnthropicUnmetered(t) && (t as Record<string, unknown>).name === name));
}
