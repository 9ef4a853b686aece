import { stat } from 'node:fs/promises';
import { KEY_PATTERN_ALL } from '../../keys/format.js';
import type { EnvCheck } from '../load/env-refs.js';
import { MAX_CONFIG_BYTES, tooLargeProblem } from '../load/limits.js';
import { loadConfig, type PhaseTimings, stopwatch } from '../load/load.js';
import type { Config, Problem } from '../types.js';
import { contentRevision } from './revision.js';

/** Problems go to logs, /healthz and Slack: make sure none of them can carry a plaintext key. */
function scrub(problems: Problem[]): Problem[] {
  return problems.map((p) => ({ ...p, message: p.message.replace(KEY_PATTERN_ALL, 'tgk_[redacted]') }));
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

export function problem(file: string, message: string): Problem {
  return { file, line: 0, col: 0, path: '', message, severity: 'error' };
}

export type Attempt =
  | { kind: 'missing' }
  /** The bytes hash to `unchangedFrom`: not validated again (the caller knows the outcome). */
  | { kind: 'unchanged'; fingerprint: string }
  | { kind: 'unreadable'; errors: Problem[]; fingerprint: string }
  | { kind: 'invalid'; errors: Problem[]; fingerprint: string }
  | { kind: 'valid'; config: Config; warnings: Problem[]; text: string; fingerprint: string };

export type ValidAttempt = Extract<Attempt, { kind: 'valid' }>;

export interface AttemptOptions {
  env?: EnvCheck;
  /** Gets the milliseconds of each step (read, hash, then loadConfig's). */
  timings?: PhaseTimings;
  /**
   * The fingerprint of bytes already validated: the same bytes again are `unchanged`, not parsed
   * and validated again (with 10,000 keys that is most of a reload's time).
   */
  unchangedFrom?: string;
}

/** Read → hash → parse and validate with the same function as `tollgate validate`. Never throws. */
export async function attempt(
  file: string,
  now: number,
  read: () => Promise<string>,
  opts: AttemptOptions = {},
): Promise<Attempt> {
  const { env, timings } = opts;
  const lap = stopwatch(timings);
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
  lap('read');
  const fingerprint = contentRevision(text);
  lap('hash');
  if (fingerprint === opts.unchangedFrom) return { kind: 'unchanged', fingerprint };
  try {
    const result = loadConfig(text, { file, now, ...(env ? { env } : {}), ...(timings ? { timings } : {}) });
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
