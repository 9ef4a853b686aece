import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { billedUpstreams, checkDay, previousUtcDay } from '../billing/check-day.js';
import { renderBillTable } from '../billing/render.js';
import { systemClock } from '../clock.js';
import { loadConfig } from '../config/load/load.js';
import { maskSecrets, upstreamSecretsOf } from '../keys/mask-secrets.js';
import { DEFAULT_CONFIG_FILE, resolveStoreUrl } from '../ops/settings.js';
import { maskStoreWrites } from '../store/masked-store.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { argsError } from './args-error.js';
import { isCalendarDay } from './digest.js';
import type { CliIO, Command } from './io.js';
import { redactUrl } from './usage.js';

const HELP = `Usage: tollgate reconcile [--date YYYY-MM-DD] [--upstream NAME] [--format table|json] [--config F] [--store URL]

The bill check for one UTC day (default: yesterday, UTC): what tollgate metered for each upstream
with a billing: section, set against the provider's own usage report (and, with a project_id or
workspace_id, its cost report), per model. Each row's verdict is match, unmetered (the provider
counted more: the upstream key is used elsewhere — rotate it), overmetered, mispriced (tokens
match, dollars do not: a price is out of date) or unavailable (the provider's report could not
be read). The rows are kept in the store, where the dashboard shows them. See docs/bill-check.md.

  --date D         the UTC day to check, YYYY-MM-DD
  --upstream NAME  only this upstream
  --format F       table (default) or json
  --config F       keys.yaml (default config/keys.yaml, or $TOLLGATE_CONFIG)
  --store URL      sqlite:PATH or postgres://… (default $TOLLGATE_STORE, then server.store,
                   then sqlite:data/tollgate.db)

Needs each upstream's admin key in the environment (billing.admin_key names the variable).
`;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      date: { type: 'string' },
      upstream: { type: 'string' },
      format: { type: 'string' },
      config: { type: 'string' },
      store: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}

function fail(io: CliIO, message: string, code = 1): number {
  io.stderr(`tollgate reconcile: ${message}\n`);
  return code;
}

export const reconcile: Command = async (argv, io) => {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    return fail(io, `${argsError(err)} Run 'tollgate reconcile --help'.`, 2);
  }
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json')
    return fail(io, `--format must be table or json; got '${format}'.`, 2);
  if (values.date !== undefined && !isCalendarDay(values.date)) {
    return fail(io, `--date must be a day written YYYY-MM-DD; got '${values.date}'.`, 2);
  }
  const now = systemClock();
  const date = values.date ?? previousUtcDay(now);
  const file = resolve(io.cwd, values.config ?? io.env.TOLLGATE_CONFIG ?? DEFAULT_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return fail(io, `cannot read the config file ${file}: ${(err as Error).message}.`);
  }
  const config = loadConfig(text, { file, now }).config;
  if (!config) return fail(io, `config ${file} is invalid; run 'tollgate validate ${file}'.`);
  const upstreams = billedUpstreams(config, values.upstream);
  if (values.upstream !== undefined && upstreams.length === 0) {
    return fail(io, `upstream '${values.upstream}' does not exist or has no billing: section.`, 2);
  }
  const secrets = upstreamSecretsOf(config, io.env);
  const url = resolveStoreUrl(values.store, io.env, config);
  let store: Store;
  try {
    store = maskStoreWrites(await openStore(url, { mustExist: true }), (s) => maskSecrets(s, secrets));
  } catch (err) {
    return fail(io, `cannot open the store ${redactUrl(url)}: ${(err as Error).message}.`);
  }
  try {
    const rows = await checkDay({ config, store, env: io.env, now: systemClock }, date, values.upstream);
    io.stdout(format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : renderBillTable(rows));
    return 0;
  } catch (err) {
    return fail(io, maskSecrets(`the bill check for ${date} failed: ${(err as Error).message}`, secrets));
  } finally {
    await store.close();
  }
};
