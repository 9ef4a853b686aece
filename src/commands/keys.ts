import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildKeyIndex, loadConfig } from '../config/load/load.js';
import { KEY_NAME_RULE } from '../config/load/schema-check.js';
import { checkKeyFormat, hashKey, hasKeyShape, maskKey, mintKey } from '../keys/format.js';
import { DEFAULT_CONFIG_FILE } from '../ops/settings.js';
import { argsError } from './args-error.js';
import type { CliIO, Command } from './io.js';
import { rotateKey } from './keys-rotate.js';

const HELP = `Usage: tollgate keys new NAME [--json]
       tollgate keys rotate NAME [--config F] [--json]
       tollgate keys hash KEY|-
       tollgate keys check KEY|- [--config F] [--store URL]

  new    mints a key for NAME, prints it once and the keys.yaml stanza with its hash.
         --json prints {"name","key","hash"} only. Nothing is written to disk.
  rotate mints a new key for NAME and prints it once, with the keys.yaml change that lists its
         hash beside the old one (read from --config, $TOLLGATE_CONFIG or ${DEFAULT_CONFIG_FILE}),
         and the later change that drops the old hash once 'tollgate usage --by hash' shows it
         unused. --json prints {"name","key","hash","hashes"}. Nothing is written to disk.
  hash   prints sha256:… of an existing key. Pass - to read it from stdin (keeps it out of
         your shell history).
  check  says whether KEY is well-formed (prefix and checksum) and which key of the config
         (--config, $TOLLGATE_CONFIG or ${DEFAULT_CONFIG_FILE}) it belongs to. Exit 0 when
         well-formed, 1 when not. --store is accepted like every command that reads the
         config, but check does not use the store.
`;

const KEY_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function fail(io: CliIO, message: string, code = 1): number {
  io.stderr(`tollgate keys: ${message}\n`);
  return code;
}

/** The key from argv, or from stdin for `-`, trimmed of the newline a pipe or paste adds. */
async function readKey(arg: string, io: CliIO): Promise<string> {
  return (arg === '-' ? await io.readStdin() : arg).trim();
}

function stanza(name: string, hash: string): string {
  return [
    `  ${name}:`,
    `    hash: ${hash}`,
    '    description: TODO what uses this key, and on whose machine',
    '    owner: TODO',
    '    limits:',
    '      daily_usd: 2',
    '      monthly_usd: 20',
    '      rpm: 30',
    '    # models: [gpt-4o-mini]   # allow-list; omitted = every model',
    '    # expires: YYYY-MM-DD',
  ].join('\n');
}

async function newKey(args: string[], json: boolean, io: CliIO): Promise<number> {
  const [name, extra] = args;
  if (!name || extra !== undefined)
    return fail(io, "'keys new' takes one NAME, e.g. 'tollgate keys new cursor-dev'.", 2);
  if (!KEY_NAME.test(name)) return fail(io, `'${name}' is not a valid key name: ${KEY_NAME_RULE}.`, 2);
  const key = mintKey();
  const hash = hashKey(key);
  if (json) {
    io.stdout(`${JSON.stringify({ name, key, hash })}\n`);
    return 0;
  }
  io.stdout(
    [
      `New key for '${name}' (shown only this once: tollgate keeps just its hash):`,
      '',
      `  ${key}`,
      '',
      'Add this under keys: in keys.yaml and open a pull request:',
      '',
      stanza(name, hash),
      '',
    ].join('\n'),
  );
  return 0;
}

async function hash(args: string[], io: CliIO): Promise<number> {
  const [arg, extra] = args;
  if (arg === undefined || extra !== undefined)
    return fail(io, "'keys hash' takes one KEY, or - to read it from stdin.", 2);
  const key = await readKey(arg, io);
  if (key === '') return fail(io, 'no key given: pass KEY, or - with the key on stdin.', 2);
  if (!checkKeyFormat(key)) {
    io.stderr(
      `tollgate keys: warning: ${maskKey(key)} is not a well-formed tollgate key (tgk_ prefix and checksum).\n`,
    );
  }
  io.stdout(`${hashKey(key)}\n`);
  return 0;
}

async function check(args: string[], configFlag: string | undefined, io: CliIO): Promise<number> {
  const [arg, extra] = args;
  if (arg === undefined || extra !== undefined)
    return fail(io, "'keys check' takes one KEY, or - to read it from stdin.", 2);
  const key = await readKey(arg, io);
  const masked = maskKey(key);
  if (!checkKeyFormat(key)) {
    const why = hasKeyShape(key)
      ? 'its checksum does not match, so it was mistyped or truncated'
      : 'it is not tgk_ followed by 38 letters and digits';
    io.stdout(`${masked} is not a well-formed tollgate key: ${why}.\n`);
    return 1;
  }
  const file = configFlag ?? io.env.TOLLGATE_CONFIG ?? DEFAULT_CONFIG_FILE;
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch {
    io.stdout(`${masked} is well-formed (prefix and checksum match).\n`);
    io.stderr(`tollgate keys: could not read ${file}, so which key it belongs to is unknown.\n`);
    return 0;
  }
  const result = loadConfig(text, { file, now: Date.now() });
  if (!result.config) {
    io.stdout(`${masked} is well-formed (prefix and checksum match).\n`);
    io.stderr(
      `tollgate keys: ${file} is invalid (run 'tollgate validate ${file}'), so which key it belongs to is unknown.\n`,
    );
    return 0;
  }
  const owner = buildKeyIndex(result.config).get(hashKey(key));
  io.stdout(
    owner
      ? `${masked} is well-formed and belongs to key '${owner.name}' in ${file}.\n`
      : `${masked} is well-formed but belongs to no key in ${file}.\n`,
  );
  return 0;
}

export const keys: Command = async (argv, io) => {
  let parsed: {
    values: { json?: boolean; config?: string; store?: string; help?: boolean };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        config: { type: 'string' },
        // Accepted so one set of --config/--store flags works with every command; unused here.
        store: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return fail(io, `${argsError(err)} Run 'tollgate keys --help'.`, 2);
  }
  const [sub, ...rest] = parsed.positionals;
  if (parsed.values.help) {
    io.stdout(HELP);
    return 0;
  }
  switch (sub) {
    case 'new':
      return newKey(rest, parsed.values.json ?? false, io);
    case 'hash':
      return hash(rest, io);
    case 'check':
      return check(rest, parsed.values.config, io);
    case 'rotate':
      return rotateKey(rest, { json: parsed.values.json ?? false, config: parsed.values.config }, io);
    default:
      return fail(
        io,
        sub
          ? `unknown subcommand '${sub}': use new, rotate, hash or check.`
          : 'missing subcommand: use new, rotate, hash or check.',
        2,
      );
  }
};
