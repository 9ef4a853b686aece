import { describe, expect, it } from 'vitest';
import { checkJsonDepth } from '../../../src/proxy/json-depth.js';

const nest = (levels: number, open: string, close: string) =>
  JSON.parse(`${open.repeat(levels)}${close.repeat(levels)}`);

describe('the nesting limit of a request body', () => {
  it('accepts objects and arrays nested exactly to the limit and refuses one level more', () => {
    const arrays = (n: number) => nest(n, '[', ']');
    const objects = (n: number) => JSON.parse(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);
    for (const fill of [arrays, objects]) {
      expect(() => checkJsonDepth(fill(8), 10_000, 8)).not.toThrow();
      expect(() => checkJsonDepth(fill(9), 10_000, 8)).toThrow(/more than 8 levels deep/);
    }
  });

  it('walks a body of 200,000 levels without overflowing the stack', () => {
    const deep = nest(200_000, '[', ']');
    expect(() => checkJsonDepth(deep, 400_000)).toThrow(/more than 256 levels deep/);
  });

  it('finds the deep branch beside shallow ones and ignores long text', () => {
    const body = { messages: [{ role: 'user', content: 'x'.repeat(100_000) }], tools: [nest(300, '[', ']')] };
    expect(() => checkJsonDepth(body, 200_000)).toThrow(/more than 256 levels deep/);
    expect(() => checkJsonDepth({ messages: body.messages }, 200_000)).not.toThrow();
  });
});
