/**
 * Preloaded into a gateway by bench/memory.ts (with `--expose-gc`): on SIGUSR2, a full GC, then
 * process.memoryUsage() in MB appended as one JSON line to HEAP_AFTER_GC_OUT. The heap used after
 * a full GC is what the process keeps alive (what it loaded, what it caches, what requests in
 * flight hold); V8's heap under load is that plus garbage not yet collected. Bench-only.
 */
import { appendFileSync } from 'node:fs';

const out = process.env.HEAP_AFTER_GC_OUT;
const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  if (out)
    appendFileSync(
      out,
      `${JSON.stringify({ rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external) })}\n`,
    );
});
