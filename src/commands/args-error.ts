/**
 * One sentence from a node:util parseArgs error, for a command's stderr. Node appends a hint about
 * `--` to unknown options ("To specify a positional argument starting with a '-'…") that reads as
 * noise next to our own "Run 'tollgate X --help'", and some of its messages end without a full stop.
 */
export function argsError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const trimmed = message
    .replace(/\.?\s*To specify a positional argument starting with a '-'.*$/s, '')
    .trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
