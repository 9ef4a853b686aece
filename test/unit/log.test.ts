import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** Runs a script that uses the default logger in a child process; collects stdout and when it came. */
function runChild(
  script: string,
): Promise<{ out: string; firstDataBeforeExit: boolean; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let exited = false;
    let firstDataBeforeExit = false;
    child.stdout.on('data', (d) => {
      if (out === '' && !exited) firstDataBeforeExit = true;
      out += d;
    });
    child.on('exit', () => {
      exited = true;
    });
    child.on('close', (code) => resolve({ out, firstDataBeforeExit, code }));
  });
}

const LOGGER = `import { createLogger } from ${JSON.stringify(new URL('../../src/log.ts', import.meta.url).pathname)};`;

describe('the default logger (buffered stdout)', () => {
  it('writes a line out while the process keeps running, not only at exit', async () => {
    const r = await runChild(`${LOGGER} createLogger().info('still running'); setTimeout(() => {}, 1500);`);
    expect(r.out).toContain('"msg":"still running"');
    expect(r.firstDataBeforeExit).toBe(true);
  });

  it('flushes on a timer without fsync (a sync to disk would stall every request in flight)', async () => {
    const r = await runChild(
      `import fs from 'node:fs'; let syncs = 0; const orig = fs.fsyncSync;
       fs.fsyncSync = (...a) => { syncs++; return orig(...a); };
       ${LOGGER} createLogger().info('periodic');
       setTimeout(() => { process.stdout.write('fsyncs=' + syncs + '\\n'); }, 700);`,
    );
    expect(r.out).toContain('"msg":"periodic"');
    expect(r.out).toContain('fsyncs=0');
  });

  it('writes every buffered line when the process exits at once, and when it crashes', async () => {
    const exit = await runChild(
      `${LOGGER} const log = createLogger(); for (let i = 0; i < 50; i++) log.info({ i }, 'line'); process.exit(0);`,
    );
    expect(exit.out.trim().split('\n')).toHaveLength(50);
    const crash = await runChild(`${LOGGER} createLogger().error('about to fail'); throw new Error('boom');`);
    expect(crash.code).not.toBe(0);
    expect(crash.out).toContain('"msg":"about to fail"');
  });
});
