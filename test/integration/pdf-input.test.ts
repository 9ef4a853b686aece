import { describe, expect, it } from 'vitest';
import { anthropicMessage, json } from '../helpers/fake-upstream.js';
import { heldGateway } from '../helpers/held-gateway.js';
import { textPdf } from '../helpers/text-pdf.js';

/**
 * A PDF sent in the body is billed by its pages, not its bytes: Anthropic and OpenAI bill each
 * page as its extracted text plus an image of the page, about 2,100 tokens for a page of text on
 * Claude 4.5 (1,500 to 3,000 by Anthropic's PDF guide), while a PDF in a standard font takes about
 * a kilobyte a page, some 450 tokens at the estimate's one token per 3 bytes of base64. Like a
 * file given by id, its input is bounded by the model's context window, so the settled cost stays
 * within the reservation.
 */

const t = heldGateway((url) => ({ yaml: yaml(url) }));
const { reserved } = t;

const yaml = (base: string) => `version: 1
upstreams:
  anthropic:
    base_url: ${base}
    api_key: \${ANTHROPIC_API_KEY}
    format: anthropic
    provider: anthropic
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: openai
models:
  claude-sonnet-4-5:
    upstream: anthropic
  gpt-4.1:
    upstream: openai
keys:
  reader:
    hash: {{hash:reader}}
    limits: { daily_usd: 50 }
`;

const PAGES = 10;
const PDF = textPdf(PAGES).toString('base64');
/** What the provider counts for the PDF: about 2,100 tokens a page, and the question. */
const BILLED_INPUT = PAGES * 2_100 + 20;
const OUTPUT = 300;

async function post(path: string, body: Record<string, unknown>) {
  const res = await fetch(`${t.gw.baseURL}/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.gw.keys.reader}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.text();
  expect(res.status).toBe(200);
  return (await t.gw.waitForRecords(1)).at(-1);
}

describe('a PDF in the body', () => {
  it('settles an Anthropic base64 document within its reservation', async () => {
    t.up.next(
      json(
        200,
        anthropicMessage('claude-sonnet-4-5', {
          input_tokens: BILLED_INPUT,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
          output_tokens: OUTPUT,
        }),
      ),
    );
    const record = await post('messages', {
      model: 'claude-sonnet-4-5',
      max_tokens: OUTPUT,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF } },
            { type: 'text', text: 'Summarise this report.' },
          ],
        },
      ],
    });
    expect(record?.usageSource).toBe('provider');
    expect(record?.costUsd).toBeCloseTo((BILLED_INPUT * 3 + OUTPUT * 15) / 1e6, 12);
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });

  it.each([
    [
      'chat/completions',
      {
        max_completion_tokens: OUTPUT,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'file', file: { filename: 'r.pdf', file_data: `data:application/pdf;base64,${PDF}` } },
              { type: 'text', text: 'Summarise this report.' },
            ],
          },
        ],
      },
    ],
    [
      'responses',
      {
        max_output_tokens: OUTPUT,
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_file', filename: 'r.pdf', file_data: `data:application/pdf;base64,${PDF}` },
              { type: 'input_text', text: 'Summarise this report.' },
            ],
          },
        ],
      },
    ],
  ])('settles an OpenAI file_data PDF on /v1/%s within its reservation', async (path, body) => {
    const chat = path === 'chat/completions';
    t.up.next(
      json(200, {
        id: 'x',
        object: chat ? 'chat.completion' : 'response',
        ...(chat
          ? { choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }] }
          : { status: 'completed', output: [] }),
        usage: chat
          ? { prompt_tokens: BILLED_INPUT, completion_tokens: OUTPUT, total_tokens: BILLED_INPUT + OUTPUT }
          : { input_tokens: BILLED_INPUT, output_tokens: OUTPUT, total_tokens: BILLED_INPUT + OUTPUT },
      }),
    );
    const record = await post(path, { model: 'gpt-4.1', ...body });
    expect(record?.usageSource).toBe('provider');
    expect(record?.costUsd).toBeLessThanOrEqual(reserved[0] ?? 0);
  });
});
