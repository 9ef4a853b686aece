import { scaleLinear } from 'd3-scale';
import { describe, expect, it } from 'vitest';
import { stackedBars } from '../../../src/dashboard/chart.js';
import { formatTicks } from '../../../src/dashboard/chart-ticks.js';

describe('chart y-axis ticks', () => {
  it('labels a $0 to $0.03 axis with no label repeated', () => {
    const ticks = scaleLinear().domain([0, 0.03]).nice(5).ticks(5);
    const labels = formatTicks(ticks);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels).toContain('$0.005');
  });

  it('shows cents on a $0 to $3 axis and whole dollars on a $0 to $3,000 axis', () => {
    expect(formatTicks([0, 0.5, 1, 1.5])).toEqual(['$0.00', '$0.50', '$1.00', '$1.50']);
    expect(formatTicks([0, 1000, 2000, 3000])).toEqual(['$0', '$1,000', '$2,000', '$3,000']);
  });

  it('gives a tiny axis the decimals its step needs', () => {
    expect(formatTicks([0, 0.0002, 0.0004])).toEqual(['$0.0000', '$0.0002', '$0.0004']);
  });

  it('renders a chart of a few cents with distinct tick labels', () => {
    const html = String(
      stackedBars({
        days: ['2026-11-01', '2026-11-02', '2026-11-03'],
        series: [{ name: 'a', values: [0.01, 0.03, 0.02] }],
        label: 'spend',
      }),
    );
    const ticks = [...html.matchAll(/<text class="tick"[^>]*text-anchor="end">([^<]*)</g)].map((m) => m[1]);
    expect(ticks.length).toBeGreaterThan(2);
    expect(new Set(ticks).size).toBe(ticks.length);
  });
});
