import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_TABLE, type ErrorCode, errorBody, GatewayError } from '../../../src/errors.js';
import { createMetrics } from '../../../src/ops/metrics.js';

/**
 * The reference in docs/ is what a person who clones the repository has: these tests fail when
 * the code grows an error code, a metric or an environment variable the docs do not mention, or
 * when a link points outside the repository or at nothing.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const api = read('docs/api.md');
const operations = read('docs/operations.md');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

describe('docs/api.md', () => {
  it('documents every error code of src/errors.ts with its status and an example body', () => {
    for (const [code, { status }] of Object.entries(ERROR_TABLE)) {
      const heading = `### \`${code}\` (${status})`;
      expect(api, `docs/api.md has no section "${heading}"`).toContain(heading);
      const section = api.slice(api.indexOf(heading)).split('\n### ')[0] as string;
      expect(section, `the section of ${code} has no example body`).toContain(`"code":"${code}"`);
      const example = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)?.[1] ?? '{}') as {
        type?: string;
        error?: { type?: string; code?: string };
      };
      // An OpenAI-shaped example must show the type the gateway really sends for the code.
      if (example.type !== 'error')
        expect(example.error?.type, code).toBe(ERROR_TABLE[code as ErrorCode].type);
    }
  });

  it("has a table row for every code with the status and both shapes' type the gateway sends", () => {
    for (const code of Object.keys(ERROR_TABLE) as ErrorCode[]) {
      const err = new GatewayError(code, 'message');
      const anthropic = errorBody(err, 'anthropic') as { error: { type: string } };
      const row = `| [\`${code}\`](#${code}-${err.status}) | ${err.status} | \`${err.type}\` | \`${anthropic.error.type}\` |`;
      expect(api, `docs/api.md's error table row for ${code}`).toContain(row);
    }
  });

  it('has example bodies that are valid JSON', () => {
    const blocks = [...api.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks.length).toBeGreaterThan(15);
    for (const block of blocks) expect(() => JSON.parse(block), block).not.toThrow();
  });

  it('lists every /v1 route and the headers the gateway sets', () => {
    for (const route of [
      'POST /v1/chat/completions',
      'POST /v1/completions',
      'POST /v1/embeddings',
      'POST /v1/responses',
      'GET /v1/models',
      'POST /v1/messages',
      'POST /v1/messages/count_tokens',
    ])
      expect(api).toContain(`\`${route}\``);
    for (const header of [
      'x-tollgate-key',
      'x-tollgate-request-id',
      'x-tollgate-output-capped',
      'x-tollgate-tools-removed',
      'Retry-After',
    ])
      expect(api).toContain(`\`${header}\``);
  });
});

describe('docs/operations.md', () => {
  it('lists every tollgate_* metric the gateway registers', async () => {
    const metrics = createMetrics();
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) expect(operations, `metric ${name}`).toContain(`\`${name}\``);
  });

  it('lists every environment variable the source reads', () => {
    const vars = new Set<string>();
    for (const file of sourceFiles(join(root, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) vars.add(m[1] as string);
      for (const m of text.matchAll(/\b(TOLLGATE_[A-Z0-9_]+)\b/g)) vars.add(m[1] as string);
    }
    expect(vars.size).toBeGreaterThan(5);
    for (const v of vars) expect(operations, `environment variable ${v}`).toContain(`\`${v}\``);
  });
});

describe('links in README.md, CONTRIBUTING.md and docs/', () => {
  const files = [
    'README.md',
    'CONTRIBUTING.md',
    'ARCHITECTURE.md',
    ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`),
  ];

  it('point at files inside the repository that exist', () => {
    const broken: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.md'))) {
      for (const m of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (m[1] as string).split('#')[0] as string;
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        const path = resolve(root, dirname(file), target);
        if (relative(root, path).startsWith('..') || !existsSync(path)) broken.push(`${file}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('never send a reader to a file outside the repository', () => {
    for (const file of files) expect(read(file), file).not.toMatch(/\.\.\/shared|SPEC\.md/);
  });
});
