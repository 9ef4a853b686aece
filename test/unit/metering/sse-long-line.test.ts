import { describe, expect, it } from 'vitest';
import { KEPT_STRING_BYTES, lineSkeleton, SKELETON_MAX_BYTES } from '../../../src/metering/sse-long-line.js';

/** The skeleton of `line` fed in pieces of `size` bytes (the first piece at least `first` long). */
function skeletonOf(line: string, size: number, first = 8): unknown {
  const bytes = Buffer.from(line, 'utf8');
  const head = Math.max(first, size);
  const sk = lineSkeleton(bytes.subarray(0, head));
  if (!sk) return 'not a data line';
  for (let at = head; at < bytes.length; at += size) sk.feed(bytes.subarray(at, at + size));
  return sk.end();
}

describe('the shape of an over-long SSE line', () => {
  const long = 'a"b\\\\"c\\\\\\"d'.repeat(KEPT_STRING_BYTES);
  const event = {
    type: 'image_edit.completed',
    b64_json: long,
    note: 'a "quoted" \\ path \\\\ and é',
    nested: { list: [1, 2.5, true, null, 'x'], escapes: '\\"' },
    usage: { input_tokens: 3, output_tokens: 4 },
  };
  const line = `data: ${JSON.stringify(event)}\r`;

  it('is its JSON with long strings emptied and short ones kept, escapes split anywhere', () => {
    const want = { ...event, b64_json: '' };
    for (const size of [1, 2, 3, 5, 7, 64, 4097, 1 << 20]) expect(skeletonOf(line, size)).toEqual(want);
  });

  it('keeps a string of exactly the kept length and empties one a byte longer', () => {
    const at = 'x'.repeat(KEPT_STRING_BYTES);
    expect(skeletonOf(`data:${JSON.stringify({ a: at, b: `${at}y` })}`, 1000)).toEqual({ a: at, b: '' });
  });

  it('is not read when it is not a data line, is cut inside a string, or keeps too much', () => {
    expect(skeletonOf(`event: ${'x'.repeat(100)}`, 10)).toBe('not a data line');
    expect(skeletonOf(`data: {"b64_json":"${'x'.repeat(10_000)}`, 100)).toBeUndefined();
    const numbers = Array.from({ length: SKELETON_MAX_BYTES }, (_, i) => i);
    expect(
      skeletonOf(`data: ${JSON.stringify({ numbers, usage: { input_tokens: 1 } })}`, 4096),
    ).toBeUndefined();
  });
});
