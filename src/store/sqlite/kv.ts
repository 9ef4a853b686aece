import type { Database } from 'better-sqlite3';
import type { AuditEntry, DisableRecord } from '../types.js';

/** The small shared-state tables: disables (kill switch), audit log, once-only claims, clients, sign-outs. */
export interface SqliteKv {
  setDisabled(d: DisableRecord): boolean;
  clearDisabled(key: string): boolean;
  listDisabled(): Map<string, DisableRecord>;
  audit(e: AuditEntry): void;
  listAudit(limit: number): AuditEntry[];
  claimOnce(scope: string, id: string, at: number): boolean;
  releaseClaim(scope: string, id: string): void;
  pruneClaims(scope: string, before: number): number;
  recordClient(key: string, fingerprint: string, at: number): { isNew: boolean; knownBefore: number };
  revokeSession(sid: string, expiresAt: number, now: number): void;
  isSessionRevoked(sid: string): boolean;
}

export function createSqliteKv(db: Database): SqliteKv {
  // DO NOTHING keeps the first disable's reason and author: a second /disable-key is a no-op.
  const insertDisable = db.prepare(
    `INSERT INTO disables (key, reason, by, source, at) VALUES (@key, @reason, @by, @source, @at)
     ON CONFLICT (key) DO NOTHING`,
  );
  const deleteDisable = db.prepare<[string]>('DELETE FROM disables WHERE key = ?');
  const allDisables = db.prepare<[], DisableRecord>('SELECT key, reason, by, source, at FROM disables');
  const insertAudit = db.prepare(
    `INSERT INTO audit (at, actor, source, action, key, reason, result)
     VALUES (@at, @actor, @source, @action, @key, @reason, @result)`,
  );
  const latestAudit = db.prepare<[number], AuditEntry>(
    'SELECT at, actor, source, action, key, reason, result FROM audit ORDER BY id DESC LIMIT ?',
  );
  const insertClaim = db.prepare<[string, string, number]>(
    'INSERT INTO claims (scope, id, at) VALUES (?, ?, ?) ON CONFLICT (scope, id) DO NOTHING',
  );
  const deleteClaim = db.prepare<[string, string]>('DELETE FROM claims WHERE scope = ? AND id = ?');
  const deleteOldClaims = db.prepare<[string, number]>('DELETE FROM claims WHERE scope = ? AND at < ?');
  const clientCount = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM clients WHERE key = ?');
  const insertClient = db.prepare<[string, string, number, number]>(
    `INSERT INTO clients (key, fingerprint, first_seen, last_seen) VALUES (?, ?, ?, ?)
     ON CONFLICT (key, fingerprint) DO NOTHING`,
  );
  const touchClient = db.prepare<[number, string, string]>(
    'UPDATE clients SET last_seen = MAX(last_seen, ?) WHERE key = ? AND fingerprint = ?',
  );

  const insertSignOut = db.prepare<[string, number]>(
    'INSERT INTO revoked_sessions (sid, expires_at) VALUES (?, ?) ON CONFLICT (sid) DO NOTHING',
  );
  const deleteExpiredSignOuts = db.prepare<[number]>('DELETE FROM revoked_sessions WHERE expires_at <= ?');
  const findSignOut = db.prepare<[string], { n: number }>(
    'SELECT 1 AS n FROM revoked_sessions WHERE sid = ?',
  );
  const revokeSession = db.transaction((sid: string, expiresAt: number, now: number) => {
    deleteExpiredSignOuts.run(now);
    insertSignOut.run(sid, expiresAt);
  });

  const recordClient = db.transaction((key: string, fingerprint: string, at: number) => {
    const before = clientCount.get(key)?.n ?? 0;
    const isNew = insertClient.run(key, fingerprint, at, at).changes > 0;
    if (!isNew) touchClient.run(at, key, fingerprint);
    // "Other clients the key had before": a known fingerprint does not count itself.
    return { isNew, knownBefore: isNew ? before : before - 1 };
  });

  return {
    setDisabled: (d) => insertDisable.run(d).changes > 0,
    clearDisabled: (key) => deleteDisable.run(key).changes > 0,
    listDisabled: () => new Map(allDisables.all().map((d) => [d.key, d])),
    audit: (e) => {
      insertAudit.run(e);
    },
    listAudit: (limit) => latestAudit.all(limit),
    claimOnce: (scope, id, at) => insertClaim.run(scope, id, at).changes > 0,
    releaseClaim: (scope, id) => {
      deleteClaim.run(scope, id);
    },
    pruneClaims: (scope, before) => deleteOldClaims.run(scope, before).changes,
    recordClient: (key, fingerprint, at) => recordClient.immediate(key, fingerprint, at),
    revokeSession: (sid, expiresAt, now) => revokeSession.immediate(sid, expiresAt, now),
    isSessionRevoked: (sid) => findSignOut.get(sid) !== undefined,
  };
}
