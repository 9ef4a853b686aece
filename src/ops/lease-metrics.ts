import { Gauge, type Registry } from 'prom-client';
import type { LeaseHoldings } from '../store/types.js';

/**
 * What this replica holds in budget leases (PostgreSQL, docs/postgres.md#budget-leases), read
 * when /metrics is scraped. No labels: each replica answers for itself, and the fleet's sum is
 * what the database counts as reserved for leases.
 */
export function registerLeaseGauges(registry: Registry, read: () => LeaseHoldings): void {
  const gauge = (name: string, help: string, pick: (h: LeaseHoldings) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(read()));
      },
    });
  gauge('tollgate_budget_leases', 'Budget leases this replica holds.', (h) => h.leases);
  gauge(
    'tollgate_budget_leased_usd',
    'USD the database counts as reserved for the budget leases of this replica (free and held).',
    (h) => h.leasedUsd,
  );
  gauge(
    'tollgate_budget_lease_held_usd',
    "USD of this replica's budget leases held by its requests in flight.",
    (h) => h.heldUsd,
  );
}
