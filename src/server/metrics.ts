// Prometheus metrics, on a registry of our own (served by admin.ts at /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
