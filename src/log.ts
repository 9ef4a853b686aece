import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/**
 * JSON logs, one line per event. Redaction is a second line of defence: the code never puts a
 * key, prompt or completion into a log call in the first place.
 */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: undefined,
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
    options.destination as DestinationStream | undefined,
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
