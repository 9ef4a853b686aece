import { describe, expect, it } from 'vitest';
import { buildDigest } from '../../../src/slack/digest/build-digest.js';
import { renderKeyTable } from '../../../src/slack/digest/render-table.js';
import { zonedTime } from '../../../src/windows/calendar.js';
import { makeConfig, makeKey, makeRecord } from '../../helpers/digest-fixtures.js';
import { createDigestMemoryStore } from '../../helpers/digest-memory-store.js';

/** The digest's line per key says what its image and audio requests were, when it made any. */

const at = (hour: number) => zonedTime(2026, 12, 5, 'Europe/Berlin', hour, 0);

describe('the digest with image and audio requests', () => {
  it("puts a key's images, audio seconds and characters on its line, and nothing on the others'", async () => {
    const records = [
      makeRecord(at(9), 'studio', { model: 'gpt-image-1', images: 3, costUsd: 0.5 }),
      makeRecord(at(10), 'studio', { model: 'whisper-1', audioSeconds: 90, costUsd: 0.009 }),
      makeRecord(at(11), 'studio', { model: 'tts-1', characters: 1200, costUsd: 0.018 }),
      makeRecord(at(12), 'coder', { costUsd: 0.2 }),
    ];
    const store = createDigestMemoryStore(records);
    const config = makeConfig([makeKey('studio'), makeKey('coder')]);
    const d = await buildDigest({
      store,
      config,
      revision: 'r',
      day: '2026-12-05',
      now: at(12) + 86_400_000,
    });
    const studio = d.keys.find((k) => k.key === 'studio');
    expect(studio?.media).toEqual({ images: 3, audioSeconds: 90, characters: 1200 });
    expect(d.keys.find((k) => k.key === 'coder')?.media).toBeUndefined();
    const table = renderKeyTable(d.keys).split('\n');
    expect(table[0]).toMatch(/daily +media +top model/);
    expect(table.find((l) => l.startsWith('studio'))).toContain('3 img, 90 s, 1.2K ch');
  });

  it('keeps the table as it was when no key made image or audio requests', () => {
    expect(
      renderKeyTable([
        {
          key: 'coder',
          inConfig: true,
          costUsd: 1,
          requests: 1,
          errors: 0,
          errorsByClass: { '401': 0, '403': 0, '404': 0, '429': 0, '5xx': 0, other: 0 },
          dailyLimitUsd: null,
          dailyShare: null,
          topModel: 'gpt-4o-mini',
        },
      ]).split('\n')[0],
    ).not.toContain('media');
  });
});
