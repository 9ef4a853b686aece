import type { GatewayDeps } from '../deps.js';
import type { BudgetStore, RateStore } from '../store/types.js';

/** What the request path uses of the store: rate slots, reservations, settlement and spend reads. */
export type ProxyStore = RateStore & Pick<BudgetStore, 'reserve' | 'settle' | 'getSpend'>;

/** The gateway's parts as the request path sees them: the store narrowed to the proxy's roles. */
export type ProxyDeps = Omit<GatewayDeps, 'store'> & { store: ProxyStore };
