import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load/load.js';
import { HASH_A, NOW } from './config-text.js';

const load = (models: string) =>
  loadConfig(
    `version: 1
upstreams:
  openai:
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_API_KEY}
models:
${models}keys:
  a:
    hash: ${HASH_A}
`,
    { file: 'keys.yaml', now: NOW },
  );

describe('image and audio model prices', () => {
  it('takes gpt-image-1, whisper-1, the transcribe models and gpt-4o-mini-tts from the catalog', () => {
    const r = load(
      [
        'gpt-image-1',
        'gpt-image-1-mini',
        'whisper-1',
        'gpt-4o-transcribe',
        'gpt-4o-mini-transcribe',
        'gpt-4o-mini-tts',
        'omni-moderation-latest',
      ]
        .map((m) => `  ${m}:\n    upstream: openai\n`)
        .join(''),
    );
    expect(r.errors).toEqual([]);
    const table = r.config?.models['whisper-1']?.prices[0]?.table;
    expect(table?.perAudioSecond).toBeCloseTo(0.36 / 3600, 12);
    expect(r.config?.models['gpt-image-1']?.prices[0]?.table.inputImage?.base).toBe(10);
  });

  it('accepts unit prices for models the catalog does not know', () => {
    const r = load(
      '  dall-e-3:\n    upstream: openai\n    image_usd: { "1024x1024": 0.04, "hd 1024x1792": 0.12 }\n  tts-1:\n    upstream: openai\n    input_per_mchar: 15\n  my-whisper:\n    upstream: openai\n    audio_per_minute: 0.006\n',
    );
    expect(r.errors).toEqual([]);
    expect(r.config?.models['dall-e-3']?.units).toEqual({
      imageUsd: { '1024x1024': 0.04, 'hd 1024x1792': 0.12 },
    });
    expect(r.config?.models['tts-1']?.units).toEqual({ inputPerMchar: 15 });
  });

  it('refuses a media model with neither a catalog nor a unit price, naming the unit fields', () => {
    const r = load('  dall-e-3:\n    upstream: openai\n');
    expect(r.config).toBeUndefined();
    expect(r.errors[0]?.message).toContain("model 'dall-e-3' has no price");
    expect(r.errors[0]?.message).toContain('image_usd');
  });

  it('refuses an image_usd key that is neither SIZE nor QUALITY SIZE', () => {
    const r = load('  dall-e-3:\n    upstream: openai\n    image_usd: { "big": 0.04 }\n');
    expect(r.errors.length).toBeGreaterThan(0);
    expect(r.errors[0]?.path).toContain('models.dall-e-3.image_usd');
  });
});
