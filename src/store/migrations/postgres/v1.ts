import type { Migration } from '../migration.js';

export const MIGRATION_1: Migration = {
  version: 1,
  name: 'initial schema',
  // Money is `numeric` so that "spent + reserved + amount <= limit" is exact: a request that
  // fits to the cent is never refused by float rounding, and sums never drift.
  sql: `
      CREATE TABLE usage (
        request_id text PRIMARY KEY,
        ts bigint NOT NULL,
        day text NOT NULL,
        key text NOT NULL,
        model text,
        upstream text,
        route text NOT NULL,
        status integer NOT NULL,
        error_code text,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL,
        cost_usd numeric NOT NULL,
        latency_ms double precision NOT NULL,
        stream boolean NOT NULL,
        user_agent text,
        ip text,
        config_revision text NOT NULL,
        usage_source text NOT NULL
      );
      CREATE INDEX usage_ts ON usage (ts);
      CREATE INDEX usage_key_ts ON usage (key, ts);

      CREATE TABLE spend (
        key text NOT NULL,
        period text NOT NULL,
        spent_usd numeric NOT NULL DEFAULT 0,
        reserved_usd numeric NOT NULL DEFAULT 0,
        PRIMARY KEY (key, period)
      );
      CREATE INDEX spend_period ON spend (period);

      CREATE TABLE reservations (
        id text PRIMARY KEY,
        key text NOT NULL,
        amount_usd numeric NOT NULL,
        periods text[] NOT NULL,
        lease_until bigint NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE INDEX reservations_lease ON reservations (lease_until);

      CREATE TABLE usage_daily (
        day text NOT NULL,
        key text NOT NULL,
        model text NOT NULL,
        status integer NOT NULL,
        requests bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cost_usd numeric NOT NULL,
        PRIMARY KEY (day, key, model, status)
      );

      CREATE TABLE disables (
        key text PRIMARY KEY,
        reason text NOT NULL,
        disabled_by text NOT NULL,
        source text NOT NULL,
        at bigint NOT NULL
      );

      CREATE TABLE audit (
        id bigserial PRIMARY KEY,
        at bigint NOT NULL,
        actor text NOT NULL,
        source text NOT NULL,
        action text NOT NULL,
        key text,
        reason text,
        result text NOT NULL
      );
      CREATE INDEX audit_at ON audit (at);

      CREATE TABLE claims (
        scope text NOT NULL,
        id text NOT NULL,
        at bigint NOT NULL,
        PRIMARY KEY (scope, id)
      );

      CREATE TABLE clients (
        key text NOT NULL,
        fingerprint text NOT NULL,
        first_seen bigint NOT NULL,
        last_seen bigint NOT NULL,
        PRIMARY KEY (key, fingerprint)
      );

      -- Fleet-wide rate limits. UNLOGGED: losing a minute of request timestamps in a database
      -- crash is harmless, and these tables take a write per request.
      CREATE UNLOGGED TABLE rate_events (
        key text NOT NULL,
        ts bigint NOT NULL,
        id text NOT NULL,
        PRIMARY KEY (key, ts, id)
      );
      CREATE UNLOGGED TABLE inflight (
        key text NOT NULL,
        id text NOT NULL,
        lease_until bigint NOT NULL,
        PRIMARY KEY (key, id)
      );
    `,
};
