import { LineCounter, parseDocument } from 'yaml';
import { KEY_PATTERN_ALL, maskKey } from '../../keys/format.js';
import type { KeysFile } from '../types.gen.js';
import type { Config, KeyConfig, LoadResult, Problem } from '../types.js';
import { checkEnvReferences, type EnvCheck } from './env-refs.js';
import { createFastLocator } from './fast-positions.js';
import { parseFast } from './fast-yaml.js';
import type { Finding } from './finding.js';
import { boundProblems, MAX_CONFIG_BYTES, tooLargeProblem } from './limits.js';
import { normalizeConfig } from './normalize.js';
import { checkRules } from './rules.js';
import { rulesOverValidParts } from './rules-over-valid-parts.js';
import { checkSchema } from './schema-check.js';
import { createLocator, findDuplicateKeys, formatPath, type Locator } from './yaml-positions.js';

/**
 * Loads keys.yaml text in the three visible steps every consumer shares (serve, validate, diff,
 * hot reload): YAML parse → JSON Schema → normalize, then the semantic rules. Pure: no file
 * system, no environment, no clock but the `now` it is given.
 */

// Matched on the raw text, so a key pasted into a comment or a broken file is still caught.
function findLeakedKeys(text: string): Finding[] {
  const out: Finding[] = [];
  for (const m of text.matchAll(KEY_PATTERN_ALL)) {
    out.push({
      path: [],
      offset: m.index,
      severity: 'error',
      message: `a plaintext tollgate key (${maskKey(m[0])}) is in this file: it has leaked and must be rotated. Mint a new one with 'tollgate keys new', put only its hash here, delete the old key's hash and remove the plaintext (it stays in git history)`,
    });
  }
  return out;
}

/**
 * Milliseconds per step of a load (parse, schema, normalize, rules, report), added to what the
 * object already holds: the hot reload logs them with each reload (reload-step.ts).
 */
export type PhaseTimings = Record<string, number>;

/** A stopwatch that adds the time since its last lap to `timings[phase]`; a no-op without timings. */
export function stopwatch(timings: PhaseTimings | undefined): (phase: string) => void {
  if (!timings) return () => {};
  let mark = performance.now();
  return (phase) => {
    const t = performance.now();
    timings[phase] = (timings[phase] ?? 0) + (t - mark);
    mark = t;
  };
}

export function loadConfig(
  text: string,
  opts: { file: string; now: number; env?: EnvCheck; timings?: PhaseTimings },
): LoadResult {
  const lap = stopwatch(opts.timings);
  // Before anything walks the text: a 50 MB file would block the caller's event loop for seconds.
  const bytes = text.length > MAX_CONFIG_BYTES / 4 ? Buffer.byteLength(text, 'utf8') : text.length;
  if (bytes > MAX_CONFIG_BYTES) return { warnings: [], errors: [tooLargeProblem(opts.file, bytes)] };
  const findings: Finding[] = findLeakedKeys(text);
  let config: Config | undefined;
  let locator: Locator | undefined;

  // The precise parse: exact positions, syntax errors and duplicate keys. Built at most once,
  // and for a valid file (the common case, when js-yaml is present) never.
  const parsePrecisely = () => {
    const lineCounter = new LineCounter();
    // uniqueKeys: false because the parser's own duplicate check is quadratic; findDuplicateKeys replaces it.
    const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
    locator = createLocator(doc, lineCounter);
    return { doc, locator };
  };

  // `phase`: what ran since the last lap (the step that found the problems, or the rules).
  const finish = (phase: 'parse' | 'rules'): LoadResult => {
    lap(phase);
    // A file that parsed cleanly is located with js-yaml; the `yaml` document is the fallback.
    const at =
      findings.length > 0 ? (locator ?? createFastLocator(text) ?? parsePrecisely().locator) : undefined;
    const problems = findings.map((f): Problem => {
      const pos = at
        ? f.offset !== undefined
          ? at.position(f.offset)
          : at.locate(f.path, f.target)
        : undefined;
      const { line, col } = pos ?? { line: 1, col: 1 };
      // A key pasted where a name goes would otherwise be echoed by the message that names it.
      const message = f.message.replace(KEY_PATTERN_ALL, (key) => maskKey(key));
      const path = formatPath(f.path).replace(KEY_PATTERN_ALL, (key) => maskKey(key));
      return { file: opts.file, line, col, path, message, severity: f.severity };
    });
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    const errors = boundProblems(problems.filter((p) => p.severity === 'error'));
    const warnings = boundProblems(problems.filter((p) => p.severity === 'warning'));
    lap('report');
    return errors.length === 0 && config ? { config, warnings, errors } : { warnings, errors };
  };

  let data: unknown;
  const fast = parseFast(text);
  if (fast) {
    data = fast.data;
  } else {
    const { doc, locator: at } = parsePrecisely();
    for (const e of doc.errors) {
      findings.push({
        path: [],
        offset: e.pos[0],
        severity: 'error',
        message: `YAML syntax error: ${e.message}`,
      });
    }
    for (const w of doc.warnings) {
      findings.push({ path: [], offset: w.pos[0], severity: 'warning', message: `YAML: ${w.message}` });
    }
    if (doc.errors.length > 0) return finish('parse');
    const duplicates = findDuplicateKeys(doc);
    for (const d of duplicates) {
      const { line } = at.position(d.firstOffset);
      const name = String(d.path[d.path.length - 1]);
      const inKeys = d.path.length === 2 && d.path[0] === 'keys';
      const message = inKeys
        ? `key name '${name}' is used twice (first on line ${line}): key names must be unique`
        : `'${name}' appears twice in ${formatPath(d.path.slice(0, -1)) || 'the top level'} (first on line ${line})`;
      findings.push({ path: d.path, offset: d.offset, severity: 'error', message });
    }
    if (duplicates.length > 0) return finish('parse');
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // yaml refuses aliases that expand too far (a "billion laughs" file) by throwing.
      findings.push({ path: [], offset: 0, severity: 'error', message: `YAML: ${(err as Error).message}` });
      return finish('parse');
    }
  }

  // An empty or comments-only file parses to nothing; the schema would call it "not a map".
  if (data === undefined || data === null) {
    findings.push({
      path: [],
      offset: 0,
      severity: 'error',
      message: 'the file is empty: it needs at least `version: 1`',
    });
    return finish('parse');
  }

  lap('parse');
  const schemaFindings = checkSchema(data);
  lap('schema');
  // Loops, not push(...list): spreading 150,000 findings as arguments overflows the stack.
  for (const f of schemaFindings) findings.push(f);
  if (schemaFindings.length > 0) {
    // Rules and normalization assume the schema's shapes, so they see only the parts that passed it.
    for (const f of rulesOverValidParts(data, schemaFindings, opts.now)) findings.push(f);
    return finish('rules');
  }

  const raw = data as KeysFile;
  const normalized = normalizeConfig(raw, opts.now);
  lap('normalize');
  for (const f of checkRules(raw, normalized, opts.now)) findings.push(f);
  if (opts.env) for (const f of checkEnvReferences(normalized, opts.env)) findings.push(f);
  config = normalized;
  return finish('rules');
}

/** key hash (`sha256:…`) → key config, for the lookup on every request. */
export function buildKeyIndex(config: Config): Map<string, KeyConfig> {
  const index = new Map<string, KeyConfig>();
  for (const key of Object.values(config.keys)) for (const hash of key.hashes) index.set(hash, key);
  return index;
}
