import { GatewayError } from '../errors.js';

/**
 * How deeply objects and arrays may nest in a request body (docs/api.md#invalid_request-400).
 * Real bodies nest a few dozen levels at most (a tool's JSON Schema inside tools[].function);
 * code that walks a body recursively (JSON.stringify when the body is rewritten, the estimators)
 * overflows the stack a few thousand levels down, where a 10 KB body answered 500.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Refuses a parsed body nested deeper than `limit` (JSON.parse itself is iterative: a
 * 200,000-level body parses). Only objects and arrays are visited, so prompt text costs nothing:
 * about 4 µs for a 120 KB, 50-message body with 10 tools, against 270 µs for its JSON.parse.
 */
export function checkJsonDepth(value: unknown, rawLength: number, limit = MAX_JSON_DEPTH): void {
  // Each level takes at least one byte: a shorter body cannot be too deep.
  if (rawLength <= limit) return;
  if (nestsDeeper(value, limit)) {
    throw new GatewayError(
      'invalid_request',
      `the request body nests objects and arrays more than ${limit} levels deep, tollgate's limit; nothing was forwarded. Flatten the deepest part (a tool's JSON Schema, usually).`,
    );
  }
}

/** Whether `node` (an object or array) nests more than `levels` deep. Recursion stops at `levels`, so the stack stays short. */
function nestsDeeper(node: unknown, levels: number): boolean {
  if (levels === 0) return true;
  if (Array.isArray(node)) {
    for (const child of node)
      if (typeof child === 'object' && child !== null && nestsDeeper(child, levels - 1)) return true;
    return false;
  }
  const record = node as Record<string, unknown>;
  for (const k in record) {
    const child = record[k];
    if (typeof child === 'object' && child !== null && nestsDeeper(child, levels - 1)) return true;
  }
  return false;
}
