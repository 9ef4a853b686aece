import { html, type SafeHtml } from './html.js';

export function signInBody(opts: { next: string; error?: string }): SafeHtml {
  return html`<div class="signin"><section class="card">
  <h1>tollgate</h1>
  ${opts.error ? html`<div class="notice error" role="alert">${opts.error}</div>` : ''}
  <form method="post" action="/dashboard/sign-in">
    <label for="token">Dashboard or admin token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <input type="hidden" name="next" value="${opts.next}">
    <button class="primary" type="submit">Sign in</button>
  </form>
  <p><code>TOLLGATE_DASHBOARD_TOKEN</code> shows spend read-only; <code>TOLLGATE_ADMIN_TOKEN</code> can also disable and enable keys.</p>
</section></div>`;
}
