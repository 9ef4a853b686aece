/**
 * How long a change to keys.yaml takes to be served, per replacement style, with the default
 * watcher settings (no test overrides). Run: npx tsx bench/reload-latency.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfigManager } from '../src/config/reload/manager.js';
import { silentLogger } from '../src/log.js';
import { nullNotifier } from '../src/notifier.js';
import { createMetrics } from '../src/ops/metrics.js';
import {
  setupConfigMap,
  swapConfigMap,
  writeInPlace,
  writeTempRename,
  writeUnlinkCreate,
} from '../test/helpers/config-replace.js';
import { keysYaml, sha256Of } from '../test/helpers/reload-yaml.js';

const ROUNDS = 20;
const styles: [string, (dir: string, file: string, content: string) => void][] = [
  ['in-place', (_d, f, c) => writeInPlace(f, c)],
  ['temp-rename', (_d, f, c) => writeTempRename(f, c)],
  ['unlink-create', (_d, f, c) => writeUnlinkCreate(f, c)],
  ['configmap', (d, _f, c) => swapConfigMap(d, c)],
];

for (const [name, replace] of styles) {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const file = setupConfigMap(dir, keysYaml({ keys: { a: { hash: sha256Of('a') } } }));
  const manager = await createConfigManager({
    file,
    clock: Date.now,
    log: silentLogger(),
    metrics: createMetrics(),
    notifier: nullNotifier,
    gitRevision: async () => null,
  });
  manager.watch();
  await new Promise((r) => setTimeout(r, 200));
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const before = manager.current().revision;
    const start = performance.now();
    replace(dir, file, keysYaml({ keys: { a: { hash: sha256Of('a') } }, comment: `${name} ${i}` }));
    while (manager.current().revision === before && performance.now() - start < 5_000) {
      await new Promise((r) => setTimeout(r, 5));
    }
    times.push(performance.now() - start);
  }
  await manager.close();
  rmSync(dir, { recursive: true, force: true });
  times.sort((a, b) => a - b);
  const p = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(0);
  console.log(`${name.padEnd(14)} p50 ${p(0.5)} ms  p90 ${p(0.9)} ms  max ${p(1)} ms  (${ROUNDS} rounds)`);
}
