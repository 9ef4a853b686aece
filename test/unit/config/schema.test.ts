import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseFast } from '../../../src/config/load/fast-yaml.js';

const root = new URL('../../../', import.meta.url);
const schema = JSON.parse(readFileSync(new URL('schemas/keys.schema.json', root), 'utf8'));

type SchemaNode = Record<string, unknown>;

/** Every subschema that describes an object or a property, with where it is. */
function walk(node: unknown, where: string, visit: (node: SchemaNode, where: string) => void): void {
  if (!node || typeof node !== 'object') return;
  const n = node as SchemaNode;
  visit(n, where);
  for (const [name, child] of Object.entries((n.properties as object | undefined) ?? {}))
    walk(child, `${where}.${name}`, visit);
  for (const [name, child] of Object.entries((n.$defs as object | undefined) ?? {}))
    walk(child, `$defs.${name}`, visit);
  if (n.items) walk(n.items, `${where}[]`, visit);
  if (typeof n.additionalProperties === 'object') walk(n.additionalProperties, `${where}.*`, visit);
  for (const [i, child] of ((n.anyOf as unknown[] | undefined) ?? []).entries())
    walk(child, `${where}|${i}`, visit);
}

function resolved(node: SchemaNode): SchemaNode {
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  return (schema.$defs as Record<string, SchemaNode>)[ref.replace('#/$defs/', '')] as SchemaNode;
}

describe('schemas/keys.schema.json', () => {
  it('describes every property, directly or through its definition', () => {
    const missing: string[] = [];
    walk(schema, '', (node, where) => {
      for (const [name, prop] of Object.entries(
        (node.properties as Record<string, SchemaNode> | undefined) ?? {},
      )) {
        if (typeof resolved(prop).description !== 'string') missing.push(`${where}.${name}`);
      }
    });
    expect(missing).toEqual([]);
  });

  it('forbids unknown fields in every object with named properties', () => {
    const open: string[] = [];
    walk(schema, '', (node, where) => {
      if (node.properties && node.additionalProperties !== false) open.push(where || '(root)');
    });
    expect(open).toEqual([]);
  });

  it('matches the committed src/config/types.gen.ts, so types never drift from the schema', () => {
    const generated = execFileSync(process.execPath, ['scripts/gen-types.mjs', '--stdout'], {
      cwd: root,
      encoding: 'utf8',
    });
    const committed = readFileSync(new URL('src/config/types.gen.ts', root), 'utf8');
    expect(committed).toBe(generated);
  });
});

describe('the fast YAML path', () => {
  it('reads the same data as the yaml package for the example and tricky scalars', () => {
    const example = readFileSync(new URL('config/keys.yaml', root), 'utf8');
    const tricky = [
      'a: 2027-03-31',
      'b: yes',
      'c: 1_000',
      'd: 0o17',
      'e: ~',
      'f: "0.5"',
      'g: .inf',
      'j: [1, "two", 3.5, true, null]',
      'digest: "0 9 * * *"',
      'models: ["claude-*", gpt-*]',
      'note: R&D & ops',
      "k: 'it''s'",
      'l: |\n  two\n  lines',
    ].join('\n');
    for (const text of [example, tricky]) {
      expect(parseFast(text)).toBeDefined();
      expect(parseFast(text)?.data).toEqual(parse(text));
    }
  });

  it('leaves syntax errors, duplicate keys and aliases to the precise parser', () => {
    expect(parseFast('a:\n  b: c: d\n')).toBeUndefined();
    expect(parseFast('a: 1\na: 2\n')).toBeUndefined();
    expect(parseFast('a: &x [1]\nb: *x\n')).toBeUndefined();
  });
});
