import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load/load.js';
import { computeInsights } from '../insights/compute.js';
import { renderJson, renderMarkdown, renderTable } from '../insights/render.js';
import { DEFAULT_CONFIG_FILE, resolveStoreUrl } from '../ops/settings.js';
import { parseSince, parseUntil } from '../ops/time-args.js';
import { openStore } from '../store/open.js';
import { argsError } from './args-error.js';
import type { CliIO, Command } from './io.js';
import { redactUrl } from './usage.js';

const HELP = `Usage: tollgate insights [--key NAME] [--since 7d|DATE] [--until DATE]
                         [--format table|json|markdown] [--config F] [--store URL]

Why each key costs what it costs (default --since 7d): long context, retries, loops, verbose
output, off-hours use, an expensive model for small requests, prompt prefixes sent again without
caching, several clients on one key, no spending limit. Each finding gives the dollars it covers,
its share of the key's spend, the requests involved, the numbers behind it, and the keys.yaml
change or client setting that would cut it. Findings under $0.01 or 5% of a key's spend are left
out. Dates are local days in server.timezone of the config; see docs/insights.md.

  --key NAME   one key only
  --since S    7d, 24h, a date (its local midnight) or an ISO time
  --until U    a date (through its end) or an ISO time; default now
  --format F   table (default), json (an array of {key, kind, usd, share, count, detail,
               suggestion}) or markdown
  --config F   keys.yaml (default config/keys.yaml, or $TOLLGATE_CONFIG)
  --store URL  sqlite:PATH or postgres://… (default $TOLLGATE_STORE, then server.store,
               then sqlite:data/tollgate.db)
`;

const FORMATS = ['table', 'json', 'markdown'] as const;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      key: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      format: { type: 'string' },
      config: { type: 'string' },
      store: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
}

function fail(io: CliIO, message: string, code = 1): number {
  io.stderr(`tollgate insights: ${message}\n`);
  return code;
}

export const insights: Command = async (argv, io) => {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    return fail(io, `${argsError(err)} Run 'tollgate insights --help'.`, 2);
  }
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  const format = values.format ?? 'table';
  if (!(FORMATS as readonly string[]).includes(format)) {
    return fail(io, `--format must be one of ${FORMATS.join(', ')}; got '${format}'.`, 2);
  }
  // Limits, models and prices come from the config; without one, the rules that need none still run.
  const file = values.config ?? io.env.TOLLGATE_CONFIG ?? DEFAULT_CONFIG_FILE;
  const text = await readFile(file, 'utf8').catch(() => null);
  if (values.config && text === null) {
    return fail(io, `cannot read the config file ${file}: it does not exist or is not readable.`);
  }
  const now = Date.now();
  const config = text === null ? undefined : loadConfig(text, { file, now }).config;
  if (values.config && !config)
    return fail(io, `the config file ${file} is invalid: run 'tollgate validate ${file}'.`);
  const tz = config?.server.timezone ?? 'UTC';
  let since: number;
  let until: number;
  try {
    since = parseSince(values.since ?? '7d', now, tz);
    until = values.until ? parseUntil(values.until, tz) : now + 1;
  } catch (err) {
    return fail(io, (err as Error).message);
  }
  if (until <= since) return fail(io, '--until must come after --since.');

  const url = resolveStoreUrl(values.store, io.env, config);
  let store: Awaited<ReturnType<typeof openStore>>;
  try {
    store = await openStore(url, { mustExist: true });
  } catch (err) {
    return fail(io, `cannot open the store ${redactUrl(url)}: ${(err as Error).message}.`);
  }
  try {
    const findings = await computeInsights({
      store,
      config,
      since,
      until,
      ...(values.key ? { key: values.key } : {}),
    });
    io.stdout(
      format === 'json'
        ? renderJson(findings)
        : format === 'markdown'
          ? renderMarkdown(findings)
          : renderTable(findings),
    );
    return 0;
  } finally {
    await store.close();
  }
};
