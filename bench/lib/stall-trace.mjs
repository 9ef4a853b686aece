/**
 * Preloaded into the gateway by bench/profile.ts and by the bench's stall passes (bench/lib/traced.ts;
 * `node --import ./bench/lib/stall-trace.mjs`):
 * an event-loop stall trace. A 1 ms timer records every turn that came back more than 5 ms late
 * (a stall), with what ran during it: SQLite transactions (better-sqlite3's `transaction()`
 * wrappers timed, with the WAL index's frame counters before and after, so a checkpoint inside a
 * commit shows as `backfilled` moving), GC pauses (perf_hooks) and synchronous stdout writes
 * (the log flush). PostgreSQL round trips are asynchronous: they cannot stall the loop. Writes a
 * JSON summary to STALL_TRACE_OUT every second (the bench kills the process, so there is no exit
 * hook to rely on); SIGUSR2 starts the summary afresh. Bench-only: never loaded by the gateway
 * itself.
 */
import { openSync, readSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';

const out = process.env.STALL_TRACE_OUT;
const STALL_MS = 5;
const events = []; // { kind, start, ms, detail }
const stalls = []; // { start, ms }
const byKind = {};
const record = (kind, start, ms, detail) => {
  if (events.length < 200_000) events.push({ kind, start, ms, detail });
  byKind[kind] ??= { n: 0, totalMs: 0, maxMs: 0, over5ms: 0 };
  const k = byKind[kind];
  k.n++;
  k.totalMs += ms;
  k.maxMs = Math.max(k.maxMs, ms);
  if (ms > STALL_MS) k.over5ms++;
};

// SQLite: every transaction function's call, timed, with the WAL size around it.
let depth = 0;
const require = createRequire(`${process.cwd()}/package.json`);
try {
  const Database = require('better-sqlite3');
  const original = Database.prototype.transaction;
  Database.prototype.transaction = function (fn) {
    const wrapped = original.call(this, fn);
    // The WAL index (-shm): mxFrame (frames in the WAL) at byte 16 of its header, nBackfill
    // (frames already copied into the database by a checkpoint) at byte 96, native byte order.
    let fd = -1;
    const buf = Buffer.alloc(4);
    const u32 = (offset) => {
      try {
        if (fd < 0) fd = openSync(`${this.name}-shm`, 'r');
        readSync(fd, buf, 0, 4, offset);
        return buf.readUInt32LE(0);
      } catch {
        return -1;
      }
    };
    const wal = () => ({ frames: u32(16), backfilled: u32(96) });
    const timed = (variant) =>
      function (...args) {
        // A transaction run inside another (nested: a savepoint) is part of the outer one's time.
        if (depth > 0) return variant.apply(this, args);
        depth++;
        const before = wal();
        const t0 = performance.now();
        try {
          return variant.apply(this, args);
        } finally {
          depth--;
          const ms = performance.now() - t0;
          const n = Array.isArray(args[0]) ? args[0].length : 1;
          const after = wal();
          const checkpointed = after.backfilled !== before.backfilled && after.backfilled > 0;
          const kind = checkpointed ? 'sqlite-tx+checkpoint' : ms >= 1 ? 'sqlite-tx' : 'sqlite-tx-fast';
          record(kind, t0, ms, {
            ops: n,
            frames: [before.frames, after.frames],
            backfilled: after.backfilled,
          });
        }
      };
    const t = timed(wrapped);
    for (const v of ['deferred', 'immediate', 'exclusive']) t[v] = timed(wrapped[v]);
    return t;
  };
  // WAL checkpoints the gateway runs itself (pragma wal_checkpoint), timed.
  const pragma = Database.prototype.pragma;
  Database.prototype.pragma = function (source, options) {
    const t0 = performance.now();
    try {
      return pragma.call(this, source, options);
    } finally {
      if (/checkpoint/i.test(source)) record('sqlite-checkpoint', t0, performance.now() - t0, { source });
    }
  };
} catch {}

// GC pauses.
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) record('gc', e.startTime, e.duration, { gc: e.detail?.kind ?? e.kind });
}).observe({ entryTypes: ['gc'] });

// Synchronous writes to stdout (the logger's flush).
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const t0 = performance.now();
  try {
    return write(chunk, ...rest);
  } finally {
    const ms = performance.now() - t0;
    if (ms >= 0.5) record('stdout-write', t0, ms, { bytes: chunk.length });
  }
};

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - last - 1;
  if (late > STALL_MS) stalls.push({ start: last + 1, ms: late });
  last = now;
}, 1).unref();

/** The length of the union of [from, to] intervals. */
const unionMs = (xs) => {
  let total = 0;
  let end = -Infinity;
  for (const [from, to] of xs.sort((a, b) => a[0] - b[0])) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
};

// How much of the stalled time each kind of event covered, each stalled millisecond given to one
// kind (GC first, then stdout writes, then SQLite: a GC pause inside a transaction is GC's), and
// how much no traced event covered: the process not scheduled, or code the trace does not time. A
// stall is attributed once it is half a second old (GC entries arrive after the fact), against the
// events recorded around it (recorded roughly in time order: the scan stops 2 s before it).
const attribution = { stallMs: 0, gcMs: 0, sqliteMs: 0, stdoutMs: 0, untracedMs: 0 };
let attributed = 0;
// The last 400 stalls with the events that overlapped them (what ran while the loop was blocked).
const explained = [];
const kindOf = (e) => (e.kind === 'gc' ? 'gc' : e.kind === 'stdout-write' ? 'stdout' : 'sqlite');
const attribute = (before) => {
  for (
    ;
    attributed < stalls.length && stalls[attributed].start + stalls[attributed].ms < before;
    attributed++
  ) {
    const s = stalls[attributed];
    const covered = { gc: [], stdout: [], sqlite: [] };
    const during = [];
    let far = 0;
    for (let i = events.length - 1; i >= 0 && far < 50; i--) {
      const e = events[i];
      far = e.start < s.start - 2000 ? far + 1 : 0;
      const from = Math.max(s.start, e.start);
      const to = Math.min(s.start + s.ms, e.start + e.ms);
      if (to <= from) continue;
      covered[kindOf(e)].push([from, to]);
      if (e.ms >= 0.5) during.unshift({ kind: e.kind, ms: Math.round(e.ms * 10) / 10, ...e.detail });
    }
    const gc = unionMs(covered.gc);
    const gcOrStdout = unionMs([...covered.gc, ...covered.stdout]);
    const any = unionMs([...covered.gc, ...covered.stdout, ...covered.sqlite]);
    attribution.stallMs += s.ms;
    attribution.gcMs += gc;
    attribution.stdoutMs += gcOrStdout - gc;
    attribution.sqliteMs += any - gcOrStdout;
    attribution.untracedMs += s.ms - any;
    explained.push({ ...s, during });
    if (explained.length > 400) explained.shift();
  }
};

// SIGUSR2 (bench/lib/traced.ts, after its warm-up): forget everything so far, so the summary
// covers the measured window only, not start-up and warm-up.
process.on('SIGUSR2', () => {
  events.length = 0;
  stalls.length = 0;
  explained.length = 0;
  attributed = 0;
  for (const k of Object.keys(byKind)) delete byKind[k];
  for (const k of Object.keys(attribution)) attribution[k] = 0;
  delay.reset();
});

const summarize = () => {
  const pct = (p) => delay.percentile(p) / 1e6;
  attribute(performance.now() - 500);
  return {
    attribution: { ...attribution },
    loopDelayMs: { p50: pct(50), p99: pct(99), p999: pct(99.9), max: delay.max / 1e6 },
    stalls: { n: stalls.length, totalMs: stalls.reduce((a, s) => a + s.ms, 0) },
    byKind,
    explained: [...explained],
  };
};
if (out)
  setInterval(() => {
    try {
      writeFileSync(out, JSON.stringify(summarize()));
    } catch {}
  }, 1000).unref();
