/**
 * Child process for the durability test: reserves two requests, settles one, then dies by
 * SIGKILL (no exit handlers, no close, no WAL checkpoint). Usage: <db path> <settled id> <open id>
 * [cpus] (the store's `writer.cpus`: 1 writes on the event loop's connection, more in the worker).
 */
import { createSqliteStore } from '../../src/store/sqlite.js';

const [path, settledId, openId, cpus] = process.argv.slice(2);
if (!path || !settledId || !openId)
  throw new Error('usage: sqlite-settle-then-kill <db> <settled id> <open id> [cpus]');

const store = createSqliteStore(path, cpus ? { writer: { cpus: Number(cpus) } } : {});
await store.init();
const periods = ['d:2026-11-26', 'm:2026-11'];
const windows = [{ period: 'd:2026-11-26', limitUsd: 5 }];
for (const id of [settledId, openId]) {
  await store.reserve({
    id,
    key: 'killed',
    amountUsd: 0.5,
    windows,
    periods,
    leaseUntil: Date.now() + 600_000,
  });
}
await store.settle(
  {
    requestId: settledId,
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
    costUsd: 0.25,
    latencyMs: 5,
    stream: false,
    userAgent: 'test',
    ip: '127.0.0.1',
    configRevision: 'abc',
    usageSource: 'provider',
  },
  periods,
);
process.stdout.write('settled\n');
process.kill(process.pid, 'SIGKILL');
