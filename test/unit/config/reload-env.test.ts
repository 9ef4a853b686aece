import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createConfigManager } from '../../../src/config/reload/manager.js';
import type { Problem } from '../../../src/config/types.js';
import { createLogger } from '../../../src/log.js';
import { nullNotifier } from '../../../src/notifier.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { keysYaml, sha256Of } from '../../helpers/reload-yaml.js';

/** `${VAR}` references on serve's first load and on a reload (env-refs.ts). */

const BASE = keysYaml({ keys: { 'cursor-dev': { hash: sha256Of('a') } } });
// A second upstream whose key variable has a typo in its name.
const TYPO = BASE.replace(
  'models:\n',
  `  backup:\n    base_url: http://127.0.0.1:9/v1\n    api_key: \${NOPE_NOT_SET}\nmodels:\n`,
);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup(content: string, env: NodeJS.ProcessEnv) {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-env-'));
  dirs.push(dir);
  const file = join(dir, 'keys.yaml');
  writeFileSync(file, content);
  const logs: string[] = [];
  const failed: Problem[][] = [];
  const metrics = createMetrics();
  const manager = await createConfigManager({
    file,
    clock: () => Date.UTC(2026, 10, 26),
    log: createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk, _e, cb) {
          logs.push(String(chunk));
          cb();
        },
      }),
    }),
    metrics,
    notifier: { ...nullNotifier, configReloadFailed: (e) => failed.push(e.errors) },
    gitRevision: async () => null,
    env,
  });
  return { file, manager, logs, failed, metrics, close: () => manager.close() };
}

describe('unset environment references', () => {
  it('start the gateway with a warning that names the variable and its line:col (the quick start)', async () => {
    const s = await setup(BASE, {});
    expect(s.manager.current().config.upstreams.openai?.apiKeyEnv).toBe('OPENAI_API_KEY');
    const warning = s.logs.find((l) => l.includes('config warnings'));
    expect(warning).toMatch(
      /keys\.yaml:6:14: upstreams\.openai\.api_key names \$\{OPENAI_API_KEY\}, which is not set/,
    );
    await s.close();
  });

  it('reject a reload that names an unset variable: file:line:col, last good serves, counted and notified', async () => {
    const s = await setup(BASE, { OPENAI_API_KEY: 'sk-x' });
    const good = s.manager.current();
    writeFileSync(s.file, TYPO);
    const result = await s.manager.reload('test');
    expect(result.applied).toBe(false);
    expect(result.errors.map((e) => `${e.line}:${e.col}: ${e.message}`)).toEqual([
      `9:14: upstreams.backup.api_key names \${NOPE_NOT_SET}, which is not set in the environment where tollgate runs: fix the name, or set NOPE_NOT_SET and restart tollgate`,
    ]);
    expect(s.manager.current()).toBe(good);
    expect(s.manager.status().lastError?.[0]?.file).toBe(s.file);
    expect(s.failed).toHaveLength(1);
    expect(await s.metrics.registry.getSingleMetricAsString('tollgate_config_reloads_total')).toContain(
      'tollgate_config_reloads_total{result="failure"} 1',
    );
    await s.close();
  });

  it('still reload a change when the served config already named the unset variable at start', async () => {
    const s = await setup(BASE, {});
    writeFileSync(s.file, keysYaml({ keys: { 'cursor-dev': { hash: sha256Of('a'), dailyUsd: 3 } } }));
    expect((await s.manager.reload('test')).applied).toBe(true);
    expect(s.manager.current().config.keys['cursor-dev']?.limits.dailyUsd).toBe(3);
    await s.close();
  });
});
