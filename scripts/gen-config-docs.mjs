#!/usr/bin/env node
// Generates docs/configuration.md from schemas/keys.schema.json: every field of keys.yaml with its
// type, default, an example and its description, after the hand-written sections below. The
// schema stays the one definition of the file; `--stdout` prints instead of writing (the drift
// test compares the two). It walks the schema generically: a field added there appears here on
// the next `npm run gen:types`, with the `default` and `examples` the schema gives it.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

const root = new URL('../', import.meta.url);
const schema = JSON.parse(readFileSync(new URL('schemas/keys.schema.json', root), 'utf8'));
const outUrl = new URL('docs/configuration.md', root);

const defs = schema.$defs ?? {};

/** A node with its $ref followed; the referring node's own keywords (a description) win. */
function resolve(node) {
  if (!node || typeof node !== 'object') return {};
  if (typeof node.$ref !== 'string') return node;
  const name = node.$ref.replace('#/$defs/', '');
  const { $ref: _ref, ...own } = node;
  return { ...resolve(defs[name]), ...own };
}

const isMap = (n) => n.type === 'object' && !n.properties && typeof n.additionalProperties === 'object';
const isSection = (n) => n.type === 'object' && Boolean(n.properties);

/** What a map's entries are named, for its path: `keys.<name>.limits`. */
const MAP_PLACEHOLDER = { keys: '<key>', models: '<model>', upstreams: '<upstream>', groups: '<group>' };

function scalar(v) {
  return stringify(v, { lineWidth: 0 }).trim();
}

/** A value in YAML flow style, the way one writes it on one line of keys.yaml. */
function flow(v) {
  if (Array.isArray(v)) return `[${v.map(flow).join(', ')}]`;
  if (v && typeof v === 'object')
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${k}: ${flow(x)}`)
      .join(', ')} }`;
  return scalar(v);
}

function bounds(n) {
  const parts = [];
  if (n.exclusiveMinimum !== undefined) parts.push(`> ${n.exclusiveMinimum}`);
  if (n.minimum !== undefined && n.maximum !== undefined) parts.push(`${n.minimum} to ${n.maximum}`);
  else if (n.minimum !== undefined) parts.push(`≥ ${n.minimum}`);
  else if (n.maximum !== undefined) parts.push(`≤ ${n.maximum}`);
  if (n.exclusiveMaximum !== undefined) parts.push(`< ${n.exclusiveMaximum}`);
  return parts.length ? ` ${parts.join(', ')}` : '';
}

/** A short type, e.g. `number ≥ 0`, `list of string`, `"openai" or "anthropic"`; `full` adds string patterns. */
function typeOf(raw, full = true) {
  const n = resolve(raw);
  if (n.const !== undefined) return `\`${JSON.stringify(n.const)}\``;
  if (Array.isArray(n.enum)) return n.enum.map((e) => `\`${JSON.stringify(e)}\``).join(' or ');
  const alts = n.anyOf ?? n.oneOf;
  if (Array.isArray(alts)) return alts.map((a) => typeOf(a, full)).join(', or ');
  switch (n.type) {
    case 'array':
      return `list of ${typeOf(n.items, full)}`;
    case 'object':
      if (isMap(n))
        return isSection(resolve(n.additionalProperties))
          ? 'map: one entry per name'
          : `map of name → ${typeOf(n.additionalProperties, full)}`;
      return isSection(n) ? 'section' : 'map';
    case 'string': {
      if (n.pattern && full) return `string matching \`${n.pattern}\``;
      return n.minLength ? 'non-empty string' : 'string';
    }
    case 'number':
    case 'integer':
      return `${n.type}${bounds(n)}`;
    default:
      return n.type ? String(n.type) : 'any';
  }
}

/** The default: the schema's `default`, else the one the description states, else "not set". */
function defaultOf(n, required) {
  if (required) return 'required';
  if (isSection(n) || isMap(n)) return 'optional';
  if (n.default !== undefined) return `\`${flow(n.default)}\``;
  const m = /\bDefaults?(?: to|:)? ([^.;]+?)(?:[.;]|$)/.exec(n.description ?? '');
  if (m) return m[1].replace(/^is /, '');
  return 'not set';
}

function exampleOf(name, n) {
  const examples = Array.isArray(n.examples) ? n.examples : [];
  return examples.map((e) => `\`${name}: ${flow(e)}\``).join(' or ');
}

/** Every field under `node`, depth first, in the schema's order. */
function fields(node, path, out) {
  const n = resolve(node);
  const required = new Set(n.required ?? []);
  for (const [name, child] of Object.entries(n.properties ?? {})) {
    const c = resolve(child);
    const p = path ? `${path}.${name}` : name;
    out.push({ path: p, name, node: c, required: required.has(name) });
    if (isSection(c)) fields(c, p, out);
    else if (isMap(c) && isSection(resolve(c.additionalProperties))) {
      // The entry itself (`keys.<key>`) has a row too: its description says what one entry is.
      const entry = `${p}.${MAP_PLACEHOLDER[name] ?? '<name>'}`;
      out.push({
        path: entry,
        name: entry.split('.').pop(),
        node: resolve(c.additionalProperties),
        required: false,
        entry: true,
      });
      fields(c.additionalProperties, entry, out);
    }
  }
  return out;
}

const all = fields(schema, '', []);

function anchor(path) {
  return path.replace(/[<>.]/g, (c) => (c === '.' ? '-' : '')).toLowerCase();
}

function reference() {
  const lines = [];
  const top = all.filter((f) => !f.path.includes('.'));
  for (const section of top) {
    lines.push(`### \`${section.path}\``, '');
    lines.push('| field | type | default |', '| --- | --- | --- |');
    const inSection = all.filter((f) => f.path === section.path || f.path.startsWith(`${section.path}.`));
    // A `|` inside a table cell, even in code, must be escaped in GitHub's tables.
    const cell = (t) => t.replace(/\|/g, '\\|');
    for (const f of inSection) {
      const def = f.entry ? 'one per name' : defaultOf(f.node, f.required);
      lines.push(`| [\`${f.path}\`](#${anchor(f.path)}) | ${cell(typeOf(f.node, false))} | ${cell(def)} |`);
    }
    lines.push('');
    for (const f of inSection) {
      lines.push(`<a id="${anchor(f.path)}"></a>`, `#### \`${f.path}\``, '');
      lines.push(f.node.description ?? '(no description)', '');
      const facts = [`type: ${typeOf(f.node)}`];
      if (!f.entry) facts.push(`default: ${defaultOf(f.node, f.required)}`);
      const ex = exampleOf(f.name, f.node);
      if (ex) facts.push(`example: ${ex}`);
      lines.push(facts.join(' · '), '');
    }
  }
  return lines.join('\n');
}

/**
 * The config file size limit, when src/config defines one (`const MAX_CONFIG_BYTES = 8 * 1024 * 1024;`),
 * so the number in the docs is the one the code enforces; without one the bullet is left out.
 */
function configLimit() {
  const dir = new URL('src/config/', root);
  for (const file of readdirSync(dir, { recursive: true })) {
    if (!file.endsWith('.ts')) continue;
    const m = /const\s+\w*(?:CONFIG|FILE)\w*_BYTES\s*=\s*([\d_ *]+);/.exec(
      readFileSync(new URL(file, dir), 'utf8'),
    );
    if (!m) continue;
    const bytes = m[1]
      .split('*')
      .map((x) => Number(x.trim().replace(/_/g, '')))
      .reduce((a, b) => a * b, 1);
    if (Number.isFinite(bytes) && bytes > 0)
      return bytes % 1048576 === 0 ? `${bytes / 1048576} MiB` : `${bytes} bytes`;
  }
  return undefined;
}

const limit = configLimit();
const template = readFileSync(new URL('scripts/config-docs-intro.md', root), 'utf8')
  .replace(
    '- {{config_limit}}\n',
    limit
      ? `- The file may be at most ${limit}; a larger one is refused whole with an error that says so,\n  and the last good config keeps serving.\n`
      : '',
  )
  .replace('{{field_count}}', String(all.length));

const BANNER = `<!-- Generated from schemas/keys.schema.json by scripts/gen-config-docs.mjs: do not edit.
     Change the schema (or scripts/config-docs-intro.md) and run \`npm run gen:types\`. -->`;

const doc = `${BANNER}\n\n${template.trimEnd()}\n\n## Every field\n\n${reference().trimEnd()}\n`;

if (process.argv.includes('--stdout')) process.stdout.write(doc);
else writeFileSync(outUrl, doc);
