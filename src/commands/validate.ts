import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load/load.js';
import type { Problem } from '../config/types.js';
import { DEFAULT_CONFIG_FILE } from '../ops/settings.js';
import { CATALOG_VERSION } from '../pricing/catalog.js';
import { argsError } from './args-error.js';
import type { CliIO, Command } from './io.js';

const HELP = `Usage: tollgate validate [FILE ...] [--config F] [--format text|github|json] [--env]

Checks keys.yaml files against schemas/keys.schema.json and the rules of keys.yaml (unique key
names and hashes, known upstreams and models, api_key only from the environment, no plaintext
tgk_ key). Needs no secrets and no network. FILE defaults to $TOLLGATE_CONFIG or ${DEFAULT_CONFIG_FILE}.

  --env             also check that every \${VAR} the file names is set in this environment
                    (serve and reload always do: there an unset one is a reload error)

  --config F        one more file to check, as 'serve --config F' would load it

  --format text     file:line:col: error|warning: message (default)
  --format github   ::error file=…,line=…,col=…::message annotations for GitHub Actions
  --format json     {"valid", "catalog", "files": [{"file", "valid", "errors", "warnings"}]}

Prices a file does not set come from the price catalog bundled with tollgate
(${CATALOG_VERSION}); a model with no price there either is an error.

Exit status: 0 valid (warnings allowed), 1 invalid, 2 a file could not be read.
`;

const FORMATS = ['text', 'github', 'json'] as const;
type Format = (typeof FORMATS)[number];

interface FileResult {
  file: string;
  readable: boolean;
  keys: number;
  errors: Problem[];
  warnings: Problem[];
}

/** GitHub workflow commands: data escapes %, CR, LF; properties also escape : and ,. */
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function renderText(results: FileResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    for (const p of [...r.errors, ...r.warnings].sort((a, b) => a.line - b.line || a.col - b.col)) {
      lines.push(`${p.file}:${p.line}:${p.col}: ${p.severity}: ${p.message}`);
    }
    const warned = r.warnings.length > 0 ? ` with ${r.warnings.length} warning(s)` : '';
    lines.push(
      !r.readable
        ? `${r.file}: unreadable`
        : r.errors.length === 0
          ? `${r.file}: valid (${r.keys} key${r.keys === 1 ? '' : 's'})${warned}`
          : `${r.file}: invalid, ${r.errors.length} error(s)${warned}`,
    );
  }
  if (results.some((r) => r.readable))
    lines.push(`prices not set in a file come from the catalog ${CATALOG_VERSION}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

function renderGithub(results: FileResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    for (const p of [...r.errors, ...r.warnings]) {
      const props = `file=${escapeProperty(p.file)},line=${p.line},col=${p.col}`;
      lines.push(`::${p.severity} ${props}::${escapeData(p.message)}`);
    }
  }
  const invalid = results.filter((r) => r.errors.length > 0).length;
  lines.push(
    `${invalid === 0 ? `${results.length} file(s) valid` : `${invalid} of ${results.length} file(s) invalid`} (price catalog ${CATALOG_VERSION})`,
  );
  return `${lines.join('\n')}\n`;
}

function renderJson(results: FileResult[]): string {
  const files = results.map((r) => ({
    file: r.file,
    valid: r.errors.length === 0,
    errors: r.errors,
    warnings: r.warnings,
  }));
  const report = { valid: files.every((f) => f.valid), catalog: CATALOG_VERSION, files };
  return `${JSON.stringify(report, null, 2)}\n`;
}

async function check(file: string, io: CliIO, now: number, withEnv: boolean): Promise<FileResult> {
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    const problem: Problem = {
      file,
      line: 1,
      col: 1,
      path: '',
      message: `cannot read ${file}: ${reason}`,
      severity: 'error',
    };
    return { file, readable: false, keys: 0, errors: [problem], warnings: [] };
  }
  const result = loadConfig(text, {
    file,
    now,
    ...(withEnv ? { env: { vars: io.env, unsetIs: 'error' as const } } : {}),
  });
  const keys = Object.keys(result.config?.keys ?? {}).length;
  return { file, readable: true, keys, errors: result.errors, warnings: result.warnings };
}

export const validate: Command = async (argv, io) => {
  let parsed: {
    values: { format?: string; config?: string[]; env?: boolean; help?: boolean };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        config: { type: 'string', multiple: true },
        env: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.stderr(`tollgate validate: ${argsError(err)} Run 'tollgate validate --help'.\n`);
    return 2;
  }
  if (parsed.values.help) {
    io.stdout(HELP);
    return 0;
  }
  const format = (parsed.values.format ?? 'text') as Format;
  if (!FORMATS.includes(format)) {
    io.stderr(`tollgate validate: --format must be one of ${FORMATS.join(', ')}; got '${format}'.\n`);
    return 2;
  }
  const given = [...parsed.positionals, ...(parsed.values.config ?? [])];
  const files = given.length > 0 ? given : [io.env.TOLLGATE_CONFIG ?? DEFAULT_CONFIG_FILE];
  // The command line is the edge of the program: the one place validate reads the clock.
  const now = Date.now();
  const results: FileResult[] = [];
  for (const file of files) results.push(await check(file, io, now, parsed.values.env === true));

  const render = format === 'github' ? renderGithub : format === 'json' ? renderJson : renderText;
  io.stdout(render(results));
  for (const r of results) if (!r.readable) io.stderr(`tollgate validate: ${r.errors[0]?.message}.\n`);

  if (results.some((r) => !r.readable)) return 2;
  return results.some((r) => r.errors.length > 0) ? 1 : 0;
};
