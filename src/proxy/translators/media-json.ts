import { GatewayError } from '../../errors.js';
import { boundImages, boundSpeech, characterCount } from '../../metering/media-prices.js';
import { parseJsonBody } from '../read-body.js';
import {
  countField,
  FREE_BOUND,
  fixedBound,
  mediaExchange,
  partialImages,
  textField,
} from './media-common.js';
import type { Translator, WireRequest } from './translator.js';

/**
 * The image and audio routes with a JSON body: image generation, speech, moderation
 * (docs/api.md#images-and-audio). The body is forwarded exactly as the client sent it.
 */

/** OpenAI's limit on a speech request's `input`, in characters. */
export const SPEECH_INPUT_LIMIT = 4096;

const parseJson = (raw: Buffer): WireRequest => {
  const fields = parseJsonBody(raw);
  return { raw, fields, model: fields.model, stream: fields.stream === true };
};

function requiredText(fields: Record<string, unknown>, name: string, what: string): string {
  const v = textField(fields, name);
  if (v === undefined || v === '') {
    throw new GatewayError('invalid_request', `the request has no '${name}': ${what}.`);
  }
  return v;
}

export const imagesGenerationsTranslator: Translator = {
  parse: parseJson,
  check(request) {
    requiredText(request.fields, 'prompt', 'the text describing the image to generate');
    countField(request.fields, 'n', 1, [1, 10]);
  },
  bound(request, { target, ts }) {
    const f = request.fields;
    const size = textField(f, 'size');
    const quality = textField(f, 'quality');
    const ask = {
      n: countField(f, 'n', 1, [1, 10]),
      ...(size === undefined ? {} : { size }),
      ...(quality === undefined ? {} : { quality }),
      prompt: textField(f, 'prompt') ?? '',
      inputImages: 0,
      partialImages: partialImages(f),
    };
    const bound = boundImages(target.model, ts, ask);
    return fixedBound(
      {
        kind: 'images',
        n: ask.n,
        ...(size === undefined ? {} : { size }),
        ...(quality === undefined ? {} : { quality }),
      },
      bound,
    );
  },
  ...mediaExchange,
};

export const speechTranslator: Translator = {
  parse(raw) {
    const request = parseJson(raw);
    // Speech streams as SSE when asked with stream_format (the body has no `stream`).
    return { ...request, stream: request.fields.stream_format === 'sse' };
  },
  check(request) {
    const input = requiredText(request.fields, 'input', 'the text to speak');
    const chars = characterCount(input);
    if (chars > SPEECH_INPUT_LIMIT) {
      throw new GatewayError(
        'invalid_request',
        `the request's 'input' is ${chars} characters; the provider takes at most ${SPEECH_INPUT_LIMIT}. Split the text into several requests.`,
      );
    }
  },
  bound(request, { target, ts }) {
    const input = textField(request.fields, 'input') ?? '';
    const instructions = textField(request.fields, 'instructions') ?? '';
    const speed = Number(request.fields.speed ?? 1);
    if (
      !/(tts|speech)/i.test(target.model.catalogId ?? target.model.name) &&
      !target.model.units?.inputPerMchar
    ) {
      throw new GatewayError(
        'invalid_request',
        `model '${target.model.name}' has no speech price, so tollgate cannot bound what this request costs; the gateway's owner can set input_per_mchar on it in keys.yaml.`,
      );
    }
    const bound = boundSpeech(target.model, ts, { input, instructions, speed });
    return fixedBound(
      {
        kind: 'speech',
        characters: characterCount(input),
        // As the bound reads it (speechPace): not a number, or outside 0.25 to 4, is the slowest.
        speed,
      },
      bound,
    );
  },
  ...mediaExchange,
};

export const moderationsTranslator: Translator = {
  parse: parseJson,
  check() {},
  bound: () => FREE_BOUND,
  ...mediaExchange,
};
