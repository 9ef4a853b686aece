import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMediaReader } from '../../../src/metering/media-usage.js';
import { createSseTap, MAX_PARSED_LINE_BYTES } from '../../../src/metering/sse-tap.js';
import { createUsageReader } from '../../../src/metering/usage-reader.js';

const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const content = (t: string) => ({ choices: [{ index: 0, delta: { content: t } }], usage: null });
const usageChunk = {
  choices: [],
  usage: { prompt_tokens: 10, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 4 } },
};
const STREAM = [data(content('Hel')), data(content('lo')), data(usageChunk), 'data: [DONE]\n\n'].join('');

function run(stream: string, cuts: number[], hide: boolean) {
  const reader = createUsageReader('openai-chat');
  const tap = createSseTap(reader, { hideUsageChunk: hide });
  const bytes = Buffer.from(stream, 'utf8');
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of [...points, bytes.length]) {
    out.push(tap.transform(bytes.subarray(at, p)));
    at = p;
  }
  out.push(tap.flush());
  return { text: Buffer.concat(out).toString('utf8'), reader };
}

describe('the SSE tap', () => {
  it('passes every byte through untouched when nothing is hidden, and reads the usage', () => {
    const { text, reader } = run(STREAM, [7, 30, 61], false);
    expect(text).toBe(STREAM);
    expect(reader.usage()).toEqual({
      inputTokens: 10,
      outputTokens: 3,
      cachedTokens: 4,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
    });
    expect(reader.textChars()).toBe(5);
  });

  it('hides the usage-only chunk and its blank line, and nothing else', () => {
    const { text, reader } = run(STREAM, [], true);
    expect(text).toBe([data(content('Hel')), data(content('lo')), 'data: [DONE]\n\n'].join(''));
    expect(reader.usage()?.inputTokens).toBe(10);
  });

  it('gives the same output and usage however the upstream splits its chunks (multi-byte text included)', () => {
    const stream = [data(content('Grüße 👋')), data(usageChunk), 'data: [DONE]\n\n'].join('');
    const whole = run(stream, [], true);
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (cuts, hide) => {
        const split = run(stream, cuts, hide);
        expect(split.text).toBe(hide ? whole.text : stream);
        expect(split.reader.usage()).toEqual(whole.reader.usage());
        expect(split.reader.textChars()).toBe('Grüße 👋'.length);
      }),
    );
  });

  it('sends complete lines at once when rewriting, holding back only a partial line', () => {
    const tap = createSseTap(createUsageReader('openai-chat'), { hideUsageChunk: true });
    const first = tap.transform(Buffer.from(`${data(content('a'))}data: {"cho`));
    expect(first.toString()).toBe(data(content('a')));
    const rest = tap.transform(Buffer.from('ices":[{"delta":{"content":"b"}}]}\n\n'));
    expect(rest.toString()).toBe('data: {"choices":[{"delta":{"content":"b"}}]}\n\n');
  });

  it('forwards a chunk of whole events as the very same buffer when rewriting and nothing is hidden', () => {
    const tap = createSseTap(createUsageReader('openai-chat'), { hideUsageChunk: true });
    const whole = Buffer.from(data(content('a')) + data(content('b')));
    expect(tap.transform(whole)).toBe(whole);
    const withUsage = Buffer.from(data(content('c')) + data(usageChunk));
    expect(tap.transform(withUsage).toString()).toBe(data(content('c')));
  });

  it('handles CRLF line endings', () => {
    const crlf = STREAM.replace(/\n/g, '\r\n');
    const { text, reader } = run(crlf, [3, 50], true);
    expect(text).not.toContain('prompt_tokens');
    expect(text).toContain('[DONE]');
    expect(reader.usage()?.outputTokens).toBe(3);
  });

  it('reads Anthropic message_start and message_delta, summing cache reads and writes into input and keeping the 1-hour writes apart', () => {
    const reader = createUsageReader('anthropic-messages');
    const tap = createSseTap(reader, { hideUsageChunk: false });
    const ev = (type: string, d: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...d })}\n\n`;
    tap.transform(
      Buffer.from(
        ev('message_start', {
          message: {
            usage: {
              input_tokens: 5,
              cache_read_input_tokens: 100,
              cache_creation_input_tokens: 20,
              cache_creation: { ephemeral_5m_input_tokens: 5, ephemeral_1h_input_tokens: 15 },
              output_tokens: 1,
            },
          },
        }) +
          ev('content_block_delta', { delta: { type: 'text_delta', text: 'abcdefgh' } }) +
          // message_delta restates the input counts (cumulative), here unchanged.
          ev('message_delta', {
            usage: {
              input_tokens: 5,
              cache_read_input_tokens: 100,
              cache_creation_input_tokens: 20,
              output_tokens: 42,
            },
          }),
      ),
    );
    tap.flush();
    expect(reader.usage()).toEqual({
      inputTokens: 125,
      outputTokens: 42,
      cachedTokens: 100,
      cacheWriteTokens: 20,
      cacheWrite1hTokens: 15,
    });
    expect(reader.textChars()).toBe(8);
  });

  it('counts the hosted web searches of a streamed response from response.completed', () => {
    const reader = createUsageReader('openai-responses');
    const tap = createSseTap(reader, { hideUsageChunk: false });
    const completed = {
      type: 'response.completed',
      response: {
        output: [
          { type: 'web_search_call', id: 'ws_1' },
          { type: 'message', id: 'm' },
        ],
        usage: { input_tokens: 7, output_tokens: 2 },
      },
    };
    tap.transform(Buffer.from(`event: response.completed\ndata: ${JSON.stringify(completed)}\n\n`));
    expect(reader.usage()).toMatchObject({ inputTokens: 7, outputTokens: 2, webSearches: 1 });
  });

  it('reads the Responses API usage from response.completed', () => {
    const reader = createUsageReader('openai-responses');
    const tap = createSseTap(reader, { hideUsageChunk: false });
    tap.transform(
      Buffer.from(
        `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"hey"}\n\n` +
          `event: response.completed\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":7,"output_tokens":2,"input_tokens_details":{"cached_tokens":3},"output_tokens_details":{"reasoning_tokens":1}}}}\n\n`,
      ),
    );
    expect(reader.usage()).toEqual({
      inputTokens: 7,
      outputTokens: 2,
      cachedTokens: 3,
      cacheWriteTokens: 0,
      reasoningTokens: 1,
    });
    expect(reader.textChars()).toBe(3);
  });
});

describe('the SSE tap and a line too long to parse', () => {
  for (const hide of [false, true]) {
    it(`passes a line over ${MAX_PARSED_LINE_BYTES} bytes through as it came, reads its shape, and parses the lines after it (hiding: ${hide})`, () => {
      const long = data({
        choices: [],
        usage: { prompt_tokens: 1, completion_tokens: 1 },
        pad: 'z'.repeat(2 * MAX_PARSED_LINE_BYTES),
      });
      const stream = [
        data(content('Hel')),
        data(usageChunk),
        long,
        data(content('lo')),
        'data: [DONE]\n\n',
      ].join('');
      const reader = createUsageReader('openai-chat');
      let unparsed = 0;
      const tap = createSseTap(reader, { hideUsageChunk: hide, onUnparsed: (n) => (unparsed += n) });
      const bytes = Buffer.from(stream, 'utf8');
      const out: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += 64 * 1024)
        out.push(tap.transform(bytes.subarray(at, at + 64 * 1024)));
      out.push(tap.flush());
      const text = Buffer.concat(out).toString('utf8');
      // The long line's own usage (1/1), after the usage chunk, was read from its shape (its
      // 2 MB string emptied); the line after it was parsed too.
      expect(reader.usage()).toMatchObject({ inputTokens: 1, outputTokens: 1 });
      expect(reader.textChars()).toBe(5);
      expect(unparsed).toBe(long.length - 2);
      // A line that long cannot be held back: it reaches the client even when it is a usage chunk.
      expect(text).toContain(long);
      expect(text).toContain('[DONE]');
      if (!hide) expect(text).toBe(stream);
      else expect(text).not.toContain('"prompt_tokens":10');
    });
  }

  it("reads a streamed image's usage after megabytes of base64, in chunks of any size", () => {
    const b64 = Buffer.alloc(3 * MAX_PARSED_LINE_BYTES, 7).toString('base64');
    const completed = {
      type: 'image_generation.completed',
      b64_json: b64,
      created_at: 1,
      size: '1024x1536',
      quality: 'medium',
      background: 'opaque',
      output_format: 'png',
      usage: {
        input_tokens: 50,
        input_tokens_details: { text_tokens: 50, image_tokens: 0 },
        output_tokens: 1584,
        total_tokens: 1634,
      },
    };
    const partial = { type: 'image_generation.partial_image', b64_json: b64, partial_image_index: 0 };
    const stream = Buffer.from(
      `event: image_generation.partial_image\n${data(partial)}event: image_generation.completed\n${data(completed)}`,
    );
    for (const size of [64 * 1024, 65_521, 1_000_003]) {
      const reader = createMediaReader('openai-images');
      const tap = createSseTap(reader, { hideUsageChunk: false });
      const out: Buffer[] = [];
      for (let at = 0; at < stream.length; at += size)
        out.push(tap.transform(stream.subarray(at, at + size)));
      out.push(tap.flush());
      expect(Buffer.concat(out).equals(stream)).toBe(true);
      expect(reader.usage()).toMatchObject({ inputTokens: 50, outputTokens: 1584, outputImageTokens: 1584 });
      expect(reader.images()).toBe(1);
      expect(reader.imageShape()).toEqual({ size: '1024x1536', quality: 'medium' });
    }
  });
});
