import type { ReserveRequest, UsageRecord } from '../types.js';

/** What the write worker is started with. */
export interface WriterData {
  path: string;
  /** SQLite's own checkpoints from the start (the checkpointer's worker died before). */
  autocheckpoint: boolean;
  /** The worker's module, and tsx's API when that is TypeScript source (writer.ts). */
  entry: string;
  tsx?: string;
}

/** One store call for the write worker; `id` pairs it with its reply. */
export type WriteCall =
  | { id: number; op: 'reserve'; r: ReserveRequest; now: number }
  | { id: number; op: 'settle'; u: UsageRecord; periods: string[] }
  | { id: number; op: 'recover'; now: number; all: boolean }
  /** /healthz's write, on the worker's connection (write-probe.ts). */
  | { id: number; op: 'probe'; at: number };

/** A call's result, or its error in words a message can carry. */
export type WriteReply =
  | { id: number; value: unknown }
  | { id: number; error: { name: string; message: string; code?: string } };

/**
 * An error as a message carries it: structured clone keeps an Error's message but drops its
 * `code` (SQLITE_FULL, SQLITE_BUSY), which /healthz shows (write-health.ts).
 */
export function errorReply(id: number, err: unknown): WriteReply {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  return {
    id,
    error: { name: e.name, message: e.message, ...(typeof code === 'string' ? { code } : {}) },
  };
}

/** The worker's error on this side again, `code` included. */
export function revivedError(e: { name: string; message: string; code?: string }): Error {
  const err = e.name === 'RangeError' ? new RangeError(e.message) : new Error(e.message);
  if (e.name !== 'RangeError' && e.name !== 'Error') err.name = e.name;
  if (e.code !== undefined) Object.assign(err, { code: e.code });
  return err;
}
