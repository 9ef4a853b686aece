import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The ways a keys.yaml gets replaced on a real gateway's disk (docs/hot-reload.md), for hot-reload tests.
 * Each writes synchronously so "0 ms apart" means exactly that.
 */
export type ReplaceStyle = 'in-place' | 'temp-rename' | 'unlink-create' | 'configmap' | 'git-checkout';

export const REPLACE_STYLES: ReplaceStyle[] = [
  'in-place',
  'temp-rename',
  'unlink-create',
  'configmap',
  'git-checkout',
];

let counter = 0;

/** An editor's save: truncate and write the same inode. */
export function writeInPlace(file: string, content: string): void {
  writeFileSync(file, content);
}

/** An editor's atomic save: write a sibling temp file and rename it over the target. */
export function writeTempRename(file: string, content: string): void {
  const tmp = `${file}.tmp-${process.pid}-${counter++}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

/** Delete, then create a new file (new inode; the watcher sees unlink then add). */
export function writeUnlinkCreate(file: string, content: string): void {
  unlinkSync(file);
  writeFileSync(file, content);
}

/**
 * A Kubernetes ConfigMap volume: `keys.yaml -> ..data/keys.yaml`, `..data -> ..<timestamp>`.
 * `setupConfigMap` turns `dir` into that layout and returns the path to watch.
 */
export function setupConfigMap(dir: string, content: string): string {
  const first = `..2026_01_01_00_00_00.${counter++}`;
  mkdirSync(join(dir, first));
  writeFileSync(join(dir, first, 'keys.yaml'), content);
  symlinkSync(first, join(dir, '..data'));
  const file = join(dir, 'keys.yaml');
  rmSync(file, { force: true });
  symlinkSync(join('..data', 'keys.yaml'), file);
  return file;
}

/** kubelet's atomic writer: new timestamped dir, `..data_tmp` symlink to it, renamed over `..data`. */
export function swapConfigMap(dir: string, content: string): void {
  const next = `..2026_01_01_00_00_01.${counter++}`;
  mkdirSync(join(dir, next));
  writeFileSync(join(dir, next, 'keys.yaml'), content);
  symlinkSync(next, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: cwd },
  }).trim();
}

/**
 * A git work tree in `dir` holding `keys.yaml` with one commit per content. Returns the short
 * shas; `checkout(sha)` switches the file like `git checkout`/`git pull` does on a server.
 */
export function setupGitRepo(
  dir: string,
  contents: string[],
): { file: string; shas: string[]; checkout(sha: string): void } {
  git(dir, 'init', '-q');
  const file = join(dir, 'keys.yaml');
  const shas: string[] = [];
  for (const [i, content] of contents.entries()) {
    writeFileSync(file, content);
    git(dir, 'add', 'keys.yaml');
    git(dir, 'commit', '-q', '-m', `revision ${i}`);
    shas.push(git(dir, 'log', '-1', '--format=%h'));
  }
  return { file, shas, checkout: (sha) => void git(dir, 'checkout', '-q', sha) };
}

/** Commits every change in the work tree at `dir` (a `git commit -a` on the server). */
export function commitAll(dir: string, message = 'update'): string {
  git(dir, 'commit', '-q', '-am', message);
  return git(dir, 'log', '-1', '--format=%h');
}
