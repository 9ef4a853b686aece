/**
 * Child process for the write worker's durability test: keeps 40 settles in flight through the
 * SQLite store (its write worker), prints each request id the moment its settle is answered,
 * and after the 300th answer dies by SIGKILL while the worker still has batches queued and
 * committing. Usage: <db path>.
 */
import { writeSync } from 'node:fs';
import { createSqliteStore } from '../../src/store/sqlite.js';

const [path] = process.argv.slice(2);
if (!path) throw new Error('usage: sqlite-worker-kill <db>');

// Two CPUs whatever the machine has: this is the write worker's test.
const store = createSqliteStore(path, { writer: { cpus: 2 } });
await store.init();
const periods = ['d:2026-11-26', 'm:2026-11'];
let answered = 0;
let next = 0;
const settleOne = async (): Promise<void> => {
  const id = `acked-${next++}`;
  await store.settle(
    {
      requestId: id,
      ts: Date.UTC(2026, 10, 26, 12),
      day: '2026-11-26',
      key: 'killed',
      model: 'gpt-4o-mini',
      upstream: 'openai',
      route: '/v1/chat/completions',
      status: 200,
      errorCode: null,
      inputTokens: 10,
      outputTokens: 20,
      cachedTokens: 0,
      costUsd: 0.001,
      latencyMs: 5,
      stream: false,
      userAgent: 'test',
      ip: '127.0.0.1',
      configRevision: 'abc',
      usageSource: 'provider',
    },
    periods,
  );
  // Synchronous, so the parent has the id before anything else can happen here.
  writeSync(1, `${id}\n`);
  if (++answered === 300) process.kill(process.pid, 'SIGKILL');
};
const lane = async (): Promise<void> => {
  for (;;) await settleOne();
};
await Promise.all(Array.from({ length: 40 }, lane));
