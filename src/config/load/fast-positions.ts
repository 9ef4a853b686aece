import { loadJsYaml } from './fast-yaml.js';
import type { Locator, PathSegment, Target } from './yaml-positions.js';

/**
 * Positions from js-yaml's node events, for a file that parsed cleanly but has problems to point
 * at (an expired key in a 10,000-key file). One more js-yaml pass costs a fraction of what the
 * `yaml` package's full document costs there. Events nest: a map's children alternate key and
 * value nodes, a sequence's children are its items.
 */

interface PosNode {
  start: number;
  kind?: string;
  value?: unknown;
  children: PosNode[];
}

/** Node events start before the blanks and comments that precede a value: skip them. */
function skipBlank(text: string, from: number): number {
  let i = from;
  for (;;) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') i++;
    else if (c === '#') {
      const nl = text.indexOf('\n', i);
      if (nl < 0) return text.length;
      i = nl + 1;
    } else return i;
  }
}

function isBlankToLineEnd(text: string, from: number): boolean {
  const end = text.indexOf('\n', from);
  const rest = text.slice(from, end < 0 ? text.length : end).trim();
  return rest === '' || rest.startsWith('#');
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** A Locator over `text`, or undefined when js-yaml is missing or cannot read the file. */
export function createFastLocator(text: string): Locator | undefined {
  const lib = loadJsYaml();
  if (!lib) return undefined;
  const root: PosNode = { start: 0, children: [] };
  const stack: PosNode[] = [root];
  try {
    lib.load(text, {
      schema: lib.CORE_SCHEMA,
      listener(event, state) {
        if (event === 'open') {
          const node: PosNode = { start: state.position, children: [] };
          stack[stack.length - 1]?.children.push(node);
          stack.push(node);
        } else {
          const node = stack.pop();
          if (!node) return;
          node.kind = state.kind ?? undefined;
          node.value = state.result;
          // js-yaml sometimes composes a node inside a wrapper of its own (a flow map as a list
          // item): the wrapper has the very same result object; keep the inner node's children.
          const only = node.children.length === 1 ? node.children[0] : undefined;
          if (
            only &&
            typeof state.result === 'object' &&
            state.result !== null &&
            only.value === state.result
          ) {
            node.children = only.children;
          }
        }
      },
    });
  } catch {
    return undefined;
  }

  const starts = lineStarts(text);
  const keyIndexes = new WeakMap<PosNode, Map<string, [PosNode, PosNode]>>();
  const pairsOf = (map: PosNode): Map<string, [PosNode, PosNode]> => {
    let index = keyIndexes.get(map);
    if (!index) {
      index = new Map();
      for (let i = 0; i + 1 < map.children.length; i += 2) {
        const key = map.children[i] as PosNode;
        const name = String(key.value);
        if (!index.has(name)) index.set(name, [key, map.children[i + 1] as PosNode]);
      }
      keyIndexes.set(map, index);
    }
    return index;
  };

  const position = (offset: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - (starts[lo] as number) + 1 };
  };

  const offsetOf = (path: readonly PathSegment[], target: Target): number => {
    let node = root.children[0];
    if (!node) return 0;
    let offset = skipBlank(text, node.start);
    for (const [i, seg] of path.entries()) {
      const last = i === path.length - 1;
      if (node.kind === 'mapping') {
        const pair: [PosNode, PosNode] | undefined = pairsOf(node).get(String(seg));
        if (!pair) break;
        if (last && target === 'key') return skipBlank(text, pair[0].start);
        node = pair[1];
        // A key with no value (`limits:`): the empty value sits right after the colon, as in `yaml`.
        if (node.kind === undefined && isBlankToLineEnd(text, node.start)) {
          offset = node.start;
          continue;
        }
      } else if (node.kind === 'sequence') {
        const item: PosNode | undefined = node.children[Number(seg)];
        if (!item) break;
        node = item;
      } else {
        break;
      }
      offset = skipBlank(text, node.start);
    }
    return offset;
  };

  return {
    position,
    locate: (path, target = 'value') => position(offsetOf(path, target)),
  };
}
