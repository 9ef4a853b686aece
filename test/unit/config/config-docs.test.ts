import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);
const schema = JSON.parse(readFileSync(new URL('schemas/keys.schema.json', root), 'utf8'));
const doc = readFileSync(new URL('docs/configuration.md', root), 'utf8');

type Node = Record<string, unknown>;

function resolve(node: Node): Node {
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  const { $ref: _ref, ...own } = node;
  return { ...resolve((schema.$defs as Record<string, Node>)[ref.replace('#/$defs/', '')] as Node), ...own };
}

/** Every property of keys.yaml with its dotted path, map entries as `*`; walked apart from the generator. */
function properties(node: Node, path: string, out: Array<{ path: string; node: Node }>) {
  for (const [name, child] of Object.entries((resolve(node).properties as Record<string, Node>) ?? {})) {
    const c = resolve(child);
    const p = path ? `${path}.${name}` : name;
    out.push({ path: p, node: c });
    const entries = c.additionalProperties;
    if (c.properties) properties(c, p, out);
    else if (entries && typeof entries === 'object' && resolve(entries as Node).properties)
      properties(entries as Node, `${p}.*`, out);
  }
  return out;
}

const all = properties(schema, '', []);

describe('docs/configuration.md', () => {
  it('matches what scripts/gen-config-docs.mjs makes of the schema, so the reference never drifts', () => {
    const generated = execFileSync(process.execPath, ['scripts/gen-config-docs.mjs', '--stdout'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(doc, 'run `npm run gen:types` and commit docs/configuration.md').toBe(generated);
  });

  it('has a section for every field of the schema', () => {
    const headings = new Set(
      [...doc.matchAll(/^#### `([^`]+)`$/gm)].map((m) => (m[1] as string).replace(/<[a-z]+>/g, '*')),
    );
    const missing = all.map((f) => f.path).filter((p) => !headings.has(p));
    expect(missing).toEqual([]);
    expect(all.length).toBeGreaterThan(30);
  });

  it('has an example for every field that takes a value (add `examples` to the schema)', () => {
    const valueFields = all.filter(
      (f) => !f.node.properties && !(f.node.type === 'object' && !f.node.examples),
    );
    const without = valueFields.filter((f) => !Array.isArray(f.node.examples)).map((f) => f.path);
    expect(without).toEqual([]);
  });

  it('shows the schema default of a field where the schema has one', () => {
    expect(doc).toContain('| [`server.port`](#server-port) | integer 0 to 65535 | `8080` |');
    expect(doc).toContain('type: list of string');
    expect(doc).toContain('example: `cors_origins: [https://chat.example.com, http://localhost:3000]`');
  });
});
