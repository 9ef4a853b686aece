import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FileWatcher, watchConfigFile } from '../../../src/config/reload/watch.js';
import {
  setupConfigMap,
  setupGitRepo,
  swapConfigMap,
  writeInPlace,
  writeTempRename,
  writeUnlinkCreate,
} from '../../helpers/config-replace.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-watch-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a watcher that re-reads the file on every onChange, like the manager does. */
function observe(file: string, pollMs = 300): { seen: () => string | null; changes: () => number } {
  let seen: string | null = null;
  let changes = 0;
  const w: FileWatcher = watchConfigFile({
    file,
    pollMs,
    onChange: () => {
      changes++;
      try {
        seen = readFileSync(file, 'utf8');
      } catch {
        // deleted: the manager keeps its last good config
      }
    },
    onError: () => {},
  });
  cleanups.push(() => w.close());
  return { seen: () => seen, changes: () => changes };
}

/** Polls every 25 ms until `check` holds or `ms` pass. */
async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const settle = () => new Promise((r) => setTimeout(r, 150));

describe('watchConfigFile', () => {
  it.each([
    ['an in-place write', writeInPlace],
    ['a temp file renamed over it', writeTempRename],
    ['an unlink followed by a create', writeUnlinkCreate],
  ])('reports the final content after %s', async (_name, replace) => {
    const file = join(tempDir(), 'keys.yaml');
    writeFileSync(file, 'a\n');
    const o = observe(file);
    await settle();
    replace(file, 'b\n');
    await waitFor(() => o.seen() === 'b\n', 2_000);
  });

  it('reports the final content after a Kubernetes ConfigMap ..data symlink swap', async () => {
    const dir = tempDir();
    const file = setupConfigMap(dir, 'a\n');
    const o = observe(file);
    await settle();
    swapConfigMap(dir, 'b\n');
    await waitFor(() => o.seen() === 'b\n', 2_000);
  });

  it('reports the final content after a git checkout of another revision', async () => {
    const repo = setupGitRepo(tempDir(), ['a\n', 'b\n']);
    const o = observe(repo.file);
    await settle();
    repo.checkout(repo.shas[0]!);
    await waitFor(() => o.seen() === 'a\n', 2_000);
  });

  it('ends on the final content after two renames 0 ms apart, and keeps watching after them', async () => {
    const file = join(tempDir(), 'keys.yaml');
    writeFileSync(file, 'a\n');
    const o = observe(file);
    await settle();
    writeTempRename(file, 'b\n');
    writeTempRename(file, 'c\n');
    await waitFor(() => o.seen() === 'c\n', 2_000);
    writeTempRename(file, 'd\n');
    await waitFor(() => o.seen() === 'd\n', 2_000);
  });

  it('ends on the final content after two ConfigMap swaps 0 ms apart, and keeps watching after them', async () => {
    const dir = tempDir();
    const file = setupConfigMap(dir, 'a\n');
    const o = observe(file);
    await settle();
    swapConfigMap(dir, 'b\n');
    swapConfigMap(dir, 'c\n');
    await waitFor(() => o.seen() === 'c\n', 2_000);
    swapConfigMap(dir, 'd\n');
    await waitFor(() => o.seen() === 'd\n', 2_000);
  });

  it('notices a change to a symlink target outside the watched directory through the periodic content check', async () => {
    const target = join(tempDir(), 'real.yaml');
    writeFileSync(target, 'a\n');
    const file = join(tempDir(), 'keys.yaml');
    symlinkSync(target, file);
    const o = observe(file, 100);
    await settle();
    writeInPlace(target, 'b\n');
    await waitFor(() => o.seen() === 'b\n', 2_000);
  });

  it('debounces a burst of writes into a few change reports', async () => {
    const file = join(tempDir(), 'keys.yaml');
    writeFileSync(file, 'a\n');
    const o = observe(file, 10_000);
    await settle();
    for (let i = 0; i < 20; i++) writeInPlace(file, `v${i}\n`);
    await waitFor(() => o.seen() === 'v19\n', 2_000);
    expect(o.changes()).toBeLessThanOrEqual(3);
  });

  it('ignores changes to other files in the same directory', async () => {
    const dir = tempDir();
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'a\n');
    const o = observe(file, 10_000);
    await settle();
    writeFileSync(join(dir, 'tollgate.db'), 'x');
    writeFileSync(join(dir, 'other.yaml'), 'x');
    await new Promise((r) => setTimeout(r, 400));
    expect(o.changes()).toBe(0);
  });

  it('stops reporting after close', async () => {
    const file = join(tempDir(), 'keys.yaml');
    writeFileSync(file, 'a\n');
    let changes = 0;
    const w = watchConfigFile({ file, pollMs: 50, onChange: () => changes++, onError: () => {} });
    await settle();
    await w.close();
    writeInPlace(file, 'b\n');
    await new Promise((r) => setTimeout(r, 400));
    expect(changes).toBe(0);
  });
});

describe('watchConfigFile under a writer that never pauses', () => {
  it('still reports a change while writes keep coming faster than the debounce', async () => {
    const dir = tempDir();
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'a\n');
    let changes = 0;
    const w = watchConfigFile({
      file,
      pollMs: 10_000,
      debounceMs: 200,
      maxWaitMs: 300,
      onChange: () => changes++,
      onError: () => {},
    });
    cleanups.push(() => w.close());
    await new Promise((r) => setTimeout(r, 150));
    const start = Date.now();
    let i = 0;
    while (changes === 0 && Date.now() - start < 2_000) {
      writeInPlace(file, `v${i++}\n`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(changes).toBeGreaterThan(0);
  });
});
