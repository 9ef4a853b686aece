/**
 * How long `tollgate validate` takes on a 10,000-key keys.yaml: generates the file in memory and
 * times loadConfig (parse → schema → normalize → rules), the whole of validate but reading the
 * file. Prints the median of several runs, for a valid file and for one with a problem to locate. Run with `npm run bench:validate`.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config/load/load.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

function generate(keys: number): string {
  const lines = [
    'version: 1',
    'server:',
    '  timezone: Europe/Berlin',
    'upstreams:',
    '  openai:',
    '    base_url: https://api.openai.com/v1',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: keys.yaml's own ${ENV} syntax, not a template
    '    api_key: ${OPENAI_API_KEY}',
    '  anthropic:',
    '    base_url: https://api.anthropic.com/v1',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: keys.yaml's own ${ENV} syntax, not a template
    '    api_key: ${ANTHROPIC_API_KEY}',
    '    format: anthropic',
    'models:',
    '  gpt-4o-mini: { upstream: openai, input_per_mtok: 0.15, output_per_mtok: 0.6 }',
    '  gpt-4o: { upstream: openai, input_per_mtok: 2.5, output_per_mtok: 10 }',
    '  claude-sonnet-4-5: { upstream: anthropic, input_per_mtok: 3, output_per_mtok: 15 }',
    'defaults:',
    '  limits: { daily_usd: 1, rpm: 30 }',
    'keys:',
  ];
  for (let i = 0; i < keys; i++) {
    const hash = createHash('sha256').update(`bench-key-${i}`).digest('hex');
    lines.push(
      `  key-${i}:`,
      `    hash: sha256:${hash}`,
      `    description: generated key number ${i}`,
      `    owner: team-${i % 50}`,
      '    limits:',
      `      daily_usd: ${(i % 20) + 1}`,
      '      monthly_usd: 100',
      '      rpm: 60',
      '    models: [gpt-4o-mini, "claude-*"]',
      // A year of different expiry dates, so date resolution is not a single cached value.
      `    expires: 2099-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
      `    tags: { env: ${i % 2 ? 'prod' : 'dev'}, team: t${i % 50} }`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function measure(label: string, text: string, expectProblems: boolean): void {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const times: number[] = [];
  let keyCount = 0;
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    const result = loadConfig(text, { file: 'bench.yaml', now });
    times.push(performance.now() - start);
    const problems = result.errors.length + result.warnings.length;
    if (result.errors.length > 0 && !expectProblems) throw new Error(`invalid: ${result.errors[0]?.message}`);
    if (expectProblems && problems === 0) throw new Error('expected a problem to report');
    keyCount = Object.keys(result.config?.keys ?? {}).length;
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? 0;
  console.log(
    `${label}: ${keyCount} keys (${(text.length / 1024).toFixed(0)} KiB), median ${median.toFixed(0)} ms over ${RUNS} runs (min ${times[0]?.toFixed(0)} ms, max ${times[times.length - 1]?.toFixed(0)} ms)`,
  );
}

const text = generate(KEYS);
measure('valid file', text, false);
// One expired key: the problem needs a line and column, so the position-aware parser runs too.
measure('file with one warning', text.replace('expires: 2099-01-01', 'expires: 2020-01-01'), true);
