import { AdminApiError } from './admin-http.js';

/**
 * Both providers page their reports the same way: `data` (time buckets, each with `results`),
 * `has_more`, and `next_page`, the cursor passed back as `page`. A report is read to its last page,
 * with a bound, so a provider that keeps answering has_more cannot hold the check forever.
 */

export const MAX_PAGES = 100;

export interface ReportBucket {
  /** Unix seconds (OpenAI) or RFC 3339 (Anthropic). */
  start: number;
  results: Record<string, unknown>[];
}

/** Reads every page of one report: `get(page)` asks for the page after `page` (undefined: the first). */
export async function readAllPages(
  what: string,
  get: (page: string | undefined) => Promise<unknown>,
  startOf: (bucket: Record<string, unknown>) => number,
): Promise<ReportBucket[]> {
  const out: ReportBucket[] = [];
  let page: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const body = (await get(page)) as { data?: unknown; has_more?: unknown; next_page?: unknown } | null;
    if (!body || !Array.isArray(body.data) || typeof body.has_more !== 'boolean') {
      // A 200 whose shape drifted must not read as a day with no usage (which would "match").
      throw new AdminApiError(
        `${what} answered a body without data and has_more: its format has changed`,
        200,
      );
    }
    for (const bucket of body.data as Record<string, unknown>[]) {
      const results = Array.isArray(bucket?.results) ? (bucket.results as Record<string, unknown>[]) : [];
      out.push({ start: startOf(bucket), results });
    }
    if (!body.has_more) return out;
    if (typeof body.next_page !== 'string' || body.next_page === page) {
      throw new AdminApiError(`${what} said it has more pages but gave no new next_page`, 200);
    }
    page = body.next_page;
  }
  throw new AdminApiError(`${what} had more than ${MAX_PAGES} pages for one day`, 200);
}

export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
export const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The query string both providers read: arrays as `name[]=a&name[]=b`, as their SDKs send them. */
export function queryOf(params: Record<string, string | number | readonly string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) q.append(`${k}[]`, item);
    else q.append(k, String(v));
  }
  return q.toString();
}

/** `https://api.openai.com/v1` + `/organization/costs`, whatever trailing slash the base_url has. */
export function joinUrl(baseUrl: string, path: string, query: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}?${query}`;
}
