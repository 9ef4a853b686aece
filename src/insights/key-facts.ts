import { networkOf, userAgentFamily } from '../slack/client-fingerprint.js';
import { INSIGHT_SUMS, type InsightGroup } from '../store/insight-types.js';

/** The store's groups (key × model × client) folded per key: per model, per client, and totals. */
export interface KeyFacts {
  key: string;
  /** Sums over every model and client of the key. */
  total: InsightGroup;
  /** Per model ('' for requests without one). */
  models: Map<string, InsightGroup>;
  /** Per client: user-agent family and network, as the new-client alert tells them apart. */
  clients: Map<string, { family: string; network: string; requests: number; costUsd: number }>;
}

const SUMMED = INSIGHT_SUMS;

function empty(key: string, model: string): InsightGroup {
  const g = { key, model, userAgent: null, ip: null } as InsightGroup;
  for (const f of SUMMED) g[f] = 0;
  return g;
}

function add(into: InsightGroup, g: InsightGroup): void {
  for (const f of SUMMED) into[f] += g[f];
}

export function foldByKey(groups: readonly InsightGroup[]): Map<string, KeyFacts> {
  const keys = new Map<string, KeyFacts>();
  for (const g of groups) {
    let facts = keys.get(g.key);
    if (!facts) {
      facts = { key: g.key, total: empty(g.key, ''), models: new Map(), clients: new Map() };
      keys.set(g.key, facts);
    }
    add(facts.total, g);
    let model = facts.models.get(g.model);
    if (!model) {
      model = empty(g.key, g.model);
      facts.models.set(g.model, model);
    }
    add(model, g);
    const family = userAgentFamily(g.userAgent);
    const network = networkOf(g.ip);
    const id = `${family} ${network}`;
    const client = facts.clients.get(id) ?? { family, network, requests: 0, costUsd: 0 };
    client.requests += g.requests;
    client.costUsd += g.costUsd;
    facts.clients.set(id, client);
  }
  return keys;
}
