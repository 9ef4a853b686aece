/**
 * Which API a request speaks, one per route of the route table (proxy/routes.ts). It lives here,
 * a floor below policy and the proxy, because metering (what an answer hides or adds to the bill)
 * and policy (what a request may do) both decide by it.
 */
export type RouteKind =
  | 'chat'
  | 'completions'
  | 'embeddings'
  | 'responses'
  | 'messages'
  | 'count_tokens'
  | 'models'
  | 'images_generations'
  | 'images_edits'
  | 'speech'
  | 'transcriptions'
  | 'translations'
  | 'moderations';
