import type { IncomingMessage, ServerResponse } from 'node:http';
import { toGatewayError } from '../errors.js';
import { createInFlight } from '../in-flight.js';
import { createUsageWriter, type UsageWriterOptions } from '../metering/usage-writer.js';
import { createLocalDayCache } from '../windows/local-day.js';
import { createContext, type RequestContext } from './context.js';
import { answerPreflight, corsPolicy, setCorsHeaders } from './cors.js';
import { createFinisher } from './finish.js';
import { createAgents } from './forward.js';
import { createPipeline, NO_KEY } from './pipeline.js';
import type { ProxyDeps } from './proxy-deps.js';
import { newRequestId } from './request-id.js';
import { sendError } from './respond.js';
import type { UploadLimits } from './upload-holds.js';

export interface Gateway {
  /** The node:http handler for every `/v1/*` request. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Requests being served right now. */
  inFlight(): number;
  /**
   * Resolves when no request is in flight. After `timeoutMs` the remaining ones are cut off (and
   * metered as aborted); then waits briefly for their records and for usage writes still retrying.
   */
  drain(timeoutMs: number): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export function createGateway(
  deps: ProxyDeps,
  options: { usageWriter?: UsageWriterOptions; uploadLimits?: UploadLimits } = {},
): Gateway {
  const agents = createAgents();
  const localDay = createLocalDayCache();
  const writer = createUsageWriter(deps, options.usageWriter);
  const serve = createPipeline({
    deps,
    agents,
    finish: createFinisher(deps, writer),
    ...(options.uploadLimits ? { uploadLimits: options.uploadLimits } : {}),
  });
  // Not a Set: one entry per request on a structure that lives for good (in-flight.ts says why).
  const active = createInFlight<ServerResponse>();
  let waiters: Array<() => void> = [];

  const idle = () =>
    active.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve));

  return {
    handle: (req, res) => {
      let ctx: RequestContext;
      try {
        // Read once: the whole request runs under this config even if a reload lands meanwhile.
        const loaded = deps.config.current();
        const now = deps.clock();
        ctx = createContext(req, loaded, now, localDay(now, loaded.config.server.timezone));
      } catch (err) {
        // Nothing to meter against without a config; answer rather than crash the process.
        deps.log.error({ err }, 'could not start serving a request');
        res.setHeader('x-tollgate-request-id', newRequestId());
        res.setHeader('x-tollgate-key', NO_KEY);
        sendError(res, toGatewayError(err), 'openai');
        return;
      }
      res.setHeader('x-tollgate-request-id', ctx.requestId);
      res.setHeader('x-tollgate-key', NO_KEY);
      const origin = req.headers.origin;
      if (origin !== undefined) {
        const allowOrigin = corsPolicy(ctx.loaded.config).allow(origin);
        if (allowOrigin !== undefined) {
          // A preflight carries no key by design: answered here, before authentication, unmetered.
          if (req.method === 'OPTIONS') return answerPreflight(req, res, allowOrigin);
          setCorsHeaders(res, allowOrigin);
        }
      }
      const slot = active.add(res);
      serve(ctx, req, res)
        .catch((err: unknown) => {
          deps.log.error({ err, requestId: ctx.requestId }, 'unhandled error in the request path');
          if (!res.writableEnded) res.destroy();
        })
        .finally(() => {
          active.delete(slot);
          if (active.size === 0) {
            const wake = waiters;
            waiters = [];
            for (const w of wake) w();
          }
        });
    },
    inFlight: () => active.size,
    async drain(timeoutMs) {
      const drained = await Promise.race([idle().then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!drained) {
        deps.log.warn(
          { inFlight: active.size },
          'grace period over; cutting off the requests still in flight',
        );
        for (const res of active.values()) res.destroy();
        await Promise.race([idle(), sleep(2_000)]);
      }
      // Records that failed while the store was away are retried now, then any left are logged whole.
      await writer.flush(5_000);
      writer.close();
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
