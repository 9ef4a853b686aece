import { readFile } from 'node:fs/promises';

export type Sleep = (ms: number) => Promise<void>;

export const sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rounds after which a file that never stops changing is taken as it is (the loader still validates it). */
const MAX_ROUNDS = 25;

/**
 * Reads the file until two reads `settleMs` apart return the same bytes: a change the watcher
 * reports may be the first chunk of a copy still being written (see torn-write.ts). `skip` lets
 * the caller stop at the first read when it already knows that content (the poll's common case).
 * Throws what readFile throws.
 */
export async function readSettled(
  file: string,
  opts: { settleMs: number; sleep: Sleep; skip?: (text: string) => boolean },
): Promise<string> {
  let text = await readFile(file, 'utf8');
  if (opts.settleMs <= 0 || opts.skip?.(text)) return text;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    await opts.sleep(opts.settleMs);
    const again = await readFile(file, 'utf8');
    if (again === text) return text;
    text = again;
  }
  return text;
}
