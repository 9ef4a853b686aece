import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';

export interface FileWatcher {
  close(): Promise<void>;
}

export interface WatchOptions {
  file: string;
  /** Called (debounced) when the file may have changed; the caller re-reads and hashes it. */
  onChange: (reason: 'watch' | 'poll') => void;
  onError: (err: unknown) => void;
  /** Quiet time after the last event before onChange fires. */
  debounceMs?: number;
  /** Longest a burst of events can postpone onChange. */
  maxWaitMs?: number;
  /** How often the content is re-read and hashed as a safety net behind the watcher. */
  pollMs?: number;
}

/**
 * Identity and change times of the file behind `file` (symlinks followed, so a ConfigMap swap
 * shows as a new inode). Any write changes ctime (ns resolution), so the poll needs no read: a
 * 10,000-key file is not re-read and hashed twice a second. The reload path hashes the content
 * and skips a change that is not one.
 */
async function fingerprint(file: string): Promise<string | null> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    // Missing or unreadable: "no content", the reload path decides what that means.
    return null;
  }
}

/**
 * Watches a config file however it gets replaced: in-place write, temp+rename, unlink+create,
 * `git checkout`, a Kubernetes ConfigMap `..data` symlink swap.
 *
 * Two layers, because chokidar 5's fs.watch backend can go silent for good after two
 * replacements 0 ms apart on Node 20:
 * - chokidar on the file's *directory* (not the file, whose inode is replaced) for low latency;
 * - a periodic stat check that catches whatever the watcher misses.
 * Both only schedule a debounced onChange; the caller re-reads and skips unchanged content.
 *
 * chokidar re-reads the directory on every change in it, sibling files included (~0.3 ms of CPU
 * each): keep keys.yaml in a folder of its own, as config/ is, not next to a log file or the
 * SQLite store, which change on every request. `serve` warns when the store is there.
 */
export function watchConfigFile(options: WatchOptions): FileWatcher {
  const file = resolve(options.file);
  const name = basename(file);
  const debounceMs = options.debounceMs ?? 100;
  const pollMs = options.pollMs ?? 500;
  const maxWaitMs = options.maxWaitMs ?? 500;

  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let burstStartedAt: number | undefined;
  let pendingReason: 'watch' | 'poll' = 'watch';
  let lastSeen: string | null | undefined;
  let polling = false;

  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    burstStartedAt = undefined;
    if (!closed) options.onChange(pendingReason);
  };

  const schedule = (reason: 'watch' | 'poll') => {
    if (closed) return;
    pendingReason = reason;
    const now = Date.now();
    burstStartedAt ??= now;
    if (timer) clearTimeout(timer);
    // A writer that never pauses must not postpone the reload forever: cap the wait.
    const wait = Math.max(0, Math.min(debounceMs, burstStartedAt + maxWaitMs - now));
    timer = setTimeout(fire, wait);
    timer.unref();
  };

  const watcher: FSWatcher = watch(dirname(file), {
    depth: 0,
    ignoreInitial: true,
    // Events for sibling files are noise; ConfigMap plumbing (`..data`, `..2026_…`) is the signal.
    ignored: (path: string) => {
      const base = basename(path);
      return path !== dirname(file) && base !== name && !base.startsWith('..');
    },
  });
  watcher.on('all', () => schedule('watch'));
  watcher.on('error', (err) => options.onError(err));

  const poll = async () => {
    if (polling || closed) return;
    polling = true;
    try {
      const now = await fingerprint(file);
      if (lastSeen !== undefined && now !== lastSeen) schedule('poll');
      lastSeen = now;
    } finally {
      polling = false;
    }
  };
  void poll();
  const interval = setInterval(() => void poll(), pollMs);
  interval.unref();

  return {
    async close() {
      closed = true;
      clearInterval(interval);
      if (timer) clearTimeout(timer);
      await watcher.close();
    },
  };
}
