/**
 * Versioned schema of the PostgreSQL store, applied by src/store/postgres/migrate.ts: the same
 * tables as the SQLite one plus what fleet-wide rate limits need.
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
import { MIGRATION_9 } from './v9.js';
import { MIGRATION_10 } from './v10.js';
import { MIGRATION_11 } from './v11.js';
import { MIGRATION_12 } from './v12.js';
import { MIGRATION_13 } from './v13.js';
import { MIGRATION_14 } from './v14.js';
import { MIGRATION_16 } from './v16.js';
import { MIGRATION_17 } from './v17.js';
import { MIGRATION_18 } from './v18.js';
import { MIGRATION_19 } from './v19.js';
import { MIGRATION_20 } from './v20.js';
import { MIGRATION_21 } from './v21.js';
import { MIGRATION_22 } from './v22.js';
import { MIGRATION_23 } from './v23.js';
import { MIGRATION_24 } from './v24.js';
import { MIGRATION_25 } from './v25.js';
import { MIGRATION_26 } from './v26.js';
import { MIGRATION_27 } from './v27.js';
import { MIGRATION_28 } from './v28.js';
import { MIGRATION_29 } from './v29.js';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  MIGRATION_1,
  MIGRATION_2,
  MIGRATION_3,
  MIGRATION_4,
  MIGRATION_5,
  MIGRATION_6,
  MIGRATION_7,
  MIGRATION_8,
  MIGRATION_9,
  MIGRATION_10,
  MIGRATION_11,
  MIGRATION_12,
  MIGRATION_13,
  MIGRATION_14,
  MIGRATION_16,
  MIGRATION_17,
  MIGRATION_18,
  MIGRATION_19,
  MIGRATION_20,
  MIGRATION_21,
  MIGRATION_22,
  MIGRATION_23,
  MIGRATION_24,
  MIGRATION_25,
  MIGRATION_26,
  MIGRATION_27,
  MIGRATION_28,
  MIGRATION_29,
];
