// Log sink: one pino line per event on the server's log stream (stdout → the Kubernetes log
// collector). The event is nested under `security_event` so its fields (id, time, ...) never
// collide with pino's own.
import type { Logger } from 'pino';
import type { EventSinkMetrics } from '../server/metrics.js';
import type { EventOutput } from './output.js';
import type { SecurityEvent } from './schema.js';

export class LogSink implements EventOutput {
  readonly name = 'log';
  private readonly logger: Logger;

  constructor(
    logger: Logger,
    private readonly metrics: EventSinkMetrics,
  ) {
    // Its own level: security events are emitted even when the server logs at warn or above
    // (turn them off with events.log: false, not with the log level).
    this.logger = logger.child({ event: 'security_event' }, { level: logger.level === 'silent' ? 'silent' : 'info' });
  }

  write(event: SecurityEvent): void {
    this.logger.info({ security_event: event }, event.verdict === 'blocked' ? 'security event: request blocked' : 'security event: detection');
    this.metrics.delivered(1);
  }

  async close(): Promise<void> {
    // pino's destination is flushed by the process on exit.
  }
}
