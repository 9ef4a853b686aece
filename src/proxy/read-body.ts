import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { checkJsonDepth } from './json-depth.js';
import { repeatedField } from './json-duplicates.js';

/** Prompts with images and long contexts run to tens of MB; beyond this the request is refused. */
export const BODY_LIMIT_BYTES = 32 * 1024 * 1024;

/**
 * docs/api.md#invalid_request-400 files "too large" under 400 invalid_request (not 413): clients and scripts
 * match on the code. The connection is closed rather than reading the rest of an oversized body to keep it.
 */
function tooLarge(limit: number): GatewayError {
  return new GatewayError(
    'invalid_request',
    `the request body is larger than tollgate's limit of ${Math.round(limit / 1024 / 1024)} MB; send less context or smaller images.`,
    { headers: { connection: 'close' } },
  );
}

/** Reads the whole request body, refusing it as soon as it passes `limit` bytes. */
export function readBody(req: IncomingMessage, limit = BODY_LIMIT_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: GatewayError) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        fail(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, size));
    });
    req.once('error', (err) =>
      fail(new GatewayError('invalid_request', 'the request body could not be read.', { cause: err })),
    );
    req.once('close', () => {
      if (!req.complete)
        fail(new GatewayError('invalid_request', 'the client closed the connection mid-body.'));
    });
  });
}

/** The body as a JSON object no deeper than MAX_JSON_DEPTH, or invalid_request. */
export function parseJsonBody(body: Buffer): Record<string, unknown> {
  // Bytes that are not UTF-8 decode to U+FFFD here and otherwise upstream, where two names the
  // gateway sees as different could be one (and the client's own bytes are what is forwarded).
  if (!isUtf8(body)) throw new GatewayError('invalid_request', 'the request body is not valid UTF-8.');
  let parsed: unknown;
  const text = body.toString('utf8');
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_request', 'the request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GatewayError('invalid_request', 'the request body must be a JSON object.');
  }
  checkJsonDepth(parsed, body.length);
  const repeated = repeatedField(text);
  if (repeated !== undefined) {
    const name = repeated.length > 40 ? `${repeated.slice(0, 39)}…` : repeated;
    throw new GatewayError(
      'invalid_request',
      `the request body names the field ${JSON.stringify(name)} twice in one object; JSON parsers differ on which copy counts, so the upstream could run another request than the one checked. Send each field once.`,
    );
  }
  return parsed as Record<string, unknown>;
}
