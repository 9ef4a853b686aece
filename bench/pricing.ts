/**
 * What pricing costs on the hot path: the gateway's price tables (resolved once per model when the
 * config loads) against asking the catalog (`calcPrice` of @pydantic/genai-prices) per request,
 * plus resolving a name a client sends (exact, dated snapshot, glob) and loading a config whose
 * models all take their prices from the catalog. Prints nanoseconds per call, median of several
 * runs. Run with `npm run bench:pricing`.
 */
import { performance } from 'node:perf_hooks';
import { calcPrice } from '@pydantic/genai-prices';
import { loadConfig } from '../src/config/load/load.js';
import { resolveModelName } from '../src/policy/model-names.js';
import { lookupCatalog } from '../src/pricing/catalog.js';
import { costOf } from '../src/pricing/pricing.js';

const N = Number(process.env.BENCH_CALLS ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function time(label: string, calls: number, fn: (i: number) => unknown): void {
  let sink = 0;
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) if (fn(i)) sink++;
    runs.push(((performance.now() - t0) * 1e6) / calls);
  }
  console.log(`${label.padEnd(58)} ${median(runs).toFixed(0).padStart(8)} ns/call${sink < 0 ? '' : ''}`);
}

const env = (name: string) => `"\${${name}}"`;
const yaml = `version: 1
upstreams:
  openai: { base_url: https://api.openai.com/v1, api_key: ${env('OPENAI_API_KEY')} }
  anthropic: { base_url: https://api.anthropic.com/v1, api_key: ${env('ANTHROPIC_API_KEY')}, format: anthropic }
models:
  gpt-4o-mini: { upstream: openai }
  gpt-4o: { upstream: openai }
  o3: { upstream: openai }
  claude-sonnet-4-5: { upstream: anthropic }
  "claude-*": { upstream: anthropic }
keys: {}
`;
const now = Date.now();
const config = loadConfig(yaml, { file: 'bench.yaml', now }).config;
if (!config)
  throw new Error(`bench config is invalid: ${JSON.stringify(loadConfig(yaml, { file: 'b', now }).errors)}`);
const sonnet = config.models['claude-sonnet-4-5'];
if (!sonnet) throw new Error('no sonnet');

const usage = {
  inputTokens: 20_512,
  cachedTokens: 18_000,
  cacheWriteTokens: 2_500,
  cacheWrite1hTokens: 500,
  outputTokens: 640,
};
const catalogUsage = {
  input_tokens: 20_512,
  cache_read_tokens: 18_000,
  cache_write_tokens: 2_500,
  cache_write_1h_tokens: 500,
  output_tokens: 640,
};

console.log(`pricing, ${N} calls x ${RUNS} runs, median`);
time('costOf: price table, tiered model (gateway, per request)', N, () => costOf(usage, sonnet, now) > 0);
const o3 = config.models.o3;
if (o3) time('costOf: price table, model priced by date', N, () => costOf(usage, o3, now) > 0);
time(
  'calcPrice per request (catalog lookup + price)',
  N / 20,
  () => (calcPrice(catalogUsage, 'claude-sonnet-4-5', { providerId: 'anthropic' })?.total_price ?? 0) > 0,
);
time('resolveModelName: exact entry', N, () => resolveModelName(config, 'gpt-4o-mini', now).model);
time(
  'resolveModelName: dated snapshot (cached per config)',
  N,
  () => resolveModelName(config, 'claude-sonnet-4-5-20250929', now).model,
);
time(
  'resolveModelName: glob-served name (cached per config)',
  N,
  () => resolveModelName(config, 'claude-haiku-4-5-20251001', now).model,
);
time('lookupCatalog: a new name behind a glob (first request only)', N / 20, () =>
  lookupCatalog('claude-haiku-4-5-20251001', 'anthropic'),
);
time('loadConfig: 5 catalog-priced models, 0 keys', 200, () => loadConfig(yaml, { file: 'b', now }).config);
