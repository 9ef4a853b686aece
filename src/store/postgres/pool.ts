import pg from 'pg';
import type { GatewayError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { storeFailure } from '../store-unavailable.js';
import { type ResolvedPostgresOptions, redactUrl } from './options.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.PoolClient, 'query'>;

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Per-pool type parsers (never the global `pg.types`, which other code in the process may rely
 * on): bigint epoch-ms and counters, and numeric money, come back as JS numbers.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => Number(v);
    // biome-ignore lint/suspicious/noExplicitAny: pg's overloads do not accept a union format
    return pg.types.getTypeParser(oid, format as any);
  },
};

export function connectionConfig(o: ResolvedPostgresOptions): pg.ClientConfig {
  return {
    connectionString: o.connectionString,
    connectionTimeoutMillis: o.connectionTimeoutMs,
    statement_timeout: o.statementTimeoutMs,
    // The server-side timeout cannot fire when the network itself is gone; this one can.
    query_timeout: o.statementTimeoutMs + 1000,
    idle_in_transaction_session_timeout: o.statementTimeoutMs * 2,
    keepAlive: true,
    // Probe an idle connection after 10 s, so one the network silently dropped is found out.
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'tollgate',
    types,
  };
}

export function createPool(o: ResolvedPostgresOptions, log: Logger): Pool {
  const pool = new pg.Pool({ ...connectionConfig(o), max: o.poolSize, idleTimeoutMillis: 30_000 });
  // An idle client whose connection dies emits 'error' on the pool; unhandled, it would crash the
  // process. The pool already drops that client and opens a new one on the next query.
  pool.on('error', (err) =>
    log.warn({ err: err.message, store: redactUrl(o.connectionString) }, 'postgres: idle connection lost'),
  );
  return pool;
}

/** SQLSTATEs after which the whole transaction can simply be run again. */
const RETRYABLE = new Set(['40001', '40P01']);

function isRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && RETRYABLE.has((err as { code?: string }).code ?? '');
}

/** Every failure of the database becomes the one error the gateway turns into 503 (fail closed). */
export function storeError(err: unknown): GatewayError {
  return storeFailure(err, 'PostgreSQL');
}

/** Runs `fn` and turns any database failure into `store_unavailable`. */
export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw storeError(err);
  }
}

/**
 * Runs one statement (its own implicit transaction, one round trip) straight on the pool, again
 * after a deadlock or serialization failure.
 */
export async function oneStatement<T>(pool: Pool, fn: (q: Queryable) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(pool as unknown as Queryable);
    } catch (err) {
      if (isRetryable(err) && attempt < 5) continue;
      throw storeError(err);
    }
  }
}

/**
 * Runs `fn` in one transaction on one pooled connection; retries on deadlock or serialization
 * failure (safe: nothing was committed). A connection that failed mid-transaction is destroyed,
 * not returned to the pool.
 */
export async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw storeError(err);
    }
    let broken: Error | undefined;
    // pg-pool listens for errors only on idle clients: a connection lost between two queries of
    // a checked-out client would be an unhandled 'error' event and crash the process.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      if (isRetryable(err) && attempt < 5 && !broken) continue;
      throw storeError(err);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }
}
