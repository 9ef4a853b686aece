/**
 * The SSE tap's event-loop cost on hostile and ordinary streams, and the response redaction's:
 *
 *   npx tsx bench/sse-tap.ts          # BENCH_LINE_MB=60 by default
 *
 * - one data line of BENCH_LINE_MB megabytes fed in 64 kB chunks (as a socket delivers it), with
 *   and without the usage chunk being hidden: total time and the longest single chunk, i.e. the
 *   longest the event loop is held. Lines over MAX_PARSED_LINE_BYTES are passed on unparsed.
 * - the redacting tap (proxy/redact-tap.ts) on ordinary SSE chunks: nanoseconds per chunk.
 */
import { performance } from 'node:perf_hooks';
import { createSseTap, MAX_PARSED_LINE_BYTES } from '../src/metering/sse-tap.js';
import { EMPTY } from '../src/metering/tap.js';
import { createUsageReader } from '../src/metering/usage-reader.js';
import { redactTap } from '../src/proxy/redact-tap.js';

const MB = Number(process.env.BENCH_LINE_MB ?? 60);
const CHUNK = 64 * 1024;

const line = Buffer.from(
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'y'.repeat(MB * 1024 * 1024) } }] })}\n\n`,
);
console.log(
  `one ${MB} MB SSE line in ${CHUNK / 1024} kB chunks (parse limit ${MAX_PARSED_LINE_BYTES} bytes):`,
);
for (const hide of [false, true]) {
  const tap = createSseTap(createUsageReader('openai-chat'), { hideUsageChunk: hide });
  const started = performance.now();
  let longest = 0;
  for (let at = 0; at < line.length; at += CHUNK) {
    const t = performance.now();
    tap.transform(line.subarray(at, at + CHUNK));
    longest = Math.max(longest, performance.now() - t);
  }
  tap.flush();
  console.log(
    `  hiding the usage chunk: ${hide}  total ${(performance.now() - started).toFixed(0)} ms, longest chunk ${longest.toFixed(1)} ms`,
  );
}

const secrets = ['sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ', `tgk_${'A'.repeat(38)}`];
const redact = redactTap({ transform: (c) => c, flush: () => EMPTY }, secrets);
console.log('redacting tap, two secrets:');
for (const size of [200, 1024, 16_384]) {
  const chunk = Buffer.from(
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'x'.repeat(size) } }] })}\n\n`,
  );
  const n = 200_000;
  for (let i = 0; i < 1_000; i++) redact.transform(chunk);
  const t = performance.now();
  for (let i = 0; i < n; i++) redact.transform(chunk);
  console.log(`  ${chunk.length} B chunk: ${(((performance.now() - t) * 1e6) / n).toFixed(0)} ns`);
}
