import { describe, expect, it } from 'vitest';
import { createJsonTap, lastUsageObject } from '../../../src/metering/json-tap.js';
import { createUsageReader } from '../../../src/metering/usage-reader.js';

describe('the JSON tap', () => {
  it('passes chunks through as they come and reads usage at the end', () => {
    const reader = createUsageReader('openai-chat');
    const tap = createJsonTap(reader);
    const body = JSON.stringify({
      choices: [{ message: { content: 'hi' } }],
      usage: {
        prompt_tokens: 3,
        completion_tokens: 1,
        completion_tokens_details: { reasoning_tokens: 1 },
      },
    });
    const a = Buffer.from(body.slice(0, 10));
    expect(tap.transform(a)).toBe(a);
    tap.transform(Buffer.from(body.slice(10)));
    expect(tap.flush()).toHaveLength(0);
    expect(reader.usage()).toEqual({
      inputTokens: 3,
      outputTokens: 1,
      cachedTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 1,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
    });
  });

  it('reads no usage from a body that is not JSON', () => {
    const reader = createUsageReader('openai-chat');
    const tap = createJsonTap(reader);
    tap.transform(Buffer.from('<html>502 Bad Gateway</html>'));
    tap.flush();
    expect(reader.usage()).toBeUndefined();
  });

  it('finds the usage in the tail of a body too large to keep whole', () => {
    const reader = createUsageReader('openai-embeddings');
    const tap = createJsonTap(reader);
    tap.transform(Buffer.from('{"data":['));
    const filler = Buffer.from('0.123456789,'.repeat(100_000));
    for (let i = 0; i < 20; i++) tap.transform(filler);
    tap.transform(Buffer.from('1],"usage":{"prompt_tokens":77,"total_tokens":77}}'));
    tap.flush();
    expect(reader.usage()?.inputTokens).toBe(77);
  });

  it('matches braces inside strings when extracting the last usage object', () => {
    expect(lastUsageObject('{"x":"\\"usage\\"","usage":{"a":"}{","b":2}}')).toEqual({ a: '}{', b: 2 });
    expect(lastUsageObject('{"no":1}')).toBeUndefined();
  });
});
