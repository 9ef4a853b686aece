import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type Pair,
} from 'yaml';

/** A path into the document: map keys and sequence indexes. */
export type PathSegment = string | number;

/** Where a problem points: the key of a map entry (e.g. an unknown field) or its value. */
export type Target = 'key' | 'value';

/** `keys.cursor-dev.hash[1]`: the dot path shown in messages and on `Problem.path`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

function keyText(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

/**
 * Maps paths to line:column. Built once per document and used only for the problems found, so
 * a clean 10,000-key file pays nothing; each map's key index is built on first use, so many
 * problems in one big map stay linear instead of scanning the map once per problem.
 */
export function createLocator(
  doc: Document,
  lineCounter: LineCounter,
): Locator & {
  offsetOf(path: readonly PathSegment[], target: Target): number;
} {
  const indexes = new WeakMap<object, Map<string, Pair>>();

  function pairsOf(map: { items: Pair[] }): Map<string, Pair> {
    let index = indexes.get(map);
    if (!index) {
      index = new Map();
      // A duplicated key resolves to its first occurrence; the repeat is reported on its own.
      for (const pair of map.items) if (!index.has(keyText(pair))) index.set(keyText(pair), pair);
      indexes.set(map, index);
    }
    return index;
  }

  function resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(doc) : node;
  }

  /** The offset of the node at `path`, or of the deepest part of the path that exists. */
  function offsetOf(path: readonly PathSegment[], target: Target): number {
    let node = resolve(doc.contents);
    let offset = (node as Node | null)?.range?.[0] ?? 0;
    for (const [i, seg] of path.entries()) {
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = pairsOf(node).get(String(seg));
        if (!pair) break;
        const keyNode = pair.key as Node | null;
        const valueNode = resolve(pair.value) as Node | null;
        if (last && target === 'key') return keyNode?.range?.[0] ?? offset;
        // A key with no value (`limits:`) has no value range: point at the key instead.
        offset = valueNode?.range?.[0] ?? keyNode?.range?.[0] ?? offset;
        node = valueNode;
      } else if (isSeq(node)) {
        const item = resolve(node.items[Number(seg)]) as Node | undefined;
        if (!item) break;
        offset = item.range?.[0] ?? offset;
        node = item;
      } else {
        break;
      }
    }
    return offset;
  }

  return {
    offsetOf,
    /** 1-based line and column of an offset in the source. */
    position(offset: number): { line: number; col: number } {
      return lineCounter.linePos(offset);
    },
    locate(path: readonly PathSegment[], target: Target = 'value'): { line: number; col: number } {
      return lineCounter.linePos(offsetOf(path, target));
    },
  };
}

/** Maps findings to 1-based line and column; built only when there is something to point at. */
export interface Locator {
  position(offset: number): { line: number; col: number };
  locate(path: readonly PathSegment[], target?: Target): { line: number; col: number };
}

/** A duplicated map key: where the repeat is, and the line of the first one. */
export interface DuplicateKey {
  path: PathSegment[];
  offset: number;
  firstOffset: number;
}

/**
 * Finds keys that appear twice in one map. The yaml parser's own check compares every pair with
 * every other (quadratic in a 10,000-key map), so the loader turns it off and runs this instead.
 */
export function findDuplicateKeys(doc: Document): DuplicateKey[] {
  const out: DuplicateKey[] = [];
  const walk = (node: unknown, path: PathSegment[]): void => {
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const name = keyText(pair);
        const offset = (pair.key as Node | null)?.range?.[0] ?? 0;
        const first = seen.get(name);
        if (first === undefined) seen.set(name, offset);
        else out.push({ path: [...path, name], offset, firstOffset: first });
        walk(pair.value, [...path, name]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        walk(item, [...path, i]);
      });
    }
  };
  walk(doc.contents, []);
  return out;
}
