/**
 * Dollar labels for a chart's y-axis ticks, with the decimals their step needs: a $0–$0.03 axis
 * in steps of $0.005 reads $0.000, $0.005, $0.010 … rather than $0.01 three times. Whole cents
 * get two decimals, as money usually does ($0.50, not $0.5).
 */
export function formatTicks(ticks: readonly number[]): string[] {
  const step = ticks.length > 1 ? Math.abs((ticks[1] ?? 0) - (ticks[0] ?? 0)) : 0;
  const digits = decimalsFor(step);
  const fmt = new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return ticks.map((t) => fmt.format(t));
}

function decimalsFor(step: number): number {
  if (!(step > 0) || step >= 1) return 0;
  // Ticks step by 1, 2 or 5 times a power of ten: its exponent is the decimals that show it.
  const digits = Math.ceil(-Math.log10(step) - 1e-9);
  return Math.min(Math.max(digits, 2), 8);
}
