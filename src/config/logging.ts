// The JSON log line format every Sidewall process writes on stdout (server and controller):
// pino, ISO timestamps, level names, buffered (flush `destination` before exiting).
import { pino, type DestinationStream, type Logger } from 'pino';

export function createJsonLogger(level: string, service: string): { logger: Logger; destination: DestinationStream & { flushSync(): void } } {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  const logger = pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return { logger, destination };
}
