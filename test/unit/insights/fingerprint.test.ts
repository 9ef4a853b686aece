import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  fingerprintRequest,
  fingerprintUpload,
  MIN_PREFIX_TOKENS,
  newFingerprintSecret,
} from '../../../src/insights/fingerprint.js';

const secret = Buffer.from(newFingerprintSecret(), 'hex');
/** Fingerprints of `body` as a client sends it: its JSON bytes, and the gateway's parse of them. */
const fingerprint = (s: Buffer, route: string, model: string, body: Record<string, unknown>) =>
  fingerprintRequest(s, route, model, Buffer.from(JSON.stringify(body)), body);
const system = 'You are a careful assistant. '.repeat(200);
const body = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: system },
    { role: 'user', content: 'What is the capital of France?' },
  ],
  temperature: 0,
  ...extra,
});

describe('request fingerprints', () => {
  it('gives one request the same fingerprint every time it is sent', () => {
    const a = fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', body());
    const b = fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', body());
    expect(a).toEqual(b);
    expect(a.request).toMatch(/^[0-9a-f]{32}$/);
  });

  it('ignores stream flags, stream options, user ids and metadata', () => {
    const plain = fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', body());
    const varied = fingerprint(
      secret,
      '/v1/chat/completions',
      'gpt-4o-mini',
      body({
        stream: true,
        stream_options: { include_usage: true },
        user: 'session-81',
        metadata: { user_id: 'u-1' },
        safety_identifier: 'x',
      }),
    );
    expect(varied.request).toBe(plain.request);
  });

  it('does not depend on the order of the body fields', () => {
    const { model, messages, temperature } = body();
    const reordered = fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', {
      temperature,
      messages,
      model,
    });
    expect(reordered.request).toBe(
      fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', body()).request,
    );
  });

  it('tells apart another question, another model, another route and another secret', () => {
    const base = fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', body()).request;
    const question = body();
    question.messages[1] = { role: 'user', content: 'And of Spain?' };
    expect(fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', question).request).not.toBe(base);
    expect(fingerprint(secret, '/v1/chat/completions', 'gpt-4o', body()).request).not.toBe(base);
    expect(fingerprint(secret, '/v1/responses', 'gpt-4o-mini', body()).request).not.toBe(base);
    const other = Buffer.from(newFingerprintSecret(), 'hex');
    expect(fingerprint(other, '/v1/chat/completions', 'gpt-4o-mini', body()).request).not.toBe(base);
  });

  it('is not a plain hash of the prompt', () => {
    const fp = fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', body());
    const unkeyed = createHash('sha256').update(JSON.stringify(body().messages)).digest('hex');
    expect(unkeyed.startsWith(fp.request)).toBe(false);
  });
});

describe('request fingerprints from the bytes sent', () => {
  const route = '/v1/chat/completions';
  const parts = {
    model: '"gpt-4o-mini"',
    messages: '[{"role":"user","content":"Say \\"hi\\" {twice} [please]"}]',
    temperature: '0',
  };
  const send = (members: Array<[string, string]>, space = '') =>
    Buffer.from(
      `{${members.map(([k, v]) => `${space}"${k}"${space}:${space}${v}`).join(`,${space}`)}${space}}`,
    );
  const fp = (raw: Buffer) =>
    fingerprintRequest(secret, route, 'gpt-4o-mini', raw, JSON.parse(raw.toString()));

  it('ignores volatile fields wherever they sit in the body and however they are spaced', () => {
    const plain = fp(send(Object.entries(parts))).request;
    const varied = send(
      [
        ['stream', 'true'],
        ['model', parts.model],
        ['metadata', '{"user_id":"s-1","tags":["a","}"]}'],
        ['messages', parts.messages],
        ['user', '"u-9"'],
        ['temperature', parts.temperature],
        ['stream_options', '{"include_usage":true}'],
      ],
      ' \n',
    );
    expect(fp(varied).request).toBe(plain);
  });

  it('reads a key written with escapes as the key it names', () => {
    const escaped = send([...Object.entries(parts), ['\\u0075ser', '"u-9"']]);
    expect(fp(escaped).request).toBe(fp(send(Object.entries(parts))).request);
  });

  it('does not ignore a volatile name inside a message or a tool', () => {
    const a = send([...Object.entries(parts), ['tools', '[{"user":"a"}]']]);
    const b = send([...Object.entries(parts), ['tools', '[{"user":"b"}]']]);
    expect(fp(a).request).not.toBe(fp(b).request);
  });
});

describe('upload fingerprints', () => {
  const route = '/v1/audio/transcriptions';
  const fields = { model: 'whisper-1', language: 'en' };
  it('tells two uploads with the same fields apart by their files', () => {
    const a = fingerprintUpload(secret, route, 'whisper-1', fields, [{ field: 'file', sha256: 'aa' }]);
    const b = fingerprintUpload(secret, route, 'whisper-1', fields, [{ field: 'file', sha256: 'bb' }]);
    const again = fingerprintUpload(secret, route, 'whisper-1', { ...fields }, [
      { field: 'file', sha256: 'aa' },
    ]);
    expect(a.request).not.toBe(b.request);
    expect(again.request).toBe(a.request);
    expect(a.prefix).toBeNull();
  });
});

describe('prompt-prefix fingerprints', () => {
  it('gives two questions under one long system prompt the same prefix fingerprint', () => {
    const other = body();
    other.messages[1] = { role: 'user', content: 'And of Spain?' };
    const a = fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', body());
    const b = fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', other);
    expect(a.prefix).not.toBeNull();
    expect(a.prefix).toBe(b.prefix);
    expect(a.request).not.toBe(b.request);
    expect(a.prefixTokens).toBeGreaterThanOrEqual(MIN_PREFIX_TOKENS);
  });

  it('covers an Anthropic system prompt and tools', () => {
    const anthropic = (question: string) => ({
      model: 'claude-sonnet-4-5',
      system: system,
      tools: [{ name: 'read_file', input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: question }],
      max_tokens: 512,
    });
    const a = fingerprint(secret, '/v1/messages', 'claude-sonnet-4-5', anthropic('one'));
    const b = fingerprint(secret, '/v1/messages', 'claude-sonnet-4-5', anthropic('two'));
    expect(a.prefix).not.toBeNull();
    expect(a.prefix).toBe(b.prefix);
  });

  it('keeps no prefix fingerprint for a short prefix', () => {
    const short = {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    };
    const fp = fingerprint(secret, '/v1/chat/completions', 'gpt-4o-mini', short);
    expect(fp.prefix).toBeNull();
    expect(fp.prefixTokens).toBe(0);
  });

  it('stays the HMAC-SHA-256 of the sorted members, with or without a prefix, as stored fingerprints were made', () => {
    const hmac = (...parts: string[]) => {
      const h = createHmac('sha256', secret);
      for (const p of parts) h.update(p);
      return h.digest('hex').slice(0, 32);
    };
    const route = '/v1/chat/completions';
    for (const model of ['gpt-4o-mini', 'gpt-4o']) {
      const b = { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 };
      const emptyPrefix = hmac(`prefix\u0000${model}`);
      const expected = hmac(
        `${route}\u0000${model}`,
        '\u0000max_tokens\u00010\u00015',
        `\u0000messages\u00010\u0001${JSON.stringify(b.messages)}`,
        `\u0000prefix\u0001${emptyPrefix}`,
      );
      // Twice: the second reads the prefix digest computed for the first.
      expect(fingerprint(secret, route, model, b).request).toBe(expected);
      expect(fingerprint(secret, route, model, b).request).toBe(expected);
    }
    const withPrefix = { model: 'm', system: 'S', messages: [] };
    const prefix = hmac('prefix\u0000m', '\u0000system\u0001', '"S"');
    expect(fingerprint(secret, route, 'm', withPrefix).request).toBe(
      hmac(
        `${route}\u0000m`,
        '\u0000messages\u00010\u0001[]',
        '\u0000system\u00013\u0001',
        `\u0000prefix\u0001${prefix}`,
      ),
    );
  });
});
