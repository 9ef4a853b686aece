/**
 * One step of a store's versioned schema. Kept as TS rather than .sql files so the build (`tsc`
 * into dist/) carries it without a copy step. Append only: never edit a migration that has
 * shipped; a change is a new version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}
