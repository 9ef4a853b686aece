/**
 * One step of a store's versioned schema. Kept as TS rather than .sql files so the build (`tsc`
 * into dist/) carries it without a copy step. Append only: never edit a migration that has
 * shipped; a change is a new version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /**
   * PostgreSQL only: statements run one at a time outside any transaction after `sql`, for what
   * PostgreSQL refuses inside one (CREATE INDEX CONCURRENTLY, which builds an index without
   * holding back writes). The version is recorded after the last; a run that stopped half way
   * runs them all again, so each must be safe to repeat.
   */
  outsideTransaction?: readonly string[];
}
