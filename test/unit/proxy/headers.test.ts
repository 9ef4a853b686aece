import { describe, expect, it } from 'vitest';
import type { UpstreamConfig } from '../../../src/config/types.js';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../../src/proxy/headers.js';
import { prepareBody } from '../../../src/proxy/prepare-body.js';
import { errorShapeFor, matchRoute } from '../../../src/proxy/routes.js';
import { upstreamUrl } from '../../../src/proxy/upstream-url.js';

const openai: UpstreamConfig = {
  name: 'openai',
  baseUrl: 'https://api.openai.com/v1',
  apiKeyEnv: 'K',
  timeoutMs: 1,
  format: 'openai',
};
const anthropic: UpstreamConfig = { ...openai, name: 'anthropic', format: 'anthropic' };

const incoming = {
  authorization: 'Bearer tgk_client',
  'x-api-key': 'tgk_client',
  'api-key': 'x',
  cookie: 'a=b',
  connection: 'keep-alive, x-custom-hop',
  'x-custom-hop': '1',
  'keep-alive': 'timeout=5',
  'transfer-encoding': 'chunked',
  'x-forwarded-for': '10.0.0.1',
  'x-forwarded-authorization': 'Bearer tgk_client',
  host: 'gateway:8080',
  'accept-encoding': 'gzip, br',
  'content-length': '999',
  'user-agent': 'cursor/1.0',
  'anthropic-beta': 'tools-2024',
  expect: '100-continue',
};

describe('header hygiene', () => {
  it('drops client credentials, hop-by-hop and forwarding headers and sets the upstream Bearer key', () => {
    const h = upstreamRequestHeaders(incoming, openai, 'sk-up', 42);
    expect(h).toEqual({
      'user-agent': 'cursor/1.0',
      'anthropic-beta': 'tools-2024',
      'content-type': 'application/json',
      'content-length': '42',
      'accept-encoding': 'identity',
      authorization: 'Bearer sk-up',
    });
  });

  it('sets x-api-key and a default anthropic-version for an Anthropic upstream, keeping the client version', () => {
    expect(upstreamRequestHeaders(incoming, anthropic, 'sk-ant', 1)).toMatchObject({
      'x-api-key': 'sk-ant',
      'anthropic-version': '2023-06-01',
    });
    expect(
      upstreamRequestHeaders({ ...incoming, 'anthropic-version': '2099-01-01' }, anthropic, 'sk', 1)[
        'anthropic-version'
      ],
    ).toBe('2099-01-01');
    expect(upstreamRequestHeaders(incoming, anthropic, 'sk', 1).authorization).toBeUndefined();
  });

  it("keeps the gateway's own response headers over the upstream's and drops its cookies", () => {
    const out = clientResponseHeaders(
      {
        'content-type': 'application/json',
        'content-length': '10',
        'set-cookie': ['x=1'],
        'x-tollgate-key': 'evil',
        connection: 'close',
      },
      { keepLength: false, alreadySet: (n) => n === 'x-tollgate-key' },
    );
    expect(out).toEqual({ 'content-type': 'application/json' });
  });
});

describe('routes and bodies', () => {
  it('serves exactly the documented routes and methods', () => {
    expect(matchRoute('POST', '/v1/chat/completions')?.kind).toBe('chat');
    expect(matchRoute('GET', '/v1/chat/completions')).toBeUndefined();
    expect(matchRoute('POST', '/v1/messages/count_tokens')?.free).toBe(true);
    expect(matchRoute('GET', '/v1/models')?.kind).toBe('models');
    expect(matchRoute('POST', '/v1/files')).toBeUndefined();
    expect(errorShapeFor('/v1/messages/batches')).toBe('anthropic');
    expect(errorShapeFor('/v1/chat/completions')).toBe('openai');
  });

  it('maps a route onto the upstream base URL, keeping the query string', () => {
    expect(upstreamUrl('https://api.anthropic.com/v1/', '/v1/messages', '/v1/messages?beta=true')).toEqual({
      https: true,
      hostname: 'api.anthropic.com',
      port: undefined,
      auth: undefined,
      path: '/v1/messages?beta=true',
    });
    expect(
      upstreamUrl('http://u:p%40ss@[::1]:8081/openai/v1', '/v1/chat/completions', '/v1/chat/completions'),
    ).toEqual({
      https: false,
      hostname: '::1',
      port: 8081,
      auth: 'u:p@ss',
      path: '/openai/v1/chat/completions',
    });
  });

  it('asks an OpenAI stream for usage unless the client did, and forwards an untouched body as is', () => {
    const chat = matchRoute('POST', '/v1/chat/completions');
    if (!chat) throw new Error('route missing');
    const raw = Buffer.from('{"model":"m","stream":true,"stream_options":{"include_usage":false}}');
    const p = prepareBody(raw, JSON.parse(raw.toString()), chat, { maxOutputTokens: 1 });
    expect(JSON.parse(p.body.toString()).stream_options).toEqual({ include_usage: true });
    expect(p.hideUsageChunk).toBe(true);
    const asked = Buffer.from('{"model":"m","stream":true,"stream_options":{"include_usage":true}}');
    const q = prepareBody(asked, JSON.parse(asked.toString()), chat, { maxOutputTokens: 1 });
    expect(q.body).toBe(asked);
    expect(q.hideUsageChunk).toBe(false);
  });

  it('writes the fields a bound sets, and leaves out one set to undefined', () => {
    const responses = matchRoute('POST', '/v1/responses');
    if (!responses) throw new Error('route missing');
    const raw = Buffer.from('{"model":"m","tools":[{"type":"image_generation"}],"tool_choice":"auto"}');
    const p = prepareBody(
      raw,
      JSON.parse(raw.toString()),
      responses,
      { maxOutputTokens: 1 },
      {
        tools: undefined,
        max_tool_calls: 10,
      },
    );
    expect(JSON.parse(p.body.toString())).toEqual({ model: 'm', tool_choice: 'auto', max_tool_calls: 10 });
    expect(p.body.toString()).not.toContain('tools"');
  });
});
