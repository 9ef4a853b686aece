import { Gauge, type Registry } from 'prom-client';
import type { ConfigHolder } from '../config/types.js';
import type { BillCheckStore } from '../store/bill-check-types.js';

/**
 * `tollgate_bill_check_delta_usd{upstream,model}`: the provider's dollars minus tollgate's for the
 * latest day checked of each upstream (docs/operations.md#metrics-get-metrics). Read from the store
 * when /metrics is scraped, so every replica shows the one check the fleet ran. Labels are bounded
 * by the config: configured upstreams with a billing section, configured model entries, and
 * `other` for anything else (a model the provider reported that tollgate does not serve).
 */

/** A check that stopped (an admin key revoked) keeps showing its last day for a month. */
const LOOKBACK_DAYS = 35;

export function registerBillCheckMetrics(
  registry: Registry,
  deps: { store: Pick<BillCheckStore, 'billChecks'>; config: ConfigHolder; clock: () => number },
): void {
  new Gauge({
    name: 'tollgate_bill_check_delta_usd',
    help: "The provider's billed USD minus tollgate's metered USD, per upstream and model, for the latest UTC day checked",
    labelNames: ['upstream', 'model'],
    registers: [registry],
    async collect() {
      this.reset();
      const config = deps.config.current().config;
      const now = deps.clock();
      const from = new Date(now - LOOKBACK_DAYS * 86_400_000).toISOString().slice(0, 10);
      const rows = await deps.store.billChecks(from, new Date(now).toISOString().slice(0, 10));
      const latest = new Map<string, string>();
      for (const r of rows) if ((latest.get(r.upstream) ?? '') < r.date) latest.set(r.upstream, r.date);
      const sums = new Map<string, { upstream: string; model: string; usd: number }>();
      for (const r of rows) {
        if (r.delta_usd === null || latest.get(r.upstream) !== r.date) continue;
        if (!Object.hasOwn(config.upstreams, r.upstream) || !config.upstreams[r.upstream]?.billing) continue;
        const model = Object.hasOwn(config.models, r.model) ? r.model : 'other';
        const id = `${r.upstream}\u0000${model}`;
        const s = sums.get(id) ?? { upstream: r.upstream, model, usd: 0 };
        s.usd += r.delta_usd;
        sums.set(id, s);
      }
      for (const s of sums.values()) this.set({ upstream: s.upstream, model: s.model }, s.usd);
    },
  });
}
