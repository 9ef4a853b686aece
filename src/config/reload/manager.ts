import type { Clock } from '../../clock.js';
import type { ConfigHolder } from '../../config/types.js';
import type { Logger } from '../../log.js';
import type { Notifier } from '../../notifier.js';
import type { Metrics } from '../../ops/metrics.js';
import { buildKeyIndex, type PhaseTimings, stopwatch } from '../load/load.js';
import type { LoadedConfig, Problem } from '../types.js';
import { attempt, formatProblem, problem, type ValidAttempt } from './attempt.js';
import type { GitRevision } from './git-revision.js';
import { createGitRevision } from './git-revision.js';
import { readSettled, type Sleep, sleep } from './read-settled.js';
import { type ReloadContext, type ReloadResult, reloadOnce, type ServedState } from './reload-step.js';
import { type FileWatcher, watchConfigFile } from './watch.js';

export { formatProblem } from './attempt.js';
export type { ReloadResult } from './reload-step.js';

export interface ConfigStatus {
  revision: string;
  loadedAt: number;
  /** False while the file on disk is rejected and the last good config keeps serving. */
  ok: boolean;
  lastAttemptAt: number;
  lastError: Problem[] | null;
}

export interface ConfigManager extends ConfigHolder {
  reload(reason: string): Promise<ReloadResult>;
  status(): ConfigStatus;
  /** Starts watching the file; reloads apply within ~1 s of a change. */
  watch(): void;
  close(): Promise<void>;
}

export interface ConfigManagerDeps {
  file: string;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  notifier: Notifier;
  /** Safety-net content check interval of the watcher. */
  pollMs?: number;
  debounceMs?: number;
  /**
   * A change the watcher reports applies once two reads this far apart agree, so a copy still
   * being written in place is waited for (torn-write.ts). Default 200 ms; 0 turns it off.
   */
  settleMs?: number;
  sleep?: Sleep;
  gitRevision?: GitRevision;
  /**
   * The environment `${VAR}` references are checked against (env-refs.ts): unset ones warn at
   * start and reject a reload that newly names one. Omitted: not checked.
   */
  env?: NodeJS.ProcessEnv;
}

/** The config as first read at start: anything but a valid file stops tollgate from starting. */
async function loadFirst(deps: ConfigManagerDeps, now: number, pause: Sleep): Promise<ValidAttempt> {
  const { file, env: vars } = deps;
  const first = await attempt(
    file,
    now,
    () => readSettled(file, { settleMs: 0, sleep: pause }),
    vars ? { env: { vars, unsetIs: 'warning' } } : {},
  );
  if (first.kind === 'missing') throw new Error(`cannot read config file ${file}: it does not exist`);
  if (first.kind !== 'valid') {
    // (Never `unchanged`: there is no fingerprint to compare with at start.)
    const lines = ('errors' in first ? first.errors : []).map(formatProblem).join('\n');
    throw new Error(`config file ${file} is invalid; tollgate will not start:\n${lines}`);
  }
  return first;
}

/** A LoadedConfig from a valid attempt, its revision naming the git commit when there is one. */
function createBuilder(file: string, gitRevision: GitRevision) {
  const revisionOf = async (text: string, fingerprint: string): Promise<string> => {
    let sha: string | null = null;
    try {
      sha = await gitRevision(file, text);
    } catch {
      // No git, or git misbehaving: the content hash alone still identifies the config.
    }
    return sha ? `${fingerprint}@${sha}` : fingerprint;
  };
  return async (a: ValidAttempt, now: number, timings?: PhaseTimings): Promise<LoadedConfig> => {
    const lap = stopwatch(timings);
    const revision = await revisionOf(a.text, a.fingerprint);
    lap('revision');
    const keysByHash = buildKeyIndex(a.config);
    lap('index');
    return { config: a.config, revision, loadedAt: now, keysByHash };
  };
}

/**
 * Owns the config being served. Every reload is read → hash (skip unchanged) → validate →
 * swap the whole LoadedConfig reference (reload-step.ts). A request that read `current()` keeps
 * its object, so in-flight requests finish under the config they started with. A rejected or
 * deleted file leaves the last good config serving. Spend lives in the store by key name;
 * nothing here touches it, so limits change on reload and counters do not.
 */
export async function createConfigManager(deps: ConfigManagerDeps): Promise<ConfigManager> {
  const { file, clock, log, metrics, notifier } = deps;
  const build = createBuilder(file, deps.gitRevision ?? createGitRevision());
  const pause = deps.sleep ?? sleep;

  const startedAt = clock();
  const first = await loadFirst(deps, startedAt, pause);
  const state: ServedState = {
    current: await build(first, startedAt),
    servedEndsWithNewline: first.text.endsWith('\n'),
    ok: true,
    lastAttemptAt: startedAt,
    lastError: null,
    lastFingerprint: first.fingerprint,
    missingLogged: false,
  };
  const ctx: ReloadContext = {
    file,
    clock,
    log,
    metrics,
    notifier,
    settleMs: deps.settleMs ?? 200,
    sleep: pause,
    vars: deps.env,
    build,
    state,
  };
  let queue: Promise<unknown> = Promise.resolve();
  let watcher: FileWatcher | undefined;
  let closed = false;

  metrics.setReload(true, startedAt, state.current.revision);
  log.info(
    { file, revision: state.current.revision, keys: Object.keys(first.config.keys).length },
    'config loaded',
  );
  if (first.warnings.length > 0)
    log.warn({ file, warnings: first.warnings.map(formatProblem) }, 'config warnings');

  const manager: ConfigManager = {
    current: () => state.current,
    reload(reason) {
      // One reload at a time, in order: two swaps 0 ms apart must end on the final content.
      const queuedAt = performance.now();
      const run = queue.then(() => reloadOnce(ctx, reason, queuedAt));
      queue = run.catch(() => undefined);
      return run.catch((err: unknown) => {
        log.error({ err, file, reason }, 'config reload failed unexpectedly; keeping the last good config');
        return { applied: false, changed: false, errors: [problem(file, 'the reload failed unexpectedly')] };
      });
    },
    status: () => ({
      revision: state.current.revision,
      loadedAt: state.current.loadedAt,
      ok: state.ok,
      lastAttemptAt: state.lastAttemptAt,
      lastError: state.lastError,
    }),
    watch() {
      if (watcher || closed) return;
      watcher = watchConfigFile({
        file,
        pollMs: deps.pollMs,
        debounceMs: deps.debounceMs,
        onChange: (reason) => void manager.reload(reason),
        onError: (err) =>
          log.warn({ err, file }, 'config watcher error; the periodic content check continues'),
      });
      // The file may have changed between the initial load and the watcher starting.
      void manager.reload('watch-start');
    },
    async close() {
      closed = true;
      await watcher?.close();
      watcher = undefined;
      await queue;
    },
  };
  return manager;
}
