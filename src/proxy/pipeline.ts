import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from './context.js';
import type { FinishRequest } from './finish.js';
import type { UpstreamAgents } from './forward.js';
import { modelsList } from './models-list.js';
import type { ProxyDeps } from './proxy-deps.js';
import { sendJson } from './respond.js';
import { admitKey, admitRequest, refuseUnknownRoute } from './stages/admit.js';
import { exchange } from './stages/exchange.js';
import { reserve } from './stages/reserve.js';
import { refusedOutcome, settleExchange, settleRefusal } from './stages/settle.js';
import { translatorFor } from './translators/table.js';
import { createUploadHolds, type UploadLimits } from './upload-holds.js';

/** Placeholder for `x-tollgate-key` until a key is known (not a valid key name, so never ambiguous). */
export const NO_KEY = '-';

/**
 * The request path (docs/api.md#errors), in four stages (src/proxy/stages/), each handing the next its
 * typed result: admit (route → key present, well-formed, known → disabled → expired → body →
 * model → allow-list → upstream key) → reserve (rate limit → budget) → exchange (forward →
 * meter) → settle. Every path through it, refusals and crashes included, ends in exactly one
 * `finish`: an exchange's own, or the one in the catch below.
 */
export function createPipeline(parts: {
  deps: ProxyDeps;
  agents: UpstreamAgents;
  finish: FinishRequest;
  uploadLimits?: UploadLimits;
}) {
  const { deps, agents, finish } = parts;
  const uploads = createUploadHolds(parts.uploadLimits);

  const serve = async (ctx: RequestContext, req: IncomingMessage, res: ServerResponse) => {
    const route = ctx.route;
    if (!route) throw refuseUnknownRoute(ctx, req, res);
    const caller = admitKey(deps, ctx, req, res);
    const translator = translatorFor(route);
    if (!translator) {
      // GET /v1/models: answered by the gateway itself, from the key's allow-list.
      const body = modelsList(ctx.loaded.config, caller.key, req.url);
      await finish(ctx, refusedOutcome(200, null), () => sendJson(res, 200, body));
      return;
    }
    // An upload is read before its rate slot: its bytes are capped per key and in all until it ends.
    const hold = translator.read ? uploads.hold(caller.key.name) : undefined;
    try {
      const admission = await admitRequest(deps, ctx, req, route, translator, caller, hold);
      const reservation = await reserve(deps, ctx, res, admission);
      const exchanged = await exchange(deps, agents, ctx, req, res, admission, reservation);
      await settleExchange(finish, ctx, res, admission, exchanged);
    } finally {
      hold?.release();
    }
  };

  /** Serves one request; never rejects. */
  return async (ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await serve(ctx, req, res);
    } catch (thrown) {
      await settleRefusal(deps, finish, ctx, res, thrown);
    }
  };
}
