/**
 * The benchmark's zero-delay fake upstream: POST /v1/chat/completions (or /chat/completions)
 * answers canned JSON with usage, or — with `"stream": true` — 22 SSE events (role, 18 content
 * deltas, finish, usage, `[DONE]`), each its own write, all at once (zero delay). A body with
 * `"bench_big_kb":N` (tollgate passes unknown body fields through) streams N KiB of `data:` events
 * as fast as the reader takes them, honouring res.write()'s return value and 'drain' (the
 * slow-reader check); GET /stats returns `{ bigBytesWritten, streams: { <bench_big_id>: bytes } }`:
 * the bytes actually handed to the socket, in all and per stream.
 * Prints `listening <port>` on stdout.
 *
 *   node --import tsx bench/targets/upstream.ts [port=0]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const id = 'chatcmpl-bench';
const usage = { prompt_tokens: 12, completion_tokens: 20, total_tokens: 32 };
const JSON_BODY = JSON.stringify({
  id,
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hello from the bench upstream, twenty tokens long or so.' },
      finish_reason: 'stop',
    },
  ],
  usage,
});
const chunk = (delta: Record<string, unknown>, finish: string | null = null, u?: unknown) =>
  `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini', choices: u ? [] : [{ index: 0, delta, finish_reason: finish }], ...(u ? { usage: u } : {}) })}\n\n`;
/** 22 events, the terminator included. */
export const SSE_EVENTS = [
  chunk({ role: 'assistant', content: '' }),
  ...Array.from({ length: 18 }, (_, i) => chunk({ content: ` word${i}` })),
  chunk({}, 'stop'),
  chunk({}, null, usage),
  'data: [DONE]\n\n',
];

let bigBytesWritten = 0;
const streams: Record<string, number> = {};

function streamBig(res: import('node:http').ServerResponse, kb: number, id: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const line = `data: ${'x'.repeat(1016)}\n\n`; // 1 KiB per event
  let left = kb;
  const pump = () => {
    while (left > 0) {
      left--;
      bigBytesWritten += line.length;
      streams[id] = (streams[id] ?? 0) + line.length;
      if (!res.write(line)) return void res.once('drain', pump);
    }
    res.end();
  };
  res.on('close', () => {
    left = 0;
  });
  pump();
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.end(JSON.stringify({ bigBytesWritten, streams }));
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => {
    body += c;
  });
  req.on('end', () => {
    const big = /"bench_big_kb":(\d+)/.exec(body);
    if (big) return streamBig(res, Number(big[1]), /"bench_big_id":"([\w-]+)"/.exec(body)?.[1] ?? '-');
    if (!body.includes('"stream":true')) {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(JSON_BODY),
      });
      res.end(JSON_BODY);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    // Zero delay: all 22 events in this same tick, each its own write (so each may become its
    // own chunk on the wire, as a real upstream's would), then the end.
    for (const e of SSE_EVENTS) res.write(e);
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => process.exit(0));
