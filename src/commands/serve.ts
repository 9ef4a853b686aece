import { parseArgs } from 'node:util';
import { createSecretMasker } from '../keys/mask-secrets.js';
import { createLogger } from '../log.js';
import { DEFAULT_CONFIG_FILE } from '../ops/settings.js';
import { startServer } from '../server.js';
import { argsError } from './args-error.js';
import type { Command } from './io.js';

const HELP = `Usage: tollgate serve [--config F] [--port N] [--host H] [--store URL]

Runs the gateway. Defaults: --config ${DEFAULT_CONFIG_FILE}, port 8080 (or $PORT), host 127.0.0.1,
store sqlite:data/tollgate.db (or $TOLLGATE_STORE). Flags beat env, env beats the file's server: section.
SIGHUP reloads the config; SIGTERM drains in-flight requests and exits 0.
`;

export const serve: Command = async (argv, io) => {
  let values: ReturnType<typeof parseServeArgs>['values'];
  try {
    values = parseServeArgs(argv).values;
  } catch (err) {
    io.stderr(`tollgate serve: ${argsError(err)} Run 'tollgate serve --help'.\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  const masker = createSecretMasker();
  const log = createLogger({ masker });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      configFile: values.config ?? io.env.TOLLGATE_CONFIG ?? DEFAULT_CONFIG_FILE,
      env: io.env,
      log,
      ...(values.port === undefined ? {} : { port: values.port }),
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(values.store === undefined ? {} : { store: values.store }),
      graceMs: Number(io.env.TOLLGATE_GRACE_MS ?? 30_000),
      masker,
    });
  } catch (err) {
    io.stderr(`tollgate serve: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    // Handlers go in before the "listening" line: a supervisor may signal as soon as it reads it.
    process.on('SIGHUP', () => void server.reload('SIGHUP'));
    const stop = (signal: string) => {
      log.info({ signal }, 'draining in-flight requests');
      server.close().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    // `on`, not `once`: a library using signal-exit re-raises the signal when it sees no other
    // listener left, which would kill the process in the middle of draining.
    let stopping = false;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        if (stopping) return;
        stopping = true;
        stop(signal);
      });
    }
    io.stdout(`tollgate listening on ${server.url}\n`);
  });
};

function parseServeArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      store: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
}
