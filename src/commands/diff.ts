import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { diffConfigs, renderDiff } from '../config/diff/diff.js';
import { loadConfig } from '../config/load/load.js';
import type { Config } from '../config/types.js';
import { argsError } from './args-error.js';
import type { CliIO, Command } from './io.js';

const HELP = `Usage: tollgate diff OLD NEW [--format markdown|text]

Summarizes what changing keys.yaml from OLD to NEW does: keys added, removed or renamed (same
hash), limits raised or lowered (with %), models widened or narrowed, expiry moved, keys
disabled or enabled, upstream and price changes. Changes that widen access or spend are marked ⚠.
Markdown (the default) is for pull-request comments and job summaries.

Exit status: 0 done, 1 a file is invalid (run 'tollgate validate'), 2 a file could not be read.
`;

type Loaded = { config: Config } | { code: number };

async function load(file: string, io: CliIO, now: number): Promise<Loaded> {
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    io.stderr(`tollgate diff: cannot read ${file}: ${reason}.\n`);
    return { code: 2 };
  }
  const result = loadConfig(text, { file, now });
  if (!result.config) {
    const first = result.errors[0];
    const where = first ? ` (first error at ${first.file}:${first.line}:${first.col}: ${first.message})` : '';
    io.stderr(`tollgate diff: ${file} is invalid${where}; run 'tollgate validate ${file}' for all errors.\n`);
    return { code: 1 };
  }
  return { config: result.config };
}

export const diff: Command = async (argv, io) => {
  let parsed: { values: { format?: string; help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { format: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    io.stderr(`tollgate diff: ${argsError(err)} Run 'tollgate diff --help'.\n`);
    return 2;
  }
  if (parsed.values.help) {
    io.stdout(HELP);
    return 0;
  }
  const format = parsed.values.format ?? 'markdown';
  if (format !== 'markdown' && format !== 'text') {
    io.stderr(`tollgate diff: --format must be markdown or text; got '${format}'.\n`);
    return 2;
  }
  const [oldFile, newFile, extra] = parsed.positionals;
  if (oldFile === undefined || newFile === undefined || extra !== undefined) {
    io.stderr("tollgate diff: give two files, e.g. 'tollgate diff base.yaml config/keys.yaml'.\n");
    return 2;
  }
  const now = Date.now();
  const before = await load(oldFile, io, now);
  const after = await load(newFile, io, now);
  if ('code' in before || 'code' in after) {
    return Math.max('code' in before ? before.code : 0, 'code' in after ? after.code : 0);
  }
  io.stdout(renderDiff(diffConfigs(before.config, after.config), format));
  return 0;
};
