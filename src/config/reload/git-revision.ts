import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * The short sha of the git commit that holds exactly `content` for `file`, or null when the
 * file is not in a git work tree, not committed, or differs from what HEAD holds. Never throws.
 */
export type GitRevision = (file: string, content: string) => Promise<string | null>;

const GIT_TIMEOUT_MS = 5_000;

function runGit(cwd: string, args: string[]): Promise<string | null> {
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

type RunGit = (cwd: string, args: string[]) => Promise<string | null>;

/**
 * Whether git could find a repository for `dir`: a `.git` (folder or file) in it or a folder
 * above, or GIT_DIR set. When not, git would only fail: asking it cost a process spawn per
 * reload (~15 ms of the gateway's CPU with a 10,000-key config's heap, and as much waiting), for
 * the usual case of keys.yaml outside a repository (a ConfigMap, /etc).
 */
async function mayBeInRepository(dir: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  if (env.GIT_DIR !== undefined) return true;
  for (let d = dir; ; d = dirname(d)) {
    try {
      await stat(join(d, '.git'));
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Anything but "not there" (a permission error, say) is left to git to judge.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return true;
    }
    if (dirname(d) === d) return false;
  }
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
export function createGitRevision(
  options: { maxEntries?: number; git?: RunGit; env?: NodeJS.ProcessEnv } = {},
): GitRevision {
  const maxEntries = options.maxEntries ?? 64;
  const git = options.git ?? runGit;
  const env = options.env ?? process.env;
  const cache = new Map<string, string>();

  return async (file, content) => {
    let real: string;
    try {
      // A ConfigMap mounts keys.yaml as a symlink chain; git only knows the real file.
      real = await realpath(file);
    } catch {
      return null;
    }
    const dir = dirname(real);
    // Checked each time, never cached: a repository created later is picked up.
    if (!(await mayBeInRepository(dir, env))) return null;

    const blob = gitBlobId(content);
    const cacheKey = `${file}\0${blob}`;
    const cached = cache.get(cacheKey);
    if (cached !== undefined) return cached;
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
