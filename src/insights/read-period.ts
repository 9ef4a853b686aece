import type { Config } from '../config/types.js';
import type { InsightStore } from '../store/insight-types.js';
import type { UsageStore } from '../store/types.js';

/** What reading insights takes of the store: its own aggregates and the daily rollup. */
export type InsightReader = InsightStore & Pick<UsageStore, 'dailyTotals'>;

/** A key's findings, or every key's, for the page or reply that shows a few. */
export interface PeriodQuery {
  config: Config;
  since: number;
  until: number;
  key?: string;
}
