import pg from 'pg';
import type { Logger } from '../../log.js';
import type { DisableRecord } from '../types.js';
import { guarded, type Pool } from './pool.js';

export const DISABLES_CHANNEL = 'tollgate_disables';

interface DisableRow {
  key: string;
  reason: string;
  disabled_by: string;
  source: DisableRecord['source'];
  at: number;
}

/**
 * Insert and NOTIFY in one statement: the notification is sent exactly when the change commits.
 * The payload names the sending store instance, whose own subscribers were told already.
 */
export function setDisabled(pool: Pool, d: DisableRecord, origin: string): Promise<boolean> {
  return guarded(async () => {
    const res = await pool.query(
      `WITH ins AS (
         INSERT INTO disables (key, reason, disabled_by, source, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (key) DO NOTHING RETURNING key)
       SELECT pg_notify('${DISABLES_CHANNEL}', $6 || ' ' || key) FROM ins`,
      [d.key, d.reason, d.by, d.source, d.at, origin],
    );
    return (res.rowCount ?? 0) > 0;
  });
}

export function clearDisabled(pool: Pool, key: string, origin: string): Promise<boolean> {
  return guarded(async () => {
    const res = await pool.query(
      `WITH del AS (DELETE FROM disables WHERE key = $1 RETURNING key)
       SELECT pg_notify('${DISABLES_CHANNEL}', $2 || ' ' || key) FROM del`,
      [key, origin],
    );
    return (res.rowCount ?? 0) > 0;
  });
}

export function listDisabled(pool: Pool): Promise<Map<string, DisableRecord>> {
  return guarded(async () => {
    const { rows } = await pool.query<DisableRow>(
      'SELECT key, reason, disabled_by, source, at FROM disables ORDER BY key',
    );
    return new Map(
      rows.map((r) => [
        r.key,
        { key: r.key, reason: r.reason, by: r.disabled_by, source: r.source, at: r.at },
      ]),
    );
  });
}

/** A cheap fingerprint of the disables table, for the optional poll. */
async function disablesVersion(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ v: string }>(
    "SELECT coalesce(string_agg(key || '@' || at, ',' ORDER BY key), '') AS v FROM disables",
  );
  return rows[0]?.v ?? '';
}

export interface DisableListener {
  stop(): Promise<void>;
}

/**
 * A dedicated LISTEN connection (a pooled one would be handed to queries). When it is lost it
 * reconnects with backoff, and tells subscribers once it is back, since notifications sent while
 * it was away are gone. `pollMs > 0` adds a periodic check of the table as a second safety net.
 */
export function startDisableListener(deps: {
  clientConfig: pg.ClientConfig;
  pool: Pool;
  log: Logger;
  notify: () => void;
  pollMs: number;
  /** This store instance: its own notifications are not passed on a second time. */
  origin: string;
}): DisableListener {
  let stopped = false;
  let client: pg.Client | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let delay = 100;
  let lastVersion: string | null = null;

  const scheduleReconnect = () => {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void connect();
    }, delay);
    retryTimer.unref();
    delay = Math.min(delay * 2, 2000);
  };

  const connect = async (): Promise<void> => {
    // query_timeout does not apply to a LISTEN connection that waits for hours by design.
    const c = new pg.Client({ ...deps.clientConfig, query_timeout: undefined });
    client = c;
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (!stopped) deps.log.warn({ err: err?.message }, 'postgres: LISTEN connection lost; reconnecting');
      c.removeAllListeners('notification');
      c.end().catch(() => {});
      if (client === c) client = null;
      scheduleReconnect();
    };
    c.on('error', onLost);
    c.on('end', () => onLost());
    c.on('notification', (msg) => {
      if (msg.channel !== DISABLES_CHANNEL) return;
      if (msg.payload?.startsWith(`${deps.origin} `)) return;
      deps.notify();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${DISABLES_CHANNEL}`);
      if (stopped) {
        await c.end();
        return;
      }
      const wasRetry = delay > 100;
      delay = 100;
      if (wasRetry) deps.notify();
    } catch (err) {
      onLost(err as Error);
    }
  };

  void connect();

  let poll: NodeJS.Timeout | null = null;
  if (deps.pollMs > 0) {
    poll = setInterval(() => {
      disablesVersion(deps.pool).then(
        (v) => {
          if (lastVersion !== null && v !== lastVersion) deps.notify();
          lastVersion = v;
        },
        () => {},
      );
    }, deps.pollMs);
    poll.unref();
  }

  return {
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (poll) clearInterval(poll);
      const c = client;
      client = null;
      if (c) await c.end().catch(() => {});
    },
  };
}
