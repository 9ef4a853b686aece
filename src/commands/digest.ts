import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../clock.js';
import { buildKeyIndex, loadConfig } from '../config/load/load.js';
import { createGitRevision } from '../config/reload/git-revision.js';
import { contentRevision } from '../config/reload/revision.js';
import type { LoadedConfig } from '../config/types.js';
import { createLogger, type Logger } from '../log.js';
import { DEFAULT_CONFIG_FILE, resolveStoreUrl } from '../ops/settings.js';
import { createDigestScheduler } from '../schedule/digest-scheduler.js';
import { createSlackWebClient } from '../slack/client.js';
import { buildDigest } from '../slack/digest/build-digest.js';
import { renderDigestText } from '../slack/digest/render-text.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { dayOf, previousDay } from '../windows/calendar.js';
import { argsError } from './args-error.js';
import type { CliIO, Command } from './io.js';

const HELP = `Usage: tollgate digest [--date YYYY-MM-DD] [--dry-run] [--force] [--config F] [--store URL]

Builds the daily spend digest for a day (default: yesterday in server.timezone) and posts it to
slack.channel, or prints it with --dry-run. A posted digest counts for the once-per-day guard the
scheduler uses, so the gateway will not post that day again; --force posts even when the day was
already sent, and does not count.

  --date D     the local day to report, YYYY-MM-DD
  --dry-run    print the digest here; post nothing and leave the guard alone
  --force      post even if this day's digest was already sent
  --config F   keys.yaml (default config/keys.yaml, or $TOLLGATE_CONFIG)
  --store URL  sqlite:PATH or postgres://… (default $TOLLGATE_STORE, then server.store,
               then sqlite:data/tollgate.db)

Posting needs SLACK_BOT_TOKEN in the environment and slack.channel in the config.
`;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      date: { type: 'string' },
      'dry-run': { type: 'boolean' },
      force: { type: 'boolean' },
      config: { type: 'string' },
      store: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}

function fail(io: CliIO, message: string, code = 1): number {
  io.stderr(`tollgate digest: ${message}\n`);
  return code;
}

/** A real calendar day written as YYYY-MM-DD (2026-02-30 is not one). */
export function isCalendarDay(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const [y, m, d] = text.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** The config and its revision, computed the way `serve` computes them (content hash @ git commit). */
async function loadForDigest(file: string, now: number): Promise<LoadedConfig | string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return `the config file ${file} does not exist; pass --config F or set $TOLLGATE_CONFIG.`;
    }
    return `cannot read the config file ${file}: ${(err as Error).message}.`;
  }
  const result = loadConfig(text, { file, now });
  if (!result.config) {
    return `config ${file} is invalid (${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}); run 'tollgate validate ${file}'.`;
  }
  const sha = await createGitRevision()(file, text).catch(() => null);
  const fingerprint = contentRevision(text);
  return {
    config: result.config,
    revision: sha ? `${fingerprint}@${sha}` : fingerprint,
    loadedAt: now,
    keysByHash: buildKeyIndex(result.config),
  };
}

export const digest: Command = async (argv, io) => {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    return fail(io, `${argsError(err)} Run 'tollgate digest --help'.`, 2);
  }
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  const now = systemClock();
  const file = resolve(io.cwd, values.config ?? io.env.TOLLGATE_CONFIG ?? DEFAULT_CONFIG_FILE);
  const loaded = await loadForDigest(file, now);
  if (typeof loaded === 'string') return fail(io, loaded);
  const { config } = loaded;
  const tz = config.server.timezone;

  if (values.date !== undefined && !isCalendarDay(values.date)) {
    return fail(io, `--date must be a day written YYYY-MM-DD; got '${values.date}'.`, 2);
  }
  const day = values.date ?? previousDay(dayOf(now, tz));
  const dryRun = values['dry-run'] === true;

  const channel = config.slack?.channel;
  const client = dryRun ? null : createSlackWebClient(io.env);
  if (!dryRun && (!client || !channel)) {
    const missing = [
      !client ? 'SLACK_BOT_TOKEN in the environment' : '',
      !channel ? 'slack.channel in the config' : '',
    ]
      .filter(Boolean)
      .join(' and ');
    return fail(io, `posting the digest needs ${missing}; use --dry-run to print it instead.`);
  }

  const url = resolveStoreUrl(values.store, io.env, config);
  let store: Store;
  try {
    // A typo in --store must not read as "no traffic": the store has to exist already.
    store = await openStore(url, { mustExist: true });
  } catch (err) {
    return fail(io, `cannot open the store ${redactUrl(url)}: ${(err as Error).message}.`);
  }
  try {
    if (dryRun) {
      const d = await buildDigest({ store, config, revision: loaded.revision, day, now });
      io.stdout(renderDigestText(d));
      return 0;
    }
    const problems: string[] = [];
    // The same guard as the scheduler, so a manual send and the gateway never both post a day.
    const sender = createDigestScheduler({
      store,
      config: { current: () => loaded },
      clock: systemClock,
      log: collectingLogger(problems),
      post: async (msg) => {
        await client!.chat.postMessage({ channel: channel!, text: msg.text, blocks: msg.blocks as never[] });
      },
    });
    const result = await sender.runFor(day, { force: values.force === true });
    if (result === 'already-sent') {
      io.stdout(`The digest for ${day} was already sent; nothing posted (use --force to post it again).\n`);
      return 0;
    }
    if (result === 'failed') {
      return fail(io, `the digest for ${day} was not posted: ${problems.at(-1) ?? 'unknown error'}.`);
    }
    io.stdout(`Posted the digest for ${day} to ${channel}.\n`);
    return 0;
  } catch (err) {
    return fail(io, `cannot build the digest for ${day}: ${(err as Error).message}`);
  } finally {
    await store.close();
  }
};

/**
 * The scheduler reports failures through its logger; the command turns the last one into its
 * one-sentence error instead of printing JSON log lines.
 */
function collectingLogger(into: string[]): Logger {
  const destination = {
    write(line: string) {
      try {
        const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
        into.push([entry.msg, entry.err?.message].filter(Boolean).join(': '));
      } catch {
        into.push(line.trim());
      }
      return true;
    },
  };
  return createLogger({ level: 'error', destination: destination as unknown as NodeJS.WritableStream });
}

/** Never print a database password. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
