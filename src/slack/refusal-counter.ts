import { networkOf, userAgentFamily } from './client-fingerprint.js';

/** What a disabled or expired key's refusals looked like over one counting window. */
export interface RefusalWindow {
  key: string;
  code: 'key_disabled' | 'key_expired';
  count: number;
  first: number;
  last: number;
  /** Up to 5 distinct user-agents (truncated) and networks, enough to find the client. */
  userAgents: string[];
  networks: string[];
}

export interface RefusalCounter {
  record(e: {
    key: string;
    code: 'key_disabled' | 'key_expired';
    userAgent: string | null;
    ip: string | null;
    at: number;
  }): void;
  stop(): void;
}

const MAX_DISTINCT = 5;

/**
 * Counts refusals of a key for `windowMs` from the first one, then hands the window over, so that
 * the "still being tried" alert can say how often and from where instead of firing on the first hit.
 */
export function createRefusalCounter(
  windowMs: number,
  onWindowEnd: (w: RefusalWindow) => void,
): RefusalCounter {
  const open = new Map<string, { w: RefusalWindow; agents: Set<string>; networks: Set<string> }>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let stopped = false;

  return {
    record(e) {
      if (stopped) return;
      const agent = e.userAgent?.slice(0, 120) || userAgentFamily(e.userAgent);
      const network = networkOf(e.ip);
      const current = open.get(e.key);
      if (current) {
        current.w.count++;
        current.w.last = e.at;
        if (current.agents.size < MAX_DISTINCT) current.agents.add(agent);
        if (current.networks.size < MAX_DISTINCT) current.networks.add(network);
        return;
      }
      const entry = {
        w: { key: e.key, code: e.code, count: 1, first: e.at, last: e.at, userAgents: [], networks: [] },
        agents: new Set([agent]),
        networks: new Set([network]),
      };
      open.set(e.key, entry);
      const timer = setTimeout(() => {
        timers.delete(timer);
        open.delete(e.key);
        onWindowEnd({ ...entry.w, userAgents: [...entry.agents], networks: [...entry.networks] });
      }, windowMs);
      timer.unref();
      timers.add(timer);
    },
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      open.clear();
    },
  };
}
