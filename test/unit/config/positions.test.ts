import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineCounter, parse, parseDocument, stringify } from 'yaml';
import { createFastLocator } from '../../../src/config/load/fast-positions.js';
import { createLocator, type PathSegment } from '../../../src/config/load/yaml-positions.js';

/** Every path in a parsed document, maps and sequences included. */
function pathsOf(value: unknown, prefix: PathSegment[] = []): PathSegment[][] {
  const out: PathSegment[][] = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...pathsOf(v, [...prefix, i]));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  }
  return out;
}

function compareLocators(text: string): number {
  const lineCounter = new LineCounter();
  const precise = createLocator(parseDocument(text, { lineCounter }), lineCounter);
  const fast = createFastLocator(text);
  expect(fast).toBeDefined();
  let compared = 0;
  for (const path of pathsOf(parse(text))) {
    for (const target of ['key', 'value'] as const) {
      expect(fast?.locate(path, target), `${path.join('.')} (${target})`).toEqual(
        precise.locate(path, target),
      );
      compared++;
    }
  }
  return compared;
}

describe('the fast locator', () => {
  it('points every path of the example config where the yaml package does', () => {
    const text = readFileSync(new URL('../../../config/keys.yaml', import.meta.url), 'utf8');
    expect(compareLocators(text)).toBeGreaterThan(250);
  });

  it('agrees on flow maps, quoted keys, comments before values, block scalars and nested lists', () => {
    const text = [
      'version: 1',
      'keys:',
      '  "quoted.key":',
      '    # a comment before the first field',
      '    hash:',
      '      - sha256:aa',
      '      # between items',
      '      - sha256:bb',
      '    limits: { daily_usd: 5, rpm: 60 }',
      '    models: [\'a\', "b", c]',
      '    description: |',
      '      two',
      '      lines',
      '    tags: {}',
      '  plain: { hash: x, notify: [U1, U2] }',
      '  empty:',
      'nested:',
      '  - - 1',
      '    - 2',
      '  - { k: v }',
      '',
    ].join('\n');
    expect(compareLocators(text)).toBeGreaterThan(40);
  });

  it('agrees with the yaml package on generated documents in block and flow style', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/);
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.integer(), fc.boolean(), name, fc.constant(null)),
        fc.array(tie('tree'), { maxLength: 4 }),
        fc.dictionary(name, tie('tree'), { maxKeys: 4 }),
      ),
    }));
    fc.assert(
      fc.property(fc.dictionary(name, tree, { minKeys: 1, maxKeys: 5 }), fc.boolean(), (doc, flow) => {
        const text = stringify(doc, flow ? { collectionStyle: 'flow' } : {});
        compareLocators(text);
      }),
      { numRuns: 200 },
    );
  });

  it('gives a missing path the position of the deepest part that exists', () => {
    const text = 'version: 1\nkeys:\n  a:\n    hash: x\n';
    expect(createFastLocator(text)?.locate(['keys', 'a', 'limits', 'rpm'])).toEqual({ line: 4, col: 5 });
  });
});
