// Bounded in-memory queue, used by a webhook without a spool directory: events survive a
// collector outage up to `maxEvents`, but not a restart (what is left at shutdown is
// counted as dropped, reason "shutdown").
import type { DropPolicy, EventQueue, QueueHooks, QueuedRecord } from './queue.js';

export class MemoryQueue implements EventQueue {
  readonly kind = 'memory' as const;
  onAvailable: (() => void) | null = null;
  private records: QueuedRecord[] = [];
  private head = 0;
  private bytes = 0;
  private inFlight = 0;
  private seq = 0;
  private sinceMs = 0;

  constructor(
    private readonly maxEvents: number,
    private readonly policy: DropPolicy,
    private readonly hooks: QueueHooks,
  ) {}

  get available(): number {
    return this.records.length - this.head;
  }
  get availableBytes(): number {
    return this.bytes;
  }
  get availableSinceMs(): number {
    return this.sinceMs;
  }
  get unacked(): number {
    return this.available + this.inFlight;
  }

  push(json: string, producedMs: number): void {
    if (this.available + this.inFlight >= this.maxEvents) {
      if (this.policy === 'drop_newest' || this.available === 0) {
        this.hooks.dropped('queue_full', 1);
        return;
      }
      const old = this.records[this.head]!;
      this.records[this.head++] = undefined as unknown as QueuedRecord;
      this.bytes -= old.json.length;
      this.hooks.dropped('queue_full', 1);
    }
    if (this.available === 0) this.sinceMs = Date.now();
    this.records.push({ seq: ++this.seq, producedMs, json });
    this.bytes += json.length;
    this.hooks.bytes?.(this.bytes);
    this.onAvailable?.();
  }

  take(maxEvents: number, maxBytes: number): QueuedRecord[] {
    const out: QueuedRecord[] = [];
    let size = 0;
    while (this.head < this.records.length && out.length < maxEvents) {
      const r = this.records[this.head]!;
      if (out.length > 0 && size + r.json.length > maxBytes) break;
      out.push(r);
      size += r.json.length;
      this.records[this.head++] = undefined as unknown as QueuedRecord;
    }
    this.bytes -= size;
    this.inFlight += out.length;
    // Compact once the consumed prefix dominates.
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
    this.hooks.bytes?.(this.bytes);
    return out;
  }

  ack(records: QueuedRecord[]): void {
    this.inFlight = Math.max(0, this.inFlight - records.length);
  }

  flush(): void {
    // nothing buffered
  }

  close(): void {
    const left = this.unacked;
    if (left > 0) this.hooks.dropped('shutdown', left);
    this.records = [];
    this.head = 0;
    this.bytes = 0;
    this.inFlight = 0;
    this.hooks.bytes?.(0);
  }
}
