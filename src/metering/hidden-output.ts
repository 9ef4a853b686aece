import type { RouteKind } from './route-kind.js';

/**
 * Model families that reason before they answer without being asked to, billing those tokens as
 * output, and (on chat completions, or until the stream shows a reasoning item) show nothing of
 * it: OpenAI's o-series and gpt-5 (its `-chat` models excepted), Gemini 2.5 and later through the
 * OpenAI-compatible API (2.5 Flash-Lite thinks only when asked), Grok 4 and 3 mini, Qwen3 (its
 * `-instruct` models excepted), and the `-thinking` / `:thinking` (OpenRouter) / `-reasoner` / QwQ /
 * R1 models.
 * A name missed here is only charged from its text when its stream is cut (see meter.ts); one
 * matched that does not reason is charged its bound in that case, never less than it could cost.
 */
const REASONS_BY_DEFAULT =
  /^(o\d|gpt-5(?!.*-chat)|codex-|gemini-(2\.5(?!-flash-lite)|[3-9])|grok-(4|3-mini)|qwen3(?!.*-instruct)|qwq|deepseek-r1|deepseek-reasoner)|[-:](thinking|reasoner|reasoning)\b/;

/**
 * Whether a chat or completions request may be billed for output it does not show as text:
 * reasoning tokens. A stream cut short of its usage report is then charged its output bound, not
 * its text (meter.ts), since the model may have been thinking for all of it. Those streams say
 * nothing while the model thinks, so the request and the model's name must tell. Responses and
 * Anthropic streams announce reasoning as it starts (a `reasoning` output item, a `thinking` or
 * `redacted_thinking` block) and the usage reader sees it (`reasoned()`), so no guess is needed.
 */
export function mayReasonUnseen(body: Record<string, unknown>, route: RouteKind, names: string[]): boolean {
  if (route !== 'chat' && route !== 'completions') return false;
  const effort = isRecord(body.reasoning) ? body.reasoning.effort : body.reasoning_effort;
  // `none` (OpenAI) and `enabled: false` (OpenRouter) turn it off.
  if (effort === 'none' || (isRecord(body.reasoning) && body.reasoning.enabled === false)) return false;
  if (typeof effort === 'string' || isRecord(body.reasoning)) return true;
  return names.some((name) => REASONS_BY_DEFAULT.test(name.slice(name.lastIndexOf('/') + 1).toLowerCase()));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
