import { stat } from 'node:fs/promises';
import type { Clock } from '../../clock.js';
import type { ConfigHolder } from '../../config/types.js';
import { KEY_PATTERN_ALL } from '../../keys/format.js';
import type { Logger } from '../../log.js';
import type { Notifier } from '../../notifier.js';
import type { Metrics } from '../../ops/metrics.js';
import { diffConfigs, renderDiff } from '../diff/diff.js';
import { type EnvCheck, unsetReferences } from '../load/env-refs.js';
import { MAX_CONFIG_BYTES, tooLargeProblem } from '../load/limits.js';
import { buildKeyIndex, loadConfig } from '../load/load.js';
import type { Config, LoadedConfig, Problem } from '../types.js';
import type { GitRevision } from './git-revision.js';
import { createGitRevision } from './git-revision.js';
import { readSettled, type Sleep, sleep } from './read-settled.js';
import { contentRevision } from './revision.js';
import { tornWriteProblem } from './torn-write.js';
import { type FileWatcher, watchConfigFile } from './watch.js';

export interface ReloadResult {
  /** A valid config is being served that came from this attempt (or the same one again). */
  applied: boolean;
  /** The served revision changed. */
  changed: boolean;
  errors: Problem[];
}

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

/** Reasons that mean "the file system says something changed": the writer may not be done. */
const SETTLED_REASONS = new Set(['watch', 'poll', 'watch-start']);

/** Problems go to logs, /healthz and Slack: make sure none of them can carry a plaintext key. */
function scrub(problems: Problem[]): Problem[] {
  return problems.map((p) => ({ ...p, message: p.message.replace(KEY_PATTERN_ALL, 'tgk_[redacted]') }));
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

function problem(file: string, message: string): Problem {
  return { file, line: 0, col: 0, path: '', message, severity: 'error' };
}

type Attempt =
  | { kind: 'missing' }
  | { kind: 'unreadable'; errors: Problem[]; fingerprint: string }
  | { kind: 'invalid'; errors: Problem[]; fingerprint: string }
  | { kind: 'valid'; config: Config; warnings: Problem[]; text: string; fingerprint: string };

/** Read → hash → parse and validate with the same function as `tollgate validate`. Never throws. */
async function attempt(
  file: string,
  now: number,
  read: () => Promise<string>,
  env?: EnvCheck,
): Promise<Attempt> {
  let text: string;
  try {
    // Refused before it is read: reading and hashing a runaway file is a cost of its own.
    const { size } = await stat(file);
    if (size > MAX_CONFIG_BYTES) {
      return { kind: 'invalid', errors: [tooLargeProblem(file, size)], fingerprint: `too-large:${size}` };
    }
    text = await read();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    if (code === 'ENOENT') return { kind: 'missing' };
    const message = `cannot read the config file (${code}): ${err instanceof Error ? err.message : String(err)}`;
    return { kind: 'unreadable', errors: [problem(file, message)], fingerprint: `unreadable:${code}` };
  }
  const fingerprint = contentRevision(text);
  try {
    const result = loadConfig(text, { file, now, ...(env ? { env } : {}) });
    if (result.config && result.errors.length === 0) {
      return { kind: 'valid', config: result.config, warnings: scrub(result.warnings), text, fingerprint };
    }
    const errors = result.errors.length > 0 ? result.errors : [problem(file, 'the config file is not valid')];
    return { kind: 'invalid', errors: scrub(errors), fingerprint };
  } catch (err) {
    // loadConfig should report, not throw; if it does, the file is still rejected, not the process.
    const message = `the config file could not be loaded: ${err instanceof Error ? err.message : String(err)}`;
    return { kind: 'invalid', errors: [problem(file, message)], fingerprint };
  }
}

/**
 * Owns the config being served. Every reload is read → hash (skip unchanged) → validate →
 * swap the whole LoadedConfig reference. A request that read `current()` keeps its object, so
 * in-flight requests finish under the config they started with. A rejected or deleted file
 * leaves the last good config serving. Spend lives in the store by key name; nothing here
 * touches it, so limits change on reload and counters do not.
 */
export async function createConfigManager(deps: ConfigManagerDeps): Promise<ConfigManager> {
  const { file, clock, log, metrics, notifier } = deps;
  const gitRevision = deps.gitRevision ?? createGitRevision();

  const revisionOf = async (text: string, fingerprint: string): Promise<string> => {
    let sha: string | null = null;
    try {
      sha = await gitRevision(file, text);
    } catch {
      // No git, or git misbehaving: the content hash alone still identifies the config.
    }
    return sha ? `${fingerprint}@${sha}` : fingerprint;
  };

  const build = async (a: Extract<Attempt, { kind: 'valid' }>, now: number): Promise<LoadedConfig> => ({
    config: a.config,
    revision: await revisionOf(a.text, a.fingerprint),
    loadedAt: now,
    keysByHash: buildKeyIndex(a.config),
  });

  const settleMs = deps.settleMs ?? 200;
  const pause = deps.sleep ?? sleep;

  const startedAt = clock();
  const vars = deps.env;
  const first = await attempt(
    file,
    startedAt,
    () => readSettled(file, { settleMs: 0, sleep: pause }),
    vars ? { vars, unsetIs: 'warning' } : undefined,
  );
  if (first.kind === 'missing') throw new Error(`cannot read config file ${file}: it does not exist`);
  if (first.kind !== 'valid') {
    const lines = first.errors.map(formatProblem).join('\n');
    throw new Error(`config file ${file} is invalid; tollgate will not start:\n${lines}`);
  }

  let current = await build(first, startedAt);
  let servedEndsWithNewline = first.text.endsWith('\n');
  let ok = true;
  let lastAttemptAt = startedAt;
  let lastError: Problem[] | null = null;
  let lastFingerprint = first.fingerprint;
  let missingLogged = false;
  let queue: Promise<unknown> = Promise.resolve();
  let watcher: FileWatcher | undefined;
  let closed = false;

  metrics.setReload(true, startedAt, current.revision);
  log.info(
    { file, revision: current.revision, keys: Object.keys(first.config.keys).length },
    'config loaded',
  );
  if (first.warnings.length > 0)
    log.warn({ file, warnings: first.warnings.map(formatProblem) }, 'config warnings');

  const reloadNow = async (reason: string): Promise<ReloadResult> => {
    const now = clock();
    const started = performance.now();
    const read = () =>
      readSettled(file, {
        settleMs: SETTLED_REASONS.has(reason) ? settleMs : 0,
        sleep: pause,
        skip: (text) => contentRevision(text) === lastFingerprint,
      });
    const env: EnvCheck | undefined = vars
      ? { vars, unsetIs: 'error', tolerate: unsetReferences(current.config, vars) }
      : undefined;
    let a = await attempt(file, now, read, env);
    if (a.kind === 'valid') {
      const torn = tornWriteProblem(file, a.text, a.config, {
        config: current.config,
        endsWithNewline: servedEndsWithNewline,
      });
      if (torn) a = { kind: 'invalid', errors: [torn], fingerprint: a.fingerprint };
    }

    if (a.kind === 'missing') {
      // A deleted file is a step of unlink+create or a mistake, never an instruction to serve nothing.
      if (!missingLogged)
        log.warn(
          { file, reason, revision: current.revision },
          'config file missing; keeping the last good config',
        );
      missingLogged = true;
      return { applied: false, changed: false, errors: [] };
    }
    missingLogged = false;
    // Unchanged bytes: nothing to do, and nothing to say (the poll runs every few hundred ms).
    // An operator's SIGHUP is an explicit ask: it re-checks (e.g. a `git commit` of the same bytes).
    if (a.fingerprint === lastFingerprint && reason !== 'SIGHUP') {
      return { applied: ok, changed: false, errors: ok ? [] : (lastError ?? []) };
    }
    lastFingerprint = a.fingerprint;
    lastAttemptAt = now;

    if (a.kind !== 'valid') {
      ok = false;
      lastError = a.errors;
      metrics.reloadAttempt(false);
      metrics.setReload(false, now, current.revision);
      log.error(
        { file, reason, revision: current.revision, errors: a.errors.map(formatProblem) },
        'config reload rejected; keeping the last good config',
      );
      notifier.configReloadFailed({
        file,
        errors: a.errors,
        revision: current.revision,
        rejected: a.fingerprint,
      });
      return { applied: false, changed: false, errors: a.errors };
    }

    const next = await build(a, now);
    const previous = current;
    const recovered = !ok;
    const changed = next.revision !== previous.revision;
    // The swap is one reference assignment: readers see the old object or the new one, never a mix.
    if (changed) current = next;
    servedEndsWithNewline = a.text.endsWith('\n');
    ok = true;
    lastError = null;
    metrics.reloadAttempt(true);
    metrics.setReload(true, now, current.revision);
    log.info(
      {
        file,
        reason,
        revision: current.revision,
        previousRevision: previous.revision,
        ms: Math.round(performance.now() - started),
      },
      'config reloaded',
    );
    if (a.warnings.length > 0) log.warn({ file, warnings: a.warnings.map(formatProblem) }, 'config warnings');
    if (changed || recovered) {
      let summary: string | undefined;
      const summarize = (): string => {
        if (summary !== undefined) return summary;
        try {
          summary = renderDiff(diffConfigs(previous.config, next.config), 'markdown');
        } catch (err) {
          log.error({ err, file }, 'could not summarize the config change');
          summary = 'The config changed (the summary could not be computed).';
        }
        return summary;
      };
      notifier.configReloaded({
        revision: current.revision,
        previousRevision: previous.revision,
        summary: summarize,
      });
    }
    return { applied: true, changed, errors: [] };
  };

  const manager: ConfigManager = {
    current: () => current,
    reload(reason) {
      // One reload at a time, in order: two swaps 0 ms apart must end on the final content.
      const run = queue.then(() => reloadNow(reason));
      queue = run.catch(() => undefined);
      return run.catch((err: unknown) => {
        log.error({ err, file, reason }, 'config reload failed unexpectedly; keeping the last good config');
        return { applied: false, changed: false, errors: [problem(file, 'the reload failed unexpectedly')] };
      });
    },
    status: () => ({ revision: current.revision, loadedAt: current.loadedAt, ok, lastAttemptAt, lastError }),
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
