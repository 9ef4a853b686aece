/** Child processes of the benchmark: spawn pinned to a CPU, wait until they listen, read /proc, stop. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { cpuMicros, rssMb } from './stats.js';

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const children = new Set<ChildProcess>();

/** Every child is killed when the suite exits, however it exits. */
export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
}
process.on('exit', killAll);
for (const s of ['SIGINT', 'SIGTERM'] as const)
  process.on(s, () => {
    killAll();
    process.exit(130);
  });

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on `port`, or rejects after `ms`. */
export async function waitForPort(port: number, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on port ${port} after ${ms} ms`);
}

/** Starts `cmd args` pinned to `cpu`, output to `log`; resolves once `port` accepts connections. */
export async function startPinned(
  cpu: number,
  cmd: string,
  args: string[],
  opts: { port: number; log: string; env?: NodeJS.ProcessEnv },
): Promise<ChildProcess> {
  const out = openSync(opts.log, 'a');
  const child = spawn('taskset', ['-c', String(cpu), cmd, ...args], {
    stdio: ['ignore', out, out],
    env: { ...process.env, ...opts.env },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await Promise.race([
    waitForPort(opts.port),
    new Promise((_, reject) =>
      child.once('exit', (code) => reject(new Error(`${cmd} exited (${code}); see ${opts.log}`))),
    ),
  ]);
  return child;
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
  child.kill('SIGKILL');
}

/** The pid and its children (nginx's workers; `taskset` execs, so the pid is the program's). */
export function pidTree(pid: number): number[] {
  try {
    const kids = execFileSync('pgrep', ['-P', String(pid)])
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean);
    return [pid, ...kids.map(Number)];
  } catch {
    return [pid];
  }
}

export const cpuOf = (pids: number[]): number =>
  pids.reduce((sum, p) => sum + cpuMicros(readFileSync(`/proc/${p}/stat`, 'utf8'), TICKS), 0);

export const rssOf = (pids: number[]): number =>
  pids.reduce((sum, p) => sum + rssMb(readFileSync(`/proc/${p}/status`, 'utf8')), 0);

/** Runs a command to completion and returns its stdout. */
export function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.once('exit', (code) => {
      children.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`));
    });
  });
}
