import type { Config } from '../config/types.js';
import type { UsageRow } from '../store/types.js';

/**
 * `tollgate usage --by group` and `GET /admin/usage?by=group`: rows by key folded into their
 * groups as the given config defines them ('' for keys in no group, or no longer configured).
 * Membership is the config's, not the one at the time of each request: a key moved to another
 * group brings its history along, which is what "what does this team spend" asks. (A group's
 * budget rows, by contrast, count what its keys spent while they were in it.)
 */
export function usageByGroup(rows: UsageRow[], config: Config | undefined): UsageRow[] {
  const out = new Map<string, UsageRow>();
  for (const r of rows) {
    const group = (r.key !== undefined && config?.keys[r.key]?.group) || '';
    let g = out.get(group);
    if (!g) {
      g = { group, requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 };
      out.set(group, g);
    }
    g.requests += r.requests;
    g.errors += r.errors;
    g.input_tokens += r.input_tokens;
    g.output_tokens += r.output_tokens;
    g.cost_usd += r.cost_usd;
    for (const unit of ['images', 'audio_seconds', 'characters'] as const)
      if (r[unit]) g[unit] = (g[unit] ?? 0) + (r[unit] ?? 0);
  }
  // Most expensive first, like the rows by key.
  return [...out.values()].sort(
    (a, b) => b.cost_usd - a.cost_usd || (a.group ?? '').localeCompare(b.group ?? ''),
  );
}
