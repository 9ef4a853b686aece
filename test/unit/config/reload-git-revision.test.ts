import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGitRevision, gitBlobId } from '../../../src/config/reload/git-revision.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-git-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: cwd },
  }).trim();
}

function repoWith(content: string): { dir: string; file: string; sha: string } {
  const dir = tempDir();
  git(dir, 'init', '-q');
  const file = join(dir, 'config', 'keys.yaml');
  execFileSync('mkdir', ['-p', join(dir, 'config')]);
  writeFileSync(file, content);
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'first');
  return { dir, file, sha: git(dir, 'log', '-1', '--format=%h') };
}

describe('gitRevision', () => {
  it('computes the same blob id as git hash-object', () => {
    const dir = tempDir();
    const file = join(dir, 'x');
    writeFileSync(file, 'version: 1\nkeys: {}\n');
    expect(gitBlobId('version: 1\nkeys: {}\n')).toBe(git(dir, 'hash-object', file));
  });

  it('returns the short sha of the commit holding the file when it is committed and clean', async () => {
    const { file, sha } = repoWith('version: 1\n');
    expect(await createGitRevision()(file, 'version: 1\n')).toBe(sha);
  });

  it('returns null when the loaded content differs from what HEAD holds', async () => {
    const { file } = repoWith('version: 1\n');
    writeFileSync(file, 'version: 1\n# edited\n');
    expect(await createGitRevision()(file, 'version: 1\n# edited\n')).toBeNull();
  });

  it('returns null outside a git work tree', async () => {
    const dir = tempDir();
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'version: 1\n');
    expect(await createGitRevision()(file, 'version: 1\n')).toBeNull();
  });

  it('returns null for a file that does not exist', async () => {
    expect(await createGitRevision()(join(tempDir(), 'nope.yaml'), 'x')).toBeNull();
  });

  it('follows a symlink to the committed file', async () => {
    const { file, sha } = repoWith('version: 1\n');
    const link = join(tempDir(), 'keys.yaml');
    symlinkSync(file, link);
    expect(await createGitRevision()(link, 'version: 1\n')).toBe(sha);
  });

  it('reports the older commit after a git checkout of another revision', async () => {
    const { dir, file, sha: first } = repoWith('version: 1\n');
    writeFileSync(file, 'version: 1\n# second\n');
    git(dir, 'commit', '-q', '-am', 'second');
    const second = git(dir, 'log', '-1', '--format=%h');
    const revisionOf = createGitRevision();
    expect(await revisionOf(file, 'version: 1\n# second\n')).toBe(second);
    git(dir, 'checkout', '-q', first);
    expect(await revisionOf(file, 'version: 1\n')).toBe(first);
  });

  it('picks up a commit made after an uncommitted load because null answers are not cached', async () => {
    const { dir, file } = repoWith('version: 1\n');
    const revisionOf = createGitRevision();
    writeFileSync(file, 'version: 1\n# new\n');
    expect(await revisionOf(file, 'version: 1\n# new\n')).toBeNull();
    git(dir, 'commit', '-q', '-am', 'new');
    expect(await revisionOf(file, 'version: 1\n# new\n')).toBe(git(dir, 'log', '-1', '--format=%h'));
  });

  it('spawns no git for a file with no repository around it (no .git above, no GIT_DIR), and does inside one', async () => {
    const asked: string[][] = [];
    const counting = (_cwd: string, args: string[]) => {
      asked.push(args);
      return Promise.resolve(null);
    };
    const outside = join(tempDir(), 'keys.yaml');
    writeFileSync(outside, 'version: 1\n');
    expect(await createGitRevision({ git: counting, env: {} })(outside, 'version: 1\n')).toBeNull();
    expect(asked).toEqual([]);
    // GIT_DIR points git at a repository wherever the file is: git is asked.
    await createGitRevision({ git: counting, env: { GIT_DIR: '/elsewhere/.git' } })(outside, 'version: 1\n');
    expect(asked).toHaveLength(1);
    const { file } = repoWith('version: 1\n');
    await createGitRevision({ git: counting, env: {} })(file, 'version: 1\n');
    expect(asked).toHaveLength(2);
  });

  it('picks up a repository created around the file after a load outside one', async () => {
    const dir = tempDir();
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, 'version: 1\n');
    const revisionOf = createGitRevision();
    expect(await revisionOf(file, 'version: 1\n')).toBeNull();
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-q', '-m', 'first');
    expect(await revisionOf(file, 'version: 1\n')).toBe(git(dir, 'log', '-1', '--format=%h'));
  });
});
