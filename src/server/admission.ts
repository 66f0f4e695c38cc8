// Admission of Check calls: which received call is evaluated next, and which are answered at
// once without evaluation because the server is overloaded.
//
// Evaluation is synchronous on one event loop, so "in flight" means: calls grpc-js has handed to
// us that wait for the loop. Calls are queued instead of evaluated inside the handler, and the
// queue is drained in slices of about SLICE_MS with setImmediate between them, so arrivals are
// registered (and stamped) while earlier checks run, and each pick can see the whole queue:
//   - a call whose gRPC deadline has passed or whose caller cancelled is not evaluated (expired);
//   - a call that waited longer than max_queue_wait_ms is shed (CoDel-style; 0 = off);
//   - with more than max_queue calls waiting, the oldest is shed to make room;
//   - the queue is FIFO unless the server is overloaded (a call was shed or expired within
//     OVERLOADED_HOLD_MS) and its oldest call has waited more than queue_target_ms; then it is LIFO
//     (adaptive LIFO): the newest calls still have their whole deadline ahead, the oldest are the
//     likeliest to expire anyway. This keeps goodput near capacity under overload instead of every
//     check waiting behind checks whose caller has already given up. A standing queue alone (a
//     closed-loop client keeping many calls in flight) is not overload: LIFO there would starve
//     the oldest call until its deadline for nothing.
// Each evaluation gets a CheckBudget bounded by the call's deadline and max_check_ms.
import type * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { CheckBudget } from '../engine/budget.js';
import type { OverloadMetrics, ShedReason } from './overload-metrics.js';

export interface AdmissionConfig {
  /** Queue calls and honour deadlines (true), or evaluate each call inside its handler (false). */
  enabled: boolean;
  /** Most calls waiting; beyond it the oldest is shed. */
  maxQueue: number;
  /** While overloaded, the queue turns LIFO once its oldest call has waited this long, ms. */
  queueTargetMs: number;
  /** Calls that waited longer are shed, ms; 0 = only deadlines bound the wait. */
  maxQueueWaitMs: number;
  /** Per-check evaluation budget, ms; 0 = unbounded. */
  maxCheckMs: number;
}

export const DEFAULT_ADMISSION: AdmissionConfig = Object.freeze({
  enabled: true,
  maxQueue: 256,
  queueTargetMs: 20,
  maxQueueWaitMs: 0,
  maxCheckMs: 0,
});

/** Longest stretch the queue is drained before other I/O gets the loop, ms. */
export const SLICE_MS = 2;
/** How long after the last shed/expired call the server still counts as overloaded, ms. */
export const OVERLOADED_HOLD_MS = 1000;

export type RefuseReason = ShedReason | 'expired';

/** What admission reads of a grpc-js call. */
export type CallState = Pick<grpc.ServerUnaryCall<unknown, unknown>, 'cancelled' | 'getDeadline'>;

/** One received call waiting for evaluation. */
export interface PendingCall<Item> {
  /** What the handlers need to answer it (the message and grpc-js callback). */
  readonly item: Item;
  readonly call: CallState;
  /** performance.now() when the handler received it. */
  readonly arrivedAt: number;
  /** The call's deadline on the performance.now() clock; Infinity = none. */
  readonly deadlineAt: number;
}

export interface AdmissionHandlers<Item> {
  /** Evaluates and answers one call within `budget` (null = unbounded). */
  run(pending: PendingCall<Item>, budget: CheckBudget | null): void;
  /** Answers one call at once per the fail-open/closed policy, without evaluating it. */
  refuse(pending: PendingCall<Item>, reason: RefuseReason): void;
}

/** A gRPC deadline (Date, ms since epoch, or Infinity) on the performance.now() clock. */
export function deadlineOnPerfClock(deadline: Date | number, nowPerf: number, nowEpochMs = Date.now()): number {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(ms)) return Infinity;
  return nowPerf + (ms - nowEpochMs);
}

export class AdmissionQueue<Item> {
  private readonly queue: PendingCall<Item>[] = [];
  private scheduled = false;
  private running = false;
  private lastRefusedAt = -Infinity;

  constructor(
    private readonly config: AdmissionConfig,
    private readonly handlers: AdmissionHandlers<Item>,
    private readonly metrics: OverloadMetrics,
  ) {}

  /** Calls waiting for evaluation. */
  get depth(): number {
    return this.queue.length;
  }

  /** True while calls are being shed or expire (and for OVERLOADED_HOLD_MS after). */
  get overloaded(): boolean {
    return this.overloadedAt(performance.now());
  }

  private overloadedAt(now: number): boolean {
    return now - this.lastRefusedAt < OVERLOADED_HOLD_MS;
  }

  /** Takes one received call; it is answered later (or at once when refused). */
  admit(item: Item, call: CallState): void {
    const now = performance.now();
    const pending: PendingCall<Item> = { item, call, arrivedAt: now, deadlineAt: deadlineOnPerfClock(call.getDeadline(), now) };
    if (!this.config.enabled) {
      this.runOne(pending, now);
      return;
    }
    if (this.queue.length >= this.config.maxQueue) {
      const oldest = this.queue.shift();
      if (oldest !== undefined) this.refuse(oldest, 'queue_full', now);
    }
    if (this.config.maxQueue <= 0) {
      this.refuse(pending, 'queue_full', now);
      return;
    }
    this.queue.push(pending);
    this.gauges();
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.drain);
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const sliceStart = performance.now();
    const queue = this.queue;
    const queueTargetMs = this.config.queueTargetMs;
    while (queue.length > 0) {
      let now = performance.now();
      // Expired / waited-too-long calls at the old end go first, without evaluation.
      while (queue.length > 0) {
        const head = queue[0]!;
        const reason = this.refusal(head, now);
        if (reason === null) break;
        queue.shift();
        this.refuse(head, reason, now);
      }
      if (queue.length === 0) break;
      const lifo = now - queue[0]!.arrivedAt > queueTargetMs && this.overloadedAt(now);
      const next = lifo ? queue.pop()! : queue.shift()!;
      const reason = this.refusal(next, now);
      if (reason !== null) {
        this.refuse(next, reason, now);
        continue;
      }
      this.gauges();
      this.runOne(next, now);
      now = performance.now();
      if (now - sliceStart >= SLICE_MS) break;
    }
    this.gauges();
    if (queue.length > 0) this.schedule();
  };

  private refusal(p: PendingCall<Item>, now: number): RefuseReason | null {
    if (p.call.cancelled || now >= p.deadlineAt) return 'expired';
    const maxWait = this.config.maxQueueWaitMs;
    if (maxWait > 0 && now - p.arrivedAt > maxWait) return 'queue_wait';
    return null;
  }

  private runOne(p: PendingCall<Item>, now: number): void {
    this.metrics.observeQueueWait((now - p.arrivedAt) / 1000);
    const budget = new CheckBudget({ deadlineAt: this.config.enabled ? p.deadlineAt : Infinity, maxCheckMs: this.config.maxCheckMs, now });
    this.running = true;
    this.metrics.checksInFlight(this.queue.length + 1);
    try {
      this.handlers.run(p, budget.bounded ? budget : null);
    } finally {
      this.running = false;
      this.metrics.checksInFlight(this.queue.length);
    }
  }

  private refuse(p: PendingCall<Item>, reason: RefuseReason, now: number): void {
    this.lastRefusedAt = now;
    this.metrics.observeQueueWait((now - p.arrivedAt) / 1000);
    if (reason === 'expired') this.metrics.expired();
    else this.metrics.shed(reason);
    this.handlers.refuse(p, reason);
  }

  private gauges(): void {
    this.metrics.queueDepth(this.queue.length);
    this.metrics.checksInFlight(this.queue.length + (this.running ? 1 : 0));
  }
}
