import type { Behaviour } from './fake-upstream.js';

/**
 * A model priced so that money is easy to follow in budget tests: input is free and each output
 * token costs $0.001, so a request with max_tokens 10 reserves exactly $0.01, and `honest`
 * answers use exactly what was asked for.
 */
export const UNIT_MODEL = `  unit:
    upstream: openai
    input_per_mtok: 0
    output_per_mtok: 1000
    max_output_tokens: 100
`;

/** An upstream that reports `output` completion tokens (default: the request's max_tokens) after `delayMs`. */
export function honest(opts: { delayMs?: number; output?: number; input?: number } = {}): Behaviour {
  return async (req, res) => {
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    const asked = typeof req.json?.max_tokens === 'number' ? req.json.max_tokens : 1;
    const usage = { prompt_tokens: opts.input ?? 1, completion_tokens: opts.output ?? asked };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'x', object: 'chat.completion', model: 'unit', choices: [], usage }));
  };
}

/** The body of a small chat request for the unit model. */
export const unitAsk = (maxTokens = 10) =>
  JSON.stringify({ model: 'unit', max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] });
