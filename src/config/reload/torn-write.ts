import type { Config, Problem } from '../types.js';

/**
 * Guards a hot reload against a copy still being written in place. scp, `kubectl cp` and NFS
 * clients truncate keys.yaml and write it in chunks; between two chunks the file can be valid
 * YAML that ends early — before `keys:` (a config with no keys, so every client gets 401) or in
 * the middle of a line (a truncated description or list). Two layers keep such a prefix from being
 * served:
 *
 * 1. Settling (read-settled.ts): a change seen by the watcher is applied only once two reads
 *    `settleMs` apart return the same bytes, so a writer that is still writing is waited for.
 * 2. Shape (this file), for a writer that pauses longer than that: a prefix of a whole file is
 *    recognisable by what it lacks compared with the file being served:
 *    - a section the served config had entries in (upstreams, models, keys) that is now absent
 *      (a tear before it); emptying one on purpose takes an explicit `keys: {}`;
 *    - the final newline the served file ended with (a tear inside a line).
 *
 * What stays possible: a pause longer than the settle time at exactly a line end inside the keys
 * section. Those bytes are a complete, well-formed file that drops the keys after the tear, which
 * no reader can tell from an edit that removes them; the next chunk then applies the whole file.
 * Both guards compare with the served config only, so `tollgate validate` is unaffected, and a
 * rejected prefix is reported like any reload error: file:line:col, the last good config serves.
 */

const SECTIONS = ['upstreams', 'models', 'keys'] as const;

export interface ServedShape {
  config: Config;
  /** Whether the served file's text ended with a newline. */
  endsWithNewline: boolean;
}

function endOf(text: string): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: text.length - lineStart + 1 };
}

const PARTIAL = 'this looks like a copy still being written in place (scp, kubectl cp, NFS)';

export function tornWriteProblem(
  file: string,
  text: string,
  next: Config,
  served: ServedShape,
): Problem | undefined {
  const at = (message: string): Problem => ({ file, ...endOf(text), path: '', message, severity: 'error' });
  for (const section of SECTIONS) {
    const had = Object.keys(served.config[section]).length;
    if (had === 0 || Object.keys(next[section]).length > 0) continue;
    // `keys: {}` (or `keys: {  }  # none`) is an explicit choice; a prefix never ends in a closing brace it lacks.
    if (new RegExp(`^${section}:[ \\t]*\\{[ \\t]*\\}`, 'm').test(text)) continue;
    return at(
      `the file ends here with no ${section} (the config being served has ${had}): ${PARTIAL}, so the last good config keeps serving until the file is whole. To remove every entry on purpose, write \`${section}: {}\``,
    );
  }
  if (served.endsWithNewline && text.length > 0 && !text.endsWith('\n')) {
    return at(
      `the file ends in the middle of a line, without the final newline the served file had: ${PARTIAL}, so the last good config keeps serving until the file is whole. If the file is complete, end it with a newline`,
    );
  }
  return undefined;
}
