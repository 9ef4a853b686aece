import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny local stand-in for OpenAI and Anthropic, so `tollgate demo` shows the whole gateway
 * (keys, metering, budgets, streams) on a fresh machine without a provider key. It echoes a
 * fixed sentence and reports token usage the way the real APIs do.
 */
export async function startDemoUpstream(port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    void answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const WORDS = ['Hello', ' from', ' the', ' tollgate', ' demo', ' upstream', '.'];

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
  } catch {
    return json(res, 400, { error: { message: 'body is not JSON', type: 'invalid_request_error' } });
  }
  const model = String(body.model ?? 'demo');
  const input = Math.ceil(JSON.stringify(body).length / 4);
  const output = WORDS.length;
  const path = (req.url ?? '').replace(/\?.*$/, '');
  if (path.endsWith('/chat/completions')) {
    if (!body.stream) {
      return json(res, 200, {
        id: 'chatcmpl-demo',
        object: 'chat.completion',
        created: 0,
        model,
        choices: [
          { index: 0, message: { role: 'assistant', content: WORDS.join('') }, finish_reason: 'stop' },
        ],
        usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const w of WORDS) {
      res.write(
        `data: ${JSON.stringify({ id: 'chatcmpl-demo', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { content: w } }] })}\n\n`,
      );
      await new Promise((r) => setTimeout(r, 40));
    }
    const options = body.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage) {
      res.write(
        `data: ${JSON.stringify({ id: 'chatcmpl-demo', object: 'chat.completion.chunk', model, choices: [], usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output } })}\n\n`,
      );
    }
    res.end('data: [DONE]\n\n');
    return;
  }
  if (path.endsWith('/embeddings')) {
    return json(res, 200, {
      object: 'list',
      model,
      data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2, 0.3] }],
      usage: { prompt_tokens: input, total_tokens: input },
    });
  }
  if (path.endsWith('/messages')) {
    return json(res, 200, {
      id: 'msg_demo',
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text: WORDS.join('') }],
      stop_reason: 'end_turn',
      usage: { input_tokens: input, output_tokens: output },
    });
  }
  json(res, 404, { error: { message: `the demo upstream has no ${path}`, type: 'invalid_request_error' } });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
