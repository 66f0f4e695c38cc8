// Metrics of load shedding and check budgets (src/server/admission.ts), on the server's registry.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BudgetReason } from '../engine/budget.js';

/** Why a check was answered without (complete) evaluation. */
export type ShedReason = 'queue_full' | 'queue_wait';

/** Queue wait buckets: 100µs .. 5s. */
export const QUEUE_WAIT_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class OverloadMetrics {
  private readonly shedChildren: Record<ShedReason, { inc(): void }>;
  private readonly expiredCounter: Counter;
  private readonly budget: Counter<'reason' | 'rule_id'>;
  private readonly budgetChildren = new Map<string, { inc(): void }>();
  private readonly depth: Gauge;
  private readonly inFlight: Gauge;
  private readonly wait: Histogram;
  private readonly loopDelay: ReturnType<typeof monitorEventLoopDelay>;

  constructor(registry: Registry) {
    const registers = [registry];
    const shed = new Counter({
      name: 'sidewall_checks_shed_total',
      help: 'Checks answered at once per fail_open without evaluation because the server is overloaded, by reason (queue_full, queue_wait).',
      labelNames: ['reason'],
      registers,
    });
    this.shedChildren = { queue_full: shed.labels('queue_full'), queue_wait: shed.labels('queue_wait') };
    this.expiredCounter = new Counter({
      name: 'sidewall_checks_expired_total',
      help: 'Checks whose gRPC deadline had passed (or that the caller cancelled) before evaluation started; not evaluated.',
      registers,
    });
    this.budget = new Counter({
      name: 'sidewall_checks_budget_exceeded_total',
      help: 'Evaluations stopped because the deadline or max_check_ms ran out, by reason and the rule id they stopped at (0 = before the body processor).',
      labelNames: ['reason', 'rule_id'],
      registers,
    });
    this.depth = new Gauge({
      name: 'sidewall_check_queue_depth',
      help: 'Checks received and waiting for the event loop to evaluate them.',
      registers,
    });
    this.inFlight = new Gauge({
      name: 'sidewall_checks_in_flight',
      help: 'Checks received and not yet answered (waiting + being evaluated).',
      registers,
    });
    this.wait = new Histogram({
      name: 'sidewall_check_queue_wait_seconds',
      help: 'Time from a check reaching the handler to its evaluation starting (or being shed/expired).',
      buckets: QUEUE_WAIT_BUCKETS,
      registers,
    });
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
    const loopDelay = this.loopDelay;
    // Read at scrape time, then reset: each scrape reports the interval since the previous one.
    new Gauge({
      name: 'sidewall_event_loop_lag_seconds',
      help: 'Event-loop delay since the previous scrape (perf_hooks.monitorEventLoopDelay, 10 ms resolution), by stat (max = longest stall, p99).',
      labelNames: ['stat'],
      registers,
      collect() {
        this.labels('max').set(loopDelay.max / 1e9);
        this.labels('p99').set(loopDelay.percentile(99) / 1e9);
        loopDelay.reset();
      },
    });
    this.expiredCounter.inc(0);
  }

  shed(reason: ShedReason): void {
    this.shedChildren[reason].inc();
  }

  expired(): void {
    this.expiredCounter.inc();
  }

  budgetExceeded(reason: BudgetReason, ruleId: number): void {
    const key = reason + ':' + ruleId;
    let child = this.budgetChildren.get(key);
    if (child === undefined) {
      child = this.budget.labels(reason, String(ruleId));
      this.budgetChildren.set(key, child);
    }
    child.inc();
  }

  queueDepth(n: number): void {
    this.depth.set(n);
  }

  checksInFlight(n: number): void {
    this.inFlight.set(n);
  }

  observeQueueWait(seconds: number): void {
    this.wait.observe(seconds);
  }

  /** Stops the event-loop delay monitor (process shutdown, tests). */
  close(): void {
    this.loopDelay.disable();
  }
}
