import type { IncomingHttpHeaders } from 'node:http';
import type { KeyConfig, LoadedConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { checkKeyFormat, hashKey, maskKey } from '../keys/format.js';

/** The client's key from `Authorization: Bearer …` or `x-api-key` (Claude Code and the Anthropic SDK use either). */
export function extractKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m?.[1]) return m[1];
  }
  const apiKey = headers['x-api-key'];
  const value = Array.isArray(apiKey) ? apiKey[0] : apiKey;
  return value?.trim() || undefined;
}

/** The key's config if the key is present, well-formed and listed; the error says which of the three failed. */
export function authenticate(headers: IncomingHttpHeaders, loaded: LoadedConfig): KeyConfig {
  return authenticateKey(headers, loaded).config;
}

/** As `authenticate`, also telling which of the key's hashes matched (a rotating key lists several). */
export function authenticateKey(
  headers: IncomingHttpHeaders,
  loaded: LoadedConfig,
): { config: KeyConfig; hash: string } {
  const key = extractKey(headers);
  if (!key) {
    throw new GatewayError(
      'invalid_api_key',
      "no API key: send your tollgate key as 'Authorization: Bearer tgk_…' or 'x-api-key: tgk_…'.",
    );
  }
  if (!checkKeyFormat(key)) {
    throw new GatewayError(
      'invalid_api_key',
      'the API key is not a well-formed tollgate key (tgk_ and 38 letters or digits with a valid checksum); check that it was copied whole.',
    );
  }
  const hash = hashKey(key);
  const config = loaded.keysByHash.get(hash);
  if (!config) {
    throw new GatewayError(
      'invalid_api_key',
      `the key ${maskKey(key)} is not in keys.yaml (revision ${loaded.revision}): it was never added, or was rotated or removed; check it with 'tollgate keys check'.`,
    );
  }
  return { config, hash };
}

/** The key's name if the request carries a known key, without refusing anything (for unknown routes). */
export function identifyKey(headers: IncomingHttpHeaders, loaded: LoadedConfig): KeyConfig | undefined {
  const key = extractKey(headers);
  if (!key || !checkKeyFormat(key)) return undefined;
  return loaded.keysByHash.get(hashKey(key));
}
