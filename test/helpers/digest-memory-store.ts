import type { DigestStore } from '../../src/slack/digest/build-digest.js';
import { type HashGroupRow, toHashRows } from '../../src/store/hash-usage.js';
import type {
  ClaimStore,
  DisableRecord,
  RollupRow,
  UsageQuery,
  UsageRecord,
  UsageRow,
} from '../../src/store/types.js';

/**
 * The roles the digest and its scheduler use (rollup, lastUsed, listDisabled, the once-only
 * guard), in memory, computed from usage records the same way the real stores roll them up.
 * Group spend throws: these digests have no groups.
 */
export interface DigestMemoryStore extends DigestStore, Pick<ClaimStore, 'claimOnce' | 'releaseClaim'> {
  records: UsageRecord[];
  disabledKeys: Map<string, DisableRecord>;
  claims: Map<string, number>;
  calls: { rollup: number; lastUsed: number };
}

export function createDigestMemoryStore(records: UsageRecord[] = []): DigestMemoryStore {
  const claims = new Map<string, number>();
  const disabledKeys = new Map<string, DisableRecord>();
  const calls = { rollup: 0, lastUsed: 0 };
  const unsupported = (name: string) => () => {
    throw new Error(`digest memory store: ${name} is not implemented`);
  };
  const store: DigestMemoryStore = {
    records,
    disabledKeys,
    claims,
    calls,
    async rollup(fromDay: string, toDay: string): Promise<RollupRow[]> {
      calls.rollup++;
      const rows = new Map<string, RollupRow>();
      for (const r of records) {
        if (r.day < fromDay || r.day > toDay) continue;
        const id = `${r.day}\u0000${r.key}\u0000${r.model ?? ''}\u0000${r.status}`;
        let row = rows.get(id);
        if (!row) {
          row = {
            day: r.day,
            key: r.key,
            model: r.model ?? '',
            status: r.status,
            requests: 0,
            inputTokens: 0,
            outputTokens: 0,
            costUsd: 0,
          };
          rows.set(id, row);
        }
        row.requests++;
        row.inputTokens += r.inputTokens;
        row.outputTokens += r.outputTokens;
        row.costUsd += r.costUsd;
      }
      return [...rows.values()];
    },
    async lastUsed(): Promise<Map<string, number>> {
      calls.lastUsed++;
      const out = new Map<string, number>();
      for (const r of records) if (r.ts > (out.get(r.key) ?? -1)) out.set(r.key, r.ts);
      return out;
    },
    listDisabled: async () => new Map(disabledKeys),
    async claimOnce(scope: string, id: string, at: number): Promise<boolean> {
      const k = `${scope}:${id}`;
      if (claims.has(k)) return false;
      claims.set(k, at);
      return true;
    },
    async releaseClaim(scope: string, id: string): Promise<void> {
      claims.delete(`${scope}:${id}`);
    },
    getSpend: unsupported('getSpend'),
    // The digest's "Why it costs" is tested against the real stores (test/integration/insights*.test.ts);
    // in memory a day has no findings, so these digests test their other lines alone.
    insightFacts: async () => ({ groups: [], repeats: [], prefixes: [] }),
    inputTokensAtRank: unsupported('inputTokensAtRank'),
    keepSecret: unsupported('keepSecret'),
    dailyTotals: unsupported('dailyTotals'),
    // Only `by: 'hash'` (the stale-hash flag), computed from the records the way the stores group them.
    async queryUsage(q: UsageQuery): Promise<UsageRow[]> {
      if (q.by === 'key') {
        // The digest reads each key's image and audio units of the day this way.
        const byKey = new Map<string, UsageRow>();
        for (const r of records) {
          if (r.ts < q.since || r.ts >= q.until) continue;
          const g = byKey.get(r.key) ?? {
            key: r.key,
            requests: 0,
            errors: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0,
          };
          g.requests += 1;
          g.cost_usd += r.costUsd;
          if (r.images) g.images = (g.images ?? 0) + r.images;
          if (r.audioSeconds) g.audio_seconds = (g.audio_seconds ?? 0) + r.audioSeconds;
          if (r.characters) g.characters = (g.characters ?? 0) + r.characters;
          byKey.set(r.key, g);
        }
        return [...byKey.values()];
      }
      if (q.by !== 'hash') throw new Error(`digest memory store: queryUsage by ${q.by} is not implemented`);
      const groups = new Map<string, HashGroupRow>();
      for (const r of records) {
        if (r.ts < q.since || r.ts >= q.until || (q.key !== undefined && r.key !== q.key)) continue;
        const id = `${r.key}\u0000${r.keyHash ?? ''}`;
        const g = groups.get(id) ?? {
          key: r.key,
          hash: r.keyHash ?? null,
          requests: 0,
          errors: 0,
          input_tokens: 0,
          output_tokens: 0,
          cost_usd: 0,
          last_used: 0,
        };
        g.requests = Number(g.requests) + 1;
        g.errors = Number(g.errors) + (r.status >= 400 ? 1 : 0);
        g.input_tokens = Number(g.input_tokens) + r.inputTokens;
        g.output_tokens = Number(g.output_tokens) + r.outputTokens;
        g.cost_usd = Number(g.cost_usd) + r.costUsd;
        g.last_used = Math.max(Number(g.last_used), r.ts);
        groups.set(id, g);
      }
      return toHashRows([...groups.values()]);
    },
  };
  return store;
}
