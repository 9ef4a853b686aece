import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { KeysFile } from '../types.gen.js';
import { errorAt, type Finding } from './finding.js';
import { formatPath, type PathSegment } from './yaml-positions.js';

/**
 * The JSON Schema step of loading: schemas/keys.schema.json (the one definition of keys.yaml),
 * with ajv's errors rewritten into messages that name the field and say what to write instead.
 */

let compiled: ValidateFunction<KeysFile> | undefined;

/** Compiled on first use and kept: the schema is a constant, not state. */
function validator(): ValidateFunction<KeysFile> {
  if (!compiled) {
    // src/config → schemas and dist/config → schemas are both two levels up.
    const schema = JSON.parse(
      readFileSync(new URL('../../../schemas/keys.schema.json', import.meta.url), 'utf8'),
    );
    compiled = new Ajv2020({ allErrors: true, strict: true, verbose: true }).compile<KeysFile>(schema);
  }
  return compiled;
}

export const KEY_NAME_RULE =
  "use 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit";

/** JSON pointer → path, with list indexes as numbers so they print as `hash[1]`. */
function pathOf(pointer: string, data: unknown): PathSegment[] {
  if (pointer === '') return [];
  const out: PathSegment[] = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const index = Array.isArray(node) ? Number(seg) : undefined;
    out.push(index ?? seg);
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'empty (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return 'a string';
  return `${typeof value === 'number' && Number.isInteger(value) ? 'an integer' : `a ${typeof value}`} (${String(value)})`;
}

function valueAt(data: unknown, path: PathSegment[]): unknown {
  let v = data;
  for (const seg of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[seg] : undefined;
  return v;
}

/** Edit distance, for "did you mean 'daily_usd'?" on a typo. Names are short, so O(a·b) is fine. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = distance(name, c);
    if (d < bestScore) [best, bestScore] = [c, d];
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a map',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
};

/** Pattern errors by field: never echo the value, which may be a secret pasted into the wrong place. */
function patternMessage(path: PathSegment[]): string {
  const where = formatPath(path);
  const field = path.findLast((s) => typeof s === 'string');
  switch (field) {
    case 'admin_key':
      return `${where} is a literal key: it must be an environment reference like \${OPENAI_ADMIN_KEY}. Move the admin key to the environment and rotate it at the provider, since it is now in the file's history`;
    case 'api_key_id':
      return `${where} must be the key's id as the provider's usage report names it: key_… on OpenAI, apikey_… on Anthropic (not the key itself)`;
    case 'project_id':
      return `${where} must be an OpenAI project id like proj_abc123`;
    case 'workspace_id':
      return `${where} must be an Anthropic workspace id like wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ`;
    case 'api_key':
      return `${where} is a literal key: it must be an environment reference like \${OPENAI_API_KEY}. Move the secret to the environment and rotate it, since it is now in the file's history`;
    case 'hash':
      return `${where} must be sha256:<64 lowercase hex>, the output of 'tollgate keys new' or 'tollgate keys hash'`;
    case 'expires':
      return `${where} must be a date written YYYY-MM-DD, e.g. 2027-03-31`;
    case 'base_url':
      return `${where} must be an http:// or https:// URL`;
    case 'store':
      return `${where} must be sqlite:PATH or postgres://user@host:5432/db`;
    default:
      return `${where} has the wrong format`;
  }
}

function messageFor(e: ErrorObject, data: unknown): Finding | undefined {
  const path = pathOf(e.instancePath, data);
  const where = formatPath(path) || 'the file';
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(e.params.additionalProperty);
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const guess = closest(field, allowed);
      const hint = guess ? `did you mean '${guess}'?` : `allowed fields: ${allowed.join(', ')}`;
      return errorAt([...path, field], `unknown field '${field}' in ${where}: ${hint}`, 'key');
    }
    case 'required':
      return errorAt(
        path,
        `${where} is missing the required field '${String(e.params.missingProperty)}'`,
        'key',
      );
    case 'type': {
      const want = String(e.params.type)
        .split(',')
        .map((t) => TYPE_WORDS[t] ?? t)
        .join(' or ');
      return errorAt(path, `${where} must be ${want}, not ${describe(valueAt(data, path))}`);
    }
    case 'const':
      return errorAt(path, `${where} must be ${JSON.stringify(e.params.allowedValue)}`);
    case 'enum':
      return errorAt(path, `${where} must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}`);
    case 'pattern':
      if (e.propertyName !== undefined) {
        return errorAt(
          [...path, e.propertyName],
          `${path[0] === 'groups' ? 'group' : 'key'} name '${e.propertyName}' is invalid: ${KEY_NAME_RULE}`,
          'key',
        );
      }
      return errorAt(path, patternMessage(path));
    case 'minLength':
      if (e.propertyName !== undefined)
        return errorAt([...path, e.propertyName], `${where} has an empty name`, 'key');
      return errorAt(path, `${where} must not be empty`);
    case 'minItems':
      return errorAt(path, `${where} must list at least ${String(e.params.limit)} item(s)`);
    // Summaries of errors already reported on their own.
    case 'propertyNames':
      return undefined;
    default:
      return errorAt(path, `${where} ${e.message ?? 'is invalid'}`);
  }
}

/**
 * `anyOf` (a hash string or a list of hashes) makes ajv report every branch, just before the
 * `anyOf` error itself. When one branch got past the type check, its errors are the useful ones;
 * otherwise one "must be X or Y" says it all.
 */
function collapseAnyOf(errors: ErrorObject[]): ErrorObject[] {
  const drop = new Set<ErrorObject>();
  const out: ErrorObject[] = [];
  errors.forEach((g, gi) => {
    if (g.keyword !== 'anyOf' && g.keyword !== 'oneOf') return;
    const within = (e: ErrorObject) =>
      e.instancePath === g.instancePath || e.instancePath.startsWith(`${g.instancePath}/`);
    // ajv reports a branch's errors right before the anyOf error itself: walk back over them only,
    // so a file with 100,000 bad hashes is linear, not quadratic.
    let from = gi;
    while (from > 0 && within(errors[from - 1] as ErrorObject)) from--;
    const subs = errors.slice(from, gi).filter((e) => !drop.has(e));
    const specific = subs.filter((e) => !(e.keyword === 'type' && e.instancePath === g.instancePath));
    for (const e of subs) if (!specific.includes(e)) drop.add(e);
    if (specific.length > 0) drop.add(g);
    else
      out.push({ ...g, keyword: 'type', params: { type: subs.map((e) => String(e.params.type)).join(',') } });
  });
  for (const e of errors) if (!drop.has(e) && e.keyword !== 'anyOf' && e.keyword !== 'oneOf') out.push(e);
  return out;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Keys validated per ajv call. ajv appends a `$ref`'d schema's errors with `concat`, copying the
 * whole error list once per key that has errors: quadratic in the errors of one call (a file with
 * 50,000 broken keys took minutes). Calls over slices of the keys keep it linear.
 */
const KEYS_PER_CALL = 250;

function schemaErrors(data: unknown): ErrorObject[] {
  const validate = validator();
  const keys = isMap(data) ? data.keys : undefined;
  const names = isMap(keys) ? Object.keys(keys) : [];
  if (!isMap(data) || !isMap(keys) || names.length <= KEYS_PER_CALL) {
    return validate(data) ? [] : [...(validate.errors ?? [])];
  }
  const out: ErrorObject[] = [];
  for (let start = 0; start < names.length; start += KEYS_PER_CALL) {
    // No prototype, so an entry named `__proto__` stays an entry (and is reported as a bad name).
    const slice: Record<string, unknown> = Object.create(null);
    for (const name of names.slice(start, start + KEYS_PER_CALL)) slice[name] = keys[name];
    if (validate({ ...data, keys: slice })) continue;
    for (const e of validate.errors ?? []) {
      // The rest of the file is the same in every call: report its errors once.
      const inKeys = e.instancePath === '/keys' || e.instancePath.startsWith('/keys/');
      if (inKeys || start === 0) out.push(e);
    }
  }
  return out;
}

/** Validates the parsed document against the schema; returns findings (errors only). */
export function checkSchema(data: unknown): Finding[] {
  const errors = schemaErrors(data);
  if (errors.length === 0) return [];
  const out: Finding[] = [];
  for (const e of collapseAnyOf(errors)) {
    const f = messageFor(e, data);
    if (f) out.push(f);
  }
  return out;
}
