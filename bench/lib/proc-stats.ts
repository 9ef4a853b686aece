/**
 * CPU time and memory of processes, from /proc: the parsers are pure (unit-tested), the readers
 * sum over a set of pids (nginx: master + worker). Clock ticks come from `getconf CLK_TCK`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (utime + stime) of a process in µs, from the text of /proc/<pid>/stat. */
export function cpuMicros(stat: string, ticksPerSecond: number): number {
  // The command name (field 2) may hold spaces and parentheses; the fields after its last `)` are
  // fixed: state is field 3, utime field 14, stime field 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return ((utime + stime) * 1e6) / ticksPerSecond;
}

/** VmRSS in MB (MiB) from the text of /proc/<pid>/status; NaN when absent (a zombie). */
export function rssMb(status: string): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

let ticks = 0;
function clockTicks(): number {
  if (!ticks) ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  return ticks;
}

/** The pid and its direct children (nginx's worker; `taskset` execs, so a pid is the program's). */
export function pidTree(pid: number): number[] {
  try {
    const kids = execFileSync('pgrep', ['-P', String(pid)], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean);
    return [pid, ...kids.map(Number)];
  } catch {
    return [pid];
  }
}

/** `/proc/<pid>/<file>`, or undefined once the process is gone (a short-lived child, e.g. the
 * `git` a replica runs on reload, may exit between `pidTree` and the read). */
function procFile(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH')
      return undefined;
    throw err;
  }
}

/** CPU µs used so far by `pid`, or undefined once it is gone. */
export function cpuOfPid(pid: number): number | undefined {
  const stat = procFile(pid, 'stat');
  return stat === undefined ? undefined : cpuMicros(stat, clockTicks());
}

/** Total CPU µs used so far by `pids` (those still running). */
export const cpuOf = (pids: readonly number[]): number =>
  pids.reduce((sum, p) => {
    const stat = procFile(p, 'stat');
    return stat === undefined ? sum : sum + cpuMicros(stat, clockTicks());
  }, 0);

/** Current total RSS of `pids` in MB (those still running). */
export const rssOf = (pids: readonly number[]): number =>
  pids.reduce((sum, p) => {
    const status = procFile(p, 'status');
    return status === undefined ? sum : sum + rssMb(status);
  }, 0);

/**
 * Nanoseconds on CPU of every thread of `pid` so far, from /proc/<pid>/task/<tid>/schedstat (not
 * rounded to clock ticks).
 */
export function onCpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended
    }
  }
  return total;
}
