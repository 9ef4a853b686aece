/**
 * Preloaded into a gateway (`node --import ./bench/lib/pg-count.mjs`) by bench/pg-statements.ts:
 * counts every statement the process sends to PostgreSQL, by prepared-statement name or by the
 * first words of its text, with the round trip's wall time (the total, and each call's, up to
 * 50,000 per statement). SIGUSR2 writes the counts so far to $PG_COUNT_FILE (the bench diffs two
 * snapshots). Never loaded by the gateway itself.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

const counts = new Map();
const labelOf = (q) => {
  if (q && typeof q === 'object') return q.name ?? labelOf(q.text);
  if (typeof q !== 'string') return '?';
  const t = q.replace(/\s+/g, ' ').trim();
  const fn = /tollgate_\w+/.exec(t);
  return fn && /^SELECT/i.test(t) ? `${fn[0]} (text)` : t.slice(0, 90);
};
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (q, ...rest) {
  const label = labelOf(q);
  const c = counts.get(label) ?? { calls: 0, ms: 0, samples: [] };
  counts.set(label, c);
  c.calls++;
  const t0 = performance.now();
  const done = () => {
    const ms = performance.now() - t0;
    c.ms += ms;
    if (c.samples.length < 50_000) c.samples.push(Math.round(ms * 1000) / 1000);
  };
  // pg-pool passes a callback; a direct call gets a promise.
  const cb = rest.at(-1);
  if (typeof cb === 'function')
    rest[rest.length - 1] = function (...args) {
      done();
      return cb.apply(this, args);
    };
  const r = original.call(this, q, ...rest);
  if (r && typeof r.then === 'function') r.then(done, done);
  return r;
};
process.on('SIGUSR2', () => {
  writeFileSync(process.env.PG_COUNT_FILE ?? '/dev/null', JSON.stringify(Object.fromEntries(counts)));
});
