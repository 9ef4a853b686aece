import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import { keysYaml, sha256Of } from '../../helpers/reload-yaml.js';

/**
 * Throws random corruptions of a valid keys.yaml at the reload path. Whatever lands on disk, a
 * reload never throws, an invalid file never becomes the served config, the metric reads 0,
 * and the next valid file applies.
 */

const VALID = keysYaml({
  keys: {
    'cursor-dev': { hash: sha256Of('a'), dailyUsd: 5, rpm: 60, models: ['gpt-4o-mini', 'gpt-4o'] },
    'ci-bot': { hash: sha256Of('b'), models: ['gpt-*'], disabled: false },
    'alice.laptop': { hash: sha256Of('c'), dailyUsd: 2 },
  },
});

// Values of the wrong type (or out of range) put where the schema expects something else.
const WRONG_TYPES: [string, string][] = [
  ['version: 1', 'version: "1"'],
  ['version: 1', 'version: 2'],
  ['daily_usd: 5', 'daily_usd: five'],
  ['daily_usd: 5', 'daily_usd: -5'],
  ['rpm: 60', 'rpm: [60]'],
  ['rpm: 60', 'rpm: 1.5'],
  ['disabled: false', 'disabled: nope'],
  ['input_per_mtok: 0.15', 'input_per_mtok: {a: 1}'],
  ['upstream: openai', 'upstream: 42'],
  ['models: ["gpt-*"]', 'models: "gpt-*"'],
  [`hash: ${sha256Of('b')}`, 'hash: 12345'],
  [`hash: ${sha256Of('b')}`, `hash: ${sha256Of('a')}`],
  ['keys:', 'keys: 7\nkeys2:'],
  ['upstreams:', 'upstreams: []\nx:'],
  ['  ci-bot:', '  CI Bot:'],
];

type Corruption = (bytes: Buffer) => Buffer;

const truncate = fc.nat().map(
  (n): Corruption =>
    (b) =>
      b.subarray(0, n % (b.length + 1)),
);

const byteFlips = fc
  .array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 })
  .map(
    (flips): Corruption =>
      (b) => {
        const out = Buffer.from(b);
        for (const f of flips) if (out.length > 0) out[f.at % out.length] = f.byte;
        return out;
      },
  );

const lineDeletions = fc.array(fc.nat(), { minLength: 1, maxLength: 5 }).map(
  (picks): Corruption =>
    (b) => {
      const lines = b.toString('utf8').split('\n');
      for (const p of picks) if (lines.length > 0) lines.splice(p % lines.length, 1);
      return Buffer.from(lines.join('\n'));
    },
);

const garbage = fc
  .record({
    at: fc.nat(),
    junk: fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.uint8Array({ minLength: 1, maxLength: 20 }).map((a) => Buffer.from(a).toString('latin1')),
      fc.constantFrom(': :', '- [', '{{', '\t', '"', '&a *a', '!!binary x', '\n  bogus: 1\n', '\u0000'),
    ),
  })
  .map(
    (g): Corruption =>
      (b) => {
        const at = g.at % (b.length + 1);
        return Buffer.concat([b.subarray(0, at), Buffer.from(g.junk), b.subarray(at)]);
      },
  );

const wrongType = fc.constantFrom(...WRONG_TYPES).map(
  ([from, to]): Corruption =>
    (b) => {
      return Buffer.from(b.toString('utf8').replace(from, to));
    },
);

const corruption = fc
  .array(fc.oneof(truncate, byteFlips, lineDeletions, garbage, wrongType), { minLength: 1, maxLength: 3 })
  .map(
    (steps): Corruption =>
      (b) =>
        steps.reduce((acc, step) => step(acc), b),
  );

describe('reload under random corruption', () => {
  let dir: string;
  let file: string;
  let manager: ConfigManager;
  let metrics: Metrics;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-fuzz-'));
    file = join(dir, 'keys.yaml');
    writeFileSync(file, VALID);
    metrics = createMetrics();
    manager = await createConfigManager({
      file,
      clock: () => Date.UTC(2026, 10, 26, 12),
      log: silentLogger(),
      metrics,
      notifier: nullNotifier,
      // Not a git work tree; skip spawning git a thousand times.
      gitRevision: async () => null,
    });
  });

  afterAll(async () => {
    await manager.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const reloadGauge = async () =>
    (await metrics.registry.getSingleMetric('tollgate_config_last_reload_successful')?.get())?.values[0]
      ?.value;

  it('never throws, never serves an invalid file, reads 0 on the metric, and applies the next valid file', async () => {
    let run = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(corruption, async (corrupt) => {
        run++;
        // A fresh valid file first, so every run starts from a known good, distinct revision.
        const good = Buffer.from(`${VALID}# run ${run}\n`);
        writeFileSync(file, good);
        expect((await manager.reload('test')).applied).toBe(true);
        const lastGood: LoadedConfig = manager.current();

        const bad = corrupt(good);
        writeFileSync(file, bad);
        const text = bad.toString('utf8');
        const verdict = loadConfig(text, { file, now: Date.UTC(2026, 10, 26, 12) });
        // A valid file that looks like a torn copy of one (a truncation, mostly) is refused too.
        const valid =
          verdict.errors.length === 0 &&
          verdict.config !== undefined &&
          tornWriteProblem(file, text, verdict.config, { config: lastGood.config, endsWithNewline: true }) ===
            undefined;

        const result = await manager.reload('test');
        if (valid) {
          expect(result.applied).toBe(true);
          expect(manager.current().revision).toBe(contentRevision(text));
          expect(await reloadGauge()).toBe(1);
        } else {
          rejected++;
          expect(result.applied).toBe(false);
          expect(result.errors.length).toBeGreaterThan(0);
          expect(manager.current()).toBe(lastGood);
          expect(manager.status()).toMatchObject({ ok: false, revision: lastGood.revision });
          expect(await reloadGauge()).toBe(0);
        }

        // The next valid file applies whatever came before.
        const next = `${VALID}# after ${run}\n`;
        writeFileSync(file, next);
        expect(await manager.reload('test')).toMatchObject({ applied: true, changed: true });
        expect(manager.current().revision).toBe(contentRevision(next));
        expect(await reloadGauge()).toBe(1);
      }),
      { numRuns: 1_000 },
    );
    // The generators must mostly produce broken files, or the property proves little.
    expect(rejected).toBeGreaterThan(500);
  });
});
