import type { KeyLimits } from '../config/types.js';
import { type Bounds, dayRange, hourAt, hourRange, monthRange, weekRange } from './bounds.js';
import { dayOf, monthOf, weekOf } from './calendar.js';

/**
 * The four budget windows, the one place that spells them: the name alerts, metrics and pages use,
 * the prefix of their period in the store (`h:2026-11-26T14+05:30`, `d:2026-11-26`, `w:2026-11-23`
 * (its Monday), `m:2026-11`) and their limit in a key's or group's limits. `hourly_usd` resets at
 * the top of each local hour, `daily_usd` at local midnight, `weekly_usd` on Monday at local
 * midnight, `monthly_usd` on the 1st (docs/configuration.md#budget-windows); bounds.ts says exactly
 * where each one starts and ends. A group's share of a period is `@group/…` (budget-subject.ts).
 */
export const BUDGET_WINDOWS = [
  { name: 'hourly', prefix: 'h', limit: 'hourlyUsd' },
  { name: 'daily', prefix: 'd', limit: 'dailyUsd' },
  { name: 'weekly', prefix: 'w', limit: 'weeklyUsd' },
  { name: 'monthly', prefix: 'm', limit: 'monthlyUsd' },
] as const satisfies readonly { name: string; prefix: string; limit: keyof KeyLimits }[];

export type BudgetWindowSpec = (typeof BUDGET_WINDOWS)[number];
export type BudgetWindowName = BudgetWindowSpec['name'];

/** The names, shortest window first. */
export const BUDGET_WINDOW_NAMES: readonly BudgetWindowName[] = BUDGET_WINDOWS.map((w) => w.name);

/** The window a period (`d:2026-11-26`, not a group's `@g/…` entry) belongs to. */
export function windowOfPeriod(period: string): BudgetWindowSpec | undefined {
  return BUDGET_WINDOWS.find((w) => period[0] === w.prefix && period[1] === ':');
}

/** The period of a window with the given label: `periodOf('daily', '2026-11-26')` is `d:2026-11-26`. */
export function periodOf(window: BudgetWindowName, label: string): string {
  const spec = BUDGET_WINDOWS.find((w) => w.name === window) ?? BUDGET_WINDOWS[1];
  return `${spec.prefix}:${label}`;
}

/** The limit a key's or group's limits set for a window, if any. */
export function limitOf(limits: KeyLimits, window: BudgetWindowName): number | undefined {
  const spec = BUDGET_WINDOWS.find((w) => w.name === window);
  return spec === undefined ? undefined : limits[spec.limit];
}

/** The periods of the four windows containing `ms`, by window name. */
export function periodsAt(ms: number, timeZone: string): Record<BudgetWindowName, string> {
  const day = dayOf(ms, timeZone);
  return {
    hourly: `h:${hourAt(ms, timeZone).id}`,
    daily: `d:${day}`,
    weekly: `w:${weekOf(day)}`,
    monthly: `m:${monthOf(ms, timeZone)}`,
  };
}

/** The bounds of a period (`h:…`, `d:…`, `w:…` or `m:…`). */
export function periodBounds(period: string, timeZone: string): Bounds {
  const value = period.slice(2);
  switch (period[0]) {
    case 'h':
      return hourRange(value, timeZone);
    case 'd':
      return dayRange(value, timeZone);
    case 'w':
      return weekRange(value, timeZone);
    default:
      return monthRange(value, timeZone);
  }
}

/** When a period ends, i.e. its limit resets. */
export function periodEnd(period: string, timeZone: string): number {
  return periodBounds(period, timeZone).end;
}
