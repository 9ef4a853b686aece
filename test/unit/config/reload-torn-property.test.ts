import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load/load.js';
import { type ConfigManager, createConfigManager } from '../../../src/config/reload/manager.js';
import { contentRevision } from '../../../src/config/reload/revision.js';
import { tornWriteProblem } from '../../../src/config/reload/torn-write.js';
import type { LoadedConfig } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/log.js';
import { nullNotifier } from '../../../src/notifier.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { type FixtureKey, keysYaml, sha256Of } from '../../helpers/reload-yaml.js';

/**
 * The property of a hot reload under slow in-place writes: whatever the writer does, the config
 * being served is the last good one or the whole new file, never a torn prefix of it.
 *
 * A writer truncates keys.yaml and writes a new file (valid, or mutated into an invalid one) in
 * chunks. After each chunk it pauses, either briefly (the next chunk lands while the manager waits
 * for the file to settle: the injected sleep writes it) or for long (the manager sees the torn
 * file settle and must judge it by its shape). The real watcher reason, reader and loader decide.
 *
 * Long pauses exclude exactly one kind of tear, the one torn-write.ts says no reader can tell from
 * an edit: at a line end inside the keys section, where the prefix is a complete, well-formed file
 * with fewer keys. Brief pauses tear anywhere.
 */

const NOW = Date.UTC(2026, 10, 26, 12);
const NAMES = ['cursor-dev', 'ci-bot', 'alice.laptop', 'open-webui', 'batch-2'];

const newFile = fc
  .record({
    names: fc.subarray(NAMES, { minLength: 1 }),
    daily: fc.integer({ min: 1, max: 50 }),
    models: fc.constantFrom(undefined, ['gpt-4o-mini'], ['gpt-*']),
    comment: fc.option(
      fc.string({ maxLength: 30 }).map((s) => s.replace(/\n/g, ' ')),
      { nil: undefined },
    ),
  })
  .map(({ names, daily, models, comment }) => {
    const keys: Record<string, FixtureKey> = {};
    for (const n of names)
      keys[n] = { hash: sha256Of(n), dailyUsd: daily, ...(models ? { models: [...models] } : {}) };
    return keysYaml({ keys, ...(comment ? { comment } : {}) });
  });

// Some new files are broken on purpose: the whole of an invalid file must not apply either.
const mutation = fc.oneof(
  { weight: 3, arbitrary: fc.constant((t: string) => t) },
  fc.constant((t: string) => t.replace('daily_usd: ', 'daily_usd: x')),
  fc.constant((t: string) => t.replace('upstream: openai', 'upstream: nowhere')),
  fc.constant((t: string) => t.replace('keys:', 'keys: [')),
);

const writePlan = fc.record({
  cuts: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  pauses: fc.array(fc.constantFrom('short', 'long'), { minLength: 4, maxLength: 4 }),
});

describe('reload under slow in-place writes', () => {
  let dir: string;
  let file: string;
  let manager: ConfigManager;
  let onSleep: () => void = () => {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-torn-'));
    file = join(dir, 'keys.yaml');
    writeFileSync(file, keysYaml({ keys: { 'cursor-dev': { hash: sha256Of('cursor-dev') } } }));
    manager = await createConfigManager({
      file,
      clock: () => NOW,
      log: silentLogger(),
      metrics: createMetrics(),
      notifier: nullNotifier,
      gitRevision: async () => null,
      settleMs: 1,
      sleep: async () => onSleep(),
    });
  });

  afterAll(async () => {
    await manager.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves only the last good config or the whole new file', async () => {
    let run = 0;
    let tornLongPauses = 0;
    let appliedWhole = 0;
    await fc.assert(
      fc.asyncProperty(newFile, mutation, writePlan, async (base, mutate, plan) => {
        run++;
        const good = keysYaml({
          keys: { 'cursor-dev': { hash: sha256Of('cursor-dev') }, 'ci-bot': { hash: sha256Of('ci-bot') } },
          comment: `run ${run}`,
        });
        writeFileSync(file, good);
        expect((await manager.reload('test')).applied).toBe(true);
        const lastGood: LoadedConfig = manager.current();

        const next = mutate(base);
        const keysLine = next.indexOf('\nkeys:');
        const indistinguishable = (at: number) => keysLine >= 0 && at > keysLine + 1 && next[at - 1] === '\n';
        const cuts = [...new Set(plan.cuts.map((c) => c % next.length))]
          .filter((c) => c > 0 && c < next.length)
          .sort((a, b) => a - b);
        const chunks: string[] = [];
        let from = 0;
        for (const c of [...cuts, next.length]) {
          chunks.push(next.slice(from, c));
          from = c;
        }
        const pauses = cuts.map((c, i) => (indistinguishable(c) ? 'short' : (plan.pauses[i] ?? 'short')));

        const verdict = loadConfig(next, { file, now: NOW });
        const acceptable =
          verdict.config !== undefined &&
          verdict.errors.length === 0 &&
          tornWriteProblem(file, next, verdict.config, { config: lastGood.config, endsWithNewline: true }) ===
            undefined;
        const whole = contentRevision(next);
        const servedIsAllowed = () => {
          const served = manager.current();
          if (served === lastGood) return true;
          return acceptable && served.revision === whole;
        };

        const fd = openSync(file, 'w');
        let written = 0;
        const writeNext = () => {
          writeSync(fd, chunks[written] as string);
          written++;
        };
        try {
          writeNext();
          // The brief pauses: the writer goes on while the manager waits for the file to settle.
          onSleep = () => {
            expect(servedIsAllowed()).toBe(true);
            if (written < chunks.length && pauses[written - 1] === 'short') writeNext();
          };
          while (written < chunks.length) {
            if (pauses[written - 1] === 'long') tornLongPauses++;
            await manager.reload('watch');
            expect(servedIsAllowed()).toBe(true);
            if (written < chunks.length) writeNext();
          }
          await manager.reload('watch');
          expect(servedIsAllowed()).toBe(true);
        } finally {
          onSleep = () => {};
          closeSync(fd);
        }
        if (acceptable) {
          expect(manager.current().revision).toBe(whole);
          appliedWhole++;
        } else {
          expect(manager.current()).toBe(lastGood);
        }
      }),
      { numRuns: 300 },
    );
    // The generators must exercise both paths, or the property proves little.
    expect(tornLongPauses).toBeGreaterThan(100);
    expect(appliedWhole).toBeGreaterThan(100);
  });
});
