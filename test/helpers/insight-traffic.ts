import type { FakeUpstream } from './fake-upstream.js';
import { json } from './fake-upstream.js';
import type { Harness } from './gateway-harness.js';

/**
 * Traffic for the insight tests, sent through the real gateway as clients send it (plain fetch:
 * the SDKs retry a 500 on their own, and the retry test must choose its own resends).
 */

export const INSIGHTS_YAML = (upstreamBase: string) => `version: 1
server:
  timezone: Europe/Berlin
upstreams:
  openai:
    base_url: ${upstreamBase}
    api_key: \${OPENAI_API_KEY}
models:
  big-model:
    upstream: openai
    input_per_mtok: 15
    output_per_mtok: 75
    cached_input_per_mtok: 1.5
    max_output_tokens: 4096
  small-model:
    upstream: openai
    input_per_mtok: 0.5
    output_per_mtok: 1.5
    cached_input_per_mtok: 0.05
    max_output_tokens: 4096
keys:
${['looper', 'retrier', 'reader', 'talker', 'nightly', 'agent', 'shared', 'steady']
  .map((k) => `  ${k}:\n    hash: {{hash:${k}}}\n    models: [small-model]\n    limits: { daily_usd: 100 }`)
  .join('\n')}
  asker:
    hash: {{hash:asker}}
    models: [big-model, small-model]
    limits: { daily_usd: 100 }
  open:
    hash: {{hash:open}}
    models: [small-model]
    group: adhoc
  open-too:
    hash: {{hash:open-too}}
    models: [small-model]
    group: adhoc
groups:
  adhoc:
    description: scripts people run by hand
`;

export interface Usage {
  prompt: number;
  completion: number;
  cached?: number;
}

export interface SendOptions {
  usage: Usage;
  /** The upstream answers this error status instead. */
  status?: number;
  userAgent?: string;
}

export function createSender(h: Harness, upstream: FakeUpstream) {
  let sent = 0;
  return {
    get sent() {
      return sent;
    },
    async send(key: string, body: Record<string, unknown>, opts: SendOptions): Promise<number> {
      const { prompt, completion, cached = 0 } = opts.usage;
      upstream.next(
        opts.status
          ? json(opts.status, { error: { message: 'upstream trouble', type: 'server_error' } })
          : json(200, {
              id: 'chatcmpl-1',
              object: 'chat.completion',
              created: 1,
              model: body.model,
              choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
              usage: {
                prompt_tokens: prompt,
                completion_tokens: completion,
                total_tokens: prompt + completion,
                prompt_tokens_details: { cached_tokens: cached },
              },
            }),
      );
      const res = await fetch(`${h.baseURL}/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${h.keys[key]}`,
          'content-type': 'application/json',
          'user-agent': opts.userAgent ?? 'insight-test/1.0',
        },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      sent++;
      return res.status;
    },
  };
}

export const ask = (model: string, question: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content: question }],
  ...extra,
});
