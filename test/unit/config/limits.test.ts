import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_CONFIG_BYTES, MAX_REPORTED_PROBLEMS } from '../../../src/config/load/limits.js';
import { loadConfig } from '../../../src/config/load/load.js';
import { createConfigManager } from '../../../src/config/reload/manager.js';
import { silentLogger } from '../../../src/log.js';
import { nullNotifier } from '../../../src/notifier.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { keysYaml, sha256Of } from '../../helpers/reload-yaml.js';

const oversized = `version: 1\n#${'x'.repeat(MAX_CONFIG_BYTES)}\n`;

describe('config size and problem bounds', () => {
  it('refuses a file over the size limit with one clear error at 1:1, before parsing it', () => {
    const { config, errors } = loadConfig(oversized, { file: 'keys.yaml', now: 0 });
    expect(config).toBeUndefined();
    expect(errors).toEqual([
      expect.objectContaining({
        file: 'keys.yaml',
        line: 1,
        col: 1,
        message: expect.stringMatching(/^the file is 8\.0 MB, more than the 8\.0 MB a keys\.yaml may be/),
      }),
    ]);
  });

  it('reports 150,000 schema errors as the first 100 in file order and a count, without a stack overflow', () => {
    const lines = ['version: 1', 'keys:'];
    // Each entry has a bad name and a value that is not a map: two errors.
    for (let i = 0; i < 75_000; i++) lines.push(`  K${i}: 1`);
    const { errors } = loadConfig(`${lines.join('\n')}\n`, { file: 'keys.yaml', now: 0 });
    expect(errors).toHaveLength(MAX_REPORTED_PROBLEMS + 1);
    expect(errors[0]).toMatchObject({ line: 3, col: 3 });
    expect(errors[0]?.message).toMatch(/^key name 'K0' is invalid/);
    const lines100 = errors.slice(0, MAX_REPORTED_PROBLEMS).map((e) => e.line);
    expect(lines100).toEqual([...lines100].sort((a, b) => a - b));
    expect(errors.at(-1)?.message).toBe(
      '…and 149,900 more errors from here on, not listed: fix the ones above and check again',
    );
    expect(errors.at(-1)?.line).toBeGreaterThan(3);
  }, 60_000);

  it('rejects a hot reload of an oversized file and keeps the last good config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-limit-'));
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, keysYaml({ keys: { 'cursor-dev': { hash: sha256Of('a') } } }));
    const manager = await createConfigManager({
      file,
      clock: () => 0,
      log: silentLogger(),
      metrics: createMetrics(),
      notifier: nullNotifier,
      gitRevision: async () => null,
    });
    try {
      const good = manager.current();
      writeFileSync(file, oversized);
      const result = await manager.reload('test');
      expect(result.applied).toBe(false);
      expect(result.errors[0]).toMatchObject({ file, line: 1, col: 1 });
      expect(result.errors[0]?.message).toMatch(/more than the 8\.0 MB a keys\.yaml may be/);
      expect(manager.current()).toBe(good);
    } finally {
      await manager.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
