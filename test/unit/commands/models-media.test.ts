import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ModelRow, models } from '../../../src/commands/models.js';
import { fakeIO } from './fake-io.js';

/** `tollgate models` shows what image and audio models cost per image, character or minute. */

const FILE = `version: 1
upstreams:
  openai:
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_API_KEY}
models:
  gpt-4o-mini: { upstream: openai }
  whisper-1: { upstream: openai }
  tts-1: { upstream: openai, input_per_mchar: 15 }
  dall-e-3:
    upstream: openai
    image_usd: { "1024x1024": 0.04, "hd 1024x1792": 0.12 }
keys: {}
`;

function configFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-models-media-'));
  writeFileSync(join(dir, 'keys.yaml'), FILE);
  return join(dir, 'keys.yaml');
}

describe('tollgate models with image and audio models', () => {
  it('lists unit prices in JSON and in a per-unit column of the table', async () => {
    const json = fakeIO();
    expect(await models(['--config', configFile(), '--format', 'json'], json.io)).toBe(0);
    const rows = (JSON.parse(json.stdout()) as { models: ModelRow[] }).models;
    const unit = (m: string) => rows.find((r) => r.model === m)?.unit_prices;
    expect(unit('dall-e-3')).toBe('$0.04/image 1024x1024, $0.12/image hd 1024x1792');
    expect(unit('tts-1')).toBe('$15/M chars');
    expect(unit('whisper-1')).toBe('$0.006/audio min (catalog)');
    expect(unit('gpt-4o-mini')).toBeNull();

    const table = fakeIO();
    expect(await models(['--config', configFile()], table.io)).toBe(0);
    const lines = table.stdout().split('\n');
    expect(lines[0]).toMatch(/max output +per unit +prices from/);
    expect(lines.find((l) => l.startsWith('tts-1'))).toContain('$15/M chars');
  });
});
