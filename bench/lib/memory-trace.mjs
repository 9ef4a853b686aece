/**
 * Preloaded into a gateway by the bench's CPU passes (`node --import ./bench/lib/memory-trace.mjs`,
 * bench/lib/traced.ts): the peak of each part of process.memoryUsage() (RSS, V8's heap reserved
 * and used, external memory and array buffers), sampled every 100 ms, written in MB to
 * MEMORY_TRACE_OUT every second (the bench stops the process, so there is no exit hook to rely
 * on). Bench-only: never loaded by the gateway itself.
 */
import { writeFileSync } from 'node:fs';

const out = process.env.MEMORY_TRACE_OUT;
const peak = { rssMb: 0, heapTotalMb: 0, heapUsedMb: 0, externalMb: 0, arrayBuffersMb: 0 };
const mb = (bytes) => bytes / 1024 / 1024;
setInterval(() => {
  const m = process.memoryUsage();
  peak.rssMb = Math.max(peak.rssMb, mb(m.rss));
  peak.heapTotalMb = Math.max(peak.heapTotalMb, mb(m.heapTotal));
  peak.heapUsedMb = Math.max(peak.heapUsedMb, mb(m.heapUsed));
  peak.externalMb = Math.max(peak.externalMb, mb(m.external));
  peak.arrayBuffersMb = Math.max(peak.arrayBuffersMb, mb(m.arrayBuffers));
}, 100).unref();
if (out)
  setInterval(() => {
    try {
      writeFileSync(out, JSON.stringify(peak));
    } catch {}
  }, 1000).unref();
