import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { GitRevision } from '../../../src/config/reload/git-revision.js';
import { type ConfigManager, createConfigManager } from '../../../src/config/reload/manager.js';
import type { Problem } from '../../../src/config/types.js';
import { createLogger } from '../../../src/log.js';
import type { Notifier } from '../../../src/notifier.js';
import { createMetrics, type Metrics } from '../../../src/ops/metrics.js';
import {
  commitAll,
  setupConfigMap,
  setupGitRepo,
  swapConfigMap,
  writeInPlace,
  writeTempRename,
  writeUnlinkCreate,
} from '../../helpers/config-replace.js';
import { keysYaml, sha256Of } from '../../helpers/reload-yaml.js';

const H1 = sha256Of('key-one');
const H2 = sha256Of('key-two');
const BASE = keysYaml({ keys: { 'cursor-dev': { hash: H1, dailyUsd: 5 } } });
const WITH_TWO = keysYaml({ keys: { 'cursor-dev': { hash: H1, dailyUsd: 5 }, 'ci-bot': { hash: H2 } } });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-reload-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Recorded {
  reloaded: { revision: string; previousRevision: string; summary: () => string }[];
  failed: { file: string; errors: Problem[]; revision: string }[];
}

function recordingNotifier(): Notifier & Recorded {
  const rec: Recorded = { reloaded: [], failed: [] };
  return {
    ...rec,
    configReloaded: (e) => rec.reloaded.push(e),
    configReloadFailed: (e) => rec.failed.push(e),
    requestSettled() {},
    keyRefused() {},
  };
}

async function gauge(metrics: Metrics, name: string): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  return (await metric?.get())?.values[0]?.value;
}

async function setup(
  opts: { content?: string; file?: string; gitRevision?: GitRevision; now?: number } = {},
) {
  const file = opts.file ?? join(tempDir(), 'keys.yaml');
  if (!opts.file) writeFileSync(file, opts.content ?? BASE);
  const logs: string[] = [];
  const log = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _enc, cb) {
        logs.push(String(chunk));
        cb();
      },
    }),
  });
  const metrics = createMetrics();
  const notifier = recordingNotifier();
  let now = opts.now ?? Date.UTC(2026, 10, 26, 12);
  const manager = await createConfigManager({
    file,
    clock: () => now,
    log,
    metrics,
    notifier,
    pollMs: 200,
    gitRevision: 'gitRevision' in opts ? opts.gitRevision : async () => null,
  });
  cleanups.push(() => manager.close());
  return {
    file,
    manager,
    metrics,
    notifier,
    logs,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const REVISION = /^[0-9a-f]{12}$/;

describe('createConfigManager', () => {
  it('loads the file and exposes a content revision, load time and key index', async () => {
    const { manager, metrics } = await setup({ now: 1_000_000 });
    const loaded = manager.current();
    expect(loaded.revision).toMatch(REVISION);
    expect(loaded.loadedAt).toBe(1_000_000);
    expect(loaded.keysByHash.get(H1)?.name).toBe('cursor-dev');
    expect(manager.status()).toMatchObject({ revision: loaded.revision, ok: true, lastError: null });
    expect(await gauge(metrics, 'tollgate_config_last_reload_successful')).toBe(1);
    expect(await gauge(metrics, 'tollgate_config_last_reload_success_timestamp_seconds')).toBe(1000);
  });

  it('refuses to start on an invalid file with file:line:col in the message', async () => {
    const file = join(tempDir(), 'keys.yaml');
    writeFileSync(file, `${BASE}  bogus: 1\n`);
    await expect(setup({ file })).rejects.toThrow(
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `),
    );
  });

  it('refuses to start when the file does not exist', async () => {
    await expect(setup({ file: join(tempDir(), 'missing.yaml') })).rejects.toThrow(/cannot read config file/);
  });

  it('refuses to start on an empty file', async () => {
    const file = join(tempDir(), 'keys.yaml');
    writeFileSync(file, '');
    await expect(setup({ file })).rejects.toThrow(/is invalid/);
  });

  it('applies a valid change, swaps the whole config and reports what changed', async () => {
    const { file, manager, notifier, metrics, logs } = await setup();
    const before = manager.current();
    writeFileSync(file, WITH_TWO);
    const result = await manager.reload('test');
    expect(result).toEqual({ applied: true, changed: true, errors: [] });
    const after = manager.current();
    expect(after).not.toBe(before);
    expect(after.revision).not.toBe(before.revision);
    expect(after.keysByHash.get(H2)?.name).toBe('ci-bot');
    // A request that read the old object keeps it whole.
    expect(before.keysByHash.has(H2)).toBe(false);
    expect(notifier.reloaded).toHaveLength(1);
    expect(notifier.reloaded[0]).toMatchObject({
      revision: after.revision,
      previousRevision: before.revision,
    });
    expect(notifier.reloaded[0]?.summary()).toContain('ci-bot');
    expect(await gauge(metrics, 'tollgate_config_last_reload_successful')).toBe(1);
    expect(await metrics.registry.getSingleMetricAsString('tollgate_config_info')).toContain(
      `revision="${after.revision}"`,
    );
    expect(logs.some((l) => l.includes('config reloaded') && l.includes(after.revision))).toBe(true);
  });

  it('logs each reload’s own times: the wait behind another reload and every step’s milliseconds', async () => {
    // The first reload holds in its git lookup until the second is asked for.
    let entered = () => {};
    const inGit = new Promise<void>((r) => {
      entered = r;
    });
    let release = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    const gitRevision: GitRevision = async () => {
      if (++calls === 2) {
        entered();
        await released;
      }
      return null;
    };
    const { file, manager, logs } = await setup({ gitRevision });
    writeFileSync(file, WITH_TWO);
    const first = manager.reload('test');
    await inGit;
    writeFileSync(file, BASE);
    // Asked for while the first runs: it waits in the queue, and says for how long.
    const second = manager.reload('SIGHUP');
    await new Promise((r) => setTimeout(r, 20));
    release();
    await Promise.all([first, second]);
    const lines = logs
      .map(
        (l) =>
          JSON.parse(l) as { msg: string; reason?: string; ms?: number; queuedMs?: number; phases?: object },
      )
      .filter((l) => l.msg === 'config reloaded');
    expect(lines.map((l) => l.reason)).toEqual(['test', 'SIGHUP']);
    for (const l of lines) {
      expect(l.ms).toBeGreaterThan(0);
      expect(Object.keys(l.phases ?? {})).toEqual(
        expect.arrayContaining([
          'read',
          'hash',
          'parse',
          'schema',
          'normalize',
          'rules',
          'torn',
          'revision',
          'index',
        ]),
      );
    }
    expect(lines[1]?.queuedMs).toBeGreaterThan(0);
  });

  it('does nothing, says nothing and notifies no one when the content is unchanged', async () => {
    const { manager, notifier, logs } = await setup();
    const before = manager.current();
    const linesBefore = logs.length;
    const result = await manager.reload('poll');
    expect(result.changed).toBe(false);
    expect(manager.current()).toBe(before);
    expect(logs.length).toBe(linesBefore);
    expect(notifier.reloaded).toHaveLength(0);
    expect(notifier.failed).toHaveLength(0);
  });

  it('rejects an invalid change whole and keeps serving the last good config', async () => {
    const { file, manager, notifier, metrics, logs, advance } = await setup();
    const good = manager.current();
    advance(5_000);
    writeFileSync(file, WITH_TWO.replace('daily_usd: 5', 'daily_usd: five'));
    const result = await manager.reload('test');
    expect(result.applied).toBe(false);
    expect(result.errors.length).toBeGreaterThan(0);
    expect(manager.current()).toBe(good);
    const status = manager.status();
    expect(status.ok).toBe(false);
    expect(status.revision).toBe(good.revision);
    expect(status.lastAttemptAt).toBe(good.loadedAt + 5_000);
    expect(status.lastError?.[0]).toMatchObject({ file });
    expect(status.lastError?.[0]?.line).toBeGreaterThan(0);
    expect(await gauge(metrics, 'tollgate_config_last_reload_successful')).toBe(0);
    expect(notifier.failed).toHaveLength(1);
    expect(notifier.failed[0]).toMatchObject({ file, revision: good.revision });
    expect(logs.some((l) => l.includes('config reload rejected') && /:\d+:\d+: /.test(l))).toBe(true);
  });

  it('reports a broken file once, not on every poll', async () => {
    const { file, manager, notifier } = await setup();
    writeFileSync(file, 'version: 1\nkeys: [\n');
    await manager.reload('poll');
    await manager.reload('poll');
    await manager.reload('poll');
    expect(notifier.failed).toHaveLength(1);
  });

  it.each([
    ['an empty file', ''],
    ['a file truncated mid-key', WITH_TWO.slice(0, WITH_TWO.indexOf('ci-bot') + 4)],
    ['a file cut inside a hash', WITH_TWO.slice(0, WITH_TWO.lastIndexOf('sha256:') + 20)],
  ])('rejects %s', async (_name, content) => {
    const { file, manager, metrics } = await setup();
    const good = manager.current();
    writeFileSync(file, content);
    expect((await manager.reload('test')).applied).toBe(false);
    expect(manager.current()).toBe(good);
    expect(await gauge(metrics, 'tollgate_config_last_reload_successful')).toBe(0);
  });

  it('announces the recovery when a valid file follows a rejected one', async () => {
    const { file, manager, notifier, metrics } = await setup();
    writeFileSync(file, 'version: 2\n');
    await manager.reload('test');
    writeFileSync(file, WITH_TWO);
    expect((await manager.reload('test')).applied).toBe(true);
    expect(manager.status()).toMatchObject({ ok: true, lastError: null });
    expect(notifier.reloaded).toHaveLength(1);
    expect(await gauge(metrics, 'tollgate_config_last_reload_successful')).toBe(1);
  });

  it('announces the recovery even when the file goes back to the config already served', async () => {
    const { file, manager, notifier } = await setup();
    const good = manager.current();
    writeFileSync(file, 'version: 2\n');
    await manager.reload('test');
    writeFileSync(file, BASE);
    expect(await manager.reload('test')).toEqual({ applied: true, changed: false, errors: [] });
    expect(manager.current()).toBe(good);
    expect(manager.status().ok).toBe(true);
    expect(notifier.reloaded).toHaveLength(1);
  });

  it('keeps the last good config when the file is deleted, and logs it once', async () => {
    const { file, manager, notifier, metrics, logs } = await setup();
    const good = manager.current();
    unlinkSync(file);
    expect(await manager.reload('watch')).toEqual({ applied: false, changed: false, errors: [] });
    await manager.reload('watch');
    expect(manager.current()).toBe(good);
    expect(manager.status().ok).toBe(true);
    expect(logs.filter((l) => l.includes('config file missing')).length).toBe(1);
    expect(notifier.failed).toHaveLength(0);
    expect(await gauge(metrics, 'tollgate_config_last_reload_successful')).toBe(1);
  });

  it('shows a renamed key (same hash, new name) in the reload summary', async () => {
    const { file, manager, notifier } = await setup();
    writeFileSync(file, keysYaml({ keys: { 'cursor-laptop': { hash: H1, dailyUsd: 5 } } }));
    await manager.reload('test');
    expect(manager.current().keysByHash.get(H1)?.name).toBe('cursor-laptop');
    expect(notifier.reloaded[0]?.summary()).toContain('cursor-laptop');
    expect(notifier.reloaded[0]?.summary()).toContain('cursor-dev');
  });

  it('never puts a leaked plaintext key into logs, status or notifications', async () => {
    const { file, manager, notifier, logs } = await setup();
    const leaked = `tgk_${'A1b2C3d4E5'.repeat(3)}Zz${'Q9w8e7'}`;
    writeFileSync(file, `${BASE}# ${leaked}\n`);
    await manager.reload('test');
    expect(manager.status().ok).toBe(false);
    expect(logs.join('')).not.toContain(leaked);
    expect(JSON.stringify(manager.status())).not.toContain(leaked);
    expect(JSON.stringify(notifier.failed)).not.toContain(leaked);
  });

  it('runs concurrent reloads one at a time and ends on the final content', async () => {
    const { file, manager } = await setup();
    writeFileSync(file, WITH_TWO);
    const first = manager.reload('a');
    const second = manager.reload('b');
    await Promise.all([first, second]);
    expect(manager.current().keysByHash.has(H2)).toBe(true);
  });

  it('never throws from reload when git fails, and falls back to the content hash', async () => {
    const { file, manager } = await setup({
      gitRevision: async () => {
        throw new Error('git exploded');
      },
    });
    writeFileSync(file, WITH_TWO);
    expect((await manager.reload('test')).applied).toBe(true);
    expect(manager.current().revision).toMatch(REVISION);
  });
});

describe('config revision in a git work tree', () => {
  it('adds the short commit sha when the file is committed and drops it for uncommitted edits', async () => {
    const repo = setupGitRepo(tempDir(), [BASE]);
    const { manager } = await setup({ file: repo.file, gitRevision: undefined });
    const m = manager as ConfigManager;
    expect(m.current().revision).toMatch(new RegExp(`^[0-9a-f]{12}@${repo.shas[0]}$`));
    writeFileSync(repo.file, WITH_TWO);
    await m.reload('test');
    expect(m.current().revision).toMatch(REVISION);
  });
});

/** Polls every 25 ms until `check` holds or `ms` pass. */
async function waitFor(check: () => boolean, ms = 2_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const hasSecondKey = (m: ConfigManager) => m.current().keysByHash.has(H2);

describe('watch()', () => {
  it.each([
    ['an in-place write', writeInPlace],
    ['a temp file renamed over it', writeTempRename],
    ['an unlink followed by a create', writeUnlinkCreate],
  ])('applies %s within 2 s', async (_name, replace) => {
    const { file, manager } = await setup();
    manager.watch();
    replace(file, WITH_TWO);
    await waitFor(() => hasSecondKey(manager));
  });

  it('applies a Kubernetes ConfigMap ..data symlink swap within 2 s', async () => {
    const dir = tempDir();
    const file = setupConfigMap(dir, BASE);
    const { manager } = await setup({ file });
    manager.watch();
    swapConfigMap(dir, WITH_TWO);
    await waitFor(() => hasSecondKey(manager));
  });

  it('applies a git checkout of another revision within 2 s, with that commit in the revision', async () => {
    const repo = setupGitRepo(tempDir(), [WITH_TWO, BASE]);
    const { manager } = await setup({ file: repo.file, gitRevision: undefined });
    manager.watch();
    repo.checkout(repo.shas[0]!);
    await waitFor(() => hasSecondKey(manager));
    await waitFor(() => manager.current().revision.endsWith(`@${repo.shas[0]}`));
  });

  it('ends on the final content after two renames 0 ms apart', async () => {
    const { file, manager } = await setup();
    manager.watch();
    writeTempRename(file, keysYaml({ keys: { other: { hash: H2 } } }));
    writeTempRename(file, WITH_TWO);
    await waitFor(() => hasSecondKey(manager) && manager.current().keysByHash.has(H1));
    // And keeps watching after the burst.
    writeTempRename(file, BASE);
    await waitFor(() => !hasSecondKey(manager));
  });

  it('ends on the final content after two ConfigMap swaps 0 ms apart', async () => {
    const dir = tempDir();
    const file = setupConfigMap(dir, BASE);
    const { manager } = await setup({ file });
    manager.watch();
    swapConfigMap(dir, keysYaml({ keys: { other: { hash: H2 } } }));
    swapConfigMap(dir, WITH_TWO);
    await waitFor(() => hasSecondKey(manager) && manager.current().keysByHash.has(H1));
    swapConfigMap(dir, BASE);
    await waitFor(() => !hasSecondKey(manager));
  });

  it('keeps serving through a delete and applies the file when it comes back', async () => {
    const { file, manager } = await setup();
    const good = manager.current();
    manager.watch();
    unlinkSync(file);
    await new Promise((r) => setTimeout(r, 300));
    expect(manager.current()).toBe(good);
    writeFileSync(file, WITH_TWO);
    await waitFor(() => hasSecondKey(manager));
  });
});

describe('SIGHUP', () => {
  it('re-checks unchanged content on SIGHUP and picks up a commit of the same bytes', async () => {
    const dir = tempDir();
    const repo = setupGitRepo(dir, [BASE]);
    writeFileSync(repo.file, WITH_TWO);
    const { manager, logs } = await setup({ file: repo.file, gitRevision: undefined });
    expect(manager.current().revision).toMatch(REVISION);
    const sha = commitAll(dir);
    await manager.reload('poll');
    expect(manager.current().revision).toMatch(REVISION);
    const result = await manager.reload('SIGHUP');
    expect(result).toMatchObject({ applied: true, changed: true });
    expect(manager.current().revision).toMatch(new RegExp(`^[0-9a-f]{12}@${sha}$`));
    expect(logs.some((l) => l.includes('"reason":"SIGHUP"'))).toBe(true);
  });
});
