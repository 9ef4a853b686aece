import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { GatewayError } from '../errors.js';
import { ambiguousContentType, headerParams, partHeaderCheck } from './multipart-headers.js';
import { BODY_LIMIT_BYTES } from './read-body.js';
import type { UploadHold } from './upload-holds.js';

/**
 * A multipart upload (images/edits, audio/transcriptions, audio/translations), parsed as it
 * arrives with busboy: the form fields the gateway needs (model, n, size, prompt…) are read, the
 * files are counted and sized, and one file's bytes can be handed to a duration reader once that
 * file has arrived, as views into the received chunks (busboy slices, never copies). The raw bytes are kept as they arrived, unchanged, so the upstream receives exactly
 * what the client sent (same boundary, same order, file bytes untouched): the fields that set a
 * request's bound (its model, n, size, and an audio file's duration, which MP3, OGG and WebM only
 * reveal at their end) may come after the files, and nothing may reach the upstream before the
 * bound is reserved (docs/api.md#images-and-audio). The bytes live in memory only, never on disk, and are
 * dropped when the request ends; the 32 MB body limit bounds them.
 */

export interface UploadedFile {
  field: string;
  filename: string;
  mimeType: string;
  bytes: number;
  /**
   * The file's SHA-256, hashed chunk by chunk as it passes, once it ended: it goes into the
   * request's keyed fingerprint only (src/insights/fingerprint.ts), never stored or logged.
   */
  sha256?: string;
}

export interface MultipartBody {
  /** The request body as received, chunk by chunk. */
  chunks: Buffer[];
  size: number;
  fields: Record<string, string>;
  files: UploadedFile[];
  /** What the tap on `tapField` produced (e.g. the audio's duration), once the file ended. */
  tapped?: unknown;
}

export interface MultipartOptions {
  limit?: number;
  /**
   * A file field whose bytes go to `tap` once that file has arrived (the first such file only):
   * the chunks it came in, views into the body's own chunks, so the reader copies nothing whole.
   */
  tapField?: string;
  tap?: (file: readonly Buffer[], info: { mimeType: string }) => Promise<unknown>;
  /**
   * Fields and files that may appear once: the gateway reads one copy and forwards every copy,
   * so a second copy could be what the upstream acts on (another model, n, file) while the bound
   * was set from the first. A repeat is refused, naming the part, before anything is forwarded.
   */
  once?: ReadonlySet<string>;
  /** The bytes this upload may hold in memory (proxy/upload-holds.ts): refused past its limits. */
  hold?: UploadHold;
}

const isMultipart = (contentType: string | undefined): boolean =>
  typeof contentType === 'string' && /^multipart\/form-data\s*;/i.test(contentType);

function invalid(message: string, extra: { headers?: Record<string, string> } = {}): GatewayError {
  return new GatewayError('invalid_request', message, extra);
}

/** Refused before any byte is read: not multipart, a declared length past the limit, or past the holds. */
function admitUpload(
  req: IncomingMessage,
  opts: MultipartOptions,
  limit: number,
): { refused?: GatewayError; heldUpFront: boolean; tooLarge: () => GatewayError } {
  const contentType = req.headers['content-type'];
  const tooLarge = () =>
    invalid(
      `the upload is larger than tollgate's limit of ${Math.round(limit / 1024 / 1024)} MB (OpenAI accepts files up to 25 MB); send a smaller or shorter 'file'.`,
      { headers: { connection: 'close' } },
    );
  if (!isMultipart(contentType)) {
    const refused = invalid(
      `this route takes a multipart/form-data body (a file and its form fields), not '${String(contentType ?? 'none').split(';')[0]}'.`,
    );
    return { refused, heldUpFront: false, tooLarge };
  }
  const ambiguous = ambiguousContentType(String(contentType));
  if (ambiguous) {
    const refused = invalid(`${ambiguous}, which parsers read differently; send it once.`);
    return { refused, heldUpFront: false, tooLarge };
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit)
    return { refused: tooLarge(), heldUpFront: false, tooLarge };
  // A declared length is held whole, up front (the HTTP parser keeps the body to it), so a refusal
  // comes before any byte is read; a chunked body is held as it arrives.
  const heldUpFront = Number.isFinite(declared) && declared >= 0;
  const refused = heldUpFront ? opts.hold?.add(declared) : undefined;
  return refused ? { refused, heldUpFront, tooLarge } : { heldUpFront, tooLarge };
}

/** What one upload's parse shares between its handlers. */
interface ReadState {
  body: MultipartBody;
  opts: MultipartOptions;
  /** The duration reader's result, once a tapped file ended. */
  tapping?: Promise<unknown>;
}

/** One file part: counted, sized, hashed as it passes, and fed to the tap if it is the tapped field. */
function readFilePart(
  state: ReadState,
  field: string,
  stream: Readable,
  info: { filename?: string; mimeType: string },
  fail: (err: GatewayError) => void,
): void {
  const { body, opts } = state;
  const file: UploadedFile = { field, filename: info.filename ?? '', mimeType: info.mimeType, bytes: 0 };
  body.files.push(file);
  // The tapped file's chunks as busboy hands them over: slices of the received chunks, not copies.
  const tap = opts.tap && field === opts.tapField && !state.tapping ? opts.tap : undefined;
  const parts: Buffer[] = [];
  const hash = createHash('sha256');
  stream.on('data', (chunk: Buffer) => {
    file.bytes += chunk.length;
    hash.update(chunk);
    if (tap) parts.push(chunk);
  });
  const ended = new Promise<void>((resolve) =>
    stream.on('end', () => {
      file.sha256 = hash.digest('hex');
      resolve();
    }),
  );
  // Set now, so the upload is not resolved before its tapped file is read.
  if (tap) {
    state.tapping = ended.then(() => tap(parts, { mimeType: info.mimeType }));
    // A tap that fails (its reader could not be loaded) is read as no result when the upload
    // ends; marked handled now, as the upload may end later and Node ends the process on a
    // rejection left unhandled.
    state.tapping.catch(() => {});
  }
  stream.on('limit', () => fail(invalid(`the file in '${field}' is too large.`)));
}

/** Reads a multipart/form-data request body, refusing it as soon as it passes `limit` bytes. */
export function readMultipart(req: IncomingMessage, opts: MultipartOptions = {}): Promise<MultipartBody> {
  const limit = opts.limit ?? BODY_LIMIT_BYTES;
  const { refused: refusedUpFront, heldUpFront, tooLarge } = admitUpload(req, opts, limit);
  if (refusedUpFront) return Promise.reject(refusedUpFront);

  return new Promise((resolve, reject) => {
    const body: MultipartBody = { chunks: [], size: 0, fields: {}, files: [] };
    const state: ReadState = { body, opts };
    let settled = false;
    let parsed = false;
    let repeated: GatewayError | undefined;
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fieldSize: 1024 * 1024, fields: 64, files: 32 } });
    } catch (err) {
      reject(invalid('the multipart body has no boundary in its content-type.'));
      void err;
      return;
    }
    const fail = (err: GatewayError) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.unpipe(parser);
      parser.removeAllListeners('error');
      parser.on('error', () => {});
      body.chunks = [];
      reject(err);
    };
    const done = async () => {
      if (settled || !parsed || !req.complete) return;
      try {
        if (state.tapping) body.tapped = await state.tapping;
      } catch {
        body.tapped = undefined;
      }
      if (settled) return;
      if (repeated) return fail(repeated);
      settled = true;
      resolve(body);
    };
    const seen = new Set<string>();
    /**
     * False when `name` is a part that may appear once and already did: the upload is then
     * refused once it has arrived (answering mid-upload would reset the client's connection
     * before it reads the answer), and its bytes are no longer kept.
     */
    const firstOf = (name: string): boolean => {
      if (!opts.once?.has(name)) return true;
      if (!seen.has(name)) {
        seen.add(name);
        return true;
      }
      repeated ??= invalid(`the upload has '${name}' more than once; send it once.`);
      body.chunks = [];
      return false;
    };
    const boundary = headerParams(String(req.headers['content-type'])).find(([k]) => k === 'boundary');
    const checkHeaders = boundary ? partHeaderCheck(boundary[1]) : undefined;
    const onData = (chunk: Buffer) => {
      body.size += chunk.length;
      if (body.size > limit) return fail(tooLarge());
      const refused = heldUpFront ? undefined : opts.hold?.add(chunk.length);
      if (refused) return fail(refused);
      const why = repeated ? undefined : checkHeaders?.(chunk);
      if (why) {
        // Refused once it has arrived, as a repeated part is (below).
        repeated = invalid(
          `the upload has ${why}, which parsers read differently; send each part with one Content-Disposition and each parameter once.`,
        );
        body.chunks = [];
      }
      if (!repeated) body.chunks.push(chunk);
    };
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(invalid(`the form field '${name}' is longer than 1 MB.`));
      if (!firstOf(name)) return;
      body.fields[name] = value;
    });
    parser.on('file', (field, stream, info) => {
      if (!firstOf(field)) {
        stream.resume();
        return;
      }
      readFilePart(state, field, stream, info, fail);
    });
    parser.on('filesLimit', () => fail(invalid('the multipart body has more than 32 files.')));
    parser.on('fieldsLimit', () => fail(invalid('the multipart body has more than 64 fields.')));
    parser.on('error', (err: Error) =>
      fail(
        invalid(`the multipart body could not be read (${err.message}); the upload may have been cut short.`),
      ),
    );
    parser.on('close', () => {
      parsed = true;
      void done();
    });
    req.on('data', onData);
    req.once('end', () => void done());
    req.once('error', () =>
      fail(
        invalid(
          req.complete
            ? 'the request body could not be read.'
            : 'the client closed the connection mid-upload; nothing was forwarded.',
        ),
      ),
    );
    req.once('close', () => {
      if (!req.complete) fail(invalid('the client closed the connection mid-upload; nothing was forwarded.'));
    });
    req.pipe(parser);
  });
}
