import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { anthropicMessage, type Behaviour, CANNED, canned, json, type Received } from './fake-upstream.js';

/**
 * A fake provider: the model routes of fake-upstream.ts, plus the provider's admin API for usage
 * and cost reports (OpenAI's /v1/organization/usage/* and /costs, Anthropic's
 * /v1/organizations/usage_report/messages and /cost_report) at the same base URL, as the real
 * providers have them. It counts what it served per UTC day, API key and model, the way a
 * provider does, so the reports come from real traffic: requests through tollgate, and any a test
 * sends past it with the same upstream key. Answers use the documented shapes: time buckets with
 * `results`, `has_more`/`next_page` pagination (a small page size, so every read crosses pages),
 * group_by fields, models by their dated ids, OpenAI dollars as `amount.value`, Anthropic's as
 * cents in a decimal string.
 */

export interface Tally {
  day: string;
  apiKeyId: string;
  model: string;
  requests: number;
  /** OpenAI: input including cached; Anthropic: uncached only. */
  input: number;
  cached: number;
  write5m: number;
  write1h: number;
  output: number;
  /** OpenAI audio models: the audio parts of `input` (cached audio included), of `cached`, and of `output`. */
  inputAudio?: number;
  cachedAudio?: number;
  outputAudio?: number;
  /** Anthropic: where inference ran (`us` when the request asked `inference_geo: "us"`); default `global`. */
  geo?: string;
}

export interface FakeProvider {
  baseUrl: string;
  /** Every request, model routes and admin routes alike. */
  received: Received[];
  /** Admin requests only. */
  adminRequests: Received[];
  tallies: Tally[];
  /** Upstream key (the secret) → its id in the reports. */
  keyIds: Map<string, string>;
  /** The admin key the admin API accepts; anything else is a 401. */
  adminKey: string;
  /** USD the cost report bills for one tally; default: `price` × tokens. */
  price: (t: Tally) => number;
  /** Input-side tokens of each answer are the canned ones times this (default 100). */
  usageScale: number;
  /** Answer admin requests with this status instead (e.g. 401), while set. */
  adminStatus: number | null;
  /** Answer admin requests with a 302 to this origin (same path and query), while set. */
  adminRedirect: string | null;
  /**
   * The form of OpenAI's completions results: `breakdown` (the current one: audio inside
   * input_tokens/output_tokens, per-modality fields beside) or `text-only` (the earlier one:
   * input_tokens/output_tokens are text, audio apart).
   */
  openAiUsageForm: 'breakdown' | 'text-only';
  /** Whether part of an audio answer's cached prompt is audio (default true). */
  cachedAudio: boolean;
  /** Adds usage as if sent past tollgate with the key whose id is `apiKeyId`. */
  addUsage(t: Tally): void;
  close(): Promise<void>;
}

const PAGE_SIZE = 1;
const DATED: Record<string, string> = { openai: '-2024-07-18', anthropic: '-20251001' };

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The usage of one answer: the canned usage with its input-side counts times `scale`, so a few
 * requests reach dollars the bill check's $0.01 floor does not swallow.
 */
function scaledUsage(scale: number) {
  const c = CANNED.chat;
  const m = CANNED.messages;
  return {
    chat: {
      ...c,
      prompt_tokens: c.prompt_tokens * scale,
      prompt_tokens_details: {
        ...c.prompt_tokens_details,
        cached_tokens: c.prompt_tokens_details.cached_tokens * scale,
      },
    },
    messages: {
      ...m,
      input_tokens: m.input_tokens * scale,
      cache_read_input_tokens: m.cache_read_input_tokens * scale,
      cache_creation_input_tokens: m.cache_creation_input_tokens * scale,
      cache_creation: {
        ephemeral_5m_input_tokens: m.cache_creation.ephemeral_5m_input_tokens * scale,
        ephemeral_1h_input_tokens: m.cache_creation.ephemeral_1h_input_tokens * scale,
      },
    },
  };
}

/**
 * A chat answer with audio (asked by `modalities: ["text", "audio"]`): parts of the prompt,
 * of its cached tokens and of the completion are audio, as OpenAI's audio models count them.
 */
function withAudio(chat: ReturnType<typeof scaledUsage>['chat'], scale: number, cachedAudio: boolean) {
  const audio = { input: 500 * scale, cached: cachedAudio ? 50 * scale : 0, output: 200 };
  return {
    usage: {
      ...chat,
      prompt_tokens_details: { ...chat.prompt_tokens_details, audio_tokens: audio.input },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: audio.output },
    },
    audio,
  };
}

function answer(
  path: string,
  body: Record<string, unknown>,
  scale: number,
  cachedAudio = true,
): { behaviour: Behaviour; tally: Omit<Tally, 'day' | 'apiKeyId'> } | null {
  const model = String(body.model ?? '');
  const u = scaledUsage(scale);
  const audio = Array.isArray(body.modalities) && body.modalities.includes('audio');
  if (path === '/v1/chat/completions' && body.stream !== true && audio) {
    const a = withAudio(u.chat, scale, cachedAudio);
    return {
      behaviour: json(200, {
        id: 'chatcmpl-2',
        object: 'chat.completion',
        created: 1,
        model: model + DATED.openai,
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
        usage: { ...a.usage, total_tokens: a.usage.prompt_tokens + a.usage.completion_tokens },
      }),
      tally: {
        model: model + DATED.openai,
        requests: 1,
        input: a.usage.prompt_tokens,
        cached: a.usage.prompt_tokens_details.cached_tokens,
        write5m: 0,
        write1h: 0,
        output: a.usage.completion_tokens,
        inputAudio: a.audio.input,
        cachedAudio: a.audio.cached,
        outputAudio: a.audio.output,
      },
    };
  }
  if (path === '/v1/chat/completions' && body.stream !== true) {
    return {
      behaviour: json(200, {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: model + DATED.openai,
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
        usage: { ...u.chat, total_tokens: u.chat.prompt_tokens + u.chat.completion_tokens },
      }),
      tally: {
        model: model + DATED.openai,
        requests: 1,
        input: u.chat.prompt_tokens,
        cached: u.chat.prompt_tokens_details.cached_tokens,
        write5m: 0,
        write1h: 0,
        output: u.chat.completion_tokens,
      },
    };
  }
  if (path === '/v1/messages' && body.stream !== true) {
    // Anthropic says where inference ran in the answer's usage, and reports it by inference_geo.
    const geo = body.inference_geo === 'us' ? 'us' : 'global';
    const usage = { ...u.messages, inference_geo: geo } as typeof u.messages;
    return {
      behaviour: json(200, anthropicMessage(model + DATED.anthropic, usage)),
      tally: {
        geo,
        model: model + DATED.anthropic,
        requests: 1,
        input: u.messages.input_tokens,
        cached: u.messages.cache_read_input_tokens,
        write5m: u.messages.cache_creation.ephemeral_5m_input_tokens,
        write1h: u.messages.cache_creation.ephemeral_1h_input_tokens,
        output: u.messages.output_tokens,
      },
    };
  }
  return null;
}

/**
 * The provider's groups: one row per (key, model) of the day, whatever the number of requests, and
 * per inference geo when the report is grouped by it (`byGeo`); else the geos fold together.
 */
function grouped(rows: Tally[], byGeo = false): Tally[] {
  const out = new Map<string, Tally>();
  for (const t of rows) {
    const id = `${t.apiKeyId} ${t.model}${byGeo ? ` ${t.geo ?? 'global'}` : ''}`;
    const g = out.get(id);
    if (!g) out.set(id, byGeo ? { ...t } : { ...t, geo: 'global' });
    else {
      for (const f of ['requests', 'input', 'cached', 'write5m', 'write1h', 'output'] as const) g[f] += t[f];
      for (const f of ['inputAudio', 'cachedAudio', 'outputAudio'] as const) g[f] = (g[f] ?? 0) + (t[f] ?? 0);
    }
  }
  return [...out.values()];
}

/** `group_by[]=a&group_by[]=b` (the SDKs' form) or `group_by=a&group_by=b`. */
const list = (q: URLSearchParams, name: string) => [...q.getAll(`${name}[]`), ...q.getAll(name)];

function page<T>(
  items: T[],
  q: URLSearchParams,
): { slice: T[]; has_more: boolean; next_page: string | null } {
  const from = Number((q.get('page') ?? 'page_0').replace('page_', ''));
  const slice = items.slice(from, from + PAGE_SIZE);
  const more = from + PAGE_SIZE < items.length;
  return { slice, has_more: more, next_page: more ? `page_${from + PAGE_SIZE}` : null };
}

/** A completions result's token fields, in either documented form (see FakeProvider.openAiUsageForm). */
function completionTokens(t: Tally, form: FakeProvider['openAiUsageForm']) {
  const audioIn = t.inputAudio ?? 0;
  const cachedAudio = t.cachedAudio ?? 0;
  const audioOut = t.outputAudio ?? 0;
  if (form === 'text-only') {
    return {
      input_tokens: t.input - audioIn,
      input_cached_tokens: t.cached - cachedAudio,
      output_tokens: t.output - audioOut,
      input_audio_tokens: audioIn,
      output_audio_tokens: audioOut,
    };
  }
  return {
    input_tokens: t.input,
    input_cached_tokens: t.cached,
    input_uncached_tokens: t.input - t.cached,
    input_text_tokens: t.input - t.cached - (audioIn - cachedAudio),
    input_audio_tokens: audioIn - cachedAudio,
    input_image_tokens: 0,
    input_cached_text_tokens: t.cached - cachedAudio,
    input_cached_audio_tokens: cachedAudio,
    input_cached_image_tokens: 0,
    input_cache_write_tokens: 0,
    output_tokens: t.output,
    output_text_tokens: t.output - audioOut,
    output_audio_tokens: audioOut,
    output_image_tokens: 0,
  };
}

function openAiUsage(p: FakeProvider, kind: string, q: URLSearchParams): unknown {
  const start = Number(q.get('start_time')) * 1000;
  const end = Number(q.get('end_time') ?? start / 1000 + 86_400) * 1000;
  const groups = list(q, 'group_by');
  const keys = list(q, 'api_key_ids');
  const day = dayOf(start);
  const rows =
    kind === 'completions'
      ? grouped(
          p.tallies.filter(
            (t) =>
              t.day === day &&
              !t.model.startsWith('claude') &&
              (keys.length === 0 || keys.includes(t.apiKeyId)),
          ),
        )
      : [];
  // One result per page: each a bucket of the day, so pages and buckets both need reading.
  const results = rows.map((t) => ({
    object: 'organization.usage.completions.result',
    ...completionTokens(t, p.openAiUsageForm),
    num_model_requests: t.requests,
    project_id: groups.includes('project_id') ? 'proj_fake' : null,
    user_id: null,
    api_key_id: groups.includes('api_key_id') ? t.apiKeyId : null,
    model: groups.includes('model') ? t.model : null,
    batch: null,
  }));
  const pg = page(results, q);
  return {
    object: 'page',
    data: [{ object: 'bucket', start_time: start / 1000, end_time: end / 1000, results: pg.slice }],
    has_more: pg.has_more,
    next_page: pg.next_page,
  };
}

function openAiCosts(p: FakeProvider, q: URLSearchParams): unknown {
  const start = Number(q.get('start_time')) * 1000;
  const day = dayOf(start);
  const rows = grouped(p.tallies.filter((t) => t.day === day && !t.model.startsWith('claude')));
  const results = rows.map((t) => ({
    object: 'organization.costs.result',
    amount: { value: p.price(t), currency: 'usd' },
    line_item: `${t.model}, input`,
    project_id: 'proj_fake',
    api_key_id: t.apiKeyId,
  }));
  const pg = page(results, q);
  return {
    object: 'page',
    data: [
      { object: 'bucket', start_time: start / 1000, end_time: start / 1000 + 86_400, results: pg.slice },
    ],
    has_more: pg.has_more,
    next_page: pg.next_page,
  };
}

function anthropicUsage(p: FakeProvider, q: URLSearchParams): unknown {
  const start = Date.parse(q.get('starting_at') ?? '');
  const day = dayOf(start);
  const groups = list(q, 'group_by');
  const keys = list(q, 'api_key_ids');
  const byGeo = groups.includes('inference_geo');
  const rows = grouped(
    p.tallies.filter(
      (t) =>
        t.day === day && t.model.startsWith('claude') && (keys.length === 0 || keys.includes(t.apiKeyId)),
    ),
    byGeo,
  );
  const results = rows.map((t) => ({
    uncached_input_tokens: t.input,
    cache_creation: { ephemeral_1h_input_tokens: t.write1h, ephemeral_5m_input_tokens: t.write5m },
    cache_read_input_tokens: t.cached,
    output_tokens: t.output,
    server_tool_use: { web_search_requests: 0 },
    api_key_id: groups.includes('api_key_id') ? t.apiKeyId : null,
    workspace_id: groups.includes('workspace_id') ? 'wrkspc_01FakeWorkspace' : null,
    model: groups.includes('model') ? t.model : null,
    service_tier: null,
    context_window: groups.includes('context_window') ? '0-200k' : null,
    inference_geo: byGeo ? (t.geo ?? 'global') : null,
  }));
  const pg = page(results, q);
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  return {
    data: [{ starting_at: iso(start), ending_at: iso(start + 86_400_000), results: pg.slice }],
    has_more: pg.has_more,
    next_page: pg.next_page,
  };
}

function anthropicCosts(p: FakeProvider, q: URLSearchParams): unknown {
  const start = Date.parse(q.get('starting_at') ?? '');
  const day = dayOf(start);
  const rows = grouped(
    p.tallies.filter((t) => t.day === day && t.model.startsWith('claude')),
    true,
  );
  const results = rows.map((t) => ({
    currency: 'USD',
    amount: (p.price(t) * 100).toFixed(6),
    workspace_id: 'wrkspc_01FakeWorkspace',
    description: `${t.model} usage`,
    cost_type: 'tokens',
    context_window: '0-200k',
    model: t.model,
    service_tier: 'standard',
    token_type: 'uncached_input_tokens',
  }));
  const pg = page(results, q);
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  return {
    data: [{ starting_at: iso(start), ending_at: iso(start + 86_400_000), results: pg.slice }],
    has_more: pg.has_more,
    next_page: pg.next_page,
  };
}

function adminAnswer(p: FakeProvider, r: Received): Behaviour | null {
  const [path = '', query = ''] = r.url.split('?');
  const q = new URLSearchParams(query);
  const openai = path.match(/^\/v1\/organization\/(usage\/([a-z_]+)|costs)$/);
  const anthropic = path.match(/^\/v1\/organizations\/(usage_report\/messages|cost_report)$/);
  if (!openai && !anthropic) return null;
  p.adminRequests.push(r);
  if (p.adminRedirect !== null) {
    return (_r, res) => {
      res.writeHead(302, { location: `${p.adminRedirect}${r.url}` });
      res.end();
    };
  }
  const given = openai
    ? String(r.headers.authorization ?? '').replace(/^Bearer /, '')
    : String(r.headers['x-api-key'] ?? '');
  if (p.adminStatus !== null) {
    // Some APIs echo the credential they refused: the gateway must not pass it on.
    return json(p.adminStatus, { error: { type: 'authentication_error', message: `invalid key ${given}` } });
  }
  if (given !== p.adminKey) return json(401, { error: { message: 'invalid admin key' } });
  if (anthropic && !r.headers['anthropic-version'])
    return json(400, { error: { message: 'anthropic-version missing' } });
  if (openai?.[1] === 'costs') return json(200, openAiCosts(p, q));
  if (openai) return json(200, openAiUsage(p, openai[2] ?? '', q));
  if (anthropic?.[1] === 'cost_report') return json(200, anthropicCosts(p, q));
  return json(200, anthropicUsage(p, q));
}

export async function startFakeProvider(opts: {
  clock: () => number;
  adminKey: string;
}): Promise<FakeProvider> {
  const sockets = new Set<Socket>();
  const p: FakeProvider = {
    baseUrl: '',
    received: [],
    adminRequests: [],
    tallies: [],
    keyIds: new Map(),
    adminKey: opts.adminKey,
    price: () => 0,
    adminStatus: null,
    adminRedirect: null,
    openAiUsageForm: 'breakdown',
    cachedAudio: true,
    usageScale: 100,
    addUsage(t) {
      p.tallies.push(t);
    },
    close: async () => {},
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = raw.toString('utf8');
      let parsed: Record<string, unknown> | undefined;
      try {
        parsed = JSON.parse(body) as Record<string, unknown>;
      } catch {
        parsed = undefined;
      }
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        raw,
        json: parsed,
      };
      p.received.push(r);
      const admin = adminAnswer(p, r);
      if (admin) return void Promise.resolve(admin(r, res)).catch(() => res.destroy());
      const key = String(
        r.headers['x-api-key'] ?? String(r.headers.authorization ?? '').replace(/^Bearer /, ''),
      );
      const served = answer(r.url.split('?')[0] ?? '', parsed ?? {}, p.usageScale, p.cachedAudio);
      const apiKeyId = p.keyIds.get(key);
      if (served && apiKeyId) p.tallies.push({ ...served.tally, day: dayOf(opts.clock()), apiKeyId });
      Promise.resolve((served?.behaviour ?? canned)(r, res)).catch(() => res.destroy());
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  p.baseUrl = `http://127.0.0.1:${port}/v1`;
  p.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return p;
}
