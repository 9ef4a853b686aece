import { describe, expect, it } from 'vitest';
import { buildDigest } from '../../../src/slack/digest/build-digest.js';
import { renderDigestBlocks } from '../../../src/slack/digest/render-blocks.js';
import { renderDigestText } from '../../../src/slack/digest/render-text.js';
import { makeConfig, makeKey } from '../../helpers/digest-fixtures.js';
import { createDigestMemoryStore } from '../../helpers/digest-memory-store.js';

describe("the digest's Why it costs", () => {
  it('goes out without the findings, saying so, when the store cannot read them', async () => {
    const store = createDigestMemoryStore([]);
    store.insightFacts = async () => {
      throw new Error('statement timeout');
    };
    const d = await buildDigest({
      store,
      config: makeConfig([makeKey('a')]),
      revision: 'r',
      day: '2026-11-26',
      now: Date.UTC(2026, 10, 27, 8, 0, 0),
    });
    expect(d.insights?.unavailable).toBe(true);
    expect(renderDigestText(d)).toContain(
      'Why it costs: the findings could not be read from the store today.',
    );
    expect(JSON.stringify(renderDigestBlocks(d).blocks)).toContain('could not be read');
  });
});
