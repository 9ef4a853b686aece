#!/usr/bin/env node
import type { Command } from './commands/io.js';
import { processIO } from './commands/io.js';

/** The command table (README.md#commands). Each command lives in src/commands/ and is loaded on demand. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: { summary: 'run the gateway', load: async () => (await import('./commands/serve.js')).serve },
  validate: {
    summary: 'check keys.yaml files against the schema and rules',
    load: async () => (await import('./commands/validate.js')).validate,
  },
  keys: {
    summary: 'mint, rotate, hash and check keys (new | rotate | hash | check)',
    load: async () => (await import('./commands/keys.js')).keys,
  },
  diff: {
    summary: 'summarize what a change to keys.yaml does',
    load: async () => (await import('./commands/diff.js')).diff,
  },
  usage: {
    summary: 'print spend, requests, tokens and errors from the store',
    load: async () => (await import('./commands/usage.js')).usage,
  },
  models: {
    summary: 'list the models served, their prices and where each price comes from',
    load: async () => (await import('./commands/models.js')).models,
  },
  digest: {
    summary: 'build and post (or print) the daily digest',
    load: async () => (await import('./commands/digest.js')).digest,
  },
  reconcile: {
    summary: "check a day's metered spend against the provider's own usage report",
    load: async () => (await import('./commands/reconcile.js')).reconcile,
  },
  insights: {
    summary: 'why each key costs what it costs, with the change that would cut it',
    load: async () => (await import('./commands/insights.js')).insights,
  },
  demo: {
    summary: 'run the gateway against a built-in fake upstream to try it',
    load: async () => (await import('./commands/demo.js')).demo,
  },
};

function help(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: tollgate <command> [options]\n\nCommands:\n${rows.join('\n')}\n\nRun 'tollgate <command> --help' for a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    processIO.stdout(help());
    return name ? 0 : 2;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    processIO.stderr(`tollgate: unknown command '${name}'. Run 'tollgate --help' to see the commands.\n`);
    return 2;
  }
  const command = await entry.load();
  return command(rest, processIO);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tollgate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
