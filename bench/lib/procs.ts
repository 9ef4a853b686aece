/**
 * Child processes of the benchmark: spawn pinned to a CPU with taskset, wait until they listen,
 * run a command to completion under a timeout, and kill every child (and its children, e.g.
 * nginx's worker) however the suite ends — normally, on an error, or on Ctrl-C.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import net from 'node:net';
import { pidTree } from './proc-stats.js';

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<unknown> | unknown> = [];

/** Kills every child still running, with its own children (synchronous: safe in 'exit'). */
export function killAll(): void {
  for (const c of children) {
    if (c.pid === undefined || c.exitCode !== null) continue;
    for (const pid of pidTree(c.pid).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
  children.clear();
}

/** Registers something to undo at the end (temp dir, test database); run by `cleanUp`. */
export function onCleanUp(fn: () => Promise<unknown> | unknown): void {
  cleanups.unshift(fn);
}

/** Kills the children, then runs the registered clean-ups (each bounded to 5 s). */
export async function cleanUp(): Promise<void> {
  killAll();
  for (const fn of cleanups.splice(0)) {
    await Promise.race([
      Promise.resolve()
        .then(fn)
        .catch(() => {}),
      new Promise((r) => setTimeout(r, 5_000)),
    ]);
  }
}

let handlersInstalled = false;
/** From the first child on, the children die with the suite (exit, Ctrl-C, SIGTERM). */
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAll);
  for (const s of ['SIGINT', 'SIGTERM'] as const)
    process.on(s, () => {
      console.error(`[bench] ${s}: stopping`);
      void cleanUp().finally(() => process.exit(130));
    });
}

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
  installHandlers();
  const out = openSync(opts.log, 'a');
  const child = spawn('taskset', ['-c', String(cpu), cmd, ...args], {
    stdio: ['ignore', out, out],
    env: opts.env ?? process.env,
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let onExit: ((code: number | null) => void) | undefined;
  try {
    await Promise.race([
      waitForPort(opts.port),
      new Promise((_, reject) => {
        onExit = (code) => reject(new Error(`${cmd} exited (${code}) before listening; see ${opts.log}`));
        child.once('exit', onExit);
      }),
    ]);
  } finally {
    if (onExit) child.off('exit', onExit);
  }
  return child;
}

/** Runs a command to completion and returns its stdout; killed (and rejected) after `timeoutMs`. */
export function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<string> {
  installHandlers();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}`));
    });
  });
}
