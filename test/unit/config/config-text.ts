/**
 * Small keys.yaml texts for the loader tests, and a way to find where a piece of text sits so a
 * test can assert the exact line:column a problem points at.
 */

export const HASH_A = `sha256:${'a'.repeat(64)}`;
export const HASH_B = `sha256:${'b'.repeat(64)}`;
export const HASH_C = `sha256:${'c'.repeat(64)}`;

/** 2026-06-01T00:00:00Z: a fixed "now" for the loader. */
export const NOW = Date.UTC(2026, 5, 1);

export function baseConfig(keys: string, extra = ''): string {
  return `version: 1
upstreams:
  openai:
    base_url: https://api.openai.com/v1
    api_key: \${OPENAI_API_KEY}
models:
  gpt-4o-mini:
    upstream: openai
    input_per_mtok: 0.15
    output_per_mtok: 0.6
  gpt-4o:
    upstream: openai
    input_per_mtok: 2.5
    output_per_mtok: 10
${extra}keys:
${keys}`;
}

/** 1-based line and column of the `occurrence`-th appearance of `needle` in `text`. */
export function positionOf(text: string, needle: string, occurrence = 1): { line: number; col: number } {
  let index = -1;
  for (let i = 0; i < occurrence; i++) {
    index = text.indexOf(needle, index + 1);
    if (index < 0) throw new Error(`'${needle}' occurs fewer than ${occurrence} time(s)`);
  }
  const before = text.slice(0, index).split('\n');
  return { line: before.length, col: (before[before.length - 1]?.length ?? 0) + 1 };
}
