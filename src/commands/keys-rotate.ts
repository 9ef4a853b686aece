import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { hashKey, mintKey } from '../keys/format.js';
import { DEFAULT_CONFIG_FILE } from '../ops/settings.js';
import { suggestName } from '../policy/suggest-name.js';
import type { CliIO } from './io.js';

/** What `tollgate usage --by hash` shows of a hash: its first 12 hex digits. */
export function hashPrefix(hash: string): string {
  return hash.replace(/^sha256:/, '').slice(0, 12);
}

interface CurrentHashes {
  hashes: string[];
  /** 1-based line of the key's `hash:` entry. */
  line: number;
}

/**
 * The key's hashes as written in keys.yaml. Read from the YAML itself rather than the loaded
 * config: a file that fails validation (a leaked plaintext key, the very reason to rotate) must
 * not stop a rotation.
 */
function readHashes(text: string, name: string): CurrentHashes | { error: string } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) return { error: `it is not valid YAML (${doc.errors[0]?.message ?? ''}).` };
  const keys = doc.get('keys');
  if (!isMap(keys)) return { error: 'it has no keys: section.' };
  const entry = keys.get(name);
  if (!isMap(entry)) {
    const names = keys.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '')).filter(Boolean);
    const suggestion = suggestName(name, names);
    return { error: `it has no key named '${name}'${suggestion ? `; did you mean '${suggestion}'?` : '.'}` };
  }
  const node = entry.get('hash', true);
  const hashes = isSeq(node)
    ? node.items.map((i) => (isScalar(i) ? String(i.value) : ''))
    : isScalar(node)
      ? [String(node.value)]
      : [];
  if (hashes.length === 0 || hashes.some((h) => !/^sha256:[0-9a-f]{64}$/.test(h)))
    return { error: `key '${name}' has no valid hash: to list (sha256:<64 hex> or a list of them).` };
  const pair = entry.items.find((p) => isScalar(p.key) && p.key.value === 'hash');
  const offset = isScalar(pair?.key) ? (pair.key.range?.[0] ?? 0) : 0;
  return { hashes, line: lineCounter.linePos(offset).line };
}

function yamlList(name: string, hashes: readonly string[], comments: readonly string[]): string[] {
  return [
    `  ${name}:`,
    '    hash:',
    ...hashes.map((h, i) => `      - ${h}${comments[i] ? `   # ${comments[i]}` : ''}`),
  ];
}

/** `tollgate keys rotate NAME`: a new key whose hash goes beside the old one, then a later cleanup. */
export async function rotateKey(
  args: string[],
  opts: { json: boolean; config: string | undefined },
  io: CliIO,
): Promise<number> {
  const fail = (message: string, code: number) => {
    io.stderr(`tollgate keys: ${message}\n`);
    return code;
  };
  const [name, extra] = args;
  if (!name || extra !== undefined)
    return fail("'keys rotate' takes one NAME, e.g. 'tollgate keys rotate cursor-dev'.", 2);
  const file = opts.config ?? io.env.TOLLGATE_CONFIG ?? DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch {
    return fail(`could not read ${file}: rotate reads the key's current hash from it (pass --config F).`, 2);
  }
  const current = readHashes(text, name);
  if ('error' in current) return fail(`cannot rotate '${name}' in ${file}: ${current.error}`, 1);

  const key = mintKey();
  const hash = hashKey(key);
  const hashes = [...current.hashes, hash];
  if (opts.json) {
    io.stdout(`${JSON.stringify({ name, key, hash, hashes })}\n`);
    return 0;
  }
  const old = current.hashes;
  const oldPrefixes = old.map(hashPrefix).join(', ');
  io.stdout(
    [
      `New key for '${name}' (shown only this once: tollgate keeps just its hash):`,
      '',
      `  ${key}`,
      '',
      `1. In ${file}, list the new hash beside the old one (line ${current.line}) and open a pull request;`,
      '   both keys work once it is merged, and spend, limits and history stay with the name:',
      '',
      ...yamlList(
        name,
        hashes,
        hashes.map((_, i) => (i < old.length ? 'old: drop once unused' : 'new')),
      ),
      '',
      `2. Give the new key to whatever uses '${name}' and retire the old one there.`,
      '',
      `3. When \`tollgate usage --key ${name} --by hash --since 7d\` shows no more requests for ${oldPrefixes}`,
      '   (the first 12 hex digits of the old hash), open a second pull request that drops it:',
      '',
      `  ${name}:`,
      `    hash: ${hash}`,
      '',
    ].join('\n'),
  );
  return 0;
}
