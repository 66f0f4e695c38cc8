// Prometheus metrics, on a registry of our own (served by admin.ts at /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { OverloadMetrics } from './overload-metrics.js';

export type CheckAction = 'allow' | 'deny' | 'detect';
export type ErrorKind = 'evaluation' | 'invalid_request' | 'internal';

/** Fine-grained latency buckets: 50µs .. 1s. */
export const CHECK_DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

export class Metrics {
  readonly registry = new Registry();
  private readonly checks: Counter<'action'>;
  private readonly ruleHits: Counter<'rule_id'>;
  private readonly errors: Counter<'kind'>;
  private readonly partialBodies: Counter;
  private readonly duration: Histogram;
  private readonly rulesLoaded: Gauge;
  // Label children resolved once: the hot path never hashes label sets.
  private readonly checkChildren: Record<CheckAction, { inc(): void }>;
  private readonly errorChildren: Record<ErrorKind, { inc(): void }>;
  private readonly ruleHitChildren = new Map<number, { inc(): void }>();
  /** Security event pipeline metrics (src/events). */
  readonly events: EventMetrics;
  /** Admission, shedding, budgets and event-loop lag (src/server/admission.ts). */
  readonly overload: OverloadMetrics;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.checks = new Counter({
      name: 'sidewall_checks_total',
      help: 'Authorization checks answered, by outcome (allow, deny, detect).',
      labelNames: ['action'],
      registers,
    });
    this.ruleHits = new Counter({
      name: 'sidewall_rule_hits_total',
      help: 'Matched (logged) rules, by rule id.',
      labelNames: ['rule_id'],
      registers,
    });
    this.errors = new Counter({
      name: 'sidewall_errors_total',
      help: 'Errors by kind: evaluation (engine threw), invalid_request (malformed CheckRequest), internal.',
      labelNames: ['kind'],
      registers,
    });
    this.partialBodies = new Counter({
      name: 'sidewall_partial_bodies_total',
      help: 'Checks whose request body was truncated by Envoy (x-envoy-auth-partial-body: true).',
      registers,
    });
    this.duration = new Histogram({
      name: 'sidewall_check_duration_seconds',
      help: 'Time to answer one authorization check (mapping + evaluation + response).',
      buckets: CHECK_DURATION_BUCKETS,
      registers,
    });
    this.rulesLoaded = new Gauge({
      name: 'sidewall_rules_loaded',
      help: 'Number of rules compiled and active.',
      registers,
    });
    this.checkChildren = {
      allow: this.checks.labels('allow'),
      deny: this.checks.labels('deny'),
      detect: this.checks.labels('detect'),
    };
    this.errorChildren = {
      evaluation: this.errors.labels('evaluation'),
      invalid_request: this.errors.labels('invalid_request'),
      internal: this.errors.labels('internal'),
    };
    this.events = new EventMetrics(this.registry);
    this.overload = new OverloadMetrics(this.registry);
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  check(action: CheckAction): void {
    this.checkChildren[action].inc();
  }

  ruleHit(ruleId: number): void {
    let child = this.ruleHitChildren.get(ruleId);
    if (child === undefined) {
      child = this.ruleHits.labels(String(ruleId));
      this.ruleHitChildren.set(ruleId, child);
    }
    child.inc();
  }

  error(kind: ErrorKind): void {
    this.errorChildren[kind].inc();
  }

  partialBody(): void {
    this.partialBodies.inc();
  }

  /** Records one check duration, in seconds. */
  observeDuration(seconds: number): void {
    this.duration.observe(seconds);
  }

  setRulesLoaded(count: number): void {
    this.rulesLoaded.set(count);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Delivery latency buckets (event produced → acknowledged by the sink): 1ms .. 10min. */
export const EVENT_DELIVERY_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600];

/** What one sink (log, or a webhook by name) reports; label children resolved once. */
export interface EventSinkMetrics {
  delivered(n: number): void;
  retry(): void;
  dropped(reason: string, n: number): void;
  spoolBytes(bytes: number): void;
  pending(n: number): void;
  observeDelivery(seconds: number): void;
}

export class EventMetrics {
  private readonly produced: Counter;
  private readonly aggregated: Counter;
  private readonly delivered: Counter<'sink'>;
  private readonly retries: Counter<'sink'>;
  private readonly dropped: Counter<'sink' | 'reason'>;
  private readonly spool: Gauge<'sink'>;
  private readonly pendingGauge: Gauge<'sink'>;
  private readonly delivery: Histogram<'sink'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.produced = new Counter({
      name: 'sidewall_events_total',
      help: 'Security events produced (after aggregation; an aggregate counts once).',
      registers,
    });
    this.aggregated = new Counter({
      name: 'sidewall_events_aggregated_total',
      help: 'Detections folded into an aggregate event instead of being emitted one by one.',
      registers,
    });
    this.delivered = new Counter({
      name: 'sidewall_events_delivered_total',
      help: 'Security events delivered, by sink (log, or webhook name).',
      labelNames: ['sink'],
      registers,
    });
    this.retries = new Counter({
      name: 'sidewall_events_retries_total',
      help: 'Webhook delivery attempts that failed and were retried, by sink.',
      labelNames: ['sink'],
      registers,
    });
    this.dropped = new Counter({
      name: 'sidewall_events_dropped_total',
      help: 'Security events dropped, by sink and reason (buffer_full, queue_full, spool_full, rejected, corrupt, shutdown, spool_write_error).',
      labelNames: ['sink', 'reason'],
      registers,
    });
    this.spool = new Gauge({
      name: 'sidewall_events_spool_bytes',
      help: 'Bytes a webhook queue occupies (on disk for spooled webhooks, in memory otherwise), by sink.',
      labelNames: ['sink'],
      registers,
    });
    this.pendingGauge = new Gauge({
      name: 'sidewall_events_pending',
      help: 'Security events waiting for delivery, by sink.',
      labelNames: ['sink'],
      registers,
    });
    this.delivery = new Histogram({
      name: 'sidewall_events_delivery_seconds',
      help: 'Time from event production to delivery, by sink.',
      labelNames: ['sink'],
      buckets: EVENT_DELIVERY_BUCKETS,
      registers,
    });
  }

  eventProduced(): void {
    this.produced.inc();
  }

  folded(n: number): void {
    this.aggregated.inc(n);
  }

  /** Drops before any sink (buffer full, internal error): sink="pipeline". */
  pipelineDropped(reason: string, n: number): void {
    this.dropped.labels('pipeline', reason).inc(n);
  }

  /** Metrics handle for one sink (call once per sink at startup). */
  sink(name: string): EventSinkMetrics {
    const delivered = this.delivered.labels(name);
    const retries = this.retries.labels(name);
    const spool = this.spool.labels(name);
    const pending = this.pendingGauge.labels(name);
    const delivery = this.delivery.labels(name);
    const dropped = new Map<string, { inc(n: number): void }>();
    delivered.inc(0);
    retries.inc(0);
    return {
      delivered: (n) => delivered.inc(n),
      retry: () => retries.inc(),
      dropped: (reason, n) => {
        let child = dropped.get(reason);
        if (child === undefined) {
          child = this.dropped.labels(name, reason);
          dropped.set(reason, child);
        }
        child.inc(n);
      },
      spoolBytes: (bytes) => spool.set(bytes),
      pending: (n) => pending.set(n),
      observeDelivery: (seconds) => delivery.observe(seconds),
    };
  }
}
