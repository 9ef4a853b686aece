import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load/load.js';
import { usageByGroup } from '../metering/usage-by-group.js';
import { renderUsage } from '../metering/usage-report.js';
import { DEFAULT_CONFIG_FILE, resolveStoreUrl } from '../ops/settings.js';
import { parseSince, parseUntil } from '../ops/time-args.js';
import { openStore } from '../store/open.js';
import { argsError } from './args-error.js';
import type { Command } from './io.js';

const HELP = `Usage: tollgate usage [--key NAME] [--since 7d|DATE] [--until DATE]
                      [--by key|model|day|status|group|hash] [--format table|csv|json]
                      [--config F] [--store URL]

Prints spend, requests, tokens and errors from the store, one row per group (default --by key,
--since 7d). Dates are local days in server.timezone of the config. --by group folds the keys
into the groups the config puts them in. --by hash gives one row per key and hash prefix (the
first 12 hex digits of the sha256 in keys.yaml) with when it was last used: after
'tollgate keys rotate', the old hash can go once its row stops growing.
`;

const GROUPS = ['key', 'model', 'day', 'status', 'group', 'hash'] as const;
type UsageBy = (typeof GROUPS)[number];
const FORMATS = ['table', 'csv', 'json'] as const;

export const usage: Command = async (argv, io) => {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    io.stderr(`tollgate usage: ${argsError(err)} Run 'tollgate usage --help'.\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  const by = (values.by ?? 'key') as UsageBy;
  const format = values.format ?? 'table';
  if (!GROUPS.includes(by)) return fail(io, `--by must be one of ${GROUPS.join(', ')}; got '${by}'.`);
  if (!(FORMATS as readonly string[]).includes(format)) {
    return fail(io, `--format must be one of ${FORMATS.join(', ')}; got '${format}'.`);
  }

  // The config gives the timezone and the file's store; usage still works without a readable config.
  const file = values.config ?? io.env.TOLLGATE_CONFIG ?? DEFAULT_CONFIG_FILE;
  const text = await readFile(file, 'utf8').catch(() => null);
  if (values.config && text === null) {
    return fail(io, `cannot read the config file ${file}: it does not exist or is not readable.`);
  }
  const config = text === null ? undefined : loadConfig(text, { file, now: Date.now() }).config;
  if (values.config && !config)
    return fail(io, `the config file ${file} is invalid: run 'tollgate validate ${file}'.`);
  const tz = config?.server.timezone ?? 'UTC';

  let since: number;
  let until: number;
  const now = Date.now();
  try {
    since = parseSince(values.since ?? '7d', now, tz);
    until = values.until ? parseUntil(values.until, tz) : now + 1;
  } catch (err) {
    return fail(io, (err as Error).message);
  }

  const url = resolveStoreUrl(values.store, io.env, config);
  let store: Awaited<ReturnType<typeof openStore>>;
  try {
    store = await openStore(url, { mustExist: true });
  } catch (err) {
    return fail(io, `cannot open the store ${redactUrl(url)}: ${(err as Error).message}.`);
  }
  try {
    const query = {
      since,
      until,
      by: by === 'group' ? 'key' : by,
      ...(values.key ? { key: values.key } : {}),
    };
    const rows = await store.queryUsage(query, tz);
    io.stdout(renderUsage(by === 'group' ? usageByGroup(rows, config) : rows, by, format));
    return 0;
  } finally {
    await store.close();
  }
};

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      key: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      by: { type: 'string' },
      format: { type: 'string' },
      config: { type: 'string' },
      store: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
}

function fail(io: { stderr(t: string): void }, message: string): number {
  io.stderr(`tollgate usage: ${message}\n`);
  return 1;
}

/** Never print a database password. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}
