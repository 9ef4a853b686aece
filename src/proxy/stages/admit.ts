import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GroupConfig, KeyConfig } from '../../config/types.js';
import { GatewayError } from '../../errors.js';
import { fingerprintRequest, fingerprintUpload } from '../../insights/fingerprint.js';
import { authenticateKey, identifyKey } from '../../policy/authenticate.js';
import { type BudgetPlan, groupOfKey, planBudget } from '../../policy/budget.js';
import { checkKeyUsable } from '../../policy/key-usable.js';
import { type ModelRoute, resolveModel } from '../../policy/model-access.js';
import type { RequestContext } from '../context.js';
import type { ProxyDeps } from '../proxy-deps.js';
import { readBody } from '../read-body.js';
import type { Route } from '../routes.js';
import type { RequestBound, Translator, WireRequest } from '../translators/translator.js';
import type { UploadHold } from '../upload-holds.js';

/*
 * Stage 1 of 4, admit: who asks (the key: present, well-formed, known, not disabled, not
 * expired), for what (the body, its model: known, allowed to the key, its upstream's key in the
 * environment), and the most it can cost (the route's translator bounds it). Nothing is held
 * yet: a refusal here releases nothing. Next: reserve.ts.
 */

/** The key a request runs under, and the budget windows its cost is charged to. */
export interface Caller {
  key: KeyConfig;
  group: GroupConfig | undefined;
  budget: BudgetPlan;
}

/** An admitted request: what reserve and exchange need of it. */
export interface Admission {
  route: Route;
  caller: Caller;
  translator: Translator;
  request: WireRequest;
  target: ModelRoute;
  bound: RequestBound;
}

/** The key as the response and the record name it, once known. */
function recordKey(ctx: RequestContext, res: ServerResponse, key: KeyConfig): void {
  ctx.draft.key = key;
  res.setHeader('x-tollgate-key', key.name);
}

/** 404 for a path tollgate does not serve, recorded under the key it carries if that key is known. */
export function refuseUnknownRoute(
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
): GatewayError {
  const known = identifyKey(req.headers, ctx.loaded);
  if (known) recordKey(ctx, res, known);
  return new GatewayError(
    'not_found',
    `tollgate has no route ${req.method} ${ctx.pathname}; it serves POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses, /v1/messages, /v1/messages/count_tokens, /v1/images/generations, /v1/images/edits, /v1/audio/speech, /v1/audio/transcriptions, /v1/audio/translations, /v1/moderations and GET /v1/models.`,
  );
}

/** The key, in the order of docs/api.md: present, well-formed, known; then disabled, then expired. */
export function admitKey(
  deps: ProxyDeps,
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
): Caller {
  const { config } = ctx.loaded;
  const { config: key, hash } = authenticateKey(req.headers, ctx.loaded);
  recordKey(ctx, res, key);
  ctx.draft.keyHash = keyHashPrefix(hash);
  const group = groupOfKey(key, config.groups);
  const budget = planBudget(key, ctx.local, group);
  ctx.draft.periods = budget.periods;
  checkKeyUsable(key, deps.disables.get(key.name), ctx.ts, config.server.timezone);
  return { key, group, budget };
}

/** The body and the model it names, and the request's bound. */
export async function admitRequest(
  deps: ProxyDeps,
  ctx: RequestContext,
  req: IncomingMessage,
  route: Route,
  translator: Translator,
  caller: Caller,
  hold?: UploadHold,
): Promise<Admission> {
  const { draft } = ctx;
  const key = caller.key;
  const request = translator.read
    ? await translator.read(req, route, hold)
    : translator.parse(await readBody(req), req.headers);
  draft.stream = request.stream;
  // Which tool asks for a model it may not use, or one that does not exist, is worth recording.
  const requestedModel =
    typeof request.model === 'string' && request.model !== '' ? request.model.slice(0, 200) : undefined;
  if (requestedModel !== undefined) draft.requestedModel = requestedModel;
  translator.check(request, route, key);
  const target = resolveModel(request.model, ctx.loaded.config, key, deps.env, ctx.ts);
  draft.model = target.model;
  draft.upstream = target.upstream;
  // One keyed SHA-256 pass over bytes already held, nothing serialized (bench/fingerprint.ts).
  if (deps.fingerprintSecret)
    draft.fingerprints = request.upload
      ? fingerprintUpload(
          deps.fingerprintSecret,
          ctx.pathname,
          target.model.name,
          request.fields,
          request.upload.files,
        )
      : fingerprintRequest(
          deps.fingerprintSecret,
          ctx.pathname,
          target.model.name,
          request.raw,
          request.fields,
        );
  const bound = translator.bound(request, {
    route,
    key,
    target,
    requestedModel,
    headers: req.headers,
    ts: ctx.ts,
  });
  return { route, caller, translator, request, target, bound };
}

/** `sha256:<64 hex>` → its first 12 hex digits, as the usage record keeps them. */
export function keyHashPrefix(hash: string): string {
  return hash.slice(hash.indexOf(':') + 1, hash.indexOf(':') + 13);
}
