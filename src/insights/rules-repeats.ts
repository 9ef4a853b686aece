import type { RepeatRecord } from '../store/insight-types.js';
import { LOOP_REQUESTS, LOOP_WINDOW_MS, RETRY_WINDOW_MS } from './thresholds.js';
import type { Draft } from './types.js';
import { niceCeil, plural, span, usd } from './words.js';

/**
 * loop and retries, from the records of fingerprints a key sent more than once (the store gives
 * them sorted by key, fingerprint and time). A request in a loop is not also counted as a retry.
 */

/** A request failed, was refused or was cut (status, or an error code on a 200 that ended early). */
const failed = (r: RepeatRecord): boolean => r.status >= 400 || r.errorCode !== null;

interface Tally {
  usd: number;
  count: number;
  /** The longest burst: its size and how long it took. */
  burst: number;
  burstMs: number;
  /** Fingerprints involved. */
  fingerprints: number;
  /** Failed attempts, by status. */
  statuses: Map<number, number>;
}

const newTally = (): Tally => ({
  usd: 0,
  count: 0,
  burst: 0,
  burstMs: 0,
  fingerprints: 0,
  statuses: new Map(),
});

/** Marks the records that sit in a LOOP_WINDOW_MS window holding LOOP_REQUESTS or more of them. */
function loopMembers(rows: readonly RepeatRecord[], loop: Tally): boolean[] {
  const inLoop = rows.map(() => false);
  let start = 0;
  for (let end = 0; end < rows.length; end++) {
    while ((rows[end]?.ts ?? 0) - (rows[start]?.ts ?? 0) >= LOOP_WINDOW_MS) start++;
    const size = end - start + 1;
    if (size < LOOP_REQUESTS) continue;
    for (let i = start; i <= end; i++) inLoop[i] = true;
    if (size > loop.burst) {
      loop.burst = size;
      loop.burstMs = (rows[end]?.ts ?? 0) - (rows[start]?.ts ?? 0);
    }
  }
  return inLoop;
}

function tallyFingerprint(rows: readonly RepeatRecord[], loop: Tally, retries: Tally): void {
  const inLoop = loopMembers(rows, loop);
  let looped = false;
  let retried = false;
  let lastFailure = Number.NEGATIVE_INFINITY;
  const counted = new Set<number>();
  rows.forEach((r, i) => {
    if (inLoop[i]) {
      loop.usd += r.costUsd;
      loop.count++;
      looped = true;
    } else if (r.ts - lastFailure <= RETRY_WINDOW_MS) {
      // Sent again after a failure: the resend, and the failures before it not yet counted.
      retries.usd += r.costUsd;
      retries.count++;
      counted.add(i);
      retried = true;
      for (let j = i - 1; j >= 0 && !counted.has(j); j--) {
        const prev = rows[j];
        if (!prev || inLoop[j] || !failed(prev) || r.ts - prev.ts > RETRY_WINDOW_MS) continue;
        retries.usd += prev.costUsd;
        retries.count++;
        retries.statuses.set(prev.status, (retries.statuses.get(prev.status) ?? 0) + 1);
        counted.add(j);
      }
    }
    if (failed(r)) lastFailure = r.ts;
  });
  if (looped) loop.fingerprints++;
  if (retried) retries.fingerprints++;
}

export function repeatFindings(key: string, rows: readonly RepeatRecord[]): Draft[] {
  const loop = newTally();
  const retries = newTally();
  let from = 0;
  for (let i = 1; i <= rows.length; i++) {
    if (i < rows.length && rows[i]?.fingerprint === rows[from]?.fingerprint) continue;
    tallyFingerprint(rows.slice(from, i), loop, retries);
    from = i;
  }
  const out: Draft[] = [];
  if (loop.count > 0) {
    out.push({
      key,
      kind: 'loop',
      usd: loop.usd,
      count: loop.count,
      detail: `The same request was sent ${plural(loop.burst, 'time')} in ${span(loop.burstMs)} (${plural(loop.fingerprints, 'distinct request')} repeated ${LOOP_REQUESTS}+ times within ${span(LOOP_WINDOW_MS)}), ${usd(loop.usd)} in all: a loop?`,
      suggestion: `Find the client stuck repeating itself; until then \`hourly_usd: ${niceCeil(Math.max(loop.usd, 0.5))}\` and an \`rpm\` limit on the key in keys.yaml stop a runaway loop within the hour.`,
    });
  }
  if (retries.count > 0) {
    const statuses = [...retries.statuses].map(([s, n]) => `${s} ×${n}`).join(', ');
    out.push({
      key,
      kind: 'retries',
      usd: retries.usd,
      count: retries.count,
      detail: `${plural(retries.count, 'request')} (${usd(retries.usd)}) were failures and the same requests sent again within ${span(RETRY_WINDOW_MS)}${statuses ? ` (failures: ${statuses})` : ''}.`,
      suggestion:
        "Check the client's retry settings (fewer retries, backoff) and the errors it retries on; 429s mean the key's `rpm` or `tpm` is too tight for how it is used.",
    });
  }
  return out;
}
