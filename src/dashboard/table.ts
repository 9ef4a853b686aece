import { type HtmlValue, html, type SafeHtml } from './html.js';

export type SortValue = string | number | null;

export interface Column<R> {
  id: string;
  label: string;
  /** Right-aligned, and sorted largest first on the first click. */
  numeric?: boolean;
  /** What the column sorts by (null sorts last either way). */
  value: (row: R) => SortValue;
  /** The cell's content; the value when absent. */
  cell?: (row: R) => HtmlValue;
}

export interface TableOptions<R> {
  /** Anchor and query-parameter prefix: `?keys_sort=month&keys_dir=desc#keys`. */
  id: string;
  columns: Column<R>[];
  rows: R[];
  /** The page's own path and query, so sort links keep the other tables' parameters. */
  path: string;
  query: URLSearchParams;
  defaultSort: { col: string; dir: 'asc' | 'desc' };
  caption: HtmlValue;
  /** Where the CSV of this table's data is. */
  csv?: string;
  empty: string;
  /** Rows shown until `?<id>_all=1`. */
  limit?: number;
}

/**
 * A table sorted on the server from query parameters, so sorting works without JavaScript and a
 * sorted view is a link that can be shared.
 */
export function sortedTable<R>(o: TableOptions<R>): SafeHtml {
  const requested = o.query.get(`${o.id}_sort`);
  const column =
    o.columns.find((c) => c.id === requested) ?? o.columns.find((c) => c.id === o.defaultSort.col);
  const dirParam = o.query.get(`${o.id}_dir`);
  const dir: 'asc' | 'desc' =
    column && column.id === requested && (dirParam === 'asc' || dirParam === 'desc')
      ? dirParam
      : column?.id === o.defaultSort.col
        ? o.defaultSort.dir
        : column?.numeric
          ? 'desc'
          : 'asc';
  const rows = column ? sortRows(o.rows, column.value, dir) : o.rows;
  const showAll = o.query.get(`${o.id}_all`) === '1';
  const shown = o.limit !== undefined && !showAll ? rows.slice(0, o.limit) : rows;

  const link = (params: Record<string, string>): string => {
    const q = new URLSearchParams(o.query);
    for (const [k, v] of Object.entries(params)) q.set(k, v);
    return `${o.path}?${q.toString()}#${o.id}`;
  };
  const head = o.columns.map((c) => {
    const active = c.id === column?.id;
    const next = active ? (dir === 'asc' ? 'desc' : 'asc') : c.numeric ? 'desc' : 'asc';
    const arrow = active ? (dir === 'asc' ? ' ▲' : ' ▼') : '';
    return html`<th scope="col" class="${c.numeric ? 'num' : ''}" aria-sort="${
      active ? (dir === 'asc' ? 'ascending' : 'descending') : 'none'
    }"><a href="${link({ [`${o.id}_sort`]: c.id, [`${o.id}_dir`]: next })}">${c.label}${arrow}</a></th>`;
  });
  const body = shown.map(
    (r) =>
      html`<tr>${o.columns.map(
        (c) =>
          html`<td class="${c.numeric ? 'num' : ''}" data-label="${c.label}">${c.cell ? c.cell(r) : c.value(r)}</td>`,
      )}</tr>`,
  );
  const more =
    o.limit !== undefined && rows.length > o.limit
      ? showAll
        ? html`<a href="${link({ [`${o.id}_all`]: '0' })}">Show the first ${o.limit}</a>`
        : html`<a href="${link({ [`${o.id}_all`]: '1' })}">Show all ${rows.length}</a>`
      : '';
  return html`<section class="card table-card" id="${o.id}">
    <div class="card-head"><h2>${o.caption}</h2>${
      o.csv ? html`<a class="button small" href="${o.csv}" download>CSV</a>` : ''
    }</div>
    ${
      rows.length === 0
        ? html`<p class="empty">${o.empty}</p>`
        : html`<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`
    }
    ${more ? html`<p class="more">${more}</p>` : ''}
  </section>`;
}

export function sortRows<R>(rows: R[], value: (r: R) => SortValue, dir: 'asc' | 'desc'): R[] {
  const sign = dir === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    if (typeof x === 'number' && typeof y === 'number') return sign * (x - y);
    return sign * String(x).localeCompare(String(y));
  });
}
