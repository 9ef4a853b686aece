import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import type { StoreBackend } from './store-backends.js';

/** The machine's PostgreSQL (trust auth); override with TOLLGATE_TEST_PG_URL. */
export const PG_ADMIN_URL = process.env.TOLLGATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A throwaway database for one test file: create in beforeAll, drop in afterAll. */
export async function createTestDatabase(prefix = 'tollgate_test'): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    // FORCE ends any connection a failed test left open.
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** `url` with its host and port replaced, e.g. to go through a TcpProxy. */
export function viaPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

export interface TcpProxy {
  port: number;
  /** Destroys every open connection and refuses new ones (like a database that went away). */
  cut(): void;
  /**
   * Drops every byte both ways on open connections and accepts new ones without ever answering:
   * a database whose packets are dropped (a firewall, a dead host), not one that refuses.
   */
  blackhole(): void;
  /** Accepts and forwards again. */
  restore(): void;
  /**
   * Holds back what the database sends until `answer()`: its statements run and commit, their
   * answers arrive late (a slow network, a stalled client).
   */
  hold(): void;
  /** Sends what `hold()` held back, and forwards again. */
  answer(): void;
  close(): Promise<void>;
}

/** A TCP pass-through on 127.0.0.1:0 to `target`, to simulate losing the database in tests. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let isCut = false;
  let isBlackhole = false;
  let held: Array<[net.Socket, Buffer]> | null = null;
  const sockets = new Set<net.Socket>();
  const silent = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (isCut) {
      client.destroy();
      return;
    }
    if (isBlackhole) {
      client.on('data', () => {}).on('error', () => {});
      silent.add(client);
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    // Forwarded unless blackholed: then every byte is swallowed.
    client.on('data', (d) => {
      if (!isBlackhole) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (isBlackhole) return;
      if (held) held.push([client, d]);
      else client.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  const cut = () => {
    isCut = true;
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    port: address.port,
    cut,
    blackhole() {
      isBlackhole = true;
    },
    restore() {
      isCut = false;
      isBlackhole = false;
      for (const s of silent) s.destroy();
      silent.clear();
    },
    hold() {
      held ??= [];
    },
    answer() {
      const late = held ?? [];
      held = null;
      for (const [client, d] of late) if (!client.destroyed) client.write(d);
    },
    close() {
      for (const s of silent) s.destroy();
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The postgres entry of the shared store suite (test/helpers/store-backends.ts): a fresh
 * database on the first `create()` after `destroy()`, the same database for later calls (a
 * "reopen"), dropped by `destroy()`.
 */
export function postgresBackend(): StoreBackend {
  let db: TestDatabase | null = null;
  const opened: Store[] = [];
  return {
    name: 'postgres',
    async create() {
      db ??= await createTestDatabase('tollgate_suite');
      // The suite's calls carry their own `now` (0, 1000, …), not the store's clock: budget and
      // rate leases, stamped with the store's clock, would count in another minute. Leases have
      // suites of their own (postgres-leases*, postgres-rate-leases).
      const store = createPostgresStore(db.url, { poolSize: 4, leaseHorizonMs: 0 });
      opened.push(store);
      await store.init();
      return store;
    },
    async destroy() {
      for (const store of opened.splice(0)) await store.close();
      await db?.drop();
      db = null;
    },
  };
}
