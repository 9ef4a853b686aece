import { scaleBand, scaleLinear } from 'd3-scale';
import { stack } from 'd3-shape';
import { formatUsd } from '../slack/format.js';
import { formatTicks } from './chart-ticks.js';
import { escapeHtml, html, type SafeHtml, trusted } from './html.js';

/** One stacked series: a value per day, aligned with `days`. */
export interface Series {
  name: string;
  values: number[];
}

export interface ChartOptions {
  /** `YYYY-MM-DD`, oldest first. */
  days: string[];
  series: Series[];
  /** What the chart shows, for screen readers and the empty state. */
  label: string;
  /** Series drawn on their own; the rest are summed as "other". */
  maxSeries?: number;
  /** Drawn for a card the page's full width (the key page) rather than half of it. */
  fullWidth?: boolean;
  /** A link for a series' legend entry (a key's page). */
  href?: (name: string) => string | null;
}

export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#59a14f',
  '#b07aa1',
  '#76b7b2',
  '#edc948',
  '#9c755f',
];
const OTHER_COLOR = '#bab0ac';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

interface Frame {
  width: number;
  height: number;
  left: number;
  bottom: number;
  /** Label every n-th day, counted back from the last. */
  labelEvery: number;
  ticks: number;
}

// Two renderings of the same data; CSS shows the one that fits, so text stays legible on a phone
// instead of shrinking with a scaled-down wide chart.
const WIDE: Frame = { width: 560, height: 230, left: 50, bottom: 24, labelEvery: 7, ticks: 5 };
const FULL: Frame = { width: 1120, height: 260, left: 50, bottom: 24, labelEvery: 3, ticks: 5 };
const NARROW: Frame = { width: 360, height: 220, left: 46, bottom: 24, labelEvery: 10, ticks: 4 };

/**
 * A stacked bar chart of spend per day, as inline SVG built on the server: d3-scale places the
 * bars and ticks, d3-shape stacks the series, and the markup is this file's small template.
 * Readable without JavaScript; each bar segment has a <title> for hover.
 */
export function stackedBars(opts: ChartOptions): SafeHtml {
  const series = topSeries(opts.series, opts.maxSeries ?? 7);
  const colors = new Map(series.map((s, i) => [s.name, s.other ? OTHER_COLOR : (PALETTE[i] ?? OTHER_COLOR)]));
  const total = series.reduce((sum, s) => sum + s.total, 0);
  const legend = series.map((s) => {
    const link = s.other ? null : (opts.href?.(s.name) ?? null);
    return html`<li>${swatch(colors.get(s.name) ?? OTHER_COLOR)}${
      link ? html`<a href="${link}">${s.label}</a>` : html`<span>${s.label}</span>`
    } <span class="num">${formatUsd(s.total)}</span></li>`;
  });
  const svg = (f: Frame, cls: string) => trusted(render(f, cls, opts, series, colors, total));
  return html`<figure class="chart">
    ${svg(opts.fullWidth ? FULL : WIDE, 'wide')}${svg(NARROW, 'narrow')}
    ${total > 0 ? html`<ul class="legend">${legend}</ul>` : ''}
  </figure>`;
}

interface Ranked extends Series {
  total: number;
  other: boolean;
  /** What the legend and hover say. */
  label: string;
}

// Cannot collide with a key or model name (those never contain NUL).
const OTHERS = '\u0000others';

function topSeries(all: Series[], max: number): Ranked[] {
  const ranked = all
    .map((s) => ({
      ...s,
      total: s.values.reduce((a, b) => a + b, 0),
      other: false,
      label: s.name || '(none)',
    }))
    .filter((s) => s.total > 0)
    .sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
  if (ranked.length <= max) return ranked;
  const rest = ranked.slice(max);
  const values = rest[0]?.values.map((_, i) => rest.reduce((sum, s) => sum + (s.values[i] ?? 0), 0)) ?? [];
  const other = {
    name: OTHERS,
    label: `${rest.length} others`,
    values,
    total: values.reduce((a, b) => a + b, 0),
    other: true,
  };
  return [...ranked.slice(0, max), other];
}

function render(
  f: Frame,
  cls: string,
  opts: ChartOptions,
  series: Ranked[],
  colors: Map<string, string>,
  total: number,
): string {
  const { days } = opts;
  const top = 10;
  // Room for the last day's label, centred under the rightmost bar.
  const right = 18;
  const rows = days.map((_, i) => Object.fromEntries(series.map((s) => [s.name, s.values[i] ?? 0])));
  const layers = stack<Record<string, number>>().keys(series.map((s) => s.name))(rows);
  const max = Math.max(0, ...layers.flatMap((l) => l.map((p) => p[1])));
  const x = scaleBand<string>()
    .domain(days)
    .range([f.left, f.width - right])
    .paddingInner(0.25)
    .paddingOuter(0.1);
  const y = scaleLinear()
    .domain([0, max > 0 ? max : 1])
    .nice(f.ticks)
    .range([f.height - f.bottom, top]);

  const out: string[] = [];
  out.push(
    `<svg class="${cls}" viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="${escapeHtml(opts.label)}" xmlns="http://www.w3.org/2000/svg">`,
  );
  const ticks = y.ticks(f.ticks);
  const tickLabels = formatTicks(ticks);
  ticks.forEach((t, i) => {
    const ty = round(y(t));
    out.push(
      `<line class="grid" x1="${f.left}" x2="${f.width - right}" y1="${ty}" y2="${ty}"/>`,
      `<text class="tick" x="${f.left - 6}" y="${ty}" dy="0.32em" text-anchor="end">${escapeHtml(tickLabels[i] ?? '')}</text>`,
    );
  });
  const labels = new Map(series.map((s) => [s.name, s.label]));
  for (const layer of layers) {
    const color = colors.get(layer.key) ?? OTHER_COLOR;
    out.push(`<g fill="${color}">`);
    layer.forEach((p, i) => {
      const day = days[i] ?? '';
      const h = y(p[0]) - y(p[1]);
      if (!(h > 0)) return;
      const value = p[1] - p[0];
      out.push(
        `<rect x="${round(x(day) ?? 0)}" y="${round(y(p[1]))}" width="${round(x.bandwidth())}" height="${round(h)}">` +
          `<title>${escapeHtml(`${day} · ${labels.get(layer.key) ?? layer.key}: ${formatUsd(value)}`)}</title></rect>`,
      );
    });
    out.push('</g>');
  }
  days.forEach((day, i) => {
    if ((days.length - 1 - i) % f.labelEvery !== 0) return;
    const cx = round((x(day) ?? 0) + x.bandwidth() / 2);
    out.push(
      `<text class="tick" x="${cx}" y="${f.height - 6}" text-anchor="middle">${escapeHtml(shortDay(day))}</text>`,
    );
  });
  out.push(
    `<line class="axis" x1="${f.left}" x2="${f.width - right}" y1="${f.height - f.bottom}" y2="${f.height - f.bottom}"/>`,
  );
  if (total === 0) {
    out.push(
      `<text class="empty" x="${(f.left + f.width) / 2}" y="${f.height / 2}" text-anchor="middle">No spend in these ${days.length} days</text>`,
    );
  }
  out.push('</svg>');
  return out.join('');
}

export function swatch(color: string): SafeHtml {
  return trusted(
    `<svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="${escapeHtml(color)}"/></svg>`,
  );
}

/** A horizontal meter for spend against a limit; the class colours it (ok, warn, over). */
export function meter(ratio: number, level: 'ok' | 'warn' | 'over'): SafeHtml {
  const pct = Math.max(0, Math.min(100, Number.isFinite(ratio) ? ratio * 100 : 0));
  return trusted(
    `<svg class="meter ${level}" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true">` +
      `<rect class="track" width="100" height="6" rx="3"/>` +
      (pct > 0 ? `<rect class="fill" width="${round(Math.max(pct, 2))}" height="6" rx="3"/>` : '') +
      '</svg>',
  );
}

function shortDay(day: string): string {
  const [, m, d] = day.split('-').map(Number) as [number, number, number];
  return `${MONTHS[m - 1] ?? ''} ${d}`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
