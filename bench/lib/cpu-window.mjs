/**
 * Preloaded into a gateway by the bench's CPU passes (`node --import ./bench/lib/cpu-window.mjs`,
 * bench/lib/traced.ts): a CPU profile of a window the bench chooses, not of the whole process
 * (start-up and warm-up would count otherwise). The first SIGUSR2 starts V8's sampling profiler
 * (1 ms interval, as `node --cpu-prof`); the second stops it and writes the profile (the
 * .cpuprofile format) to CPU_WINDOW_OUT. Bench-only: never loaded by the gateway itself.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
let running = false;
process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: 1000 }, () => session.post('Profiler.start')),
    );
    return;
  }
  running = false;
  session.post('Profiler.stop', (err, res) => {
    writeFileSync(process.env.CPU_WINDOW_OUT ?? '/dev/null', err ? '{}' : JSON.stringify(res.profile));
  });
});
