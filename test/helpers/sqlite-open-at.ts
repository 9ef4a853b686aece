/**
 * Child process for the simultaneous-open test: for each message { path, at, cpus } from the
 * parent it waits (spinning, so that its siblings start within microseconds of it) until the time
 * `at`, opens the file with createSqliteStore + init, reserves once (`cpus` 2: through the write
 * worker and its own connection; 1: on the event loop's), closes, and answers 'ok' or the error.
 */
import { createSqliteStore } from '../../src/store/sqlite.js';

process.on('message', (m: { path: string; at: number; cpus: number } | 'exit') => {
  if (m === 'exit') {
    process.disconnect();
    return;
  }
  void (async () => {
    while (Date.now() < m.at) {
      // Spin: a timer would wake each child at a different moment.
    }
    try {
      const store = createSqliteStore(m.path, { writer: { cpus: m.cpus } });
      try {
        await store.init();
        const r = await store.reserve({
          id: `r-${process.pid}`,
          key: 'k',
          amountUsd: 0.01,
          windows: [{ period: 'd:2026-11-26', limitUsd: 1 }],
          periods: ['d:2026-11-26'],
          leaseUntil: Date.now() + 600_000,
        });
        if (!r.ok) throw new Error('the reservation was refused');
      } finally {
        await store.close();
      }
      process.send?.('ok');
    } catch (err) {
      const code = (err as { code?: string }).code;
      process.send?.(`${err instanceof Error ? err.message : String(err)}${code ? ` (${code})` : ''}`);
    }
  })();
});
process.send?.('ready');
