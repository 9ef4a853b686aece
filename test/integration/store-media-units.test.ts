import { afterEach, describe, expect, it } from 'vitest';
import type { Store, UsageRecord } from '../../src/store/types.js';
import { type StoreBackend, storeBackends } from '../helpers/store-backends.js';

/** Media units (images, audio seconds, characters) kept with the usage record and summed by `tollgate usage`. */

const NOON = Date.UTC(2026, 11, 6, 12);

function usage(over: Partial<UsageRecord>): UsageRecord {
  return {
    requestId: `req-${Math.random().toString(36).slice(2)}`,
    ts: NOON,
    day: '2026-12-06',
    key: 'studio',
    model: 'gpt-image-1',
    upstream: 'openai',
    route: '/v1/images/generations',
    status: 200,
    errorCode: null,
    inputTokens: 10,
    outputTokens: 4160,
    cachedTokens: 0,
    costUsd: 0.16645,
    latencyMs: 12,
    stream: false,
    userAgent: 'vitest',
    ip: '127.0.0.1',
    configRevision: 'rev1',
    usageSource: 'provider',
    ...over,
  };
}

describe.each(storeBackends())('media units in the $name store', (backend: StoreBackend) => {
  let store: Store;
  afterEach(async () => {
    await backend.destroy();
  });

  it('keeps images, audio seconds and characters on the record and sums them per key and model', async () => {
    store = await backend.create();
    const periods = ['d:2026-12-06'];
    await store.settle(usage({ images: 2 }), periods);
    await store.settle(usage({ images: 1 }), periods);
    await store.settle(
      usage({ model: 'whisper-1', route: '/v1/audio/transcriptions', audioSeconds: 61.5 }),
      periods,
    );
    await store.settle(usage({ model: 'tts-1', route: '/v1/audio/speech', characters: 1234 }), periods);
    await store.settle(usage({ model: 'gpt-4o-mini', route: '/v1/chat/completions' }), periods);

    const byModel = await store.queryUsage({ since: NOON - 1, until: NOON + 1, by: 'model' }, 'UTC');
    const row = (m: string) => byModel.find((r) => r.model === m);
    expect(row('gpt-image-1')).toMatchObject({ requests: 2, images: 3 });
    expect(row('whisper-1')?.audio_seconds).toBeCloseTo(61.5, 9);
    expect(row('tts-1')?.characters).toBe(1234);
    expect(row('gpt-4o-mini')?.images).toBeUndefined();

    const byKey = await store.queryUsage({ since: NOON - 1, until: NOON + 1, by: 'key' }, 'UTC');
    expect(byKey[0]).toMatchObject({ key: 'studio', requests: 5, images: 3, characters: 1234 });

    const recent = await store.recentUsage('studio', 10);
    expect(
      recent
        .filter((r) => r.images)
        .map((r) => r.images)
        .sort(),
    ).toEqual([1, 2]);
    expect(recent.find((r) => r.model === 'whisper-1')?.audioSeconds).toBeCloseTo(61.5, 9);
    expect(recent.find((r) => r.model === 'gpt-4o-mini')?.images ?? null).toBeNull();
  });
});
