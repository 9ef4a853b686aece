/**
 * Versioned schema of the embedded (SQLite) store, applied by src/store/sqlite/migrate.ts.
 * A new migration is a new file vN.ts listed here; never edit one that has shipped.
 */
import type { Migration } from '../migration.js';
import { MIGRATION_1 } from './v1.js';
import { MIGRATION_2 } from './v2.js';
import { MIGRATION_3 } from './v3.js';
import { MIGRATION_4 } from './v4.js';
import { MIGRATION_5 } from './v5.js';
import { MIGRATION_6 } from './v6.js';
import { MIGRATION_7 } from './v7.js';
import { MIGRATION_8 } from './v8.js';
import { MIGRATION_10 } from './v10.js';
import { MIGRATION_11 } from './v11.js';
import { MIGRATION_12 } from './v12.js';
import { MIGRATION_13 } from './v13.js';

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  MIGRATION_1,
  MIGRATION_2,
  MIGRATION_3,
  MIGRATION_4,
  MIGRATION_5,
  MIGRATION_6,
  MIGRATION_7,
  MIGRATION_8,
  MIGRATION_10,
  MIGRATION_11,
  MIGRATION_12,
  MIGRATION_13,
];
