import { createInFlight, type InFlight } from '../in-flight.js';
import type { SlotEnd, SlotLimits, SlotRequest, SlotResult } from './types.js';

const WINDOW_MS = 60_000;

interface TokenEvent {
  ts: number;
  id: string;
  tokens: number;
}

interface SubjectState {
  /**
   * Arrival instants of the requests counted in the rolling minute, oldest first, from `head` on:
   * expired ones are skipped by moving `head` and the array is compacted now and then, so a key at
   * thousands of requests a minute costs O(1) per request (a `splice(0, n)` moved the whole
   * minute's array on every request).
   */
  events: number[];
  head: number;
  /** The tpm window, kept the same way, with the sum of its tokens and an index by request id. */
  tokens: TokenEvent[];
  tokenHead: number;
  tokenSum: number;
  tokenById: Map<string, TokenEvent>;
  /** In-flight request id → lease end (not a Map: in-flight.ts). */
  inFlight: InFlight<number, string>;
}

/** Counted requests of a subject. */
const counted = (s: SubjectState) => s.events.length - s.head;

const idle = (s: SubjectState) => counted(s) === 0 && s.inFlight.size === 0 && s.tokenById.size === 0;

export interface RateLimiter {
  acquireSlot(r: SlotRequest): SlotResult;
  releaseSlot(id: string, key: string, end?: SlotEnd): void;
}

/** Drops the head of a queue once it is long and mostly expired. */
function compact<T>(items: T[], head: number): [T[], number] {
  if (head === items.length) return [[], 0];
  if (head >= 1024 && head * 2 >= items.length) return [items.slice(head), 0];
  return [items, head];
}

/**
 * Rate limits for the embedded store. SQLite serves a single process, so the counters need not
 * be shared and live in memory: nothing on the hot path touches the disk for them, and a
 * restart forgetting the last minute is harmless.
 *
 * rpm and tpm are rolling 60 s windows: a request is counted while `now - ts < 60 s`; for tpm
 * with its admitted tokens (estimated input + output bound) until it ends, then with the tokens
 * it really used. max_parallel counts slots not yet released whose lease has not ended. A key
 * and its group (subject `@name`) are checked together: a request is recorded in either only
 * when it passes every check of both, so refused attempts do not push the windows further out.
 */
export function createMemoryRateLimiter(): RateLimiter {
  const subjects = new Map<string, SubjectState>();

  const stateOf = (subject: string): SubjectState => {
    let s = subjects.get(subject);
    if (!s) {
      s = {
        events: [],
        head: 0,
        tokens: [],
        tokenHead: 0,
        tokenSum: 0,
        tokenById: new Map(),
        inFlight: createInFlight(),
      };
      subjects.set(subject, s);
    }
    return s;
  };

  const prune = (s: SubjectState, now: number): void => {
    while (s.head < s.events.length && (s.events[s.head] ?? 0) <= now - WINDOW_MS) s.head++;
    [s.events, s.head] = compact(s.events, s.head);
    for (let e = s.tokens[s.tokenHead]; e && e.ts <= now - WINDOW_MS; e = s.tokens[s.tokenHead]) {
      s.tokenSum -= e.tokens;
      s.tokenById.delete(e.id);
      s.tokenHead++;
    }
    [s.tokens, s.tokenHead] = compact(s.tokens, s.tokenHead);
    if (s.tokenById.size === 0) s.tokenSum = 0;
    for (const [id, leaseUntil] of s.inFlight.entries()) if (leaseUntil <= now) s.inFlight.delete(id);
  };

  /** Why this subject refuses the request, or undefined when it fits. */
  const check = (s: SubjectState, l: SlotLimits, tokens: number, now: number) => {
    if (l.maxParallel !== undefined && s.inFlight.size >= l.maxParallel) {
      // When a slot frees is unknowable (it ends with someone else's response): ask for a retry soon.
      return { limit: 'max_parallel' as const, retryAfterSec: 1 };
    }
    if (l.rpm !== undefined && counted(s) >= l.rpm) {
      const oldest = s.events[s.head] ?? now;
      return {
        limit: 'rpm' as const,
        retryAfterSec: Math.max(1, Math.ceil((oldest + WINDOW_MS - now) / 1000)),
      };
    }
    if (l.tpm !== undefined && s.tokenSum + tokens > l.tpm) {
      // The request fits once enough of the minute's tokens have aged out; one larger than the
      // whole limit never fits (the policy says so), so it is told to wait a full minute.
      let freed = 0;
      let at = now;
      for (let i = s.tokenHead; i < s.tokens.length && s.tokenSum - freed + tokens > l.tpm; i++) {
        const e = s.tokens[i] as TokenEvent;
        freed += e.tokens;
        at = e.ts + WINDOW_MS;
      }
      const fits = s.tokenSum - freed + tokens <= l.tpm;
      return {
        limit: 'tpm' as const,
        retryAfterSec: fits ? Math.max(1, Math.ceil((at - now) / 1000)) : WINDOW_MS / 1000,
      };
    }
    return undefined;
  };

  const record = (s: SubjectState, l: SlotLimits, r: SlotRequest): void => {
    // Only what is limited is tracked, so unlimited keys cost no memory; a reload that adds a
    // limit starts counting from then.
    if (l.rpm !== undefined) s.events.push(r.now);
    if (l.tpm !== undefined && !s.tokenById.has(r.id)) {
      const e = { ts: r.now, id: r.id, tokens: r.tokens ?? 0 };
      s.tokens.push(e);
      s.tokenById.set(r.id, e);
      s.tokenSum += e.tokens;
    }
    if (l.maxParallel !== undefined) s.inFlight.set(r.id, r.leaseUntil);
  };

  const end = (subject: string, id: string, tokens: number | undefined): void => {
    const s = subjects.get(subject);
    if (!s) return;
    s.inFlight.delete(id);
    const e = s.tokenById.get(id);
    if (e && tokens !== undefined) {
      s.tokenSum += tokens - e.tokens;
      e.tokens = tokens;
    }
    if (idle(s)) subjects.delete(subject);
  };

  return {
    acquireSlot(r) {
      const parts: [SubjectState, SlotLimits, string | undefined][] = [[stateOf(r.key), r, undefined]];
      if (r.group) parts.push([stateOf(r.group.subject), r.group, r.group.subject]);
      for (const [s, limits, group] of parts) {
        prune(s, r.now);
        const refusal = check(s, limits, r.tokens ?? 0, r.now);
        if (refusal) {
          for (const [s2, , g2] of parts) if (idle(s2)) subjects.delete(g2 ?? r.key);
          return { ok: false, ...refusal, remaining: 0, ...(group ? { group } : {}) };
        }
      }
      for (const [s, limits, group] of parts) {
        record(s, limits, r);
        if (idle(s)) subjects.delete(group ?? r.key);
      }
      const own = parts[0]?.[0] as SubjectState;
      return r.rpm === undefined ? { ok: true } : { ok: true, remaining: r.rpm - counted(own) };
    },
    releaseSlot(id, key, done) {
      end(key, id, done?.tokens);
      if (done?.group) end(done.group, id, done.tokens);
    },
  };
}
