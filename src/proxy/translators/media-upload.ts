import { GatewayError } from '../../errors.js';
import type { HeaderDuration } from '../../metering/audio-duration.js';
import {
  boundImages,
  boundTranscription,
  perAudioSecond,
  pricedByTokens,
} from '../../metering/media-prices.js';
import { readMultipart } from '../multipart.js';
import type { Route } from '../routes.js';
import type { UploadHold } from '../upload-holds.js';
import { countField, fixedBound, mediaExchange, partialImages, textField, truthy } from './media-common.js';
import type { Translator, WireRequest } from './translator.js';

/**
 * The image and audio routes with a multipart body: image edits, transcriptions, translations
 * (docs/api.md#images-and-audio). The upload is read as it arrives (proxy/multipart.ts): its
 * fields, its files' sizes and, for audio, the duration read from the file once it has arrived
 * (from the chunks it came in, not a copy); then it is forwarded exactly as the client sent it.
 */

const EMPTY = Buffer.alloc(0);
/**
 * The duration reader and the parsers it brings (music-metadata, file-type, strtok3: about 1.3 MB
 * of heap once loaded), loaded by the first audio upload: a gateway that never meters audio does
 * not carry them, and a bigger heap is a bigger old generation under load (V8 sizes it as a
 * multiple of what is live).
 */
let durationReader: Promise<typeof import('../../metering/audio-duration.js')> | undefined;
const audioDuration = () => {
  // A load that failed (a file descriptor limit reached, node_modules swapped by a deploy) is
  // forgotten, so the next audio upload loads it again instead of failing for good.
  durationReader ??= import('../../metering/audio-duration.js').catch((err: unknown) => {
    durationReader = undefined;
    throw err;
  });
  return durationReader;
};
const readUploadDuration = async (chunks: readonly Buffer[]) =>
  (await audioDuration()).readUploadDuration(chunks);
const AUDIO_ROUTES: ReadonlySet<Route['kind']> = new Set(['transcriptions', 'translations']);
/**
 * The file parts an edit's input images and mask may come in: `image`, `image[]`, a mask, and the
 * indexed `image[0]`, `image[1]`… some form encoders write for a list. Each is reserved: an
 * upstream that reads one the gateway did not count would bill an input image the hold left out.
 */
const INPUT_IMAGE_PART = /^(image|mask)(\[\d*\])?$/;
/**
 * The parts that set a request's bound, or what the upstream does, which OpenAI reads once:
 * refused when repeated (proxy/multipart.ts). An edit's `image`/`image[]` may repeat, as OpenAI
 * takes several input images, and each is counted in the bound. `prompt` is billed as text input
 * (up to 32,000 characters on an image model): the gateway keeps the last copy, and an upstream
 * that reads the first (Go's FormValue, as relays written in Go do) would bill another.
 */
const ONCE = new Set([
  'model',
  'prompt',
  'n',
  'size',
  'quality',
  'partial_images',
  'stream',
  'response_format',
  'file',
  'mask',
]);

async function readUpload(
  req: Parameters<NonNullable<Translator['read']>>[0],
  route: Route,
  hold?: UploadHold,
): Promise<WireRequest> {
  const audio = AUDIO_ROUTES.has(route.kind);
  const body = await readMultipart(req, {
    once: ONCE,
    ...(hold ? { hold } : {}),
    ...(audio ? { tapField: 'file', tap: readUploadDuration } : {}),
  });
  const read = body.tapped as HeaderDuration | undefined;
  const file = body.files.find((f) => f.field === 'file');
  const seconds = read && file ? (await audioDuration()).plausibleSeconds(read, file.bytes) : undefined;
  return {
    raw: EMPTY,
    fields: body.fields,
    model: body.fields.model,
    stream: truthy(body.fields.stream),
    upload: {
      contentType: String(req.headers['content-type']),
      chunks: body.chunks,
      size: body.size,
      files: body.files.map((f) => ({
        field: f.field,
        bytes: f.bytes,
        mimeType: f.mimeType,
        sha256: f.sha256,
      })),
      ...(seconds === undefined ? {} : { seconds }),
    },
  };
}

function requireFile(request: WireRequest, fields: ReadonlySet<string>, name: string, what: string): void {
  const files = request.upload?.files ?? [];
  if (!files.some((f) => fields.has(f.field) && f.bytes > 0)) {
    throw new GatewayError('invalid_request', `the upload has no '${name}' file: ${what}.`);
  }
}

export const imagesEditsTranslator: Translator = {
  parse: () => {
    throw new Error('image edits are read as they arrive (read)');
  },
  read: readUpload,
  check(request) {
    requireFile(request, new Set(['image', 'image[]']), 'image', 'the image (or images) to edit');
    if (!textField(request.fields, 'prompt')) {
      throw new GatewayError('invalid_request', "the request has no 'prompt': the text describing the edit.");
    }
    countField(request.fields, 'n', 1, [1, 10]);
  },
  bound(request, { target, ts }) {
    const f = request.fields;
    const size = textField(f, 'size');
    const quality = textField(f, 'quality');
    const n = countField(f, 'n', 1, [1, 10]);
    const inputImages = (request.upload?.files ?? []).filter((x) => INPUT_IMAGE_PART.test(x.field)).length;
    const bound = boundImages(target.model, ts, {
      n,
      ...(size === undefined ? {} : { size }),
      ...(quality === undefined ? {} : { quality }),
      prompt: textField(f, 'prompt') ?? '',
      inputImages,
      partialImages: partialImages(f),
    });
    return fixedBound(
      {
        kind: 'images',
        n,
        ...(size === undefined ? {} : { size }),
        ...(quality === undefined ? {} : { quality }),
      },
      bound,
    );
  },
  ...mediaExchange,
};

export const transcriptionTranslator: Translator = {
  parse: () => {
    throw new Error('transcriptions are read as they arrive (read)');
  },
  read: readUpload,
  check(request) {
    requireFile(request, new Set(['file']), 'file', 'the audio to transcribe');
  },
  bound(request, { target, ts }) {
    const model = target.model;
    const seconds = request.upload?.seconds;
    const byDuration = perAudioSecond(model, ts) !== undefined;
    if (!byDuration && !pricedByTokens(model, ts)) {
      throw new GatewayError(
        'invalid_request',
        `model '${model.name}' has no audio price, so tollgate cannot bound what this request costs; the gateway's owner can set audio_per_minute on it in keys.yaml.`,
      );
    }
    if (byDuration && seconds === undefined) {
      const file = request.upload?.files.find((f) => f.field === 'file');
      throw new GatewayError(
        'invalid_request',
        `the duration of the audio in 'file'${file ? ` (${file.mimeType}, ${file.bytes} bytes)` : ''} could not be read: it is not audio tollgate recognises (WAV, MP3, M4A/MP4, OGG/Opus, WebM, FLAC). Model '${model.name}' is priced by duration, so the request cannot be bounded; send one of those formats.`,
      );
    }
    const prompt = textField(request.fields, 'prompt') ?? '';
    return fixedBound(
      { kind: 'transcription', ...(seconds === undefined ? {} : { fileSeconds: seconds }) },
      boundTranscription(model, ts, { seconds, prompt }),
    );
  },
  ...mediaExchange,
};
