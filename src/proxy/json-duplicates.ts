/**
 * A JSON object that names a field twice, at any depth, or undefined. JSON.parse keeps the last
 * copy, and the gateway bounds and checks what it parsed, but it forwards the client's own bytes:
 * a parser upstream that keeps the first copy (or refuses duplicates) would run another request
 * than the one reserved for, `{"max_tokens": 100, …, "max_tokens": 100000}` read the other way.
 * The body is refused instead (docs/api.md#invalid_request-400), as a multipart body whose parts
 * parsers read two ways is.
 *
 * The request's own (top-level) fields are also compared without case: Go's encoding/json, which
 * relays in front of providers use, matches a field to its name case-insensitively.
 *
 * One pass over the text the body was parsed from, assumed valid JSON: strings are skipped with
 * indexOf (a base64 image is one jump), structure is found with one regular expression.
 */
const STRUCTURE = /["{}[\],:]/g;

export function repeatedField(text: string): string | undefined {
  // One entry per open object (its field names so far) or array (null).
  const stack: Array<Set<string> | null> = [];
  // Whether the next string in the innermost object is a field name.
  let expectKey = false;
  const topFolded = new Set<string>();
  STRUCTURE.lastIndex = 0;
  for (let m = STRUCTURE.exec(text); m !== null; m = STRUCTURE.exec(text)) {
    const c = m[0];
    if (c === '"') {
      const end = stringEnd(text, m.index + 1);
      const top = stack.at(-1);
      if (expectKey && top) {
        const raw = text.slice(m.index + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.has(name)) return name;
        top.add(name);
        // The request's own fields, as a case-blind reader matches them (Go's encoding/json, in
        // relays such as one-api: `MAX_TOKENS` sets max_tokens). Nested objects may hold `id` and `ID`.
        if (stack.length === 1) {
          const folded = foldCase(name);
          if (topFolded.has(folded)) return name;
          topFolded.add(folded);
        }
        expectKey = false;
      }
      STRUCTURE.lastIndex = end + 1;
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      expectKey = stack.at(-1) != null;
    }
  }
  return undefined;
}

/** A field name as Go's case-insensitive match sees it (its simple folding maps K, the Kelvin sign, to k and ſ to s). */
const foldCase = (name: string): string =>
  name
    .toLowerCase()
    .replace(/\u212a/g, 'k')
    .replace(/\u017f/g, 's');

/** The index of the quote that ends the string whose first character is at `from`. */
function stringEnd(text: string, from: number): number {
  let at = text.indexOf('"', from);
  while (at > 0) {
    let backslashes = 0;
    for (let i = at - 1; i >= from && text.charCodeAt(i) === 0x5c; i--) backslashes++;
    if (backslashes % 2 === 0) return at;
    at = text.indexOf('"', at + 1);
  }
  return text.length;
}
