import type { Store } from './types.js';

type Mask = (text: string) => string;

const maybe = (mask: Mask, s: string | null): string | null => (s === null ? null : mask(s));

/**
 * PostgreSQL refuses a NUL character in text (22021) and a JSON body can carry one ("\u0000" in
 * a model name, a reason): such a string would fail its write on every retry, as if the
 * database were down. It is stored with U+FFFD in the NUL's place, on both stores alike.
 */
function storable(mask: Mask): Mask {
  return (text) => {
    const masked = mask(text);
    return masked.includes('\u0000') ? masked.replaceAll('\u0000', '\uFFFD') : masked;
  };
}

/**
 * A user-agent is kept to this many characters. It is the client's to write, up to Node's 16 KB
 * of headers, and PostgreSQL's insights rollup keys its rows by it (migration 20): a btree index
 * row holds at most 2704 bytes, so a longer one failed its usage record's write on every retry.
 * 512 characters (at most 1024 bytes: Node reads header values as latin1) leave room for the
 * row's other parts (a 200-character model of up to 600 bytes, the key name, the IP).
 */
export const MAX_USER_AGENT_CHARS = 512;

/**
 * The store's door for strings that came from outside: whatever a client sent as its path,
 * user-agent or model, and whatever an admin typed as a key name or a reason, is masked for keys
 * (keys/mask-secrets.ts) before it is written, so no key sits in usage.route, usage.user_agent,
 * the clients table or the audit log, a NUL character is replaced (see `storable`), and a
 * user-agent is cut to MAX_USER_AGENT_CHARS. Everything else passes straight through.
 */
export function maskStoreWrites(store: Store, maskSecrets: Mask): Store {
  const mask = storable(maskSecrets);
  return {
    ...store,
    kind: store.kind,
    settle: (u, periods) =>
      store.settle(
        {
          ...u,
          route: mask(u.route),
          model: maybe(mask, u.model),
          ...(u.requestedModel ? { requestedModel: mask(u.requestedModel) } : {}),
          userAgent: u.userAgent === null ? null : mask(u.userAgent).slice(0, MAX_USER_AGENT_CHARS),
          errorCode: maybe(mask, u.errorCode),
        },
        periods,
      ),
    setDisabled: (d) => store.setDisabled({ ...d, reason: mask(d.reason), by: mask(d.by) }),
    audit: (e) =>
      store.audit({
        ...e,
        key: maybe(mask, e.key),
        actor: mask(e.actor),
        reason: maybe(mask, e.reason),
        result: mask(e.result),
      }),
    recordClient: (key, fingerprint, at) => store.recordClient(key, mask(fingerprint), at),
    // The detail may carry a provider's error message; the model, a name the provider chose.
    saveBillChecks: (date, upstream, rows, at) =>
      store.saveBillChecks(
        date,
        upstream,
        rows.map((r) => ({ ...r, model: mask(r.model), detail: mask(r.detail) })),
        at,
      ),
  };
}
