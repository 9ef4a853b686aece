import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

/**
 * `npm run lint` runs dependency-cruiser over src/ and bench/ with .dependency-cruiser.cjs. These
 * tests cruise a small fixture laid out like src/ with the same rules, so a rule that silently
 * stops matching (a renamed floor, a broken regex) fails here instead of letting imports run
 * back up the floors unnoticed.
 */
const rules = createRequire(import.meta.url)('../../../.dependency-cruiser.cjs') as {
  forbidden: { name: string; comment: string }[];
};
const fixture = fileURLToPath(new URL('../../fixtures/layering/', import.meta.url));

async function violationsIn(files: string[]) {
  const result = await cruise(files, {
    validate: true,
    ruleSet: { forbidden: rules.forbidden } as never,
    tsPreCompilationDeps: true,
    baseDir: fixture,
    doNotFollow: { path: 'node_modules' },
  });
  if (typeof result.output === 'string') throw new Error('expected a cruise result');
  return result.output.summary.violations.map((v) => ({
    rule: v.rule.name,
    from: v.from,
    to: v.to,
    comment: rules.forbidden.find((r) => r.name === v.rule.name)?.comment ?? '',
  }));
}

describe('the layering rules of npm run lint', () => {
  it('refuse a store module importing from the proxy, and say where the shared code should live', async () => {
    const found = await violationsIn(['src/store', 'src/proxy']);
    expect(found).toEqual([
      expect.objectContaining({
        rule: 'store-imports-up',
        from: 'src/store/reaches-up.ts',
        to: 'src/proxy/routes.ts',
      }),
    ]);
    expect(found[0]?.comment).toContain('src/store/types.ts');
  });

  it('refuse an import circle, even one made of type-only imports', async () => {
    const found = await violationsIn(['src/pricing']);
    expect(found.map((v) => v.rule)).toContain('no-circular');
  });
});

describe('ARCHITECTURE.md', () => {
  it('names every room under src/, so a newcomer finds each one on its floor', () => {
    const src = fileURLToPath(new URL('../../../src/', import.meta.url));
    const page = readFileSync(new URL('../../../ARCHITECTURE.md', import.meta.url), 'utf8');
    const rooms = readdirSync(src, { withFileTypes: true }).map((e) =>
      e.isDirectory() ? `src/${e.name}/` : `src/${e.name}`,
    );
    expect(rooms.filter((room) => !page.includes(`\`${room}\``))).toEqual([]);
  });
});
