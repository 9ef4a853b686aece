import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  fingerprintRequest,
  MIN_PREFIX_TOKENS,
  newFingerprintSecret,
} from '../../../src/insights/fingerprint.js';

const secret = Buffer.from(newFingerprintSecret(), 'hex');
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
    const a = fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', body());
    const b = fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', body());
    expect(a).toEqual(b);
    expect(a.request).toMatch(/^[0-9a-f]{32}$/);
  });

  it('ignores stream flags, stream options, user ids and metadata', () => {
    const plain = fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', body());
    const varied = fingerprintRequest(
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
    const reordered = fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', {
      temperature,
      messages,
      model,
    });
    expect(reordered.request).toBe(
      fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', body()).request,
    );
  });

  it('tells apart another question, another model, another route and another secret', () => {
    const base = fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', body()).request;
    const question = body();
    question.messages[1] = { role: 'user', content: 'And of Spain?' };
    expect(fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', question).request).not.toBe(
      base,
    );
    expect(fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o', body()).request).not.toBe(base);
    expect(fingerprintRequest(secret, '/v1/responses', 'gpt-4o-mini', body()).request).not.toBe(base);
    const other = Buffer.from(newFingerprintSecret(), 'hex');
    expect(fingerprintRequest(other, '/v1/chat/completions', 'gpt-4o-mini', body()).request).not.toBe(base);
  });

  it('is not a plain hash of the prompt', () => {
    const fp = fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', body());
    const unkeyed = createHash('sha256').update(JSON.stringify(body().messages)).digest('hex');
    expect(unkeyed.startsWith(fp.request)).toBe(false);
  });
});

describe('prompt-prefix fingerprints', () => {
  it('gives two questions under one long system prompt the same prefix fingerprint', () => {
    const other = body();
    other.messages[1] = { role: 'user', content: 'And of Spain?' };
    const a = fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', body());
    const b = fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', other);
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
    const a = fingerprintRequest(secret, '/v1/messages', 'claude-sonnet-4-5', anthropic('one'));
    const b = fingerprintRequest(secret, '/v1/messages', 'claude-sonnet-4-5', anthropic('two'));
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
    const fp = fingerprintRequest(secret, '/v1/chat/completions', 'gpt-4o-mini', short);
    expect(fp.prefix).toBeNull();
    expect(fp.prefixTokens).toBe(0);
  });
});
