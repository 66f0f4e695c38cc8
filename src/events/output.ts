// A destination of security events (log line, webhook).
import type { SecurityEvent } from './schema.js';

export interface EventOutput {
  readonly name: string;
  /** Takes one event; never throws, never blocks. `json` is the event serialized once for all outputs. */
  write(event: SecurityEvent, json: string, producedMs: number): void;
  /** Flushes / delivers what it can until `deadline` (Date.now() ms), then releases resources. */
  close(deadline: number): Promise<void>;
}
