import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler, Response } from 'express';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ClaimStore } from '../store/types.js';

/** Slack's own replay window, applied in both directions. */
export const SLACK_TOLERANCE_SEC = 5 * 60;
const BODY_LIMIT_BYTES = 1024 * 1024;
/**
 * A signature can only be replayed while its timestamp is within the tolerance of our clock, so a
 * claim older than twice the tolerance (plus slack) can never refuse anything: forget it.
 */
const SIGNATURE_RETENTION_MS = 3 * SLACK_TOLERANCE_SEC * 1000;
const PRUNE_EVERY_MS = 60_000;

/**
 * Runs before Bolt on POST /slack/events and adds what Bolt does not check: a timestamp too far
 * in the future (Bolt only refuses old ones, against the wall clock rather than our clock) and a
 * replay of a request already seen. The signature is checked here first so that a forger cannot
 * burn a genuine signature in the shared replay table; Bolt then verifies it again.
 * The raw body is handed to Bolt as `req.rawBody`, which its receiver reads instead of the stream.
 */
export function createRequestGuard(deps: {
  signingSecret: string;
  store: Pick<ClaimStore, 'claimOnce' | 'pruneClaims'>;
  clock: Clock;
  log: Logger;
}): RequestHandler {
  let lastPrune = 0;
  const pruneOldSignatures = (now: number) => {
    if (now - lastPrune < PRUNE_EVERY_MS) return;
    lastPrune = now;
    deps.store
      .pruneClaims('slack-signature', now - SIGNATURE_RETENTION_MS)
      .catch((err: unknown) => deps.log.warn({ err }, 'could not prune old Slack signatures'));
  };
  return async (req, res, next) => {
    const tsHeader = req.headers['x-slack-request-timestamp'];
    const signature = req.headers['x-slack-signature'];
    const ts = Number(tsHeader);
    if (typeof tsHeader !== 'string' || typeof signature !== 'string' || !Number.isFinite(ts)) {
      return refuse(res, 'the request has no Slack signature headers');
    }
    const skew = Math.abs(deps.clock() / 1000 - ts);
    if (skew > SLACK_TOLERANCE_SEC) {
      deps.log.warn(
        { skewSec: Math.round(skew) },
        'refused a Slack request with a timestamp more than 5 minutes off',
      );
      return refuse(res, 'the request timestamp is more than 5 minutes off');
    }
    if (req.readableEnded) {
      // Someone mounted a body parser in front of this route: the raw bytes the signature covers are gone.
      deps.log.error('a body parser consumed a Slack request before its signature could be checked');
      res.status(500).json({
        error: {
          message: 'Slack route misconfigured.',
          type: 'api_error',
          code: 'internal_error',
          param: null,
        },
      });
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, BODY_LIMIT_BYTES);
    } catch {
      res.status(413).json({
        error: {
          message: 'Slack request body too large or unreadable.',
          type: 'invalid_request_error',
          code: 'request_too_large',
          param: null,
        },
      });
      return;
    }
    if (!signatureMatches(deps.signingSecret, tsHeader, body, signature)) {
      deps.log.warn('refused a Slack request with a bad signature');
      return refuse(res, 'the request signature does not match');
    }
    try {
      // Shared through the store so that a replay sent to another replica is refused as well.
      if (!(await deps.store.claimOnce('slack-signature', signature, deps.clock()))) {
        deps.log.warn('refused a replayed Slack request');
        return refuse(res, 'the request was already received');
      }
    } catch (err) {
      deps.log.error({ err }, 'could not check a Slack request for replay: the store is unavailable');
      res.status(503).json({
        error: {
          message: 'The store is unavailable.',
          type: 'api_error',
          code: 'store_unavailable',
          param: null,
        },
      });
      return;
    }
    pruneOldSignatures(deps.clock());
    (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
    next();
  };
}

/** Slack's scheme: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the signing secret. */
export function signatureMatches(
  secret: string,
  timestamp: string,
  body: Buffer,
  signature: string,
): boolean {
  const expected = Buffer.from(
    `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest('hex')}`,
  );
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function refuse(res: Response, why: string): void {
  res.status(401).json({
    error: {
      message: `Slack request refused: ${why}.`,
      type: 'invalid_request_error',
      code: 'unauthorized',
      param: null,
    },
  });
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Past the limit, keep draining without keeping the bytes so that the 413 can still be sent.
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () =>
      size > limit ? reject(new Error('body too large')) : resolve(Buffer.concat(chunks)),
    );
    req.on('error', reject);
  });
}
