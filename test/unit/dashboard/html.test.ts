import { describe, expect, it } from 'vitest';
import { stackedBars } from '../../../src/dashboard/chart.js';
import { escapeHtml, html, trusted } from '../../../src/dashboard/html.js';
import { sortRows } from '../../../src/dashboard/table.js';

describe('dashboard markup', () => {
  it('escapes every interpolated value unless it is markup built by html or trusted', () => {
    const hostile = `<script>alert('x')</script>"&\``;
    const out = html`<p title="${hostile}">${hostile}${[hostile, 1]}${null}${false}${html`<b>${hostile}</b>`}${trusted('<i></i>')}</p>`;
    expect(out.value).not.toContain('<script');
    expect(out.value).toBe(
      `<p title="${escapeHtml(hostile)}">${escapeHtml(hostile).repeat(2)}1<b>${escapeHtml(hostile)}</b><i></i></p>`,
    );
    expect(escapeHtml(hostile)).toBe('&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;&#96;');
  });

  it('sorts rows by number or text either way, with missing values last', () => {
    const rows = [{ v: 2 }, { v: null }, { v: 10 }, { v: 1 }];
    expect(sortRows(rows, (r) => r.v, 'asc').map((r) => r.v)).toEqual([1, 2, 10, null]);
    expect(sortRows(rows, (r) => r.v, 'desc').map((r) => r.v)).toEqual([10, 2, 1, null]);
    const names = [{ n: 'b' }, { n: 'a' }, { n: 'C' }];
    expect(sortRows(names, (r) => r.n, 'asc').map((r) => r.n)).toEqual(['a', 'b', 'C']);
  });
});

describe('the stacked bar chart', () => {
  const days = ['2026-11-25', '2026-11-26', '2026-11-27'];

  it('stacks each day to its total and names every segment, escaped', () => {
    const svg = stackedBars({
      days,
      label: 'spend',
      series: [
        { name: '<b>evil</b>', values: [1, 0, 3] },
        { name: 'cursor-dev', values: [1, 2, 1] },
      ],
    }).value;
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('<title>2026-11-27 · &lt;b&gt;evil&lt;/b&gt;: $3.00</title>');
    expect(svg).toContain('<title>2026-11-26 · cursor-dev: $2.00</title>');
    // No segment for a zero value: two on the 25th and 27th, one on the 26th, in each of two renderings.
    expect(svg.match(/<rect x=/g)).toHaveLength(10);
    const wide = svg.slice(0, svg.indexOf('class="narrow"'));
    const heights = [...wide.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="([\d.]+)"/g)].map(
      (m) => [Number(m[1]), Number(m[2])],
    );
    // Heights are proportional to the values: the 27th's evil segment (3) is three times the 25th's (1).
    const evil = heights.slice(0, 2);
    expect((evil[1]?.[1] ?? 0) / (evil[0]?.[1] ?? 1)).toBeCloseTo(3, 1);
  });

  it('draws the largest series and sums the rest as others', () => {
    const series = Array.from({ length: 10 }, (_, i) => ({ name: `k${i}`, values: [i + 1, 0, 0] }));
    const svg = stackedBars({ days, label: 'spend', series, maxSeries: 3 }).value;
    expect(svg).toContain('<span>7 others</span>');
    expect(svg).toContain('$28.00'); // 1 + 2 + … + 7
    expect(svg).toContain('k9');
    expect(svg).not.toContain('>k0<');
  });

  it('says so when there is no spend at all', () => {
    const svg = stackedBars({ days, label: 'spend', series: [] }).value;
    expect(svg).toContain('No spend in these 3 days');
    expect(svg).not.toContain('class="legend"');
  });
});
