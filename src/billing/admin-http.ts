import { maskSecrets } from '../keys/mask-secrets.js';

/**
 * GET against a provider's admin API (usage and cost reports): a timeout per attempt, bounded
 * retries with back-off on 429 and 5xx (honouring Retry-After up to a cap), and errors that say
 * what failed without ever carrying the admin key — it is masked out of every message, since an
 * error body could echo a header. Redirects are refused, so the key never leaves for another host.
 */

export interface AdminHttpOptions {
  fetch?: typeof fetch;
  /** Waits between attempts; injected so tests do not sleep. */
  sleep?: (ms: number) => Promise<void>;
  timeoutMs?: number;
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Back-off before the second attempt; doubled after each. */
  backoffMs?: number;
}

export const ADMIN_TIMEOUT_MS = 30_000;
const ATTEMPTS = 4;
const BACKOFF_MS = 1_000;
const MAX_WAIT_MS = 30_000;

/** A report that could not be read: `status` is the provider's HTTP status (0 when none came). */
export class AdminApiError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'AdminApiError';
    this.status = status;
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function retryAfterMs(res: Response, fallback: number): number {
  const header = res.headers.get('retry-after');
  const seconds = header === null ? Number.NaN : Number(header);
  return Math.min(MAX_WAIT_MS, Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : fallback);
}

/** The provider's own error message, if its body has one (both providers use `error.message`). */
async function providerMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string };
    const m = typeof body.error === 'string' ? body.error : body.error?.message;
    if (typeof m === 'string') return m.slice(0, 300);
  } catch {
    // Not JSON: a proxy's page. Its first words are enough.
  }
  return text.slice(0, 120).replace(/\s+/g, ' ');
}

export async function getAdminJson(
  url: string,
  headers: Record<string, string>,
  secret: string,
  options: AdminHttpOptions = {},
): Promise<unknown> {
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? defaultSleep;
  const attempts = Math.max(1, options.attempts ?? ATTEMPTS);
  let wait = options.backoffMs ?? BACKOFF_MS;
  const where = new URL(url);
  const what = `${where.host}${where.pathname}`;
  const mask = (s: string) => maskSecrets(s, [secret]);
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await doFetch(url, {
        headers,
        // A redirect would carry the admin key to wherever the Location says (fetch keeps
        // custom headers such as x-api-key across origins): it is refused, never followed.
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs ?? ADMIN_TIMEOUT_MS),
      });
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message;
      if (attempt < attempts) {
        await sleep(wait);
        wait *= 2;
        continue;
      }
      throw new AdminApiError(mask(`${what} could not be reached after ${attempt} attempt(s): ${reason}`), 0);
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => {});
      throw new AdminApiError(
        `${what} answered ${res.status} (a redirect), which is not followed: the admin key goes to the provider's admin API only — check the upstream's base_url`,
        res.status,
      );
    }
    if (res.ok) {
      try {
        return await res.json();
      } catch {
        throw new AdminApiError(`${what} answered ${res.status} with a body that is not JSON`, res.status);
      }
    }
    const retriable = res.status === 429 || res.status >= 500;
    if (retriable && attempt < attempts) {
      await res.body?.cancel().catch(() => {});
      await sleep(retryAfterMs(res, wait));
      wait *= 2;
      continue;
    }
    const message = mask(await providerMessage(res));
    const hint =
      res.status === 401 || res.status === 403
        ? ': the admin key was refused (is it an admin key of this organization, and still active?)'
        : '';
    throw new AdminApiError(
      `${what} answered ${res.status}${hint}${message ? ` — ${message}` : ''}`,
      res.status,
    );
  }
}
