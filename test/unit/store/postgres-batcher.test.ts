import { describe, expect, it } from 'vitest';
import { textArrayLiteral } from '../../../src/store/postgres/batched.js';
import { createBatcher } from '../../../src/store/postgres/batcher.js';

/** A fake statement: records each batch, answers after `ms`, fails for inputs in `bad`. */
function fakeStatement(opts: { ms?: number; bad?: Set<string> } = {}) {
  const batches: string[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const exec = async (items: string[]) => {
    batches.push(items);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, opts.ms ?? 5));
    inFlight--;
    if (items.some((i) => opts.bad?.has(i))) throw new Error(`bad input in ${items.join(',')}`);
    return items.map((i) => `done ${i}`);
  };
  return {
    batches,
    maxInFlight: () => maxInFlight,
    many: exec,
    one: async (item: string) => (await exec([item]))[0] as string,
  };
}

describe('the PostgreSQL batcher', () => {
  it('runs the calls of one event-loop turn as one statement, in key order, answering each caller its own row', async () => {
    const s = fakeStatement();
    const b = createBatcher({
      ...s,
      maxBatch: 100,
      maxInFlight: 2,
      order: (x: string, y: string) => x.localeCompare(y),
    });
    const out = await Promise.all(['c', 'a', 'b'].map((k) => b.run(k)));
    expect(out).toEqual(['done c', 'done a', 'done b']);
    expect(s.batches).toEqual([['a', 'b', 'c']]);
  });

  it('collects the calls made while its statements are on the wire into the next one, never more at once than allowed', async () => {
    const s = fakeStatement({ ms: 20 });
    const b = createBatcher({ ...s, maxBatch: 100, maxInFlight: 1 });
    const first = b.run('a');
    await new Promise((r) => setTimeout(r, 5)); // 'a' is on the wire
    const rest = ['b', 'c', 'd'].map((k) => b.run(k));
    await new Promise((r) => setImmediate(r));
    const more = ['e', 'f'].map((k) => b.run(k));
    expect(await Promise.all([first, ...rest, ...more])).toEqual(
      ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => `done ${k}`),
    );
    expect(s.batches).toEqual([['a'], ['b', 'c', 'd', 'e', 'f']]);
    expect(s.maxInFlight()).toBe(1);
  });

  it('splits a queue longer than the largest batch', async () => {
    const s = fakeStatement();
    const b = createBatcher({ ...s, maxBatch: 2, maxInFlight: 4 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => b.run(k)));
    expect(s.batches).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('runs each input of a failed batch alone, so only the caller whose input failed gets the error', async () => {
    const s = fakeStatement({ bad: new Set(['b']) });
    const b = createBatcher({ ...s, maxBatch: 100, maxInFlight: 2 });
    const results = await Promise.allSettled(['a', 'b', 'c'].map((k) => b.run(k)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('bad input in b');
    expect(s.batches).toEqual([['a', 'b', 'c'], ['a'], ['b'], ['c']]);
  });
});

describe('an input’s own array as one element of a text[] parameter', () => {
  it('quotes every element and escapes quotes and backslashes', () => {
    expect(textArrayLiteral([])).toBe('{}');
    expect(textArrayLiteral(['d:2026-12-01', 'm:2026-12'])).toBe('{"d:2026-12-01","m:2026-12"}');
    expect(textArrayLiteral(['a"b', 'c\\d', 'e,f', '{g}', 0.1])).toBe('{"a\\"b","c\\\\d","e,f","{g}","0.1"}');
  });
});
