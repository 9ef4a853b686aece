/**
 * Preloaded into a gateway by the bench's CPU passes (`node --import ./bench/lib/memory-trace.mjs`,
 * bench/lib/traced.ts): process.memoryUsage() (RSS, V8's heap reserved and used, external memory
 * and array buffers) and the part of RSS mapped from files (RssFile: the node binary and native
 * libraries, as in every Node process) at the sample where RSS peaked, sampled every 100 ms, written in MB to
 * MEMORY_TRACE_OUT every second (the bench stops the process, so there is no exit hook to rely
 * on). Bench-only: never loaded by the gateway itself.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const out = process.env.MEMORY_TRACE_OUT;
// The parts as they were when RSS peaked (peaks of each part taken apart would not add up).
let peak = { rssMb: 0, heapTotalMb: 0, heapUsedMb: 0, externalMb: 0, arrayBuffersMb: 0, rssFileMb: 0 };
const mb = (bytes) => bytes / 1024 / 1024;
/** RssFile in MB from /proc/self/status (Linux), 0 where there is none. */
const rssFileMb = () => {
  try {
    return Number(/RssFile:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};
setInterval(() => {
  const m = process.memoryUsage();
  if (mb(m.rss) <= peak.rssMb) return;
  peak = {
    rssMb: mb(m.rss),
    heapTotalMb: mb(m.heapTotal),
    heapUsedMb: mb(m.heapUsed),
    externalMb: mb(m.external),
    arrayBuffersMb: mb(m.arrayBuffers),
    rssFileMb: rssFileMb(),
  };
}, 100).unref();
if (out)
  setInterval(() => {
    try {
      writeFileSync(out, JSON.stringify(peak));
    } catch {}
  }, 1000).unref();
