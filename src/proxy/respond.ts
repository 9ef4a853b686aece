import type { ServerResponse } from 'node:http';
import { type ErrorShape, errorBody, type GatewayError } from '../errors.js';

/** Sends a JSON body, unless the client is gone or a response already started. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** Sends a gateway error in the route's shape; a response already under way is cut off instead. */
export function sendError(res: ServerResponse, err: GatewayError, shape: ErrorShape): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, errorBody(err, shape), err.headers);
}
