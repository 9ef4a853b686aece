import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { diffConfigs } from '../../../src/config/diff/diff.js';
import { createConfigManager } from '../../../src/config/reload/manager.js';
import { silentLogger } from '../../../src/log.js';
import { type Notifier, nullNotifier } from '../../../src/notifier.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { keysYaml, sha256Of } from '../../helpers/reload-yaml.js';

// Counts diffs; the real one still runs.
vi.mock('../../../src/config/diff/diff.js', async (original) => {
  const real = await original<typeof import('../../../src/config/diff/diff.js')>();
  return { ...real, diffConfigs: vi.fn(real.diffConfigs) };
});

const dir = mkdtempSync(join(tmpdir(), 'tollgate-summary-'));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('builds the reload summary only when a notifier asks for it, and once (10,000 keys take tens of ms)', async () => {
  const file = join(dir, 'keys.yaml');
  writeFileSync(file, keysYaml({ keys: { a: { hash: sha256Of('a') } } }));
  const events: Parameters<Notifier['configReloaded']>[0][] = [];
  const manager = await createConfigManager({
    file,
    clock: () => Date.UTC(2026, 10, 26, 12),
    log: silentLogger(),
    metrics: createMetrics(),
    notifier: { ...nullNotifier, configReloaded: (e) => events.push(e) },
    gitRevision: async () => null,
  });
  writeFileSync(file, keysYaml({ keys: { a: { hash: sha256Of('a') }, b: { hash: sha256Of('b') } } }));
  expect((await manager.reload('test')).applied).toBe(true);
  expect(events).toHaveLength(1);
  expect(diffConfigs).not.toHaveBeenCalled();
  expect(events[0]?.summary()).toContain('b');
  expect(events[0]?.summary()).toBe(events[0]?.summary());
  expect(diffConfigs).toHaveBeenCalledTimes(1);
  await manager.close();
});
