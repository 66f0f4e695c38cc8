// What a webhook sink delivers from: serialized events in order, handed out in batches and
// acknowledged once delivered (or given up on). Implemented in memory (memory-queue.ts) and
// on disk (spool.ts).

export interface QueuedRecord {
  seq: number;
  /** Date.now() when the event was produced (for delivery latency). */
  producedMs: number;
  /** The event's JSON text, exactly as it goes into the webhook body. */
  json: string;
}

export type DropPolicy = 'drop_oldest' | 'drop_newest';

export interface EventQueue {
  readonly kind: 'memory' | 'spool';
  /** Adds one event. Never throws; when full, drops by policy and reports it. */
  push(json: string, producedMs: number): void;
  /** Records waiting to be handed out. */
  readonly available: number;
  readonly availableBytes: number;
  /** Date.now() when the oldest waiting record arrived (0 after a restart: due at once). */
  readonly availableSinceMs: number;
  /** Hands out up to maxEvents / maxBytes records (at least one when any is available). */
  take(maxEvents: number, maxBytes: number): QueuedRecord[];
  /** The records last taken are done with (delivered or permanently rejected). */
  ack(records: QueuedRecord[]): void;
  /** Records pushed or taken but not acknowledged. */
  readonly unacked: number;
  /** Called after push makes records available. */
  onAvailable: (() => void) | null;
  /** Writes what was pushed so far, making it available now (spool: coalesced writes). */
  flush(): void;
  /** Makes what was pushed durable as far as the queue can, and releases resources. */
  close(): void;
}

export interface QueueHooks {
  /** `n` events dropped for `reason`. */
  dropped(reason: string, n: number): void;
  /** Bytes the queue occupies (spool: on disk). */
  bytes?(n: number): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
}
