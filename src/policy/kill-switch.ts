import type { Clock } from '../clock.js';
import { ownEntry } from '../config/own.js';
import type { ConfigHolder } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { isStoreUnavailable, restateStoreFailure } from '../store/store-unavailable.js';
import type { AuditEntry, AuditStore, DisableStore } from '../store/types.js';
import { formatLocal } from '../windows/calendar.js';
import type { DisableView } from './disables.js';
import { suggestName } from './suggest-name.js';
import { typedKey } from './typed-key.js';

export type KillSwitchSource = 'slack' | 'admin_api' | 'dashboard' | 'circuit_breaker';

export interface KillSwitchResult {
  ok: boolean;
  /** Whether the store changed: false for a repeated disable or a refused request. */
  changed: boolean;
  /** One or two sentences for a person: what happened and what to do next. */
  message: string;
  /** The closest configured key name when the given one is unknown. */
  suggestion?: string;
  /** No key of that name exists: the admin API's 404, where other refusals are 409. */
  unknown?: true;
}

export interface KillSwitch {
  disable(
    name: string,
    by: { reason?: string; actor: string; source: KillSwitchSource },
  ): Promise<KillSwitchResult>;
  enable(name: string, by: { actor: string; source: KillSwitchSource }): Promise<KillSwitchResult>;
}

/**
 * The one mechanism behind /disable-key, /enable-key and the admin API: a durable override in
 * the store, which can only narrow access. Lifting it never overrides keys.yaml (`disabled:
 * true`, `expires`): widening access takes a pull request. Every call is audited, refusals too.
 */
export function createKillSwitch(deps: {
  store: Pick<DisableStore, 'setDisabled' | 'clearDisabled'> & Pick<AuditStore, 'audit'>;
  disables: DisableView;
  config: ConfigHolder;
  clock: Clock;
}): KillSwitch {
  const { store, disables, config, clock } = deps;

  async function audit(e: Omit<AuditEntry, 'at'>): Promise<void> {
    await guardStore(() => store.audit({ at: clock(), ...e }));
  }

  async function refuseTypedKey(
    typed: string,
    base: Omit<AuditEntry, 'at' | 'key' | 'result'>,
  ): Promise<KillSwitchResult | undefined> {
    const t = typedKey(typed, config.current());
    if (!t) return undefined;
    await audit({ ...base, key: t.auditKey, result: t.auditResult });
    return { ok: false, changed: false, unknown: true, message: t.message };
  }

  return {
    async disable(name, by) {
      const reason = by.reason?.trim() || 'no reason given';
      const keyTyped = await refuseTypedKey(name, {
        actor: by.actor,
        source: by.source,
        action: 'disable',
        reason,
      });
      if (keyTyped) return keyTyped;
      const base = { actor: by.actor, source: by.source, action: 'disable', key: name, reason };
      const key = ownEntry(config.current().config.keys, name);
      if (!key) {
        const r = unknown(config, name);
        await audit({ ...base, result: 'refused: unknown key' });
        return r;
      }
      const changed = await guardStore(() =>
        store.setDisabled({ key: name, reason, by: by.actor, source: by.source, at: clock() }),
      );
      // Refresh before answering, so this replica refuses the key by the time the caller hears back.
      await disables.refresh();
      await audit({ ...base, result: changed ? 'ok' : 'ok: already disabled' });
      const fileNote = key.disabled ? ' keys.yaml disables it too.' : '';
      if (!changed) {
        const prior = disables.get(name);
        const who = prior ? ` by ${prior.by} (${prior.reason})` : '';
        return {
          ok: true,
          changed: false,
          message: `Key '${name}' was already disabled${who}; nothing changed.${fileNote}`,
        };
      }
      return {
        ok: true,
        changed: true,
        message:
          `Key '${name}' is disabled: clients using it now get 401 key_disabled on every replica.${fileNote} ` +
          `Undo with /enable-key ${name} (or POST /admin/keys/${name}/enable); to make it permanent, set ` +
          `\`disabled: true\` for ${name} in keys.yaml.`,
      };
    },

    async enable(name, by) {
      const keyTyped = await refuseTypedKey(name, {
        actor: by.actor,
        source: by.source,
        action: 'enable',
        reason: null,
      });
      if (keyTyped) return keyTyped;
      const base = { actor: by.actor, source: by.source, action: 'enable', key: name, reason: null };
      const cfg = config.current().config;
      const key = ownEntry(cfg.keys, name);
      const override = disables.get(name);
      if (!key && !override) {
        const r = unknown(config, name, disables.all().keys());
        await audit({ ...base, result: 'refused: unknown key' });
        return r;
      }
      if (key?.disabled) {
        await audit({ ...base, result: 'refused: disabled in keys.yaml' });
        return {
          ok: false,
          changed: false,
          message:
            `Key '${name}' is disabled in keys.yaml (\`disabled: true\`), and Slack or the admin API cannot ` +
            'override the file: enabling it takes a pull request that removes that line.',
        };
      }
      if (key?.expiresAt !== undefined && clock() >= key.expiresAt) {
        await audit({ ...base, result: 'refused: expired' });
        const when = formatLocal(key.expiresAt, cfg.server.timezone);
        return {
          ok: false,
          changed: false,
          message: `Key '${name}' expired at ${when}; extending \`expires\` in keys.yaml takes a pull request.`,
        };
      }
      const changed = await guardStore(() => store.clearDisabled(name));
      await disables.refresh();
      await audit({ ...base, result: changed ? 'ok' : 'ok: was not disabled' });
      if (!changed)
        return { ok: true, changed: false, message: `Key '${name}' was not disabled; nothing changed.` };
      return {
        ok: true,
        changed: true,
        message: `Key '${name}' is enabled again; clients can use it right away.`,
      };
    },
  };
}

/** No key of that name: the closest configured name, when one is close. */
function unknown(config: ConfigHolder, name: string, extra: Iterable<string> = []): KillSwitchResult {
  const names = [...Object.keys(config.current().config.keys), ...extra];
  const suggestion = suggestName(name, names);
  const hint = suggestion ? ` Did you mean '${suggestion}'?` : ' /keys (or GET /admin/keys) lists the names.';
  return {
    ok: false,
    changed: false,
    message: `There is no key named '${name}' in keys.yaml.${hint}`,
    unknown: true,
    ...(suggestion ? { suggestion } : {}),
  };
}

/** A store failure becomes the gateway's 503 store_unavailable, saying that nothing changed. */
async function guardStore<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof GatewayError && !isStoreUnavailable(err)) throw err;
    throw restateStoreFailure(err, 'The store cannot be reached; the key was not changed.');
  }
}
