import type { RouteKind } from './route-kind.js';

/**
 * Input the provider bills that the body's size cannot bound (estimate.ts prices only the body):
 * something stored at the provider, or a file whose pages are billed apart from its bytes:
 *
 * - OpenAI Responses: `previous_response_id` and `conversation` prepend the whole earlier
 *   conversation; `prompt` is a stored prompt template; an `item_reference` input item (or an
 *   item given only by `id`) is a stored item.
 * - Files: OpenAI's `input_file` / chat `file` part with `file_id`, `file_url` or `file_data`,
 *   Anthropic's `document` with a `file`, `url` or `base64` source. A PDF is billed per page, text and
 *   page images (about 2,100 tokens for a page of text on Claude), with no bound the gateway can
 *   read: not even when it is in the body, as a page in a standard font is about a kilobyte,
 *   some 450 tokens at one per 3 bytes of base64, and a deflated page can hold far more text
 *   than its bytes. (Images by id or URL are counted apart, at IMAGE_INPUT_TOKENS: an image is
 *   billed by its pixels, which providers cap.)
 *
 * The reservation then bounds input by the model's context window instead (fit-output.ts).
 */
/** What unseenInputOf names a PDF the body carries whole: its bytes are there, its pages billed apart. */
const PDF_IN_BODY: ReadonlySet<string> = new Set([
  'an input_file by file_data',
  'a file part by file_data',
  'a base64 PDF document',
]);

/** Whether the field unseenInputOf found is a PDF in the body rather than input stored at the provider. */
export const isPdfInBody = (field: string): boolean => PDF_IN_BODY.has(field);

export function unseenInputOf(body: Record<string, unknown>, route: RouteKind): string | undefined {
  if (route === 'responses') {
    if (isSet(body.previous_response_id)) return 'previous_response_id';
    if (isSet(body.conversation)) return 'conversation';
    if (isSet(body.prompt)) return 'prompt';
    if (Array.isArray(body.input)) {
      for (const item of body.input) if (isReference(item)) return 'an item_reference in input';
    }
  }
  if (route !== 'chat' && route !== 'responses' && route !== 'messages') return undefined;
  return findFileReference(route === 'responses' ? body.input : body.messages, 0);
}

const isSet = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `{type: 'item_reference', id}`, or an input item that is only an `id` (its type is optional). */
function isReference(item: unknown): boolean {
  if (!isRecord(item)) return false;
  if (item.type === 'item_reference') return true;
  return (
    item.type === undefined &&
    typeof item.id === 'string' &&
    item.content === undefined &&
    item.role === undefined
  );
}

const MAX_DEPTH = 32;

function findFileReference(value: unknown, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = findFileReference(v, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  // OpenAI Responses `input_file` (also inside function_call_output), chat `file` parts.
  if (value.type === 'input_file') {
    if (isSet(value.file_id)) return 'an input_file by file_id';
    if (isSet(value.file_url)) return 'an input_file by file_url';
    if (isSet(value.file_data)) return 'an input_file by file_data';
  }
  if (value.type === 'file' && isRecord(value.file)) {
    if (isSet(value.file.file_id)) return 'a file part by file_id';
    if (isSet(value.file.file_data)) return 'a file part by file_data';
  }
  // Anthropic documents: { type: 'document', source: { type: 'file' | 'url' | 'base64' (a PDF), … } }.
  if (value.type === 'document' && isRecord(value.source)) {
    if (value.source.type === 'file') return 'a document by file_id';
    if (value.source.type === 'url') return 'a document by url';
    if (value.source.type === 'base64') return 'a base64 PDF document';
  }
  for (const key in value) {
    const found = findFileReference(value[key], depth + 1);
    if (found) return found;
  }
  return undefined;
}
