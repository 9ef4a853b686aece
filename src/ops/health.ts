import type { Request, Response } from 'express';
import type { ConfigStatus } from '../config/reload/manager.js';
import { CATALOG_VERSION } from '../pricing/catalog.js';
import type { LeaseHoldings, RateLeaseHoldings, StoreLifecycle } from '../store/types.js';
import type { WriteHealth } from '../store/write-health.js';

/**
 * GET /healthz: config revision, load time and last reload error; 503 when the store is
 * unreachable, or when it answers but refuses the writes requests make (a full disk): health
 * reports what requests see.
 */
export function healthHandler(deps: {
  store: Pick<StoreLifecycle, 'kind' | 'ping' | 'leaseHoldings' | 'rateLeaseHoldings'>;
  configStatus: () => ConfigStatus;
  timeoutMs?: number;
  writes?: WriteHealth;
}) {
  return async (_req: Request, res: Response): Promise<void> => {
    const status = deps.configStatus();
    let storeOk = true;
    let storeError: string | undefined;
    try {
      await withTimeout(deps.store.ping(), deps.timeoutMs ?? 2000);
      if (deps.writes?.failure()) await withTimeout(deps.writes.probe(), deps.timeoutMs ?? 2000);
      const failed = deps.writes?.failure();
      if (failed) {
        storeOk = false;
        storeError = `the store refuses writes since ${new Date(failed.since).toISOString()}: ${failed.error}; requests are refused with 503 store_unavailable until a write succeeds again`;
      }
    } catch (err) {
      storeOk = false;
      storeError = err instanceof Error ? err.message : String(err);
    }
    res.status(storeOk ? 200 : 503).json({
      status: storeOk ? 'ok' : 'store_unavailable',
      store: { kind: deps.store.kind, ok: storeOk, ...(storeError ? { error: storeError } : {}) },
      config: {
        revision: status.revision,
        loaded_at: new Date(status.loadedAt).toISOString(),
        last_reload_ok: status.ok,
        last_reload_attempt_at: new Date(status.lastAttemptAt).toISOString(),
        last_reload_error: status.lastError
          ? status.lastError.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`)
          : null,
      },
      prices: { catalog: CATALOG_VERSION },
      // What this replica holds in budget leases (PostgreSQL), so an operator sees each one's share.
      ...(deps.store.leaseHoldings ? { leases: leasesOf(deps.store.leaseHoldings()) } : {}),
      // And in rate leases: the rpm and tpm slots it holds of the fleet's minute, and its max_parallel slots.
      ...(deps.store.rateLeaseHoldings ? { rate_leases: rateLeasesOf(deps.store.rateLeaseHoldings()) } : {}),
    });
  };
}

function leasesOf(h: LeaseHoldings) {
  return { count: h.leases, leased_usd: h.leasedUsd, held_usd: h.heldUsd };
}

function rateLeasesOf(h: RateLeaseHoldings) {
  return {
    count: h.leases,
    requests: h.requests,
    tokens: h.tokens,
    slots: { held: h.slots, in_use: h.slotsInUse, served: h.slotsServed },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
