import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load/load.js';
import { ownEntry } from '../config/own.js';
import type { Config, ModelConfig, PriceSource } from '../config/types.js';
import { unitPriceText } from '../metering/media-prices.js';
import { DEFAULT_CONFIG_FILE } from '../ops/settings.js';
import { isModelAllowed } from '../policy/model-access.js';
import { globCatalogIds, resolveModelName } from '../policy/model-names.js';
import { CATALOG_VERSION } from '../pricing/catalog.js';
import { flat, type PriceTable, pickPeriod, type Tiered } from '../pricing/pricing.js';
import { argsError } from './args-error.js';
import type { Command } from './io.js';

const HELP = `Usage: tollgate models [--key NAME] [--format table|json] [--config F]

The models the gateway serves (with --key, the ones that key may use): upstream, USD per million
tokens for input, cached input (cache reads), cache writes and output, the most output one request
may produce, prices per image, character or minute of audio (image and audio models), and where
each price comes from: keys.yaml, or the price catalog bundled with tollgate
(${CATALOG_VERSION}). A glob entry such as "claude-*" lists the catalog models it serves. Reads only
the config (--config, $TOLLGATE_CONFIG or ${DEFAULT_CONFIG_FILE}); needs no secrets and no network.

  --format table   one row per model (default)
  --format json    {"catalog", "models": [{"model", "entry", "upstream", "input_per_mtok", …}]}
`;

/** One model as `tollgate models` shows it. */
export interface ModelRow {
  model: string;
  /** The keys.yaml entry that serves it (the glob, for a model a glob serves). */
  entry: string;
  upstream: string;
  input_per_mtok: number;
  cached_input_per_mtok: number;
  cache_write_per_mtok: number;
  cache_write_1h_per_mtok: number;
  output_per_mtok: number;
  /** Long-context tiers: above `above_input_tokens` input tokens, these prices apply instead. */
  tiers: Array<{ above_input_tokens: number; input_per_mtok: number; output_per_mtok: number }>;
  max_output_tokens: number;
  sources: Record<'input' | 'output' | 'cached_input' | 'cache_write', PriceSource>;
  /** The catalog's id and version when any price comes from it. */
  catalog: string | null;
  /** Prices per image, character or minute of audio (docs/api.md#images-and-audio), in words. */
  unit_prices: string | null;
}

/** A model priced only per image, character or minute has no token prices: shown as 0. */
const NO_TOKEN_PRICES: PriceTable = {
  input: flat(0),
  cacheRead: flat(0),
  cacheWrite: flat(0),
  cacheWrite1h: flat(0),
  output: flat(0),
  perRequest: 0,
};

function rowOf(m: ModelConfig, entry: string, now: number): ModelRow {
  const t: PriceTable = m.prices.length > 0 ? pickPeriod(m.prices, now).table : NO_TOKEN_PRICES;
  const tierAt = (x: Tiered, start: number) =>
    x.tiers.filter((s) => s.start <= start).at(-1)?.price ?? x.base;
  const starts = [...new Set([...t.input.tiers, ...t.output.tiers].map((s) => s.start))].sort(
    (a, b) => a - b,
  );
  const s = m.priceSources;
  const fromCatalog = Object.values(s).includes('catalog');
  return {
    model: m.name,
    entry,
    upstream: m.upstream,
    input_per_mtok: t.input.base,
    cached_input_per_mtok: t.cacheRead.base,
    cache_write_per_mtok: t.cacheWrite.base,
    cache_write_1h_per_mtok: t.cacheWrite1h.base,
    output_per_mtok: t.output.base,
    tiers: starts.map((start) => ({
      above_input_tokens: start,
      input_per_mtok: tierAt(t.input, start),
      output_per_mtok: tierAt(t.output, start),
    })),
    max_output_tokens: m.maxOutputTokens,
    sources: { input: s.input, output: s.output, cached_input: s.cachedInput, cache_write: s.cacheWrite },
    catalog: fromCatalog ? `${CATALOG_VERSION} (${m.catalogId ?? m.name})` : null,
    unit_prices: unitPriceText(m, now) ?? null,
  };
}

/** Every model the config serves, or only those `keyName` may use, in config order. */
export function modelRows(config: Config, keyName: string | undefined, now: number): ModelRow[] {
  const key = keyName === undefined ? undefined : ownEntry(config.keys, keyName);
  const rows: ModelRow[] = [];
  const seen = new Set<string>();
  const add = (m: ModelConfig, entry: string) => {
    if (seen.has(m.name) || (key && !isModelAllowed(key, m.name))) return;
    seen.add(m.name);
    rows.push(rowOf(m, entry, now));
  };
  for (const m of Object.values(config.models)) {
    if (!m.glob) {
      add(m, m.name);
      continue;
    }
    for (const id of globCatalogIds(config, m)) {
      const served = resolveModelName(config, id, now).model;
      if (served) add(served, m.name);
    }
  }
  return rows;
}

const num = (x: number) => String(Number(x.toPrecision(6)));

function sourceText(r: ModelRow): string {
  const by = new Map<string, string[]>();
  for (const [kind, src] of Object.entries(r.sources)) {
    const label = src === 'default' ? 'default' : src;
    by.set(label, [...(by.get(label) ?? []), kind.replace('_', ' ')]);
  }
  if (by.size === 1) return [...by.keys()][0] === 'catalog' ? 'catalog' : ([...by.keys()][0] as string);
  return [...by.entries()].map(([src, kinds]) => `${src}: ${kinds.join(', ')}`).join('; ');
}

function renderTable(rows: ModelRow[]): string {
  const units = rows.some((r) => r.unit_prices !== null);
  const head = [
    'model',
    'upstream',
    'input',
    'cached',
    'cache write',
    'output',
    'max output',
    ...(units ? ['per unit'] : []),
    'prices from',
  ];
  const body = rows.map((r) => [
    r.entry === r.model ? r.model : `${r.model} (${r.entry})`,
    r.upstream,
    num(r.input_per_mtok) +
      r.tiers.map((t) => ` / ${num(t.input_per_mtok)} >${t.above_input_tokens / 1000}k`).join(''),
    num(r.cached_input_per_mtok),
    num(r.cache_write_per_mtok) +
      (r.cache_write_1h_per_mtok !== r.cache_write_per_mtok ? ` (1h ${num(r.cache_write_1h_per_mtok)})` : ''),
    num(r.output_per_mtok) +
      r.tiers.map((t) => ` / ${num(t.output_per_mtok)} >${t.above_input_tokens / 1000}k`).join(''),
    String(r.max_output_tokens),
    ...(units ? [r.unit_prices ?? '-'] : []),
    sourceText(r),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...body.map(line)].join('\n')}\n\nUSD per million tokens; catalog: ${CATALOG_VERSION}.\n`;
}

export const models: Command = async (argv, io) => {
  let values: { key?: string; format?: string; config?: string; store?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        key: { type: 'string' },
        format: { type: 'string' },
        config: { type: 'string' },
        // Accepted so one set of --config/--store flags works with every command; unused here.
        store: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.stderr(`tollgate models: ${argsError(err)} Run 'tollgate models --help'.\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') {
    io.stderr(`tollgate models: --format must be table or json; got '${format}'.\n`);
    return 2;
  }
  const file = values.config ?? io.env.TOLLGATE_CONFIG ?? DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    io.stderr(`tollgate models: cannot read ${file}: ${(err as Error).message}.\n`);
    return 2;
  }
  // The command line is the edge of the program: the one place this command reads the clock.
  const now = Date.now();
  const result = loadConfig(text, { file, now });
  if (!result.config) {
    io.stderr(`tollgate models: ${file} is invalid; run 'tollgate validate ${file}' to see why.\n`);
    return 1;
  }
  if (values.key !== undefined && !ownEntry(result.config.keys, values.key)) {
    io.stderr(`tollgate models: ${file} has no key '${values.key}'.\n`);
    return 1;
  }
  const rows = modelRows(result.config, values.key, now);
  io.stdout(
    format === 'json'
      ? `${JSON.stringify({ catalog: CATALOG_VERSION, models: rows }, null, 2)}\n`
      : renderTable(rows),
  );
  return 0;
};
