import { type DestinationStream, destination, type Logger, pino } from 'pino';
import { maskSecrets, type SecretMasker } from './keys/mask-secrets.js';

export type { Logger };

/** How long a log line may wait in the stdout buffer. */
const FLUSH_MS = 200;

/**
 * stdout, written in blocks of ~4 kB (or every FLUSH_MS) rather than one write per line: under
 * load the request log was one syscall per request. What is buffered is written synchronously
 * when the process exits, crash included; only a SIGKILL can lose the last FLUSH_MS of lines, and
 * nothing money-relevant lives in logs (usage records are in the store).
 * The periodic flush is a plain write: sonic-boom's flushSync also fsyncs, and with stdout
 * redirected to a file that held the event loop for ~1 ms five times a second.
 */
function bufferedStdout(): DestinationStream {
  const out = destination({ dest: 1, sync: true, minLength: 4096, periodicFlush: FLUSH_MS });
  process.on('exit', () => out.flushSync());
  return out;
}

/**
 * JSON logs, one line per event. Redaction is a second line of defence: the code never puts a
 * key, prompt or completion into a log call in the first place. The third: every finished line
 * goes through the one masking function (keys/mask-secrets.ts), so a key that came in through a
 * path, a user-agent or an upstream's error is masked whatever field carries it; `masker` adds
 * the configured upstream keys to the `tgk_…` keys masked always.
 */
export function createLogger(
  options: { level?: string; destination?: NodeJS.WritableStream; masker?: SecretMasker } = {},
): Logger {
  const mask = options.masker ? options.masker.mask : (line: string) => maskSecrets(line);
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: undefined,
      hooks: { streamWrite: mask },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'headers.authorization',
          'headers["x-api-key"]',
        ],
        censor: '[redacted]',
      },
    },
    (options.destination as DestinationStream | undefined) ?? bufferedStdout(),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
