import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config/load/load.js';
import { type ConfigManager, createConfigManager } from '../../../src/config/reload/manager.js';
import { silentLogger } from '../../../src/log.js';
import { nullNotifier } from '../../../src/notifier.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { keysYaml, sha256Of } from '../../helpers/reload-yaml.js';

// Counts the loader's calls: each one is a whole parse and validation.
vi.mock('../../../src/config/load/load.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/config/load/load.js')>();
  return { ...real, loadConfig: vi.fn(real.loadConfig) };
});
const loads = () => vi.mocked(loadConfig).mock.calls.length;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(content: string): Promise<{ file: string; manager: ConfigManager }> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-unchanged-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'keys.yaml');
  writeFileSync(file, content);
  const manager = await createConfigManager({
    file,
    clock: Date.now,
    log: silentLogger(),
    metrics: createMetrics(),
    notifier: nullNotifier,
    gitRevision: async () => null,
  });
  cleanups.push(() => manager.close());
  return { file, manager };
}

describe('a reload of bytes already validated', () => {
  it('is not parsed and validated again when the watcher or the poll reports them, but is on SIGHUP', async () => {
    const { file, manager } = await setup(keysYaml({ keys: { a: { hash: sha256Of('a') } } }));
    appendFileSync(file, '# edited\n');
    await manager.reload('SIGHUP');
    const after = loads();
    const revision = manager.current().revision;
    // The watcher event and the poll that follow a change a SIGHUP already applied.
    expect(await manager.reload('watch')).toEqual({ applied: true, changed: false, errors: [] });
    expect(await manager.reload('poll')).toEqual({ applied: true, changed: false, errors: [] });
    expect(loads()).toBe(after);
    expect(manager.current().revision).toBe(revision);
    // An operator's SIGHUP re-checks the same bytes.
    await manager.reload('SIGHUP');
    expect(loads()).toBe(after + 1);
  });

  it('keeps the rejected file’s errors without re-validating it, and the last good config serving', async () => {
    const { file, manager } = await setup(keysYaml({ keys: { a: { hash: sha256Of('a') } } }));
    const served = manager.current();
    appendFileSync(file, 'bogus: 1\n');
    const rejected = await manager.reload('SIGHUP');
    expect(rejected.applied).toBe(false);
    expect(rejected.errors[0]?.message).toMatch(/bogus/);
    const after = loads();
    expect(await manager.reload('poll')).toEqual(rejected);
    expect(loads()).toBe(after);
    expect(manager.current()).toBe(served);
    expect(manager.status()).toMatchObject({ ok: false, revision: served.revision });
  });
});
