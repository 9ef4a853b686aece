import { displayUrl } from '../load/base-url.js';
import { allowedModels } from '../model-globs.js';
import { ownEntry } from '../own.js';
import type { Config } from '../types.js';
import { diffBilling } from './diff-billing.js';
import { type ConfigChange, change, diffLimits, money, percent } from './diff-change.js';
import { addedPriceText, diffUnitPrices } from './diff-units.js';

/** The rest of a config diff: upstreams, models and prices, defaults, server and Slack settings. */

export function diffCatalog(oldCfg: Config, newCfg: Config, out: ConfigChange[]): void {
  for (const [name, u] of Object.entries(newCfg.upstreams)) {
    const old = ownEntry(oldCfg.upstreams, name);
    if (!old) {
      out.push(
        change(
          'upstreams',
          'upstream-added',
          name,
          'neutral',
          `added: ${displayUrl(u.baseUrl)} (${u.format})`,
        ),
      );
      continue;
    }
    if (old.baseUrl !== u.baseUrl) {
      out.push(
        change(
          'upstreams',
          'upstream-changed',
          name,
          'sensitive',
          `base_url ${displayUrl(old.baseUrl)} → ${displayUrl(u.baseUrl)}: requests and their upstream key now go there`,
        ),
      );
    }
    if (old.apiKeyEnv !== u.apiKeyEnv) {
      out.push(
        change(
          'upstreams',
          'upstream-changed',
          name,
          'sensitive',
          `api_key now read from \${${u.apiKeyEnv}} (was \${${old.apiKeyEnv}})`,
        ),
      );
    }
    diffBilling(old, u, out);
    if (old.format !== u.format || old.timeoutMs !== u.timeoutMs) {
      out.push(
        change(
          'upstreams',
          'upstream-changed',
          name,
          'neutral',
          `format ${u.format}, timeout_ms ${u.timeoutMs} (was ${old.format}, ${old.timeoutMs})`,
        ),
      );
    }
  }
  for (const name of Object.keys(oldCfg.upstreams)) {
    if (!Object.hasOwn(newCfg.upstreams, name))
      out.push(change('upstreams', 'upstream-removed', name, 'narrows', 'removed'));
  }

  const keys = Object.values(newCfg.keys);
  for (const [name, m] of Object.entries(newCfg.models)) {
    const old = ownEntry(oldCfg.models, name);
    if (!old) {
      const users = keys.filter((k) => allowedModels(k.models, [name]).length > 0).length;
      out.push(
        change(
          'models',
          'model-added',
          name,
          users > 0 ? 'widens' : 'neutral',
          `added on ${m.upstream} ${m.glob ? 'for every matching name the price catalog prices' : addedPriceText(m)}; ${users} key(s) may use it`,
        ),
      );
      continue;
    }
    if (old.upstream !== m.upstream) {
      out.push(
        change('models', 'model-changed', name, 'sensitive', `upstream ${old.upstream} → ${m.upstream}`),
      );
    }
    const prices: [string, number, number][] = [
      ['input_per_mtok', old.inputPerMtok, m.inputPerMtok],
      ['output_per_mtok', old.outputPerMtok, m.outputPerMtok],
      ['cached_input_per_mtok', old.cachedInputPerMtok, m.cachedInputPerMtok],
      ['cache_write_per_mtok', old.cacheWritePerMtok, m.cacheWritePerMtok],
    ];
    for (const [field, a, b] of prices) {
      if (a !== b) {
        out.push(
          change(
            'models',
            'price-changed',
            name,
            'neutral',
            `${field} ${money(a)} → ${money(b)}${percent(a, b)}`,
          ),
        );
      }
    }
    diffUnitPrices(name, old, m, out);
    if (old.maxOutputTokens !== m.maxOutputTokens) {
      out.push(
        change(
          'models',
          'model-changed',
          name,
          'neutral',
          `max_output_tokens ${old.maxOutputTokens} → ${m.maxOutputTokens}`,
        ),
      );
    }
  }
  for (const name of Object.keys(oldCfg.models)) {
    if (!Object.hasOwn(newCfg.models, name))
      out.push(change('models', 'model-removed', name, 'narrows', 'removed'));
  }
}

export function diffSettings(oldCfg: Config, newCfg: Config, out: ConfigChange[]): void {
  diffLimits('defaults', 'limits', oldCfg.defaults.limits, newCfg.defaults.limits, out);
  if (oldCfg.defaults.maxExpiryDays !== newCfg.defaults.maxExpiryDays) {
    out.push(
      change(
        'defaults',
        'defaults-changed',
        'max_expiry_days',
        'neutral',
        `${oldCfg.defaults.maxExpiryDays ?? 'none'} → ${newCfg.defaults.maxExpiryDays ?? 'none'}`,
      ),
    );
  }
  for (const field of ['host', 'port', 'timezone', 'store'] as const) {
    const a = oldCfg.server[field];
    const b = newCfg.server[field];
    if (a !== b) {
      const show = (v: string | number | undefined) =>
        v === undefined ? 'default' : field === 'store' ? displayStoreUrl(String(v)) : String(v);
      out.push(
        change(
          'server',
          'server-changed',
          field,
          field === 'host' ? 'sensitive' : 'neutral',
          `${show(a)} → ${show(b)}`,
        ),
      );
    }
  }
  const corsOf = (c: Config) => (c.server.corsOrigins ?? []).join(', ') || 'none';
  if (corsOf(oldCfg) !== corsOf(newCfg)) {
    // Which browser origins may call /v1 is an access decision.
    out.push(
      change(
        'server',
        'server-changed',
        'cors_origins',
        'sensitive',
        `${corsOf(oldCfg)} → ${corsOf(newCfg)}`,
      ),
    );
  }
  const a = oldCfg.slack;
  const b = newCfg.slack;
  const show = (s: typeof a) =>
    s
      ? `channel ${s.channel ?? 'none'}, digest "${s.digest}", admins ${s.admins.join(' ') || 'none'}, thresholds ${s.alerts.budgetThresholds.join(' ')}, ` +
        `spike ${s.alerts.spikeFactor}x and $${s.alerts.spikeMinUsd}: ${s.alerts.spikeAction}, expiry reminders ${s.alerts.expiryDays.join(' ') || 'off'}`
      : 'off';
  if (show(a) !== show(b)) {
    out.push(change('slack', 'slack-changed', 'slack', 'neutral', `${show(a)} → ${show(b)}`));
  }
}

/**
 * A store URL as the diff shows it, which goes to pull requests and Slack's reload alert: never its
 * password, whether given as `user:password@` or as PostgreSQL's `?password=` (or `sslpassword=`).
 */
function displayStoreUrl(url: string): string {
  return displayUrl(url).replace(/([?&](?:ssl)?password=)[^&#]*/gi, '$1…');
}
