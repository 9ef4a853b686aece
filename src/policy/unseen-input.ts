import type { ModelConfig } from '../config/types.js';
import { MAX_PLAUSIBLE_TOKENS } from '../metering/plausible-usage.js';
import type { RouteKind } from '../metering/route-kind.js';
import { isPdfInBody, unseenInputOf } from '../metering/unseen-input.js';

/**
 * The context window assumed for a model that neither keys.yaml nor the catalog gives one: the
 * most tokens a usage report may count (plausible-usage.ts), so the bound stays true for any
 * model served today. Reserving it makes most budgets refuse such a request, with a message that
 * says to set the model's `context_window`.
 */
export const DEFAULT_CONTEXT_WINDOW = MAX_PLAUSIBLE_TOKENS;

/** Anthropic's 1M-token context beta (`anthropic-beta: context-1m-…`) widens a model's window. */
const ANTHROPIC_1M_BETA = /\bcontext-1m-/;
const ANTHROPIC_1M_TOKENS = 1_000_000;

/** Input a request references but does not carry, and the window that bounds it. */
export interface UnseenInput {
  /** What references it, as the refusal names it (`previous_response_id`, `a document by url`). */
  field: string;
  /** The most tokens input and output together can take. */
  contextWindow: number;
  source: 'keys.yaml' | 'catalog' | 'default' | 'anthropic-beta';
}

export function planUnseenInput(
  body: Record<string, unknown>,
  route: RouteKind,
  model: ModelConfig,
  anthropicBeta: string | string[] | undefined,
): UnseenInput | undefined {
  const field = unseenInputOf(body, route);
  if (field === undefined) return undefined;
  let contextWindow = model.contextWindow ?? DEFAULT_CONTEXT_WINDOW;
  let source: UnseenInput['source'] = model.contextWindowSource ?? 'default';
  const beta = Array.isArray(anthropicBeta) ? anthropicBeta.join(',') : (anthropicBeta ?? '');
  if (route === 'messages' && ANTHROPIC_1M_BETA.test(beta) && contextWindow < ANTHROPIC_1M_TOKENS) {
    contextWindow = ANTHROPIC_1M_TOKENS;
    source = 'anthropic-beta';
  }
  return { field, contextWindow, source };
}

/** Why the reservation is as large as it is, for the refusal: names the field and the window. */
export function explainUnseenInput(u: UnseenInput, model: ModelConfig): string {
  const window = u.contextWindow.toLocaleString('en-US');
  const from =
    u.source === 'default'
      ? `tollgate's default, as neither keys.yaml nor the price catalog gives one: set models.${model.name}.context_window in keys.yaml`
      : u.source === 'anthropic-beta'
        ? 'the 1M-token context beta the request asks for'
        : `from ${u.source === 'catalog' ? 'the price catalog' : 'keys.yaml'}`;
  const bound = `up to the context window of model '${model.name}' (${window} tokens, ${from}) minus the output bound`;
  // The PDF is in the body already: what would fit is its text, not its bytes (it is held this way
  // on every turn that still carries it, as Claude Code's Read tool keeps it in the conversation).
  if (isPdfInBody(u.field))
    return (
      `the request carries ${u.field}, which the provider bills by its pages (each as its text and an image of the page), ` +
      `a count its bytes do not bound, so it reserves input ${bound}; ` +
      "send the PDF's text instead of the PDF (and drop the PDF from the conversation, or every later turn is held the same), " +
      'or ask for a higher limit'
    );
  return (
    `the request sets ${u.field}, input stored at the provider that it bills by a count tollgate cannot see, ` +
    `so it reserves input ${bound}; send the input in the body instead, or ask for a higher limit`
  );
}
