/**
 * Money and ratio formatting for the digest. Amounts show 2 decimals, 4 under a cent, and a
 * non-zero amount never reads "$0.00": a team lead must be able to tell "nothing" from "a little".
 */

const SMALLEST = 0.0001;

const twoDecimals = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** `$1,234.56`, `$0.0042`, `<$0.0001`, `$0.00` (only for exactly zero). Negative amounts get a minus. */
export function formatUsd(amount: number): string {
  if (amount < 0) return `-${formatUsd(-amount)}`;
  if (amount === 0 || !Number.isFinite(amount)) return '$0.00';
  if (amount < SMALLEST) return `<$${SMALLEST.toFixed(4)}`;
  // 0.00996 rounds to 0.01 at 2 decimals but is still under a cent: keep the 4-decimal form.
  if (amount < 0.01) return `$${amount.toFixed(4)}`;
  return `$${twoDecimals.format(amount)}`;
}

/** A change with its sign: `+$1.20`, `-$0.0050`, `±$0.00`. */
export function formatUsdChange(delta: number): string {
  if (delta === 0) return '±$0.00';
  return delta > 0 ? `+${formatUsd(delta)}` : formatUsd(delta);
}

/**
 * A ratio as a whole percentage, rounded down so 99.6% of a limit does not read as "100%";
 * under 1% but non-zero reads `<1%`.
 */
export function formatPercent(ratio: number): string {
  if (ratio > 0 && ratio < 0.01) return '<1%';
  // The epsilon keeps 0.29 * 100 = 28.999… from flooring to 28.
  return `${Math.floor(ratio * 100 + 1e-9)}%`;
}

/** A signed relative change, `+12%` / `-40%`. */
export function formatPercentChange(ratio: number): string {
  const pct = Math.round(ratio * 100);
  return pct > 0 ? `+${pct}%` : `${pct}%`;
}
