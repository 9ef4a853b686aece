import type { RouteKind } from '../../metering/route-kind.js';
import type { Route } from '../routes.js';
import { jsonTranslator } from './json.js';
import { imagesGenerationsTranslator, moderationsTranslator, speechTranslator } from './media-json.js';
import { imagesEditsTranslator, transcriptionTranslator } from './media-upload.js';
import type { Translator } from './translator.js';

/**
 * The translator of each forwarded route. GET /v1/models has none: the gateway answers it. A
 * route kind added to routes.ts without an entry here fails the type check.
 */
const TRANSLATORS: Record<Exclude<RouteKind, 'models'>, Translator> = {
  chat: jsonTranslator,
  completions: jsonTranslator,
  embeddings: jsonTranslator,
  responses: jsonTranslator,
  messages: jsonTranslator,
  count_tokens: jsonTranslator,
  images_generations: imagesGenerationsTranslator,
  images_edits: imagesEditsTranslator,
  speech: speechTranslator,
  transcriptions: transcriptionTranslator,
  translations: transcriptionTranslator,
  moderations: moderationsTranslator,
};

/** The route's translator; undefined for a route the gateway answers itself. */
export function translatorFor(route: Route): Translator | undefined {
  return route.kind === 'models' ? undefined : TRANSLATORS[route.kind];
}
