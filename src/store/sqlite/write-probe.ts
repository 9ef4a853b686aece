import type { Database } from 'better-sqlite3';

/**
 * /healthz's write (write-health.ts): a claim taken and dropped, run inside the group commit's
 * transaction of the connection that reserves and settles. Its pages reach the WAL at the COMMIT,
 * so a full disk fails it as it fails requests. Prepared at the first probe: the file is migrated
 * by then, not necessarily when the writer starts.
 */
export function createWriteProbe(db: Database): (at: number) => void {
  let statements: { take: (id: string, at: number) => void; drop: (id: string) => void } | null = null;
  return (at) => {
    if (!statements) {
      const insert = db.prepare<[string, number]>(
        "INSERT INTO claims (scope, id, at) VALUES ('healthz-probe', ?, ?) ON CONFLICT (scope, id) DO NOTHING",
      );
      const remove = db.prepare<[string]>("DELETE FROM claims WHERE scope = 'healthz-probe' AND id = ?");
      statements = { take: (id, t) => insert.run(id, t), drop: (id) => remove.run(id) };
    }
    const id = `${process.pid}-${at}`;
    statements.take(id, at);
    statements.drop(id);
  };
}
