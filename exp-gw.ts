import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from './test/helpers/pg.js';
import { cleanUp, onCleanUp } from './bench/lib/procs.js';
import { startTollgate, startUpstream } from './bench/lib/targets.js';
import { throughput } from './bench/lib/wrk.js';
const dir = mkdtempSync(join(tmpdir(), 'exp-'));
try {
  const up = await startUpstream(dir);
  const ts = [];
  for (const dist of (process.argv[2] ?? 'dist').split(',')) {
    const db = await createTestDatabase('tg_exp'); onCleanUp(() => db.drop());
    ts.push(await startTollgate(dir, 'pg' + ts.length, dist, { upstreamPort: up.port, keys: 10, store: db.url, dist }));
  }
  for (let r = 0; r < 2; r++) for (const t of ts) for (const mode of ['json', 'sse', 'json'] as const) {
    const m = await throughput(dir, t, mode, 3);
    console.log(t.name, mode, Math.round(m.rps), Math.round(m.cpuUsPerRequest));
  }
} finally { await cleanUp(); }
process.exit(0);
