import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/**
 * The short sha of the git commit that holds exactly `content` for `file`, or null when the
 * file is not in a git work tree, not committed, or differs from what HEAD holds. Never throws.
 */
export type GitRevision = (file: string, content: string) => Promise<string | null>;

const GIT_TIMEOUT_MS = 5_000;

function git(cwd: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      'git',
      args,
      // GIT_OPTIONAL_LOCKS=0: a reload must never take the index lock of someone's working copy.
      { cwd, timeout: GIT_TIMEOUT_MS, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' }, windowsHide: true },
      (err, stdout) => resolve(err ? null : stdout.trim()),
    );
  });
}

/** The object id git gives a blob with this content (`git hash-object`), so we compare bytes, not mtimes. */
export function gitBlobId(content: string): string {
  const bytes = Buffer.from(content, 'utf8');
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/**
 * Asks git with execFile (no shell). The answer is cached per file and content: the same bytes
 * get the same revision without spawning git on every reload. A null answer is not cached so
 * that committing the file later is picked up by the next reload of new content.
 */
export function createGitRevision(options: { maxEntries?: number } = {}): GitRevision {
  const maxEntries = options.maxEntries ?? 64;
  const cache = new Map<string, string>();

  return async (file, content) => {
    const blob = gitBlobId(content);
    const cacheKey = `${file}\0${blob}`;
    const cached = cache.get(cacheKey);
    if (cached !== undefined) return cached;

    let real: string;
    try {
      // A ConfigMap mounts keys.yaml as a symlink chain; git only knows the real file.
      real = await realpath(file);
    } catch {
      return null;
    }
    const dir = dirname(real);
    const prefix = await git(dir, ['rev-parse', '--show-prefix']);
    if (prefix === null) return null;
    const path = `${prefix}${basename(real)}`;
    // Compare the content we loaded with what HEAD holds: a dirty or untracked file has no commit.
    const headBlob = await git(dir, ['rev-parse', '--verify', '--quiet', `HEAD:${path}`]);
    if (headBlob !== blob) return null;
    // Pathspecs after `--` are relative to cwd, unlike `HEAD:<path>`, which is relative to the top.
    const sha = await git(dir, ['log', '-1', '--format=%h', 'HEAD', '--', basename(real)]);
    if (!sha) return null;

    if (cache.size >= maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(cacheKey, sha);
    return sha;
  };
}
