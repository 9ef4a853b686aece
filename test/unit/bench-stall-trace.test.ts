import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StallSummary } from '../../bench/lib/traced.js';

const dir = mkdtempSync(join(tmpdir(), 'stall-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A process that stalls its own event loop three ways: plain code (nothing traced), a SQLite
// transaction with another nested in it, and a transaction before SIGUSR2 (to be forgotten).
const SCRIPT = `
import { createRequire } from 'node:module';
const Database = createRequire(process.cwd() + '/package.json')('better-sqlite3');
const spin = (ms) => { const end = performance.now() + ms; while (performance.now() < end); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const db = new Database(':memory:');
const inner = db.transaction(() => spin(20));
const outer = db.transaction(() => { spin(20); inner(); });
await sleep(50);
db.transaction(() => spin(10))(); // before the reset: forgotten
await sleep(50);
process.kill(process.pid, 'SIGUSR2');
await sleep(50);
spin(30); // untraced
await sleep(50);
outer(); // 40 ms in SQLite, half of it nested
await sleep(1700);
`;

describe('the bench’s stall trace', () => {
  it('gives each stalled millisecond to one kind, counts a nested transaction once and forgets what came before SIGUSR2', () => {
    const script = join(dir, 'stall.mjs');
    const out = join(dir, 'stalls.json');
    writeFileSync(script, SCRIPT);
    execFileSync(process.execPath, ['--import', resolve('bench/lib/stall-trace.mjs'), script], {
      env: { ...process.env, STALL_TRACE_OUT: out },
      timeout: 20_000,
    });
    const s = JSON.parse(readFileSync(out, 'utf8')) as StallSummary;
    const a = s.attribution;
    // The parts add up to the stalled time: nothing counted twice.
    expect(a.gcMs + a.stdoutMs + a.sqliteMs + a.untracedMs).toBeCloseTo(a.stallMs, 6);
    // The transaction's 40 ms stall is SQLite's once (twice would be ~80 ms: outer and nested).
    expect(a.sqliteMs).toBeGreaterThan(25);
    expect(a.sqliteMs).toBeLessThan(60);
    // One transaction recorded: not the nested one apart, nor the one before the reset.
    expect(s.byKind['sqlite-tx']?.n).toBe(1);
    expect(a.untracedMs).toBeGreaterThan(15);
  });
});
