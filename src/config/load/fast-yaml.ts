import { createRequire } from 'node:module';

/**
 * A fast first parse for the common case, a valid file. The `yaml` package (which gives exact
 * positions) parses a 10,000-key file in ~1.5 s here; js-yaml does it in ~150 ms. So the loader
 * reads the data with js-yaml and builds the position-aware `yaml` document only when there is a
 * problem to point at. js-yaml's CORE_SCHEMA reads scalars like `yaml`'s YAML 1.2 core schema
 * (dates stay strings, `yes` stays a string), and it throws on what needs exact reporting
 * (syntax errors, duplicate keys), which sends the loader down the precise path.
 *
 * js-yaml is loaded optionally: when it is missing the loader uses `yaml` alone, only slower.
 */

/** The part of js-yaml's API used here (the package ships no types of its own). */
export interface JsYamlState {
  position: number;
  kind: string | null;
  result: unknown;
}

interface JsYaml {
  load(
    text: string,
    options: { schema: unknown; listener?: (event: 'open' | 'close', state: JsYamlState) => void },
  ): unknown;
  CORE_SCHEMA: unknown;
}

let jsYaml: JsYaml | null | undefined;

export function loadJsYaml(): JsYaml | null {
  if (jsYaml === undefined) {
    try {
      jsYaml = createRequire(import.meta.url)('js-yaml') as JsYaml;
    } catch {
      jsYaml = null;
    }
  }
  return jsYaml;
}

/** The document's data, or undefined when the precise parser must look at it. */
// An anchor (`&name`) starting a node: only anchored nodes can be aliased. js-yaml shares aliased
// nodes without limit, so a file of nested aliases ("billion laughs") would make the schema check
// walk an exponential tree; the precise parser caps aliases. Anchors are rare in keys.yaml, and
// unlike `*` the `&` sigil does not show up in cron expressions and globs.
const MAY_HAVE_ANCHOR = /(?:^|[\s[{,])&[^\s,[\]{}]/m;

export function parseFast(text: string): { data: unknown } | undefined {
  const lib = loadJsYaml();
  if (!lib || MAY_HAVE_ANCHOR.test(text)) return undefined;
  try {
    return { data: lib.load(text, { schema: lib.CORE_SCHEMA }) };
  } catch {
    return undefined;
  }
}
