import { CATALOG_VERSION, isCatalogProvider, lookupCatalog } from '../../pricing/catalog.js';
import { pickPeriod } from '../../pricing/pricing.js';
import { ownEntry } from '../own.js';
import type { KeysFile } from '../types.gen.js';
import type { Config } from '../types.js';
import { errorAt, type Finding, warningAt } from './finding.js';

/**
 * The price rules (docs/configuration.md#prices-and-the-catalog): a model with no explicit price and no
 * catalog entry cannot be metered, so a budget could not be hard (error, naming it); an explicit price far
 * from the catalog's is likely a typo that silently mis-meters everything (warning); an upstream's `provider`
 * must be one the catalog knows.
 */

type RuleContext = { raw: KeysFile; config: Config; now: number };

/** An explicit price this far from the catalog's (as a fraction of it) draws a warning. */
const DRIFT = 0.5;

const FIELDS = [
  ['input_per_mtok', 'input', 'input'],
  ['output_per_mtok', 'output', 'output'],
  ['cached_input_per_mtok', 'cachedInput', 'cacheRead'],
  ['cache_write_per_mtok', 'cacheWrite', 'cacheWrite'],
  ['input_audio_per_mtok', 'inputAudio', 'inputAudio'],
  ['output_audio_per_mtok', 'outputAudio', 'outputAudio'],
] as const;

export function checkPrices({ raw, config, now }: RuleContext): Finding[] {
  const out: Finding[] = [];
  for (const [name, u] of Object.entries(raw.upstreams ?? {})) {
    if (u?.provider !== undefined && !isCatalogProvider(u.provider)) {
      out.push(
        errorAt(
          ['upstreams', name, 'provider'],
          `upstream '${name}' names provider '${u.provider}', which the price catalog (${CATALOG_VERSION}) does not know: use its id (e.g. openai, anthropic, google, mistral, openrouter) or leave provider out`,
        ),
      );
    }
  }
  for (const [name, m] of Object.entries(raw.models ?? {})) {
    const model = ownEntry(config.models, name);
    if (!m || !model || model.glob) continue;
    const upstream = ownEntry(config.upstreams, model.upstream);
    if (model.prices.length === 0 && !model.units) {
      const missing = [
        m.input_per_mtok === undefined ? 'input_per_mtok' : undefined,
        m.output_per_mtok === undefined ? 'output_per_mtok' : undefined,
      ].filter(Boolean);
      const where = upstream?.provider ? ` (provider ${upstream.provider})` : '';
      out.push(
        errorAt(
          ['models', name],
          `model '${name}' has no price: the price catalog (${CATALOG_VERSION}) does not know it${where} and keys.yaml sets no ${missing.join(' or ')}; a budget cannot be hard without a price, so set ${missing.join(' and ')} (USD per million tokens)${mediaHint(name)}`,
        ),
      );
      continue;
    }
    if (Object.keys(model.explicit).length === 0) continue;
    const catalog = lookupCatalog(name, upstream?.provider);
    if (!catalog) continue;
    const period = pickPeriod(catalog.periods, now);
    for (const [field, own, kind] of FIELDS) {
      const mine = model.explicit[own];
      const theirs = period.prices[kind]?.base;
      if (mine === undefined || theirs === undefined || theirs <= 0) continue;
      if (Math.abs(mine - theirs) / theirs > DRIFT) {
        out.push(
          warningAt(
            ['models', name, field],
            `model '${name}' sets ${field}: ${mine}, ${describe(mine, theirs)} the catalog's ${theirs} (${CATALOG_VERSION}, ${catalog.id}): check it for a typo, or remove it to use the catalog's`,
          ),
        );
      }
    }
  }
  return out;
}

function describe(mine: number, theirs: number): string {
  const ratio = mine / theirs;
  return ratio >= 1 ? `${round(ratio)} x` : `${round(1 / ratio)} x less than`;
}

const round = (x: number) => (x >= 10 ? Math.round(x) : Math.round(x * 10) / 10);

/** Names of image and audio models, which are priced per image, character or minute instead. */
const MEDIA_NAME = /(dall-e|image|tts|whisper|transcribe|speech|audio)/i;

function mediaHint(name: string): string {
  return MEDIA_NAME.test(name)
    ? ', or for an image or audio model a unit price: image_usd (USD per image), input_per_mchar (USD per million input characters) or audio_per_minute (USD per minute of audio)'
    : '';
}
