/**
 * Child process for the two-process test: reserves `count` × $0.01 against a $1 daily limit on
 * a shared SQLite file, yielding between reservations so two such processes interleave, and
 * prints how many were accepted. Usage: <db path> <id prefix> <count> [cpus] (the store's
 * `writer.cpus`: 1 writes on the event loop's connection, more in the worker).
 */
import { createSqliteStore } from '../../src/store/sqlite.js';

const [path, prefix, countText, cpus] = process.argv.slice(2);
if (!path || !prefix || !countText)
  throw new Error('usage: sqlite-reserve-many <db> <prefix> <count> [cpus]');

const store = createSqliteStore(path, cpus ? { writer: { cpus: Number(cpus) } } : {});
await store.init();
let accepted = 0;
for (let i = 0; i < Number(countText); i++) {
  const r = await store.reserve({
    id: `${prefix}-${i}`,
    key: 'shared',
    amountUsd: 0.01,
    windows: [{ period: 'd:2026-11-26', limitUsd: 1 }],
    periods: ['d:2026-11-26'],
    leaseUntil: Date.now() + 600_000,
  });
  if (r.ok) accepted++;
  await new Promise((resolve) => setTimeout(resolve, 1));
}
await store.close();
process.stdout.write(`${accepted}\n`);
