import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { createUsageWriter } from '../../../src/metering/usage-writer.js';
import type { BudgetStore, UsageRecord } from '../../../src/store/types.js';

const record = { requestId: 'r1' } as UsageRecord;

function flakyStore(failures: number) {
  const written: string[] = [];
  let calls = 0;
  const store: Pick<BudgetStore, 'settle'> = {
    async settle(r: UsageRecord) {
      calls++;
      if (calls <= failures) throw new Error('store down');
      written.push(r.requestId);
      return undefined;
    },
  };
  return { store, written, calls: () => calls };
}

describe('the usage writer', () => {
  it('retries a failed settle in line and reports success', async () => {
    const s = flakyStore(2);
    const writer = createUsageWriter({ store: s.store, log: silentLogger() }, { retryDelaysMs: [1, 1, 1] });
    expect(await writer.write(record, [])).toMatchObject({ written: true });
    expect(s.written).toEqual(['r1']);
  });

  it('keeps retrying in the background instead of dropping the record', async () => {
    const s = flakyStore(4);
    const writer = createUsageWriter(
      { store: s.store, log: silentLogger() },
      { retryDelaysMs: [1], backgroundMs: 5 },
    );
    expect(await writer.write(record, [])).toEqual({ written: false });
    expect(writer.pending()).toBe(1);
    await writer.flush(1_000);
    expect(s.written).toEqual(['r1']);
    expect(writer.pending()).toBe(0);
  });

  it('stops holding up the response for a store that hangs, and still finishes the write', async () => {
    let release!: () => void;
    const written: string[] = [];
    const store: Pick<BudgetStore, 'settle'> = {
      settle: (r: UsageRecord) =>
        new Promise<undefined>((resolve) => {
          release = () => {
            written.push(r.requestId);
            resolve(undefined);
          };
        }),
    };
    const writer = createUsageWriter({ store, log: silentLogger() }, { maxWaitMs: 20 });
    expect(await writer.write(record, [])).toEqual({ written: false });
    expect(writer.pending()).toBe(1);
    release();
    await writer.flush(1_000);
    expect(written).toEqual(['r1']);
    expect(writer.pending()).toBe(0);
  });
});

describe('the usage writer at shutdown', () => {
  it('retries the backlog at once on flush instead of waiting for its next tick', async () => {
    const s = flakyStore(2);
    const writer = createUsageWriter(
      { store: s.store, log: silentLogger() },
      { retryDelaysMs: [1], backgroundMs: 3_600_000 },
    );
    expect(await writer.write(record, [])).toEqual({ written: false });
    await writer.flush(1_000);
    expect(s.written).toEqual(['r1']);
    expect(writer.pending()).toBe(0);
  });

  it('logs every record it could not write, whole, when it is closed', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const s = flakyStore(1_000);
    const writer = createUsageWriter({ store: s.store, log }, { retryDelaysMs: [], backgroundMs: 3_600_000 });
    await writer.write({ requestId: 'lost-1', key: 'cursor-dev', costUsd: 0.5 } as UsageRecord, [
      'd:2026-11-26',
    ]);
    writer.close();
    const fatal = lines.map((l) => JSON.parse(l)).find((l) => l.level === 60);
    expect(fatal?.record).toMatchObject({ requestId: 'lost-1', key: 'cursor-dev', costUsd: 0.5 });
    expect(fatal?.periods).toEqual(['d:2026-11-26']);
    expect(writer.pending()).toBe(0);
  });

  it('never gives a record up while the store keeps refusing, however many passes, with one log line per pass', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const s = flakyStore(2 + 3 * 300);
    const writer = createUsageWriter({ store: s.store, log }, { retryDelaysMs: [], backgroundMs: 1 });
    for (const id of ['a', 'b', 'c']) await writer.write({ requestId: id } as UsageRecord, []);
    // 300 failed passes over the three (the old writer gave a record up after 120), then the store takes them.
    await writer.flush(10_000);
    expect(s.written.sort()).toEqual(['a', 'b', 'c']);
    expect(writer.pending()).toBe(0);
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.filter((l) => l.level === 60)).toEqual([]);
    const passes = parsed.filter((l) => String(l.msg).startsWith('the store still refuses usage records'));
    expect(passes.length).toBeGreaterThanOrEqual(299);
    expect(passes.length).toBeLessThan(s.calls());
  });

  it('logs the oldest record whole when more than maxBacklog wait, and keeps the rest', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const s = flakyStore(1_000);
    const writer = createUsageWriter(
      { store: s.store, log },
      { retryDelaysMs: [], backgroundMs: 3_600_000, maxBacklog: 2 },
    );
    for (const id of ['old', 'mid', 'new'])
      await writer.write({ requestId: id, costUsd: 1 } as UsageRecord, []);
    expect(writer.pending()).toBe(2);
    const fatal = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 60);
    expect(fatal.map((l) => l.record.requestId)).toEqual(['old']);
    writer.close();
  });
});
