import { describe, expect, it } from 'vitest';
import { diffConfigs } from '../../../src/config/diff/diff.js';
import { loadConfig } from '../../../src/config/load/load.js';
import type { Config } from '../../../src/config/types.js';
import { baseConfig, HASH_A, NOW } from './config-text.js';

/** A config diff shows the unit prices of image and audio models changing. */

const KEYS = `  a:\n    hash: ${HASH_A}\n`;

function cfg(models: string): Config {
  const result = loadConfig(baseConfig(KEYS, models), { file: 'keys.yaml', now: NOW });
  expect(result.errors).toEqual([]);
  return result.config as Config;
}

describe('diffConfigs on image and audio prices', () => {
  it('reports each image size, per-character and per-minute price that changed', () => {
    const before = cfg(
      '  dall-e-3:\n    upstream: openai\n    image_usd: { "1024x1024": 0.04, "hd 1024x1792": 0.12 }\n  tts-1:\n    upstream: openai\n    input_per_mchar: 15\n',
    );
    const after = cfg(
      '  dall-e-3:\n    upstream: openai\n    image_usd: { "1024x1024": 0.05 }\n  tts-1:\n    upstream: openai\n    input_per_mchar: 30\n    audio_per_minute: 0.006\n',
    );
    const details = diffConfigs(before, after).map((c) => `${c.subject}: ${c.detail}`);
    expect(details).toEqual([
      'dall-e-3: image_usd "1024x1024" $0.04 → $0.05 (+25%)',
      'dall-e-3: image_usd "hd 1024x1792" $0.12 → unset',
      'tts-1: input_per_mchar $15 → $30 (+100%)',
      'tts-1: audio_per_minute unset → $0.006',
    ]);
  });

  it('describes an added unit-priced model by its unit price', () => {
    const changes = diffConfigs(cfg(''), cfg('  tts-1:\n    upstream: openai\n    input_per_mchar: 15\n'));
    expect(changes[0]?.detail).toMatch(/^added on openai at \$15\/M chars/);
  });
});
