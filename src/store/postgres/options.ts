/**
 * Connection settings of the PostgreSQL store. Each one can come from (first wins): the `opts`
 * argument, a query parameter of the store URL, an environment variable, the default.
 *
 * | setting | URL query parameter | environment | default |
 * | --- | --- | --- | --- |
 * | pool size | `pool_size` | `TOLLGATE_PG_POOL_SIZE` | 10 |
 * | statement timeout (ms) | `statement_timeout_ms` | `TOLLGATE_PG_STATEMENT_TIMEOUT_MS` | 5000 |
 * | disable poll (ms, 0 = off) | `disable_poll_ms` | `TOLLGATE_PG_DISABLE_POLL_MS` | 0 |
 * | budget lease horizon (ms, 0 = no leases) | `lease_horizon_ms` | `TOLLGATE_PG_LEASE_HORIZON_MS` | 2000 |
 *
 * Our parameters are removed from the URL before it reaches `pg`, which would otherwise send them
 * to the server as unknown startup options.
 */
export interface PostgresStoreOptions {
  poolSize?: number;
  statementTimeoutMs?: number;
  /** Besides LISTEN/NOTIFY, re-check the disables table this often and tell subscribers on a change. */
  disablePollMs?: number;
  /** A budget lease holds this many ms of its plan's recent spend (leases/demand.ts); 0: no leases. */
  leaseHorizonMs?: number;
}

export interface ResolvedPostgresOptions {
  connectionString: string;
  poolSize: number;
  statementTimeoutMs: number;
  disablePollMs: number;
  leaseHorizonMs: number;
  /** How long to wait for a new connection before failing (the store must never hang). */
  connectionTimeoutMs: number;
}

const PARAMS = {
  poolSize: { query: 'pool_size', env: 'TOLLGATE_PG_POOL_SIZE', fallback: 10, min: 1 },
  statementTimeoutMs: {
    query: 'statement_timeout_ms',
    env: 'TOLLGATE_PG_STATEMENT_TIMEOUT_MS',
    fallback: 5000,
    min: 1,
  },
  disablePollMs: { query: 'disable_poll_ms', env: 'TOLLGATE_PG_DISABLE_POLL_MS', fallback: 0, min: 0 },
  leaseHorizonMs: { query: 'lease_horizon_ms', env: 'TOLLGATE_PG_LEASE_HORIZON_MS', fallback: 2000, min: 0 },
} as const;

function parseSetting(raw: string | undefined, where: string, min: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`${where} must be an integer of at least ${min}, got '${raw}'`);
  }
  return n;
}

export function resolvePostgresOptions(
  url: string,
  opts: PostgresStoreOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedPostgresOptions {
  const parsed = new URL(url);
  const pick = (name: keyof typeof PARAMS): number => {
    const p = PARAMS[name];
    const fromQuery = parseSetting(
      parsed.searchParams.get(p.query) ?? undefined,
      `store URL parameter ${p.query}`,
      p.min,
    );
    parsed.searchParams.delete(p.query);
    const fromOpts = opts[name];
    if (fromOpts !== undefined) return fromOpts;
    return fromQuery ?? parseSetting(env[p.env], p.env, p.min) ?? p.fallback;
  };
  const poolSize = pick('poolSize');
  const statementTimeoutMs = pick('statementTimeoutMs');
  const disablePollMs = pick('disablePollMs');
  const leaseHorizonMs = pick('leaseHorizonMs');
  return {
    connectionString: parsed.toString(),
    poolSize,
    statementTimeoutMs,
    disablePollMs,
    leaseHorizonMs,
    // A connection attempt is bounded like a statement (and by 2 s at most): with packets dropped
    // a connect never fails on its own.
    connectionTimeoutMs: Math.min(statementTimeoutMs, 2000),
  };
}

/** The URL without credentials, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
