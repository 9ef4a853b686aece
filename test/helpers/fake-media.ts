import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import busboy from 'busboy';
import { parseBuffer } from 'music-metadata';
import type { Received } from './fake-upstream.js';

/**
 * The fake upstream's image and audio answers, in OpenAI's real shapes and with their usage
 * fields: images with `usage.input_tokens_details` (gpt-image-*; dall-e answers carry no usage),
 * transcriptions in every response_format with `usage` of type `duration` (whisper-1) or
 * `tokens` (gpt-4o(-mini)-transcribe), their streams ending in `transcript.text.done`, speech as
 * audio bytes or as `speech.audio.delta` / `speech.audio.done` events, moderations.
 */

export const MEDIA_PATHS = new Set([
  '/v1/images/generations',
  '/v1/images/edits',
  '/v1/audio/speech',
  '/v1/audio/transcriptions',
  '/v1/audio/translations',
  '/v1/moderations',
]);

export const MEDIA = {
  transcript: 'Hello from the fake upstream.',
  /** gpt-image-* usage per request: the prompt's text tokens, input image tokens per edit image, output per image. */
  image: { textTokens: 50, imageTokensPerInput: 323, outputTokensPerImage: 4160 },
  /** gpt-4o(-mini)-transcribe usage. */
  transcribe: { textTokens: 12, audioTokens: 187, outputTokens: 9 },
  /** gpt-4o-mini-tts usage in speech.audio.done. */
  speech: { inputTokens: 14, outputTokens: 480 },
  /** The audio the fake speaks: 48 kB of deterministic bytes (not a real MP3; clients only pass it on). */
  audio: Buffer.from(Array.from({ length: 48 * 1024 }, (_, i) => (i * 7919 + (i >> 8)) & 0xff)),
};

/** A fake PNG: bytes that round-trip through base64. */
const PNG_B64 = Buffer.from('\x89PNG\r\n\x1a\nfake-image-bytes').toString('base64');
/**
 * A streamed image at a real image's size: a 1024x1024 PNG from gpt-image-1 is 1.5 to 3 MB, so
 * its event's line (b64_json, then usage) is longer than the SSE tap parses whole.
 */
let streamedPng: string | undefined;
const streamedPngB64 = (): string => {
  if (streamedPng === undefined) {
    const bytes = Buffer.alloc(1_600_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + (i >> 9)) & 0xff;
    bytes.write('\x89PNG\r\n\x1a\n', 'latin1');
    streamedPng = bytes.toString('base64');
  }
  return streamedPng;
};

interface Form {
  fields: Record<string, string>;
  files: Array<{ field: string; bytes: Buffer }>;
}

function readForm(r: Received): Promise<Form> {
  return new Promise((resolve, reject) => {
    const form: Form = { fields: {}, files: [] };
    const bb = busboy({ headers: r.headers });
    bb.on('field', (name, value) => {
      form.fields[name] = value;
    });
    bb.on('file', (field, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => form.files.push({ field, bytes: Buffer.concat(chunks) }));
    });
    bb.on('close', () => resolve(form));
    bb.on('error', reject);
    Readable.from([r.raw]).pipe(bb);
  });
}

const sendJson = (res: ServerResponse, body: unknown) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

async function sendEvents(res: ServerResponse, events: Array<Record<string, unknown>>) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of events)
    await new Promise<void>((resolve) => res.write(`data: ${JSON.stringify(e)}\n\n`, () => resolve()));
  res.end();
}

function imageUsage(model: string, inputImages: number, n: number) {
  if (!model.startsWith('gpt-image')) return undefined;
  const image = MEDIA.image.imageTokensPerInput * inputImages;
  return {
    input_tokens: MEDIA.image.textTokens + image,
    input_tokens_details: { text_tokens: MEDIA.image.textTokens, image_tokens: image },
    output_tokens: MEDIA.image.outputTokensPerImage * n,
    total_tokens: MEDIA.image.textTokens + image + MEDIA.image.outputTokensPerImage * n,
  };
}

async function answerImages(
  r: Received,
  res: ServerResponse,
  fields: Record<string, unknown>,
  inputImages: number,
) {
  const model = String(fields.model ?? '');
  const n = Number(fields.n ?? 1);
  const usage = imageUsage(model, inputImages, n);
  const edit = r.url.startsWith('/v1/images/edits');
  if (fields.stream === true || fields.stream === 'true') {
    const partials = Number(fields.partial_images ?? 0);
    const prefix = edit ? 'image_edit' : 'image_generation';
    const events: Array<Record<string, unknown>> = [];
    for (let i = 0; i < partials; i++)
      events.push({ type: `${prefix}.partial_image`, b64_json: streamedPngB64(), partial_image_index: i });
    events.push({
      type: `${prefix}.completed`,
      b64_json: streamedPngB64(),
      size: '1024x1024',
      quality: 'high',
      usage,
    });
    return sendEvents(res, events);
  }
  return sendJson(res, {
    created: 1,
    data: Array.from({ length: n }, () =>
      model.startsWith('gpt-image') ? { b64_json: PNG_B64 } : { url: 'https://example.invalid/i.png' },
    ),
    ...(usage ? { usage, size: fields.size ?? '1024x1024', quality: fields.quality ?? 'high' } : {}),
  });
}

/** The committed fixtures' durations as a decoder finds them (test/fixtures/audio/durations.json). */
const FIXTURE_SECONDS: Record<string, { seconds: number } | string> = JSON.parse(
  readFileSync(new URL('../fixtures/audio/durations.json', import.meta.url), 'utf8'),
);

/**
 * How long the audio plays, as OpenAI reports it for whisper-1: a committed fixture's decoded
 * duration, else what music-metadata reads (exact for the WAV, MP3 and FLAC the tests make).
 * A file neither knows (a MediaRecorder WebM that is not a fixture: music-metadata finds no
 * duration in it) is an error, not 0 s: the tests would otherwise check charges OpenAI never makes.
 */
async function decodedSeconds(bytes: Buffer): Promise<number> {
  const known = FIXTURE_SECONDS[createHash('sha256').update(bytes).digest('hex')];
  if (typeof known === 'object') return known.seconds;
  const meta = await parseBuffer(bytes, {}, { duration: true }).catch(() => undefined);
  const seconds = meta?.format.duration;
  if (typeof seconds === 'number' && seconds > 0) return seconds;
  if (meta)
    throw new Error('the fake upstream cannot tell how long this audio plays; add it to durations.json');
  return 0;
}

async function answerTranscription(res: ServerResponse, form: Form) {
  const model = form.fields.model ?? '';
  const file = form.files.find((f) => f.field === 'file');
  const duration = await decodedSeconds(file?.bytes ?? Buffer.alloc(0));
  const seconds = Math.ceil(duration);
  const tokens = {
    type: 'tokens',
    input_tokens: MEDIA.transcribe.textTokens + MEDIA.transcribe.audioTokens,
    input_token_details: {
      text_tokens: MEDIA.transcribe.textTokens,
      audio_tokens: MEDIA.transcribe.audioTokens,
    },
    output_tokens: MEDIA.transcribe.outputTokens,
    total_tokens: MEDIA.transcribe.textTokens + MEDIA.transcribe.audioTokens + MEDIA.transcribe.outputTokens,
  };
  const usage = model === 'whisper-1' ? { type: 'duration', seconds } : tokens;
  const text = MEDIA.transcript;
  if (form.fields.stream === 'true') {
    return sendEvents(res, [
      ...text.split(' ').map((w, i) => ({ type: 'transcript.text.delta', delta: i === 0 ? w : ` ${w}` })),
      { type: 'transcript.text.done', text, usage },
    ]);
  }
  const format = form.fields.response_format ?? 'json';
  const plain = (type: string, body: string) => {
    res.writeHead(200, { 'content-type': type });
    res.end(body);
  };
  switch (format) {
    case 'text':
      return plain('text/plain; charset=utf-8', `${text}\n`);
    case 'srt':
      return plain('text/plain; charset=utf-8', `1\n00:00:00,000 --> 00:00:0${seconds},000\n${text}\n\n`);
    case 'vtt':
      return plain(
        'text/vtt; charset=utf-8',
        `WEBVTT\n\n00:00:00.000 --> 00:00:0${seconds}.000\n${text}\n\n`,
      );
    case 'verbose_json':
      return sendJson(res, {
        task: 'transcribe',
        language: 'english',
        duration,
        text,
        segments: [{ id: 0, start: 0, end: seconds, text }],
        usage,
      });
    default:
      return sendJson(res, { text, usage });
  }
}

async function answerSpeech(r: Received, res: ServerResponse) {
  const body = r.json ?? {};
  if (body.stream_format === 'sse') {
    const parts = [
      MEDIA.audio.subarray(0, 16_384),
      MEDIA.audio.subarray(16_384, 32_768),
      MEDIA.audio.subarray(32_768),
    ];
    return sendEvents(res, [
      ...parts.map((p) => ({ type: 'speech.audio.delta', audio: p.toString('base64') })),
      {
        type: 'speech.audio.done',
        usage: {
          input_tokens: MEDIA.speech.inputTokens,
          output_tokens: MEDIA.speech.outputTokens,
          total_tokens: MEDIA.speech.inputTokens + MEDIA.speech.outputTokens,
        },
      },
    ]);
  }
  res.writeHead(200, { 'content-type': 'audio/mpeg', 'transfer-encoding': 'chunked' });
  // In pieces, as a real server streams generated audio.
  for (let at = 0; at < MEDIA.audio.length; at += 8192)
    await new Promise<void>((resolve) => res.write(MEDIA.audio.subarray(at, at + 8192), () => resolve()));
  res.end();
}

export async function cannedMedia(r: Received, res: ServerResponse): Promise<void> {
  const path = r.url.split('?')[0];
  switch (path) {
    case '/v1/images/generations':
      return answerImages(r, res, r.json ?? {}, 0);
    case '/v1/images/edits': {
      const form = await readForm(r);
      const inputs = form.files.filter(
        (f) => f.field === 'image' || f.field === 'image[]' || f.field === 'mask',
      );
      return answerImages(r, res, form.fields, inputs.length);
    }
    case '/v1/audio/speech':
      return answerSpeech(r, res);
    case '/v1/audio/transcriptions':
    case '/v1/audio/translations':
      return answerTranscription(res, await readForm(r));
    default:
      return sendJson(res, {
        id: 'modr-1',
        model: r.json?.model,
        results: [{ flagged: false, categories: {}, category_scores: {} }],
      });
  }
}

/** A config serving the media models on the fake upstream, with key `studio` (and any more keys). */
export const mediaYaml = (base: string, keys = '') => `version: 1
server:
  timezone: UTC
upstreams:
  openai:
    base_url: ${base}
    api_key: \${OPENAI_API_KEY}
    provider: openai
    timeout_ms: 5000
models:
  gpt-image-1: { upstream: openai }
  gpt-image-1-mini: { upstream: openai }
  whisper-1: { upstream: openai }
  gpt-4o-mini-transcribe: { upstream: openai }
  gpt-4o-mini-tts: { upstream: openai, max_output_tokens: 2000 }
  omni-moderation-latest: { upstream: openai }
  gpt-4o-mini: { upstream: openai }
  tts-1: { upstream: openai, input_per_mchar: 15 }
  dall-e-3:
    upstream: openai
    image_usd: { "1024x1024": 0.04, "1024x1792": 0.08, "hd 1024x1024": 0.08, "hd 1024x1792": 0.12 }
keys:
  studio:
    hash: {{hash:studio}}
    limits: { daily_usd: 50, rpm: 1000 }
${keys}`;
