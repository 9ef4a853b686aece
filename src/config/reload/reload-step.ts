import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import type { Notifier } from '../../notifier.js';
import type { Metrics } from '../../ops/metrics.js';
import { diffConfigs, renderDiff } from '../diff/diff.js';
import { type EnvCheck, unsetReferences } from '../load/env-refs.js';
import { type PhaseTimings, stopwatch } from '../load/load.js';
import type { LoadedConfig, Problem } from '../types.js';
import { type Attempt, attempt, formatProblem, type ValidAttempt } from './attempt.js';
import { readSettled, type Sleep } from './read-settled.js';
import { contentRevision } from './revision.js';
import { tornWriteProblem } from './torn-write.js';

export interface ReloadResult {
  /** A valid config is being served that came from this attempt (or the same one again). */
  applied: boolean;
  /** The served revision changed. */
  changed: boolean;
  errors: Problem[];
}

/** What the manager serves and remembers between reloads; a reload step updates it in place. */
export interface ServedState {
  current: LoadedConfig;
  servedEndsWithNewline: boolean;
  ok: boolean;
  lastAttemptAt: number;
  lastError: Problem[] | null;
  lastFingerprint: string;
  missingLogged: boolean;
}

export interface ReloadContext {
  file: string;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  notifier: Notifier;
  settleMs: number;
  sleep: Sleep;
  vars: NodeJS.ProcessEnv | undefined;
  /**
   * The LoadedConfig a valid attempt becomes (its revision names the git commit too); `timings`
   * gets its steps (revision, index).
   */
  build(a: ValidAttempt, now: number, timings?: PhaseTimings): Promise<LoadedConfig>;
  state: ServedState;
}

/** One reload as it runs: why, its clock reading, and where its time goes. */
interface Run {
  reason: string;
  now: number;
  /** performance.now() when the reload was asked for, and when it started (after any queue). */
  queuedAt: number;
  started: number;
  /** Milliseconds per step: read, hash, parse, schema, normalize, rules, report, torn, revision, index. */
  timings: PhaseTimings;
}

/**
 * A reload's times for its log line: `ms` from its start to now, `queuedMs` spent waiting behind
 * another reload, `phases` per step (0.1 ms). What it costs with 10,000 keys is read from these
 * (bench/lib/measure.ts reads them from the log for `npm run bench`'s reload row).
 */
function timesOf(run: Run): { ms: number; queuedMs: number; phases: PhaseTimings } {
  const phases: PhaseTimings = {};
  for (const [k, v] of Object.entries(run.timings)) phases[k] = Math.round(v * 10) / 10;
  return {
    ms: Math.round((performance.now() - run.started) * 10) / 10,
    queuedMs: Math.round((run.started - run.queuedAt) * 10) / 10,
    phases,
  };
}

/** Reasons that mean "the file system says something changed": the writer may not be done. */
const SETTLED_REASONS = new Set(['watch', 'poll', 'watch-start']);

/** Reads and validates the file; a valid one that looks like a write still under way is refused. */
async function readAttempt(
  ctx: ReloadContext,
  reason: string,
  now: number,
  timings: PhaseTimings,
): Promise<Attempt> {
  const { file, state, vars } = ctx;
  const read = () =>
    readSettled(file, {
      settleMs: SETTLED_REASONS.has(reason) ? ctx.settleMs : 0,
      sleep: ctx.sleep,
      skip: (text) => contentRevision(text) === state.lastFingerprint,
    });
  const env: EnvCheck | undefined = vars
    ? { vars, unsetIs: 'error', tolerate: unsetReferences(state.current.config, vars) }
    : undefined;
  // Bytes already validated are not validated again: only the last outcome matters for them
  // (reloadOnce), except on SIGHUP, which re-checks. A watcher event and a poll follow every
  // change that a SIGHUP has already applied, and with 10,000 keys each re-validation was a whole
  // reload's CPU, which a SIGHUP right after then waited behind.
  const unchangedFrom = reason === 'SIGHUP' ? undefined : state.lastFingerprint;
  const a = await attempt(file, now, read, {
    ...(env ? { env } : {}),
    timings,
    ...(unchangedFrom ? { unchangedFrom } : {}),
  });
  if (a.kind !== 'valid') return a;
  const lap = stopwatch(timings);
  const torn = tornWriteProblem(file, a.text, a.config, {
    config: state.current.config,
    endsWithNewline: state.servedEndsWithNewline,
  });
  lap('torn');
  return torn ? { kind: 'invalid', errors: [torn], fingerprint: a.fingerprint } : a;
}

/** The last good config keeps serving; logs, metrics, /healthz and Slack say why. */
function reject(
  ctx: ReloadContext,
  a: Extract<Attempt, { kind: 'invalid' | 'unreadable' }>,
  run: Run,
): ReloadResult {
  const { file, state, metrics } = ctx;
  const { reason, now } = run;
  state.ok = false;
  state.lastError = a.errors;
  metrics.reloadAttempt(false);
  metrics.setReload(false, now, state.current.revision);
  ctx.log.error(
    {
      file,
      reason,
      revision: state.current.revision,
      errors: a.errors.map(formatProblem),
      ...timesOf(run),
    },
    'config reload rejected; keeping the last good config',
  );
  ctx.notifier.configReloadFailed({
    file,
    errors: a.errors,
    revision: state.current.revision,
    rejected: a.fingerprint,
  });
  return { applied: false, changed: false, errors: a.errors };
}

/** The diff for Slack, computed once and only when asked for (the notifier asks a turn later). */
function lazySummary(ctx: ReloadContext, previous: LoadedConfig, next: LoadedConfig): () => string {
  let summary: string | undefined;
  return (): string => {
    if (summary !== undefined) return summary;
    try {
      summary = renderDiff(diffConfigs(previous.config, next.config), 'markdown');
    } catch (err) {
      ctx.log.error({ err, file: ctx.file }, 'could not summarize the config change');
      summary = 'The config changed (the summary could not be computed).';
    }
    return summary;
  };
}

async function apply(ctx: ReloadContext, a: ValidAttempt, run: Run): Promise<ReloadResult> {
  const { file, state, metrics, log } = ctx;
  const { reason, now } = run;
  const next = await ctx.build(a, now, run.timings);
  const previous = state.current;
  const recovered = !state.ok;
  const changed = next.revision !== previous.revision;
  // The swap is one reference assignment: readers see the old object or the new one, never a mix.
  if (changed) state.current = next;
  state.servedEndsWithNewline = a.text.endsWith('\n');
  state.ok = true;
  state.lastError = null;
  metrics.reloadAttempt(true);
  metrics.setReload(true, now, state.current.revision);
  log.info(
    {
      file,
      reason,
      revision: state.current.revision,
      previousRevision: previous.revision,
      ...timesOf(run),
    },
    'config reloaded',
  );
  if (a.warnings.length > 0) log.warn({ file, warnings: a.warnings.map(formatProblem) }, 'config warnings');
  if (changed || recovered) {
    ctx.notifier.configReloaded({
      revision: state.current.revision,
      previousRevision: previous.revision,
      summary: lazySummary(ctx, previous, next),
    });
  }
  return { applied: true, changed, errors: [] };
}

/**
 * One reload: read → hash (skip unchanged) → validate → swap, or keep the last good config.
 * `queuedAt` (performance.now()) is when it was asked for: it may have waited behind another.
 */
export async function reloadOnce(
  ctx: ReloadContext,
  reason: string,
  queuedAt = performance.now(),
): Promise<ReloadResult> {
  const { file, state, log } = ctx;
  const now = ctx.clock();
  const run: Run = { reason, now, queuedAt, started: performance.now(), timings: {} };
  const a = await readAttempt(ctx, reason, now, run.timings);

  if (a.kind === 'missing') {
    // A deleted file is a step of unlink+create or a mistake, never an instruction to serve nothing.
    if (!state.missingLogged)
      log.warn(
        { file, reason, revision: state.current.revision },
        'config file missing; keeping the last good config',
      );
    state.missingLogged = true;
    return { applied: false, changed: false, errors: [] };
  }
  state.missingLogged = false;
  // Unchanged bytes: nothing to do, and nothing to say (the poll runs every few hundred ms).
  // An operator's SIGHUP is an explicit ask: it re-checks (e.g. a `git commit` of the same bytes).
  if (a.kind === 'unchanged' || (a.fingerprint === state.lastFingerprint && reason !== 'SIGHUP')) {
    return { applied: state.ok, changed: false, errors: state.ok ? [] : (state.lastError ?? []) };
  }
  state.lastFingerprint = a.fingerprint;
  state.lastAttemptAt = now;
  return a.kind === 'valid' ? apply(ctx, a, run) : reject(ctx, a, run);
}
