import { createHash } from 'node:crypto';

/** The content part of a config revision: the first 12 hex characters of sha256(text). */
export function contentRevision(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12);
}
