/** Drives the dashboard over HTTP the way a browser without JavaScript does: forms and cookies. */

export const VIEWER_TOKEN = 'viewer-token-0123456789abcdef0123456789';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef0123456789ab';

export interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

export async function get(
  base: string,
  path: string,
  cookie?: string,
  accept = 'text/html',
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    redirect: 'manual',
    headers: { accept, ...(cookie ? { cookie } : {}) },
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

export async function postForm(
  base: string,
  path: string,
  form: Record<string, string>,
  cookie?: string,
  extra: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      accept: 'text/html',
      'content-type': 'application/x-www-form-urlencoded',
      ...(cookie ? { cookie } : {}),
      ...extra,
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** Signs in and returns the `name=value` pair to send back as Cookie. */
export async function signIn(base: string, token: string): Promise<string> {
  const res = await postForm(base, '/dashboard/sign-in', { token });
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}: ${res.body.slice(0, 200)}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  return setCookie.split(';')[0] ?? '';
}

/** The CSRF token of the first form on a page. */
export function csrfOf(page: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(page);
  if (!m?.[1]) throw new Error('no CSRF field on the page');
  return m[1];
}
